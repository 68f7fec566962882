// kernels/cuda/global_norm.cu: the global gradient norm and the clip coefficient.
#include <math.h>

#include "kernels/cuda/kernels_cuda.h"

// chosen from dev/cuda/global_norm.cu version 3 (float4 partials over a fixed grid, the last block
// by atomic ticket sums them in fixed order: deterministic, one launch). The clip coefficient is
// computed in double as model/optimizer.c does and handed to AdamW as its gradient scale instead of
// a scaling pass over the gradients.
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
__global__ void global_norm_kernel3(float *result, float *partials, unsigned int *ticket, const float *g, size_t n,
                                    float max_norm) {
    __shared__ bool last;
    float s = block_sumsq4(g, n);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = s;
        __threadfence();
        last = atomicAdd(ticket, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    float acc = 0.0f;
    for (int i = threadIdx.x; i < (int)gridDim.x; i += blockDim.x) acc += __ldcg(partials + i);
    acc = block_reduce_sum(acc);
    if (threadIdx.x == 0) {
        float norm = sqrtf(acc);
        double coef = (double)max_norm / ((double)norm + 1e-6);
        result[0] = norm;
        result[1] = max_norm > 0 && coef < 1.0 ? (float)coef : 1.0f;
        *ticket = 0;
    }
}
int cu_global_norm_max_blocks(void) { return 2 * num_sms(); }
void cu_global_norm(float *result, float *partials, unsigned int *ticket, const float *g, size_t n, float max_norm) {
    // the float4 path needs g 16-byte aligned: the gradient buffer is a cudaMalloc base
    int grid = (int)ceil_div(n / 4 + 1, (size_t)256);
    if (grid > cu_global_norm_max_blocks()) grid = cu_global_norm_max_blocks();
    if (grid < 1) grid = 1;
    global_norm_kernel3<<<grid, 256>>>(result, partials, ticket, g, n, max_norm);
    cudaCheckLaunch();
}
