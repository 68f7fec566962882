// kernels/cuda/attention.cuh: the unfused attention kernels the GPU model shares with the labs
// (dev/cuda/attention_forward.cu and attention_backward.cu version 1): scores, masked softmax, P·V,
// and backward dP = dO·Vᵀ, softmax backward, dq/dk/dv. P·V, dP and dv take dropout on the
// probabilities (p, keep_scale = 1 / (1 - p), seed; the labs run p = 0, training runs p > 0) with
// kernels/dropout.h's mask of att index ((b·NH + h)·T + t)·T + t2, the CPU's.
// One definition, included by the labs and by kernels/cuda/attention.cu.
#pragma once
#include <math.h>

#include "kernels/cuda/common.cuh"
#include "kernels/dropout.h"

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

// out[b,t,h*HS+i] = Σ_t2 dropout(att)[b,h,t,t2] v[b,t2,h*HS+i]
__global__ void attention_av_kernel(float *out, const float *att, const float *qkv, float p, float keep_scale,
                                    uint64_t seed, int B, int T, int C, int NH) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * T * C) return;
    int c = idx % C, t = (idx / C) % T, b = idx / ((size_t)T * C);
    int HS = C / NH, h = c / HS, C3 = 3 * C;
    size_t row = (((size_t)b * NH + h) * T + t) * T;
    const float *a = att + row;
    const float *v = qkv + (size_t)b * T * C3 + 2 * C + c;
    float acc = 0.0f;
    if (p > 0.0f) {
        for (int t2 = 0; t2 < T; t2++) {
            float w = dropout_keep(seed, row + t2, (double)p) ? a[t2] * keep_scale : 0.0f;
            acc += w * v[(size_t)t2 * C3];
        }
    } else {
        for (int t2 = 0; t2 < T; t2++) acc += a[t2] * v[(size_t)t2 * C3];
    }
    out[idx] = acc;
}

// datt[b,h,t,t2] = (dout[b,t,h]·v[b,t2,h]) · keep / (1 - p)   (back through out = P'·V and the dropout)
__global__ void attention_datt_kernel(float *datt, const float *dout, const float *qkv, float p,
                                      float keep_scale, uint64_t seed, int B, int T, int C, int NH) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * NH * T * T) return;
    int t2 = idx % T, t = (idx / T) % T, h = (idx / ((size_t)T * T)) % NH, b = idx / ((size_t)NH * T * T);
    int HS = C / NH, C3 = 3 * C;
    const float *d = dout + ((size_t)b * T + t) * C + h * HS;
    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * HS;
    float s = 0.0f;
    for (int i = 0; i < HS; i++) s += d[i] * v[i];
    if (p > 0.0f) s = dropout_keep(seed, idx, (double)p) ? s * keep_scale : 0.0f;
    datt[idx] = s;
}

// every thread owns one element (b, t, c3) of dqkv:
//   q: dq[t,i] += Σ_t2 ds[t,t2] k[t2,i]    k: dk[t,i] += Σ_t1 ds[t1,t] q[t1,i]
//   v: dv[t,i] += Σ_t1 dropout(att)[t1,t] dout[t1,i]
__global__ void attention_dqkv_kernel(float *dqkv, const float *ds, const float *att, const float *dout,
                                      const float *qkv, float p, float keep_scale, uint64_t seed, int B, int T,
                                      int C, int NH) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    int C3 = 3 * C;
    if (idx >= (size_t)B * T * C3) return;
    int c3 = idx % C3, t = (idx / C3) % T, b = idx / ((size_t)T * C3);
    int part = c3 / C, c = c3 % C, HS = C / NH, h = c / HS;
    const size_t head = ((size_t)b * NH + h) * T * T;
    float acc = 0.0f;
    if (part == 0) {
        const float *row = ds + head + (size_t)t * T;
        for (int t2 = 0; t2 < T; t2++) acc += row[t2] * qkv[((size_t)b * T + t2) * C3 + C + c];
    } else if (part == 1) {
        for (int t1 = 0; t1 < T; t1++) acc += ds[head + (size_t)t1 * T + t] * qkv[((size_t)b * T + t1) * C3 + c];
    } else {
        for (int t1 = 0; t1 < T; t1++) {
            size_t ai = head + (size_t)t1 * T + t;
            float w = att[ai];
            if (p > 0.0f) w = dropout_keep(seed, ai, (double)p) ? w * keep_scale : 0.0f;
            acc += w * dout[((size_t)b * T + t1) * C + c];
        }
    }
    dqkv[idx] += acc;
}
