// make_seeds.c: builds the seed corpus of every fuzz harness from our fixtures (test/fixtures, the files
// of ../shared/data) plus small generated files, into <out>/<harness>/. Run from the repo root
// (`make fuzz` does it). Real files are cut to a few KB: libFuzzer mutates small inputs much faster,
// and the mutations reach the same code. Each seed is written in the input layout its harness expects
// (option byte first for the dataset and encode harnesses, NUL-separated parts for multi-file ones).
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "data/split.h"
#include "model/safetensors.h"
#include "test/fuzz/fuzz_split_dataset.h"

static const char *out_root;
static int n_written;

static void die(const char *what) {
    fprintf(stderr, "make_seeds: %s\n", what);
    exit(1);
}

static void mkdirs(const char *harness) {
    char p[1024];
    mkdir(out_root, 0755);
    snprintf(p, sizeof p, "%s/%s", out_root, harness);
    if (mkdir(p, 0755) != 0 && errno != EEXIST) die(p);
}

// <out>/<harness>/<name> = prefix (plen bytes) + data (n bytes)
static void seed(const char *harness, const char *name, const void *prefix, size_t plen, const void *data, size_t n) {
    mkdirs(harness);
    char p[1024];
    snprintf(p, sizeof p, "%s/%s/%s", out_root, harness, name);
    FILE *fp = fopen(p, "wb");
    if (!fp) die(p);
    if ((plen && fwrite(prefix, 1, plen, fp) != plen) || (n && fwrite(data, 1, n, fp) != n) || fclose(fp)) die(p);
    n_written++;
}

static void seed_str(const char *harness, const char *name, const char *s) { seed(harness, name, NULL, 0, s, strlen(s)); }

// The first max_bytes of a file, cut back to the last complete line ('\n') when it is longer.
static char *head_of(const char *path, size_t max_bytes, size_t *n) {
    char *buf, err[512];
    size_t len;
    if (read_file(path, &buf, &len, err, sizeof err)) { fprintf(stderr, "make_seeds: skipping %s\n", err); return NULL; }
    if (len > max_bytes) {
        len = max_bytes;
        while (len > 0 && buf[len - 1] != '\n') len--;
    }
    buf[len] = '\0';
    *n = len;
    return buf;
}

// Parts joined with NUL bytes (the multi-file harnesses' layout); NULL parts are skipped.
static void seed_parts(const char *harness, const char *name, const char *const *paths, int n, size_t max_each) {
    char *all = NULL;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        char *b = head_of(paths[i], max_each, &len);
        if (!b) { free(all); return; }
        all = realloc(all, total + len + 1);
        if (!all) die("out of memory");
        if (i > 0) all[total++] = '\0';
        memcpy(all + total, b, len);
        total += len;
        free(b);
    }
    seed(harness, name, NULL, 0, all, total);
    free(all);
}

// ---- safetensors: written by our writer, plus hand-made headers for the dtypes it does not write

static void st_raw(const char *name, const char *header, size_t data_bytes) {
    size_t hn = strlen(header), total = 8 + hn + data_bytes;
    unsigned char *b = calloc(1, total);
    if (!b) die("out of memory");
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, header, hn);
    for (size_t i = 0; i < data_bytes; i++) b[8 + hn + i] = (unsigned char)(i * 37 + 1);
    seed("safetensors", name, NULL, 0, b, total);
    free(b);
}

static void seeds_safetensors(void) {
    char tmp[] = "/tmp/make_seeds.XXXXXX", path[600], err[512];
    if (!mkdtemp(tmp)) die("mkdtemp");
    snprintf(path, sizeof path, "%s/m.safetensors", tmp);
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i * 0.5f - 3.0f;
    st_write_tensor ts[4] = {
        {"distilbert.embeddings.word_embeddings.weight", 2, {4, 3}, v, ST_F32},
        {"classifier.bias", 1, {2}, v + 12, ST_F16},
        {"scalar", 0, {0}, v + 14, ST_BF16},
        {"empty", 2, {2, 0}, NULL, ST_F32},
    };
    st_meta meta[1] = {{"format", "pt"}};
    struct { const char *name; int n; } sets[3] = {{"writer-one.safetensors", 1}, {"writer-mixed.safetensors", 4},
                                                   {"writer-none.safetensors", 0}};
    for (int s = 0; s < 3; s++) {
        if (safetensors_write_meta(path, ts, sets[s].n, meta, 1, err, sizeof err)) die(err);
        size_t n;
        char *b = head_of(path, SIZE_MAX, &n);
        if (!b) die(path);
        seed("safetensors", sets[s].name, NULL, 0, b, n);
        free(b);
    }
    unlink(path);
    rmdir(tmp);
    st_raw("ints.safetensors",
           "{\"a\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
           "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[16,19]},"
           "\"c\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[19,20]},"
           "\"d\":{\"dtype\":\"I32\",\"shape\":[1,1],\"data_offsets\":[20,24]},"
           "\"e\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[24,32]},"
           "\"f\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[32,34]}}", 34);
    st_raw("floats.safetensors",
           "  {\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},"
           "\"x\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
           "\"y\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[16,18]},"
           "\"z\":{\"dtype\":\"F16\",\"shape\":[0,5],\"data_offsets\":[18,18]}} \n", 18);
    // the minimal example of reference-semantics.md §7.1 (shape [2,2] F32, metadata) and a shard-like name
    st_raw("example.safetensors",
           "{\"__metadata__\":{\"format\":\"pt\"},\"weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
           16);
    // the real fixture headers with their data cut to the first tensor (the rest fails the tiling check,
    // but the header reaches every per-tensor rule)
    const char *fixtures[3] = {"test/fixtures/distilbert-tiny/model.safetensors",
                               "test/fixtures/bert-tiny/model.safetensors",
                               "test/fixtures/distilbert-tiny-fp16/model.safetensors"};
    for (int i = 0; i < 3; i++) {
        size_t n;
        char *b = head_of(fixtures[i], SIZE_MAX, &n);
        if (!b || n < 8) { free(b); continue; }
        uint64_t hn = 0;
        for (int k = 0; k < 8; k++) hn |= (uint64_t)(unsigned char)b[k] << (8 * k);
        size_t keep = hn <= n - 8 ? 8 + hn : n;
        char nm[64];
        snprintf(nm, sizeof nm, "fixture-header-%d.safetensors", i);
        seed("safetensors", nm, NULL, 0, b, keep);
        free(b);
    }
}

// ---- config.json: every fixture config and the shipped configs

static void seeds_config(void) {
    const char *paths[] = {"test/fixtures/distilbert-micro.json", "test/fixtures/distilbert-tiny/config.json",
                           "test/fixtures/bert-tiny/config.json", "test/fixtures/roberta-tiny/config.json",
                           "test/fixtures/distilbert-tiny-fp16/config.json", "configs/distilbert-small.json"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        size_t n;
        char *b = head_of(paths[i], SIZE_MAX, &n), nm[64];
        if (!b) continue;
        snprintf(nm, sizeof nm, "config-%zu.json", i);
        seed("config", nm, NULL, 0, b, n);
        free(b);
    }
    seed_str("config", "minimal.json", "{\"model_type\":\"distilbert\",\"id2label\":{\"0\":\"neg\",\"1\":\"pos\"}}");
}

// ---- tokenizer.json: the small BPE fixture, and bert-base-uncased's with the vocab cut to ids < 2200

static void seeds_tokenizer_json(void) {
    size_t n;
    char *b = head_of("test/fixtures/tokenizer/small-bpe/tokenizer.json", SIZE_MAX, &n);
    if (b) { seed("tokenizer_json", "small-bpe.json", NULL, 0, b, n); free(b); }
    b = head_of("../shared/data/vocab/bert-base-uncased/tokenizer.json", SIZE_MAX, &n);
    if (!b) return;
    cJSON *root = cJSON_Parse(b);
    free(b);
    cJSON *vocab = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "model"), "vocab");
    if (!vocab) { cJSON_Delete(root); return; }
    cJSON *e = vocab->child;
    while (e) {
        cJSON *next = e->next;
        if (e->valuedouble >= 2200) cJSON_Delete(cJSON_DetachItemViaPointer(vocab, e));
        e = next;
    }
    char *s = cJSON_PrintUnformatted(root);
    seed_str("tokenizer_json", "bert-base-uncased-cut.json", s);
    free(s);
    cJSON_Delete(root);
}

// ---- vocab.txt (+ legacy configs), vocab.json + merges.txt (+ legacy configs)

static void seeds_vocab_files(void) {
    const char *vt[1] = {"../shared/data/vocab/bert-base-uncased/vocab.txt"};
    seed_parts("vocab_txt", "bert-head.txt", vt, 1, 24000);
    seed_str("vocab_txt", "tiny.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nmovie\n##s\n,\n.\nun\n##aff\n##able\n");
    const char with_cfg[] = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhello\r\n\0"
                            "{\"do_lower_case\":false,\"unk_token\":\"[UNK]\",\"model_max_length\":1e30}\0"
                            "{\"cls_token\":{\"content\":\"[CLS]\",\"lstrip\":false},\"sep_token\":\"[SEP]\"}";
    seed("vocab_txt", "crlf-with-configs.txt", NULL, 0, with_cfg, sizeof with_cfg - 1);
    const char *legacy[3] = {"test/fixtures/tokenizer/small-bpe-legacy/vocab.json",
                             "test/fixtures/tokenizer/small-bpe-legacy/merges.txt",
                             "test/fixtures/tokenizer/small-bpe-legacy/tokenizer_config.json"};
    seed_parts("bpe_files", "small-bpe-legacy", legacy, 3, SIZE_MAX);
    seed_parts("bpe_files", "small-bpe-legacy-no-config", legacy, 2, SIZE_MAX);
}

// ---- text to encode: option byte + text

static void seeds_encode(void) {
    static const char *texts[] = {
        "Hello, world! This movie wasn't bad at all.",
        "unaffable naïve café 東京 😀 [CLS] [MASK] <s> <mask> </s>",
        "  leading and trailing spaces  \t\n",
        "don't you'll we've I'm, they're 123 4.5 $6",
        "a\xc3\xa9\xe2\x80\x85\xc2\x85 mixed U+0085 U+2028\xe2\x80\xa8 end",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "\xff\xfe invalid \xc0\xaf utf8 \xed\xa0\x80",
    };
    char nm[64];
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        for (unsigned o = 0; o < 2; o++) {
            unsigned char opt = (unsigned char)(o | (i % 8) << 1);
            snprintf(nm, sizeof nm, "text-%zu-%u", i, o);
            seed("encode", nm, &opt, 1, texts[i], strlen(texts[i]));
        }
    size_t n;
    char *b = head_of("../shared/data/sst2/dev.tsv", 3000, &n);
    if (b) {
        unsigned char opt = 0x0c;  // bert, max_length 512
        seed("encode", "sst2-dev-head", &opt, 1, b, n);
        opt = 0x0d;
        seed("encode", "sst2-dev-head-roberta", &opt, 1, b, n);
        free(b);
    }
}

// ---- datasets: option byte + file (heads of the real files and small hand-made ones)

static void seed_dataset(const char *harness, const char *name, unsigned char opt, const char *path, size_t max) {
    size_t n;
    char *b = head_of(path, max, &n);
    if (!b) return;
    seed(harness, name, &opt, 1, b, n);
    free(b);
}

static void seeds_datasets(void) {
    seed_dataset("csv", "imdb-full-train", 0x00, "../shared/data/imdb-full/train.csv", 6000);
    seed_dataset("csv", "imdb-reviews", 0x00, "../shared/data/imdb-reviews/imdb_reviews.csv", 6000);
    seed_dataset("csv", "ag-news-by-index", 0x82, "../shared/data/ag-news/test.csv", 3000);
    const char csv1[] = "text,label\r\n\"a, \"\"quoted\"\"\r\nfield\",positive\r\nplain,negative\r\n";
    const char csv2[] = "\xef\xbb\xbftext,label\n\xe2\x80\xa8line sep,1\nnel \xc2\x85 here,0\n";
    const char csv3[] = "review,sentiment\n\"never closed,positive\nx,negative\n";
    seed("csv", "quotes-crlf", "\x00", 1, csv1, sizeof csv1 - 1);
    seed("csv", "bom-int", "\x40", 1, csv2, sizeof csv2 - 1);
    seed("csv", "unbalanced", "\x20", 1, csv3, sizeof csv3 - 1);
    seed_dataset("tsv", "sst2-train", 0x00, "../shared/data/sst2/train.tsv", 3000);
    seed_dataset("tsv", "sst2-test-unlabeled", 0x10, "../shared/data/sst2/test.tsv", 2000);
    seed_dataset("tsv", "yelp", 0x02, "../shared/data/uci-sentences/yelp_labelled.txt", 2000);
    seed_dataset("tsv", "imdb-labelled", 0x02, "../shared/data/uci-sentences/imdb_labelled.txt", 2000);
    seed_dataset("tsv", "sms-spam", 0x0a, "../shared/data/sms-spam/SMSSpamCollection", 2000);
    const char jl[] = "{\"text\":\"good film\",\"label\":1}\n{\"text\":\"bad \\u00e9 \\ud83d\\ude00\",\"label\":0}\r\n"
                      "{\"label\":\"positive\",\"text\":\"x\",\"extra\":[1,{\"a\":null}]}\n";
    const char jl2[] = "{\"sentence\":\"a\",\"label\":\"negative\"}\n\n{\"sentence\":\"b\",\"label\":\"positive\"}\n";
    seed("jsonl", "basic", "\x00", 1, jl, sizeof jl - 1);
    seed("jsonl", "sentence-names", "\xa0", 1, jl2, sizeof jl2 - 1);
    const char im[] = "pos\0" "1_10.txt\0" "A great film.<br /><br />Really.\0"
                      "neg\0" "2_3.txt\0" "\xef\xbb\xbf" "Bad.\0"
                      "neg\0" "._2_3.txt\0" "mac junk\0"
                      "unsup\0" "5_0.txt\0" "unlabelled\0"
                      "pos\0" "sub/\0" "\0";
    seed("imdb_dir", "acl", NULL, 0, im, sizeof im - 1);
}

// ---- split.json for the fixed dataset of fuzz_split_dataset.h

static void seeds_split(void) {
    Dataset ds = fuzz_split_dataset();
    char tmp[] = "/tmp/make_seeds.XXXXXX", path[600], err[512], nm[64];
    if (!mkdtemp(tmp)) die("mkdtemp");
    snprintf(path, sizeof path, "%s/split.json", tmp);
    struct { int n_samples; double ratio; uint64_t seed; } v[3] = {{0, 0.2, 42}, {6, 0.5, 18446744073709551615ull}, {0, 0.0, 1}};
    for (int i = 0; i < 3; i++) {
        Split s;
        if (split_make(&s, ds.n, v[i].seed, v[i].n_samples, v[i].ratio, err, sizeof err) ||
            split_write_json(path, &s, &ds, err, sizeof err))
            die(err);
        split_free(&s);
        size_t n;
        char *b = head_of(path, SIZE_MAX, &n);
        snprintf(nm, sizeof nm, "split-%d.json", i);
        if (b) seed("split", nm, NULL, 0, b, n);
        free(b);
    }
    unlink(path);
    rmdir(tmp);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUTDIR (run from the repo root)\n", argv[0]); return 2; }
    out_root = argv[1];
    seeds_safetensors();
    seeds_config();
    seeds_tokenizer_json();
    seeds_vocab_files();
    seeds_encode();
    seeds_datasets();
    seeds_split();
    printf("make_seeds: %d seed files in %s\n", n_written, out_root);
    return 0;
}
