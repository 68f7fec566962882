// first_token.c: the first token of every row, [CLS] / <s>: what the classifier heads read.
//   forward:  out (B,C) = inp[b, 0, :] of inp (B,T,C)
//   backward: dinp[b, 0, :] += dout[b, :]   (the other T-1 positions receive nothing)
#include <string.h>

#include "kernels/kernels.h"

void first_token_forward(real *out, const real *inp, int B, int T, int C) {
    for (int b = 0; b < B; b++) memcpy(out + (size_t)b * C, inp + (size_t)b * T * C, sizeof(real) * C);
}

void first_token_backward(real *dinp, const real *dout, int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int i = 0; i < C; i++) dinp[(size_t)b * T * C + i] += dout[(size_t)b * C + i];
}
