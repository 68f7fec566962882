// dropout.c: inverted dropout. Train mode: out = inp * keep / (1 - p), keep ~ Bernoulli(1 - p);
// eval mode (or p = 0): identity. Backward multiplies by the same keep / (1 - p). The mask is
// regenerated from (seed, index) by dropout_keep (dropout.h), never stored. Each element depends only
// on its index, so the loops split over threads with the same result.
#include "kernels/kernels.h"
#include "kernels/dropout.h"

void dropout_forward(real *out, const real *inp, real p, uint64_t seed, int N) {
    if (p <= 0) {
        for (int i = 0; i < N; i++) out[i] = inp[i];
        return;
    }
    real scale = (real)(1.0 / (1.0 - (double)p));
#ifdef DROPOUT_KEEP8  // 8 masks at a time (dropout.h), the same values as dropout_keep
    const __m512i thr = dropout_threshold((double)p);
    const __m256 ks = _mm256_set1_ps(scale);
    #pragma omp parallel for schedule(static) if (N > PARALLEL_MIN)
    for (int i = 0; i < N - 7; i += 8)
        _mm256_storeu_ps(out + i, _mm256_maskz_mul_ps(dropout_keep8(seed, (uint64_t)i, thr), _mm256_loadu_ps(inp + i), ks));
    for (int i = N / 8 * 8; i < N; i++) out[i] = dropout_keep(seed, (uint64_t)i, p) ? inp[i] * scale : 0;
    return;
#endif
    #pragma omp parallel for schedule(static) if (N > PARALLEL_MIN)
    for (int i = 0; i < N; i++) out[i] = dropout_keep(seed, (uint64_t)i, p) ? inp[i] * scale : 0;
}

void dropout_backward(real *dinp, const real *dout, real p, uint64_t seed, int N) {
    if (p <= 0) {
        for (int i = 0; i < N; i++) dinp[i] += dout[i];
        return;
    }
    real scale = (real)(1.0 / (1.0 - (double)p));
#ifdef DROPOUT_KEEP8
    const __m512i thr = dropout_threshold((double)p);
    const __m256 ks = _mm256_set1_ps(scale);
    #pragma omp parallel for schedule(static) if (N > PARALLEL_MIN)
    for (int i = 0; i < N - 7; i += 8) {
        __m256 d = _mm256_maskz_mul_ps(dropout_keep8(seed, (uint64_t)i, thr), _mm256_loadu_ps(dout + i), ks);
        _mm256_storeu_ps(dinp + i, _mm256_add_ps(_mm256_loadu_ps(dinp + i), d));
    }
    for (int i = N / 8 * 8; i < N; i++) dinp[i] += dropout_keep(seed, (uint64_t)i, p) ? dout[i] * scale : 0;
    return;
#endif
    #pragma omp parallel for schedule(static) if (N > PARALLEL_MIN)
    for (int i = 0; i < N; i++) dinp[i] += dropout_keep(seed, (uint64_t)i, p) ? dout[i] * scale : 0;
}
