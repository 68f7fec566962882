// kernels/cuda/attention.cu: multi-head self-attention with the key padding mask and dropout on the
// probabilities, semantics of kernels/attention.c (att saved before dropout, masked keys exactly 0,
// a row with every key masked uniform 1/T, inverted dropout with keep(seed, index into att)).
//
// Chosen from dev/cuda/attention_forward.cu and attention_backward.cu version 1 (unfused fp32: scores,
// warp-per-row masked softmax, P·V; backward dP = dO·Vᵀ, softmax backward, one thread per dqkv
// element), with dropout added: the fused flash versions 2 and 3 have no dropout yet, and training
// runs attention dropout (0.1 in every fixture and base model). The dropout index of probability
// (b, h, t, t2) is ((b·NH + h)·T + t)·T + t2, exactly the CPU's, so both draw the same mask.
// Used by both precisions for now (doc/cuda.md: the bf16 flash path with dropout is the next step).
#include <math.h>

#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/dropout.h"

// out[b,t,h*HS+i] = Σ_t2 dropout(att)[b,h,t,t2] v[b,t2,h*HS+i]
__global__ void attention_av_dropout_kernel(float *out, const float *att, const float *qkv, float p, float keep_scale,
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

static float keep_scale_of(float p) { return p > 0 ? (float)(1.0 / (1.0 - (double)p)) : 1.0f; }

void cu_attention_forward(float *out, float *att, const float *qkv, const int *key_mask, float dropout_p,
                          uint64_t seed, int B, int T, int C, int NH) {
    size_t n_att = (size_t)B * NH * T * T;
    attention_scores_kernel<<<(unsigned)ceil_div(n_att, (size_t)256), 256>>>(att, qkv, B, T, C, NH);
    cudaCheckLaunch();
    attention_softmax_kernel<<<(unsigned)ceil_div((size_t)B * NH * T * 32, (size_t)256), 256>>>(att, key_mask, B, T, NH);
    cudaCheckLaunch();
    unsigned grid_out = (unsigned)ceil_div((size_t)B * T * C, (size_t)256);
    float ks = keep_scale_of(dropout_p);
    attention_av_dropout_kernel<<<grid_out, 256>>>(out, att, qkv, dropout_p, ks, seed, B, T, C, NH);
    cudaCheckLaunch();
}

// datt[b,h,t,t2] = (dout[b,t,h]·v[b,t2,h]) · keep / (1 - p)   (back through out = P'·V and the dropout)
__global__ void attention_datt_dropout_kernel(float *datt, const float *dout, const float *qkv, float p,
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
__global__ void attention_dqkv_dropout_kernel(float *dqkv, const float *ds, const float *att, const float *dout,
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

void cu_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                           float dropout_p, uint64_t seed, int B, int T, int C, int NH) {
    size_t n_att = (size_t)B * NH * T * T;
    float ks = keep_scale_of(dropout_p);
    attention_datt_dropout_kernel<<<(unsigned)ceil_div(n_att, (size_t)256), 256>>>(scratch, dout, qkv, dropout_p, ks, seed,
                                                                                   B, T, C, NH);
    cudaCheckLaunch();
    int rows = B * NH * T;
    attention_softmax_backward_kernel<<<(unsigned)ceil_div((size_t)rows * 32, (size_t)256), 256>>>(
        scratch, att, rows, T, 1.0f / sqrtf((float)(C / NH)));
    cudaCheckLaunch();
    unsigned grid_dqkv = (unsigned)ceil_div((size_t)B * T * 3 * C, (size_t)256);
    attention_dqkv_dropout_kernel<<<grid_dqkv, 256>>>(dqkv, scratch, att, dout, qkv, dropout_p, ks, seed, B, T, C, NH);
    cudaCheckLaunch();
}
