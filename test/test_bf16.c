// test_bf16.c: the bf16 GEMM paths (kernels/matmul_bf16.c) and the fp32 -> bf16 conversion.
//
// Conversion: known bit patterns (ties to even, just above and below a tie, overflow to Inf, Inf, NaNs
// of both signs with payloads, denormals, signed zeros), taken from torch 2.15 on this kind of machine:
//   a = torch.tensor(np.array(BITS, dtype=np.uint32).view(np.float32)); a.to(torch.bfloat16)
// (the same bits for one element and for a whole vector), for the scalar bf16_from_float and for the
// 16-lane conversion the packs use (bf16_from_float_array).
//
// GEMMs: each path this CPU has (a path it lacks is skipped with a line saying why) against the fp32
// reference GEMM (matmul_reference) fed the same bf16-rounded A and B, at sizes that are not multiples
// of the tiles (12 x 32, 32 x 32) or of the K block (384 vdpbf16ps, 768 AMX), K = 1 and odd K, with the operand layouts
// linear.c and attention.c use (B = Wᵀ, A = dYᵀ, rows strided like Q, K, V inside the (B,T,3C) buffer)
// and generic strides, with and without bias and accumulation, on 1 and 2 threads, serial and packed.
//
// Tolerance, per element: |got - ref| <= 2 (K+2) u S, u = 2^-24, S = Σ_k |a_ik b_kj| + |bias_j| + |C_ij|.
// Why: a product of two bf16 values is exact in fp32 (8 + 8 significand bits), so both sides sum the
// same K + 2 exact terms (K products, the bias, the previous C) in fp32 and differ only in the order
// (vdpbf16ps adds each pair odd-then-even, AMX in an unspecified order, the reference k by k with FMA).
// Any order of summing n terms in fp32 is within (n-1) u Σ|terms| of the exact sum (Higham, Accuracy
// and Stability, §4.2), so each side is within (K+1) u S of the exact value and the two within twice
// that. The inputs are multiples of 2^-23 in [-1, 1), so no product or partial sum is a denormal and the
// instructions' denormals-are-zero does not apply. A wrong layout (a product missing or misplaced) is an
// error of the size of one product, far above this bound for these K.
//
// Also: integer products bit-exact on every path; results independent of the thread count; the
// process-wide switch (linear_forward, linear_pack); and the whole model (distilbert-tiny fixture,
// forward + backward) on the best bf16 path against fp32: loss within 1e-2 relative, gradient within
// 2e-2 relative L2 (shared/doc/kernel-notes.md §6 rule 4), and not identical.
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/kernels.h"
#include "model/checkpoint.h"
#include "test/random_arrays.h"
#include "test/run_suite.h"

static float float_of_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

// ---------------------------------------------------------------- conversion

typedef struct { uint32_t fp32; uint16_t bf16; } ConversionCase;
static const ConversionCase CONVERSIONS[] = {
    {0x3F808000, 0x3F80}, {0x3F818000, 0x3F82},  // ties: 1 + 2^-8 stays even, 1 + 3·2^-8 goes up to even
    {0x3F808001, 0x3F81}, {0x3F807FFF, 0x3F80},  // just above and just below a tie
    {0xBF818000, 0xBF82},                        // a negative tie
    {0x7F7FFFFF, 0x7F80}, {0x7F7F7FFF, 0x7F7F},  // FLT_MAX rounds to +Inf; just below the overflow tie
    {0x7F800000, 0x7F80}, {0xFF800000, 0xFF80},  // ±Inf
    {0x7FC00000, 0xFFFF}, {0xFFC00001, 0xFFFF}, {0x7F800001, 0xFFFF}, {0xFF812345, 0xFFFF},  // NaNs
    {0x00000001, 0x0000}, {0x00008000, 0x0000}, {0x00018000, 0x0002}, {0x0000C000, 0x0001},  // denormals
    {0x807FFFFF, 0x8080},                        // the largest negative denormal rounds to -FLT_MIN
    {0x00000000, 0x0000}, {0x80000000, 0x8000},  // ±0
    {0x3EAAAAAB, 0x3EAB}, {0x40490FDB, 0x4049}, {0xC2F6E979, 0xC2F7},  // 1/3, pi, -123.456
};
enum { NCONVERSIONS = sizeof CONVERSIONS / sizeof CONVERSIONS[0] };

START_TEST(test_conversion_scalar) {
    for (int i = 0; i < NCONVERSIONS; i++) {
        uint16_t got = bf16_from_float(float_of_bits(CONVERSIONS[i].fp32));
        ck_assert_msg(got == CONVERSIONS[i].bf16, "bf16_from_float(0x%08X) = 0x%04X, torch gives 0x%04X",
                      (unsigned)CONVERSIONS[i].fp32, got, CONVERSIONS[i].bf16);
    }
    // bf16 -> fp32 is exact: every non-NaN bf16 survives the round trip
    for (uint32_t h = 0; h < 0x10000; h++) {
        float x = bf16_to_float((uint16_t)h);
        if (!isnan(x)) ck_assert_uint_eq(bf16_from_float(x), h);
    }
}
END_TEST

START_TEST(test_conversion_vector) {
    char why[256];
    if (!gemm_path_supported(GEMM_BF16_AVX512, why, sizeof why) && !gemm_path_supported(GEMM_BF16_AMX, why, sizeof why)) {
        printf("SKIP test_conversion_vector: no bf16 path on this CPU (%s); the 16-lane conversion is untested\n", why);
        return;
    }
    // every table entry at every lane position and with every tail length 1..40 (masked tails)
    float in[40];
    uint16_t out[41];
    for (int n = 1; n <= 40; n++)
        for (int shift = 0; shift < NCONVERSIONS; shift++) {
            for (int i = 0; i < n; i++) in[i] = float_of_bits(CONVERSIONS[(i + shift) % NCONVERSIONS].fp32);
            out[n] = 0x1234;  // a guard past the end
            bf16_from_float_array(out, in, (size_t)n);
            for (int i = 0; i < n; i++) {
                const ConversionCase *c = &CONVERSIONS[(i + shift) % NCONVERSIONS];
                ck_assert_msg(out[i] == c->bf16, "bf16_from_float_array lane %d of %d: 0x%08X -> 0x%04X, torch gives 0x%04X", i,
                              n, (unsigned)c->fp32, out[i], c->bf16);
            }
            ck_assert_uint_eq(out[n], 0x1234);
        }
}
END_TEST

// ---------------------------------------------------------------- GEMMs

typedef struct { int M, N, K; } Shape;
static const Shape SHAPES[] = {
    {1, 1, 1}, {77, 2, 37}, {13, 33, 385}, {12, 32, 384}, {32, 32, 32}, {100, 70, 800},
    {5, 100, 3}, {250, 97, 129}, {33, 31, 2}, {64, 130, 1000}, {45, 17, 1}, {40, 50, 769},
};
enum { NSHAPES = sizeof SHAPES / sizeof SHAPES[0] };

// layout 0: A row-major, B row-major (dX = dY·W); 1: B transposed (forward X·Wᵀ); 2: A transposed
// (dW = dYᵀ·X); 3: generic strides in both directions; 4: attention (Q·Kᵀ: A and B rows strided by
// 3·K, B transposed); 5: attention (P'ᵀ·dO: A transposed with a row stride, B rows strided)
static void strides(int layout, int M, int N, int K, ptrdiff_t *rsa, ptrdiff_t *csa, ptrdiff_t *rsb, ptrdiff_t *csb) {
    *rsa = K, *csa = 1, *rsb = N, *csb = 1;
    if (layout == 1) *rsb = 1, *csb = K;
    if (layout == 2) *rsa = 1, *csa = M;
    if (layout == 3) *rsa = 2 * K, *csa = 2, *rsb = 1, *csb = 2 * K;
    if (layout == 4) *rsa = 3 * K, *rsb = 1, *csb = 3 * K;
    if (layout == 5) *rsa = 1, *csa = M + 5, *rsb = 3 * N;
}

// got within 2 (K+2) u S of the fp32 reference of the rounded operands (file comment)
static void assert_bf16_close(const float *got, const float *ref, const float *C0, const float *A, ptrdiff_t rsa,
                              ptrdiff_t csa, const float *B, ptrdiff_t rsb, ptrdiff_t csb, const float *bias, int M,
                              int N, int K, int ldc, int accumulate, const char *what) {
    const double u = 1.0 / 16777216.0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t e = (size_t)i * ldc + j;
            if (j >= N) {  // padding columns: untouched
                ck_assert_msg(memcmp(&got[e], &C0[e], sizeof(float)) == 0, "%s: padding column %d of row %d written", what, j, i);
                continue;
            }
            double S = (bias ? fabs(bias[j]) : 0) + (accumulate ? fabs(C0[e]) : 0);
            for (int k = 0; k < K; k++) S += fabs((double)A[i * rsa + k * csa] * B[k * rsb + j * csb]);
            double d = fabs((double)got[e] - ref[e]), tol = 2.0 * (K + 2) * u * S;
            ck_assert_msg(d <= tol, "%s: C[%d][%d] = %.9g, reference %.9g (|diff| %.3g > tolerance %.3g)", what, i, j,
                          got[e], ref[e], d, tol);
        }
}

// mode 0: matmul_bf16 threaded, 1: on the calling thread, 2: B packed once (matmul_bf16_pack)
static void run_case(GemmPath path, Shape s, int layout, int accumulate, int use_bias, int mode) {
    int M = s.M, N = s.N, K = s.K, ldc = N + 3;
    ptrdiff_t rsa, csa, rsb, csb;
    strides(layout, M, N, K, &rsa, &csa, &rsb, &csb);
    size_t na = (size_t)(M + 5) * (K + 5) * 3, nb = (size_t)(K + 5) * (N + 5) * 3;
    float *A = rand_array(na), *B = rand_array(nb), *bias = rand_array(N), *C0 = rand_array((size_t)M * ldc);
    float *Ar = malloc(na * sizeof(float)), *Br = malloc(nb * sizeof(float));
    float *ref = malloc((size_t)M * ldc * sizeof(float)), *got = malloc((size_t)M * ldc * sizeof(float));
    ck_assert(Ar && Br && ref && got);
    bf16_round_array(Ar, A, na);
    bf16_round_array(Br, B, nb);
    memcpy(ref, C0, (size_t)M * ldc * sizeof(float));
    memcpy(got, C0, (size_t)M * ldc * sizeof(float));
    const float *b = use_bias ? bias : NULL;
    matmul_reference(ref, ldc, Ar, rsa, csa, Br, rsb, csb, b, M, N, K, accumulate);
    if (mode == 2) {
        PackedB packed;
        ck_assert_int_eq(matmul_bf16_pack(path, &packed, B, rsb, csb, N, K), 0);
        matmul_bf16_packed(got, ldc, A, rsa, csa, &packed, b, M, accumulate);
        matmul_pack_free(&packed);
    } else {
        matmul_bf16(path, mode == 0, got, ldc, A, rsa, csa, B, rsb, csb, b, M, N, K, accumulate);  // unrounded inputs
    }
    char what[160];
    snprintf(what, sizeof what, "%s %dx%dx%d layout %d acc %d bias %d mode %d", gemm_path_name(path), M, N, K, layout,
             accumulate, use_bias, mode);
    assert_bf16_close(got, ref, C0, Ar, rsa, csa, Br, rsb, csb, b, M, N, K, ldc, accumulate, what);
    free(A), free(B), free(bias), free(C0), free(Ar), free(Br), free(ref), free(got);
}

static int path_or_skip(GemmPath path, const char *test) {
    char why[256];
    if (gemm_path_supported(path, why, sizeof why)) return 1;
    printf("SKIP %s: %s\n", test, why);
    return 0;
}

static void run_path(GemmPath path) {
    for (int threads = 1; threads <= 2; threads++) {
        set_threads(threads);
        for (int i = 0; i < NSHAPES; i++)
            for (int layout = 0; layout < 6; layout++)
                for (int mode = 0; mode < 3; mode++) run_case(path, SHAPES[i], layout, mode == 1, (layout + mode) % 2, mode);
    }
}

START_TEST(test_gemm_avx512_bf16) {
    if (path_or_skip(GEMM_BF16_AVX512, "test_gemm_avx512_bf16")) run_path(GEMM_BF16_AVX512);
}
END_TEST

START_TEST(test_gemm_amx_bf16) {
    if (path_or_skip(GEMM_BF16_AMX, "test_gemm_amx_bf16")) run_path(GEMM_BF16_AMX);
}
END_TEST

// Exactness where no rounding can happen: small integers (exact in bf16, every partial sum exact in
// fp32) give bit-identical results on every path, whatever the summation order.
START_TEST(test_gemm_exact_integers) {
    int M = 37, N = 45, K = 70;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *ref = malloc(sizeof(float) * M * N), *got = malloc(sizeof(float) * M * N);
    ck_assert(A && B && ref && got);
    for (int i = 0; i < M * K; i++) A[i] = (float)((i * 7) % 19 - 9);
    for (int i = 0; i < K * N; i++) B[i] = (float)((i * 5) % 23 - 11);
    matmul_reference(ref, N, A, K, 1, B, N, 1, NULL, M, N, K, 0);
    for (GemmPath path = GEMM_BF16_AVX512; path <= GEMM_BF16_AMX; path++) {
        if (!path_or_skip(path, "test_gemm_exact_integers")) continue;
        matmul_bf16(path, 1, got, N, A, K, 1, B, N, 1, NULL, M, N, K, 0);
        ck_assert_msg(memcmp(got, ref, sizeof(float) * M * N) == 0, "%s: integer product not exact", gemm_path_name(path));
    }
    free(A), free(B), free(ref), free(got);
}
END_TEST

// The process-wide switch: fp32 by default; with a bf16 path set, linear_forward / linear_backward
// (matmul), linear_pack / linear_forward_packed and attention's matmul_serial run it.
START_TEST(test_path_switch) {
    ck_assert_int_eq(gemm_get_path(), GEMM_FP32);
    GemmPath path = gemm_best_bf16_path();
    if (path == GEMM_FP32) {
        printf("SKIP test_path_switch: no bf16 path on this CPU\n");
        return;
    }
    char err[256];
    ck_assert_int_eq(gemm_set_path(path, err, sizeof err), 0);
    int N = 50, C = 70, OC = 33;
    float *x = rand_array((size_t)N * C), *w = rand_array((size_t)OC * C), *bias = rand_array(OC);
    float *xr = malloc(sizeof(float) * N * C), *wr = malloc(sizeof(float) * OC * C);
    float *out = malloc(sizeof(float) * N * OC), *outp = malloc(sizeof(float) * N * OC), *ref = malloc(sizeof(float) * N * OC);
    ck_assert(xr && wr && out && outp && ref);
    bf16_round_array(xr, x, (size_t)N * C);
    bf16_round_array(wr, w, (size_t)OC * C);
    linear_forward(out, x, w, bias, N, C, OC);
    linear_forward_reference(ref, xr, wr, bias, N, C, OC);
    for (int i = 0; i < N * OC; i++) ck_assert_msg(fabsf(out[i] - ref[i]) < 1e-4f, "linear_forward[%d]: %g vs %g", i, out[i], ref[i]);
    // with bf16 operands the rounding of the inputs shows: the fp32 product of the unrounded ones differs
    float *ref32 = malloc(sizeof(float) * N * OC);
    ck_assert_ptr_nonnull(ref32);
    linear_forward_reference(ref32, x, w, bias, N, C, OC);
    double maxdiff = 0;
    for (int i = 0; i < N * OC; i++) maxdiff = fmax(maxdiff, fabs(out[i] - ref32[i]));
    ck_assert_msg(maxdiff > 1e-4, "linear_forward with a bf16 path set did not round its operands (max diff %g)", maxdiff);
    PackedB packed;
    ck_assert_int_eq(linear_pack(&packed, w, C, OC), 0);
    ck_assert_int_eq(packed.path, path);
    linear_forward_packed(outp, OC, x, &packed, bias, N);
    matmul_pack_free(&packed);
    ck_assert_msg(memcmp(out, outp, sizeof(float) * N * OC) == 0, "linear_forward_packed differs from linear_forward");
    ck_assert_int_eq(gemm_set_path(GEMM_FP32, err, sizeof err), 0);
    linear_forward(out, x, w, bias, N, C, OC);
    for (int i = 0; i < N * OC; i++) ck_assert_msg(fabsf(out[i] - ref32[i]) < 1e-5f, "fp32 again: %g vs %g", out[i], ref32[i]);
    free(x), free(w), free(bias), free(xr), free(wr), free(out), free(outp), free(ref), free(ref32);
}
END_TEST

// Results do not depend on the thread count: every C element is summed by one thread, K blocks in order.
START_TEST(test_gemm_thread_count_independent) {
    int M = 250, N = 97, K = 900;
    float *A = rand_array((size_t)M * K), *B = rand_array((size_t)K * N);
    float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
    ck_assert(C1 && C2);
    for (GemmPath path = GEMM_BF16_AVX512; path <= GEMM_BF16_AMX; path++) {
        if (!path_or_skip(path, "test_gemm_thread_count_independent")) continue;
        for (int layout = 0; layout < 3; layout++) {
            ptrdiff_t rsa, csa, rsb, csb;
            strides(layout, M, N, K, &rsa, &csa, &rsb, &csb);
            set_threads(1);
            matmul_bf16(path, 1, C1, N, A, rsa, csa, B, rsb, csb, NULL, M, N, K, 0);
            set_threads(2);
            matmul_bf16(path, 1, C2, N, A, rsa, csa, B, rsb, csb, NULL, M, N, K, 0);
            ck_assert_msg(memcmp(C1, C2, sizeof(float) * M * N) == 0, "%s layout %d: 1 and 2 threads differ",
                          gemm_path_name(path), layout);
        }
    }
    free(A), free(B), free(C1), free(C2);
}
END_TEST

// The whole model on the best bf16 path against fp32 (test/fixtures/distilbert-tiny, eval-mode forward
// with labels, then backward): the loss within 1e-2 relative and the gradient within 2e-2 relative L2
// (shared/doc/kernel-notes.md §6, rule 4), and not identical (the bf16 path really ran).
START_TEST(test_model_bf16_vs_fp32) {
    GemmPath path = gemm_best_bf16_path();
    if (path == GEMM_FP32) {
        printf("SKIP test_model_bf16_vs_fp32: no bf16 path on this CPU\n");
        return;
    }
    char err[512], notice[512];
    Model m;
    ck_assert_msg(checkpoint_load(&m, "test/fixtures/distilbert-tiny", 0, NULL, 1, notice, sizeof notice, err, sizeof err) == 0,
                  "%s", err);
    int B = 4, T = 16, lens[] = {16, 5, 11, 2};
    ck_assert_msg(model_alloc_activations(&m, B, T, err, sizeof err) == 0, "%s", err);
    int ids[64], mask[64], labels[4] = {0, 1, 1, 0};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = 1 + (b * 131 + t * 37) % (m.config.vocab_size - 1);
            mask[b * T + t] = t < lens[b];
        }
    size_t n = m.num_parameters;
    float *grad32 = malloc(sizeof(float) * n);
    ck_assert_ptr_nonnull(grad32);
    double loss[2];
    for (int bf16 = 0; bf16 < 2; bf16++) {
        ck_assert_int_eq(gemm_set_path(bf16 ? path : GEMM_FP32, err, sizeof err), 0);
        model_zero_grad(&m);
        ck_assert_msg(model_forward(&m, ids, mask, labels, B, T, 0, err, sizeof err) == 0, "%s", err);
        model_backward(&m);
        loss[bf16] = m.mean_loss;
        if (!bf16) memcpy(grad32, m.grads_memory, sizeof(float) * n);
    }
    ck_assert_int_eq(gemm_set_path(GEMM_FP32, err, sizeof err), 0);
    double diff2 = 0, ref2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)m.grads_memory[i] - grad32[i];
        diff2 += d * d;
        ref2 += (double)grad32[i] * grad32[i];
    }
    double rel_loss = fabs(loss[1] - loss[0]) / fabs(loss[0]), rel_grad = sqrt(diff2 / ref2);
    printf("model bf16 (%s) vs fp32: loss %.6f vs %.6f (relative %.2e), gradient relative L2 %.2e\n",
           gemm_path_name(path), loss[1], loss[0], rel_loss, rel_grad);
    ck_assert_msg(rel_loss < 1e-2, "loss bf16 %.6f vs fp32 %.6f", loss[1], loss[0]);
    ck_assert_msg(rel_grad < 2e-2, "gradient relative L2 error %.3g", rel_grad);
    ck_assert_msg(loss[1] != loss[0] && rel_grad > 0, "bf16 and fp32 gave identical results: the bf16 path did not run");
    free(grad32);
    model_free(&m);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("bf16");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_conversion_scalar);
    tcase_add_test(tc, test_conversion_vector);
    tcase_add_test(tc, test_gemm_avx512_bf16);
    tcase_add_test(tc, test_gemm_amx_bf16);
    tcase_add_test(tc, test_gemm_exact_integers);
    tcase_add_test(tc, test_path_switch);
    tcase_add_test(tc, test_gemm_thread_count_independent);
    tcase_add_test(tc, test_model_bf16_vs_fp32);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    char why[256];
    for (GemmPath p = GEMM_BF16_AVX512; p <= GEMM_BF16_AMX; p++)
        printf("bf16 path %s: %s\n", gemm_path_name(p), gemm_path_supported(p, why, sizeof why) ? "runs here" : why);
    return run_suite(suite()) ? 1 : 0;
}
