// plot.h: the two report figures as standalone SVG files, drawn by a small writer of our own
// (no plotting library): training curves and the confusion matrix. Both are written atomically.
#ifndef DATA_PLOT_H
#define DATA_PLOT_H

#include <stddef.h>

#include "data/history.h"
#include "data/metrics.h"

// history.svg: left panel, training and validation loss per epoch (plus the per-step training
// loss as a thin line when step_losses != NULL: n_steps values, step k drawn at x = (k+1) /
// steps_per_epoch epochs); right panel, validation accuracy per epoch.
int plot_history_svg(const char *path, const EpochRecord *h, int n, const float *step_losses, long n_steps,
                     long steps_per_epoch, char *err, size_t errlen);

// confusion_matrix.svg: rows = true label, columns = predicted; each cell shows its count and is
// shaded by the fraction of its row (recall colours). names NULL -> "0", "1", ...
int plot_confusion_svg(const char *path, const Metrics *m, char *const *label_names, char *err, size_t errlen);

#endif
