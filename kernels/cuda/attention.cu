// kernels/cuda/attention.cu: multi-head self-attention with the key padding mask and dropout on the
// probabilities, semantics of kernels/attention.c (att saved before dropout, masked keys exactly 0,
// a row with every key masked uniform 1/T, inverted dropout with keep(seed, index into att)).
//
// fp32: dev/cuda/attention_forward.cu and attention_backward.cu version 1 (unfused: scores,
// warp-per-row masked softmax, P·V; backward dP = dO·Vᵀ, softmax backward, one thread per dqkv
// element; the kernels are kernels/cuda/attention.cuh, shared with the labs), with dropout. The
// dropout index of probability (b, h, t, t2) is ((b·NH + h)·T + t)·T + t2, exactly the CPU's, so both
// draw the same mask.
// The fp32 training path's attention (it saves att, as the CPU does, and matches it to fp32 rounding).
//
// The bf16 path's attention is the fused FlashAttention-2 pair on tensor cores, lab version 3 of both
// (kernels/cuda/attention_flash.cuh): no T x T tensor, the logsumexp (B,NH,T) saved instead of att,
// the dropout masks drawn inside the kernels with the same hash and indices as the CPU.
#include <math.h>

#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_flash.cuh"

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

int cu_attention_bf16_supported(int C, int NH) {
    return NH > 0 && C % NH == 0 && C % 8 == 0 && flash_mma::flash_head_size_supported(C / NH);
}

void cu_attention_forward_bf16(bf16 *out16, float *lse, const bf16 *qkv16, const int *key_mask, float dropout_p,
                               uint64_t seed, int B, int T, int C, int NH) {
    flash_forward_mma<bf16>(out16, lse, qkv16, key_mask, flash_dropout(dropout_p, seed), B, T, C, NH);
    cudaCheckLaunch();
}

void cu_attention_backward_bf16(float *dqkv, float *D, const bf16 *dout16, const bf16 *qkv16, const bf16 *out16,
                                const float *lse, const int *key_mask, float dropout_p, uint64_t seed, int B, int T,
                                int C, int NH) {
    flash_backward_mma(dqkv, D, dout16, qkv16, out16, lse, key_mask, flash_dropout(dropout_p, seed), B, T, C, NH);
    cudaCheckLaunch();
}
