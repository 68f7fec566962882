// gradcheck_model.c: the whole classifier's backward (DistilBERT, BERT, RoBERTa) against central finite
// differences of its loss, every parameter element, in double precision (reference-semantics.md §4.4):
// tiny configs (C 16, 2 heads, FFN 32, 2 layers, V 50, P 16, 3 labels), B 2, T 7 with row 1 padded.
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "test/gradcheck.h"
#include "test/run_suite.h"

#ifndef REAL_DOUBLE
#error "gradcheck tests must be compiled with -DREAL_DOUBLE"
#endif

enum { B = 2, T = 7 };
// the padding id (0) is replaced by the model's pad id (RoBERTa: 1)
static const int ids_pad0[B * T] = {3, 17, 5, 33, 5, 48, 2, 3, 9, 41, 2, 0, 0, 0};
static int ids[B * T];
static const int mask[B * T] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
static const int labels[B] = {2, 0};

static void tiny_model(Model *m, ModelArch arch, real dropout) {
    static const char *types[] = {"distilbert", "bert", "roberta"};
    ModelConfig cfg = {0};
    strcpy(cfg.model_type, types[arch]);
    cfg.arch = arch;
    cfg.vocab_size = 50; cfg.dim = 16; cfg.n_layers = 2; cfg.n_heads = 2; cfg.hidden_dim = 32;
    cfg.max_position_embeddings = 16; cfg.activation = ACT_GELU;
    cfg.pad_token_id = arch == ARCH_ROBERTA ? 1 : 0;
    cfg.type_vocab_size = arch == ARCH_DISTILBERT ? 0 : 2;
    for (int i = 0; i < B * T; i++) ids[i] = ids_pad0[i] == 0 ? cfg.pad_token_id : ids_pad0[i];
    cfg.dropout = cfg.attention_dropout = cfg.seq_classif_dropout = (float)dropout;
    cfg.initializer_range = 0.5f; cfg.layer_norm_eps = 1e-12f;
    ck_assert_int_eq(config_set_labels(&cfg, 3, NULL), 0);
    char err[256];
    ck_assert_msg(model_init(m, &cfg, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(model_alloc_activations(m, B, T, err, sizeof err) == 0, "%s", err);
    // large random weights so that activations are far from zero; LayerNorm gains around 1
    uint64_t rng = 11;
    fill_uniform(m->params_memory, m->num_parameters, &rng, -0.6, 0.6);
    for (int i = 0; i < m->n_entries; i++) {
        const ParamEntry *e = &m->table[i];
        if ((strstr(e->name, "LayerNorm") || strstr(e->name, "layer_norm")) && strstr(e->name, ".weight"))
            fill_uniform(m->params_memory + e->offset, e->numel, &rng, 0.7, 1.3);
    }
    m->dropout_seed = 5;
}

typedef struct { Model *m; int training; } ModelCtx;

static double model_loss(void *p) {
    ModelCtx *c = p;
    char err[256];
    if (c->training) c->m->forward_count = 0;  // the same dropout masks at every evaluation
    ck_assert(model_forward(c->m, ids, mask, labels, B, T, c->training, err, sizeof err) == 0);
    return c->m->mean_loss;
}

static void run_model_check(ModelArch arch, real dropout, int training) {
    Model m;
    tiny_model(&m, arch, dropout);
    ModelCtx ctx = {&m, training};
    model_loss(&ctx);
    // DistilBERT's head ReLU has a kink at 0: keep the check away from it
    for (int i = 0; arch == ARCH_DISTILBERT && i < B * 16; i++)
        ck_assert_msg(fabs(m.acts.pre[i]) > 1e-4, "pre-classifier value near 0");
    model_zero_grad(&m);
    model_backward(&m);
    real *grads = malloc(sizeof(real) * m.num_parameters);
    ck_assert_ptr_nonnull(grads);
    memcpy(grads, m.grads_memory, sizeof(real) * m.num_parameters);
    double worst = 0;
    for (int i = 0; i < m.n_entries; i++) {
        const ParamEntry *e = &m.table[i];
        double r = check_gradient(e->name, model_loss, &ctx, m.params_memory + e->offset,
                                  grads + e->offset, e->numel, 1e-5, 1e-7, 1e-6);
        if (r > worst) worst = r;
    }
    // invariants (reference-semantics §4.3): the pad row and unused vocabulary rows get exactly 0
    const ParamEntry *wte = &m.table[0];  // the word embedding comes first
    ck_assert_ptr_nonnull(strstr(wte->name, "word_embeddings"));
    int pad = m.config.pad_token_id;
    for (int i = 0; i < 16; i++) {
        ck_assert(grads[wte->offset + pad * 16 + i] == 0);  // [PAD] / <pad>
        ck_assert(grads[wte->offset + 4 * 16 + i] == 0);    // id 4 is not in the batch
    }
    if (arch == ARCH_ROBERTA) {  // RoBERTa's position table: row padding_idx gets nothing, 2.. are used
        const ParamEntry *wpe = &m.table[1];
        for (int i = 0; i < 16; i++) ck_assert(grads[wpe->offset + 1 * 16 + i] == 0);
        ck_assert(grads[wpe->offset + 2 * 16] != 0);
        ck_assert(grads[wpe->offset + 0 * 16] == 0);
    }
    if (arch != ARCH_DISTILBERT) {  // single segment: token type row 1 gets nothing
        const ParamEntry *wtt = &m.table[2];
        ck_assert_ptr_nonnull(strstr(wtt->name, "token_type"));
        for (int i = 0; i < 16; i++) ck_assert(grads[wtt->offset + 16 + i] == 0);
    }
    free(grads);
    model_free(&m);
}

START_TEST(test_model_gradients_eval) { run_model_check((ModelArch)_i, 0.1, 0); }
END_TEST

START_TEST(test_model_gradients_train_dropout) { run_model_check((ModelArch)_i, 0.2, 1); }
END_TEST

START_TEST(test_padding_invariance) {
    // logits of the padded row do not change when the batch is padded further
    Model m;
    tiny_model(&m, (ModelArch)_i, 0);
    int pad = m.config.pad_token_id;
    char err[256];
    ck_assert(model_forward(&m, ids, mask, labels, B, T, 0, err, sizeof err) == 0);
    real logits[B * 3];
    memcpy(logits, m.acts.logits, sizeof logits);
    // row 1 alone, cut to its 4 real tokens
    int ids1[4] = {3, 9, 41, 2}, mask1[4] = {1, 1, 1, 1}, lab1[1] = {0};
    ck_assert(model_forward(&m, ids1, mask1, lab1, 1, 4, 0, err, sizeof err) == 0);
    for (int k = 0; k < 3; k++) ck_assert_double_eq_tol(m.acts.logits[k], logits[3 + k], 1e-12);
    // the values of masked tokens do not matter either (for RoBERTa they must stay pads: its
    // positions are counted from the ids)
    int ids2[B * T];
    memcpy(ids2, ids, sizeof ids2);
    ids2[12] = _i == ARCH_ROBERTA ? pad : 7;
    ids2[13] = _i == ARCH_ROBERTA ? pad : 8;
    ck_assert(model_forward(&m, ids2, mask, labels, B, T, 0, err, sizeof err) == 0);
    for (int k = 0; k < B * 3; k++) ck_assert_double_eq_tol(m.acts.logits[k], logits[k], 1e-12);
    // bad inputs are errors, not crashes
    int bad[1] = {50}, one[1] = {1};
    ck_assert(model_forward(&m, bad, one, NULL, 1, 1, 0, err, sizeof err) == -1);
    ck_assert_ptr_nonnull(strstr(err, "outside the vocabulary"));
    ck_assert(model_forward(&m, ids, mask, labels, B, T + 1, 0, err, sizeof err) == -1);
    model_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gradcheck_model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 300);
    // loops over the architectures: _i = ARCH_DISTILBERT, ARCH_BERT, ARCH_ROBERTA
    tcase_add_loop_test(tc, test_model_gradients_eval, 0, 3);
    tcase_add_loop_test(tc, test_model_gradients_train_dropout, 0, 3);
    tcase_add_loop_test(tc, test_padding_invariance, 0, 3);
    suite_add_tcase(s, tc);
    return run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
