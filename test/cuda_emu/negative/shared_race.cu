// Negative control: each thread reads its neighbour's shared-memory slot without a barrier between
// the write and the read. Whether the neighbour has written yet depends on the schedule.
// EXPECT: schedules in-order and (reversed|random) leave different device memory
#include <cuda_runtime.h>
#include <stdio.h>

__global__ void shared_race_kernel(float *out, const float *in) {
    __shared__ float s[128];
    s[threadIdx.x] = in[threadIdx.x];
    __syncwarp();   // orders the warp, not the block: the read below crosses warps
    out[threadIdx.x] = s[(threadIdx.x + 32) % 128];
}

int main(void) {
    float host[128], *in, *out;
    for (int i = 0; i < 128; i++) host[i] = (float)i;
    cudaMalloc(&in, sizeof host);
    cudaMalloc(&out, sizeof host);
    cudaMemcpy(in, host, sizeof host, cudaMemcpyHostToDevice);
    shared_race_kernel<<<1, 128>>>(out, in);
    cudaDeviceSynchronize();
    printf("not caught\n");
    return 0;
}
