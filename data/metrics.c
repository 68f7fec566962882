// metrics.c: metrics_compute. Definitions in metrics.h.
#include "data/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void metrics_free(Metrics *m) {
    free(m->precision);
    free(m->recall);
    free(m->f1);
    free(m->support);
    free(m->confusion);
    memset(m, 0, sizeof *m);
}

static double safe_div(double a, double b) { return b > 0 ? a / b : 0.0; }

static double clip_prob(double p) {
    if (!(p >= METRICS_PROB_CLIP)) return METRICS_PROB_CLIP;  // also NaN
    if (p > 1.0 - METRICS_PROB_CLIP) return 1.0 - METRICS_PROB_CLIP;
    return p;
}

// Top-1 ECE over METRICS_ECE_BINS equal-width confidence bins (k/B, (k+1)/B]; see metrics.h.
static double expected_calibration_error(const int *labels, const int *preds, const float *probs, int n, int C) {
    double conf_sum[METRICS_ECE_BINS] = {0}, correct[METRICS_ECE_BINS] = {0};
    int count[METRICS_ECE_BINS] = {0};
    for (int i = 0; i < n; i++) {
        double conf = probs[(size_t)i * C + preds[i]];
        if (!(conf >= 0)) conf = 0;  // NaN
        if (conf > 1) conf = 1;
        int b = (int)ceil(conf * METRICS_ECE_BINS) - 1;  // (b/B, (b+1)/B]
        if (b < 0) b = 0;
        if (b >= METRICS_ECE_BINS) b = METRICS_ECE_BINS - 1;
        conf_sum[b] += conf;
        correct[b] += labels[i] == preds[i];
        count[b]++;
    }
    double ece = 0;
    for (int b = 0; b < METRICS_ECE_BINS; b++)
        if (count[b]) ece += (double)count[b] / n * fabs(correct[b] / count[b] - conf_sum[b] / count[b]);
    return ece;
}

int metrics_compute(Metrics *m, const int *labels, const int *preds, const float *probs, int n, int C,
                    char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    if (n < 1 || C < 1) { snprintf(err, errlen, "metrics: need n >= 1 and C >= 1 (got %d, %d)", n, C); return -1; }
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= C || preds[i] < 0 || preds[i] >= C) {
            snprintf(err, errlen, "metrics: example %d has label %d / prediction %d outside [0, %d)", i, labels[i],
                     preds[i], C);
            return -1;
        }
    }
    m->precision = calloc((size_t)C, sizeof(double));
    m->recall = calloc((size_t)C, sizeof(double));
    m->f1 = calloc((size_t)C, sizeof(double));
    m->support = calloc((size_t)C, sizeof(int));
    m->confusion = calloc((size_t)C * (size_t)C, sizeof(int));
    if (!m->precision || !m->recall || !m->f1 || !m->support || !m->confusion) {
        metrics_free(m);
        snprintf(err, errlen, "metrics: out of memory");
        return -1;
    }
    m->C = C;
    m->n = n;
    int correct = 0;
    for (int i = 0; i < n; i++) {
        m->confusion[labels[i] * C + preds[i]]++;
        correct += labels[i] == preds[i];
    }
    m->accuracy = (double)correct / n;
    for (int c = 0; c < C; c++) {
        int tp = m->confusion[c * C + c], predicted = 0, actual = 0;
        for (int k = 0; k < C; k++) {
            predicted += m->confusion[k * C + c];  // column c
            actual += m->confusion[c * C + k];     // row c
        }
        m->support[c] = actual;
        m->precision[c] = safe_div(tp, predicted);
        m->recall[c] = safe_div(tp, actual);
        m->f1[c] = safe_div(2.0 * m->precision[c] * m->recall[c], m->precision[c] + m->recall[c]);
        m->macro_precision += m->precision[c] / C;
        m->macro_recall += m->recall[c] / C;
        m->macro_f1 += m->f1[c] / C;
        m->weighted_precision += m->precision[c] * actual / n;
        m->weighted_recall += m->recall[c] * actual / n;
        m->weighted_f1 += m->f1[c] * actual / n;
    }
    m->binary_f1 = C == 2 ? m->f1[1] : NAN;
    m->log_loss = NAN;
    m->brier = NAN;
    m->ece = NAN;
    if (probs) m->ece = expected_calibration_error(labels, preds, probs, n, C);
    if (probs) {
        m->has_probs = 1;
        double ll = 0, brier = 0;
        for (int i = 0; i < n; i++) {
            ll -= log(clip_prob(probs[(size_t)i * C + labels[i]]));
            if (C == 2) {
                double d = (double)probs[(size_t)i * C + 1] - (labels[i] == 1);
                brier += d * d;
            }
        }
        m->log_loss = ll / n;
        if (C == 2) m->brier = brier / n;
    }
    return 0;
}
