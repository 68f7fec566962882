// kernels/cuda/layernorm.cu: LayerNorm forward (alone and with the residual add fused) and backward
// (launchers; the kernels are kernels/cuda/layernorm.cuh, shared with the labs).
//   forward: dev/cuda/layernorm_forward.cu versions 3 (warp per row, row in registers, exact two-pass
//            variance) and 4 (the same with the residual add fused). Needs C % 4 == 0, C <= 1024
//            (model_cuda_init refuses other widths) and 16-byte aligned rows;
//   backward: dev/cuda/layernorm_backward.cu version 3 (warp per row, row and column partials in
//            registers, per-block partials reduced in fixed order: deterministic; optional second dinp
//            for the fused residual).
#include <math.h>

#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/layernorm.cuh"

static int ln_nv(int C) {
    if (C % 4 != 0 || C > 1024 || C < 4) {
        fprintf(stderr, "kernels/cuda layernorm: width %d unsupported (needs C %% 4 == 0, C <= 1024)\n", C);
        exit(2);
    }
    return ceil_div(C / 4, 32);
}
void cu_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                          const float *bias, int N, int C, float eps) {
    const int block = 128;
    int grid = ceil_div(N, block / 32);
    switch (ln_nv(C)) {
#define CASE(NV) case NV: layernorm_forward_kernel3<NV><<<grid, block>>>(out, mean, rstd, inp, weight, bias, N, C, eps); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    }
    cudaCheckLaunch();
}
void cu_residual_layernorm_forward(float *resid, float *out, float *mean, float *rstd, const float *inp1,
                                   const float *inp2, const float *weight, const float *bias, int N, int C, float eps) {
    const int block = 128;
    int grid = ceil_div(N, block / 32);
    switch (ln_nv(C)) {
#define CASE(NV) case NV: layernorm_forward_kernel4<NV><<<grid, block>>>(resid, out, mean, rstd, inp1, inp2, weight, bias, N, C, eps); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    }
    cudaCheckLaunch();
}

void cu_layernorm_backward(float *dinp, float *dinp2, float *dweight, float *dbias, float *scratch, const float *dout,
                           const float *inp, const float *weight, const float *mean, const float *rstd, int N, int C) {
    const int block = 128;
    int grid = ceil_div(N, block / 32);
    if (grid > 2 * num_sms()) grid = 2 * num_sms();
    size_t smem = (size_t)(block / 32) * 2 * C * sizeof(float);   // <= 32 KB for C <= 1024
    switch (ln_nv(C)) {
#define CASE(NV) case NV: layernorm_backward_kernel3<NV><<<grid, block, smem>>>(dinp, dinp2, scratch, dout, inp, weight, mean, rstd, N, C); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    }
    cudaCheckLaunch();
    layernorm_backward_reduce_kernel<<<ceil_div(2 * C, 256), 256>>>(dweight, dbias, scratch, grid, C);
    cudaCheckLaunch();
}
