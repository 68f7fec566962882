// kernels/cuda/crossentropy.cu: softmax cross-entropy over the labels (IGNORE_INDEX rows skipped).
#include <math.h>

#include "kernels/cuda/kernels_cuda.h"

#define MC_IGNORE_INDEX -100
// chosen from dev/cuda/crossentropy.cu version 2 (one block, warp per row, fixed-order mean), split
// at the dlogits line: the forward writes probs, losses and stats; the backward (version 1's
// backward kernel) reads them, because model_cuda_backward runs after the forward like the CPU model.
__global__ void crossentropy_forward_kernel(float *probs, float *losses, float *stats, const float *logits,
                                            const int *labels, int B, int NL) {
    __shared__ float warp_loss[32];
    int nwarps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float count = 0.0f;
    for (int b = threadIdx.x; b < B; b += blockDim.x) count += labels[b] != MC_IGNORE_INDEX ? 1.0f : 0.0f;
    float n = block_reduce_sum(count);
    float my_loss = 0.0f;
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
        for (int c = lane; c < NL; c += 32) p[c] = expf(z[c] - m) / s;
        float loss = y != MC_IGNORE_INDEX ? logf(s) + m - z[y] : 0.0f;
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
__global__ void crossentropy_backward_kernel(float *dlogits, const float *probs, const int *labels,
                                             const float *stats, int B, int NL) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * NL) return;
    int b = i / NL, c = i % NL;
    float n = stats[1];
    if (n == 0.0f || labels[b] == MC_IGNORE_INDEX) return;
    float indicator = c == labels[b] ? 1.0f : 0.0f;
    dlogits[i] += (probs[i] - indicator) * (1.0f / n);
}
void cu_crossentropy_forward(float *probs, float *losses, float *stats, const float *logits, const int *labels, int B,
                             int NL) {
    crossentropy_forward_kernel<<<1, 256>>>(probs, losses, stats, logits, labels, B, NL);
    cudaCheckLaunch();
}
void cu_crossentropy_backward(float *dlogits, const float *probs, const int *labels, const float *stats, int B,
                              int NL) {
    crossentropy_backward_kernel<<<ceil_div(B * NL, 256), 256>>>(dlogits, probs, labels, stats, B, NL);
    cudaCheckLaunch();
}
