// activations.c: elementwise nonlinearities and their derivatives.
//
// GELU, exact erf form (HF "gelu", torch approximate='none'):
//   gelu(x) = x * Φ(x),  Φ(x) = 0.5 * (1 + erf(x / √2))
//   gelu'(x) = Φ(x) + x * φ(x),  φ(x) = exp(-x²/2) / √(2π)      (saves the input x)
// ReLU: y = max(x, 0), dy/dx = [y > 0] (PyTorch tests the output: 0 at x = 0)   (saves y)
// tanh: dy/dx = 1 - y²                                                         (saves y)
#include "kernels/kernels.h"

#define INV_SQRT2     0.70710678118654752440
#define INV_SQRT_2PI  0.39894228040143267794

void gelu_forward(real *out, const real *inp, int N) {
    #pragma omp parallel for
    for (int i = 0; i < N; i++) {
        real x = inp[i];
        out[i] = x * (real)0.5 * (1 + real_erf(x * (real)INV_SQRT2));
    }
}

void gelu_backward(real *dinp, const real *inp, const real *dout, int N) {
    #pragma omp parallel for
    for (int i = 0; i < N; i++) {
        real x = inp[i];
        real cdf = (real)0.5 * (1 + real_erf(x * (real)INV_SQRT2));
        real pdf = (real)INV_SQRT_2PI * real_exp((real)-0.5 * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

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
