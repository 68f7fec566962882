// kernels/cuda/kernels_cuda.h: host launchers of the GPU model's CUDA ops, one file per op family
// (kernels/cuda/<family>.cu; the kernels they launch carry the labs' names, and where a lab version is
// the production one it is defined once, in kernels/cuda/<family>.cuh, and included by both).
// Same conventions as kernels/kernels.h: outputs first, backward ADDS into gradients, dropout masks
// regenerated from (seed, element index) by kernels/dropout.h. All pointers are device pointers,
// all launches go to stream 0 and return without synchronising.
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/matmul_mma.cuh"   // bf16, the GEMM building blocks

// the number of SMs of the current device (queried once per file)
static inline int num_sms(void) {
    static int sms = 0;
    if (sms == 0) {
        int dev = 0;
        cudaCheck(cudaGetDevice(&dev));
        cudaCheck(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
        if (sms <= 0) sms = 1;
    }
    return sms;
}
static inline bool aligned_f4(const void *p) { return ((uintptr_t)p & 15) == 0; }
// grid for grid-stride loops: enough blocks for the work, at most 8 per SM (the labs' choice)
static inline int grid_stride(size_t work, int block) {
    size_t g = ceil_div(work, (size_t)block);
    size_t cap = (size_t)num_sms() * 8;
    return (int)(g < 1 ? 1 : g > cap ? cap : g);
}

// ---- the memory-bound ops: embedding.cu, layernorm.cu, gelu.cu, dropout.cu, crossentropy.cu, global_norm.cu, adamw.cu
void cu_embedding_forward(float *out, const int *ids, const int *pos, const int *type_ids, const float *wte,
                          const float *wpe, const float *wtt, int BT, int C);
// one table's deterministic scatter-add from a host-built row list (rows, offsets, tokens on the device)
void cu_embedding_backward_rows(float *dtable, const float *dout, const int *rows, const int *offsets,
                                const int *tokens, int nrows, int C);
void cu_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                          const float *bias, int N, int C, float eps);
// resid = inp1 + inp2, out = LN(resid)
void cu_residual_layernorm_forward(float *resid, float *out, float *mean, float *rstd, const float *inp1,
                                   const float *inp2, const float *weight, const float *bias, int N, int C, float eps);
// dinp += dx (and dinp2 += dx when not NULL: the fused residual), dweight/dbias += (scratch: >= 2·SMs·2C floats)
void cu_layernorm_backward(float *dinp, float *dinp2, float *dweight, float *dbias, float *scratch, const float *dout,
                           const float *inp, const float *weight, const float *mean, const float *rstd, int N, int C);
void cu_gelu_backward(float *dinp, const float *inp, const float *dout, int N);
void cu_relu_forward(float *out, const float *inp, int N);
void cu_relu_backward(float *dinp, const float *out, const float *dout, int N);
void cu_tanh_forward(float *out, const float *inp, int N);
void cu_tanh_backward(float *dinp, const float *out, const float *dout, int N);
void cu_dropout_forward(float *out, const float *inp, float p, uint64_t seed, int N);
void cu_dropout_backward(float *dinp, const float *dout, float p, uint64_t seed, int N);
// out (B,C) = inp[b, 0, :] of inp (B,T,C); backward dinp[b,0,:] += dout[b,:]
void cu_gather_first(float *out, const float *inp, int B, int T, int C);
void cu_scatter_first_backward(float *dinp, const float *dout, int B, int T, int C);
// probs, losses (B); stats[0] = mean loss over labelled rows, stats[1] = their count (as float)
void cu_crossentropy_forward(float *probs, float *losses, float *stats, const float *logits, const int *labels, int B,
                             int NL);
void cu_crossentropy_backward(float *dlogits, const float *probs, const int *labels, const float *stats, int B, int NL);
// result[0] = ||g||, result[1] = clip coef (1 when max_norm <= 0 or no clipping needed)
void cu_global_norm(float *result, float *partials, unsigned int *ticket, const float *g, size_t n, float max_norm);
int cu_global_norm_max_blocks(void);
// AdamW's per-step scalars: model/optimizer.c's double expressions (model_adamw_update), rounded to
// float the same way; t counts this step
typedef struct {
    float decay, one_minus_beta1, beta2, one_minus_beta2, step_size, bc2_sqrt, eps;
} AdamWScalars;
static inline AdamWScalars adamw_scalars(double lr, double beta1, double beta2, double eps, double weight_decay,
                                         int t) {
    AdamWScalars s;
    s.decay = (float)(1.0 - lr * weight_decay);
    s.one_minus_beta1 = (float)(1.0 - beta1);
    s.beta2 = (float)beta2;
    s.one_minus_beta2 = (float)(1.0 - beta2);
    s.step_size = (float)(lr / (1.0 - pow(beta1, t)));
    s.bc2_sqrt = (float)sqrt(1.0 - pow(beta2, t));
    s.eps = (float)eps;
    return s;
}
// grad_scale: device pointer to the factor applied to every gradient (the clip coef), or NULL for 1
void cu_adamw(float *params, bf16 *params_bf16, const float *grads, float *m, float *v, size_t n, AdamWScalars s,
              const float *grad_scale);
void cu_to_bf16(bf16 *out, const float *inp, size_t n);

// ---- matmul.cu: linear layers (PyTorch layout, weight (OC, C))
// fp32: out (N,OC) = inp (N,C)·Wᵀ + bias; gelu_pre != NULL: out = gelu(x·Wᵀ + b) and gelu_pre = x·Wᵀ + b
void cu_linear_forward(float *out, float *gelu_pre, const float *inp, const float *weight, const float *bias, int N,
                       int C, int OC);
// bf16 operands (inp16, weight16), fp32 accumulation and output
void cu_linear_forward_bf16(float *out, float *gelu_pre, const bf16 *inp16, const bf16 *weight16, const float *bias,
                            int N, int C, int OC);
// the same with a bf16 output (no GELU): the qkv projection, whose only reader is the bf16 attention
void cu_linear_forward_bf16_out16(bf16 *out16, const bf16 *inp16, const bf16 *weight16, const float *bias, int N,
                                  int C, int OC);
// dinp += dout·W, dweight += doutᵀ·inp, dbias += Σ dout (workspace: split-K slabs, workspace_floats of them)
void cu_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, int N, int C, int OC, float *workspace, size_t workspace_floats);
// the same with bf16 operands: dout16 (the bf16 copy of dout), inp16, weight16; dbias from the fp32 dout
void cu_linear_backward_bf16(float *dinp, float *dweight, float *dbias, const float *dout, const bf16 *dout16,
                             const bf16 *inp16, const bf16 *weight16, int N, int C, int OC, float *workspace,
                             size_t workspace_floats);

// ---- attention.cu: attention with the key padding mask and dropout on the probabilities: fp32 unfused
// qkv (B,T,3C), key_mask (B,T) -> out (B,T,C), att (B,NH,T,T) softmax before dropout (as kernels/attention.c)
void cu_attention_forward(float *out, float *att, const float *qkv, const int *key_mask, float dropout_p,
                          uint64_t seed, int B, int T, int C, int NH);
// dqkv += ; scratch: B·NH·T·T floats
void cu_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                           float dropout_p, uint64_t seed, int B, int T, int C, int NH);
// can the bf16 attention run this shape? (head size C/NH in {8, 16, 32, 64}, C % 8 == 0)
int cu_attention_bf16_supported(int C, int NH);
// fused flash attention on bf16 tensor cores (fp32 softmax statistics and accumulation), same semantics:
// qkv16 (B,T,3C), key_mask (B,T) -> out16 (B,T,C) bf16, lse (B,NH,T) the logsumexp of each query's
// scaled scores (saved for backward instead of att). Head size 8, 16, 32 or 64, C % 8 == 0.
void cu_attention_forward_bf16(bf16 *out16, float *lse, const bf16 *qkv16, const int *key_mask, float dropout_p,
                               uint64_t seed, int B, int T, int C, int NH);
// dqkv += from the bf16 dO, qkv and O and the forward's lse; D: B·NH·T floats of scratch
void cu_attention_backward_bf16(float *dqkv, float *D, const bf16 *dout16, const bf16 *qkv16, const bf16 *out16,
                                const float *lse, const int *key_mask, float dropout_p, uint64_t seed, int B, int T,
                                int C, int NH);
