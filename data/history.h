// history.h: the per-epoch training record, written as OUTPUT/history.json.
#ifndef DATA_HISTORY_H
#define DATA_HISTORY_H

#include <stddef.h>

typedef struct {
    int epoch;              // 1-based
    long step;              // optimizer steps taken so far
    double train_loss;      // mean training loss over the epoch's steps (dropout on)
    double val_loss;        // mean cross-entropy over the validation rows (dropout off)
    double val_accuracy;
    double lr;              // learning rate of the epoch's last optimizer step
    double examples_per_s;  // training examples per second over the epoch (forward + backward + update)
} EpochRecord;

// history.json (atomic): a JSON list, one object per epoch with the fields above.
int history_write_json(const char *path, const EpochRecord *h, int n, char *err, size_t errlen);

#endif
