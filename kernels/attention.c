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
#include "kernels/kernels.h"
#include "kernels/dropout.h"

void attention_forward(real *out, real *att, const real *qkv, const int *key_mask,
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

void attention_backward(real *dqkv, const real *dout, const real *qkv, const real *att,
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
