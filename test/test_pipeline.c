// test_pipeline.c: ./train and ./infer end to end on real data (UCI Yelp sentences) with a tiny
// random-init DistilBERT (test/fixtures/distilbert-micro.json) and the bert-base-uncased tokenizer:
// the loss falls, every output exists and parses, the best checkpoint reloads in ./infer with
// identical logits, ./infer --eval with split.json reproduces metrics.json byte for byte, and bad
// inputs give one clear error line, exit status 1 and no output directory.
// The programs are run as built by `make` (tests run from the repo root; `make test` builds them).
#include <check.h>
#include <cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fileio.h"
#include "data/batch.h"
#include "data/dataset.h"
#include "data/history.h"
#include "data/metrics.h"
#include "data/plot.h"
#include "data/split.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "test/run_suite.h"
#include "tokenizer/tokenizer.h"

#define DATA "../shared/data/uci-sentences/yelp_labelled.txt"
#define TOKENIZER "../shared/data/vocab/bert-base-uncased"
#define CONFIG "test/fixtures/distilbert-micro.json"
// the training run every test inspects: 480 train / 120 validation rows, 3 epochs of 60 steps
#define TRAIN_FLAGS "--config " CONFIG " --tokenizer " TOKENIZER " --data " DATA \
                    " --n-samples 600 --max-length 32 --batch-size 8 --epochs 3 --lr 1e-3 --seed 42 --threads 2"

static char tmp_root[256];  // made once for the suite (unchecked fixture)
static char out_dir[300];   // the training run's OUTPUT
static int train_status = -1;

// ---------------------------------------------------------------------------------------------------
// helpers

// A command line "./train ..." or "./infer ...", with the programs taken from $ENC_BIN_DIR when it is
// set (make test-asan: the sanitizer builds), else from the repo root.
static void program_command(char *out, size_t n, const char *cmd) {
    const char *bin = getenv("ENC_BIN_DIR");
    if (bin && *bin && strncmp(cmd, "./", 2) == 0) snprintf(out, n, "'%s'/%s", bin, cmd + 2);
    else snprintf(out, n, "%s", cmd);
}

// Run a program with stdout and stderr captured into tmp_root/{stdout,stderr}.txt; returns the exit
// status (or -1 if it did not exit normally).
static int run(const char *fmt, ...) {
    char line[4096], cmd[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    program_command(cmd, sizeof cmd, line);
    size_t k = strlen(cmd);
    snprintf(cmd + k, sizeof cmd - k, " >'%s/stdout.txt' 2>'%s/stderr.txt'", tmp_root, tmp_root);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// The whole file (NUL-terminated; the caller frees), failing the test if it cannot be read.
static char *slurp(const char *fmt, ...) {
    char path[600], err[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    char *data;
    size_t len;
    ck_assert_msg(read_file(path, &data, &len, err, sizeof err) == 0, "%s", err);
    return data;
}

static cJSON *parse_json(const char *fmt, ...) {
    char path[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    char *text = slurp("%s", path);
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "%s does not parse as JSON", path);
    free(text);
    return j;
}

static int exists(const char *fmt, ...) {
    char path[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    struct stat st;
    return stat(path, &st) == 0;
}

static void put(const char *name, const char *data) {
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/%s", tmp_root, name);
    ck_assert_msg(write_file_atomic(path, data, strlen(data), err, sizeof err) == 0, "%s", err);
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "missing number '%s'", key);
    return v->valuedouble;
}

static void suite_setup(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/test_pipeline_XXXXXX");
    if (!mkdtemp(tmp_root)) { perror("mkdtemp"); exit(1); }
    snprintf(out_dir, sizeof out_dir, "%s/run", tmp_root);
    // OpenMP threads that sleep rather than spin at barriers: on a loaded machine (2 cores, other
    // jobs) spinning makes these small steps 10-40x slower
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    char line[2048], cmd[2400];
    snprintf(line, sizeof line, "./train " TRAIN_FLAGS " --output-dir '%s' >'%s/train.log' 2>'%s/train.err'", out_dir,
             tmp_root, tmp_root);
    program_command(cmd, sizeof cmd, line);
    int st = system(cmd);
    train_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void suite_teardown(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
}

static void require_training(void) {
    if (train_status != 0) {
        char *log = slurp("%s/train.err", tmp_root);
        ck_abort_msg("./train exited with %d: %s", train_status, log);
    }
}

// ---------------------------------------------------------------------------------------------------
// the training run

START_TEST(test_loss_falls) {
    require_training();
    cJSON *h = parse_json("%s/history.json", out_dir);
    ck_assert_int_eq(cJSON_GetArraySize(h), 3);
    double first = num(cJSON_GetArrayItem(h, 0), "train_loss"), last = num(cJSON_GetArrayItem(h, 2), "train_loss");
    double val_first = num(cJSON_GetArrayItem(h, 0), "val_loss"), val_best = val_first;
    for (int e = 0; e < 3; e++) {
        const cJSON *r = cJSON_GetArrayItem(h, e);
        ck_assert_int_eq((int)num(r, "epoch"), e + 1);
        double acc = num(r, "val_accuracy"), lr = num(r, "lr"), eps = num(r, "examples_per_s");
        ck_assert(acc >= 0 && acc <= 1 && lr >= 0 && lr <= 1e-3 && eps > 0);
        if (num(r, "val_loss") < val_best) val_best = num(r, "val_loss");
    }
    // a random-init model starts at ln 2 = 0.693; it must have learned something
    ck_assert_msg(first > 0.6 && last < first - 0.05, "train loss %g -> %g did not fall", first, last);
    ck_assert_msg(val_best < val_first - 0.02, "validation loss %g -> best %g did not fall", val_first, val_best);
    // linear decay: the last epoch's lr is the one of step 180 of 180 (warmup 18): 1e-3 * 1/162
    ck_assert_double_eq_tol(num(cJSON_GetArrayItem(h, 2), "lr"), 1e-3 / 162, 1e-12);
    cJSON_Delete(h);
}
END_TEST

START_TEST(test_every_output_exists_and_parses) {
    require_training();
    char err[512];
    // split.json belongs to the data and holds 120 validation + 480 train rows
    DatasetOptions o = dataset_options_default(DATA);
    Dataset ds;
    ck_assert_msg(dataset_load(&ds, &o, err, sizeof err) == 0, "%s", err);
    Split sp;
    char path[600];
    snprintf(path, sizeof path, "%s/split.json", out_dir);
    ck_assert_msg(split_read_json(&sp, path, &ds, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(sp.n_valid, 120);
    ck_assert_int_eq(sp.n_train, 480);

    // metrics.json: every field the issue names, consistent with each other
    cJSON *m = parse_json("%s/metrics.json", out_dir);
    ck_assert_int_eq((int)num(m, "n"), 120);
    const char *keys[] = {"accuracy", "f1", "precision", "recall", "log_loss", "brier", "ece"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        double v = num(m, keys[i]);
        ck_assert_msg(isfinite(v) && v >= 0, "%s = %g", keys[i], v);
    }
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "average")->valuestring, "binary");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(m, "per_class");
    ck_assert_int_eq(cJSON_GetArraySize(pc), 2);
    ck_assert_double_eq(num(cJSON_GetArrayItem(pc, 1), "f1"), num(m, "f1"));  // binary: the positive class
    ck_assert_double_eq(num(cJSON_GetArrayItem(pc, 1), "precision"), num(m, "precision"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(m, "macro_avg"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(m, "weighted_avg"));
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(m, "confusion_matrix");
    int total = 0, diag = 0;
    for (int t = 0; t < 2; t++)
        for (int p = 0; p < 2; p++) {
            int v = cJSON_GetArrayItem(cJSON_GetArrayItem(cm, t), p)->valueint;
            total += v;
            diag += t == p ? v : 0;
        }
    ck_assert_int_eq(total, 120);
    ck_assert_double_eq_tol(num(m, "accuracy"), diag / 120.0, 1e-15);
    // the best checkpoint is the best epoch's weights: its log loss is the lowest validation loss
    cJSON *h = parse_json("%s/history.json", out_dir);
    double best = INFINITY;
    for (int e = 0; e < cJSON_GetArraySize(h); e++) best = fmin(best, num(cJSON_GetArrayItem(h, e), "val_loss"));
    ck_assert_double_eq_tol(num(m, "log_loss"), best, 1e-5);
    cJSON_Delete(h);
    cJSON_Delete(m);
    char *log = slurp("%s/train.log", tmp_root);
    ck_assert_msg(strstr(log, "(identical)") != NULL, "reloaded best checkpoint's validation loss differs:\n%s", log);
    ck_assert_ptr_nonnull(strstr(log, "weighted avg"));  // the report printed as a table
    free(log);

    // predictions.csv: a header and one line per validation row
    char *pred = slurp("%s/predictions.csv", out_dir);
    int lines = 0;
    for (char *p = pred; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, 121);
    ck_assert(strncmp(pred, "row,label_id,label,pred_id,pred,prob_0,prob_1\n", 46) == 0);
    free(pred);

    // the two figures are complete SVG documents with their content
    char *svg = slurp("%s/history.svg", out_dir);
    ck_assert(strncmp(svg, "<?xml", 5) == 0 && strstr(svg, "<svg") && strstr(svg, "</svg>\n"));
    ck_assert(strstr(svg, "validation loss") && strstr(svg, "<polyline"));
    free(svg);
    svg = slurp("%s/confusion_matrix.svg", out_dir);
    ck_assert(strncmp(svg, "<?xml", 5) == 0 && strstr(svg, "</svg>\n") && strstr(svg, "<rect"));
    free(svg);

    // best/: a Hugging Face checkpoint with its tokenizer files, labels from the data
    cJSON *cfg = parse_json("%s/best/config.json", out_dir);
    const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(cfg, "id2label");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(id2label, "1")->valuestring, "1");
    cJSON_Delete(cfg);
    ck_assert(exists("%s/best/model.safetensors", out_dir) && exists("%s/best/tokenizer.json", out_dir) &&
              exists("%s/best/vocab.txt", out_dir) && exists("%s/best/train_args.json", out_dir));

    // nothing left behind: no temporaries, no old checkpoints
    DIR *d = opendir(out_dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        ck_assert_msg(!strstr(e->d_name, ".tmp.") && !strstr(e->d_name, ".old."), "left behind: %s", e->d_name);
    closedir(d);
    split_free(&sp);
    dataset_free(&ds);
}
END_TEST

// The logits ./infer prints for the best checkpoint equal a forward of the checkpoint loaded here.
START_TEST(test_best_checkpoint_reloads_with_identical_logits) {
    require_training();
    const char *texts[] = {"The food was great and the staff friendly.", "Worst service ever, never again.",
                           "meh"};
    // one text per forward on both sides: a padded batch may differ in the last bit (other summation shapes)
    ck_assert_int_eq(run("./infer --model '%s/best' --batch-size 1 --logits '%s' '%s' '%s'", out_dir, texts[0],
                         texts[1], texts[2]), 0);
    char *out = slurp("%s/stdout.txt", tmp_root);

    char dir[600], err[512], notice[256];
    snprintf(dir, sizeof dir, "%s/best", out_dir);
    Model m;
    ck_assert_msg(checkpoint_load(&m, dir, 0, NULL, 0, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(notice, "");
    Tokenizer *tok;
    ck_assert_msg(tokenizer_load(&tok, dir, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(model_alloc_activations(&m, 1, 32, err, sizeof err), 0);
    TokenizerEncoding enc = {0};
    char *line = out;
    for (int i = 0; i < 3; i++) {
        char *nl = strchr(line, '\n');
        ck_assert_msg(nl != NULL, "expected 3 JSON lines, got: %s", out);
        *nl = '\0';
        cJSON *o = cJSON_Parse(line);
        ck_assert_msg(o != NULL, "not JSON: %s", line);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o, "text")->valuestring, texts[i]);
        const cJSON *logits = cJSON_GetObjectItemCaseSensitive(o, "logits");
        const cJSON *probs = cJSON_GetObjectItemCaseSensitive(o, "probabilities");
        ck_assert_int_eq(tokenizer_encode(tok, texts[i], strlen(texts[i]), 32, &enc, err, sizeof err), 0);
        int mask[32];
        for (int t = 0; t < enc.n; t++) mask[t] = 1;
        ck_assert_msg(model_forward(&m, enc.ids, mask, NULL, 1, enc.n, 0, err, sizeof err) == 0, "%s", err);
        double psum = 0;
        for (int c = 0; c < 2; c++) {
            float got = (float)cJSON_GetArrayItem(logits, c)->valuedouble;
            ck_assert_msg(got == (float)m.acts.logits[c], "text %d logit %d: infer %.9g, library %.9g", i, c, got,
                          (double)m.acts.logits[c]);
            psum += num(probs, c ? "1" : "0");
        }
        ck_assert_double_eq_tol(psum, 1.0, 1e-6);
        const char *want = m.acts.logits[1] > m.acts.logits[0] ? "1" : "0";
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o, "label")->valuestring, want);
        cJSON_Delete(o);
        line = nl + 1;
    }
    tokenizer_encoding_free(&enc);
    tokenizer_free(tok);
    model_free(&m);
    free(out);
}
END_TEST

START_TEST(test_eval_with_split_reproduces_metrics) {
    require_training();
    ck_assert_int_eq(run("./infer --model '%s/best' --eval --data " DATA " --split '%s/split.json' --output-dir '%s/eval'",
                         out_dir, out_dir, tmp_root), 0);
    const char *names[] = {"metrics.json", "predictions.csv"};
    for (int i = 0; i < 2; i++) {
        char *a = slurp("%s/%s", out_dir, names[i]), *b = slurp("%s/eval/%s", tmp_root, names[i]);
        ck_assert_msg(strcmp(a, b) == 0, "%s differs between ./train and ./infer --eval", names[i]);
        free(a);
        free(b);
    }
    ck_assert(exists("%s/eval/confusion_matrix.svg", tmp_root));
}
END_TEST

// ./compare reads the run's best/config.json, metrics.json and history.json into one table row
START_TEST(test_compare_report) {
    require_training();
    ck_assert_int_eq(run("./compare --output '%s/cmp' '%s' '%s'", tmp_root, out_dir, out_dir), 0);
    cJSON *rows = parse_json("%s/cmp.json", tmp_root);
    cJSON *m = parse_json("%s/metrics.json", out_dir);
    ck_assert_int_eq(cJSON_GetArraySize(rows), 2);
    const cJSON *r = cJSON_GetArrayItem(rows, 0);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(r, "model_type")->valuestring, "distilbert");
    ck_assert_double_eq(num(r, "accuracy"), num(m, "accuracy"));
    ck_assert_double_eq(num(r, "f1"), num(m, "f1"));
    ck_assert_double_eq(num(r, "log_loss"), num(m, "log_loss"));
    ck_assert_double_eq(num(r, "layers"), 2);
    ck_assert(num(r, "parameters") > 0 && num(r, "examples_per_s") > 0);
    char *md = slurp("%s/cmp.md", tmp_root);
    ck_assert_ptr_nonnull(strstr(md, "| output | model | parameters |"));
    free(md);
    cJSON_Delete(rows);
    cJSON_Delete(m);
    // a folder that is not a training output is an error naming the folder and the missing run.json
    ck_assert_int_eq(run("./compare '%s/no_such_run'", tmp_root), 1);
    char *err = slurp("%s/stderr.txt", tmp_root);
    ck_assert_ptr_nonnull(strstr(err, "no_such_run: no run.json"));
    free(err);
}
END_TEST

// texts from arguments, --file and stdin give the same lines
START_TEST(test_infer_text_sources_agree) {
    require_training();
    put("texts.txt", "Loved it.\r\n\nThe fries were cold.\n");
    ck_assert_int_eq(run("./infer --model '%s/best' 'Loved it.' 'The fries were cold.'", out_dir), 0);
    char *from_args = slurp("%s/stdout.txt", tmp_root);
    ck_assert_int_eq(run("./infer --model '%s/best' --file '%s/texts.txt'", out_dir, tmp_root), 0);
    char *from_file = slurp("%s/stdout.txt", tmp_root);
    ck_assert_int_eq(run("./infer --model '%s/best' --batch-size 1 < '%s/texts.txt'", out_dir, tmp_root), 0);
    char *from_stdin = slurp("%s/stdout.txt", tmp_root);
    ck_assert_str_eq(from_args, from_file);
    ck_assert_str_eq(from_args, from_stdin);
    ck_assert_ptr_nonnull(strstr(from_args, "{\"text\":\"Loved it.\",\"label\":"));
    free(from_args);
    free(from_file);
    free(from_stdin);
}
END_TEST

// --split makes a second run use exactly the same rows; --max-steps stops early
START_TEST(test_train_reuses_split_and_stops_at_max_steps) {
    require_training();
    ck_assert_int_eq(run("./train " TRAIN_FLAGS " --n-samples 100 --split '%s/split.json' --max-steps 5 "
                         "--output-dir '%s/again'", out_dir, tmp_root), 0);
    char *a = slurp("%s/split.json", out_dir), *b = slurp("%s/again/split.json", tmp_root);
    char *va = strstr(a, "\"validation\""), *vb = strstr(b, "\"validation\"");
    ck_assert(va && vb);
    ck_assert_str_eq(va, vb);
    free(a);
    free(b);
    cJSON *h = parse_json("%s/again/history.json", tmp_root);
    ck_assert_int_eq(cJSON_GetArraySize(h), 1);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(h, 0), "step"), 5);
    cJSON_Delete(h);
}
END_TEST

START_TEST(test_inspect_reports_without_training) {
    ck_assert_int_eq(run("./train " TRAIN_FLAGS " --inspect --output-dir '%s/inspect'", tmp_root), 0);
    char *out = slurp("%s/stdout.txt", tmp_root);
    const char *want[] = {"480 rows", "120 rows", "every row starts with [CLS] (101): yes", "ends with [SEP] (102): yes",
                          "truncated to --max-length 32", "histogram", "padding", "8x"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "'%s' missing from the report:\n%s", want[i], out);
    ck_assert(!exists("%s/inspect", tmp_root));
    free(out);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// bad inputs: one error line naming the file and the problem, exit 1, no output directory

typedef struct {
    const char *name;
    const char *file, *content;  // written into tmp_root first (NULL: none)
    const char *args;            // after the program; %s = tmp_root (as often as needed)
    const char *expect[2];       // substrings of the error line
} BadInput;

static const BadInput bad_inputs[] = {
    {"missing column", "cols.csv", "sentence,stars\nnice,1\nbad,0\n",
     "./train " TRAIN_FLAGS " --data %s/cols.csv --label-column label --output-dir %s/out", {"cols.csv", "label"}},
    {"unknown label (checkpoint labels)", "names.tsv", "nice\t1\nbad\tawful\n",
     "./train --model %s/../RUN/best --data %s/names.tsv --output-dir %s/out", {"names.tsv:2", "awful"}},
    {"unknown label (infer --eval)", "three.tsv", "nice\t1\nbad\t0\nodd\t2\n",
     "./infer --model %s/../RUN/best --eval --data %s/three.tsv --output-dir %s/out", {"three.tsv:3", "2"}},
    {"empty file", "empty.tsv", "", "./train " TRAIN_FLAGS " --data %s/empty.tsv --output-dir %s/out", {"empty.tsv", ""}},
    {"invalid UTF-8", "latin1.tsv", "fine\t1\ncaf\xe9 au lait\t0\n",
     "./train " TRAIN_FLAGS " --data %s/latin1.tsv --output-dir %s/out", {"latin1.tsv:2", "UTF-8"}},
    {"malformed CSV quoting", "quotes.csv", "text,label\n\"never closed,1\nok,0\n",
     "./train " TRAIN_FLAGS " --data %s/quotes.csv --output-dir %s/out", {"quotes.csv:2", "quote"}},
    {"missing data file", NULL, NULL, "./train " TRAIN_FLAGS " --data %s/nope.tsv --output-dir %s/out", {"nope.tsv", ""}},
    {"missing model dir", NULL, NULL, "./train --model %s/nomodel --data " DATA " --output-dir %s/out", {"nomodel", ""}},
    {"missing config", NULL, NULL,
     "./train --config %s/nocfg.json --tokenizer " TOKENIZER " --data " DATA " --output-dir %s/out", {"nocfg.json", ""}},
    {"missing tokenizer", NULL, NULL,
     "./train --config " CONFIG " --tokenizer %s/notok --data " DATA " --output-dir %s/out", {"notok", ""}},
    {"missing split", NULL, NULL, "./train " TRAIN_FLAGS " --split %s/nosplit.json --output-dir %s/out", {"nosplit.json", ""}},
    {"split of other data", "other.tsv", "nice\t1\nbad\t0\nfine\t1\nawful\t0\n",
     "./train " TRAIN_FLAGS " --data %s/other.tsv --split %s/../RUN/split.json --output-dir %s/out", {"split.json", "different data"}},
    {"tokenizer does not fit the model", NULL, NULL,
     "./train --config " CONFIG " --tokenizer ../shared/data/vocab/roberta-base --data " DATA " --output-dir %s/out",
     {"roberta-base", "vocab_size"}},
    {"bad number", NULL, NULL, "./train " TRAIN_FLAGS " --lr fast --output-dir %s/out", {"--lr", "fast"}},
    {"unknown option", NULL, NULL, "./train " TRAIN_FLAGS " --epoch 3 --output-dir %s/out", {"--epoch", "unknown"}},
    {"invalid UTF-8 on stdin", "bad_stdin.txt", "ok\n\xff\xfe\n", "./infer --model %s/../RUN/best < %s/bad_stdin.txt",
     {"<stdin>:2", "UTF-8"}},
    {"missing infer model", NULL, NULL, "./infer --model %s/nomodel hello", {"nomodel", ""}},
};

// the args template with every %s replaced by tmp_root (and RUN by the training run's folder name)
static void expand(char *out, size_t n, const char *tmpl) {
    size_t k = 0;
    for (const char *p = tmpl; *p && k + 1 < n; p++) {
        if (p[0] == '%' && p[1] == 's') {
            k += (size_t)snprintf(out + k, n - k, "%s", tmp_root);
            p++;
        } else if (!strncmp(p, "/../RUN", 7)) {
            k += (size_t)snprintf(out + k, n - k, "/run");
            p += 6;
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

START_TEST(test_bad_inputs) {
    const BadInput *b = &bad_inputs[_i];
    if (strstr(b->args, "RUN")) require_training();
    if (b->file) put(b->file, b->content);
    char cmd[2048];
    expand(cmd, sizeof cmd, b->args);
    int status = run("%s", cmd);
    char *err = slurp("%s/stderr.txt", tmp_root);
    ck_assert_msg(status == 1, "%s: exit status %d (want 1); stderr: %s", b->name, status, err);
    int lines = 0;
    for (char *p = err; *p; p++) lines += *p == '\n';
    ck_assert_msg(lines == 1, "%s: want one error line, got:\n%s", b->name, err);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(strstr(err, b->expect[i]) != NULL, "%s: '%s' not in the error: %s", b->name, b->expect[i], err);
    ck_assert_msg(!exists("%s/out", tmp_root), "%s: an output directory was created", b->name);
    char *out = slurp("%s/stdout.txt", tmp_root);
    ck_assert_msg(strstr(out, "{\"text\"") == NULL, "%s: partial predictions printed: %s", b->name, out);
    free(out);
    free(err);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// library pieces the programs use: ECE, history.json, plots

START_TEST(test_expected_calibration_error) {
    // confidences 0.95 (bin 10), 0.95, 0.65 (bin 7), 0.55 (bin 6), 0.55; correct: yes, no, yes, yes, no
    int y[] = {1, 0, 1, 0, 1}, p[] = {1, 1, 1, 0, 0};
    float probs[] = {.05f, .95f, .05f, .95f, .35f, .65f, .55f, .45f, .55f, .45f};
    Metrics m;
    char err[256];
    ck_assert_int_eq(metrics_compute(&m, y, p, probs, 5, 2, err, sizeof err), 0);
    // bins: {0.95, 0.95}: acc 0.5, conf 0.95 -> 2/5 * 0.45; {0.65}: 1/5 * 0.35; {0.55, 0.55}: acc 0.5 -> 2/5 * 0.05
    double want = 0.4 * 0.45 + 0.2 * 0.35 + 0.4 * 0.05;
    ck_assert_double_eq_tol(m.ece, want, 1e-7);
    metrics_free(&m);
    // perfectly calibrated: confidence 1 and always right
    int y2[] = {0, 1}, p2[] = {0, 1};
    float probs2[] = {1, 0, 0, 1};
    ck_assert_int_eq(metrics_compute(&m, y2, p2, probs2, 2, 2, err, sizeof err), 0);
    ck_assert_double_eq(m.ece, 0);
    metrics_free(&m);
}
END_TEST

START_TEST(test_history_and_plots_write_valid_files) {
    char path[600], err[512];
    EpochRecord h[2] = {{1, 10, 0.7, 0.69, 0.5, 1e-4, 100}, {2, 20, 0.5, NAN, 0.75, 0, 120}};
    snprintf(path, sizeof path, "%s/h.json", tmp_root);
    ck_assert_msg(history_write_json(path, h, 2, err, sizeof err) == 0, "%s", err);
    cJSON *j = parse_json("%s", path);
    ck_assert_int_eq(cJSON_GetArraySize(j), 2);
    ck_assert_double_eq(num(cJSON_GetArrayItem(j, 1), "train_loss"), 0.5);
    cJSON_Delete(j);
    float steps[20];
    for (int i = 0; i < 20; i++) steps[i] = 0.7f - 0.01f * (float)i;
    snprintf(path, sizeof path, "%s/h.svg", tmp_root);
    ck_assert_msg(plot_history_svg(path, h, 2, steps, 20, 10, err, sizeof err) == 0, "%s", err);
    int y[] = {0, 1, 2}, p[] = {0, 2, 2};
    Metrics m;
    ck_assert_int_eq(metrics_compute(&m, y, p, NULL, 3, 3, err, sizeof err), 0);
    char *names[] = {"a<b", "R&D", "\"q\""};  // escaped in the SVG
    snprintf(path, sizeof path, "%s/cm.svg", tmp_root);
    ck_assert_msg(plot_confusion_svg(path, &m, names, err, sizeof err) == 0, "%s", err);
    metrics_free(&m);
    char *svg = slurp("%s", path);
    ck_assert(strstr(svg, "a&lt;b") && strstr(svg, "R&amp;D") && strstr(svg, "&quot;q&quot;") && !strstr(svg, "a<b"));
    free(svg);
}
END_TEST

static Suite *pipeline_suite(void) {
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("end to end");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_loss_falls);
    tcase_add_test(tc, test_every_output_exists_and_parses);
    tcase_add_test(tc, test_best_checkpoint_reloads_with_identical_logits);
    tcase_add_test(tc, test_eval_with_split_reproduces_metrics);
    tcase_add_test(tc, test_infer_text_sources_agree);
    tcase_add_test(tc, test_compare_report);
    tcase_add_test(tc, test_train_reuses_split_and_stops_at_max_steps);
    tcase_add_test(tc, test_inspect_reports_without_training);
    tcase_add_loop_test(tc, test_bad_inputs, 0, (int)(sizeof bad_inputs / sizeof bad_inputs[0]));
    tcase_add_test(tc, test_expected_calibration_error);
    tcase_add_test(tc, test_history_and_plots_write_valid_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(pipeline_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
