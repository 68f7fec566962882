// test_hostile_programs.c: the program-level rows of the bad-input catalogue (doc/reliability.md) that
// test_pipeline.c does not already run: ./train with max-length 0 or above the model's positions, an
// output directory that cannot be made, a config with an unknown model_type or a wrong-typed field,
// weights with NaN / a truncated model.safetensors, and the disk filling up while the checkpoint is
// written (RLIMIT_FSIZE through the shell's ulimit, SIGXFSZ ignored). Each must exit 1 with one error
// line naming the file and the problem, and leave no checkpoint or temporary file behind. A batch
// larger than the data is not an error: it trains with one short batch. Issue 15's data and config
// sanity rows: stray integer and word labels, too many labels, a config with another family's keys or
// a missing shape key, an all-[UNK] tokenizer, --max-length 2, --max-steps 0, --threads above the cores.
//
// The programs come from $ENC_BIN_DIR (default "."; `make test-asan` points it at the sanitized build).
// Run from the repo root; a tiny random-init DistilBERT (test/fixtures/distilbert-micro.json) on 24 rows.
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fileio.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "test/run_suite.h"
#include "test/test_files.h"

#define CONFIG "test/fixtures/distilbert-micro.json"
#define TOKENIZER "../shared/data/vocab/bert-base-uncased"

static char tmp_root[256];
static const char *bin_dir = ".";


static void setup(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/test_hostile_programs.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
    char p[512];
    snprintf(p, sizeof p, "%s/data.tsv", tmp_root);
    FILE *fp = fopen(p, "w");
    ck_assert_ptr_nonnull(fp);
    for (int i = 0; i < 24; i++) fprintf(fp, "%s review number %d\t%d\n", i % 2 ? "a great" : "an awful", i, i % 2);
    fclose(fp);
}

static void teardown(void) { remove_tree(tmp_root); }

static void put(const char *name, const char *content) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp_root, name);
    FILE *fp = fopen(p, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(content, fp);
    fclose(fp);
}

// Run `<prefix> <bin_dir>/<args>` from the repo root, output in tmp_root/{stdout,stderr}.txt; exit status.
static int run(const char *prefix, const char *fmt, ...) {
    char args[3000], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s/%s >'%s/stdout.txt' 2>'%s/stderr.txt'", prefix ? prefix : "", bin_dir, args,
             tmp_root, tmp_root);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *stderr_text(void) {
    char p[512], *d, err[512];
    size_t n;
    snprintf(p, sizeof p, "%s/stderr.txt", tmp_root);
    ck_assert_msg(read_file(p, &d, &n, err, sizeof err) == 0, "%s", err);
    return d;
}

static int exists(const char *fmt, const char *a) {
    char p[600];
    snprintf(p, sizeof p, fmt, tmp_root, a);
    struct stat st;
    return stat(p, &st) == 0;
}


// exit status 1, exactly one stderr line holding both needles, and no output directory `out`
static void expect_error(int status, const char *what, const char *needle1, const char *needle2) {
    char *err = stderr_text();
    ck_assert_msg(status == 1, "%s: exit status %d (want 1); stderr: %s", what, status, err);
    int lines = 0;
    for (char *p = err; *p; p++) lines += *p == '\n';
    ck_assert_msg(lines == 1, "%s: want one error line, got:\n%s", what, err);
    ck_assert_msg(strstr(err, needle1) != NULL, "%s: '%s' not in the error: %s", what, needle1, err);
    if (needle2) ck_assert_msg(strstr(err, needle2) != NULL, "%s: '%s' not in the error: %s", what, needle2, err);
    ck_assert_msg(!exists("%s/%s", "out"), "%s: an output directory was created", what);
    free(err);
}

#define TRAIN "train --tokenizer " TOKENIZER " --data %s/data.tsv --n-samples 0 --epochs 1 --threads 1 --seed 1"

START_TEST(test_max_length_zero_and_too_long) {
    int st = run(NULL, TRAIN " --config " CONFIG " --max-length 0 --output-dir %s/out", tmp_root, tmp_root);
    expect_error(st, "max-length 0", "--max-length", "0");
    st = run(NULL, TRAIN " --config " CONFIG " --max-length 200 --output-dir %s/out", tmp_root, tmp_root);
    expect_error(st, "max-length above the positions", "max_position_embeddings 128", "distilbert-micro.json");
}
END_TEST

START_TEST(test_one_class_dataset) {
    // integer labels, all 1: the label space is {0, 1} but class 0 has no example
    put("one.tsv", "a fine film\t1\na dull film\t1\nan odd film\t1\n");
    int st = run(NULL, "train --tokenizer " TOKENIZER " --config " CONFIG " --data %s/one.tsv --max-length 16 "
                 "--output-dir %s/out", tmp_root, tmp_root);
    expect_error(st, "one-class dataset", "one.tsv", "at least 2 classes");
}
END_TEST

// Labels taken too literally (issue 15): a stray integer label made a 501-class model, a stray word a
// one-row class, too many labels was blamed on the config. Each is an error naming the data and rows.
START_TEST(test_label_sanity) {
    char rows[4096] = "";
    for (int i = 0; i < 20; i++) {
        size_t at = strlen(rows);
        snprintf(rows + at, sizeof rows - at, "review number %d\t%d\n", i, i % 2);
    }
    char text[4200];
    snprintf(text, sizeof text, "%sa stray row\t500\n", rows);
    put("stray.tsv", text);
    int st = run(NULL, "train --tokenizer " TOKENIZER " --config " CONFIG " --data %s/stray.tsv --max-length 16 "
                 "--output-dir %s/out", tmp_root, tmp_root);
    expect_error(st, "stray integer label", "stray.tsv: integer labels are class ids 0..500", "line 21");
    st = run(NULL, "train --tokenizer " TOKENIZER " --config " CONFIG " --data %s/stray.tsv --num-labels 2 --max-length 16 "
             "--output-dir %s/out", tmp_root, tmp_root);
    expect_error(st, "stray label with --num-labels", "stray.tsv:21", "500");
    snprintf(text, sizeof text, "text\tlabel\n%s", rows);
    for (char *p = text; (p = strstr(p, "\t0\n")); p += 3) memcpy(p, "\tn\n", 3);
    for (char *p = text; (p = strstr(p, "\t1\n")); p += 3) memcpy(p, "\tp\n", 3);
    strcat(text, "one more\tpositve\n");
    put("word.tsv", text);
    st = run(NULL, "train --tokenizer " TOKENIZER " --config " CONFIG " --data %s/word.tsv --max-length 16 "
             "--output-dir %s/out", tmp_root, tmp_root);
    expect_error(st, "one-row word label", "word.tsv: class 'positve' has only 1 row (line 22)", "--min-class-rows");
    // 1100 classes of one row each: the data is named, not the config
    char *many = malloc(40000);
    ck_assert_ptr_nonnull(many);
    strcpy(many, "text\tlabel\n");
    for (int i = 0; i < 1100; i++) snprintf(many + strlen(many), 40000 - strlen(many), "row %d\tclass%d\n", i, i);
    put("many.tsv", many);
    free(many);
    st = run(NULL, "train --tokenizer " TOKENIZER " --config " CONFIG " --data %s/many.tsv --min-class-rows 1 "
             "--max-length 16 --output-dir %s/out", tmp_root, tmp_root);
    expect_error(st, "too many labels", "many.tsv: 1100 labels", NULL);
}
END_TEST

// Configs taken too literally: model_type bert with DistilBERT's keys built BERT-base (109M parameters);
// a missing n_heads was reported as "not divisible by n_heads 12"
START_TEST(test_config_key_sanity) {
    put("mixed.json", "{\"model_type\":\"bert\",\"vocab_size\":30522,\"dim\":32,\"n_layers\":2,\"n_heads\":2,"
        "\"hidden_dim\":37}");
    int st = run(NULL, TRAIN " --config %s/mixed.json --max-length 16 --output-dir %s/out", tmp_root, tmp_root, tmp_root);
    expect_error(st, "DistilBERT keys under model_type bert", "mixed.json: key \"dim\" belongs to DistilBERT", "bert");
    put("noheads.json", "{\"model_type\":\"distilbert\",\"vocab_size\":30522,\"dim\":32,\"n_layers\":2,"
        "\"hidden_dim\":37}");
    st = run(NULL, TRAIN " --config %s/noheads.json --max-length 16 --output-dir %s/out", tmp_root, tmp_root, tmp_root);
    expect_error(st, "missing n_heads", "noheads.json: missing required key \"n_heads\"", NULL);
}
END_TEST

// A 5-token vocabulary trained on all-[UNK] input; --max-length 2 left no room for text; --max-steps 0
// meant "no limit"; --threads above the cores passed without a word
START_TEST(test_tokenizer_and_flag_sanity) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/tiny_vocab", tmp_root);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    put("tiny_vocab/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    int st = run(NULL, "train --tokenizer %s/tiny_vocab --config " CONFIG " --data %s/data.tsv --max-length 16 "
                 "--output-dir %s/out", tmp_root, tmp_root, tmp_root);
    expect_error(st, "all-[UNK] tokenizer", "tiny_vocab", "are the unknown token");
    st = run(NULL, TRAIN " --config " CONFIG " --max-length 2 --output-dir %s/out", tmp_root, tmp_root);
    expect_error(st, "max-length 2", "--max-length 2 leaves no room for text", "2 special tokens");
    st = run(NULL, TRAIN " --config " CONFIG " --max-length 16 --max-steps 0 --output-dir %s/out", tmp_root, tmp_root);
    expect_error(st, "max-steps 0", "--max-steps expects an integer in [1,", NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    st = run(NULL, "train --tokenizer " TOKENIZER " --data %s/data.tsv --n-samples 0 --epochs 1 --seed 1 --config " CONFIG
             " --max-length 16 --threads %ld --max-steps 1 --output-dir %s/threads", tmp_root, cores + 1, tmp_root);
    char *err = stderr_text();
    ck_assert_msg(st == 0 && strstr(err, "warning: --threads") && strstr(err, "more than the"), "status %d: %s", st, err);
    free(err);
}
END_TEST

START_TEST(test_unwritable_output_dir) {
    put("afile", "x");
    int st = run(NULL, TRAIN " --config " CONFIG " --max-length 16 --output-dir %s/afile/out", tmp_root, tmp_root);
    expect_error(st, "output dir under a file", "afile", NULL);
    st = run(NULL, TRAIN " --config " CONFIG " --max-length 16 --output-dir /proc/encoder_no_such/out", tmp_root);
    expect_error(st, "output dir in /proc", "/proc/encoder_no_such", NULL);
}
END_TEST

START_TEST(test_bad_configs) {
    put("gpt2.json", "{\"model_type\":\"gpt2\",\"vocab_size\":30522}");
    int st = run(NULL, TRAIN " --config %s/gpt2.json --max-length 16 --output-dir %s/out", tmp_root, tmp_root, tmp_root);
    expect_error(st, "unknown model_type", "gpt2.json", "gpt2");
    put("typed.json", "{\"model_type\":\"distilbert\",\"dim\":\"32\",\"vocab_size\":30522}");
    st = run(NULL, TRAIN " --config %s/typed.json --max-length 16 --output-dir %s/out", tmp_root, tmp_root, tmp_root);
    expect_error(st, "wrong-typed field", "typed.json", "\"dim\"");
    put("missing.json", "{\"dim\":32}");
    st = run(NULL, TRAIN " --config %s/missing.json --max-length 16 --output-dir %s/out", tmp_root, tmp_root, tmp_root);
    expect_error(st, "missing model_type", "missing.json", "model_type");
    put("utf8.json", "{\"model_type\":\"distilbert\",\"vocab_size\":30522,\"id2label\":{\"0\":\"\xff\",\"1\":\"b\"}}");
    st = run(NULL, TRAIN " --config %s/utf8.json --max-length 16 --output-dir %s/out", tmp_root, tmp_root, tmp_root);
    expect_error(st, "invalid UTF-8 in config", "utf8.json", "UTF-8");
}
END_TEST

// A checkpoint dir made from the micro config (random weights); `poison`: a NaN in the first tensor,
// `cut`: the last bytes of model.safetensors cut off.
static void make_checkpoint(const char *name, int poison, int cut) {
    char dir[512], err[512];
    snprintf(dir, sizeof dir, "%s/%s", tmp_root, name);
    ModelConfig cfg;
    ck_assert_msg(config_load(&cfg, CONFIG, err, sizeof err) == 0, "%s", err);
    Model m;
    ck_assert_msg(model_init(&m, &cfg, err, sizeof err) == 0, "%s", err);
    model_init_weights(&m, 7, 0);
    ck_assert_msg(checkpoint_save(&m, dir, err, sizeof err) == 0, "%s", err);
    model_free(&m);  // model_init took over cfg's strings
    char w[600];
    snprintf(w, sizeof w, "%s/model.safetensors", dir);
    if (poison) {
        safetensors_file f;
        ck_assert_msg(safetensors_open(&f, w, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(f.tensors[0].dtype, ST_F32);
        long off = (long)(f.data_start + f.tensors[0].begin);
        safetensors_close(&f);
        FILE *fp = fopen(w, "r+b");
        ck_assert_ptr_nonnull(fp);
        ck_assert_int_eq(fseek(fp, off, SEEK_SET), 0);
        const unsigned char nan[4] = {0x00, 0x00, 0xc0, 0x7f};
        ck_assert_uint_eq(fwrite(nan, 1, 4, fp), 4);
        fclose(fp);
    }
    if (cut) {
        struct stat st;
        ck_assert_int_eq(stat(w, &st), 0);
        ck_assert_int_eq(truncate(w, st.st_size - 5), 0);
    }
}

START_TEST(test_bad_weights) {
    make_checkpoint("nan", 1, 0);
    int st = run(NULL, TRAIN " --model %s/nan --max-length 16 --output-dir %s/out", tmp_root, tmp_root, tmp_root);
    expect_error(st, "NaN weight", "model.safetensors", "non-finite");
    make_checkpoint("cut", 0, 1);
    st = run(NULL, TRAIN " --model %s/cut --max-length 16 --output-dir %s/out", tmp_root, tmp_root, tmp_root);
    expect_error(st, "truncated weights", "model.safetensors", NULL);
    st = run(NULL, "infer --model %s/nan hello", tmp_root);
    expect_error(st, "infer with NaN weights", "model.safetensors", "non-finite");
}
END_TEST

START_TEST(test_disk_full_during_checkpoint) {
    // 1000 KiB per file: split.json fits, the 3.9 MB model.safetensors does not
    int st = run("trap '' XFSZ; ulimit -f 1000;", TRAIN " --config " CONFIG " --max-length 16 --output-dir %s/full",
                 tmp_root, tmp_root);
    char *err = stderr_text();
    ck_assert_msg(st == 1, "disk full: exit status %d (want 1); stderr: %s", st, err);
    const char *last = err;  // progress lines come first; the error is the last line
    for (const char *p = err; *p; p++)
        if (p[0] == '\n' && p[1]) last = p + 1;
    ck_assert_msg(strstr(last, "model.safetensors") && strstr(last, "File too large") && strstr(last, "error"),
                  "disk full: last line is '%s'", last);
    ck_assert_msg(!exists("%s/%s", "full/best"), "disk full: a best/ checkpoint was left");
    char full[512];
    snprintf(full, sizeof full, "%s/full", tmp_root);
    ck_assert_int_eq(count_temporaries(full), 0);
    free(err);
}
END_TEST

START_TEST(test_batch_larger_than_data) {
    int st = run(NULL, TRAIN " --config " CONFIG " --max-length 16 --batch-size 1000 --eval-batch-size 1000 --output-dir %s/big",
                 tmp_root, tmp_root);
    char *err = stderr_text();
    ck_assert_msg(st == 0, "batch 1000 on 24 rows: exit status %d; stderr: %s", st, err);
    free(err);
    ck_assert(exists("%s/%s", "big/metrics.json"));
    ck_assert(exists("%s/%s", "big/best/model.safetensors"));
}
END_TEST

int main(void) {
    if (getenv("ENC_BIN_DIR") && *getenv("ENC_BIN_DIR")) bin_dir = getenv("ENC_BIN_DIR");
    char p[512];
    snprintf(p, sizeof p, "%s/train", bin_dir);
    if (access(p, X_OK) != 0) {
        fprintf(stderr, "test_hostile_programs: %s not built (make train infer)\n", p);
        return 1;
    }
    Suite *s = suite_create("hostile_programs");
    TCase *tc = tcase_create("train_infer");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_max_length_zero_and_too_long);
    tcase_add_test(tc, test_unwritable_output_dir);
    tcase_add_test(tc, test_one_class_dataset);
    tcase_add_test(tc, test_label_sanity);
    tcase_add_test(tc, test_config_key_sanity);
    tcase_add_test(tc, test_tokenizer_and_flag_sanity);
    tcase_add_test(tc, test_bad_configs);
    tcase_add_test(tc, test_bad_weights);
    tcase_add_test(tc, test_disk_full_during_checkpoint);
    tcase_add_test(tc, test_batch_larger_than_data);
    suite_add_tcase(s, tc);
    return run_suite(s) ? 1 : 0;
}
