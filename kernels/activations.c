// activations.c: elementwise nonlinearities and their derivatives.
//
// GELU, exact erf form (HF "gelu", torch approximate='none'):
//   gelu(x) = x * Φ(x),  Φ(x) = 0.5 * (1 + erf(x / √2))
//   gelu'(x) = Φ(x) + x * φ(x),  φ(x) = exp(-x²/2) / √(2π)      (saves the input x)
// ReLU: y = max(x, 0), dy/dx = [y > 0] (PyTorch tests the output: 0 at x = 0)   (saves y)
// tanh: dy/dx = 1 - y²                                                         (saves y)
#include "kernels/kernels.h"
#include "kernels/vmath.h"

#define INV_SQRT2     0.70710678118654752440
#define INV_SQRT_2PI  0.39894228040143267794

// the plain libm versions: the double build's GELU and the oracle of the fast ones
void gelu_forward_reference(real *out, const real *inp, int N) {
    #pragma omp parallel for
    for (int i = 0; i < N; i++) {
        real x = inp[i];
        out[i] = x * (real)0.5 * (1 + real_erf(x * (real)INV_SQRT2));
    }
}

void gelu_backward_reference(real *dinp, const real *inp, const real *dout, int N) {
    #pragma omp parallel for
    for (int i = 0; i < N; i++) {
        real x = inp[i];
        real cdf = (real)0.5 * (1 + real_erf(x * (real)INV_SQRT2));
        real pdf = (real)INV_SQRT_2PI * real_exp((real)-0.5 * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

#ifdef VMATH_AVX512
// 16 values at a time with the polynomial erf/exp of vmath.h; the tail through a masked load/store.
// Parallel over chunks of the array (each element is independent, so any split gives the same result).
void gelu_forward(real *out, const real *inp, int N) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), s2 = _mm512_set1_ps((float)INV_SQRT2);
    #pragma omp parallel for schedule(static) if (N > PARALLEL_MIN)
    for (int i = 0; i < N; i += 16) {
        __mmask16 m = N - i >= 16 ? 0xFFFF : (__mmask16)((1u << (N - i)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(m, inp + i);
        __m512 cdf = _mm512_mul_ps(half, _mm512_add_ps(one, verf(_mm512_mul_ps(x, s2))));
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(x, cdf));
    }
}

void gelu_backward(real *dinp, const real *inp, const real *dout, int N) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), s2 = _mm512_set1_ps((float)INV_SQRT2);
    const __m512 mhalf = _mm512_set1_ps(-0.5f), k = _mm512_set1_ps((float)INV_SQRT_2PI);
    #pragma omp parallel for schedule(static) if (N > PARALLEL_MIN)
    for (int i = 0; i < N; i += 16) {
        __mmask16 m = N - i >= 16 ? 0xFFFF : (__mmask16)((1u << (N - i)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(m, inp + i);
        __m512 cdf = _mm512_mul_ps(half, _mm512_add_ps(one, verf(_mm512_mul_ps(x, s2))));
        __m512 pdf = _mm512_mul_ps(k, vexp(_mm512_mul_ps(mhalf, _mm512_mul_ps(x, x))));
        __m512 g = _mm512_fmadd_ps(x, pdf, cdf);
        __m512 d = _mm512_maskz_loadu_ps(m, dinp + i);
        _mm512_mask_storeu_ps(dinp + i, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dout + i), g, d));
    }
}
#else
void gelu_forward(real *out, const real *inp, int N) { gelu_forward_reference(out, inp, N); }
void gelu_backward(real *dinp, const real *inp, const real *dout, int N) { gelu_backward_reference(dinp, inp, dout, N); }
#endif

void relu_forward(real *out, const real *inp, int N) {
    for (int i = 0; i < N; i++) out[i] = inp[i] > 0 ? inp[i] : 0;
}

void relu_backward(real *dinp, const real *out, const real *dout, int N) {
    for (int i = 0; i < N; i++) dinp[i] += out[i] > 0 ? dout[i] : 0;
}

void tanh_forward(real *out, const real *inp, int N) {
    for (int i = 0; i < N; i++) out[i] = real_tanh(inp[i]);
}

void tanh_backward(real *dinp, const real *out, const real *dout, int N) {
    for (int i = 0; i < N; i++) dinp[i] += dout[i] * (1 - out[i] * out[i]);
}
