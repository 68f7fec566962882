/*
attention_forward.cu: multi-head self-attention forward with a key padding mask (encoder: no causal
mask). qkv (B,T,3C) = [Q | K | V] per token, key_mask (B,T) 1 = real token -> out (B,T,C).
For head h: s = q·kᵀ / sqrt(HS); P = softmax over the unmasked keys (masked keys get probability
exactly 0; a row with every key masked gets 1/T everywhere, as the reference); out = P·V.
Training applies dropout to P before P·V (the CPU's masks: keep(seed, index of (b,h,t,t2)), scale
1/(1-p)). CPU reference: attention_forward from kernels/, linked from build/cuda/libref.a; versions 1
and 3 are also validated with dropout p = 0.1 against it (same seed, so the same masks).

Build and run (from the repo root):
    make cuda                          # or: make -C dev/cuda attention_forward
    ./build/cuda/attention_forward     # validate every version at every size, then benchmark
    ./build/cuda/attention_forward 3   # one version only

Version 1: unfused fp32, the three steps of the definition as three kernels: scores (one thread per
(b,h,t,t2) dot product), masked softmax (one warp per query row: max over unmasked keys, exp, sum,
normalize, exact 0 for masked keys), then out = P·V (one thread per output element). Saves the
probabilities att (B,NH,T,T) like the CPU reference, and writes T² floats per head to do it.

Version 2: fused flash-style fp32 SIMT (attention_flash.cuh): one CTA per 64 queries of one (b,h),
one thread per query holding q and its output accumulator in registers, K/V tiles of 64 keys in
shared memory, online softmax (running max and sum, accumulator rescaled once per 16-key chunk, exp2
with log2 e folded into the scale). Writes out and the logsumexp (B,NH,T) instead of P.

Version 3: FlashAttention-2 forward on bf16 tensor cores (attention_flash.cuh): CTA = 4 warps x 16
query rows, K/V tiles double-buffered by cp.async, S = Q·Kᵀ and O += P·V with mma.sync m16n8k16,
P re-packed from the S accumulators into A fragments in registers, softmax statistics in fp32,
l quad-reduced once at the end; dropout drawn in the kernel (kernels/dropout.h's hash) as P is packed.
bf16 output, fp32 logsumexp. Head sizes 32 and 64 (template). The training path's bf16 attention.

Validation: fresh random non-zero qkv, NaN-poisoned outputs, masks with right padding plus random
holes, at B8xT128 C768 NH12, T = 77, heads of 32 (C384 NH12), and a small case with one batch row
fully masked. Versions 2 and 3 also check the logsumexp against a double-precision host loop; the
bf16 version against the reference fed the same bf16-rounded qkv. Benchmark at B8xT128 and
B32xT256 (RESULT lines, common.h).
*/
#include <math.h>
#include "common.h"
extern "C" {
#include "kernels/kernels.h"
}
#include "kernels/cuda/attention_flash.cuh"
#include "attention_cases.h"

// ------------------------------------------------------------------------------------- version 1

#include "kernels/cuda/attention.cuh"

static void attention_forward1(float *out, float *att, const float *qkv, const int *key_mask, FlashDropout drop,
                               float dropout_p, int B, int T, int C, int NH) {
    size_t n_att = (size_t)B * NH * T * T;
    attention_scores_kernel<<<(unsigned)ceil_div(n_att, (size_t)256), 256>>>(att, qkv, B, T, C, NH);
    attention_softmax_kernel<<<(unsigned)ceil_div((size_t)B * NH * T * 32, (size_t)256), 256>>>(att, key_mask, B, T, NH);
    attention_av_kernel<<<(unsigned)ceil_div((size_t)B * T * C, (size_t)256), 256>>>(out, att, qkv, dropout_p,
                                                                                      drop.scale, drop.seed, B, T, C,
                                                                                      NH);
}

// ------------------------------------------------------------------------------------- dispatch

struct Problem {
    int B, T, C, NH;
    float dropout_p;   // versions 1 and 3 (version 2 has no dropout)
    float *qkv, *out, *att, *lse;
    bf16 *qkv16, *out16;
    int *mask;
};
static const int NUM_VERSIONS = 3;
static bool version_is_bf16(int v) { return v == 3; }

static void attention_forward(int v, const Problem &p) {
    switch (v) {
    case 1:
        attention_forward1(p.out, p.att, p.qkv, p.mask, flash_dropout(p.dropout_p, DROPOUT_SEED), p.dropout_p, p.B, p.T,
                           p.C, p.NH);
        break;
    case 2: flash_forward_simt(p.out, p.lse, p.qkv, p.mask, p.B, p.T, p.C, p.NH); break;
    case 3: flash_forward_mma<bf16>(p.out16, p.lse, p.qkv16, p.mask, flash_dropout(p.dropout_p, DROPOUT_SEED), p.B, p.T,
                                    p.C, p.NH); break;
    default: fprintf(stderr, "no version %d\n", v); exit(2);
    }
    cudaCheckLaunch();
}

static Problem problem_alloc(int B, int T, int C, int NH, bool with_att, float dropout_p) {
    Problem p;
    p.B = B; p.T = T; p.C = C; p.NH = NH;
    p.dropout_p = dropout_p;
    p.qkv = dev_alloc<float>((size_t)B * T * 3 * C);
    p.out = dev_alloc<float>((size_t)B * T * C);
    p.att = with_att ? dev_alloc<float>((size_t)B * NH * T * T) : NULL;
    p.lse = dev_alloc<float>((size_t)B * NH * T);
    p.qkv16 = dev_alloc<bf16>((size_t)B * T * 3 * C);
    p.out16 = dev_alloc<bf16>((size_t)B * T * C);
    p.mask = dev_alloc<int>((size_t)B * T);
    return p;
}
static void problem_free(Problem &p) {
    cudaCheck(cudaFree(p.qkv)); cudaCheck(cudaFree(p.out)); cudaCheck(cudaFree(p.lse));
    if (p.att) cudaCheck(cudaFree(p.att));
    cudaCheck(cudaFree(p.qkv16)); cudaCheck(cudaFree(p.out16)); cudaCheck(cudaFree(p.mask));
}

// logsumexp of the scaled scores over the keys the softmax used, in double (not part of kernels/:
// the reference saves probabilities, the fused versions save this instead)
static void lse_host(float *lse, const float *qkv, const int *mask, int B, int T, int C, int NH) {
    int HS = C / NH, C3 = 3 * C;
    double scale = 1.0 / sqrt((double)HS);
    for (int b = 0; b < B; b++) {
        int any = 0;
        for (int t = 0; t < T; t++) any |= mask[b * T + t];
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *q = qkv + ((size_t)b * T + t) * C3 + h * HS;
                std::vector<double> s(T);
                double mx = -INFINITY;
                for (int t2 = 0; t2 < T; t2++) {
                    if (any && !mask[b * T + t2]) continue;
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + h * HS;
                    double d = 0;
                    for (int i = 0; i < HS; i++) d += (double)q[i] * k[i];
                    s[t2] = any ? d * scale : 0.0;
                    mx = std::max(mx, s[t2]);
                }
                double sum = 0;
                for (int t2 = 0; t2 < T; t2++)
                    if (!any || mask[b * T + t2]) sum += exp(s[t2] - mx);
                lse[((size_t)b * NH + h) * T + t] = (float)(mx + log(sum));
            }
    }
}

// ------------------------------------------------------------------------------------- main

static const Tolerance TOL_FLASH_FP32 = {5e-4f, 1e-2f};  // exp2f and online rescaling vs expf
static const Tolerance TOL_LSE = {1e-4f, 1e-3f};         // lse = m + log l in fp32, |lse| ~ 1..10

static void validate_case(int v, const Case &c) {
    const int B = c.B, T = c.T, C = c.C, NH = c.NH;
    if (!case_applies(v, c)) return;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    float *qkv = make_random_float(nqkv);
    if (version_is_bf16(v)) round_to_bf16(qkv, nqkv);
    std::vector<int> mask((size_t)B * T);
    make_mask(mask.data(), B, T, c.all_masked);

    Problem p = problem_alloc(B, T, C, NH, v == 1, c.dropout);
    to_device(p.qkv, qkv, nqkv);
    std::vector<bf16> q16(nqkv);
    float_to_bf16(q16.data(), qkv, nqkv);
    to_device(p.qkv16, q16.data(), nqkv);
    to_device(p.mask, mask.data(), mask.size());
    poison(p.out, nout * sizeof(float)); poison(p.out16, nout * sizeof(bf16));
    poison(p.lse, (size_t)B * NH * T * sizeof(float));
    if (p.att) poison(p.att, natt * sizeof(float));
    attention_forward(v, p);
    cudaCheck(cudaDeviceSynchronize());

    float *ref_out = (float *)host_malloc(nout * sizeof(float));
    float *ref_att = (float *)host_malloc(natt * sizeof(float));
    attention_forward(ref_out, ref_att, qkv, mask.data(), c.dropout, DROPOUT_SEED, B, T, C, NH);
    printf("version %d  %s (B %d T %d C %d NH %d HS %d dropout %g)\n", v, c.label, B, T, C, NH, C / NH, c.dropout);
    if (v == 1) {
        validate("out", p.out, ref_out, nout, TOL_FP32);
        validate("att", p.att, ref_att, natt, TOL_FP32);
        // masked keys must get exactly 0, not a small number
        std::vector<float> att(natt);
        to_host(att.data(), p.att, natt);
        double nonzero = 0;
        for (int b = 0; b < B; b++) {
            int any = 0;
            for (int t = 0; t < T; t++) any |= mask[b * T + t];
            if (!any) continue;
            for (size_t r = 0; r < (size_t)NH * T; r++)
                for (int t2 = 0; t2 < T; t2++)
                    if (!mask[b * T + t2] && att[((size_t)b * NH * T + r) * T + t2] != 0.0f) nonzero++;
        }
        validate_scalar("masked att != 0 (count)", (float)nonzero, 0.0, 0.0f);
    } else {
        if (v == 2) validate("out", p.out, ref_out, nout, TOL_FLASH_FP32);
        else validate("out", p.out16, ref_out, nout, TOL_BF16_SUM);   // P rounded to bf16 before P·V
        std::vector<float> lse((size_t)B * NH * T);
        lse_host(lse.data(), qkv, mask.data(), B, T, C, NH);
        validate("lse", p.lse, lse.data(), lse.size(), TOL_LSE);
    }
    problem_free(p);
    free(qkv); free(ref_out); free(ref_att);
}

int main(int argc, char **argv) {
    lab_init("attention_forward");
    for (int v = 1; v <= NUM_VERSIONS; v++) {
        if (!lab_want(argc, argv, v)) continue;
        lab_version = v;
        for (const Case &c : lab_cases(ATTENTION_CASES, ATTENTION_CASES_EMULATED)) validate_case(v, c);
    }
    if (lab_emulated) return lab_exit();

    for (const Case &c : ATTENTION_BENCH) {
        Problem p = problem_alloc(c.B, c.T, c.C, c.NH, true, c.dropout);
        size_t nqkv = (size_t)c.B * c.T * 3 * c.C;
        float *qkv = make_random_float(nqkv);
        to_device(p.qkv, qkv, nqkv);
        std::vector<bf16> q16(nqkv);
        float_to_bf16(q16.data(), qkv, nqkv);
        to_device(p.qkv16, q16.data(), nqkv);
        std::vector<int> mask((size_t)c.B * c.T);
        make_mask(mask.data(), c.B, c.T, -1);
        to_device(p.mask, mask.data(), mask.size());
        for (int v = 1; v <= NUM_VERSIONS; v++) {
            if (!lab_want(argc, argv, v)) continue;
            Timing t = benchmark([&] { attention_forward(v, p); });
            double elt = version_is_bf16(v) ? 2.0 : 4.0;
            double BT = (double)c.B * c.T, heads = (double)c.B * c.NH;
            // qkv read, out written; v1 also writes (and re-reads) the probabilities; v2/v3 the lse
            double bytes = elt * BT * 4 * c.C + (v == 1 ? 4.0 * heads * c.T * c.T : 4.0 * heads * c.T);
            double flops = 4.0 * heads * c.T * c.T * (c.C / c.NH);
            print_result("attention_forward", v, t, bytes, flops,
                         version_is_bf16(v) ? PEAK_TFLOPS_BF16 : PEAK_TFLOPS_FP32, c.label);
        }
        problem_free(p);
        free(qkv);
    }
    return lab_exit();
}
