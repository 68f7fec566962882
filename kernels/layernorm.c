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

#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void layernorm_forward(real *out, real *mean, real *rstd, const real *inp,
                       const real *weight, const real *bias, int N, int C, real eps) {
    #pragma omp parallel for if ((long)N * C > PARALLEL_MIN)
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

// dweight and dbias are sums over rows: the rows are split statically over the threads, each thread
// sums its rows into its own partial (dweight, dbias), and the partials are added in thread order —
// deterministic for a given thread count. Single-threaded it is the plain loop.
typedef struct { real *p; size_t cap; } Partials;
static _Thread_local Partials tl_partials;

void layernorm_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                        const real *weight, const real *mean, const real *rstd, int N, int C) {
    int nt = 1;
#ifdef _OPENMP
    nt = omp_in_parallel() || (long)N * C <= PARALLEL_MIN ? 1 : omp_get_max_threads();
#endif
    if (tl_partials.cap < (size_t)nt * 2 * C) {
        free(tl_partials.p);
        tl_partials.p = malloc(sizeof(real) * nt * 2 * C);
        if (!tl_partials.p) abort();  // out of memory: nothing sane to do
        tl_partials.cap = (size_t)nt * 2 * C;
    }
    real *partials = tl_partials.p;
    int used = 1;
    #pragma omp parallel num_threads(nt)
    {
        int tid = 0, n_threads = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        n_threads = omp_get_num_threads();
#endif
        if (tid == 0) used = n_threads;
        real *dw = partials + (size_t)tid * 2 * C, *db = dw + C;
        for (int i = 0; i < 2 * C; i++) dw[i] = 0;
        int n0 = (int)((long)N * tid / n_threads), n1 = (int)((long)N * (tid + 1) / n_threads);
        for (int n = n0; n < n1; n++) {
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
            real mg = (real)mean_g, mgx = (real)mean_gxhat;
            #pragma omp simd
            for (int i = 0; i < C; i++) {
                real xhat = (x[i] - m) * s;
                real g = dy[i] * weight[i];
                db[i] += dy[i];
                dw[i] += dy[i] * xhat;
                dx[i] += s * (g - mg - xhat * mgx);
            }
        }
    }
    for (int t = 0; t < used; t++) {
        const real *dw = partials + (size_t)t * 2 * C, *db = dw + C;
        for (int i = 0; i < C; i++) {
            dweight[i] += dw[i];
            dbias[i] += db[i];
        }
    }
}
