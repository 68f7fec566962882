// kernels/cuda/common.cuh: what every CUDA file shares, the production kernels (kernels/cuda/*.cu) and
// the labs (dev/cuda/common.h includes it): error checks, ceil_div, warp and block reductions.
//
// Everything runs on the legacy default stream (stream 0), in order: no host synchronisation happens
// inside a forward or backward; the host waits only when it reads a result back (loss, logits, norm).
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime.h>
#include <cuda_bf16.h>

// a CUDA error is fatal: the message names the call, then the process exits (2)
#define cudaCheck(call) cuda_check_((call), #call, __FILE__, __LINE__)
static inline void cuda_check_(cudaError_t e, const char *what, const char *file, int line) {
    if (e != cudaSuccess) {
        fprintf(stderr, "%s:%d: CUDA error %s: %s (%s)\n", file, line, cudaGetErrorName(e), cudaGetErrorString(e),
                what);
        exit(2);
    }
}
// after a kernel launch: launch-configuration errors now, execution errors at the next sync
#define cudaCheckLaunch() cudaCheck(cudaGetLastError())

template <class T> static inline T ceil_div(T a, T b) { return (a + b - 1) / b; }

__device__ __forceinline__ float warp_reduce_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_reduce_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
// sum over a block of up to 1024 threads (blockDim.x a multiple of 32); every thread gets the result.
// The order is fixed by the launch shape, so the result is deterministic.
__device__ __forceinline__ float block_reduce_sum(float v) {
    __shared__ float shared[32];
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = warp_reduce_sum(v);
    __syncthreads();   // shared[] may still be read by a previous call
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < nwarps ? shared[lane] : 0.0f;
    return warp_reduce_sum(v);
}
