// dropout.c: inverted dropout. Train mode: out = inp * keep / (1 - p), keep ~ Bernoulli(1 - p);
// eval mode (or p = 0): identity. Backward multiplies by the same keep / (1 - p). The mask is
// regenerated from (seed, index) by dropout_keep (dropout.h), never stored. Each element depends only
// on its index, so the loops split over threads with the same result.
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/dropout.h"

// elements i < n of one span whose masks are those of indices base + i
static void dropout_span_forward(real *out, const real *inp, real p, uint64_t seed, uint64_t base, int n) {
    real scale = (real)(1.0 / (1.0 - (double)p));
    int i0 = 0;
#ifdef DROPOUT_KEEP8  // 8 masks at a time (dropout.h), the same values as dropout_keep
    const __m512i thr = dropout_threshold((double)p);
    const __m256 ks = _mm256_set1_ps(scale);
    #pragma omp parallel for schedule(static) if (n > PARALLEL_MIN)
    for (int i = 0; i < n - 7; i += 8)
        _mm256_storeu_ps(out + i, _mm256_maskz_mul_ps(dropout_keep8(seed, base + i, thr), _mm256_loadu_ps(inp + i), ks));
    i0 = n / 8 * 8;
#endif
    #pragma omp parallel for schedule(static) if (n - i0 > PARALLEL_MIN)
    for (int i = i0; i < n; i++) out[i] = dropout_keep(seed, base + i, p) ? inp[i] * scale : 0;
}

static void dropout_span_backward(real *dinp, const real *dout, real p, uint64_t seed, uint64_t base, int n) {
    real scale = (real)(1.0 / (1.0 - (double)p));
    int i0 = 0;
#ifdef DROPOUT_KEEP8
    const __m512i thr = dropout_threshold((double)p);
    const __m256 ks = _mm256_set1_ps(scale);
    #pragma omp parallel for schedule(static) if (n > PARALLEL_MIN)
    for (int i = 0; i < n - 7; i += 8) {
        __m256 d = _mm256_maskz_mul_ps(dropout_keep8(seed, base + i, thr), _mm256_loadu_ps(dout + i), ks);
        _mm256_storeu_ps(dinp + i, _mm256_add_ps(_mm256_loadu_ps(dinp + i), d));
    }
    i0 = n / 8 * 8;
#endif
    #pragma omp parallel for schedule(static) if (n - i0 > PARALLEL_MIN)
    for (int i = i0; i < n; i++) dinp[i] += dropout_keep(seed, base + i, p) ? dout[i] * scale : 0;
}

// rows of C elements; row r draws the masks of indices r * index_stride + c (one row: the plain dropout)
void dropout_forward_rows(real *out, const real *inp, real p, uint64_t seed, int rows, int C, size_t index_stride) {
    for (int r = 0; r < rows; r++) {
        real *o = out + (size_t)r * C;
        const real *x = inp + (size_t)r * C;
        if (p <= 0) memcpy(o, x, sizeof(real) * C);
        else dropout_span_forward(o, x, p, seed, (uint64_t)r * index_stride, C);
    }
}

void dropout_backward_rows(real *dinp, const real *dout, real p, uint64_t seed, int rows, int C, size_t index_stride) {
    for (int r = 0; r < rows; r++) {
        real *dx = dinp + (size_t)r * C;
        const real *dy = dout + (size_t)r * C;
        if (p <= 0)
            for (int i = 0; i < C; i++) dx[i] += dy[i];
        else dropout_span_backward(dx, dy, p, seed, (uint64_t)r * index_stride, C);
    }
}

void dropout_forward(real *out, const real *inp, real p, uint64_t seed, int N) {
    dropout_forward_rows(out, inp, p, seed, 1, N, 0);
}

void dropout_backward(real *dinp, const real *dout, real p, uint64_t seed, int N) {
    dropout_backward_rows(dinp, dout, p, seed, 1, N, 0);
}
