// kernels/cuda/matmul.cuh: the matmul kernel of the GPU model beside the shared GEMMs (matmul_simt.cuh,
// matmul_mma.cuh): the dbias reduction of dev/cuda/matmul_backward.cu (fp32 and bf16 dout).
// One definition, included by the labs and by kernels/cuda/matmul.cu.
#pragma once
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/matmul_mma.cuh"

// dbias[o] += Σ_n dout[n, o]: block = 32 columns x 8 row groups; each thread sums its rows in
// order, then the 8 partials are added in order (deterministic)
template <typename T>
__global__ void dbias_kernel(float *dbias, const T *dout, int N, int OC) {
    __shared__ float part[8][33];
    int o = blockIdx.x * 32 + threadIdx.x, r = threadIdx.y;
    float acc = 0.0f;
    if (o < OC)
        for (int n = r; n < N; n += 8) acc += load_value(dout + (size_t)n * OC + o);
    part[r][threadIdx.x] = acc;
    __syncthreads();
    if (r == 0 && o < OC) {
        float s = 0.0f;
        for (int i = 0; i < 8; i++) s += part[i][threadIdx.x];
        dbias[o] += s;
    }
}
