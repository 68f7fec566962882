// kernels/cuda/crossentropy.cuh: the cross-entropy kernels the GPU model runs: dev/cuda/crossentropy.cu
// version 2's fused kernel (run with dlogits NULL in the forward) and version 1's backward kernel.
// One definition, included by the labs and by kernels/cuda/crossentropy.cu.
#pragma once
#include "kernels/cuda/common.cuh"

#define IGNORE_INDEX -100

// -> dlogits (B,NL) +=
__global__ void crossentropy_backward_kernel1(float *dlogits, const float *probs, const int *labels,
                                              const float *stats, int B, int NL) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * NL) return;
    int b = i / NL, c = i % NL;
    float n = stats[1];
    if (n == 0.0f || labels[b] == IGNORE_INDEX) return;
    float indicator = c == labels[b] ? 1.0f : 0.0f;
    dlogits[i] += (probs[i] - indicator) * (1.0f / n);
}

// everything in one block; stats as in version 1
// dlogits may be NULL: the forward alone (probs, losses, stats), as the GPU model runs it
__global__ void crossentropy_fused_kernel2(float *probs, float *losses, float *dlogits, float *stats,
                                           const float *logits, const int *labels, int B, int NL) {
    __shared__ float warp_loss[32];
    int nwarps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float count = 0.0f;
    for (int b = threadIdx.x; b < B; b += blockDim.x) count += labels[b] != IGNORE_INDEX ? 1.0f : 0.0f;
    float n = block_reduce_sum(count);
    float inv_n = n > 0 ? 1.0f / n : 0.0f;
    float my_loss = 0.0f;   // lane 0's running sum over this warp's rows, in row order
    for (int b = warp; b < B; b += nwarps) {
        const float *z = logits + (size_t)b * NL;
        float *p = probs + (size_t)b * NL;
        int y = labels[b];
        float m = -INFINITY;
        for (int c = lane; c < NL; c += 32) m = fmaxf(m, z[c]);
        m = warp_reduce_max(m);
        float s = 0.0f;
        for (int c = lane; c < NL; c += 32) s += expf(z[c] - m);
        s = warp_reduce_sum(s);
        for (int c = lane; c < NL; c += 32) {
            float pc = expf(z[c] - m) / s;
            p[c] = pc;
            if (dlogits && y != IGNORE_INDEX) dlogits[(size_t)b * NL + c] += (pc - (c == y ? 1.0f : 0.0f)) * inv_n;
        }
        float loss = y != IGNORE_INDEX ? logf(s) + m - z[y] : 0.0f;
        if (lane == 0) { losses[b] = loss; my_loss += loss; }
    }
    if (lane == 0) warp_loss[warp] = my_loss;
    __syncthreads();
    if (threadIdx.x == 0) {
        float total = 0.0f;
        for (int w = 0; w < nwarps; w++) total += warp_loss[w];
        stats[0] = n > 0 ? total / n : 0.0f;
        stats[1] = n;
    }
}
