// gradcheck_ops.c: every op's backward against central finite differences, in double precision.
// Built with -DREAL_DOUBLE against the same kernels/ sources that ship in float.
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "test/gradcheck.h"
#include "test/run_suite.h"

#ifndef REAL_DOUBLE
#error "gradcheck tests must be compiled with -DREAL_DOUBLE"
#endif

#define H_STEP 1e-5
#define ATOL 1e-7
#define RTOL 1e-6

static real *alloc_real(size_t n) {
    real *p = calloc(n, sizeof(real));
    ck_assert_ptr_nonnull(p);
    return p;
}

// ---------------------------------------------------------------- embedding
typedef struct {
    int B, T, C, V, P, NT;
    int *ids, *pos, *types;
    real *wte, *wpe, *wtt, *out, *w;
} EmbCtx;

static double emb_loss(void *p) {
    EmbCtx *c = p;
    embedding_forward(c->out, c->ids, c->pos, c->types, c->wte, c->wpe, c->wtt, c->B, c->T, c->C);
    return weighted_sum(c->out, c->w, (size_t)c->B * c->T * c->C);
}

START_TEST(test_embedding) {
    uint64_t rng = 1;
    EmbCtx c = {.B = 2, .T = 5, .C = 4, .V = 7, .P = 6, .NT = 2};
    int n = c.B * c.T;
    int ids[] = {1, 4, 4, 2, 0, 3, 6, 1, 0, 0};   // 0 is the padding id, 4 and 1 repeat
    int pos[] = {0, 1, 2, 3, 4, 0, 1, 2, 3, 4};
    int types[] = {0, 0, 1, 1, 0, 0, 1, 0, 0, 0};
    c.ids = ids; c.pos = pos; c.types = types;
    c.wte = alloc_real((size_t)c.V * c.C); c.wpe = alloc_real((size_t)c.P * c.C);
    c.wtt = alloc_real((size_t)c.NT * c.C);
    c.out = alloc_real((size_t)n * c.C); c.w = alloc_real((size_t)n * c.C);
    fill_uniform(c.wte, (size_t)c.V * c.C, &rng, -1, 1);
    fill_uniform(c.wpe, (size_t)c.P * c.C, &rng, -1, 1);
    fill_uniform(c.wtt, (size_t)c.NT * c.C, &rng, -1, 1);
    fill_uniform(c.w, (size_t)n * c.C, &rng, -1, 1);

    real *dwte = alloc_real((size_t)c.V * c.C), *dwpe = alloc_real((size_t)c.P * c.C);
    real *dwtt = alloc_real((size_t)c.NT * c.C);
    // without a padding index every row used by the forward gets its full gradient
    embedding_backward(dwte, dwpe, dwtt, c.w, ids, pos, types, -1, -1, c.B, c.T, c.C);
    check_gradient("dwte", emb_loss, &c, c.wte, dwte, (size_t)c.V * c.C, H_STEP, ATOL, RTOL);
    check_gradient("dwpe", emb_loss, &c, c.wpe, dwpe, (size_t)c.P * c.C, H_STEP, ATOL, RTOL);
    check_gradient("dwtt", emb_loss, &c, c.wtt, dwtt, (size_t)c.NT * c.C, H_STEP, ATOL, RTOL);

    // with padding_idx 0 (nn.Embedding semantics) row 0 of the word table gets exactly nothing,
    // the other rows are unchanged; position padding index 3 likewise
    real *dwte_pad = alloc_real((size_t)c.V * c.C), *dwpe_pad = alloc_real((size_t)c.P * c.C);
    embedding_backward(dwte_pad, dwpe_pad, NULL, c.w, ids, pos, types, 0, 3, c.B, c.T, c.C);
    for (int v = 0; v < c.V; v++)
        for (int i = 0; i < c.C; i++)
            ck_assert(dwte_pad[v * c.C + i] == (v == 0 ? 0 : dwte[v * c.C + i]));
    for (int p = 0; p < c.P; p++)
        for (int i = 0; i < c.C; i++)
            ck_assert(dwpe_pad[p * c.C + i] == (p == 3 ? 0 : dwpe[p * c.C + i]));
    free(c.wte); free(c.wpe); free(c.wtt); free(c.out); free(c.w);
    free(dwte); free(dwpe); free(dwtt); free(dwte_pad); free(dwpe_pad);
}
END_TEST

// ---------------------------------------------------------------- layernorm
typedef struct { int N, C; real eps; real *inp, *weight, *bias, *out, *mean, *rstd, *w; } LnCtx;

static double ln_loss(void *p) {
    LnCtx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->weight, c->bias, c->N, c->C, c->eps);
    return weighted_sum(c->out, c->w, (size_t)c->N * c->C);
}

static void run_layernorm_check(real eps) {
    uint64_t rng = 2;
    LnCtx c = {.N = 6, .C = 9, .eps = eps};
    size_t nc = (size_t)c.N * c.C;
    c.inp = alloc_real(nc); c.weight = alloc_real(c.C); c.bias = alloc_real(c.C);
    c.out = alloc_real(nc); c.mean = alloc_real(c.N); c.rstd = alloc_real(c.N); c.w = alloc_real(nc);
    fill_uniform(c.inp, nc, &rng, -2, 2);
    fill_uniform(c.weight, c.C, &rng, 0.5, 1.5);
    fill_uniform(c.bias, c.C, &rng, -1, 1);
    fill_uniform(c.w, nc, &rng, -1, 1);
    ln_loss(&c);
    real *dinp = alloc_real(nc), *dweight = alloc_real(c.C), *dbias = alloc_real(c.C);
    layernorm_backward(dinp, dweight, dbias, c.w, c.inp, c.weight, c.mean, c.rstd, c.N, c.C);
    check_gradient("layernorm dinp", ln_loss, &c, c.inp, dinp, nc, H_STEP, ATOL, RTOL);
    check_gradient("layernorm dweight", ln_loss, &c, c.weight, dweight, c.C, H_STEP, ATOL, RTOL);
    check_gradient("layernorm dbias", ln_loss, &c, c.bias, dbias, c.C, H_STEP, ATOL, RTOL);
    // the forward's row statistics: mean 0, variance 1 before the affine part
    ln_loss(&c);
    for (int n = 0; n < c.N; n++) {
        double m = 0;
        for (int i = 0; i < c.C; i++) m += c.inp[n * c.C + i];
        ck_assert_double_eq_tol(c.mean[n], m / c.C, 1e-12);
    }
    free(c.inp); free(c.weight); free(c.bias); free(c.out); free(c.mean); free(c.rstd); free(c.w);
    free(dinp); free(dweight); free(dbias);
}

START_TEST(test_layernorm) {
    run_layernorm_check(1e-12);  // DistilBERT / BERT
    run_layernorm_check(1e-5);   // RoBERTa
}
END_TEST

// ---------------------------------------------------------------- linear
typedef struct { int N, C, OC; real *inp, *weight, *bias, *out, *w; } LinCtx;

static double lin_loss(void *p) {
    LinCtx *c = p;
    linear_forward(c->out, c->inp, c->weight, c->bias, c->N, c->C, c->OC);
    return weighted_sum(c->out, c->w, (size_t)c->N * c->OC);
}

START_TEST(test_linear) {
    uint64_t rng = 3;
    LinCtx c = {.N = 5, .C = 7, .OC = 3};  // awkward sizes on purpose
    c.inp = alloc_real((size_t)c.N * c.C); c.weight = alloc_real((size_t)c.OC * c.C);
    c.bias = alloc_real(c.OC); c.out = alloc_real((size_t)c.N * c.OC); c.w = alloc_real((size_t)c.N * c.OC);
    fill_uniform(c.inp, (size_t)c.N * c.C, &rng, -1, 1);
    fill_uniform(c.weight, (size_t)c.OC * c.C, &rng, -1, 1);
    fill_uniform(c.bias, c.OC, &rng, -1, 1);
    fill_uniform(c.w, (size_t)c.N * c.OC, &rng, -1, 1);
    real *dinp = alloc_real((size_t)c.N * c.C), *dweight = alloc_real((size_t)c.OC * c.C);
    real *dbias = alloc_real(c.OC);
    linear_backward(dinp, dweight, dbias, c.w, c.inp, c.weight, c.N, c.C, c.OC);
    check_gradient("linear dinp", lin_loss, &c, c.inp, dinp, (size_t)c.N * c.C, H_STEP, ATOL, RTOL);
    check_gradient("linear dweight", lin_loss, &c, c.weight, dweight, (size_t)c.OC * c.C, H_STEP, ATOL, RTOL);
    check_gradient("linear dbias", lin_loss, &c, c.bias, dbias, c.OC, H_STEP, ATOL, RTOL);
    // bias NULL: plain matmul
    linear_forward(c.out, c.inp, c.weight, NULL, c.N, c.C, c.OC);
    double ref = 0;
    for (int k = 0; k < c.C; k++) ref += c.inp[1 * c.C + k] * c.weight[2 * c.C + k];
    ck_assert_double_eq_tol(c.out[1 * c.OC + 2], ref, 1e-12);
    free(c.inp); free(c.weight); free(c.bias); free(c.out); free(c.w);
    free(dinp); free(dweight); free(dbias);
}
END_TEST

// ---------------------------------------------------------------- attention
typedef struct { int B, T, C, NH; real p; uint64_t seed; const int *mask; real *qkv, *att, *out, *w; } AttCtx;

static double att_loss(void *p) {
    AttCtx *c = p;
    attention_forward(c->out, c->att, c->qkv, c->mask, c->p, c->seed, c->B, c->T, c->C, c->NH);
    return weighted_sum(c->out, c->w, (size_t)c->B * c->T * c->C);
}

static void run_attention_check(real dropout_p, int NH, int C) {
    uint64_t rng = 4;
    // row 0: 5 real tokens; row 1: 3 real tokens then 2 padding
    static const int mask[] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    AttCtx c = {.B = 2, .T = 5, .C = C, .NH = NH, .p = dropout_p, .seed = 77, .mask = mask};
    size_t nqkv = (size_t)c.B * c.T * 3 * c.C, nout = (size_t)c.B * c.T * c.C;
    c.qkv = alloc_real(nqkv); c.att = alloc_real((size_t)c.B * c.NH * c.T * c.T);
    c.out = alloc_real(nout); c.w = alloc_real(nout);
    fill_uniform(c.qkv, nqkv, &rng, -1.5, 1.5);
    fill_uniform(c.w, nout, &rng, -1, 1);
    att_loss(&c);
    real *dqkv = alloc_real(nqkv);
    attention_backward(dqkv, c.w, c.qkv, c.att, c.p, c.seed, c.B, c.T, c.C, c.NH);
    check_gradient("attention dqkv", att_loss, &c, c.qkv, dqkv, nqkv, H_STEP, ATOL, RTOL);

    // masked keys: probability exactly 0, and their K and V rows get exactly zero gradient
    att_loss(&c);
    for (int h = 0; h < c.NH; h++)
        for (int t = 0; t < c.T; t++) {
            const real *a = c.att + (((size_t)1 * c.NH + h) * c.T + t) * c.T;
            ck_assert(a[3] == 0 && a[4] == 0);
            ck_assert_double_eq_tol(a[0] + a[1] + a[2], 1.0, 1e-12);
        }
    for (int t2 = 3; t2 < 5; t2++)
        for (int i = c.C; i < 3 * c.C; i++) ck_assert(dqkv[((size_t)1 * c.T + t2) * 3 * c.C + i] == 0);
    free(c.qkv); free(c.att); free(c.out); free(c.w); free(dqkv);
}

START_TEST(test_attention) {
    run_attention_check(0, 2, 8);     // eval, head size 4
    run_attention_check(0, 1, 6);     // one head
    run_attention_check(0.3, 2, 8);   // train mode: dropout on the probabilities
}
END_TEST

START_TEST(test_attention_padding_invariance) {
    // the outputs of real tokens do not depend on how much padding follows
    uint64_t rng = 5;
    int C = 8, NH = 2, T1 = 3, T2 = 6;
    int mask1[] = {1, 1, 1}, mask2[] = {1, 1, 1, 0, 0, 0};
    real *qkv1 = alloc_real((size_t)T1 * 3 * C), *qkv2 = alloc_real((size_t)T2 * 3 * C);
    fill_uniform(qkv2, (size_t)T2 * 3 * C, &rng, -1, 1);
    memcpy(qkv1, qkv2, sizeof(real) * T1 * 3 * C);
    real *o1 = alloc_real((size_t)T1 * C), *o2 = alloc_real((size_t)T2 * C);
    real *a1 = alloc_real((size_t)NH * T1 * T1), *a2 = alloc_real((size_t)NH * T2 * T2);
    attention_forward(o1, a1, qkv1, mask1, 0, 0, 1, T1, C, NH);
    attention_forward(o2, a2, qkv2, mask2, 0, 0, 1, T2, C, NH);
    for (int i = 0; i < T1 * C; i++) ck_assert_double_eq_tol(o1[i], o2[i], 1e-14);
    free(qkv1); free(qkv2); free(o1); free(o2); free(a1); free(a2);
}
END_TEST

// ---------------------------------------------------------------- elementwise ops
typedef struct { int N, kind; real p; real *inp, *inp2, *out, *w; } EwCtx;
enum { EW_GELU, EW_RELU, EW_TANH, EW_DROPOUT, EW_RESIDUAL };

static double ew_loss(void *p) {
    EwCtx *c = p;
    switch (c->kind) {
    case EW_GELU: gelu_forward(c->out, c->inp, c->N); break;
    case EW_RELU: relu_forward(c->out, c->inp, c->N); break;
    case EW_TANH: tanh_forward(c->out, c->inp, c->N); break;
    case EW_DROPOUT: dropout_forward(c->out, c->inp, c->p, 99, c->N); break;
    default: residual_forward(c->out, c->inp, c->inp2, c->N); break;
    }
    return weighted_sum(c->out, c->w, c->N);
}

static void run_elementwise_check(int kind, const char *name) {
    uint64_t rng = 6 + kind;
    EwCtx c = {.N = 40, .kind = kind, .p = 0.25};
    c.inp = alloc_real(c.N); c.inp2 = alloc_real(c.N); c.out = alloc_real(c.N); c.w = alloc_real(c.N);
    fill_uniform(c.inp, c.N, &rng, -3, 3);
    fill_uniform(c.inp2, c.N, &rng, -3, 3);
    fill_uniform(c.w, c.N, &rng, -1, 1);
    if (kind == EW_RELU)  // keep away from the kink at 0
        for (int i = 0; i < c.N; i++) if (fabs(c.inp[i]) < 1e-3) c.inp[i] = 0.5;
    ew_loss(&c);
    real *dinp = alloc_real(c.N), *dinp2 = alloc_real(c.N);
    switch (kind) {
    case EW_GELU: gelu_backward(dinp, c.inp, c.w, c.N); break;
    case EW_RELU: relu_backward(dinp, c.out, c.w, c.N); break;
    case EW_TANH: tanh_backward(dinp, c.out, c.w, c.N); break;
    case EW_DROPOUT: dropout_backward(dinp, c.w, c.p, 99, c.N); break;
    default: residual_backward(dinp, dinp2, c.w, c.N); break;
    }
    check_gradient(name, ew_loss, &c, c.inp, dinp, c.N, H_STEP, ATOL, RTOL);
    if (kind == EW_RESIDUAL) check_gradient("residual dinp2", ew_loss, &c, c.inp2, dinp2, c.N, H_STEP, ATOL, RTOL);
    free(c.inp); free(c.inp2); free(c.out); free(c.w); free(dinp); free(dinp2);
}

START_TEST(test_elementwise) {
    run_elementwise_check(EW_GELU, "gelu dinp");
    run_elementwise_check(EW_RELU, "relu dinp");
    run_elementwise_check(EW_TANH, "tanh dinp");
    run_elementwise_check(EW_DROPOUT, "dropout dinp");
    run_elementwise_check(EW_RESIDUAL, "residual dinp1");
}
END_TEST

START_TEST(test_gelu_values) {
    // exact erf GELU, not the tanh approximation: gelu(1) = 0.8413447460685429
    real x[3] = {1.0, -1.0, 0.0}, y[3];
    gelu_forward(y, x, 3);
    ck_assert_double_eq_tol(y[0], 0.8413447460685429, 1e-15);
    ck_assert_double_eq_tol(y[1], -0.15865525393145707, 1e-15);
    ck_assert(y[2] == 0);
}
END_TEST

START_TEST(test_dropout_statistics) {
    // inverted dropout keeps the mean, drops about p of the elements, and is identity at p = 0
    int N = 100000;
    real *x = alloc_real(N), *y = alloc_real(N);
    for (int i = 0; i < N; i++) x[i] = 1;
    dropout_forward(y, x, 0.1, 1234, N);
    int dropped = 0;
    double sum = 0;
    for (int i = 0; i < N; i++) { dropped += y[i] == 0; sum += y[i]; }
    ck_assert_int_gt(dropped, 9500);
    ck_assert_int_lt(dropped, 10500);
    ck_assert_double_eq_tol(sum / N, 1.0, 0.01);
    dropout_forward(y, x, 0, 1234, N);
    for (int i = 0; i < N; i++) ck_assert(y[i] == 1);
    free(x); free(y);
}
END_TEST

// ---------------------------------------------------------------- cross-entropy
typedef struct { int B, NL; const int *labels; real *logits, *probs, *losses; } CeCtx;

static double ce_loss(void *p) {
    CeCtx *c = p;
    return crossentropy_forward(c->probs, c->losses, c->logits, c->labels, c->B, c->NL);
}

START_TEST(test_crossentropy) {
    uint64_t rng = 7;
    static const int labels[] = {2, 0, -100, 1};  // one ignored row: the mean is over 3 rows
    CeCtx c = {.B = 4, .NL = 3, .labels = labels};
    c.logits = alloc_real(12); c.probs = alloc_real(12); c.losses = alloc_real(4);
    fill_uniform(c.logits, 12, &rng, -3, 3);
    double loss = ce_loss(&c);
    double ref = 0;
    for (int b = 0; b < 4; b++) {
        if (labels[b] < 0) continue;
        double s = 0;
        for (int k = 0; k < 3; k++) s += exp(c.logits[b * 3 + k]);
        ref += log(s) - c.logits[b * 3 + labels[b]];
    }
    ck_assert_double_eq_tol(loss, ref / 3, 1e-14);
    real *dlogits = alloc_real(12);
    crossentropy_backward(dlogits, c.probs, labels, c.B, c.NL);
    check_gradient("crossentropy dlogits", ce_loss, &c, c.logits, dlogits, 12, H_STEP, ATOL, RTOL);
    for (int k = 0; k < 3; k++) ck_assert(dlogits[2 * 3 + k] == 0);
    free(c.logits); free(c.probs); free(c.losses); free(dlogits);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gradcheck_ops");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_embedding);
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_attention);
    tcase_add_test(tc, test_attention_padding_invariance);
    tcase_add_test(tc, test_elementwise);
    tcase_add_test(tc, test_gelu_values);
    tcase_add_test(tc, test_dropout_statistics);
    tcase_add_test(tc, test_crossentropy);
    suite_add_tcase(s, tc);
    return run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
