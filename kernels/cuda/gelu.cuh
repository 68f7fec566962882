// kernels/cuda/gelu.cuh: the GELU backward kernels the GPU model runs (dev/cuda/gelu_backward.cu
// versions 1, 2; the forward GELU is fused into the FFN1 GEMM epilogue).
// One definition, included by the labs and by kernels/cuda/gelu.cu.
#pragma once
#include "kernels/cuda/common.cuh"

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

// d gelu / dx
__device__ __forceinline__ float gelu_grad(float x) {
    float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
    float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
    return cdf + x * pdf;
}

// inp (N), dout (N) -> dinp (N) +=
__global__ void gelu_backward_kernel1(float *dinp, const float *inp, const float *dout, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) dinp[i] += dout[i] * gelu_grad(inp[i]);
}

__global__ void gelu_backward_kernel2(float *dinp, const float *inp, const float *dout, int N) {
    int n4 = N / 4;
    const float4 *x4 = reinterpret_cast<const float4 *>(inp);
    const float4 *d4 = reinterpret_cast<const float4 *>(dout);
    float4 *g4 = reinterpret_cast<float4 *>(dinp);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
        float4 x = __ldcs(x4 + i), d = __ldcs(d4 + i), g = g4[i];
        g.x += d.x * gelu_grad(x.x);
        g.y += d.y * gelu_grad(x.y);
        g.z += d.z * gelu_grad(x.z);
        g.w += d.w * gelu_grad(x.w);
        __stcs(g4 + i, g);
    }
    if (blockIdx.x == 0 && threadIdx.x < N - 4 * n4) {
        int i = 4 * n4 + threadIdx.x;
        dinp[i] += dout[i] * gelu_grad(inp[i]);
    }
}
