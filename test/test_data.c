// test_data.c: the data layer: dataset readers (hand-written files and the real ../shared/data
// files), hostile inputs, split + split.json, PRNG, batching, metrics (expected numbers from
// dev/data_metrics_expected.py, i.e. scikit-learn). Runs from the repo root.
#include <check.h>
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "data/batch.h"
#include "data/dataset.h"
#include "data/metrics.h"
#include "data/rng.h"
#include "data/split.h"
#include "test/run_suite.h"

#define SHARED "../shared/data/"

static char tmp_dir[64];
static char err[1024];

static void make_tmp_dir(void) {
    strcpy(tmp_dir, "/tmp/test_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

// checked-fixture teardown: remove the test's temporary folder (mkdtemp names it, so the quoting is safe)
static void remove_tmp_dir(void) {
    if (!tmp_dir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    int rc = system(cmd);
    (void)rc;
    tmp_dir[0] = '\0';
}

// Write bytes to tmp_dir/name and return the path (static buffer, one at a time per slot).
static const char *put_file(const char *name, const char *data, size_t len) {
    static char paths[4][512];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 512, "%s/%s", tmp_dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}
#define PUT(name, literal) put_file(name, literal, sizeof(literal) - 1)

static int load(Dataset *ds, const char *path, const char *text_col, const char *label_col, int has_header) {
    DatasetOptions o = dataset_options_default(path);
    o.text_column = text_col;
    o.label_column = label_col;
    o.has_header = has_header;
    err[0] = '\0';
    return dataset_load(ds, &o, err, sizeof err);
}

// The load must fail with an error that names the file and contains `what`.
static void expect_load_error(const DatasetOptions *o, const char *what) {
    Dataset ds;
    err[0] = '\0';
    int rc = dataset_load(&ds, o, err, sizeof err);
    ck_assert_msg(rc == -1, "expected an error for %s", o->path);
    ck_assert_msg(strstr(err, o->path) != NULL, "error does not name the file: %s", err);
    ck_assert_msg(strstr(err, what) != NULL, "error lacks '%s': %s", what, err);
    ck_assert_msg(strchr(err, '\n') == NULL, "error is not one line: %s", err);
}

static void expect_error_text(const char *path, const char *text, const char *what) {
    const char *p = put_file(path, text, strlen(text));
    DatasetOptions o = dataset_options_default(p);
    expect_load_error(&o, what);
}

static int count_label(const Dataset *ds, int id) {
    int c = 0;
    for (int i = 0; i < ds->n; i++) c += ds->labels[i] == id;
    return c;
}

// ---------------------------------------------------------------- readers on small files

START_TEST(test_csv_rfc4180) {
    make_tmp_dir();
    // BOM, CRLF, quoted comma, doubled quote, newline inside quotes, U+0085 (C2 85) inside a field,
    // a blank line, spaces kept, and no newline at the end
    const char *p = PUT("a.csv", "\xEF\xBB\xBFtext,label\r\n"
                                 "\"hello, world\",positive\r\n"
                                 "\"she said \"\"hi\"\"\",negative\n"
                                 "\"two\nlines\",positive\n"
                                 "\n"
                                 "next\xC2\x85line ,negative\n"
                                 "last,positive");
    Dataset ds;
    ck_assert_msg(load(&ds, p, NULL, NULL, -1) == 0, "%s", err);
    ck_assert_int_eq(ds.n, 5);
    ck_assert_str_eq(ds.texts[0], "hello, world");
    ck_assert_str_eq(ds.texts[1], "she said \"hi\"");
    ck_assert_str_eq(ds.texts[2], "two\nlines");
    ck_assert_str_eq(ds.texts[3], "next\xC2\x85line ");
    ck_assert_str_eq(ds.texts[4], "last");
    ck_assert_int_eq(ds.n_labels, 2);
    ck_assert_str_eq(ds.label_names[0], "negative");
    ck_assert_str_eq(ds.label_names[1], "positive");
    int want[] = {1, 0, 1, 0, 1}, lines[] = {2, 3, 4, 7, 8};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(ds.labels[i], want[i]);
        ck_assert_int_eq(ds.lines[i], lines[i]);
    }
    dataset_free(&ds);

    // no header: columns by index; every field quoted (AG News style); integer labels as names
    p = PUT("b.csv", "\"3\",\"Title one\",\"Desc, one\"\n\"1\",\"T2\",\"D \"\"2\"\"\"\n");
    DatasetOptions o = dataset_options_default(p);
    o.text_column = "2";
    o.label_column = "0";
    o.label_mode = DATASET_LABELS_NAMES;
    ck_assert_msg(dataset_load(&ds, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.texts[0], "Desc, one");
    ck_assert_str_eq(ds.texts[1], "D \"2\"");
    ck_assert_int_eq(ds.labels[0], 1);  // names "1" < "3"
    ck_assert_int_eq(ds.labels[1], 0);
    dataset_free(&ds);
}
END_TEST

START_TEST(test_tsv_columns) {
    make_tmp_dir();
    Dataset ds;
    // SST-2 style header; the sentence keeps its trailing space
    const char *p = PUT("s.tsv", "sentence\tlabel\nit 's fine \t1\nbad \t0\n");
    ck_assert_msg(load(&ds, p, NULL, NULL, -1) == 0, "%s", err);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.texts[0], "it 's fine ");
    ck_assert_int_eq(ds.labels[0], 1);
    ck_assert_int_eq(ds.n_labels, 2);
    dataset_free(&ds);

    // UCI style: no header, '"' is text, a stray TAB in the text: the label follows the LAST tab
    p = PUT("u.txt", "\"masterpieces.\t1\n\" The structure\t0\nA\tB\t1\n");
    ck_assert_msg(load(&ds, p, NULL, NULL, -1) == 0, "%s", err);
    ck_assert_int_eq(ds.n, 3);
    ck_assert_str_eq(ds.texts[0], "\"masterpieces.");
    ck_assert_str_eq(ds.texts[1], "\" The structure");
    ck_assert_str_eq(ds.texts[2], "A\tB");
    ck_assert_int_eq(ds.labels[2], 1);
    dataset_free(&ds);

    // SMS style: label first, text second (a TAB in the text goes to the text)
    p = PUT("SMS.tsv", "ham\tGo until jurong\nham\tOk lar\xC2\x85\nspam\tWIN\tnow\r\n");
    ck_assert_msg(load(&ds, p, "1", "0", -1) == 0, "%s", err);
    ck_assert_int_eq(ds.n, 3);
    ck_assert_str_eq(ds.texts[2], "WIN\tnow");  // CR before LF dropped
    ck_assert_str_eq(ds.label_names[0], "ham");
    ck_assert_int_eq(ds.labels[2], 1);
    dataset_free(&ds);
}
END_TEST

START_TEST(test_jsonl) {
    make_tmp_dir();
    Dataset ds;
    const char *p = PUT("d.jsonl", "{\"text\": \"a \\\"quoted\\\" word\", \"label\": 1}\n"
                                   "\n"
                                   "{\"label\": 0, \"text\": \"line\xE2\x80\xA8sep \\u00e9\"}\r\n");
    ck_assert_msg(load(&ds, p, NULL, NULL, -1) == 0, "%s", err);
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.texts[0], "a \"quoted\" word");
    ck_assert_str_eq(ds.texts[1], "line\xE2\x80\xA8sep \xC3\xA9");
    ck_assert_int_eq(ds.labels[0], 1);
    ck_assert_int_eq(ds.lines[1], 3);
    dataset_free(&ds);

    p = PUT("k.json", "{\"review\": \"x\", \"sentiment\": \"pos\"}\n{\"review\": \"y\", \"sentiment\": \"neg\"}");
    ck_assert_msg(load(&ds, p, "review", "sentiment", -1) == 0, "%s", err);
    ck_assert_int_eq(ds.labels[0], 1);
    ck_assert_str_eq(ds.label_names[0], "neg");
    dataset_free(&ds);

    DatasetOptions o = dataset_options_default(put_file("bad.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\",", 33));
    expect_load_error(&o, ":2:");
    o = dataset_options_default(PUT("nul.jsonl", "{\"text\":\"a\\u0000b\",\"label\":1}\n"));
    expect_load_error(&o, ":1: bad \\u escape");
    o = dataset_options_default(PUT("type.jsonl", "{\"text\":5,\"label\":1}\n"));
    expect_load_error(&o, ":1: 'text' must be a string");
    o = dataset_options_default(PUT("dup.jsonl", "{\"text\":\"a\",\"text\":\"b\",\"label\":1}\n"));
    expect_load_error(&o, "appears 2 times");
    o = dataset_options_default(PUT("neg.jsonl", "{\"text\":\"a\",\"label\":-1}\n"));
    expect_load_error(&o, "not an integer");
}
END_TEST

static void put_in(const char *sub, const char *name, const char *text) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/%s", sub, name);
    put_file(rel, text, strlen(text));
}

START_TEST(test_imdb_dir) {
    make_tmp_dir();
    char split_dir[256], sub[300];
    snprintf(split_dir, sizeof split_dir, "%s/train", tmp_dir);
    ck_assert_int_eq(mkdir(split_dir, 0700), 0);
    const char *classes[] = {"pos", "neg", "unsup"};
    for (int c = 0; c < 3; c++) {
        snprintf(sub, sizeof sub, "%s/train/%s", tmp_dir, classes[c]);
        ck_assert_int_eq(mkdir(sub, 0700), 0);
    }
    put_in("train/pos", "2_9.txt", "great");
    put_in("train/pos", "10_7.txt", "good<br />fine");
    put_in("train/pos", "._2_9.txt", "\xFF\xFF mac resource fork");  // skipped
    put_in("train/neg", "0_1.txt", "awful");
    put_in("train/unsup", "0_0.txt", "not a class");
    put_in("train", "urls_pos.txt", "ignored");

    Dataset ds;
    ck_assert_msg(load(&ds, split_dir, NULL, NULL, -1) == 0, "%s", err);
    ck_assert_int_eq(ds.n, 3);
    ck_assert_int_eq(ds.n_labels, 2);
    ck_assert_str_eq(ds.label_names[0], "neg");
    ck_assert_str_eq(ds.label_names[1], "pos");
    ck_assert_str_eq(ds.texts[0], "awful");
    ck_assert_str_eq(ds.texts[1], "good<br />fine");  // "10_7.txt" < "2_9.txt" bytewise
    ck_assert_str_eq(ds.texts[2], "great");
    ck_assert_int_eq(ds.labels[0], 0);
    ck_assert_int_eq(ds.labels[2], 1);
    DataFingerprint fp = ds.fingerprint;
    dataset_free(&ds);
    ck_assert_msg(load(&ds, split_dir, NULL, NULL, -1) == 0, "%s", err);  // same bytes, same fingerprint
    ck_assert(ds.fingerprint.fnv1a64 == fp.fnv1a64 && ds.fingerprint.size == fp.size);
    dataset_free(&ds);

    put_in("train/neg", "1_2.txt", "bad \x92quote\x92");
    DatasetOptions o = dataset_options_default(split_dir);
    expect_load_error(&o, "1_2.txt:1:5: invalid UTF-8 byte 0x92");
    put_in("train/neg", "1_2.txt", "");
    expect_load_error(&o, "1_2.txt: empty text");
    put_in("train/neg", "1_2.txt", "ok");
    put_in("train/neg", "notes.md", "x");
    expect_load_error(&o, "notes.md: bad file name");
}
END_TEST

START_TEST(test_label_mapping) {
    make_tmp_dir();
    Dataset ds;
    const char *p = PUT("l.csv", "text,label\na, positive \nb,negative\n");
    char *names[] = {"negative", "positive"};
    DatasetOptions o = dataset_options_default(p);
    o.fixed_label_names = names;
    o.n_fixed = 2;
    ck_assert_msg(dataset_load(&ds, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ds.labels[0], 1);  // trimmed
    dataset_free(&ds);

    char *reversed[] = {"positive", "negative"};  // a model's id2label wins over sorted order
    o.fixed_label_names = reversed;
    ck_assert_msg(dataset_load(&ds, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ds.labels[0], 0);
    ck_assert_int_eq(ds.labels[1], 1);
    dataset_free(&ds);

    // integer labels map to themselves: 0 and 2 -> n_labels 3; with fixed names checked in range
    p = PUT("i.tsv", "x\t2\ny\t0\n");
    ck_assert_msg(load(&ds, p, NULL, NULL, -1) == 0, "%s", err);
    ck_assert_int_eq(ds.n_labels, 3);
    ck_assert_int_eq(ds.labels[0], 2);
    ck_assert_str_eq(ds.label_names[2], "2");
    dataset_free(&ds);
    char *neg_pos[] = {"NEGATIVE", "POSITIVE"};
    o = dataset_options_default(p);
    o.fixed_label_names = neg_pos;
    o.n_fixed = 2;
    expect_load_error(&o, ":1: label 2 out of range [0, 2)");
    o = dataset_options_default(PUT("h.tsv", "x\t007x\n"));
    o.label_mode = DATASET_LABELS_INT;
    expect_load_error(&o, ":1: label '007x' is not an integer");
    o = dataset_options_default(PUT("big.tsv", "x\t99999999999999999999\n"));
    expect_load_error(&o, "larger than");
}
END_TEST

START_TEST(test_format_detection) {
    DatasetFormat f;
    ck_assert_int_eq(dataset_detect_format("x/train.csv", &f, err, sizeof err), 0);
    ck_assert_int_eq(f, DATASET_FORMAT_CSV);
    ck_assert_int_eq(dataset_detect_format("a.txt", &f, err, sizeof err), 0);
    ck_assert_int_eq(f, DATASET_FORMAT_TSV);
    ck_assert_int_eq(dataset_detect_format("a.json", &f, err, sizeof err), 0);
    ck_assert_int_eq(f, DATASET_FORMAT_JSONL);
    ck_assert_int_eq(dataset_detect_format("data", &f, err, sizeof err), 0);  // the repo's data/ folder
    ck_assert_int_eq(f, DATASET_FORMAT_IMDB_DIR);
    ck_assert_int_eq(dataset_detect_format("SMSSpamCollection", &f, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "SMSSpamCollection"));
    ck_assert_int_eq(dataset_format_parse("imdb-dir", &f), 0);
    ck_assert_int_eq(f, DATASET_FORMAT_IMDB_DIR);
    ck_assert_str_eq(dataset_format_name(DATASET_FORMAT_TSV), "tsv");
}
END_TEST

// ---------------------------------------------------------------- the real files

static void check_real(const DatasetOptions *o, int n, int n_labels, const int *per_class) {
    Dataset ds;
    ck_assert_msg(dataset_load(&ds, o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ds.n, n);
    ck_assert_int_eq(ds.n_labels, n_labels);
    for (int c = 0; c < n_labels; c++) ck_assert_int_eq(count_label(&ds, c), per_class[c]);
    for (int i = 0; i < ds.n; i++) ck_assert(ds.texts[i][0] != '\0');
    dataset_free(&ds);
}

START_TEST(test_real_imdb_csv) {
    DatasetOptions o = dataset_options_default(SHARED "imdb-reviews/imdb_reviews.csv");
    int per[] = {2500, 2500};
    check_real(&o, 5000, 2, per);
    Dataset ds;
    ck_assert_int_eq(dataset_load(&ds, &o, err, sizeof err), 0);
    ck_assert_str_eq(ds.label_names[0], "negative");
    ck_assert_str_eq(ds.label_names[1], "positive");
    ck_assert_int_eq(ds.labels[0], 1);  // rows alternate pos, neg, ...
    ck_assert_int_eq(ds.labels[1], 0);
    ck_assert(ds.fingerprint.size == 6566371);
    int with_nel = 0;  // U+0085 stays inside texts
    for (int i = 0; i < ds.n; i++) with_nel += strstr(ds.texts[i], "\xC2\x85") != NULL;
    ck_assert_int_gt(with_nel, 0);
    dataset_free(&ds);
}
END_TEST

START_TEST(test_real_tsv_files) {
    DatasetOptions o = dataset_options_default(SHARED "sst2/dev.tsv");
    int sst[] = {428, 444};
    check_real(&o, 872, 2, sst);
    int uci[] = {500, 500};
    o = dataset_options_default(SHARED "uci-sentences/yelp_labelled.txt");
    check_real(&o, 1000, 2, uci);
    o = dataset_options_default(SHARED "uci-sentences/imdb_labelled.txt");  // quotes and U+0085
    check_real(&o, 1000, 2, uci);
    o = dataset_options_default(SHARED "sms-spam/SMSSpamCollection");
    o.format = DATASET_FORMAT_TSV;
    o.text_column = "1";
    o.label_column = "0";
    int sms[] = {4827, 747};
    check_real(&o, 5574, 2, sms);
    Dataset ds;  // GLUE test: `index<TAB>sentence`, no labels
    o = dataset_options_default(SHARED "sst2/test.tsv");
    o.text_column = "sentence";
    o.unlabeled = 1;
    ck_assert_msg(dataset_load(&ds, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ds.n, 1821);
    ck_assert_int_eq(ds.labels[0], -1);
    ck_assert_int_eq(ds.n_labels, 0);
    dataset_free(&ds);
}
END_TEST

START_TEST(test_real_ag_news) {
    DatasetOptions o = dataset_options_default(SHARED "ag-news/test.csv");
    o.has_header = 0;
    o.text_column = "2";
    o.label_column = "0";
    o.label_mode = DATASET_LABELS_NAMES;  // classes "1".."4" -> ids 0..3
    int per[] = {1900, 1900, 1900, 1900};
    check_real(&o, 7600, 4, per);
    char *names[] = {"1", "2", "3", "4"};  // the same with a fixed mapping
    o.label_mode = DATASET_LABELS_AUTO;
    o.fixed_label_names = names;
    o.n_fixed = 4;
    check_real(&o, 7600, 4, per);
}
END_TEST

// ---------------------------------------------------------------- hostile inputs

START_TEST(test_hostile_inputs) {
    make_tmp_dir();
    expect_error_text("unbalanced.csv", "text,label\n\"fine\",1\n\"never closed,1\nmore,0\n",
                      "unbalanced.csv:3: quoted field opened here is never closed");
    expect_error_text("nocol.csv", "review,stars\nx,1\n", "nocol.csv:1: no default label column in the header");
    expect_error_text("ragged.csv", "text,label\na,1\nb,0,extra\n", "ragged.csv:3: row has 3 fields, the header has 2");
    expect_error_text("short.tsv", "a\t1\nb\n", "short.tsv:2: row has 1 fields");
    expect_error_text("empty.csv", "", "no examples");
    expect_error_text("header_only.csv", "text,label\n", "no examples (only a header)");
    expect_error_text("utf8.csv", "text,label\n\"ok\",1\nbad\x85here,0\n", "utf8.csv:3:4: invalid UTF-8 byte 0x85");
    expect_error_text("overlong.tsv", "a\xC0\xAF\t1\n", "overlong.tsv:1:2: invalid UTF-8 byte 0xC0");
    expect_error_text("truncated.tsv", "a\t1\nb\xE2\x82", "truncated.tsv:2:2: invalid UTF-8");
    expect_error_text("emptytext.csv", "text,label\n\"\",1\n", "emptytext.csv:2: empty text");
    expect_error_text("emptylabel.tsv", "abc\t \n", "emptylabel.tsv:1: empty label");
    expect_error_text("after.csv", "text,label\n\"x\"y,1\n", "after.csv:2: unexpected character after closing quote");
    // a quoted field over three lines, then junk: the line where the field starts (was: where it ends)
    expect_error_text("after_multi.csv", "text,label\nok,1\n\"one\ntwo\nthree\"y,1\n",
                      "after_multi.csv:3: unexpected character after closing quote");
    expect_error_text("bare.csv", "text,label\nab\"c,1\n", "bare.csv:2: '\"' inside an unquoted field");
    expect_error_text("cr.csv", "text,label\ra,1\r", "cr.csv:1: bare CR");
    expect_error_text("cr.tsv", "a\t1\rb\t0\r", "cr.tsv:1: bare CR");
    const char *nul = put_file("nul.tsv", "a\0b\t1\n", 6);
    DatasetOptions o = dataset_options_default(nul);
    expect_load_error(&o, "nul.tsv:1:2: NUL byte");

    // unknown label with a fixed mapping names the row and the known labels
    char *names[] = {"negative", "positive"};
    o = dataset_options_default(PUT("unknown.csv", "text,label\na,positive\nb,pos\n"));
    o.fixed_label_names = names;
    o.n_fixed = 2;
    expect_load_error(&o, "unknown.csv:3: unknown label 'pos' (known: negative, positive)");
    // a column named that is not in the header, and a name without a header
    o = dataset_options_default(PUT("cols.csv", "text,label\na,1\n"));
    o.text_column = "body";
    expect_load_error(&o, "no text column 'body' in the header (columns: 'text', 'label')");
    o = dataset_options_default(PUT("idx.tsv", "a\t1\n"));
    o.text_column = "5";
    o.label_column = "1";
    expect_load_error(&o, "text column index 5 out of range");
    o = dataset_options_default(PUT("nohdr.tsv", "a\t1\n"));
    o.has_header = 0;
    o.label_column = "label";
    expect_load_error(&o, "is a name but the file is read without a header");
    o = dataset_options_default("/nonexistent/train.csv");
    expect_load_error(&o, "cannot open");
}
END_TEST

// ---------------------------------------------------------------- PRNG and split

START_TEST(test_pcg32_reference) {
    // pcg_basic's pcg32-demo: pcg32_srandom_r(&rng, 42, 54) then pcg32_random_r
    Rng rng;
    rng_seed(&rng, 42, 54);
    uint32_t want[] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
    for (int i = 0; i < 6; i++) ck_assert_uint_eq(rng_next_u32(&rng), want[i]);
    for (int i = 0; i < 1000; i++) ck_assert_uint_lt(rng_below(&rng, 7), 7);
}
END_TEST

static void check_partition(const Split *s, int n_rows) {
    char *seen = calloc((size_t)n_rows, 1);
    for (int i = 0; i < s->n_valid; i++) {
        ck_assert(s->valid[i] >= 0 && s->valid[i] < n_rows && !seen[s->valid[i]]);
        seen[s->valid[i]] = 1;
    }
    for (int i = 0; i < s->n_train; i++) {
        ck_assert(s->train[i] >= 0 && s->train[i] < n_rows && !seen[s->train[i]]);
        seen[s->train[i]] = 1;
    }
    free(seen);
}

START_TEST(test_split_make) {
    Split a, b, c;
    ck_assert_int_eq(split_make(&a, 5000, 42, 2000, 0.2, err, sizeof err), 0);
    ck_assert_int_eq(a.n_valid, 400);
    ck_assert_int_eq(a.n_train, 1600);
    check_partition(&a, 5000);
    ck_assert_int_eq(split_make(&b, 5000, 42, 2000, 0.2, err, sizeof err), 0);
    ck_assert_mem_eq(a.valid, b.valid, 400 * sizeof(int));
    ck_assert_mem_eq(a.train, b.train, 1600 * sizeof(int));
    ck_assert_int_eq(split_make(&c, 5000, 43, 2000, 0.2, err, sizeof err), 0);
    ck_assert(memcmp(a.valid, c.valid, 400 * sizeof(int)) != 0);
    split_free(&a);
    split_free(&b);
    split_free(&c);
    // all rows, ratio 0.1 of 872 -> ceil(87.2) = 88
    ck_assert_int_eq(split_make(&a, 872, 7, 0, 0.1, err, sizeof err), 0);
    ck_assert_int_eq(a.n_valid, 88);
    ck_assert_int_eq(a.n_train, 784);
    check_partition(&a, 872);
    split_free(&a);
    ck_assert_int_eq(split_make(&a, 10, 1, 11, 0.2, err, sizeof err), -1);
    ck_assert_int_eq(split_make(&a, 10, 1, 0, 1.0, err, sizeof err), -1);
    ck_assert_int_eq(split_make(&a, 1, 1, 0, 0.5, err, sizeof err), -1);  // no training row left
}
END_TEST

// Write a split.json by hand (fingerprint of ds, given arrays) and expect split_read_json to fail.
static void expect_split_error(const Dataset *ds, const char *hash, const char *valid, const char *train,
                               const char *what) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"data_size\": %llu, \"data_fnv1a64\": \"%s\", \"n_rows\": %d, \"seed\": \"1\", "
             "\"validation\": %s, \"train\": %s}",
             (unsigned long long)ds->fingerprint.size, hash, ds->n, valid, train);
    const char *p = put_file("bad_split.json", text, strlen(text));
    Split s;
    err[0] = '\0';
    ck_assert_int_eq(split_read_json(&s, p, ds, err, sizeof err), -1);
    ck_assert_msg(strstr(err, p) != NULL, "error does not name the file: %s", err);
    ck_assert_msg(strstr(err, what) != NULL, "error lacks '%s': %s", what, err);
}

START_TEST(test_split_json) {
    make_tmp_dir();
    char data[512];
    snprintf(data, sizeof data, "%s", PUT("five.tsv", "a\t0\nb\t1\nc\t0\nd\t1\ne\t0\n"));
    Dataset ds;
    ck_assert_msg(load(&ds, data, NULL, NULL, -1) == 0, "%s", err);
    Split s, r;
    ck_assert_int_eq(split_make(&s, ds.n, 18446744073709551615ULL, 0, 0.4, err, sizeof err), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/split.json", tmp_dir);
    ck_assert_msg(split_write_json(path, &s, &ds, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(split_read_json(&r, path, &ds, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(r.n_valid, 2);
    ck_assert_int_eq(r.n_train, 3);
    ck_assert_mem_eq(r.valid, s.valid, 2 * sizeof(int));
    ck_assert_mem_eq(r.train, s.train, 3 * sizeof(int));
    ck_assert(r.seed == 18446744073709551615ULL);  // a 64-bit seed survives (as a string)
    ck_assert(r.valid_ratio == 0.4);
    split_free(&r);
    split_free(&s);

    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)ds.fingerprint.fnv1a64);
    expect_split_error(&ds, "0123456789abcdef", "[0]", "[1]", "made for different data");
    // a newline inside the hash (found by fuzz_split) must not reach the one-line error message
    expect_split_error(&ds, "0123450\\ne1abcdef", "[0]", "[1]", "16 lowercase hex digits");
    ck_assert_ptr_null(strchr(err, '\n'));
    expect_split_error(&ds, "0123456789ABCDEF", "[0]", "[1]", "16 lowercase hex digits");
    expect_split_error(&ds, hash, "[0, 5]", "[1]", "validation[1] = 5 is out of range");
    expect_split_error(&ds, hash, "[0]", "[1, -1]", "train[1] must be an integer");
    expect_split_error(&ds, hash, "[0]", "[1.5]", "train[0] must be an integer");
    expect_split_error(&ds, hash, "[0, 2, 2]", "[1]", "row 2 appears twice in validation");
    expect_split_error(&ds, hash, "[0, 2]", "[1, 2]", "row 2 is in both train and validation");
    dataset_free(&ds);

    // the same file with one byte changed: the saved split no longer matches
    put_file("five.tsv", "a\t0\nb\t1\nc\t0\nd\t1\ne\t1\n", 20);
    ck_assert_msg(load(&ds, data, NULL, NULL, -1) == 0, "%s", err);
    ck_assert_int_eq(split_read_json(&r, path, &ds, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "made for different data"));
    dataset_free(&ds);
}
END_TEST

// ---------------------------------------------------------------- batches

START_TEST(test_batch_make) {
    int32_t s0[] = {101, 7, 8, 102}, s1[] = {101, 102}, s2[] = {101, 5, 6, 9, 10, 102};
    int32_t *ids[] = {s0, s1, s2};
    int lens[] = {4, 2, 6}, labels[] = {1, 0, 1};
    TokenizedSet set = {ids, lens, labels, 3};
    Batch b;
    ck_assert_int_eq(batch_alloc(&b, 4, 8, err, sizeof err), 0);
    int idx[] = {1, 0};
    ck_assert_int_eq(batch_make(&b, &set, idx, 2, 0, err, sizeof err), 0);
    ck_assert_int_eq(b.B, 2);
    ck_assert_int_eq(b.T, 4);  // longest in this batch, not max_T
    int32_t want_ids[] = {101, 102, 0, 0, 101, 7, 8, 102};
    int32_t want_mask[] = {1, 1, 0, 0, 1, 1, 1, 1};
    ck_assert_mem_eq(b.ids, want_ids, sizeof want_ids);
    ck_assert_mem_eq(b.mask, want_mask, sizeof want_mask);
    ck_assert_int_eq(b.labels[0], 0);
    ck_assert_int_eq(b.labels[1], 1);
    ck_assert_int_eq(b.rows[0], 1);

    int idx3[] = {2, 1, 0};
    ck_assert_int_eq(batch_make(&b, &set, idx3, 3, 1, err, sizeof err), 0);  // RoBERTa pad id 1
    ck_assert_int_eq(b.T, 6);
    ck_assert_int_eq(b.ids[1 * 6 + 2], 1);
    ck_assert_int_eq(b.mask[1 * 6 + 2], 0);
    ck_assert_int_eq(b.mask[0 * 6 + 5], 1);

    set.labels = NULL;
    ck_assert_int_eq(batch_make(&b, &set, idx, 1, 0, err, sizeof err), 0);
    ck_assert_int_eq(b.labels[0], -1);
    int bad[] = {3};
    ck_assert_int_eq(batch_make(&b, &set, bad, 1, 0, err, sizeof err), -1);
    ck_assert_int_eq(batch_make(&b, &set, idx3, 5, 0, err, sizeof err), -1);  // > max_B
    batch_free(&b);
    ck_assert_int_eq(batch_alloc(&b, 4, 5, err, sizeof err), 0);
    int long_one[] = {2};
    ck_assert_int_eq(batch_make(&b, &set, long_one, 1, 0, err, sizeof err), -1);  // 6 > max_T
    batch_free(&b);
}
END_TEST

static void check_plan_covers(const BatchPlan *p, const int *rows, int n) {
    int max_row = 0;
    for (int i = 0; i < n; i++) max_row = rows[i] > max_row ? rows[i] : max_row;
    int *seen = calloc((size_t)max_row + 1, sizeof(int));
    int total = 0;
    for (int k = 0; k < p->n_batches; k++) {
        for (int j = 0; j < p->batch_len[k]; j++) seen[p->rows[p->batch_start[k] + j]]++;
        total += p->batch_len[k];
    }
    ck_assert_int_eq(total, n);
    for (int i = 0; i < n; i++) ck_assert_int_eq(seen[rows[i]], 1);
    free(seen);
}

// total padding of a plan: sum over batches of (B * longest - tokens)
static long plan_padding(const BatchPlan *p, const int *lens) {
    long pad = 0;
    for (int k = 0; k < p->n_batches; k++) {
        int T = 0;
        long tokens = 0;
        for (int j = 0; j < p->batch_len[k]; j++) {
            int l = lens[p->rows[p->batch_start[k] + j]];
            T = l > T ? l : T;
            tokens += l;
        }
        pad += (long)p->batch_len[k] * T - tokens;
    }
    return pad;
}

START_TEST(test_batch_plan) {
    enum { N = 1003, B = 8 };
    int rows[N], lens[2 * N];
    Rng rng;
    rng_seed(&rng, 5, RNG_STREAM);
    for (int i = 0; i < 2 * N; i++) lens[i] = 2 + (int)rng_below(&rng, 254);
    for (int i = 0; i < N; i++) rows[i] = 2 * i + 1;  // a subset of the rows, as after a split
    BatchPlan plain, bucketed, again, other;
    ck_assert_int_eq(batch_plan_make(&plain, rows, N, lens, B, 1, 0, 42, err, sizeof err), 0);
    ck_assert_int_eq(batch_plan_make(&bucketed, rows, N, lens, B, 1, 50, 42, err, sizeof err), 0);
    ck_assert_int_eq(batch_plan_make(&again, rows, N, lens, B, 1, 50, 42, err, sizeof err), 0);
    ck_assert_int_eq(batch_plan_make(&other, rows, N, lens, B, 1, 50, 43, err, sizeof err), 0);
    ck_assert_int_eq(plain.n_batches, (N + B - 1) / B);
    check_plan_covers(&plain, rows, N);
    check_plan_covers(&bucketed, rows, N);
    ck_assert_mem_eq(bucketed.rows, again.rows, N * sizeof(int));
    ck_assert_mem_eq(bucketed.batch_start, again.batch_start, (size_t)bucketed.n_batches * sizeof(int));
    ck_assert(memcmp(bucketed.rows, other.rows, N * sizeof(int)) != 0);
    ck_assert_int_lt(plan_padding(&bucketed, lens) * 4, plan_padding(&plain, lens));
    // within a batch of a bucketed plan, lengths are sorted
    for (int k = 0; k < bucketed.n_batches; k++)
        for (int j = 1; j < bucketed.batch_len[k]; j++)
            ck_assert_int_le(lens[bucketed.rows[bucketed.batch_start[k] + j - 1]],
                             lens[bucketed.rows[bucketed.batch_start[k] + j]]);
    // the batch order is shuffled: batch 0 is not always the shortest chunk's first
    int shuffled = 0;
    for (int k = 1; k < bucketed.n_batches; k++) shuffled |= bucketed.batch_start[k] < bucketed.batch_start[k - 1];
    ck_assert(shuffled);
    batch_plan_free(&plain);
    batch_plan_free(&bucketed);
    batch_plan_free(&again);
    batch_plan_free(&other);

    // no shuffle, no bucketing: rows in the given order
    ck_assert_int_eq(batch_plan_make(&plain, rows, N, lens, B, 0, 0, 0, err, sizeof err), 0);
    ck_assert_mem_eq(plain.rows, rows, N * sizeof(int));
    ck_assert_int_eq(plain.batch_len[plain.n_batches - 1], N % B);
    batch_plan_free(&plain);
}
END_TEST

// ---------------------------------------------------------------- metrics (dev/data_metrics_expected.py)

#define EPS 1e-12

START_TEST(test_metrics_binary) {
    int y[] = {0, 1, 1, 0, 1, 1, 0, 0, 1, 1}, p[] = {0, 1, 0, 0, 1, 1, 1, 0, 1, 0};
    float p1[] = {0.1f, 0.8f, 0.4f, 0.3f, 0.9f, 0.7f, 0.6f, 0.2f, 0.95f, 0.45f}, probs[20];
    for (int i = 0; i < 10; i++) { probs[2 * i] = 1.0f - p1[i]; probs[2 * i + 1] = p1[i]; }
    Metrics m;
    ck_assert_int_eq(metrics_compute(&m, y, p, probs, 10, 2, err, sizeof err), 0);
    ck_assert_double_eq_tol(m.accuracy, 0.7, EPS);
    ck_assert_double_eq_tol(m.precision[0], 0.6, EPS);
    ck_assert_double_eq_tol(m.recall[0], 0.75, EPS);
    ck_assert_double_eq_tol(m.f1[1], 0.72727272727272729, EPS);
    ck_assert_double_eq_tol(m.binary_f1, 0.72727272727272729, EPS);
    ck_assert_double_eq_tol(m.macro_recall, 0.70833333333333326, EPS);
    ck_assert_double_eq_tol(m.macro_f1, 0.69696969696969702, EPS);
    ck_assert_double_eq_tol(m.weighted_precision, 0.72, EPS);
    ck_assert_double_eq_tol(m.weighted_f1, 0.70303030303030289, EPS);
    int cm[] = {3, 1, 2, 4};
    ck_assert_mem_eq(m.confusion, cm, sizeof cm);
    ck_assert_double_eq_tol(m.log_loss, 0.40527406109485192, 1e-7);  // 1 - p1 rounds in float
    ck_assert_double_eq_tol(m.brier, 0.13050000515580196, 1e-9);
    char *names[] = {"negative", "positive"};
    char *report = metrics_report(&m, names);
    ck_assert_str_eq(report,
                     "              precision    recall  f1-score   support\n"
                     "\n"
                     "    negative       0.60      0.75      0.67         4\n"
                     "    positive       0.80      0.67      0.73         6\n"
                     "\n"
                     "    accuracy                           0.70        10\n"
                     "   macro avg       0.70      0.71      0.70        10\n"
                     "weighted avg       0.72      0.70      0.70        10\n");
    free(report);

    // metrics.json and predictions.csv, read back
    make_tmp_dir();
    char path[300];
    snprintf(path, sizeof path, "%s/metrics.json", tmp_dir);
    ck_assert_msg(metrics_write_json(path, &m, names, err, sizeof err) == 0, "%s", err);
    char *text;
    size_t len;
    ck_assert_int_eq(read_file(path, &text, &len, err, sizeof err), 0);
    cJSON *root = cJSON_Parse(text);
    ck_assert_ptr_nonnull(root);
    ck_assert_double_eq_tol(cJSON_GetObjectItemCaseSensitive(root, "f1")->valuedouble, m.binary_f1, 1e-15);
    ck_assert_double_eq_tol(cJSON_GetObjectItemCaseSensitive(root, "brier")->valuedouble, m.brier, 1e-15);
    cJSON *cmj = cJSON_GetObjectItemCaseSensitive(root, "confusion_matrix");
    ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetArrayItem(cmj, 1), 0)->valueint, 2);
    cJSON *pc = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "per_class"), 1);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(pc, "label")->valuestring, "positive");
    cJSON_Delete(root);
    free(text);

    snprintf(path, sizeof path, "%s/predictions.csv", tmp_dir);
    char *odd_names[] = {"neg, \"bad\"", "pos"};  // names needing CSV quoting
    int rows[10];
    for (int i = 0; i < 10; i++) rows[i] = 100 + i;
    ck_assert_msg(predictions_write_csv(path, rows, y, p, probs, 10, 2, odd_names, err, sizeof err) == 0, "%s", err);
    Dataset ds;  // our own CSV reader reads it back: pred names as "text", true names as labels
    ck_assert_msg(load(&ds, path, "pred", "label", -1) == 0, "%s", err);
    ck_assert_int_eq(ds.n, 10);
    ck_assert_str_eq(ds.texts[0], "neg, \"bad\"");
    ck_assert_str_eq(ds.label_names[0], "neg, \"bad\"");
    ck_assert_int_eq(count_label(&ds, 1), 6);
    dataset_free(&ds);
    ck_assert_int_eq(read_file(path, &text, &len, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(text, "row,label_id,label,pred_id,pred,\"prob_neg, \"\"bad\"\"\",prob_pos\n"
                                       "100,0,\"neg, \"\"bad\"\"\",0,\"neg, \"\"bad\"\"\",0.899999976,0.100000001\n"));
    free(text);
    metrics_free(&m);
}
END_TEST

START_TEST(test_metrics_three_class) {
    int y[] = {0, 1, 2, 2, 1, 0, 2, 1, 0, 2}, p[] = {0, 2, 2, 2, 1, 0, 0, 1, 1, 2};
    float probs[] = {.7f, .1f, .2f, .2f, .3f, .5f, .1f, .1f, .8f, .3f, .2f, .5f, .1f, .8f, .1f,
                     .6f, .3f, .1f, .5f, .2f, .3f, .2f, .6f, .2f, .3f, .4f, .3f, .1f, .2f, .7f};
    Metrics m;
    ck_assert_int_eq(metrics_compute(&m, y, p, probs, 10, 3, err, sizeof err), 0);
    ck_assert_double_eq_tol(m.accuracy, 0.7, EPS);
    ck_assert_double_eq_tol(m.precision[2], 0.75, EPS);
    ck_assert_double_eq_tol(m.recall[1], 0.66666666666666663, EPS);
    ck_assert_double_eq_tol(m.macro_f1, 0.69444444444444431, EPS);
    ck_assert_double_eq_tol(m.weighted_f1, 0.7, EPS);
    int cm[] = {2, 1, 0, 0, 2, 1, 1, 0, 3};
    ck_assert_mem_eq(m.confusion, cm, sizeof cm);
    ck_assert_double_eq_tol(m.log_loss, 0.64863536371509478, 1e-12);
    ck_assert(isnan(m.binary_f1) && isnan(m.brier));
    char *names[] = {"World", "Sports", "Sci/Tech"};
    char *report = metrics_report(&m, names);
    ck_assert_str_eq(report,
                     "              precision    recall  f1-score   support\n"
                     "\n"
                     "       World       0.67      0.67      0.67         3\n"
                     "      Sports       0.67      0.67      0.67         3\n"
                     "    Sci/Tech       0.75      0.75      0.75         4\n"
                     "\n"
                     "    accuracy                           0.70        10\n"
                     "   macro avg       0.69      0.69      0.69        10\n"
                     "weighted avg       0.70      0.70      0.70        10\n");
    free(report);
    metrics_free(&m);
}
END_TEST

START_TEST(test_metrics_zero_division) {
    // class 2 is never true and never predicted: its precision, recall and F1 are 0, not NaN
    int y[] = {0, 0, 1, 1}, p[] = {0, 1, 1, 1};
    Metrics m;
    ck_assert_int_eq(metrics_compute(&m, y, p, NULL, 4, 3, err, sizeof err), 0);
    ck_assert_double_eq_tol(m.accuracy, 0.75, EPS);
    ck_assert_double_eq(m.precision[2], 0.0);
    ck_assert_double_eq(m.recall[2], 0.0);
    ck_assert_double_eq(m.f1[2], 0.0);
    ck_assert_int_eq(m.support[2], 0);
    ck_assert_double_eq_tol(m.macro_precision, 0.55555555555555547, EPS);
    ck_assert_double_eq_tol(m.macro_f1, 0.48888888888888893, EPS);
    ck_assert_double_eq_tol(m.weighted_precision, 0.83333333333333326, EPS);
    ck_assert_double_eq_tol(m.weighted_f1, 0.73333333333333339, EPS);
    ck_assert(isnan(m.log_loss));
    char *report = metrics_report(&m, NULL);
    ck_assert_ptr_nonnull(strstr(report, "           2       0.00      0.00      0.00         0\n"));
    ck_assert_ptr_nonnull(strstr(report, "   macro avg       0.56      0.50      0.49         4\n"));
    free(report);
    metrics_free(&m);

    // log loss clips a zero probability of the true class to 1e-15
    int y2[] = {1, 0};
    int p2[] = {0, 0};
    float probs[] = {1.0f, 0.0f, 0.5f, 0.5f};
    ck_assert_int_eq(metrics_compute(&m, y2, p2, probs, 2, 2, err, sizeof err), 0);
    ck_assert_double_eq_tol(m.log_loss, (-log(1e-15) - log(0.5)) / 2, 1e-12);
    ck_assert_double_eq_tol(m.brier, (1.0 + 0.25) / 2, EPS);
    ck_assert_double_eq(m.binary_f1, 0.0);  // class 1 never predicted
    metrics_free(&m);
    int bad[] = {0, 2};
    ck_assert_int_eq(metrics_compute(&m, bad, p2, NULL, 2, 2, err, sizeof err), -1);
}
END_TEST

static Suite *data_suite(void) {
    Suite *s = suite_create("data");
    TCase *readers = tcase_create("readers");
    tcase_add_test(readers, test_csv_rfc4180);
    tcase_add_test(readers, test_tsv_columns);
    tcase_add_test(readers, test_jsonl);
    tcase_add_test(readers, test_imdb_dir);
    tcase_add_test(readers, test_label_mapping);
    tcase_add_test(readers, test_format_detection);
    tcase_add_test(readers, test_hostile_inputs);
    tcase_add_checked_fixture(readers, NULL, remove_tmp_dir);
    suite_add_tcase(s, readers);
    TCase *real = tcase_create("real_files");
    tcase_set_timeout(real, 120);
    tcase_add_test(real, test_real_imdb_csv);
    tcase_add_test(real, test_real_tsv_files);
    tcase_add_test(real, test_real_ag_news);
    tcase_add_checked_fixture(real, NULL, remove_tmp_dir);
    suite_add_tcase(s, real);
    TCase *split = tcase_create("split_batch");
    tcase_add_test(split, test_pcg32_reference);
    tcase_add_test(split, test_split_make);
    tcase_add_test(split, test_split_json);
    tcase_add_test(split, test_batch_make);
    tcase_add_test(split, test_batch_plan);
    tcase_add_checked_fixture(split, NULL, remove_tmp_dir);
    suite_add_tcase(s, split);
    TCase *metrics = tcase_create("metrics");
    tcase_add_test(metrics, test_metrics_binary);
    tcase_add_test(metrics, test_metrics_three_class);
    tcase_add_test(metrics, test_metrics_zero_division);
    tcase_add_checked_fixture(metrics, NULL, remove_tmp_dir);
    suite_add_tcase(s, metrics);
    return s;
}

int main(void) {
    return run_suite(data_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
