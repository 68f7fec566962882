// layernorm.c: LayerNorm over the last dimension (post-LN encoders: DistilBERT, BERT, RoBERTa).
//
// Forward, per row x of C values:
//   mean = Σ x / C,  var = Σ (x - mean)² / C (biased),  rstd = 1 / sqrt(var + eps)
//   xhat = (x - mean) * rstd,  y = weight * xhat + bias
// Saved for backward: mean and rstd per row (xhat is recomputed from the input, one FMA).
//
// Backward, with g = dy * weight:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//   dweight += Σ_rows dy * xhat,  dbias += Σ_rows dy
// (derivation in doc/layers.md#layernorm)
#include "kernels/kernels.h"

void layernorm_forward(real *out, real *mean, real *rstd, const real *inp,
                       const real *weight, const real *bias, int N, int C, real eps) {
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C;
        // statistics in double: exact enough that float results do not depend on C's size
        double m = 0.0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        double v = 0.0;
        for (int i = 0; i < C; i++) { double d = x[i] - m; v += d * d; }
        v /= C;
        real s = (real)(1.0 / sqrt(v + (double)eps));
        real *y = out + (size_t)n * C;
        for (int i = 0; i < C; i++) y[i] = ((x[i] - (real)m) * s) * weight[i] + bias[i];
        mean[n] = (real)m;
        rstd[n] = s;
    }
}

void layernorm_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                        const real *weight, const real *mean, const real *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C;
        const real *dy = dout + (size_t)n * C;
        real *dx = dinp + (size_t)n * C;
        real m = mean[n], s = rstd[n];
        // the two row means of the dx formula
        double mean_g = 0.0, mean_gxhat = 0.0;
        for (int i = 0; i < C; i++) {
            real xhat = (x[i] - m) * s;
            real g = dy[i] * weight[i];
            mean_g += g;
            mean_gxhat += g * xhat;
        }
        mean_g /= C;
        mean_gxhat /= C;
        for (int i = 0; i < C; i++) {
            real xhat = (x[i] - m) * s;
            real g = dy[i] * weight[i];
            dbias[i] += dy[i];
            dweight[i] += dy[i] * xhat;
            dx[i] += s * (g - (real)mean_g - xhat * (real)mean_gxhat);
        }
    }
}
