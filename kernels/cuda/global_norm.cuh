// kernels/cuda/global_norm.cuh: the global-norm kernel the GPU model runs (dev/cuda/global_norm.cu
// version 3) and the pieces the lab's other versions share with it. result: [0] = norm, [1] = clip coef (1 when no clipping).
// One definition, included by the labs and by kernels/cuda/global_norm.cu.
#pragma once
#include <math.h>

#include "kernels/cuda/common.cuh"

// the clip coefficient of torch.nn.utils.clip_grad_norm_, computed in double as model/optimizer.c does
__device__ __forceinline__ float clip_coef(float norm, float max_norm) {
    double coef = (double)max_norm / ((double)norm + 1e-6);
    return max_norm > 0 && coef < 1.0 ? (float)coef : 1.0f;
}

// Σg² of this block's grid-stride share: float4 body, scalar tail (block 0)
__device__ __forceinline__ float block_sumsq4(const float *g, size_t n) {
    size_t n4 = n / 4;
    float acc = 0.0f;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (size_t)gridDim.x * blockDim.x) {
        float4 v = __ldcs(reinterpret_cast<const float4 *>(g) + i);
        acc += (v.x * v.x + v.y * v.y) + (v.z * v.z + v.w * v.w);
    }
    if (blockIdx.x == 0 && threadIdx.x < n - 4 * n4) { float v = g[4 * n4 + threadIdx.x]; acc += v * v; }
    return block_reduce_sum(acc);
}

// version 3: partials + last-block finish; *ticket must be 0 before the first call (reset here)
__global__ void global_norm_kernel3(float *result, float *partials, unsigned int *ticket, const float *g, size_t n,
                                    float max_norm) {
    __shared__ bool last;
    float s = block_sumsq4(g, n);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = s;
        __threadfence();   // the partial is visible to every block before the ticket is taken
        last = atomicAdd(ticket, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    float acc = 0.0f;
    for (int i = threadIdx.x; i < (int)gridDim.x; i += blockDim.x) acc += __ldcg(partials + i);   // from L2, not a stale L1
    acc = block_reduce_sum(acc);
    if (threadIdx.x == 0) {
        float norm = sqrtf(acc);
        result[0] = norm;
        result[1] = clip_coef(norm, max_norm);
        *ticket = 0;
    }
}
