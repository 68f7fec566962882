// kernels/cuda/attention.cu: multi-head self-attention with the key padding mask and dropout on the
// probabilities, semantics of kernels/attention.c (att saved before dropout, masked keys exactly 0,
// a row with every key masked uniform 1/T, inverted dropout with keep(seed, index into att)).
//
// dev/cuda/attention_forward.cu and attention_backward.cu version 1 (unfused fp32: scores,
// warp-per-row masked softmax, P·V; backward dP = dO·Vᵀ, softmax backward, one thread per dqkv
// element; the kernels are kernels/cuda/attention.cuh, shared with the labs), with dropout: the fused flash versions 2 and 3 have no dropout yet, and training
// runs attention dropout (0.1 in every fixture and base model). The dropout index of probability
// (b, h, t, t2) is ((b·NH + h)·T + t)·T + t2, exactly the CPU's, so both draw the same mask.
// Used by both precisions for now (doc/cuda.md: the bf16 flash path with dropout is the next step).
#include <math.h>

#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/attention.cuh"

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
    attention_av_kernel<<<grid_out, 256>>>(out, att, qkv, dropout_p, ks, seed, B, T, C, NH);
    cudaCheckLaunch();
}

void cu_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                           float dropout_p, uint64_t seed, int B, int T, int C, int NH) {
    size_t n_att = (size_t)B * NH * T * T;
    float ks = keep_scale_of(dropout_p);
    unsigned grid_att = (unsigned)ceil_div(n_att, (size_t)256);
    attention_datt_kernel<<<grid_att, 256>>>(scratch, dout, qkv, dropout_p, ks, seed, B, T, C, NH);
    cudaCheckLaunch();
    int rows = B * NH * T;
    attention_softmax_backward_kernel<<<(unsigned)ceil_div((size_t)rows * 32, (size_t)256), 256>>>(
        scratch, att, rows, T, 1.0f / sqrtf((float)(C / NH)));
    cudaCheckLaunch();
    unsigned grid_dqkv = (unsigned)ceil_div((size_t)B * T * 3 * C, (size_t)256);
    attention_dqkv_kernel<<<grid_dqkv, 256>>>(dqkv, scratch, att, dout, qkv, dropout_p, ks, seed, B, T, C, NH);
    cudaCheckLaunch();
}
