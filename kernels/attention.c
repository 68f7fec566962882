// attention.c: multi-head self-attention with a key padding mask (encoder, no causal mask).
//
// For batch row b, head h (features h*HS .. h*HS+HS-1 of each of Q, K, V), query position t:
//   s[t2]   = (q[t] · k[t2]) / sqrt(HS)           for keys t2 with key_mask[b,t2] = 1
//   att[t2] = softmax over the unmasked keys;  att[t2] = 0 exactly for masked keys
//   att'    = dropout(att)  (inverted dropout on the probabilities, p = dropout_p)
//   out[t]  = Σ_t2 att'[t2] * v[t2]
// This equals HF's additive −FLT_MAX mask: exp(−FLT_MAX − max) underflows to exactly 0. If a whole
// row is masked (never produced by a tokenizer) HF averages uniformly over all T keys; so do we.
// Saved for backward: att (pre-dropout probabilities); the dropout mask is regenerated from its seed.
//
// Backward for one (b, h, t), O(T·HS) work per query, O(T²·HS) per head — no T³ term:
//   datt'[t2] = dout[t] · v[t2]                 dv[t2] += att'[t2] * dout[t]
//   datt[t2]  = datt'[t2] * keep[t2] / (1 - p)
//   ds[t2]    = att[t2] * (datt[t2] - Σ_j att[j] * datt[j])          (softmax backward)
//   dq[t]    += Σ_t2 ds[t2] * k[t2] / sqrt(HS)   dk[t2] += ds[t2] * q[t] / sqrt(HS)
// Masked keys have att = 0, hence ds = 0 and dk = dv = 0 there.
//
// Two implementations. attention_*_reference: the loops above, one query row at a time. attention_*:
// the same math per (b, h) as whole-matrix products on the blocked GEMM (matmul_serial, one thread
// per head; heads split statically over threads, so results are deterministic):
//   forward:  S = Q·Kᵀ (T,T) into att, row softmax (vectorised exp), P' = dropout(P), O = P'·V
//   backward: dP' = dO·Vᵀ, dV += P'ᵀ·dO, dS = P ∘ (dP - rowsum(P ∘ dP)) · scale, dQ += dS·K, dK += dSᵀ·Q
// Q, K, V and their gradients are read and written in place in (B,T,3C) with row stride 3C. The
// fast path is tested against the reference (test/test_kernels_fast.c) and, through the double build,
// against finite differences (test/gradcheck_ops.c).
#include "kernels/kernels.h"
#include "kernels/dropout.h"
#include "kernels/vmath.h"

#include <stdlib.h>

void attention_forward_reference(real *out, real *att, const real *qkv, const int *key_mask,
                       real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH) {
    int HS = C / NH;
    int C3 = 3 * C;
    real scale = (real)(1.0 / sqrt((double)HS));
    real keep_scale = dropout_p > 0 ? (real)(1.0 / (1.0 - (double)dropout_p)) : 1;

    #pragma omp parallel for collapse(3)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            for (int t = 0; t < T; t++) {
                const real *q = qkv + ((size_t)b * T + t) * C3 + h * HS;
                size_t row = (((size_t)b * NH + h) * T + t) * T;  // index of att[b,h,t,0]
                real *a = att + row;
                const int *m = key_mask + (size_t)b * T;

                // scores and their maximum over unmasked keys
                real maxval = -INFINITY;
                int n_keys = 0;
                for (int t2 = 0; t2 < T; t2++) {
                    if (!m[t2]) { a[t2] = 0; continue; }
                    const real *k = qkv + ((size_t)b * T + t2) * C3 + C + h * HS;
                    real s = 0;
                    for (int i = 0; i < HS; i++) s += q[i] * k[i];
                    s *= scale;
                    a[t2] = s;
                    if (s > maxval) maxval = s;
                    n_keys++;
                }
                // softmax over unmasked keys (exp(s - max) / sum); uniform if every key is masked
                if (n_keys == 0) {
                    for (int t2 = 0; t2 < T; t2++) a[t2] = (real)1 / T;
                } else {
                    real sum = 0;
                    for (int t2 = 0; t2 < T; t2++) {
                        if (!m[t2]) continue;
                        a[t2] = real_exp(a[t2] - maxval);
                        sum += a[t2];
                    }
                    real inv = 1 / sum;
                    for (int t2 = 0; t2 < T; t2++) a[t2] *= inv;
                }
                // out[t] = Σ_t2 att'[t2] v[t2]
                real *o = out + ((size_t)b * T + t) * C + h * HS;
                for (int i = 0; i < HS; i++) o[i] = 0;
                for (int t2 = 0; t2 < T; t2++) {
                    real w = a[t2];
                    if (dropout_p > 0) w = dropout_keep(dropout_seed, row + t2, dropout_p) ? w * keep_scale : 0;
                    if (w == 0) continue;
                    const real *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * HS;
                    for (int i = 0; i < HS; i++) o[i] += w * v[i];
                }
            }
        }
    }
}

void attention_backward_reference(real *dqkv, const real *dout, const real *qkv, const real *att,
                        real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH) {
    int HS = C / NH;
    int C3 = 3 * C;
    real scale = (real)(1.0 / sqrt((double)HS));
    real keep_scale = dropout_p > 0 ? (real)(1.0 / (1.0 - (double)dropout_p)) : 1;

    // parallel over (b, h): all writes of one (b, h) go to its own head slice of dqkv
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            real datt[T];  // gradient w.r.t. the probabilities of one query row
            for (int t = 0; t < T; t++) {
                size_t row = (((size_t)b * NH + h) * T + t) * T;
                const real *a = att + row;
                const real *q = qkv + ((size_t)b * T + t) * C3 + h * HS;
                real *dq = dqkv + ((size_t)b * T + t) * C3 + h * HS;
                const real *dout_t = dout + ((size_t)b * T + t) * C + h * HS;

                // through out[t] = Σ att'[t2] v[t2], and back through the dropout
                real dot_att_datt = 0;
                for (int t2 = 0; t2 < T; t2++) {
                    real keep = 1;
                    if (dropout_p > 0) keep = dropout_keep(dropout_seed, row + t2, dropout_p) ? keep_scale : 0;
                    const real *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * HS;
                    real *dv = dqkv + ((size_t)b * T + t2) * C3 + 2 * C + h * HS;
                    real w = a[t2] * keep;
                    real d = 0;
                    for (int i = 0; i < HS; i++) {
                        d += dout_t[i] * v[i];
                        dv[i] += w * dout_t[i];
                    }
                    datt[t2] = d * keep;
                    dot_att_datt += a[t2] * datt[t2];
                }
                // softmax backward, then through s = q·k * scale
                for (int t2 = 0; t2 < T; t2++) {
                    real ds = a[t2] * (datt[t2] - dot_att_datt) * scale;
                    if (ds == 0) continue;
                    const real *k = qkv + ((size_t)b * T + t2) * C3 + C + h * HS;
                    real *dk = dqkv + ((size_t)b * T + t2) * C3 + C + h * HS;
                    for (int i = 0; i < HS; i++) {
                        dq[i] += ds * k[i];
                        dk[i] += ds * q[i];
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------- fast path

// per-thread scratch (grows once): the dropped-out probabilities and the score gradients of one head
typedef struct { real *p; size_t cap; } Scratch;
static _Thread_local Scratch tl_scratch;

static real *scratch(size_t n) {
    if (n > tl_scratch.cap) {
        free(tl_scratch.p);
        tl_scratch.p = malloc(n * sizeof(real));
        if (!tl_scratch.p) abort();  // out of memory inside a parallel region: nothing sane to do
        tl_scratch.cap = n;
    }
    return tl_scratch.p;
}

// one row of scores a[0..T) (unscaled q·k) -> softmax(scale · a) over the keys with m = 1; masked keys 0;
// uniform 1/T when every key is masked (as the reference)
static void softmax_row(real *a, const int *m, int T, real scale) {
#ifdef VMATH_AVX512
    const __m512 vscale = _mm512_set1_ps(scale);
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < T; j += 16) {
        __mmask16 lm = T - j >= 16 ? 0xFFFF : (__mmask16)((1u << (T - j)) - 1);
        __mmask16 km = _mm512_mask_cmpneq_epi32_mask(lm, _mm512_maskz_loadu_epi32(lm, m + j), _mm512_setzero_si512());
        __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(lm, a + j), vscale);
        vmax = _mm512_mask_max_ps(vmax, km, vmax, x);
    }
    float maxval = _mm512_reduce_max_ps(vmax);
    if (maxval == -INFINITY) {  // every key masked
        for (int j = 0; j < T; j++) a[j] = (real)1 / T;
        return;
    }
    __m512 vsum = _mm512_setzero_ps(), vm = _mm512_set1_ps(maxval);
    for (int j = 0; j < T; j += 16) {
        __mmask16 lm = T - j >= 16 ? 0xFFFF : (__mmask16)((1u << (T - j)) - 1);
        __mmask16 km = _mm512_mask_cmpneq_epi32_mask(lm, _mm512_maskz_loadu_epi32(lm, m + j), _mm512_setzero_si512());
        __m512 x = _mm512_fmsub_ps(_mm512_maskz_loadu_ps(lm, a + j), vscale, vm);
        __m512 e = _mm512_maskz_mov_ps(km, vexp(x));
        vsum = _mm512_add_ps(vsum, e);
        _mm512_mask_storeu_ps(a + j, lm, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (int j = 0; j < T; j += 16) {
        __mmask16 lm = T - j >= 16 ? 0xFFFF : (__mmask16)((1u << (T - j)) - 1);
        _mm512_mask_storeu_ps(a + j, lm, _mm512_mul_ps(_mm512_maskz_loadu_ps(lm, a + j), inv));
    }
#else
    real maxval = -INFINITY;
    for (int j = 0; j < T; j++) {
        if (!m[j]) continue;
        a[j] *= scale;
        if (a[j] > maxval) maxval = a[j];
    }
    if (maxval == -INFINITY) {
        for (int j = 0; j < T; j++) a[j] = (real)1 / T;
        return;
    }
    real sum = 0;
    for (int j = 0; j < T; j++) {
        a[j] = m[j] ? real_exp(a[j] - maxval) : 0;
        sum += a[j];
    }
    real inv = 1 / sum;
    for (int j = 0; j < T; j++) a[j] *= inv;
#endif
}

// P' = dropout(P) for the n probabilities starting at element index `row0` of att (same indices as forward)
static void dropout_probs(real *dst, const real *a, size_t row0, size_t n, real p, uint64_t seed, real keep_scale) {
    size_t i = 0;
#ifdef DROPOUT_KEEP8
    const __m512i thr = dropout_threshold((double)p);
    const __m256 ks = _mm256_set1_ps(keep_scale);
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_maskz_mul_ps(dropout_keep8(seed, row0 + i, thr), _mm256_loadu_ps(a + i), ks));
#endif
    for (; i < n; i++) dst[i] = dropout_keep(seed, row0 + i, p) ? a[i] * keep_scale : 0;
}

// Queries t < Tq of every (b, h) (Tq = T: all; Tq = 1: the first token only); out row (b, t) at
// out + b * out_b_stride + t * C. att (B,NH,Tq,T) saves the probabilities, or is NULL (inference:
// per-thread scratch, nothing kept).
static void attention_forward_queries(real *out, size_t out_b_stride, real *att, const real *qkv,
                                      const int *key_mask, real dropout_p, uint64_t dropout_seed,
                                      int B, int T, int Tq, int C, int NH) {
    int HS = C / NH, C3 = 3 * C;
    real scale = (real)(1.0 / sqrt((double)HS));
    real keep_scale = dropout_p > 0 ? (real)(1.0 / (1.0 - (double)dropout_p)) : 1;
    size_t n = (size_t)Tq * T;  // probabilities of one head
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const real *q = qkv + (size_t)b * T * C3 + h * HS, *k = q + C, *v = q + 2 * C;
            size_t row0 = ((size_t)b * NH + h) * n;             // this head's probabilities in att
            size_t mask0 = ((size_t)b * NH + h) * T * T;        // their dropout indices: those of the full (T,T)
            real *buf = att && dropout_p <= 0 ? NULL : scratch(2 * n);
            real *a = att ? att + row0 : buf;
            matmul_serial(a, T, q, C3, 1, k, 1, C3, NULL, Tq, T, HS, 0);      // a = Q·Kᵀ
            for (int t = 0; t < Tq; t++) softmax_row(a + (size_t)t * T, key_mask + (size_t)b * T, T, scale);
            const real *pa = a;
            if (dropout_p > 0) {
                real *d = buf + n;
                dropout_probs(d, a, mask0, n, dropout_p, dropout_seed, keep_scale);
                pa = d;
            }
            matmul_serial(out + b * out_b_stride + h * HS, C, pa, T, 1, v, C3, 1, NULL, Tq, HS, T, 0);  // O = P'·V
        }
    }
}

void attention_forward(real *out, real *att, const real *qkv, const int *key_mask,
                       real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH) {
    attention_forward_queries(out, (size_t)T * C, att, qkv, key_mask, dropout_p, dropout_seed, B, T, T, C, NH);
}

void attention_forward_first_query(real *out, real *att, const real *qkv, const int *key_mask,
                                   real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH) {
    attention_forward_queries(out, (size_t)C, att, qkv, key_mask, dropout_p, dropout_seed, B, T, 1, C, NH);
}

// Backward of attention_forward_queries: queries t < Tq; dout row (b, t) at dout + b * dout_b_stride + t * C;
// att (B,NH,Tq,T). dQ goes to rows t < Tq, dK and dV to every row.
static void attention_backward_queries(real *dqkv, const real *dout, size_t dout_b_stride, const real *qkv,
                                       const real *att, real dropout_p, uint64_t dropout_seed,
                                       int B, int T, int Tq, int C, int NH) {
    int HS = C / NH, C3 = 3 * C;
    real scale = (real)(1.0 / sqrt((double)HS));
    real keep_scale = dropout_p > 0 ? (real)(1.0 / (1.0 - (double)dropout_p)) : 1;
    size_t n = (size_t)Tq * T;  // probabilities of one head
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            size_t off = (size_t)b * T * C3 + h * HS;
            const real *q = qkv + off, *k = q + C, *v = q + 2 * C;
            real *dq = dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
            const real *dO = dout + b * dout_b_stride + h * HS;
            size_t row0 = ((size_t)b * NH + h) * n, mask0 = ((size_t)b * NH + h) * T * T;  // as in the forward
            const real *a = att + row0;
            real *buf = scratch(2 * n), *ds = buf, *pd = buf + n;
            const real *pa = a;
            if (dropout_p > 0) {
                dropout_probs(pd, a, mask0, n, dropout_p, dropout_seed, keep_scale);
                pa = pd;
            }
            matmul_serial(ds, T, dO, C, 1, v, 1, C3, NULL, Tq, T, HS, 0);     // dP' = dO·Vᵀ
            matmul_serial(dv, C3, pa, 1, T, dO, C, 1, NULL, T, HS, Tq, 1);    // dV += P'ᵀ·dO
            // back through dropout (dP = dP' ∘ keep/(1-p)) and softmax: dS = P ∘ (dP - Σ_j P_j dP_j)
            for (int t = 0; t < Tq; t++) {
                real *d = ds + (size_t)t * T;
                const real *at = a + (size_t)t * T;
                if (dropout_p > 0) {  // keep = (P' != 0) wherever P > 0; where P = 0, dS = 0 whatever d is
                    const real *pt = pd + (size_t)t * T;
                    for (int j = 0; j < T; j++) d[j] = pt[j] != 0 ? d[j] * keep_scale : 0;
                }
                real dot = 0;
                for (int j = 0; j < T; j++) dot += at[j] * d[j];
                for (int j = 0; j < T; j++) d[j] = at[j] * (d[j] - dot) * scale;
            }
            matmul_serial(dq, C3, ds, T, 1, k, C3, 1, NULL, Tq, HS, T, 1);    // dQ += dS·K
            matmul_serial(dk, C3, ds, 1, T, q, C3, 1, NULL, T, HS, Tq, 1);    // dK += dSᵀ·Q
        }
    }
}

void attention_backward(real *dqkv, const real *dout, const real *qkv, const real *att,
                        real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH) {
    attention_backward_queries(dqkv, dout, (size_t)T * C, qkv, att, dropout_p, dropout_seed, B, T, T, C, NH);
}

void attention_backward_first_query(real *dqkv, const real *dout, const real *qkv, const real *att,
                                    real dropout_p, uint64_t dropout_seed, int B, int T, int C, int NH) {
    attention_backward_queries(dqkv, dout, (size_t)C, qkv, att, dropout_p, dropout_seed, B, T, 1, C, NH);
}
