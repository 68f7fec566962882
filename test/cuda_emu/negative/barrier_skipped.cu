// Negative control: lanes 0-15 of warp 0 take a branch with a full-warp shuffle while the rest of
// the block waits at a barrier: the shuffle can never complete (a deadlock on a GPU too).
// EXPECT: deadlock
#include <cuda_runtime.h>
#include <stdio.h>

__global__ void barrier_skipped_kernel(float *out) {
    float v = (float)threadIdx.x;
    if (threadIdx.x < 16) v += __shfl_xor_sync(0xffffffffu, v, 1);
    __syncthreads();
    out[threadIdx.x] = v;
}

int main(void) {
    float *out;
    cudaMalloc(&out, 64 * sizeof(float));
    barrier_skipped_kernel<<<1, 64>>>(out);
    cudaDeviceSynchronize();
    printf("not caught\n");
    return 0;
}
