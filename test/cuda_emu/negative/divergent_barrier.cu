// Negative control: half of the block waits at one __syncthreads, the other half at another.
// On a GPU this is undefined behaviour (it may hang or silently mix the two barriers).
// EXPECT: divergent barrier
#include <cuda_runtime.h>
#include <stdio.h>

__global__ void divergent_barrier_kernel(float *out) {
    __shared__ float s[64];
    s[threadIdx.x] = (float)threadIdx.x;
    if (threadIdx.x < 32) {
        __syncthreads();
        out[threadIdx.x] = s[63 - threadIdx.x];
    } else {
        __syncthreads();
        out[threadIdx.x] = s[63 - threadIdx.x] * 2.0f;
    }
}

int main(void) {
    float *out;
    cudaMalloc(&out, 64 * sizeof(float));
    divergent_barrier_kernel<<<1, 64>>>(out);
    cudaDeviceSynchronize();
    printf("not caught\n");
    return 0;
}
