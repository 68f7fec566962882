// test_checkpoint.c: config.json and checkpoint directories in and out, good and bad.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "test/run_suite.h"
#include "test/test_files.h"

#define FIXTURE "test/fixtures/distilbert-tiny"

static char tmp_root[256];

static void make_tmp_root(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/test_checkpoint_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_msg(write_file_atomic(path, text, strlen(text), err, sizeof err) == 0, "%s", err);
}

static void new_dir(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", tmp_root, name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", out);
    ck_assert_int_eq(system(cmd), 0);
}

// Copy the fixture's tensors into dir/model.safetensors, renaming, dropping or damaging them.
typedef enum { KEEP, DROP_HEAD, DROP_ENCODER_TENSOR, STRIP_PREFIX_LEGACY, ADD_MLM_HEAD, NAN_VALUE } Edit;

static void write_edited_weights(const char *dir, Edit edit) {
    char err[512], path[512];
    safetensors_file f;
    ck_assert_msg(safetensors_open(&f, FIXTURE "/model.safetensors", err, sizeof err) == 0, "%s", err);
    st_write_tensor *out = calloc((size_t)f.n_tensors + 2, sizeof *out);
    char (*names)[160] = calloc((size_t)f.n_tensors + 2, 160);
    float **data = calloc((size_t)f.n_tensors + 2, sizeof(float *));
    int n = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        if (edit == DROP_HEAD && (strstr(t->name, "classifier"))) continue;
        if (edit == DROP_ENCODER_TENSOR && strcmp(t->name, "distilbert.transformer.layer.1.ffn.lin2.bias") == 0) continue;
        const char *name = t->name;
        if (edit == STRIP_PREFIX_LEGACY && strncmp(name, "distilbert.", 11) == 0) name += 11;
        snprintf(names[n], 160, "%s", name);
        if (edit == STRIP_PREFIX_LEGACY) {  // LayerNorm.weight -> LayerNorm.gamma, .bias -> .beta
            char *ln = strstr(names[n], "LayerNorm.");
            if (ln) strcpy(ln + 10, strcmp(ln + 10, "weight") == 0 ? "gamma" : "beta");
        }
        data[n] = malloc(sizeof(float) * (t->numel ? t->numel : 1));
        ck_assert(safetensors_read_f32(&f, t, data[n], t->numel, err, sizeof err) == 0);
        if (edit == NAN_VALUE && strcmp(t->name, "distilbert.embeddings.LayerNorm.bias") == 0) data[n][3] = NAN;
        out[n].name = names[n];
        out[n].ndim = t->ndim;
        memcpy(out[n].shape, t->shape, sizeof t->shape);
        out[n].data = data[n];
        n++;
    }
    static float mlm[32 * 32];
    if (edit == ADD_MLM_HEAD) {  // base-checkpoint extras that must be ignored
        out[n] = (st_write_tensor){.name = "vocab_transform.weight", .ndim = 2, .shape = {32, 32}, .data = mlm};
        n++;
        out[n] = (st_write_tensor){.name = "vocab_layer_norm.bias", .ndim = 1, .shape = {32}, .data = mlm};
        n++;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_msg(safetensors_write(path, out, n, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < n; i++) if (data[i] != mlm) free(data[i]);
    free(out); free(names); free(data);
    safetensors_close(&f);
}

static void copy_config(const char *dir) {
    char *text; size_t len; char err[256];
    ck_assert(read_file(FIXTURE "/config.json", &text, &len, err, sizeof err) == 0);
    write_text(dir, "config.json", text);
    free(text);
}

// logits of the fixture's first row for a model, for comparisons
static void first_logits(Model *m, float out[2]) {
    int ids[5] = {101, 7, 300, 45, 102}, mask[5] = {1, 1, 1, 1, 1};
    char err[256];
    ck_assert(model_alloc_activations(m, 1, 5, err, sizeof err) == 0);
    ck_assert(model_forward(m, ids, mask, NULL, 1, 5, 0, err, sizeof err) == 0);
    out[0] = m->acts.logits[0];
    out[1] = m->acts.logits[1];
}

START_TEST(test_save_load_round_trip) {
    make_tmp_root();
    char err[512], notice[512], dir[512];
    Model a, b;
    ck_assert_msg(checkpoint_load(&a, FIXTURE, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(a.config.id2label[1], "positive");
    snprintf(dir, sizeof dir, "%s/saved", tmp_root);  // created by checkpoint_save
    ck_assert_msg(checkpoint_save(&a, dir, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(checkpoint_load(&b, dir, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(a.num_parameters, b.num_parameters);
    ck_assert(memcmp(a.params_memory, b.params_memory, sizeof(float) * a.num_parameters) == 0);
    ck_assert_str_eq(b.config.id2label[0], "negative");
    ck_assert_int_eq(b.config.dim, 32);
    // the written file follows the reference layout: metadata format=pt, header padded to 8
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    safetensors_file f;
    ck_assert(safetensors_open(&f, path, err, sizeof err) == 0);
    ck_assert_str_eq(safetensors_meta(&f, "format"), "pt");
    ck_assert_int_eq(f.data_start % 8, 0);
    ck_assert_int_eq(f.n_tensors, a.n_entries);
    safetensors_close(&f);
    float la[2], lb[2];
    first_logits(&a, la);
    first_logits(&b, lb);
    ck_assert(la[0] == lb[0] && la[1] == lb[1]);
    model_free(&a);
    model_free(&b);
    remove_tree(tmp_root);
}
END_TEST

START_TEST(test_base_checkpoint_variants) {
    make_tmp_root();
    char err[512], notice[512], dir[512];
    Model ref, m;
    ck_assert(checkpoint_load(&ref, FIXTURE, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0);
    float lref[2], l[2];
    first_logits(&ref, lref);

    // prefix-less names with legacy gamma/beta, plus MLM-head tensors: same model
    new_dir(dir, sizeof dir, "legacy");
    copy_config(dir);
    write_edited_weights(dir, STRIP_PREFIX_LEGACY);
    ck_assert_msg(checkpoint_load(&m, dir, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    ck_assert(memcmp(m.params_memory, ref.params_memory, sizeof(float) * m.num_parameters) == 0);
    model_free(&m);
    new_dir(dir, sizeof dir, "mlm");
    copy_config(dir);
    write_edited_weights(dir, ADD_MLM_HEAD);
    ck_assert_msg(checkpoint_load(&m, dir, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    first_logits(&m, l);
    ck_assert(l[0] == lref[0] && l[1] == lref[1]);
    model_free(&m);

    // no head: initialised normal(0, 0.02) / zero bias with a notice; encoder unchanged; 4 labels
    new_dir(dir, sizeof dir, "nohead");
    copy_config(dir);
    write_edited_weights(dir, DROP_HEAD);
    const char *names[4] = {"a", "b", "c", "d"};
    ck_assert_msg(checkpoint_load(&m, dir, 4, names, 7, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_nonnull(strstr(notice, "classifier.weight"));
    ck_assert_int_eq(m.config.num_labels, 4);
    const ParamEntry *cw = model_find_param(&m, "classifier.weight");
    const ParamEntry *cb = model_find_param(&m, "classifier.bias");
    ck_assert_int_eq(cw->shape[0], 4);
    double sum2 = 0;
    for (size_t i = 0; i < cw->numel; i++) sum2 += m.params_memory[cw->offset + i] * m.params_memory[cw->offset + i];
    double std = sqrt(sum2 / cw->numel);
    ck_assert_msg(std > 0.012 && std < 0.028, "classifier init std %g, expected about 0.02", std);
    for (size_t i = 0; i < cb->numel; i++) ck_assert(m.params_memory[cb->offset + i] == 0);
    const ParamEntry *w0 = model_find_param(&m, "distilbert.transformer.layer.0.ffn.lin1.weight");
    ck_assert(memcmp(m.params_memory + w0->offset, ref.params_memory + w0->offset, sizeof(float) * w0->numel) == 0);
    model_free(&m);
    model_free(&ref);
    remove_tree(tmp_root);
}
END_TEST

// Regression (found by dev/trajectory_parity.sh): a BERT base checkpoint with a pretrained pooler
// and no classifier kept neither: every head tensor was re-initialised once one was missing.
START_TEST(test_bert_base_keeps_pooler) {
    make_tmp_root();
    char err[512], notice[512], dir[512], path[600];
    new_dir(dir, sizeof dir, "bert-base");
    char *text; size_t len;
    ck_assert(read_file("test/fixtures/bert-tiny/config.json", &text, &len, err, sizeof err) == 0);
    write_text(dir, "config.json", text);
    free(text);
    safetensors_file f;
    ck_assert_msg(safetensors_open(&f, "test/fixtures/bert-tiny/model.safetensors", err, sizeof err) == 0, "%s", err);
    st_write_tensor *out = calloc((size_t)f.n_tensors, sizeof *out);
    float **data = calloc((size_t)f.n_tensors, sizeof(float *));
    float *pooler = NULL;
    size_t pooler_n = 0;
    int n = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        if (strncmp(t->name, "classifier.", 11) == 0) continue;
        data[n] = malloc(sizeof(float) * (t->numel ? t->numel : 1));
        ck_assert(safetensors_read_f32(&f, t, data[n], t->numel, err, sizeof err) == 0);
        if (strcmp(t->name, "bert.pooler.dense.weight") == 0) pooler = data[n], pooler_n = t->numel;
        out[n] = (st_write_tensor){.name = t->name, .ndim = t->ndim, .data = data[n]};
        memcpy(out[n].shape, t->shape, sizeof t->shape);
        n++;
    }
    ck_assert_ptr_nonnull(pooler);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_msg(safetensors_write(path, out, n, err, sizeof err) == 0, "%s", err);

    Model m;
    ck_assert_msg(checkpoint_load(&m, dir, 3, NULL, 7, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    const ParamEntry *pw = model_find_param(&m, "bert.pooler.dense.weight");
    ck_assert_ptr_nonnull(pw);
    ck_assert_int_eq(pw->numel, pooler_n);
    ck_assert_msg(memcmp(m.params_memory + pw->offset, pooler, sizeof(float) * pooler_n) == 0,
                  "the checkpoint's pretrained pooler was replaced by an initialisation");
    ck_assert_ptr_nonnull(strstr(notice, "classifier.weight"));
    ck_assert_ptr_null(strstr(notice, "pooler"));
    const ParamEntry *cw = model_find_param(&m, "classifier.weight");
    int nonzero = 0;
    for (size_t i = 0; i < cw->numel; i++) nonzero += m.params_memory[cw->offset + i] != 0;
    ck_assert_int_gt(nonzero, (int)cw->numel / 2);  // the new classifier is initialised
    model_free(&m);
    for (int i = 0; i < n; i++) free(data[i]);
    free(out); free(data);
    safetensors_close(&f);
    remove_tree(tmp_root);
}
END_TEST

// load must fail with a message containing `expect`
static void expect_load_error(const char *dir, const char *expect) {
    Model m;
    char err[512] = "", notice[512];
    int rc = checkpoint_load(&m, dir, 0, NULL, 0, notice, sizeof notice, err, sizeof err);
    ck_assert_msg(rc == -1, "%s: loaded, expected an error containing \"%s\"", dir, expect);
    ck_assert_msg(strstr(err, expect) != NULL, "error \"%s\" lacks \"%s\"", err, expect);
    ck_assert_msg(strchr(err, '\n') == NULL, "error is not one line: %s", err);
}

START_TEST(test_bad_checkpoints) {
    make_tmp_root();
    char dir[512];

    new_dir(dir, sizeof dir, "missing_tensor");
    copy_config(dir);
    write_edited_weights(dir, DROP_ENCODER_TENSOR);
    expect_load_error(dir, "layer.1.ffn.lin2.bias' is missing");

    new_dir(dir, sizeof dir, "nan");
    copy_config(dir);
    write_edited_weights(dir, NAN_VALUE);
    expect_load_error(dir, "non-finite");

    new_dir(dir, sizeof dir, "shape");  // config says dim 64, the weights are dim 32
    write_text(dir, "config.json", "{\"model_type\":\"distilbert\",\"vocab_size\":512,\"dim\":64,\"n_layers\":2,"
               "\"n_heads\":4,\"hidden_dim\":64,\"max_position_embeddings\":64}");
    write_edited_weights(dir, KEEP);
    expect_load_error(dir, "has shape [512, 32], but config.json implies [512, 64]");

    new_dir(dir, sizeof dir, "no_weights");
    copy_config(dir);
    expect_load_error(dir, "model.safetensors");

    new_dir(dir, sizeof dir, "no_config");
    expect_load_error(dir, "config.json: cannot open");

    new_dir(dir, sizeof dir, "gpt2");
    write_text(dir, "config.json", "{\"model_type\":\"gpt2\"}");
    expect_load_error(dir, "model_type \"gpt2\" is not supported");

    new_dir(dir, sizeof dir, "decoder");
    write_text(dir, "config.json", "{\"model_type\":\"bert\",\"is_decoder\":true}");
    expect_load_error(dir, "is_decoder = true is not supported");

    new_dir(dir, sizeof dir, "relative");
    write_text(dir, "config.json", "{\"model_type\":\"roberta\",\"position_embedding_type\":\"relative_key\"}");
    expect_load_error(dir, "position_embedding_type relative_key is not supported");

    new_dir(dir, sizeof dir, "not_json");
    write_text(dir, "config.json", "{\"model_type\": \"distilbert\",");
    expect_load_error(dir, "invalid JSON at byte");

    new_dir(dir, sizeof dir, "wrong_type");
    write_text(dir, "config.json", "{\"model_type\":\"distilbert\",\"dim\":\"768\"}");
    expect_load_error(dir, "field \"dim\" must be an integer");

    new_dir(dir, sizeof dir, "fraction");
    write_text(dir, "config.json", "{\"model_type\":\"distilbert\",\"n_layers\":2.5}");
    expect_load_error(dir, "field \"n_layers\" must be an integer");

    new_dir(dir, sizeof dir, "heads");
    write_text(dir, "config.json", "{\"model_type\":\"distilbert\",\"dim\":30,\"n_heads\":4,\"n_layers\":2,\"hidden_dim\":64}");
    expect_load_error(dir, "not divisible by n_heads");

    new_dir(dir, sizeof dir, "missing_heads");  // was: "dim 32 is not divisible by n_heads 12" (the default)
    write_text(dir, "config.json", "{\"model_type\":\"distilbert\",\"dim\":32,\"n_layers\":2,\"hidden_dim\":64}");
    expect_load_error(dir, "missing required key \"n_heads\"");

    new_dir(dir, sizeof dir, "foreign_keys");  // was: BERT-base (109M parameters) built from nothing it said
    write_text(dir, "config.json", "{\"model_type\":\"bert\",\"dim\":32,\"n_layers\":2,\"n_heads\":2,\"hidden_dim\":64}");
    expect_load_error(dir, "key \"dim\" belongs to DistilBERT's config, not to model_type \"bert\"");

    new_dir(dir, sizeof dir, "foreign_keys_distil");
    write_text(dir, "config.json", "{\"model_type\":\"distilbert\",\"intermediate_size\":64}");
    expect_load_error(dir, "key \"intermediate_size\" belongs to BERT/RoBERTa's config");

    new_dir(dir, sizeof dir, "negative");
    write_text(dir, "config.json", "{\"model_type\":\"distilbert\",\"vocab_size\":-5}");
    expect_load_error(dir, "out of range");

    new_dir(dir, sizeof dir, "labels");
    write_text(dir, "config.json", "{\"model_type\":\"distilbert\",\"id2label\":{\"0\":\"a\",\"2\":\"b\"}}");
    expect_load_error(dir, "id2label");

    new_dir(dir, sizeof dir, "activation");
    write_text(dir, "config.json", "{\"model_type\":\"distilbert\",\"activation\":\"swish\"}");
    expect_load_error(dir, "activation swish is not supported");
    remove_tree(tmp_root);
}
END_TEST

START_TEST(test_save_failure_leaves_nothing) {
    make_tmp_root();
    char err[512], notice[512], dir[512];
    Model m;
    ck_assert(checkpoint_load(&m, FIXTURE, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0);
    snprintf(dir, sizeof dir, "%s/no/such/parent", tmp_root);
    ck_assert_int_eq(checkpoint_save(&m, dir, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot create directory"));
    model_free(&m);
    remove_tree(tmp_root);
}
END_TEST

START_TEST(test_lr_schedule) {
    // get_linear_schedule_with_warmup with W = 120, Tt = 1200 (reference-semantics.md §5.3)
    ck_assert(lr_linear_warmup(0, 120, 1200) == 0);
    ck_assert_double_eq_tol(lr_linear_warmup(1, 120, 1200), 1.0 / 120, 1e-15);
    ck_assert_double_eq_tol(lr_linear_warmup(119, 120, 1200), 119.0 / 120, 1e-15);
    ck_assert(lr_linear_warmup(120, 120, 1200) == 1);
    ck_assert_double_eq_tol(lr_linear_warmup(121, 120, 1200), 1079.0 / 1080, 1e-15);
    ck_assert_double_eq_tol(lr_linear_warmup(1199, 120, 1200), 1.0 / 1080, 1e-15);
    ck_assert(lr_linear_warmup(1200, 120, 1200) == 0);
    ck_assert(lr_linear_warmup(5000, 120, 1200) == 0);
    ck_assert(lr_linear_warmup(0, 0, 10) == 1);  // no warmup
}
END_TEST

START_TEST(test_clip_grad_norm) {
    char err[512], notice[512];
    Model m;
    ck_assert(checkpoint_load(&m, FIXTURE, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0);
    for (size_t i = 0; i < m.num_parameters; i++) m.grads_memory[i] = 0;
    m.grads_memory[0] = 3;
    m.grads_memory[m.num_parameters - 1] = 4;
    ck_assert_double_eq_tol(model_clip_grad_norm(&m, 10.0), 5.0, 1e-12);  // no clipping
    ck_assert(m.grads_memory[0] == 3);
    ck_assert_double_eq_tol(model_clip_grad_norm(&m, 1.0), 5.0, 1e-12);
    ck_assert_double_eq_tol(m.grads_memory[0], 3.0 / (5 + 1e-6), 1e-6);
    ck_assert_double_eq_tol(m.grads_memory[m.num_parameters - 1], 4.0 / (5 + 1e-6), 1e-6);
    model_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_save_load_round_trip);
    tcase_add_test(tc, test_base_checkpoint_variants);
    tcase_add_test(tc, test_bert_base_keeps_pooler);
    tcase_add_test(tc, test_bad_checkpoints);
    tcase_add_test(tc, test_save_failure_leaves_nothing);
    tcase_add_test(tc, test_lr_schedule);
    tcase_add_test(tc, test_clip_grad_norm);
    suite_add_tcase(s, tc);
    return run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
