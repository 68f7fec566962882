// Negative control: a tile is fetched with cp.async and committed, but the cp.async.wait_group is
// missing before the barrier, so the tile is read before the copies land.
// EXPECT: cp.async|different device memory
#include <cuda_runtime.h>
#include <stdio.h>
#include "kernels/cuda/matmul_mma.cuh"

__global__ void cp_async_no_wait_kernel(float *out, const bf16 *in) {
    __shared__ __align__(16) bf16 tile[64 * 8];
    cp_async16(tile + threadIdx.x * 8, in + threadIdx.x * 8, true);
    cp_async_commit();
    // missing: cp_async_wait<0>();
    __syncthreads();
    out[threadIdx.x] = __bfloat162float(tile[(threadIdx.x * 8 + 9) % 512]);
}

int main(void) {
    bf16 host[512], *in;
    float *out;
    for (int i = 0; i < 512; i++) host[i] = __float2bfloat16((float)i);
    cudaMalloc(&in, sizeof host);
    cudaMalloc(&out, 64 * sizeof(float));
    cudaMemcpy(in, host, sizeof host, cudaMemcpyHostToDevice);
    cp_async_no_wait_kernel<<<1, 64>>>(out, in);
    cudaDeviceSynchronize();
    float got[64];
    cudaMemcpy(got, out, sizeof got, cudaMemcpyDeviceToHost);
    for (int i = 0; i < 64; i++)
        if (!(got[i] == (float)((i * 8 + 9) % 512))) { printf("cp.async: wrong tile value %g at %d\n", got[i], i); return 1; }
    printf("not caught\n");
    return 0;
}
