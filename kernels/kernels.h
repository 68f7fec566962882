// kernels.h: the CPU reference ops, forward and backward, one file per op or family.
//
// Conventions (every op in kernels/ follows them):
// - Tensors are row-major `real` arrays; shapes are in the comments. Letters: B batch, T sequence,
//   C channels, OC output channels, NH heads, HS head size (C / NH), V vocab, P positions, NL labels.
// - Arguments: outputs first, then inputs, then weights, then sizes.
// - Forward saves what backward needs (named in each comment); backward recomputes nothing else.
// - Every backward ADDS (+=) into the gradients it produces, parameters and activations alike,
//   so a tensor used twice (the residual stream, one input feeding Q, K and V) just receives both
//   contributions. The caller clears all gradients once per step (model_zero_grad).
// - Dropout masks are not stored: they are regenerated from (seed, element index) by the
//   counter-based generator in dropout.h, in forward and again in backward.
#ifndef KERNELS_H
#define KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "kernels/real.h"

// Elementwise kernels use threads only above this many elements: below it a fork/join (and, on a
// busy machine, waiting for the second thread to be scheduled) costs more than the loop.
#define PARALLEL_MIN (1 << 18)

// ---- embedding.c: token (+ token type) + position embedding, gather / scatter-add
// out[b,t,:] = (wte[ids[b,t]] + wtt[type_ids[b,t]]) + wpe[pos[b,t]]   (wtt/type_ids may be NULL)
// ids, pos, type_ids (B,T); wte (V,C), wpe (P,C), wtt (NT,C) -> out (B,T,C)
void embedding_forward(real *out, const int *ids, const int *pos, const int *type_ids,
                       const real *wte, const real *wpe, const real *wtt, int B, int T, int C);
// dwte[ids] += dout except rows whose id == word_padding_idx (-1: none); same for dwpe with
// pos_padding_idx (RoBERTa); dwtt[type_ids] += dout. dwtt may be NULL.
void embedding_backward(real *dwte, real *dwpe, real *dwtt, const real *dout,
                        const int *ids, const int *pos, const int *type_ids,
                        int word_padding_idx, int pos_padding_idx, int B, int T, int C);

// ---- layernorm.c: y = (x - mean) * rstd * weight + bias over the last dimension
// inp (N,C), weight (C), bias (C) -> out (N,C); saves mean (N), rstd (N)
void layernorm_forward(real *out, real *mean, real *rstd, const real *inp,
                       const real *weight, const real *bias, int N, int C, real eps);
void layernorm_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                        const real *weight, const real *mean, const real *rstd, int N, int C);

// ---- matmul.c: C = A·B, the GEMM under linear and attention (packed, cache-blocked, AVX-512
// micro-kernel where the compiler targets it; the double build uses the reference loop).
// C (M,N) with row stride ldc; A(i,k) = A[i*rsa + k*csa] (M,K); B(k,j) = B[k*rsb + j*csb] (K,N):
// a transposed operand is just a stride choice.  C = (accumulate ? C : 0) + A·B (+ bias[j] if bias).
// matmul splits the work over the OpenMP threads (call it outside parallel regions; it runs on one
// thread inside one); matmul_serial is one thread (per attention head); matmul_reference the oracle.
// Every element of C is summed in the same order whatever the thread count (deterministic).
void matmul(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const real *B,
            ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate);
void matmul_serial(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const real *B,
                   ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate);
void matmul_reference(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const real *B,
                      ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate);
// A right operand packed once for many products with the same B (inference: the weights, which do
// not change between batches). The pack is a copy: it does not follow later changes of B. In the
// double build nothing is packed (data = NULL) and matmul_packed is matmul.
typedef enum {
    GEMM_FP32 = 0,         // fp32 operands, the 12 x 32 FMA micro-kernel (the default and the reference)
    GEMM_BF16_AVX512 = 1,  // bf16 operands, fp32 sums: vdpbf16ps (AVX-512 BF16), 12 x 32 (matmul_bf16.c)
    GEMM_BF16_AMX = 2,     // bf16 operands, fp32 sums: AMX-BF16 tiles (_tile_dpbf16ps), 32 x 32 (matmul_bf16.c)
} GemmPath;
typedef struct {
    real *data;               // B in the GEMM's packed layout (owned; matmul_pack_free)
    const real *B;            // the operand it was made from, with its strides and sizes
    ptrdiff_t rsb, csb;
    int N, K;
    GemmPath path;            // the layout it was packed for: GEMM_FP32 uses data, the bf16 paths pairs
    uint32_t *pairs;          // bf16 paths: B as bf16 k-pairs (matmul_bf16.c; owned; matmul_pack_free)
} PackedB;
int matmul_pack(PackedB *p, const real *B, ptrdiff_t rsb, ptrdiff_t csb, int N, int K);  // -1: out of memory
void matmul_packed(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const PackedB *p,
                   const real *bias, int M, int accumulate);
void matmul_pack_free(PackedB *p);

// ---- matmul_bf16.c: the same products with bf16 operands and fp32 sums (--precision bf16 on the CPU).
// matmul, matmul_serial, matmul_pack and matmul_packed run the path chosen by gemm_set_path (process-
// wide, set once at start-up: GEMM_FP32 unless a program asks for bf16); A and B are rounded to bf16
// (round to nearest even, as torch's .to(torch.bfloat16)) while they are packed; C, bias and every sum
// stay fp32. Results: the fp32 product of the rounded operands, summed in another order.
const char *gemm_path_name(GemmPath path);       // "fp32", "avx512-bf16 (vdpbf16ps)", "amx-bf16 (tiles)"
// 1 if this build and CPU (CPUID, OS state, and for AMX the kernel's permission, requested here) run
// the path, else 0 with one line in why
int gemm_path_supported(GemmPath path, char *why, size_t whylen);
GemmPath gemm_best_bf16_path(void);              // AMX, else AVX-512 BF16, else GEMM_FP32 (neither)
int gemm_set_path(GemmPath path, char *err, size_t errlen);   // 0, or -1 with one line in err
GemmPath gemm_get_path(void);
// one product on a given path (the tests call each path; matmul* call these when a bf16 path is set);
// threaded: split over the OpenMP threads like matmul, else on the calling thread like matmul_serial
void matmul_bf16(GemmPath path, int threaded, real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa,
                 const real *B, ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate);
int matmul_bf16_pack(GemmPath path, PackedB *p, const real *B, ptrdiff_t rsb, ptrdiff_t csb, int N, int K);
void matmul_bf16_packed(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const PackedB *p,
                        const real *bias, int M, int accumulate);
// fp32 -> bf16 bits, round to nearest even; every NaN -> 0xFFFF (what torch's CPU .to(torch.bfloat16)
// writes; c10::BFloat16's scalar constructor writes 0x7FC0), infinities kept, denormals kept (no flush)
uint16_t bf16_from_float(float x);
float bf16_to_float(uint16_t h);                 // exact: the bits shifted up
// dst[i] = bf16_from_float(src[i]), 16 lanes at a time where the CPU has AVX-512 (the packs' conversion)
void bf16_from_float_array(uint16_t *dst, const float *src, size_t n);
// dst[i] = bf16_to_float(bf16_from_float(src[i])) (dst may be src): what the bf16 GEMMs multiply
void bf16_round_array(float *dst, const float *src, size_t n);

// ---- linear.c: out = inp · weightᵀ + bias (PyTorch layout: weight (OC,C))
// inp (N,C), weight (OC,C), bias (OC) or NULL -> out (N,OC)
void linear_forward(real *out, const real *inp, const real *weight, const real *bias,
                    int N, int C, int OC);
// The same product with the weight packed once by linear_pack (inference): out rows have stride ldo.
int linear_pack(PackedB *packed, const real *weight, int C, int OC);   // -1: out of memory
void linear_forward_packed(real *out, int ldo, const real *inp, const PackedB *weight, const real *bias, int N);
// dinp += dout · weight;  dweight += doutᵀ · inp;  dbias += Σ_rows dout   (dbias may be NULL)
void linear_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                     const real *inp, const real *weight, int N, int C, int OC);
// the plain loops the fast versions above are tested against (test/test_kernels_fast.c)
void linear_forward_reference(real *out, const real *inp, const real *weight, const real *bias,
                              int N, int C, int OC);
void linear_backward_reference(real *dinp, real *dweight, real *dbias, const real *dout,
                               const real *inp, const real *weight, int N, int C, int OC);

// ---- attention.c: multi-head self-attention with a key padding mask
// qkv (B,T,3C) = [Q | K | V] per token; key_mask (B,T) 1 = real token, 0 = padding
// -> out (B,T,C) heads concatenated; saves att (B,NH,T,T) = softmax probabilities before dropout.
// Masked keys get probability exactly 0. dropout_p > 0 applies inverted dropout to the
// probabilities with masks drawn from dropout_seed.
// att may be NULL when no backward follows (inference): the probabilities then live in scratch.
void attention_forward(real *out, real *att, const real *qkv, const int *key_mask,
                       real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH);
// The first query only (the last layer of a classifier, whose head reads token 0): qkv (B,T,3C)
// (Q is read at t = 0 only), key_mask (B,T) -> out (B,C) = attention_forward's out[:,0,:], computed
// the same way (same sums in the same order); saves att (B,NH,1,T) (or NULL: inference). Backward:
// dout (B,C) -> dQ into row t = 0, dK and dV into every row of dqkv (B,T,3C).
void attention_forward_first_query(real *out, real *att, const real *qkv, const int *key_mask,
                                   real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH);
void attention_backward_first_query(real *dqkv, const real *dout, const real *qkv, const real *att,
                                    real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH);
void attention_backward(real *dqkv, const real *dout, const real *qkv, const real *att,
                        real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH);
// one query row at a time, the plain loops: the oracle of the two above
void attention_forward_reference(real *out, real *att, const real *qkv, const int *key_mask,
                                 real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH);
void attention_backward_reference(real *dqkv, const real *dout, const real *qkv, const real *att,
                                  real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH);

// ---- activations.c: elementwise nonlinearities (N elements)
void gelu_forward(real *out, const real *inp, int N);       // exact erf form; saves inp
void gelu_backward(real *dinp, const real *inp, const real *dout, int N);
void gelu_forward_reference(real *out, const real *inp, int N);   // libm erff: the oracle
void gelu_backward_reference(real *dinp, const real *inp, const real *dout, int N);
void relu_forward(real *out, const real *inp, int N);       // saves out
void relu_backward(real *dinp, const real *out, const real *dout, int N);
void tanh_forward(real *out, const real *inp, int N);       // saves out
void tanh_backward(real *dinp, const real *out, const real *dout, int N);

// ---- residual.c: out = inp1 + inp2
void residual_forward(real *out, const real *inp1, const real *inp2, int N);
void residual_backward(real *dinp1, real *dinp2, const real *dout, int N);

// ---- first_token.c: out (B,C) = inp[:, 0, :] of inp (B,T,C); backward dinp[:, 0, :] += dout
void first_token_forward(real *out, const real *inp, int B, int T, int C);
void first_token_backward(real *dinp, const real *dout, int B, int T, int C);

// ---- dropout.c: inverted dropout, out = inp * keep / (1 - p); identity when p == 0
void dropout_forward(real *out, const real *inp, real p, uint64_t seed, int N);
void dropout_backward(real *dinp, const real *dout, real p, uint64_t seed, int N);
// The same for `rows` rows of C elements that are every (index_stride / C)-th row of a larger tensor
// (the token-0 rows of a (B,T,C) tensor: index_stride = T·C): row r draws the masks of indices
// r·index_stride + c, exactly those the larger tensor's dropout draws there.
void dropout_forward_rows(real *out, const real *inp, real p, uint64_t seed, int rows, int C, size_t index_stride);
void dropout_backward_rows(real *dinp, const real *dout, real p, uint64_t seed, int rows, int C, size_t index_stride);

// ---- crossentropy.c: softmax + cross-entropy, mean over rows whose label != -100
// logits (B,NL), labels (B) -> probs (B,NL), losses (B); returns the mean loss
real crossentropy_forward(real *probs, real *losses, const real *logits, const int *labels,
                          int B, int NL);
// dlogits += (probs - onehot(label)) / B'   (rows with label -100 get nothing)
void crossentropy_backward(real *dlogits, const real *probs, const int *labels, int B, int NL);

#endif
