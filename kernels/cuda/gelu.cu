// kernels/cuda/gelu.cu: the activations' backward passes and forwards, one thread per element.
//   GELU backward: dev/cuda/gelu_backward.cu version 2 (float4, grid-stride, scalar tail; kernels in
//            kernels/cuda/gelu.cuh, shared with the lab); version 1 when a pointer is not 16-byte
//            aligned. The forward GELU is fused into the FFN1 GEMM epilogue (kernels/cuda/matmul.cu);
//   ReLU and tanh (the classifier heads' activations): no lab, one thread per element.
#include <math.h>

#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/gelu.cuh"

void cu_gelu_backward(float *dinp, const float *inp, const float *dout, int N) {
    if (aligned_f4(dinp) && aligned_f4(inp) && aligned_f4(dout))
        gelu_backward_kernel2<<<grid_stride((size_t)N / 4 + 1, 256), 256>>>(dinp, inp, dout, N);
    else
        gelu_backward_kernel1<<<ceil_div(N, 256), 256>>>(dinp, inp, dout, N);
    cudaCheckLaunch();
}

// ReLU / tanh (the classifier head: B·C elements, launch-bound; no lab, one thread per element,
// formulas of kernels/activations.c)
__global__ void relu_forward_kernel(float *out, const float *inp, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) out[i] = inp[i] > 0 ? inp[i] : 0.0f;
}
__global__ void relu_backward_kernel(float *dinp, const float *out, const float *dout, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) dinp[i] += out[i] > 0 ? dout[i] : 0.0f;
}
__global__ void tanh_forward_kernel(float *out, const float *inp, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) out[i] = tanhf(inp[i]);
}
__global__ void tanh_backward_kernel(float *dinp, const float *out, const float *dout, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}
void cu_relu_forward(float *out, const float *inp, int N) {
    relu_forward_kernel<<<ceil_div(N, 256), 256>>>(out, inp, N);
    cudaCheckLaunch();
}
void cu_relu_backward(float *dinp, const float *out, const float *dout, int N) {
    relu_backward_kernel<<<ceil_div(N, 256), 256>>>(dinp, out, dout, N);
    cudaCheckLaunch();
}
void cu_tanh_forward(float *out, const float *inp, int N) {
    tanh_forward_kernel<<<ceil_div(N, 256), 256>>>(out, inp, N);
    cudaCheckLaunch();
}
void cu_tanh_backward(float *dinp, const float *out, const float *dout, int N) {
    tanh_backward_kernel<<<ceil_div(N, 256), 256>>>(dinp, out, dout, N);
    cudaCheckLaunch();
}
