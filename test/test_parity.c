// test_parity.c: our DistilBERT, BERT and RoBERTa against dumps made by Hugging Face transformers (PyTorch),
// read and compared through the code of ./parity (model/dump.h, model/dump_compare.h).
//
// Fixtures: test/fixtures/{distilbert,bert,roberta}-tiny/ and distilbert-tiny-fp16/ (weights stored as
// float16) made by dev/make_parity_fixtures.py with dev/dump_torch.py — small random
// *ForSequenceClassification models saved with save_pretrained, and two parity dumps (doc/parity.md):
//   dump.safetensors        every activation of the format, its gradient, every parameter gradient, and the
//                           parameters after one AdamW step (no clipping)
//   dump-clip2.safetensors  the parameter gradients and the parameters after two steps of forward, backward,
//                           clip_grad_norm_(0.05), AdamW, with the two norms
// all computed by PyTorch. We load the checkpoint with our own loader and require every tensor of ours to
// be in the dump and within the fp32 tolerances of doc/parity.md: forward |d| <= 1e-5·max(1, max|ref|)
// + 1e-4|ref|, gradients |d| <= 1e-5 + 1e-4|ref|, parameters after steps |d| <= 1e-6 + 1e-5|ref| (noise-level
// gradients: the AdamW step bound 2·steps·lr), each also with a relative L2 bound (1e-5, 1e-4, 1e-3).
// Negative controls: one FFN weight of layer 0 moved by 1e-3 must fail first at layer.0.ffn_preact; a dump
// for another architecture, a tensor of the wrong shape and an unknown tensor are one-line errors. ./parity
// itself: exit 0 on a fixture, 1 with one error line on a mismatched model, and its --write-dump read back.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/checkpoint.h"
#include "model/dump.h"
#include "model/dump_compare.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "test/run_suite.h"

static const char *bin_dir = ".";

// one dump opened with the fixture's checkpoint loaded for its batch
typedef struct {
    safetensors_file dump;
    DumpInputs in;
    DumpAdamW adamw;
    Model m;
} Fixture;

static void fixture_open(Fixture *f, const char *dir, const char *dump_path) {
    char err[512], notice[512];
    ck_assert_msg(dump_open(&f->dump, dump_path, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(dump_read_inputs(&f->dump, &f->in, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(dump_read_adamw(&f->dump, &f->adamw, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(checkpoint_load(&f->m, dir, dump_num_labels(&f->dump), NULL, 0, notice, sizeof notice, err,
                                  sizeof err) == 0, "%s", err);
    ck_assert_msg(notice[0] == '\0', "unexpected: %s", notice);  // the fixture has a full head
    ck_assert_msg(dump_check_model(&f->dump, &f->m.config, err, sizeof err) == 0, "%s", err);  // as ./parity does
    ck_assert_msg(dump_apply_init(&f->dump, &f->m, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(model_alloc_activations(&f->m, f->in.B, f->in.T, err, sizeof err) == 0, "%s", err);
}

static void fixture_close(Fixture *f) {
    model_free(&f->m);
    dump_inputs_free(&f->in);
    safetensors_close(&f->dump);
}

static void cpu_forward_backward(Fixture *f) {
    char err[512];
    ck_assert_msg(model_forward(&f->m, f->in.ids, f->in.mask, f->in.labels, f->in.B, f->in.T, 0, err, sizeof err) == 0,
                  "%s", err);
    model_zero_grad(&f->m);
    model_backward(&f->m);
}

// Our tensors for the dump, as ./parity gathers them on the CPU: forward, backward, then the dump's AdamW run.
static void collect_ours(Fixture *f, DumpList *ours) {
    char err[512];
    cpu_forward_backward(f);
    Model *m = &f->m;
    ModelView v = {&m->config, m->table, m->n_entries, &m->acts, &m->grads_acts, m->grads_memory, m->mean_loss,
                   f->in.B, f->in.T, 1};
    memset(ours, 0, sizeof *ours);
    ck_assert_msg(dump_collect(ours, &v, 1, err, sizeof err) == 0, "%s", err);
    if (f->adamw.steps == 0) return;
    float norms[8];
    ck_assert(f->adamw.steps <= 8);
    for (int s = 0; s < f->adamw.steps; s++) {
        if (s > 0) cpu_forward_backward(f);
        norms[s] = (float)model_clip_grad_norm(m, f->adamw.max_grad_norm);
        ck_assert(model_adamw_update(m, f->adamw.lr, f->adamw.beta1, f->adamw.beta2, f->adamw.eps,
                                     f->adamw.weight_decay, err, sizeof err) == 0);
    }
    ck_assert_msg(dump_collect_adamw(ours, &v, m->params_memory, norms, f->adamw.steps, err, sizeof err) == 0, "%s",
                  err);
}

// the results of one dump (every tensor of ours must be in it when `all`, else those it holds)
static CompareResult *compare_dump(Fixture *f, DumpList *ours, int *n) {
    char err[512];
    ck_assert_msg(dump_check_names(&f->dump, ours, err, sizeof err) == 0, "%s", err);
    CompareResult *r;
    ck_assert_msg(dump_compare(&f->dump, ours, PRECISION_TABLE_FP32, &f->adamw, &r, n, err, sizeof err) == 0, "%s",
                  err);
    return r;
}

static void run_parity(const char *dir) {
    const char *dumps[2] = {"dump.safetensors", "dump-clip2.safetensors"};
    for (int k = 0; k < 2; k++) {
        Fixture f;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, dumps[k]);
        fixture_open(&f, dir, path);
        DumpList ours;
        collect_ours(&f, &ours);
        int n;
        CompareResult *r = compare_dump(&f, &ours, &n);
        // dump.safetensors holds every tensor of ours; dump-clip2 the parameter gradients and the AdamW run
        int expected = 0;
        for (int i = 0; i < ours.n; i++)
            expected += k == 0 || ours.t[i].param || !strcmp(ours.t[i].name, "adamw.grad_norm");
        ck_assert_msg(n == expected, "%s/%s: %d tensors compared, expected %d", dir, dumps[k], n, expected);
        ck_assert_int_eq(f.adamw.steps, k == 0 ? 1 : 2);
        ck_assert(k == 0 ? f.adamw.max_grad_norm == 0 : f.adamw.max_grad_norm > 0);
        double worst[3] = {0, 0, 0}, max_abs[3] = {0, 0, 0}, max_l2[3] = {0, 0, 0};
        size_t loose = 0;
        for (int i = 0; i < n; i++) {
            const DumpTensor *t = r[i].ours;
            ck_assert_msg(r[i].ok, "%s/%s: %s: element %zu ours %.9g, transformers %.9g (max abs %.3g, worst %.3g of "
                          "the elementwise tolerance, rel L2 %.3g)", dir, dumps[k], t->name, r[i].worst_index,
                          (double)r[i].worst_ours, (double)r[i].worst_ref, r[i].max_abs, r[i].worst, r[i].rel_l2);
            if (r[i].worst > worst[t->cls]) worst[t->cls] = r[i].worst;
            if (r[i].max_abs > max_abs[t->cls]) max_abs[t->cls] = r[i].max_abs;
            if (r[i].rel_l2 > max_l2[t->cls]) max_l2[t->cls] = r[i].rel_l2;
            loose += r[i].n_loose;
        }
        printf("%s/%s: %d tensors; max |diff| forward %.2e (worst %.2f of tolerance, rel L2 %.1e), gradients %.2e "
               "(%.2f, %.1e), after %d AdamW step(s) %.2e (%.2f, %.1e); %zu parameter elements with a noise-level "
               "gradient (held to the step bound)\n", dir, dumps[k], n, max_abs[0], worst[0], max_l2[0], max_abs[1],
               worst[1], max_l2[1], f.adamw.steps, max_abs[2], worst[2], max_l2[2], loose);
        free(r);
        dump_list_free(&ours);
        fixture_close(&f);
    }
}

static const char *FIXTURE_DIRS[] = {
    "test/fixtures/distilbert-tiny", "test/fixtures/distilbert-tiny-fp16",
    "test/fixtures/bert-tiny", "test/fixtures/roberta-tiny",
};

START_TEST(test_parity) { run_parity(FIXTURE_DIRS[_i]); }
END_TEST

// One weight of layer 0's first FFN linear moved by 1e-3 (row 0, so that output channel changes in every
// token): the first failure must be layer.0.ffn_preact, every tensor before it must still pass.
START_TEST(test_negative_control) {
    Fixture f;
    fixture_open(&f, "test/fixtures/bert-tiny", "test/fixtures/bert-tiny/dump.safetensors");
    const ParamEntry *e = model_find_param(&f.m, "bert.encoder.layer.0.intermediate.dense.weight");
    ck_assert_ptr_nonnull(e);
    for (int i = 0; i < f.m.config.dim; i++) f.m.params_memory[e->offset + i] += (i % 2 ? 1e-3f : -1e-3f);
    DumpList ours;
    collect_ours(&f, &ours);
    int n;
    CompareResult *r = compare_dump(&f, &ours, &n);
    int first = dump_first_failure(r, n);
    ck_assert_int_ge(first, 0);
    ck_assert_str_eq(r[first].ours->name, "layer.0.ffn_preact");
    free(r);
    dump_list_free(&ours);
    fixture_close(&f);
}
END_TEST

// a copy of a fixture dump without the tensor `replace`, plus `bad` when given
static void write_variant(const char *src, const char *dst, const char *replace, const st_write_tensor *bad) {
    safetensors_file f;
    char err[512];
    ck_assert_msg(safetensors_open(&f, src, err, sizeof err) == 0, "%s", err);
    st_write_tensor *w = calloc((size_t)f.n_tensors + 1, sizeof *w);
    float **bufs = calloc((size_t)f.n_tensors, sizeof *bufs);
    int64_t **ibufs = calloc((size_t)f.n_tensors, sizeof *ibufs);
    ck_assert(w && bufs && ibufs);
    int n = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        if (!strcmp(t->name, replace)) continue;
        w[n] = (st_write_tensor){.name = t->name, .ndim = t->ndim};
        memcpy(w[n].shape, t->shape, sizeof t->shape);
        if (t->dtype == ST_I64) {
            ibufs[i] = malloc(sizeof(int64_t) * t->numel);
            ck_assert(ibufs[i] && safetensors_read_i64(&f, t, ibufs[i], t->numel, err, sizeof err) == 0);
            w[n].dtype = ST_I64, w[n].data_i64 = ibufs[i];
        } else {
            bufs[i] = malloc(sizeof(float) * (t->numel ? t->numel : 1));
            ck_assert(bufs[i] && safetensors_read_f32(&f, t, bufs[i], t->numel, err, sizeof err) == 0);
            w[n].data = bufs[i];
        }
        n++;
    }
    if (bad && bad->name) w[n++] = *bad;
    st_meta meta[32];  // the dump's metadata but "format" (the writer adds it)
    int n_meta = 0;
    for (int i = 0; i < f.n_meta && n_meta < 32; i++)
        if (strcmp(f.meta[i].key, "format") != 0) meta[n_meta++] = f.meta[i];
    ck_assert_msg(safetensors_write_meta(dst, w, n, meta, n_meta, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < f.n_tensors; i++) free(bufs[i]), free(ibufs[i]);
    free(bufs), free(ibufs), free(w);
    safetensors_close(&f);
}

// the error dump_check_names or dump_compare gives for a variant dump, against bert-tiny
static void expect_compare_error(const char *dump_path, const char *needle) {
    Fixture f;
    char err[512];
    fixture_open(&f, "test/fixtures/bert-tiny", dump_path);
    DumpList ours;
    collect_ours(&f, &ours);
    CompareResult *r = NULL;
    int n;
    int rc = dump_check_names(&f.dump, &ours, err, sizeof err);
    if (rc == 0) rc = dump_compare(&f.dump, &ours, PRECISION_TABLE_FP32, &f.adamw, &r, &n, err, sizeof err);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(err, needle) && !strchr(err, '\n'), "error '%s' lacks '%s'", err, needle);
    free(r);
    dump_list_free(&ours);
    fixture_close(&f);
}

START_TEST(test_bad_dumps) {
    char dir[] = "/tmp/test_parity.XXXXXX", path[600], err[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    // a tensor of the wrong shape
    float x[4] = {0};
    st_write_tensor wrong = {.name = "layer.1.ffn_output", .ndim = 2, .shape = {2, 2}, .data = x};
    snprintf(path, sizeof path, "%s/shape.safetensors", dir);
    write_variant("test/fixtures/bert-tiny/dump.safetensors", path, "layer.1.ffn_output", &wrong);
    expect_compare_error(path, "tensor layer.1.ffn_output has shape 2x2, this model's is 3x[0/12]x32");
    // a name the format does not have
    st_write_tensor unknown = {.name = "layer.0.mystery", .ndim = 1, .shape = {4}, .data = x};
    snprintf(path, sizeof path, "%s/unknown.safetensors", dir);
    write_variant("test/fixtures/bert-tiny/dump.safetensors", path, "", &unknown);
    expect_compare_error(path, "tensor layer.0.mystery is not a name of the dump format");
    // the batch missing
    snprintf(path, sizeof path, "%s/nolabels.safetensors", dir);
    write_variant("test/fixtures/bert-tiny/dump.safetensors", path, "labels", NULL);
    safetensors_file f;
    DumpInputs in;
    ck_assert(dump_open(&f, path, err, sizeof err) == 0);
    ck_assert_int_ne(dump_read_inputs(&f, &in, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "tensor labels is missing"), "%s", err);
    safetensors_close(&f);
    // not a dump at all
    ck_assert_int_ne(dump_open(&f, "test/fixtures/bert-tiny/model.safetensors", err, sizeof err), 0);
    ck_assert_msg(strstr(err, "not a parity dump"), "%s", err);
    // a dump made for another model
    Model m;
    char notice[512];
    ck_assert(dump_open(&f, "test/fixtures/bert-tiny/dump.safetensors", err, sizeof err) == 0);
    ck_assert(checkpoint_load(&m, "test/fixtures/roberta-tiny", 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0);
    ck_assert_int_ne(dump_check_model(&f, &m.config, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "the dump was made for a bert model, the checkpoint is roberta"), "%s", err);
    model_free(&m);
    safetensors_close(&f);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(path), 0);
}
END_TEST

// ./parity: exit status, the summary line, one error line, and --write-dump read back by ./parity
static int run_parity_program(const char *args, const char *out) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s/parity %s >'%s' 2>'%s.err'", bin_dir, args, out, out);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int file_contains(const char *path, const char *needle) {
    FILE *fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return strstr(buf, needle) != NULL;
}

START_TEST(test_program) {
    char dir[] = "/tmp/test_parity_prog.XXXXXX", out[600], args[2000], err_path[700];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(err_path, sizeof err_path, "%s.err", out);
    snprintf(args, sizeof args, "--model test/fixtures/roberta-tiny --dump test/fixtures/roberta-tiny/dump.safetensors "
             "--write-dump %s/ours.safetensors", dir);
    ck_assert_int_eq(run_parity_program(args, out), 0);
    ck_assert(file_contains(out, "layer.1.ffn_preact"));
    ck_assert(file_contains(out, "tensors within the fp32 tolerances"));
    // our own dump, compared with ourselves: the last block's token-0 slices keep their size-1 axis
    snprintf(args, sizeof args, "--model test/fixtures/roberta-tiny --dump %s/ours.safetensors --json", dir);
    ck_assert_int_eq(run_parity_program(args, out), 0);
    ck_assert(file_contains(out, "\"first_failure\":\tnull"));
    // a mismatched model: exit 1, one line on stderr
    ck_assert_int_eq(run_parity_program("--model test/fixtures/distilbert-tiny --dump "
                                        "test/fixtures/bert-tiny/dump.safetensors", out), 1);
    ck_assert(file_contains(err_path, "parity: error: test/fixtures/bert-tiny/dump.safetensors: the dump was made for "
                                      "a bert model, the checkpoint is distilbert\n"));
    // the CPU build (what `make test` links) refuses --device cuda with one line
    ck_assert_int_eq(run_parity_program("--device cuda --model test/fixtures/bert-tiny --dump "
                                        "test/fixtures/bert-tiny/dump.safetensors", out), 1);
    ck_assert(file_contains(err_path, "parity: error: --device cuda needs a CUDA build"));
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(args), 0);
}
END_TEST

int main(void) {
    if (getenv("ENC_BIN_DIR") && *getenv("ENC_BIN_DIR")) bin_dir = getenv("ENC_BIN_DIR");
    Suite *s = suite_create("parity");
    TCase *tc = tcase_create("transformers");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_parity, 0, (int)(sizeof FIXTURE_DIRS / sizeof FIXTURE_DIRS[0]));
    tcase_add_test(tc, test_negative_control);
    tcase_add_test(tc, test_bad_dumps);
    tcase_add_test(tc, test_program);
    suite_add_tcase(s, tc);
    return run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
