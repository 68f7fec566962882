// linear.c: out = inp · weightᵀ + bias, weight stored (OC, C) as in PyTorch.
//
// Forward, for each row n:  out[n,o] = bias[o] + Σ_c inp[n,c] * weight[o,c]
// Saved for backward: the input (dweight needs it) — the caller keeps it alive.
// Backward:
//   dinp[n,c]    += Σ_o dout[n,o] * weight[o,c]      (dinp = dout · W)
//   dweight[o,c] += Σ_n dout[n,o] * inp[n,c]         (dW = doutᵀ · X)
//   dbias[o]     += Σ_n dout[n,o]
// The fast versions are three calls of the blocked GEMM (matmul.c) with the strides that express
// each transposition; the *_reference versions are the plain loops they are tested against
// (test/test_kernels_fast.c). The double build (finite-difference checks) runs the reference.
#include "kernels/kernels.h"

void linear_forward_reference(real *out, const real *inp, const real *weight, const real *bias,
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

void linear_backward_reference(real *dinp, real *dweight, real *dbias, const real *dout,
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

#ifdef REAL_DOUBLE

void linear_forward(real *out, const real *inp, const real *weight, const real *bias, int N, int C, int OC) {
    linear_forward_reference(out, inp, weight, bias, N, C, OC);
}

void linear_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                     const real *inp, const real *weight, int N, int C, int OC) {
    linear_backward_reference(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
}

#else

void linear_forward(real *out, const real *inp, const real *weight, const real *bias, int N, int C, int OC) {
    // out (N,OC) = inp (N,C) · B with B(c,o) = weight[o*C + c]
    matmul(out, OC, inp, C, 1, weight, 1, C, bias, N, OC, C, 0);
}

void linear_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                     const real *inp, const real *weight, int N, int C, int OC) {
    // dinp (N,C) += dout (N,OC) · weight (OC,C)
    matmul(dinp, C, dout, OC, 1, weight, C, 1, NULL, N, C, OC, 1);
    // dweight (OC,C) += doutᵀ · inp: A(o,n) = dout[n*OC + o], B(n,c) = inp[n*C + c]
    matmul(dweight, C, dout, 1, OC, inp, C, 1, NULL, OC, C, N, 1);
    if (!dbias) return;
    // dbias[o] += Σ_n dout[n,o]: columns split over threads in 64-wide chunks, rows summed in order
    #pragma omp parallel for
    for (int o0 = 0; o0 < OC; o0 += 64) {
        int o1 = o0 + 64 < OC ? o0 + 64 : OC;
        real acc[64] = {0};
        for (int n = 0; n < N; n++) {
            const real *dy = dout + (size_t)n * OC;
            #pragma omp simd
            for (int o = o0; o < o1; o++) acc[o - o0] += dy[o];
        }
        for (int o = o0; o < o1; o++) dbias[o] += acc[o - o0];
    }
}

#endif

// inference: the weight packed once (matmul_pack), reused for every batch
int linear_pack(PackedB *packed, const real *weight, int C, int OC) {
    return matmul_pack(packed, weight, 1, C, OC, C);  // B(c,o) = weight[o*C + c]
}

void linear_forward_packed(real *out, int ldo, const real *inp, const PackedB *weight, const real *bias, int N) {
    matmul_packed(out, ldo, inp, weight->K, 1, weight, bias, N, 0);
}
