// crossentropy.c: softmax + cross-entropy over NL classes, mean over the counted rows
// (PyTorch CrossEntropyLoss defaults: reduction 'mean', ignore_index -100).
//
// Forward per row b:  p = softmax(z) (subtract the max first),  loss_b = logsumexp(z) - z[y]
//   mean loss = Σ_{b counted} loss_b / B'   (B' = rows with y != -100)
// Saved for backward: the probabilities p.
// Backward:  dz[b,c] = (p[b,c] - [c == y_b]) / B'
#include "kernels/kernels.h"

#define IGNORE_INDEX -100

static int count_labelled(const int *labels, int B) {
    int n = 0;
    for (int b = 0; b < B; b++) n += labels[b] != IGNORE_INDEX;
    return n;
}

real crossentropy_forward(real *probs, real *losses, const real *logits, const int *labels,
                          int B, int NL) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const real *z = logits + (size_t)b * NL;
        real *p = probs + (size_t)b * NL;
        real maxval = z[0];
        for (int c = 1; c < NL; c++) if (z[c] > maxval) maxval = z[c];
        real sum = 0;
        for (int c = 0; c < NL; c++) { p[c] = real_exp(z[c] - maxval); sum += p[c]; }
        for (int c = 0; c < NL; c++) p[c] /= sum;
        if (labels && labels[b] != IGNORE_INDEX) {
            // logsumexp(z) - z[y] = log(sum) + max - z[y], exact even when p[y] underflows
            losses[b] = real_log(sum) + maxval - z[labels[b]];
            total += losses[b];
        } else {
            losses[b] = 0;
        }
    }
    int n = labels ? count_labelled(labels, B) : 0;
    return n > 0 ? (real)(total / n) : 0;
}

void crossentropy_backward(real *dlogits, const real *probs, const int *labels, int B, int NL) {
    int n = count_labelled(labels, B);
    if (n == 0) return;
    real inv_n = (real)1 / n;
    for (int b = 0; b < B; b++) {
        if (labels[b] == IGNORE_INDEX) continue;
        for (int c = 0; c < NL; c++) {
            real indicator = c == labels[b] ? 1 : 0;
            dlogits[(size_t)b * NL + c] += (probs[(size_t)b * NL + c] - indicator) * inv_n;
        }
    }
}
