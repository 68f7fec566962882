// Negative control: a tail guard that is off by one (i <= n) reads one float past the input.
// EXPECT: out-of-bounds|heap-buffer-overflow
#include <cuda_runtime.h>
#include <stdio.h>

__global__ void scale_kernel(float *out, const float *in, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[i] = 2.0f * in[i];
}

int main(void) {
    const int n = 1000;   // 4000 bytes: a multiple of 16, so the next byte is the protected page
    float *in, *out;
    cudaMalloc(&in, n * sizeof(float));
    cudaMalloc(&out, (n + 24) * sizeof(float));
    cudaMemset(in, 0, n * sizeof(float));
    scale_kernel<<<(n + 255) / 256, 256>>>(out, in, n);
    cudaDeviceSynchronize();
    printf("not caught\n");
    return 0;
}
