// kernels/cuda/adamw.cu: the AdamW update (with the bf16 weight copies; kernel in kernels/cuda/adamw.cuh,
// shared with the lab) and the fp32 -> bf16 copy. Formula and scalar rounding = model/optimizer.c.
#include "kernels/cuda/adamw.cuh"

void cu_adamw(float *params, bf16 *params_bf16, const float *grads, float *m, float *v, size_t n, AdamWScalars s,
              const float *grad_scale) {
    adamw_kernel2<<<grid_stride(n / 4 + 1, 256), 256>>>(params, params_bf16, grads, m, v, n, s, grad_scale);
    cudaCheckLaunch();
}

// ------------------------------------------------------------------------------------- fp32 -> bf16

__global__ void to_bf16_kernel(bf16 *out, const float *inp, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(inp[i]);
}
void cu_to_bf16(bf16 *out, const float *inp, size_t n) {
    if (n == 0) return;
    to_bf16_kernel<<<grid_stride(n, 256), 256>>>(out, inp, n);
    cudaCheckLaunch();
}
