// kernels/cuda/common.cuh: what the production CUDA path (kernels/cuda/*.cu) shares — error checks,
// warp/block reductions, bf16 packs. The reductions are copied from dev/cuda/common.h (the lab harness,
// which also holds validation and timing code that does not belong in the library); the tensor-core
// building blocks (bf16 typedef, cp.async, ldmatrix, mma.sync, Epilogue) come from
// dev/cuda/matmul_mma.cuh unchanged.
//
// Everything runs on the legacy default stream (stream 0), in order: no host synchronisation happens
// inside a forward or backward; the host waits only when it reads a result back (loss, logits, norm).
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime.h>
#include <cuda_bf16.h>

#include "dev/cuda/matmul_mma.cuh"

// a CUDA error in the library is fatal: the message names the call, then the process exits (2)
#define cudaCheck(call) mc_cuda_check_((call), #call, __FILE__, __LINE__)
static inline void mc_cuda_check_(cudaError_t e, const char *what, const char *file, int line) {
    if (e != cudaSuccess) {
        fprintf(stderr, "%s:%d: CUDA error %s: %s (%s)\n", file, line, cudaGetErrorName(e), cudaGetErrorString(e),
                what);
        exit(2);
    }
}
#define cudaCheckLaunch() cudaCheck(cudaGetLastError())

template <class T> static inline T mc_ceil_div(T a, T b) { return (a + b - 1) / b; }

// from dev/cuda/common.h
__device__ __forceinline__ float mc_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float mc_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
// sum over a block of up to 1024 threads (blockDim.x a multiple of 32); every thread gets the result,
// in an order fixed by the launch shape (deterministic)
__device__ __forceinline__ float mc_block_sum(float v) {
    __shared__ float shared[32];
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = mc_warp_sum(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < nwarps ? shared[lane] : 0.0f;
    return mc_warp_sum(v);
}

// the number of SMs of the current device (queried once)
int mc_num_sms(void);
