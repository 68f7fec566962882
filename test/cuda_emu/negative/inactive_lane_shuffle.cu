// Negative control: lane 31 returns early, the others shuffle with a full mask that still names it.
// On a GPU the result is undefined (a read of an exited lane's register).
// EXPECT: lane 31, which has already returned|lane 31 returned while
#include <cuda_runtime.h>
#include <stdio.h>

__global__ void inactive_lane_kernel(float *out) {
    if (threadIdx.x == 31) return;
    float v = (float)threadIdx.x;
    v += __shfl_down_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}

int main(void) {
    float *out;
    cudaMalloc(&out, 32 * sizeof(float));
    inactive_lane_kernel<<<1, 32>>>(out);
    cudaDeviceSynchronize();
    printf("not caught\n");
    return 0;
}
