// residual.c: the residual add of post-LN blocks, out = inp1 + inp2; backward sends dout to both.
#include "kernels/kernels.h"

void residual_forward(real *out, const real *inp1, const real *inp2, int N) {
    #pragma omp parallel for schedule(static) if (N > PARALLEL_MIN)
    for (int i = 0; i < N; i++) out[i] = inp1[i] + inp2[i];
}

void residual_backward(real *dinp1, real *dinp2, const real *dout, int N) {
    #pragma omp parallel for schedule(static) if (N > PARALLEL_MIN)
    for (int i = 0; i < N; i++) {
        dinp1[i] += dout[i];
        dinp2[i] += dout[i];
    }
}
