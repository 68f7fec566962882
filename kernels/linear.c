// linear.c: out = inp · weightᵀ + bias, weight stored (OC, C) as in PyTorch.
//
// Forward, for each row n:  out[n,o] = bias[o] + Σ_c inp[n,c] * weight[o,c]
// Saved for backward: the input (dweight needs it) — the caller keeps it alive.
// Backward:
//   dinp[n,c]    += Σ_o dout[n,o] * weight[o,c]      (dinp = dout · W)
//   dweight[o,c] += Σ_n dout[n,o] * inp[n,c]         (dW = doutᵀ · X)
//   dbias[o]     += Σ_n dout[n,o]
// Each output element is a dot product over a contiguous row, so the loops vectorise
// (omp simd reduction) and parallelise over independent outputs without atomics.
#include "kernels/kernels.h"

void linear_forward(real *out, const real *inp, const real *weight, const real *bias,
                    int N, int C, int OC) {
    #pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < OC; o++) {
            const real *x = inp + (size_t)n * C;
            const real *w = weight + (size_t)o * C;
            real acc = bias ? bias[o] : 0;
            #pragma omp simd reduction(+:acc)
            for (int c = 0; c < C; c++) acc += x[c] * w[c];
            out[(size_t)n * OC + o] = acc;
        }
    }
}

void linear_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                     const real *inp, const real *weight, int N, int C, int OC) {
    // dinp = dout · W: row n of dinp is a weighted sum of the rows of W
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const real *dy = dout + (size_t)n * OC;
        real *dx = dinp + (size_t)n * C;
        for (int o = 0; o < OC; o++) {
            const real *w = weight + (size_t)o * C;
            real d = dy[o];
            #pragma omp simd
            for (int c = 0; c < C; c++) dx[c] += d * w[c];
        }
    }
    // dW = doutᵀ · X and db = Σ_n dout: each output row o is independent
    #pragma omp parallel for
    for (int o = 0; o < OC; o++) {
        real *dw = dweight + (size_t)o * C;
        real db = 0;
        for (int n = 0; n < N; n++) {
            const real *x = inp + (size_t)n * C;
            real d = dout[(size_t)n * OC + o];
            db += d;
            #pragma omp simd
            for (int c = 0; c < C; c++) dw[c] += d * x[c];
        }
        if (dbias) dbias[o] += db;
    }
}
