// test_hostile.c: rows of the bad-input catalogue (doc/reliability.md) that the per-module suites did not
// cover yet, and one regression test per bug the fuzzers found. Each bad input must give -1 and one error
// line naming the file and the problem; writers that fail must leave the destination as it was and no
// temporary file behind.
//
// Disk full is simulated with RLIMIT_FSIZE in a forked child that ignores SIGXFSZ, so write(2) fails
// with EFBIG part-way through the file (the same path as ENOSPC: a short or failed write, then cleanup).
// Run from the repo root (fixtures in test/fixtures, vocabularies in ../shared/data/vocab).
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fileio.h"
#include "data/dataset.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "test/run_suite.h"
#include "tokenizer/tokenizer.h"
#include "test/test_files.h"

#define FIXTURE "test/fixtures/distilbert-tiny"

static char tmp_root[256];

static void make_tmp_root(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/test_hostile.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
}


// tmp_root/<name>, written with n bytes of data (n = -1: strlen); returns the path (static buffer per call site)
static const char *put(char *buf, size_t cap, const char *name, const char *data, long n) {
    snprintf(buf, cap, "%s/%s", tmp_root, name);
    for (char *q = buf + strlen(tmp_root) + 1; (q = strchr(q, '/')); q++) {  // sub-folders: create them
        *q = '\0';
        mkdir(buf, 0755);
        *q = '/';
    }
    FILE *fp = fopen(buf, "wb");
    ck_assert_ptr_nonnull(fp);
    size_t len = n < 0 ? strlen(data) : (size_t)n;
    ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
    ck_assert_int_eq(fclose(fp), 0);
    return buf;
}

static void assert_one_line(const char *err, const char *path) {
    ck_assert_msg(err[0] && strchr(err, '\n') == NULL && strchr(err, '\r') == NULL, "error is not one line: '%s'", err);
    if (path) ck_assert_msg(strstr(err, path) != NULL, "error does not name %s: '%s'", path, err);
}

static void expect_config_error(const char *name, const char *json, long n, const char *needle) {
    char p[512], err[512] = "";
    put(p, sizeof p, name, json, n);
    ModelConfig c;
    ck_assert_msg(config_load(&c, p, err, sizeof err) == -1, "%s loaded", name);
    assert_one_line(err, p);
    ck_assert_msg(strstr(err, needle) != NULL, "%s: error '%s' lacks '%s'", name, err, needle);
}

static void expect_tokenizer_error(const char *path, const char *needle) {
    Tokenizer *t = NULL;
    char err[512] = "";
    ck_assert_msg(tokenizer_load(&t, path, err, sizeof err) == -1 && t == NULL, "%s loaded", path);
    assert_one_line(err, NULL);
    ck_assert_msg(strstr(err, needle) != NULL, "%s: error '%s' lacks '%s'", path, err, needle);
}

// ---------------------------------------------------------------------------------------------------
// config.json (catalogue rows 33-44 for config.json; unknown model_type)

START_TEST(test_config_hostile_json) {
    make_tmp_root();
    // these were accepted before config_load used json_read_file (common/json_check.h)
    expect_config_error("utf8.json", "{\"model_type\":\"distilbert\",\"id2label\":{\"0\":\"caf\xe9\",\"1\":\"b\"}}", -1,
                        "invalid UTF-8 at byte 47");
    expect_config_error("nul_escape.json", "{\"model_type\":\"distilbert\",\"id2label\":{\"0\":\"a\\u0000x\",\"1\":\"a\\u0000y\"}}",
                        -1, "\\u0000");
    expect_config_error("bad_escape.json", "{\"model_type\":\"distilbert\",\"id2label\":{\"0\":\"x\\uZZZZ\"}}", -1,
                        "invalid \\u escape");
    expect_config_error("two.json", "{\"model_type\":\"distilbert\"}{\"model_type\":\"bert\"}", -1, "invalid JSON at byte");
    expect_config_error("garbage.json", "{\"model_type\":\"distilbert\"} trailing", -1, "invalid JSON at byte");
    expect_config_error("nul.json", "{\"model_type\":\"distilbert\"}\0{}", 30, "NUL byte at byte 27");
    expect_config_error("nan.json", "{\"model_type\":\"distilbert\",\"dropout\":NaN}", -1, "NaN/Infinity are not JSON");
    expect_config_error("comma.json", "{\"1\":1,", -1, "invalid JSON");  // CVE-2023-53154 shape
    char deep[2100];
    memset(deep, '[', 1001);
    memset(deep + 1001, ']', 1001);
    deep[2002] = '\0';
    expect_config_error("deep.json", deep, -1, "nests deeper");
    // unknown / missing / wrong-typed model_type, with a newline in it: still one line
    expect_config_error("gpt2.json", "{\"model_type\":\"gpt2\"}", -1, "model_type \"gpt2\" is not supported");
    expect_config_error("newline.json", "{\"model_type\":\"dist\\nilbert\"}", -1, "dist\\x0Ailbert");
    expect_config_error("missing.json", "{\"dim\":32}", -1, "missing string field \"model_type\"");
    expect_config_error("typed.json", "{\"model_type\":7}", -1, "model_type");
    // wrong-typed and out-of-range fields
    expect_config_error("dim_str.json", "{\"model_type\":\"distilbert\",\"dim\":\"768\"}", -1, "\"dim\" must be an integer");
    expect_config_error("dim_big.json", "{\"model_type\":\"distilbert\",\"dim\":1e30}", -1, "\"dim\"");
    expect_config_error("eps.json", "{\"model_type\":\"bert\",\"layer_norm_eps\":1e999}", -1, "layer_norm_eps");
    expect_config_error("eps0.json", "{\"model_type\":\"bert\",\"layer_norm_eps\":-1}", -1, "layer_norm_eps");
    expect_config_error("act.json", "{\"model_type\":\"bert\",\"hidden_act\":\"silu\"}", -1, "silu");
    expect_config_error("labels.json", "{\"model_type\":\"distilbert\",\"id2label\":{\"0\":\"a\",\"00\":\"b\"}}", -1, "id2label");
    expect_config_error("pad.json", "{\"model_type\":\"distilbert\",\"vocab_size\":100,\"pad_token_id\":100}", -1, "pad_token_id");
    char p[512], err[512];
    ModelConfig c;
    snprintf(p, sizeof p, "%s/adir", tmp_root);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(config_load(&c, p, err, sizeof err), -1);
    assert_one_line(err, p);
    ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
    remove_tree(tmp_root);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// tokenizer files

START_TEST(test_tokenizer_hostile_json) {
    make_tmp_root();
    char p[512];
    const char *tail = "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
                       "\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"a\":1}}}";
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},%s {}", tail);
    expect_tokenizer_error(put(p, sizeof p, "two.json", buf, -1), "invalid JSON at byte");
    snprintf(buf, sizeof buf, "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"x\":\"\xff\",%s", tail);
    expect_tokenizer_error(put(p, sizeof p, "utf8.json", buf, -1), "invalid UTF-8 at byte");
    snprintf(buf, sizeof buf, "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"added_tokens\":[{\"id\":1,\"content\":\"a\\u0000b\"}],%s", tail);
    expect_tokenizer_error(put(p, sizeof p, "nul.json", buf, -1), "\\u0000");
    // an error quoting a token with a newline in it stays one line
    expect_tokenizer_error(put(p, sizeof p, "nl/vocab.json", "{\"a\\nb\\u00ff\":0}", -1), "");
    put(p, sizeof p, "nl/merges.txt", "#version: 0.2\n", -1);
    snprintf(p, sizeof p, "%s/nl", tmp_root);
    expect_tokenizer_error(p, "");
    // fuzz_tokenizer_json / fuzz_bpe_files: ids and limits far outside long's range (undefined cast
    // before the range check; UBSan in make test-asan)
    put(p, sizeof p, "big/merges.txt", "#version: 0.2\n", -1);
    put(p, sizeof p, "big/vocab.json", "{\"a\":2e51}", -1);
    snprintf(p, sizeof p, "%s/big", tmp_root);
    expect_tokenizer_error(p, "must be an integer");
    put(p, sizeof p, "big/vocab.json", "{\"a\":-1e999}", -1);
    snprintf(p, sizeof p, "%s/big", tmp_root);
    expect_tokenizer_error(p, "must be an integer");
    // fuzz_tokenizer_json, 30-minute run: one token with id 2e9 made vocab_add allocate 2^31 slots (4+ GB);
    // ids may now exceed the entry count by at most 65535 (and never VOCAB_MAX_ID)
    expect_tokenizer_error(put(p, sizeof p, "sparse.json", "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
                               "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,"
                               "\"a\":2000000000}}}", -1), "entries + 65535");
    put(p, sizeof p, "big/vocab.json", "{\"a\":0,\"b\":70000}", -1);
    snprintf(p, sizeof p, "%s/big", tmp_root);
    expect_tokenizer_error(p, "entries + 65535");
    expect_tokenizer_error(put(p, sizeof p, "mc.json", "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":"
                               "{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"max_input_chars_per_word\":4.4e122,"
                               "\"vocab\":{\"[UNK]\":0}}}", -1), "max_input_chars_per_word");
    // vocab.txt with a token that is invalid UTF-8, and with a NUL byte
    expect_tokenizer_error(put(p, sizeof p, "bad.txt", "[UNK]\ncaf\xe9\n", -1), "invalid UTF-8");
    expect_tokenizer_error(put(p, sizeof p, "nulv.txt", "[UNK]\na\0b\n", 10), "NUL");
    remove_tree(tmp_root);
}
END_TEST

// fuzz_vocab_txt: special tokens named in tokenizer_config.json / special_tokens_map.json were read from
// the freed cJSON tree (heap use after free in wordpiece_init; ASan in make test-asan).
START_TEST(test_regression_vocab_txt_special_tokens_from_config) {
    make_tmp_root();
    char p[512];
    put(p, sizeof p, "wp/vocab.txt", "<pad>\n<oov>\n<cls>\n<sep>\n<msk>\nthe\n", -1);
    put(p, sizeof p, "wp/tokenizer_config.json",
        "{\"unk_token\":\"<oov>\",\"cls_token\":\"<cls>\",\"sep_token\":{\"content\":\"<sep>\"},\"pad_token\":\"<pad>\","
        "\"mask_token\":\"<msk>\"}", -1);
    snprintf(p, sizeof p, "%s/wp", tmp_root);
    Tokenizer *t = NULL;
    char err[512];
    ck_assert_msg(tokenizer_load(&t, p, err, sizeof err) == 0, "%s", err);
    TokenizerEncoding enc = {0};
    ck_assert_int_eq(tokenizer_encode(t, "the zebra", 9, 0, &enc, err, sizeof err), 0);
    ck_assert_int_eq(enc.n, 4);
    ck_assert_int_eq(enc.ids[0], 2);  // <cls>
    ck_assert_int_eq(enc.ids[1], 5);  // the
    ck_assert_int_eq(enc.ids[2], 1);  // zebra -> <oov>
    ck_assert_int_eq(enc.ids[3], 3);  // <sep>
    ck_assert_int_eq(tokenizer_pad_id(t), 0);
    tokenizer_encoding_free(&enc);
    tokenizer_free(t);
    remove_tree(tmp_root);
}
END_TEST

// fuzz_encode: the first text a tokenizer encodes is empty -> memcpy(dst, NULL, 0) (UBSan nonnull-attribute)
START_TEST(test_regression_encode_empty_first) {
    Tokenizer *t = NULL;
    char err[512];
    ck_assert_msg(tokenizer_load(&t, "../shared/data/vocab/bert-base-uncased/vocab.txt", err, sizeof err) == 0, "%s", err);
    TokenizerEncoding enc = {0};
    ck_assert_int_eq(tokenizer_encode(t, "", 0, 0, &enc, err, sizeof err), 0);
    ck_assert_int_eq(enc.n, 2);  // [CLS] [SEP]
    ck_assert_int_eq(tokenizer_encode(t, "   \t", 4, 0, &enc, err, sizeof err), 0);
    ck_assert_int_eq(enc.n, 2);
    // fuzz_encode: max_length below the two special tokens gave 2 ids (and batch row lengths > T)
    ck_assert_int_eq(tokenizer_encode(t, "hello", 5, 1, &enc, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "max_length 1 is smaller than the 2 special tokens"));
    int32_t ids[2], mask[2];
    int lens[2];
    const char *texts[2] = {"a", "b"};
    size_t tl[2] = {1, 1};
    ck_assert_int_eq(tokenizer_encode_batch(t, texts, tl, 2, 1, ids, mask, lens, err, sizeof err), -1);
    ck_assert_int_eq(tokenizer_encode(t, "hello", 5, 2, &enc, err, sizeof err), 0);
    ck_assert_int_eq(enc.n, 2);
    tokenizer_encoding_free(&enc);
    tokenizer_free(t);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// weights: Inf in a tensor (NaN is in test_checkpoint), truncated and misaligned files through checkpoint_load

// Copy FIXTURE into tmp_root/<name> with every tensor rewritten as F32; if poison, tensor 0 gets value v.
static void copy_checkpoint(const char *name, int poison, float v, size_t cut_bytes) {
    char dir[512], src[512], dst[600], err[512];
    snprintf(dir, sizeof dir, "%s/%s", tmp_root, name);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char *cfg;
    size_t n;
    ck_assert_msg(read_file(FIXTURE "/config.json", &cfg, &n, err, sizeof err) == 0, "%s", err);
    snprintf(dst, sizeof dst, "%s/config.json", dir);
    ck_assert_int_eq(write_file_atomic(dst, cfg, n, err, sizeof err), 0);
    free(cfg);
    safetensors_file f;
    snprintf(src, sizeof src, FIXTURE "/model.safetensors");
    ck_assert_msg(safetensors_open(&f, src, err, sizeof err) == 0, "%s", err);
    st_write_tensor *w = calloc((size_t)f.n_tensors, sizeof *w);
    float **data = calloc((size_t)f.n_tensors, sizeof *data);
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        data[i] = malloc((t->numel ? t->numel : 1) * sizeof(float));
        ck_assert_int_eq(safetensors_read_f32(&f, t, data[i], t->numel, err, sizeof err), 0);
        w[i].name = t->name;
        w[i].ndim = t->ndim;
        memcpy(w[i].shape, t->shape, sizeof t->shape);
        w[i].data = data[i];
    }
    if (poison) data[0][0] = v;
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    ck_assert_msg(safetensors_write(dst, w, f.n_tensors, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < f.n_tensors; i++) free(data[i]);
    free(data);
    free(w);
    safetensors_close(&f);
    if (cut_bytes) {
        struct stat st;
        ck_assert_int_eq(stat(dst, &st), 0);
        ck_assert_int_eq(truncate(dst, st.st_size - (off_t)cut_bytes), 0);
    }
}

static void expect_checkpoint_error(const char *name, const char *needle) {
    char dir[512], err[512] = "", notice[512];
    snprintf(dir, sizeof dir, "%s/%s", tmp_root, name);
    Model m;
    ck_assert_msg(checkpoint_load(&m, dir, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == -1, "%s loaded", name);
    assert_one_line(err, dir);
    ck_assert_msg(strstr(err, needle) != NULL, "%s: error '%s' lacks '%s'", name, err, needle);
}

START_TEST(test_weights_nonfinite_and_truncated) {
    make_tmp_root();
    copy_checkpoint("inf", 1, INFINITY, 0);
    expect_checkpoint_error("inf", "non-finite");
    copy_checkpoint("ninf", 1, -INFINITY, 0);
    expect_checkpoint_error("ninf", "non-finite");
    copy_checkpoint("nan", 1, NAN, 0);
    expect_checkpoint_error("nan", "non-finite");
    copy_checkpoint("trunc", 0, 0, 3);  // a download cut short
    expect_checkpoint_error("trunc", "model.safetensors");
    copy_checkpoint("ok", 0, 0, 0);     // the same copy, untouched, loads
    char dir[512], err[512], notice[512];
    snprintf(dir, sizeof dir, "%s/ok", tmp_root);
    Model m;
    ck_assert_msg(checkpoint_load(&m, dir, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    model_free(&m);
    remove_tree(tmp_root);
}
END_TEST


typedef enum { W_FILE_ATOMIC, W_SAFETENSORS, W_CHECKPOINT } WriteKind;

// In a child limited to `limit` bytes per file: do the write, which must fail; the child exits 0 if it
// failed with a one-line error naming `name_in_error` and saying the file is too large.
static void write_with_limit(WriteKind kind, const char *path, rlim_t limit, const char *name_in_error) {
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {limit, limit};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(10);
        char err[512] = "";
        int rc = -1;
        if (kind == W_FILE_ATOMIC) {
            size_t n = 1 << 20;
            char *buf = malloc(n);
            memset(buf, 'x', n);
            rc = write_file_atomic(path, buf, n, err, sizeof err);
        } else if (kind == W_SAFETENSORS) {
            static float big[1 << 18];
            st_write_tensor t = {.name = "w", .ndim = 1, .shape = {1 << 18}, .data = big};
            rc = safetensors_write(path, &t, 1, err, sizeof err);
        } else {
            Model m;
            char notice[512];
            if (checkpoint_load(&m, FIXTURE, 0, NULL, 0, notice, sizeof notice, err, sizeof err) != 0) _exit(11);
            rc = checkpoint_save(&m, path, err, sizeof err);
        }
        if (rc == 0) _exit(12);
        if (strchr(err, '\n') || !strstr(err, name_in_error) || !strstr(err, "File too large")) {
            fprintf(stderr, "unexpected error: %s\n", err);
            _exit(13);
        }
        _exit(0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d (10 setrlimit, 11 load, 12 write succeeded, "
                  "13 bad message)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static char *slurp(const char *path, size_t *n) {
    char *d, err[512];
    ck_assert_msg(read_file(path, &d, n, err, sizeof err) == 0, "%s", err);
    return d;
}

START_TEST(test_disk_full_atomic_writes) {
    make_tmp_root();
    char p[512], err[512];
    // write_file_atomic over an existing file: unchanged, no temporary left
    put(p, sizeof p, "data.bin", "previous contents", -1);
    write_with_limit(W_FILE_ATOMIC, p, 64 * 1024, "data.bin");
    size_t n;
    char *d = slurp(p, &n);
    ck_assert_str_eq(d, "previous contents");
    free(d);
    ck_assert_int_eq(count_temporaries(tmp_root), 0);
    // safetensors_write onto a path that did not exist: still absent
    snprintf(p, sizeof p, "%s/new.safetensors", tmp_root);
    write_with_limit(W_SAFETENSORS, p, 64 * 1024, "new.safetensors");
    struct stat st;
    ck_assert_int_ne(stat(p, &st), 0);
    ck_assert_int_eq(count_temporaries(tmp_root), 0);
    // checkpoint_save over a good checkpoint: both files byte-identical afterwards
    char dir[512], cfgp[600], wp[600];
    snprintf(dir, sizeof dir, "%s/ckpt", tmp_root);
    Model m;
    char notice[512];
    ck_assert_msg(checkpoint_load(&m, FIXTURE, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(checkpoint_save(&m, dir, err, sizeof err) == 0, "%s", err);
    model_free(&m);
    snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
    snprintf(wp, sizeof wp, "%s/model.safetensors", dir);
    size_t n_cfg, n_w;
    char *cfg0 = slurp(cfgp, &n_cfg), *w0 = slurp(wp, &n_w);
    ck_assert_uint_gt(n_w, 64 * 1024);
    write_with_limit(W_CHECKPOINT, dir, 64 * 1024, "model.safetensors");
    size_t n_cfg1, n_w1;
    char *cfg1 = slurp(cfgp, &n_cfg1), *w1 = slurp(wp, &n_w1);
    ck_assert(n_cfg1 == n_cfg && memcmp(cfg0, cfg1, n_cfg) == 0);
    ck_assert(n_w1 == n_w && memcmp(w0, w1, n_w) == 0);
    ck_assert_int_eq(count_temporaries(tmp_root), 0);
    free(cfg0); free(w0); free(cfg1); free(w1);
    // a fresh checkpoint directory: the failed save leaves no model.safetensors
    snprintf(dir, sizeof dir, "%s/fresh", tmp_root);
    write_with_limit(W_CHECKPOINT, dir, 64 * 1024, "model.safetensors");
    snprintf(wp, sizeof wp, "%s/fresh/model.safetensors", tmp_root);
    ck_assert_int_ne(stat(wp, &st), 0);
    ck_assert_int_eq(count_temporaries(tmp_root), 0);
    remove_tree(tmp_root);
}
END_TEST

// an output path whose parent is a regular file (root ignores permission bits, so "read-only" is not testable)
START_TEST(test_unwritable_output) {
    make_tmp_root();
    char p[512], q[600], err[512];
    put(p, sizeof p, "afile", "x", -1);
    snprintf(q, sizeof q, "%s/out.bin", p);
    ck_assert_int_eq(write_file_atomic(q, "abc", 3, err, sizeof err), -1);
    assert_one_line(err, q);
    float v = 1;
    st_write_tensor t = {.name = "w", .ndim = 1, .shape = {1}, .data = &v};
    ck_assert_int_eq(safetensors_write(q, &t, 1, err, sizeof err), -1);
    assert_one_line(err, "afile");
    Model m;
    char notice[512];
    ck_assert_msg(checkpoint_load(&m, FIXTURE, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    snprintf(q, sizeof q, "%s/ckpt", p);
    ck_assert_int_eq(checkpoint_save(&m, q, err, sizeof err), -1);
    assert_one_line(err, "afile");
    model_free(&m);
    ck_assert_int_eq(write_file_atomic("/proc/encoder_no_such_dir/x", "a", 1, err, sizeof err), -1);
    assert_one_line(err, "/proc/encoder_no_such_dir/x");
    remove_tree(tmp_root);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// datasets: rows the data suite does not have yet

static void expect_dataset_error(const char *name, const char *content, long n, const char *needle) {
    char p[512], err[512] = "";
    put(p, sizeof p, name, content, n);
    DatasetOptions o = dataset_options_default(p);
    Dataset ds;
    ck_assert_msg(dataset_load(&ds, &o, err, sizeof err) == -1, "%s loaded", name);
    assert_one_line(err, name);
    ck_assert_msg(strstr(err, needle) != NULL, "%s: error '%s' lacks '%s'", name, err, needle);
}

START_TEST(test_dataset_rows) {
    make_tmp_root();
    expect_dataset_error("empty.tsv", "", 0, "no examples");
    expect_dataset_error("blank.jsonl", "\n\n", -1, "no examples");
    expect_dataset_error("cp1252.jsonl", "{\"text\":\"caf\x92\",\"label\":1}\n", -1, "invalid UTF-8 byte 0x92");
    expect_dataset_error("nul.csv", "text,label\na\0b,1\n", 17, "NUL byte");
    expect_dataset_error("bom_twice.csv", "\xef\xbb\xbf\xef\xbb\xbftext,label\nx,1\n", -1, "label");
    // CRLF and LF give the same rows; a BOM is stripped once
    char p[512], err[512];
    const char *a = put(p, sizeof p, "crlf.csv", "\xef\xbb\xbftext,label\r\n\"x, y\",1\r\nz,0\r\n", -1);
    DatasetOptions o = dataset_options_default(a);
    Dataset ds;
    ck_assert_msg(dataset_load(&ds, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.texts[0], "x, y");
    ck_assert_str_eq(ds.texts[1], "z");
    dataset_free(&ds);
    // an imdb-dir file name with a newline: the error stays one line
    char dir[512];
    snprintf(dir, sizeof dir, "%s/acl", tmp_root);
    put(p, sizeof p, "acl/pos/bad\nname.md", "x", -1);
    o = dataset_options_default(dir);
    ck_assert_int_eq(dataset_load(&ds, &o, err, sizeof err), -1);
    assert_one_line(err, "bad\\x0Aname.md");
    remove_tree(tmp_root);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// folders, caps, links, overwriting what we read

START_TEST(test_imdb_dir_special_files) {
    make_tmp_root();
    char p[512], q[600], err[512];
    put(p, sizeof p, "acl/pos/1_10.txt", "good", -1);
    put(p, sizeof p, "acl/neg/2_1.txt", "bad", -1);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/acl", tmp_root);
    DatasetOptions o = dataset_options_default(dir);
    Dataset ds;
    ck_assert_msg(dataset_load(&ds, &o, err, sizeof err) == 0, "%s", err);
    dataset_free(&ds);
    // a symlink to /dev/zero (would never end), a FIFO (would block), a folder named like a review
    const char *kinds[3] = {"symlink", "fifo", "dir"};
    for (int k = 0; k < 3; k++) {
        snprintf(q, sizeof q, "%s/acl/neg/3_2.txt", tmp_root);
        if (k == 0) ck_assert_int_eq(symlink("/dev/zero", q), 0);
        if (k == 1) ck_assert_int_eq(mkfifo(q, 0600), 0);
        if (k == 2) ck_assert_int_eq(mkdir(q, 0755), 0);
        ck_assert_msg(dataset_load(&ds, &o, err, sizeof err) == -1, "%s loaded", kinds[k]);
        assert_one_line(err, "3_2.txt");
        if (k == 2) rmdir(q); else unlink(q);
    }
    // a CSV field above the 1 MiB cap (an unclosed quote would swallow the file the same way)
    size_t n = DATASET_MAX_FIELD_BYTES + 16;
    char *big = malloc(n + 32);
    memcpy(big, "text,label\n\"", 12);
    memset(big + 12, 'a', n);
    memcpy(big + 12 + n, "\",1\n", 4);
    put(p, sizeof p, "big.csv", big, (long)(n + 16));
    free(big);
    o = dataset_options_default(p);
    ck_assert_int_eq(dataset_load(&ds, &o, err, sizeof err), -1);
    assert_one_line(err, "big.csv:2");
    ck_assert_ptr_nonnull(strstr(err, "field longer than 1048576 bytes"));
    remove_tree(tmp_root);
}
END_TEST

// catalogue 91: the destination is a symlink planted to a victim file: the link is replaced, the victim untouched
START_TEST(test_write_over_symlink) {
    make_tmp_root();
    char victim[512], link[512], err[512];
    put(victim, sizeof victim, "victim.txt", "precious", -1);
    snprintf(link, sizeof link, "%s/model.safetensors", tmp_root);
    ck_assert_int_eq(symlink(victim, link), 0);
    float v[2] = {1, 2};
    st_write_tensor t = {.name = "w", .ndim = 1, .shape = {2}, .data = v};
    ck_assert_msg(safetensors_write(link, &t, 1, err, sizeof err) == 0, "%s", err);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    size_t n;
    char *d = slurp(victim, &n);
    ck_assert_str_eq(d, "precious");
    free(d);
    remove_tree(tmp_root);
}
END_TEST

// catalogue 92: saving over the file we loaded from: the reader holds its own copy (no mmap), the new file is right
START_TEST(test_save_over_loaded_file) {
    make_tmp_root();
    char p[512], err[512];
    snprintf(p, sizeof p, "%s/m.safetensors", tmp_root);
    float a[3] = {1, 2, 3}, b[3] = {4, 5, 6}, o[3];
    st_write_tensor t = {.name = "w", .ndim = 1, .shape = {3}, .data = a};
    ck_assert_int_eq(safetensors_write(p, &t, 1, err, sizeof err), 0);
    safetensors_file f, g;
    ck_assert_int_eq(safetensors_open(&f, p, err, sizeof err), 0);
    t.data = b;
    ck_assert_int_eq(safetensors_write(p, &t, 1, err, sizeof err), 0);
    ck_assert_int_eq(safetensors_read_f32(&f, safetensors_find(&f, "w"), o, 3, err, sizeof err), 0);
    ck_assert(o[0] == 1 && o[2] == 3);  // the open file still reads the old values
    ck_assert_int_eq(safetensors_open(&g, p, err, sizeof err), 0);
    ck_assert_int_eq(safetensors_read_f32(&g, safetensors_find(&g, "w"), o, 3, err, sizeof err), 0);
    ck_assert(o[0] == 4 && o[2] == 6);
    safetensors_close(&f);
    safetensors_close(&g);
    remove_tree(tmp_root);
}
END_TEST

// catalogue 67: 10 MB of "! " truncated to 16 tokens
START_TEST(test_huge_text_truncated) {
    Tokenizer *t = NULL;
    char err[512];
    ck_assert_msg(tokenizer_load(&t, "../shared/data/vocab/bert-base-uncased/vocab.txt", err, sizeof err) == 0, "%s", err);
    size_t n = 10u << 20;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++) s[i] = i % 2 ? ' ' : '!';
    TokenizerEncoding enc = {0};
    ck_assert_int_eq(tokenizer_encode(t, s, n, 16, &enc, err, sizeof err), 0);
    ck_assert_int_eq(enc.n, 16);
    tokenizer_encoding_free(&enc);
    tokenizer_free(t);
    free(s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("catalogue");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_config_hostile_json);
    tcase_add_test(tc, test_tokenizer_hostile_json);
    tcase_add_test(tc, test_regression_vocab_txt_special_tokens_from_config);
    tcase_add_test(tc, test_regression_encode_empty_first);
    tcase_add_test(tc, test_weights_nonfinite_and_truncated);
    tcase_add_test(tc, test_disk_full_atomic_writes);
    tcase_add_test(tc, test_unwritable_output);
    tcase_add_test(tc, test_dataset_rows);
    tcase_add_test(tc, test_imdb_dir_special_files);
    tcase_add_test(tc, test_write_over_symlink);
    tcase_add_test(tc, test_save_over_loaded_file);
    tcase_add_test(tc, test_huge_text_truncated);
    suite_add_tcase(s, tc);
    return run_suite(s) ? 1 : 0;
}
