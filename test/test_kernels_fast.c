// test_kernels_fast.c: the fast CPU kernels (blocked GEMM, linear, attention, GELU) against their
// plain reference versions, at awkward sizes (not multiples of the 12 x 32 tile or of the K block),
// with 1 and 2 OpenMP threads, and the determinism of repeated runs for a fixed thread count.
// Tolerances, not bit equality: FMA and a different summation order change the rounding.
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/dropout.h"
#include "kernels/kernels.h"
#include "test/random_arrays.h"
#include "test/run_suite.h"

static float *copy_array(const float *a, size_t n) {
    float *p = malloc(n * sizeof(float) + 4);
    ck_assert_ptr_nonnull(p);
    memcpy(p, a, n * sizeof(float));
    return p;
}

// |got - want| <= atol + rtol |want| everywhere; names the first mismatch
static void assert_close(const float *got, const float *want, size_t n, double atol, double rtol, const char *what) {
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        ck_assert_msg(d <= atol + rtol * fabs((double)want[i]), "%s: element %zu: got %.9g want %.9g (|diff| %.3g)",
                      what, i, got[i], want[i], d);
    }
}

// ---------------------------------------------------------------- matmul

typedef struct { int M, N, K; } Shape;
static const Shape SHAPES[] = {
    {1, 1, 1}, {77, 2, 37}, {13, 33, 385}, {12, 32, 384}, {100, 70, 800}, {5, 100, 3}, {250, 97, 129}, {64, 130, 1000},
};

// layout 0: A row-major, B row-major (dX = dY·W); 1: B transposed (forward X·Wᵀ); 2: A transposed (dW = dYᵀ·X);
// 3: both strided by a non-unit amount in both directions (generic pack paths)
// serial: 0 matmul (threads), 1 matmul_serial, 2 matmul and matmul_packed (must agree bit for bit)
static void run_matmul_case(Shape s, int layout, int accumulate, int use_bias, int serial) {
    int M = s.M, N = s.N, K = s.K, ldc = N + 3;
    float *A = rand_array((size_t)M * K * 2), *B = rand_array((size_t)K * N * 2), *bias = rand_array(N);
    float *C0 = rand_array((size_t)M * ldc), *C1 = copy_array(C0, (size_t)M * ldc);
    ptrdiff_t rsa = K, csa = 1, rsb = N, csb = 1;
    if (layout == 1) { rsb = 1; csb = K; }
    if (layout == 2) { rsa = 1; csa = M; }
    if (layout == 3) { rsa = 2 * K; csa = 2; rsb = 1; csb = 2 * K; }
    const float *b = use_bias ? bias : NULL;
    matmul_reference(C0, ldc, A, rsa, csa, B, rsb, csb, b, M, N, K, accumulate);
    float *C2 = copy_array(C1, (size_t)M * ldc);
    if (serial == 1) matmul_serial(C1, ldc, A, rsa, csa, B, rsb, csb, b, M, N, K, accumulate);
    else matmul(C1, ldc, A, rsa, csa, B, rsb, csb, b, M, N, K, accumulate);
    if (serial == 2) {  // B packed once, then the product: the very same sums as matmul
        PackedB packed;
        ck_assert_int_eq(matmul_pack(&packed, B, rsb, csb, N, K), 0);
        matmul_packed(C2, ldc, A, rsa, csa, &packed, b, M, accumulate);
        matmul_pack_free(&packed);
        ck_assert_msg(memcmp(C1, C2, sizeof(float) * M * ldc) == 0, "matmul_packed %dx%dx%d layout %d differs from matmul",
                      M, N, K, layout);
    }
    free(C2);
    char what[128];
    snprintf(what, sizeof what, "matmul %dx%dx%d layout %d acc %d bias %d serial %d", M, N, K, layout, accumulate,
             use_bias, serial);
    assert_close(C1, C0, (size_t)M * ldc, 2e-5 * sqrt((double)K) + 1e-6, 1e-5, what);  // incl. untouched padding columns
    free(A); free(B); free(bias); free(C0); free(C1);
}

START_TEST(test_matmul_vs_reference) {
    for (int threads = 1; threads <= 2; threads++) {
        set_threads(threads);
        for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
            for (int layout = 0; layout < 4; layout++)
                for (int acc = 0; acc < 2; acc++)
                    for (int serial = 0; serial < 3; serial++) run_matmul_case(SHAPES[i], layout, acc, acc == layout % 2, serial);
    }
}
END_TEST

START_TEST(test_matmul_k_zero) {
    float C[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {10, 20, 30}, A[1] = {0}, B[1] = {0};
    matmul(C, 3, A, 0, 1, B, 3, 1, bias, 2, 3, 0, 1);
    float want[6] = {11, 22, 33, 14, 25, 36};
    assert_close(C, want, 6, 0, 0, "K = 0 accumulate");
    matmul(C, 3, A, 0, 1, B, 3, 1, NULL, 2, 3, 0, 0);
    float zero[6] = {0};
    assert_close(C, zero, 6, 0, 0, "K = 0 overwrite");
}
END_TEST

// ---------------------------------------------------------------- linear

static void run_linear_case(int N, int C, int OC, int threads) {
    set_threads(threads);
    float *inp = rand_array((size_t)N * C), *w = rand_array((size_t)OC * C), *bias = rand_array(OC);
    float *dout = rand_array((size_t)N * OC);
    float *out0 = rand_array((size_t)N * OC), *out1 = copy_array(out0, (size_t)N * OC);
    linear_forward_reference(out0, inp, w, bias, N, C, OC);
    linear_forward(out1, inp, w, bias, N, C, OC);
    double tol = 2e-5 * sqrt((double)C) + 1e-6;
    assert_close(out1, out0, (size_t)N * OC, tol, 1e-5, "linear_forward");
    // backward accumulates: start from nonzero gradients
    float *dinp0 = rand_array((size_t)N * C), *dw0 = rand_array((size_t)OC * C), *db0 = rand_array(OC);
    float *dinp1 = copy_array(dinp0, (size_t)N * C), *dw1 = copy_array(dw0, (size_t)OC * C), *db1 = copy_array(db0, OC);
    linear_backward_reference(dinp0, dw0, db0, dout, inp, w, N, C, OC);
    linear_backward(dinp1, dw1, db1, dout, inp, w, N, C, OC);
    assert_close(dinp1, dinp0, (size_t)N * C, 2e-5 * sqrt((double)OC) + 1e-6, 1e-5, "linear_backward dinp");
    assert_close(dw1, dw0, (size_t)OC * C, 2e-5 * sqrt((double)N) + 1e-6, 1e-5, "linear_backward dweight");
    assert_close(db1, db0, OC, 2e-5 * sqrt((double)N) + 1e-6, 1e-5, "linear_backward dbias");
    // dbias NULL is allowed
    linear_backward(dinp1, dw1, NULL, dout, inp, w, N, C, OC);
    free(inp); free(w); free(bias); free(dout); free(out0); free(out1);
    free(dinp0); free(dw0); free(db0); free(dinp1); free(dw1); free(db1);
}

START_TEST(test_linear_vs_reference) {
    for (int threads = 1; threads <= 2; threads++) {
        run_linear_case(77, 37, 2, threads);
        run_linear_case(1, 768, 768, threads);
        run_linear_case(8, 64, 2, threads);
        run_linear_case(130, 100, 300, threads);
        run_linear_case(256, 768, 96, threads);
    }
}
END_TEST

// same inputs, same thread count -> bit-identical outputs (static partitions, no atomics)
START_TEST(test_linear_deterministic) {
    set_threads(2);
    int N = 200, C = 300, OC = 150;
    float *inp = rand_array((size_t)N * C), *w = rand_array((size_t)OC * C), *dout = rand_array((size_t)N * OC);
    float *dinp[2], *dw[2], *db[2], *out[2];
    for (int r = 0; r < 2; r++) {
        out[r] = calloc((size_t)N * OC, sizeof(float));
        dinp[r] = calloc((size_t)N * C, sizeof(float));
        dw[r] = calloc((size_t)OC * C, sizeof(float));
        db[r] = calloc(OC, sizeof(float));
        linear_forward(out[r], inp, w, NULL, N, C, OC);
        linear_backward(dinp[r], dw[r], db[r], dout, inp, w, N, C, OC);
    }
    ck_assert(memcmp(out[0], out[1], sizeof(float) * N * OC) == 0);
    ck_assert(memcmp(dinp[0], dinp[1], sizeof(float) * N * C) == 0);
    ck_assert(memcmp(dw[0], dw[1], sizeof(float) * OC * C) == 0);
    ck_assert(memcmp(db[0], db[1], sizeof(float) * OC) == 0);
    for (int r = 0; r < 2; r++) { free(out[r]); free(dinp[r]); free(dw[r]); free(db[r]); }
    free(inp); free(w); free(dout);
}
END_TEST

// ---------------------------------------------------------------- attention

static void run_attention_case(int B, int T, int C, int NH, float p, int threads) {
    set_threads(threads);
    size_t n_qkv = (size_t)B * T * 3 * C, n_out = (size_t)B * T * C, n_att = (size_t)B * NH * T * T;
    float *qkv = rand_array(n_qkv), *dout = rand_array(n_out);
    for (size_t i = 0; i < n_qkv; i++) qkv[i] *= 3;  // peaked softmaxes too
    int *mask = malloc(sizeof(int) * B * T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) mask[b * T + t] = b == 1 ? 0 : (b % 3 == 2 ? (t * 7 + b) % 3 != 0 : t < T - b);
    float *out0 = rand_array(n_out), *out1 = rand_array(n_out), *att0 = rand_array(n_att), *att1 = rand_array(n_att);
    attention_forward_reference(out0, att0, qkv, mask, p, 99, B, T, C, NH);
    attention_forward(out1, att1, qkv, mask, p, 99, B, T, C, NH);
    assert_close(att1, att0, n_att, 1e-6, 1e-5, "attention att");
    assert_close(out1, out0, n_out, 1e-5, 1e-4, "attention out");
    float *d0 = rand_array(n_qkv), *d1 = copy_array(d0, n_qkv);  // backward accumulates
    attention_backward_reference(d0, dout, qkv, att0, p, 99, B, T, C, NH);
    attention_backward(d1, dout, qkv, att0, p, 99, B, T, C, NH);
    assert_close(d1, d0, n_qkv, 1e-5, 1e-4, "attention dqkv");

    // the first query only (the last block of a classifier): row t = 0 of the full computation, same masks
    float *outq = rand_array((size_t)B * C), *attq = rand_array((size_t)B * NH * T);
    attention_forward_first_query(outq, attq, qkv, mask, p, 99, B, T, C, NH);
    for (int b = 0; b < B; b++) {
        ck_assert_msg(memcmp(outq + (size_t)b * C, out1 + (size_t)b * T * C, sizeof(float) * C) == 0,
                      "first-query out row %d differs from attention_forward's token 0", b);
        for (int h = 0; h < NH; h++)
            ck_assert(memcmp(attq + ((size_t)b * NH + h) * T, att1 + ((size_t)b * NH + h) * T * T, sizeof(float) * T) == 0);
    }
    // backward with a gradient on token 0 only = the full backward with zero gradient elsewhere
    float *dout0 = calloc(n_out, sizeof(float)), *doutq = rand_array((size_t)B * C);
    for (int b = 0; b < B; b++) memcpy(dout0 + (size_t)b * T * C, doutq + (size_t)b * C, sizeof(float) * C);
    float *d2 = rand_array(n_qkv), *d3 = copy_array(d2, n_qkv);
    attention_backward(d2, dout0, qkv, att1, p, 99, B, T, C, NH);
    attention_backward_first_query(d3, doutq, qkv, attq, p, 99, B, T, C, NH);
    assert_close(d3, d2, n_qkv, 1e-7, 1e-6, "first-query attention dqkv");
    free(outq); free(attq); free(dout0); free(doutq); free(d2); free(d3);
    free(qkv); free(dout); free(mask); free(out0); free(out1); free(att0); free(att1); free(d0); free(d1);
}

START_TEST(test_attention_vs_reference) {
    for (int threads = 1; threads <= 2; threads++) {
        run_attention_case(4, 77, 96, 3, 0, threads);     // head size 32, odd T, a fully masked row (b = 1)
        run_attention_case(4, 77, 96, 3, 0.1f, threads);  // dropout on the probabilities
        run_attention_case(3, 1, 8, 2, 0, threads);       // T = 1
        run_attention_case(2, 40, 48, 1, 0.3f, threads);  // one head of 48
    }
}
END_TEST

// ---------------------------------------------------------------- GELU

START_TEST(test_gelu_vs_exact) {
    int N = 200003;  // not a multiple of 16
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N), *yr = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) x[i] = -10.0f + 20.0f * (float)i / (float)(N - 1);
    x[0] = 0.0f; x[1] = -0.0f; x[2] = 1.0f; x[3] = -1.0f; x[4] = 4.0f * 1.41421356f;
    gelu_forward(y, x, N);
    gelu_forward_reference(yr, x, N);
    double worst = 0, worst_ref = 0;
    for (int i = 0; i < N; i++) {
        double exact = (double)x[i] * 0.5 * (1.0 + erf((double)x[i] / sqrt(2.0)));
        double e = fabs(y[i] - exact) / (1.0 + fabs(exact)), er = fabs(yr[i] - exact) / (1.0 + fabs(exact));
        if (e > worst) worst = e;
        if (er > worst_ref) worst_ref = er;
    }
    // glibc erff gives ~1e-7 here; the polynomial erf (vmath.h) must stay within a few 1e-7
    ck_assert_msg(worst <= 3e-7, "gelu_forward error %.3g (erff-based reference: %.3g)", worst, worst_ref);
    // backward: dinp += dout * gelu'(x) against the exact derivative, accumulating into nonzero dinp
    float *dout = rand_array(N), *dinp = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) dinp[i] = 0.5f;
    gelu_backward(dinp, x, dout, N);
    worst = 0;
    for (int i = 0; i < N; i++) {
        double xd = x[i];
        double g = 0.5 * (1.0 + erf(xd / sqrt(2.0))) + xd * exp(-0.5 * xd * xd) / sqrt(2.0 * 3.14159265358979323846);
        double exact = 0.5 + (double)dout[i] * g;
        double e = fabs(dinp[i] - exact) / (1.0 + fabs(exact));
        if (e > worst) worst = e;
    }
    ck_assert_msg(worst <= 5e-7, "gelu_backward error %.3g", worst);
    free(x); free(y); free(yr); free(dout); free(dinp);
}
END_TEST

// ---------------------------------------------------------------- dropout (vectorised masks = dropout_keep)

START_TEST(test_dropout_masks) {
    int N = 100003;
    float p = 0.1f, scale = (float)(1.0 / (1.0 - (double)p));
    float *x = rand_array(N), *y = malloc(sizeof(float) * N), *dx = rand_array(N), *dx0 = copy_array(dx, N);
    for (int threads = 1; threads <= 2; threads++) {
        set_threads(threads);
        dropout_forward(y, x, p, 777, N);
        for (int i = 0; i < N; i++) {
            float want = dropout_keep(777, (uint64_t)i, p) ? x[i] * scale : 0;
            ck_assert_msg(y[i] == want, "dropout_forward element %d: %g vs %g", i, y[i], want);
        }
        memcpy(dx, dx0, sizeof(float) * N);
        dropout_backward(dx, x, p, 777, N);
        for (int i = 0; i < N; i++) {
            float want = dx0[i] + (dropout_keep(777, (uint64_t)i, p) ? x[i] * scale : 0);
            ck_assert_msg(dx[i] == want, "dropout_backward element %d: %g vs %g", i, dx[i], want);
        }
    }
    // rows: the token-0 rows of a (B,T,C) tensor, compact, draw that tensor's masks there
    int B = 7, T = 13, C = 40;
    float *xr = malloc(sizeof(float) * B * C), *yr = malloc(sizeof(float) * B * C), *dr = calloc((size_t)B * C, sizeof(float));
    for (int b = 0; b < B; b++) memcpy(xr + b * C, x + (size_t)b * T * C, sizeof(float) * C);
    dropout_forward(y, x, p, 777, B * T * C);
    dropout_forward_rows(yr, xr, p, 777, B, C, (size_t)T * C);
    memset(dx, 0, sizeof(float) * B * T * C);
    dropout_backward(dx, x, p, 777, B * T * C);
    dropout_backward_rows(dr, xr, p, 777, B, C, (size_t)T * C);
    for (int b = 0; b < B; b++) {
        ck_assert(memcmp(yr + b * C, y + (size_t)b * T * C, sizeof(float) * C) == 0);
        ck_assert(memcmp(dr + b * C, dx + (size_t)b * T * C, sizeof(float) * C) == 0);
    }
    free(xr); free(yr); free(dr);
    free(x); free(y); free(dx); free(dx0);
}
END_TEST

// the integer form (the GPU's fused attention draws its masks with it) is the double test, exactly,
// for rates whose p·2^24 is and is not an integer, including the boundary draws themselves
START_TEST(test_dropout_keep24) {
    const double rates[] = {0.0, 0.1, 0.25, 0.5, 1.0 / 3.0, 0.9, 1e-9};
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        double p = rates[r];
        uint32_t thr = dropout_threshold24(p);
        long kept = 0;
        for (uint64_t i = 0; i < 200000; i++) {
            int a = dropout_keep(4242, i, p), b = dropout_keep24(4242, i, thr);
            ck_assert_msg(a == b, "p %g element %llu: keep %d vs keep24 %d", p, (unsigned long long)i, a, b);
            kept += a;
        }
        ck_assert_msg(fabs((double)kept / 200000 - (1 - p)) < 0.01, "p %g: kept fraction %g", p, kept / 200000.0);
    }
    // at the boundary: a draw u exactly p is kept, one step below is dropped
    for (uint32_t v = 1; v < 16777216u; v += 999983u) {
        double p = v / 16777216.0;
        uint32_t thr = dropout_threshold24(p);
        ck_assert_uint_eq(thr, v);
        ck_assert(((v >= thr) == ((double)v / 16777216.0 >= p)) && ((v - 1 >= thr) == ((double)(v - 1) / 16777216.0 >= p)));
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("kernels_fast");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_matmul_vs_reference);
    tcase_add_test(tc, test_matmul_k_zero);
    tcase_add_test(tc, test_linear_vs_reference);
    tcase_add_test(tc, test_linear_deterministic);
    tcase_add_test(tc, test_attention_vs_reference);
    tcase_add_test(tc, test_gelu_vs_exact);
    tcase_add_test(tc, test_dropout_masks);
    tcase_add_test(tc, test_dropout_keep24);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite()) ? 1 : 0; }
