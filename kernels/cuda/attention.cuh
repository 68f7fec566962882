// kernels/cuda/attention.cuh: the unfused attention kernels the GPU model shares with the labs
// (dev/cuda/attention_forward.cu and attention_backward.cu version 1): scores, masked softmax, softmax backward.
// One definition, included by the labs and by kernels/cuda/attention.cu.
#pragma once
#include "kernels/cuda/common.cuh"
#include <math.h>

// att[b,h,t,t2] = q[b,t,h]·k[b,t2,h] / sqrt(HS)   (raw scores; the softmax kernel masks)
__global__ void attention_scores_kernel(float *att, const float *qkv, int B, int T, int C, int NH) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t total = (size_t)B * NH * T * T;
    if (idx >= total) return;
    int t2 = idx % T, t = (idx / T) % T, h = (idx / ((size_t)T * T)) % NH, b = idx / ((size_t)NH * T * T);
    int HS = C / NH, C3 = 3 * C;
    const float *q = qkv + ((size_t)b * T + t) * C3 + h * HS;
    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + h * HS;
    float s = 0.0f;
    for (int i = 0; i < HS; i++) s += q[i] * k[i];
    att[idx] = s * (1.0f / sqrtf((float)HS));
}

// one warp per row (b,h,t): softmax over the unmasked keys, in place
__global__ void attention_softmax_kernel(float *att, const int *key_mask, int B, int T, int NH) {
    int row = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
    if (row >= B * NH * T) return;
    int b = row / (NH * T);
    float *a = att + (size_t)row * T;
    const int *m = key_mask + (size_t)b * T;
    float mx = -INFINITY, nkeys = 0.0f;
    for (int t2 = lane; t2 < T; t2 += 32)
        if (m[t2]) { mx = fmaxf(mx, a[t2]); nkeys += 1.0f; }
    mx = warp_reduce_max(mx);
    nkeys = warp_reduce_sum(nkeys);
    if (nkeys == 0.0f) {  // every key masked: uniform, as the reference
        for (int t2 = lane; t2 < T; t2 += 32) a[t2] = 1.0f / T;
        return;
    }
    float sum = 0.0f;
    for (int t2 = lane; t2 < T; t2 += 32) {
        float e = m[t2] ? expf(a[t2] - mx) : 0.0f;   // masked: exactly 0
        a[t2] = e;
        sum += e;
    }
    float inv = 1.0f / warp_reduce_sum(sum);
    for (int t2 = lane; t2 < T; t2 += 32) a[t2] *= inv;
}

// in place: ds = att ∘ (datt - Σ att·datt) · scale, one warp per row
__global__ void attention_softmax_backward_kernel(float *ds, const float *att, int rows, int T, float scale) {
    int row = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
    if (row >= rows) return;
    const float *a = att + (size_t)row * T;
    float *d = ds + (size_t)row * T;
    float dot = 0.0f;
    for (int t2 = lane; t2 < T; t2 += 32) dot += a[t2] * d[t2];
    dot = warp_reduce_sum(dot);
    for (int t2 = lane; t2 < T; t2 += 32) d[t2] = a[t2] * (d[t2] - dot) * scale;
}
