// metrics.h: classification metrics with scikit-learn's definitions (reference-semantics.md §9).
//
// For C classes and n examples (labels and predictions in [0, C)):
//   accuracy = correct / n
//   per class c: precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2PR/(P+R), support = #(label == c);
//     a zero denominator gives 0 (sklearn's zero_division default, without the warning)
//   macro avg = unweighted mean over all C classes; weighted avg = mean weighted by support
//   binary_f1 = F1 of class 1 when C == 2 (sklearn's f1_score default average='binary')
//   confusion[t*C + p] = #(label == t and prediction == p)  (rows = true, columns = predicted)
//   log_loss = -(1/n) sum log clip(prob[i][label_i], 1e-15, 1 - 1e-15)  (no renormalisation)
//   brier = (1/n) sum (prob[i][1] - [label_i == 1])^2  (C == 2 only)
//   ece = sum_b (|bin b| / n) |accuracy(bin b) - mean confidence(bin b)|, confidence = max_c prob[i][c]
//     (the probability of the predicted class), METRICS_ECE_BINS equal-width bins (k/B, (k+1)/B]
//     (confidence 0 goes to the first bin), as in Guo et al. 2017 and torchmetrics' top-1 ECE
//   headline precision / recall / f1 (metrics.json): class 1 when C == 2 (sklearn average='binary'),
//     else the macro averages
// All C classes are reported, also those absent from labels and predictions (sklearn with
// labels=range(C)).
#ifndef DATA_METRICS_H
#define DATA_METRICS_H

#include <stddef.h>

typedef struct {
    int C, n;
    double accuracy;
    double *precision, *recall, *f1;  // (C)
    int *support;                     // (C)
    int *confusion;                   // (C, C)
    double macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1;
    double binary_f1;                 // C == 2, else NAN
    int has_probs;
    double log_loss;                  // NAN without probabilities
    double brier;                     // C == 2 with probabilities, else NAN
    double ece;                       // with probabilities, else NAN
} Metrics;

#define METRICS_PROB_CLIP 1e-15
#define METRICS_ECE_BINS 10

// labels (n), preds (n), probs (n, C) row-major or NULL.
int metrics_compute(Metrics *m, const int *labels, const int *preds, const float *probs, int n, int C,
                    char *err, size_t errlen);
void metrics_free(Metrics *m);

// --- metrics_io.c ---
// sklearn's classification_report text (digits = 2) as a malloc'd string; names NULL -> "0", "1", ...
char *metrics_report(const Metrics *m, char *const *label_names);
// metrics.json (atomic): every number above, per-class values, confusion matrix, label names; the
// headline "precision", "recall", "f1" with "average": "binary" (C == 2) or "macro".
int metrics_write_json(const char *path, const Metrics *m, char *const *label_names, char *err, size_t errlen);
// predictions.csv (atomic): row,label_id,label,pred_id,pred,prob_<name>... one line per example.
// rows (n) = dataset row of each example (NULL: 0..n-1); labels NULL or -1 -> empty label columns;
// probs (n, C) or NULL (no probability columns). No text is written.
int predictions_write_csv(const char *path, const int *rows, const int *labels, const int *preds,
                          const float *probs, int n, int C, char *const *label_names, char *err, size_t errlen);

#endif
