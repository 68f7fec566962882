// train.c: fine-tune a DistilBERT sequence classifier on a labelled text file, the seed notebook's
// pipeline in C (shared/doc/reference-semantics.md §9 and §11, doc/pipeline.md):
//   read the data -> split without leakage (split.json) -> tokenize -> per step: zero_grad, forward
//   (dropout on), backward, clip, AdamW at the warmup-then-linear-decay lr -> per epoch: validation
//   loss and accuracy, the best checkpoint by validation loss to OUTPUT/best -> reports on the
//   validation rows with the best checkpoint reloaded from disk.
//
//   ./train --model DIR | --config FILE --tokenizer PATH  --data PATH [options]   (./train --help)
//
// This file only parses arguments and orchestrates; the pieces live in data/ (dataset, split,
// batch, metrics, history, plot, pipeline, inspect), model/ and tokenizer/.
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/dirs.h"
#include "common/fileio.h"
#include "data/batch.h"
#include "data/dataset.h"
#include "data/history.h"
#include "data/inspect.h"
#include "run/output_dir.h"
#include "run/pipeline.h"
#include "data/plot.h"
#include "run/resume.h"
#include "data/split.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "run/device.h"
#include "model/model.h"
#include "model/train_state.h"
#include "tokenizer/tokenizer.h"

#define BUCKET_BATCHES 50  // --bucket: sort each chunk of 50 batches' rows by length (HF group_by_length)

typedef struct {
    const char *model_dir, *config_path, *tokenizer_path;
    const char *data_path, *format, *text_column, *label_column, *label_mode, *split_path;
    const char *output_dir;
    const char *device, *precision;  // --device cpu|cuda, --precision fp32|bf16 (run/device.h)
    int n_samples;
    double valid_ratio;
    int max_length, batch_size, eval_batch_size, epochs;
    long max_steps;
    double lr, weight_decay, warmup_ratio, max_grad_norm;
    uint64_t seed;
    int threads, bucket, inspect;
    const char *resume_dir;   // --resume OUTPUT
    long save_steps;          // --save-steps N: resume state every N optimizer steps (0: epoch ends only)
    long debug_nan_step;      // --debug-nan-at-step N: test hook, a NaN in one gradient at step N (not in
                              // --help; doc/pipeline.md, doc/reliability.md)
    int save_steps_given;
    uint64_t given;           // bit i: RUN_ARGS[i] was on the command line
    int num_labels;           // --num-labels K: integer labels are ids < K, classes may be empty (0: derive)
    int min_class_rows;       // --min-class-rows N: a class with fewer rows is an error (default 2; 1: off)
    double max_unk_fraction;  // --max-unk-fraction X: more [UNK] among the first rows' tokens is an error
    int overwrite;            // --overwrite-output-dir: an earlier run in OUTPUT may be replaced
    int clear_output;         // OUTPUT holds an earlier run that this run removes once its inputs are checked
    char run_id[RUN_ID_CHARS + 1];  // this run's id (run.json; kept by --resume)
} TrainArgs;

// The arguments that decide a run's result: recorded in the resume state and, on --resume, taken
// from it (or, when given again, required to be equal). --threads, --save-steps and --output-dir are
// not among them; bit-identical results are promised for the same --threads only (doc/reliability.md).
// ARG_PATH: a file or folder, recorded as an absolute path so that --resume works from any current
// directory (and compared as one when given again)
typedef enum { ARG_STR, ARG_PATH, ARG_INT, ARG_LONG, ARG_DOUBLE, ARG_U64, ARG_FLAG } ArgType;
typedef struct {
    const char *flag, *key;
    ArgType type;
    size_t offset;
} ArgSpec;
#define RUN_ARG(flag, key, type, field) {flag, key, type, offsetof(TrainArgs, field)}
static const ArgSpec RUN_ARGS[] = {
    RUN_ARG("--model", "model", ARG_PATH, model_dir),
    RUN_ARG("--config", "config", ARG_PATH, config_path),
    RUN_ARG("--tokenizer", "tokenizer", ARG_PATH, tokenizer_path),
    RUN_ARG("--data", "data", ARG_PATH, data_path),
    RUN_ARG("--format", "format", ARG_STR, format),
    RUN_ARG("--text-column", "text_column", ARG_STR, text_column),
    RUN_ARG("--label-column", "label_column", ARG_STR, label_column),
    RUN_ARG("--label-mode", "label_mode", ARG_STR, label_mode),
    RUN_ARG("--split", "split", ARG_PATH, split_path),
    RUN_ARG("--n-samples", "n_samples", ARG_INT, n_samples),
    RUN_ARG("--valid-ratio", "valid_ratio", ARG_DOUBLE, valid_ratio),
    RUN_ARG("--max-length", "max_length", ARG_INT, max_length),
    RUN_ARG("--batch-size", "batch_size", ARG_INT, batch_size),
    RUN_ARG("--eval-batch-size", "eval_batch_size", ARG_INT, eval_batch_size),
    RUN_ARG("--epochs", "epochs", ARG_INT, epochs),
    RUN_ARG("--max-steps", "max_steps", ARG_LONG, max_steps),
    RUN_ARG("--lr", "lr", ARG_DOUBLE, lr),
    RUN_ARG("--weight-decay", "weight_decay", ARG_DOUBLE, weight_decay),
    RUN_ARG("--warmup-ratio", "warmup_ratio", ARG_DOUBLE, warmup_ratio),
    RUN_ARG("--max-grad-norm", "max_grad_norm", ARG_DOUBLE, max_grad_norm),
    RUN_ARG("--seed", "seed", ARG_U64, seed),
    RUN_ARG("--bucket", "bucket", ARG_FLAG, bucket),
    RUN_ARG("--num-labels", "num_labels", ARG_INT, num_labels),
};
#define N_RUN_ARGS ((int)(sizeof RUN_ARGS / sizeof RUN_ARGS[0]))

static void usage(FILE *out) {
    fprintf(out,
            "usage: ./train (--model DIR | --config FILE --tokenizer PATH) --data PATH [options]\n"
            "       ./train (--model DIR | --tokenizer PATH) --data PATH --inspect [options]\n"
            "  --model DIR          start from a Hugging Face checkpoint (config.json + model.safetensors)\n"
            "  --config FILE        or a config.json: random initialisation (needs --tokenizer)\n"
            "  --tokenizer PATH     tokenizer directory or file (default: the --model directory)\n"
            "  --data PATH          csv, tsv, jsonl file or aclImdb split folder\n"
            "  --format F           csv|tsv|jsonl|imdb-dir (default: from the extension / folder)\n"
            "  --text-column C      text column (name or 0-based index; default text/sentence/review or 0)\n"
            "  --label-column C     label column (default label/sentiment or 1)\n"
            "  --label-mode M       auto|int|names: integer labels are class ids, or every label is a name\n"
            "                       (ids in sorted order; e.g. AG News' 1..4) (default auto, doc/data.md)\n"
            "  --split FILE         reuse a split.json instead of drawing one\n"
            "  --num-labels K       integer labels are class ids below K; classes may have no rows\n"
            "                       (default: 0..K-1 derived from the data, and every class must have rows)\n"
            "  --min-class-rows N   a class with fewer than N rows is an error naming its rows (default 2; 1: off)\n"
            "  --max-unk-fraction X more than this fraction of unknown tokens in the first 100 rows is an error\n"
            "                       (a tokenizer that does not fit the text; default 0.5; 1: off)\n"
            "  --output-dir DIR     where reports and best/ go (default out); a run owns it: a folder holding\n"
            "                       an earlier run is refused, links in it are never followed\n"
            "  --overwrite-output-dir  replace the earlier run in --output-dir (its run files only; the\n"
            "                       removal happens once every input has been checked)\n"
            "  --n-samples N        rows drawn from the shuffled data, 0 = all (default 2000)\n"
            "  --valid-ratio R      validation fraction of the drawn rows (default 0.2)\n"
            "  --max-length N       truncate to N tokens, special tokens included (default 256)\n"
            "  --batch-size N       training batch size (default 4)\n"
            "  --eval-batch-size N  validation batch size (default 4)\n"
            "  --epochs N           (default 3)\n"
            "  --max-steps N        stop after N >= 1 optimizer steps (default: no limit)\n"
            "  --lr X               peak learning rate (default 5e-5)\n"
            "  --weight-decay X     AdamW decoupled weight decay on every parameter (default 0.01)\n"
            "  --warmup-ratio X     linear warmup over this fraction of the steps (default 0.1)\n"
            "  --max-grad-norm X    clip the global gradient norm; 0 = off (default 1.0)\n"
            "  --seed N             split, batch order, dropout and new-head init (default 42)\n"
            "  --bucket             batch rows of similar length together (less padding)\n"
            "  --threads N          OpenMP threads (default: all cores)\n"
            "  --device D           cpu|cuda (default: cuda in a CUDA build when a GPU is usable, else cpu)\n"
            "  --precision P        fp32|bf16 (bf16: mixed precision, bf16 GEMMs; CPU: avx512_bf16 or AMX; default fp32)\n"
            "  --save-steps N       also save the resume state (OUTPUT/resume/) every N optimizer steps\n"
            "                       (it is always saved at the end of each epoch)\n"
            "  --resume OUTPUT      continue the run in OUTPUT from its resume state; the other arguments\n"
            "                       are taken from it (any given again must be equal)\n"
            "  --inspect            print the data pipeline sanity report and exit (no training)\n"
            "  --help\n");
}

// One error line on stderr, exit 1 (every bad input ends here, before OUTPUT is created).
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "train: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---------------------------------------------------------------------------------------------------
// argument parsing

static long parse_long(const char *flag, const char *v, long lo, long hi) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) die("%s expects an integer in [%ld, %ld], got '%s'", flag, lo, hi, v);
    return x;
}

static double parse_double(const char *flag, const char *v, double lo, double hi) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) die("%s expects a number in [%g, %g], got '%s'", flag, lo, hi, v);
    return x;
}

static void mark_given(TrainArgs *a, const char *flag) {
    for (int i = 0; i < N_RUN_ARGS; i++)
        if (!strcmp(RUN_ARGS[i].flag, flag)) a->given |= (uint64_t)1 << i;
}

static void parse_args(TrainArgs *a, int argc, char **argv) {
    *a = (TrainArgs){.output_dir = NULL, .n_samples = 2000, .valid_ratio = 0.2, .max_length = 256,
                     .batch_size = 4, .eval_batch_size = 4, .epochs = 3, .max_steps = 0, .lr = 5e-5,
                     .weight_decay = 0.01, .warmup_ratio = 0.1, .max_grad_norm = 1.0, .seed = 42,
                     .min_class_rows = 2, .max_unk_fraction = 0.5};
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) { usage(stdout); exit(0); }
        if (!strcmp(flag, "--bucket")) { a->bucket = BUCKET_BATCHES; mark_given(a, flag); continue; }
        if (!strcmp(flag, "--inspect")) { a->inspect = 1; continue; }
        if (!strcmp(flag, "--overwrite-output-dir")) { a->overwrite = 1; continue; }
        if (strncmp(flag, "--", 2) != 0) die("unexpected argument '%s' (see --help)", flag);
        if (i + 1 >= argc) die("%s needs a value (see --help)", flag);
        const char *v = argv[++i];
        mark_given(a, flag);
        if (!strcmp(flag, "--model")) a->model_dir = v;
        else if (!strcmp(flag, "--config")) a->config_path = v;
        else if (!strcmp(flag, "--tokenizer")) a->tokenizer_path = v;
        else if (!strcmp(flag, "--data")) a->data_path = v;
        else if (!strcmp(flag, "--format")) a->format = v;
        else if (!strcmp(flag, "--text-column")) a->text_column = v;
        else if (!strcmp(flag, "--label-column")) a->label_column = v;
        else if (!strcmp(flag, "--label-mode")) a->label_mode = v;
        else if (!strcmp(flag, "--split")) a->split_path = v;
        else if (!strcmp(flag, "--output-dir")) a->output_dir = v;
        else if (!strcmp(flag, "--n-samples")) a->n_samples = (int)parse_long(flag, v, 0, DATASET_MAX_ROWS);
        else if (!strcmp(flag, "--valid-ratio")) a->valid_ratio = parse_double(flag, v, 0, 0.99);
        else if (!strcmp(flag, "--max-length")) a->max_length = (int)parse_long(flag, v, 2, 1 << 16);
        else if (!strcmp(flag, "--batch-size")) a->batch_size = (int)parse_long(flag, v, 1, 1 << 16);
        else if (!strcmp(flag, "--eval-batch-size")) a->eval_batch_size = (int)parse_long(flag, v, 1, 1 << 16);
        else if (!strcmp(flag, "--epochs")) a->epochs = (int)parse_long(flag, v, 1, 100000);
        else if (!strcmp(flag, "--max-steps")) a->max_steps = parse_long(flag, v, 1, 1L << 40);
        else if (!strcmp(flag, "--lr")) a->lr = parse_double(flag, v, 0, 10);
        else if (!strcmp(flag, "--weight-decay")) a->weight_decay = parse_double(flag, v, 0, 10);
        else if (!strcmp(flag, "--warmup-ratio")) a->warmup_ratio = parse_double(flag, v, 0, 1);
        else if (!strcmp(flag, "--max-grad-norm")) a->max_grad_norm = parse_double(flag, v, 0, 1e30);
        else if (!strcmp(flag, "--seed")) a->seed = (uint64_t)parse_long(flag, v, 0, 1L << 62);
        else if (!strcmp(flag, "--threads")) a->threads = (int)parse_long(flag, v, 1, 4096);
        else if (!strcmp(flag, "--num-labels")) a->num_labels = (int)parse_long(flag, v, 2, DATASET_MAX_LABELS);
        else if (!strcmp(flag, "--min-class-rows")) a->min_class_rows = (int)parse_long(flag, v, 1, DATASET_MAX_ROWS);
        else if (!strcmp(flag, "--max-unk-fraction")) a->max_unk_fraction = parse_double(flag, v, 0, 1);
        else if (!strcmp(flag, "--save-steps")) a->save_steps = parse_long(flag, v, 0, 1L << 40), a->save_steps_given = 1;
        else if (!strcmp(flag, "--resume")) a->resume_dir = v;
        else if (!strcmp(flag, "--device")) a->device = v;
        else if (!strcmp(flag, "--precision")) a->precision = v;
        else if (!strcmp(flag, "--debug-nan-at-step")) a->debug_nan_step = parse_long(flag, v, 1, 1L << 40);
        else die("unknown option '%s' (see --help)", flag);
    }
    if (a->resume_dir) {
        if (a->inspect) die("--resume and --inspect do not go together");
        if (a->overwrite) die("--resume continues the run in %s; --overwrite-output-dir would replace it: give one", a->resume_dir);
        if (a->output_dir && strcmp(a->output_dir, a->resume_dir) != 0)
            die("--output-dir %s differs from --resume %s (a resumed run writes where it started)", a->output_dir,
                a->resume_dir);
        a->output_dir = a->resume_dir;
    }
    if (!a->output_dir) a->output_dir = "out";
    if (!a->output_dir[0]) die("%s is empty (give a folder name; '.' is the current folder)", a->resume_dir ? "--resume" : "--output-dir");
}

// The output folder rules (run/output_dir.h), before any input is read: OUTPUT and its run entries
// are no links and of the right types; an earlier run there needs --overwrite-output-dir (or
// --resume, whose run.json must name the state's run); no input lies in a run entry this run
// replaces. Sets a->run_id and a->clear_output.
static void check_output_dir(TrainArgs *a, const cJSON *state_args, const char *state_path) {
    char err[1024];
    int has_run;
    if (output_dir_check(a->output_dir, &has_run, err, sizeof err) != 0) die("%s", err);
    if (state_args) {
        int complete;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(state_args, "run_id");
        if (run_manifest_read(a->output_dir, a->run_id, &complete, 0, err, sizeof err) != 0) die("%s", err);
        if (!cJSON_IsString(id) || strcmp(id->valuestring, a->run_id) != 0)
            die("%s: made by run %s, but %s/%s names run %s: the folder holds parts of two runs", state_path,
                cJSON_IsString(id) ? id->valuestring : "(none)", a->output_dir, RUN_MANIFEST, a->run_id);
        return;
    }
    if (has_run && !a->overwrite)
        die("%s holds an earlier run: give --overwrite-output-dir to replace it, --resume %s to continue it, or "
            "another --output-dir", a->output_dir, a->output_dir);
    const char *flags[] = {"--model", "--config", "--tokenizer", "--data"};
    const char *paths[] = {a->model_dir, a->config_path, a->tokenizer_path, a->data_path};
    for (int i = 0; i < 4; i++) {
        const char *entry = paths[i] ? output_dir_entry_holding(a->output_dir, paths[i]) : NULL;
        if (entry)
            die("%s %s lies in %s/%s, which this run replaces: copy it elsewhere first, or choose another --output-dir",
                flags[i], paths[i], a->output_dir, entry);
    }
    a->clear_output = has_run;
    run_id_new(a->run_id);
}

// the checks that need every argument (after --resume has filled them in)
static void check_args(const TrainArgs *a) {
    if (!a->data_path) die("--data PATH is required (see --help)");
    if (a->model_dir && a->config_path) die("give one of --model DIR or --config FILE, not both");
    if (a->inspect && (a->model_dir || a->tokenizer_path)) return;  // --inspect needs only a tokenizer
    if (!a->model_dir && !a->config_path) die("give --model DIR or --config FILE (see --help)");
    if (a->config_path && !a->tokenizer_path) die("--config needs --tokenizer PATH");
}

// The RUN_ARGS as a JSON object (strings or null, numbers exact, the seed as a decimal string).
static cJSON *run_args_json(const TrainArgs *a) {
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    for (int i = 0; ok && i < N_RUN_ARGS; i++) {
        const ArgSpec *sp = &RUN_ARGS[i];
        const char *field = (const char *)a + sp->offset;
        char buf[32];
        switch (sp->type) {
        case ARG_STR:
        case ARG_PATH: {
            const char *v = *(const char *const *)field;
            char *abs = v && sp->type == ARG_PATH ? path_absolute(v) : NULL;
            if (v && sp->type == ARG_PATH && !abs) die("%s: cannot make the path absolute: %s", v, strerror(errno));
            ok = (v ? cJSON_AddStringToObject(o, sp->key, abs ? abs : v) : cJSON_AddNullToObject(o, sp->key)) != NULL;
            free(abs);
            break;
        }
        case ARG_INT: ok = cJSON_AddNumberToObject(o, sp->key, *(const int *)field) != NULL; break;
        case ARG_LONG: ok = cJSON_AddNumberToObject(o, sp->key, (double)*(const long *)field) != NULL; break;
        case ARG_DOUBLE: ok = json_add_exact(o, sp->key, *(const double *)field); break;
        case ARG_U64:
            snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)field);
            ok = cJSON_AddStringToObject(o, sp->key, buf) != NULL;
            break;
        case ARG_FLAG: ok = cJSON_AddBoolToObject(o, sp->key, *(const int *)field != 0) != NULL; break;
        }
    }
    if (!ok) die("out of memory");
    return o;
}

// --resume: every RUN_ARG not on the command line is taken from the state's "args"; one that is must
// be equal (a different --lr or data would not continue the same run). Strings point into `args`.
static void merge_resume_args(TrainArgs *a, const cJSON *args, const char *state_path) {
    TrainArgs saved = *a;
    for (int i = 0; i < N_RUN_ARGS; i++) {
        const ArgSpec *sp = &RUN_ARGS[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, sp->key);
        char *dst = (char *)&saved + sp->offset;
        const char *bad = NULL;
        switch (sp->type) {
        case ARG_STR:
        case ARG_PATH:
            if (cJSON_IsString(v)) *(const char **)dst = v->valuestring;
            else if (cJSON_IsNull(v)) *(const char **)dst = NULL;
            else bad = "a string or null";
            break;
        case ARG_INT:
        case ARG_LONG:
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e15) bad = "an integer";
            else if (sp->type == ARG_INT) *(int *)dst = (int)v->valuedouble;
            else *(long *)dst = (long)v->valuedouble;
            break;
        case ARG_DOUBLE:
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) bad = "a number";
            else *(double *)dst = v->valuedouble;
            break;
        case ARG_U64: {
            char *end = NULL;
            errno = 0;
            if (!cJSON_IsString(v) || !(v->valuestring[0] >= '0' && v->valuestring[0] <= '9')) bad = "a decimal string";
            else {
                *(uint64_t *)dst = strtoull(v->valuestring, &end, 10);
                if (errno || *end) bad = "a decimal string";
            }
            break;
        }
        case ARG_FLAG:
            if (!cJSON_IsBool(v)) bad = "true or false";
            else *(int *)dst = cJSON_IsTrue(v) ? BUCKET_BATCHES : 0;
            break;
        }
        if (bad) die("%s: args.%s must be %s", state_path, sp->key, bad);
    }
    // given again: must be equal (compared as the values the run used)
    for (int i = 0; i < N_RUN_ARGS; i++) {
        if (!(a->given >> i & 1)) continue;
        const ArgSpec *sp = &RUN_ARGS[i];
        const char *x = (const char *)a + sp->offset, *y = (const char *)&saved + sp->offset;
        int same;
        char now[64] = "", then[64] = "";
        switch (sp->type) {
        case ARG_STR:
        case ARG_PATH: {
            const char *p = *(const char *const *)x, *q = *(const char *const *)y;
            same = (!p && !q) || (p && q && !strcmp(p, q));
            if (!same && p && q && sp->type == ARG_PATH) {  // a relative path given again names the same file
                char *ap = path_absolute(p), *aq = path_absolute(q);
                same = ap && aq && !strcmp(ap, aq);
                free(ap);
                free(aq);
            }
            snprintf(now, sizeof now, "%s", p ? p : "(none)");
            snprintf(then, sizeof then, "%s", q ? q : "(none)");
            break;
        }
        case ARG_INT: case ARG_FLAG:
            same = *(const int *)x == *(const int *)y;
            snprintf(now, sizeof now, "%d", *(const int *)x);
            snprintf(then, sizeof then, "%d", *(const int *)y);
            break;
        case ARG_LONG:
            same = *(const long *)x == *(const long *)y;
            snprintf(now, sizeof now, "%ld", *(const long *)x);
            snprintf(then, sizeof then, "%ld", *(const long *)y);
            break;
        case ARG_DOUBLE:
            same = *(const double *)x == *(const double *)y;
            snprintf(now, sizeof now, "%.17g", *(const double *)x);
            snprintf(then, sizeof then, "%.17g", *(const double *)y);
            break;
        default:
            same = *(const uint64_t *)x == *(const uint64_t *)y;
            snprintf(now, sizeof now, "%" PRIu64, *(const uint64_t *)x);
            snprintf(then, sizeof then, "%" PRIu64, *(const uint64_t *)y);
            break;
        }
        if (!same)
            die("%s %s differs from the run being resumed (%s in %s): leave it out or give the same value", sp->flag,
                now, then, state_path);
    }
    saved.given = a->given;
    *a = saved;
}

// ---------------------------------------------------------------------------------------------------
// inputs: tokenizer, label names, data, split, model

// A checkpoint's label names, if its config.json names them (not HF's default LABEL_0, LABEL_1, ...);
// the data's labels are then mapped onto them. Returns the number of names (0: none to keep).
static int checkpoint_label_names(const char *model_dir, char ***names) {
    char err[1024];
    char *path = path_join(model_dir, "config.json");
    ModelConfig cfg;
    if (!path) die("out of memory");
    if (config_load(&cfg, path, err, sizeof err) != 0) die("%s", err);
    free(path);
    int named = 0;
    for (int i = 0; i < cfg.num_labels; i++) {
        char def[32];
        snprintf(def, sizeof def, "LABEL_%d", i);
        named |= strcmp(cfg.id2label[i], def) != 0;
    }
    int n = 0;
    if (named) {
        *names = calloc((size_t)cfg.num_labels, sizeof(char *));
        if (!*names) die("out of memory");
        for (n = 0; n < cfg.num_labels; n++) (*names)[n] = strdup(cfg.id2label[n]);
    }
    config_free(&cfg);
    return n;
}

// The rows (line numbers where the file has them) of class c, at most 5, as ", line 7, line 12".
static void class_rows_text(const Dataset *ds, int c, char *out, size_t len) {
    out[0] = '\0';
    int shown = 0;
    for (int i = 0; i < ds->n && shown < 5; i++) {
        if (ds->labels[i] != c) continue;
        size_t at = strlen(out);
        if (ds->lines && ds->lines[i] > 0) snprintf(out + at, len - at, "%sline %d", shown ? ", " : "", ds->lines[i]);
        else snprintf(out + at, len - at, "%srow %d", shown ? ", " : "", i + 1);
        shown++;
    }
}

// Labels taken too literally (issue 15): integer labels are class ids 0..K-1, so one stray "500" in
// a binary file made a 501-class model; one stray word made a class of one row. Every class must
// have rows (unless --num-labels declares K, or the classes come from a checkpoint), and no class
// fewer than --min-class-rows. The error names the data and the rows, never the config.
static void check_label_counts(const Dataset *ds, const TrainArgs *a, int n_fixed) {
    int *count = calloc((size_t)ds->n_labels, sizeof(int));
    if (!count) die("out of memory");
    for (int i = 0; i < ds->n; i++) count[ds->labels[i]]++;
    int empty = 0, first_empty = -1, largest = 0, rare = -1;
    for (int c = 0; c < ds->n_labels; c++) {
        if (count[c] == 0 && first_empty < 0) first_empty = c;
        empty += count[c] == 0;
        if (count[c] > 0) largest = c;
        if (count[c] > 0 && count[c] < a->min_class_rows && rare < 0) rare = c;
    }
    int rare_count = rare >= 0 ? count[rare] : 0;
    free(count);
    char rows[256];
    if (empty && !n_fixed && !a->num_labels) {
        class_rows_text(ds, largest, rows, sizeof rows);
        die("%s: integer labels are class ids 0..%d, but %d of those classes have no rows (the first: %d); the largest "
            "label, %s (%s), may be a stray: fix the data, give --label-mode names if the labels are names (AG News' "
            "1..4), or --num-labels %d to keep empty classes", ds->path,
            ds->n_labels - 1, empty, first_empty, ds->label_names[largest], rows, ds->n_labels);
    }
    if (rare >= 0) {
        class_rows_text(ds, rare, rows, sizeof rows);
        die("%s: class '%s' has only %d row%s (%s), fewer than --min-class-rows %d: a stray label? fix the data, or "
            "give --min-class-rows 1", ds->path, ds->label_names[rare], rare_count, rare_count == 1 ? "" : "s", rows,
            a->min_class_rows);
    }
}

static void load_dataset(Dataset *ds, const TrainArgs *a, char *const *fixed_names, int n_fixed) {
    char err[1024];
    DatasetOptions o = dataset_options_default(a->data_path);
    if (a->format && dataset_format_parse(a->format, &o.format) != 0)
        die("--format '%s' is not one of csv, tsv, jsonl, imdb-dir", a->format);
    o.text_column = a->text_column;
    o.label_column = a->label_column;
    if (a->label_mode) {
        if (!strcmp(a->label_mode, "int")) o.label_mode = DATASET_LABELS_INT;
        else if (!strcmp(a->label_mode, "names")) o.label_mode = DATASET_LABELS_NAMES;
        else if (strcmp(a->label_mode, "auto") != 0) die("--label-mode '%s' is not one of auto, int, names", a->label_mode);
    }
    o.fixed_label_names = fixed_names;
    o.n_fixed = n_fixed;
    if (a->num_labels > 0 && n_fixed > 0)
        die("--num-labels %d: the labels come from %s/config.json (%d of them); leave --num-labels out", a->num_labels,
            a->model_dir, n_fixed);
    o.num_labels = a->num_labels;
    if (dataset_load(ds, &o, err, sizeof err) != 0) die("%s", err);
    if (ds->n_labels < 2) die("%s: needs at least 2 labels, found %d", a->data_path, ds->n_labels);
    // integer labels name their classes by number, so "all rows are 1" gives 2 classes with one empty:
    // a classifier still needs examples of at least 2 classes
    int first = ds->labels[0], two_classes = 0;
    for (int i = 1; i < ds->n && !two_classes; i++) two_classes = ds->labels[i] != first;
    if (!two_classes) die("%s: every row has label '%s': a classifier needs examples of at least 2 classes",
                          a->data_path, ds->label_names[first]);
    check_label_counts(ds, a, n_fixed);
}

// A tokenizer that does not fit the text, or a --max-length that leaves no room for it, trained on
// nothing without a word (issue 15). --max-length must exceed the template's special tokens; among the
// first UNK_CHECK_ROWS rows, at most --max-unk-fraction of the text tokens may be the unknown token.
#define UNK_CHECK_ROWS 100
static void check_tokenizer_fits_data(Tokenizer *tok, const char *tok_path, const Dataset *ds, const TrainArgs *a) {
    char err[1024];
    TokenizerEncoding enc = {0};
    if (tokenizer_encode(tok, "", 0, 0, &enc, err, sizeof err) != 0) die("%s: %s", tok_path, err);
    int n_special = enc.n;
    if (a->max_length <= n_special) {
        tokenizer_encoding_free(&enc);
        die("--max-length %d leaves no room for text: %s adds %d special tokens to every row; give at least %d",
            a->max_length, tok_path, n_special, n_special + 1);
    }
    int unk = tokenizer_token_to_id(tok, "[UNK]", 5);
    if (unk < 0) unk = tokenizer_token_to_id(tok, "<unk>", 5);
    long n_tokens = 0, n_unk = 0;
    int rows = ds->n < UNK_CHECK_ROWS ? ds->n : UNK_CHECK_ROWS;
    for (int i = 0; unk >= 0 && i < rows; i++) {
        if (tokenizer_encode(tok, ds->texts[i], strlen(ds->texts[i]), 0, &enc, err, sizeof err) != 0) break;
        n_tokens += enc.n - n_special;  // the text's tokens; the template's are never unknown
        for (int k = 0; k < enc.n; k++) n_unk += enc.ids[k] == unk;
    }
    tokenizer_encoding_free(&enc);  // (an encoding error is reported with its line when the rows are tokenized)
    if (n_tokens > 0 && (double)n_unk > a->max_unk_fraction * (double)n_tokens)
        die("%s: %ld of the %ld text tokens of the first %d rows of %s are the unknown token (more than "
            "--max-unk-fraction %g): the tokenizer does not fit this text; give the model's own tokenizer, or "
            "--max-unk-fraction 1 to train anyway", tok_path, n_unk, n_tokens, rows, ds->path, a->max_unk_fraction);
}

static void make_or_read_split(Split *sp, const Dataset *ds, const TrainArgs *a) {
    char err[1024];
    if (a->split_path) {
        if (split_read_json(sp, a->split_path, ds, err, sizeof err) != 0) die("%s", err);
    } else {
        int n_samples = a->n_samples;
        if (n_samples > ds->n) {
            printf("--n-samples %d is more than the %d rows of %s: using all rows\n", n_samples, ds->n, ds->path);
            n_samples = 0;
        }
        if (split_make(sp, ds->n, a->seed, n_samples, a->valid_ratio, err, sizeof err) != 0)
            die("%s: %s", ds->path, err);
    }
    if (sp->n_valid < 1) die("%s: the split has no validation rows (--valid-ratio must be > 0)", ds->path);
    if (sp->n_train < 1) die("%s: the split has no training rows", ds->path);
}

// --model: the checkpoint with the data's labels (a missing head is initialised from the seed);
// --config: a randomly initialised model.
static void build_model(Model *m, const Dataset *ds, const TrainArgs *a, const ResumeState *rs, const char *resume_dir) {
    char err[1024], notice[1024];
    if (rs) {
        if (resume_state_load_model(m, rs, resume_dir, err, sizeof err) != 0) die("%s", err);
        int same = m->config.num_labels == ds->n_labels;
        for (int c = 0; same && c < ds->n_labels; c++) same = !strcmp(m->config.id2label[c], ds->label_names[c]);
        if (!same)
            die("%s/config.json: its labels are not the labels of %s (the data changed since the run started)",
                resume_dir, ds->path);
        return;
    }
    if (a->model_dir) {
        if (checkpoint_load(m, a->model_dir, ds->n_labels, (const char *const *)ds->label_names, a->seed, notice,
                            sizeof notice, err, sizeof err) != 0)
            die("%s", err);
        if (notice[0]) printf("%s\n", notice);
    } else {
        ModelConfig cfg;
        if (config_load(&cfg, a->config_path, err, sizeof err) != 0) die("%s", err);
        if (config_set_labels(&cfg, ds->n_labels, (const char *const *)ds->label_names) != 0)
            die("%s: %d labels, more than a model may have (%d; is --label-column the label?)", ds->path, ds->n_labels,
                MAX_LABELS);
        if (model_init(m, &cfg, err, sizeof err) != 0) die("%s: %s", a->config_path, err);
        model_init_weights(m, a->seed, 0);
    }
    m->dropout_seed = a->seed;
}

// train_args.json: the run's settings (best/ gets a copy, so ./infer knows max_length)
static char *train_args_json(const TrainArgs *a, int best_epoch) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    // paths as absolute paths, like the resume state's (so a resumed run writes the same file)
    const char *keys[] = {"model", "config", "tokenizer", "data"};
    const char *paths[] = {a->model_dir, a->config_path, a->tokenizer_path ? a->tokenizer_path : a->model_dir, a->data_path};
    for (int i = 0; i < 4; i++) {
        char *abs = paths[i] ? path_absolute(paths[i]) : NULL;
        if (paths[i] && !abs) die("%s: cannot make the path absolute: %s", paths[i], strerror(errno));
        cJSON_AddStringToObject(o, keys[i], abs ? abs : "");
        free(abs);
    }
    cJSON_AddNumberToObject(o, "n_samples", a->n_samples);
    cJSON_AddNumberToObject(o, "valid_ratio", a->valid_ratio);
    cJSON_AddNumberToObject(o, "max_length", a->max_length);
    cJSON_AddNumberToObject(o, "batch_size", a->batch_size);
    cJSON_AddNumberToObject(o, "eval_batch_size", a->eval_batch_size);
    cJSON_AddNumberToObject(o, "epochs", a->epochs);
    cJSON_AddNumberToObject(o, "max_steps", (double)a->max_steps);
    cJSON_AddNumberToObject(o, "lr", a->lr);
    cJSON_AddNumberToObject(o, "weight_decay", a->weight_decay);
    cJSON_AddNumberToObject(o, "warmup_ratio", a->warmup_ratio);
    cJSON_AddNumberToObject(o, "max_grad_norm", a->max_grad_norm);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->seed);
    cJSON_AddStringToObject(o, "seed", seed);
    cJSON_AddBoolToObject(o, "bucket", a->bucket > 0);
    if (best_epoch > 0) cJSON_AddNumberToObject(o, "best_epoch", best_epoch);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

// ---------------------------------------------------------------------------------------------------
// progress: a bar on a terminal, plain log lines (about ten per epoch) otherwise

typedef struct {
    int tty;
    double t_start;
    long total_steps;
} Progress;

static void progress_update(const Progress *p, int epoch, int epochs, long step, long steps_in_epoch,
                            long step_in_epoch, double loss, double lr, double examples, double t_epoch) {
    double elapsed = now_s() - p->t_start, eps = t_epoch > 0 ? examples / t_epoch : 0;
    double eta = step > 0 ? elapsed / (double)step * (double)(p->total_steps - step) : 0;
    if (p->tty) {
        int width = 24, done = steps_in_epoch ? (int)(width * step_in_epoch / steps_in_epoch) : width;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r\033[Kepoch %d/%d [%s] step %ld/%ld | loss %.4f | %.1f ex/s | ETA %dm%02ds", epoch, epochs,
                bar, step, p->total_steps, loss, eps, (int)eta / 60, (int)eta % 60);
        if (step_in_epoch == steps_in_epoch) fprintf(stderr, "\n");
    } else {
        long every = steps_in_epoch >= 10 ? steps_in_epoch / 10 : 1;
        if (step_in_epoch % every == 0 || step_in_epoch == steps_in_epoch)
            fprintf(stderr, "epoch %d/%d step %ld/%ld | loss %.4f | lr %.3e | %.1f ex/s | ETA %dm%02ds\n", epoch, epochs,
                    step, p->total_steps, loss, lr, eps, (int)eta / 60, (int)eta % 60);
    }
}

// ---------------------------------------------------------------------------------------------------

// A numerical fault: one line naming the step and the tensor, then exit 1. Nothing is saved after a
// fault, so best/ and resume/ hold their last good state.
static void numerical_fault(const Model *m, const char *where, double loss, int best_epoch, long saved_step) {
    const ParamEntry *first;
    int n = model_count_nonfinite(m, m->grads_memory, &first);
    char what[256], kept[256];
    if (!isfinite(loss)) snprintf(what, sizeof what, "the training loss is %g", loss);
    else snprintf(what, sizeof what, "non-finite gradient");
    if (first && !isfinite(loss))
        snprintf(what + strlen(what), sizeof what - strlen(what), " (non-finite gradient in '%s', %d of %d tensors)",
                 first->name, n, m->n_entries);
    else if (first)
        snprintf(what + strlen(what), sizeof what - strlen(what), " in '%s' (%d of %d tensors; loss %.6g)", first->name, n,
                 m->n_entries, loss);
    if (best_epoch > 0 && saved_step > 0)
        snprintf(kept, sizeof kept, "best/ (epoch %d) and resume/ (step %ld) are left as they were", best_epoch, saved_step);
    else if (best_epoch > 0) snprintf(kept, sizeof kept, "best/ (epoch %d) is left as it was", best_epoch);
    else if (saved_step > 0) snprintf(kept, sizeof kept, "resume/ (step %ld) is left as it was, no best/ yet", saved_step);
    else snprintf(kept, sizeof kept, "nothing was saved");
    if (isatty(STDERR_FILENO)) fprintf(stderr, "\n");  // end the progress bar's line
    die("%s: %s; stopping: %s (a lower --lr or --max-grad-norm may help)", where, what, kept);
}

// Parameters must be finite before any save (a fault the loss and gradient checks did not see).
static void check_params_finite(const Model *m, const char *where) {
    const ParamEntry *first;
    int n = model_count_nonfinite(m, m->params_memory, &first);
    if (n) die("%s: non-finite parameter in '%s' (%d of %d tensors); stopping without saving it", where, first->name, n,
               m->n_entries);
}

// Everything after the inputs are validated: the model, OUTPUT/, the training loop, the reports.
// rs: the resume state to continue from (NULL: a new run). dev: where the training steps run (the CPU
// model stays the owner of the weights: downloaded into it before every evaluation and save).
static void train_and_report(const TrainArgs *a, Tokenizer *tok, const char *tok_path, const Dataset *ds,
                             const Split *sp, const int *sel, int n_sel, const ResumeState *rs, Device *dev) {
    char err[1024];
    char *resume_dir = path_join(a->output_dir, "resume");
    if (!resume_dir) die("out of memory");
    Model model;
    build_model(&model, ds, a, rs, resume_dir);
    const char *model_src = rs ? resume_dir : a->model_dir ? a->model_dir : a->config_path;
    if (check_tokenizer_fits_model(tok, tok_path, &model.config, model_src, a->max_length, err, sizeof err) != 0)
        die("%s", err);
    TokenizedSet set;
    if (tokenize_texts(&set, tok, ds->texts, ds->labels, ds->n, sel, n_sel, a->max_length, NULL, ds->path, ds->lines, err,
                       sizeof err) != 0)
        die("%s", err);
    // activations for training batches; evaluation has its own buffers (evaluate_model)
    if (model_alloc_activations(&model, a->batch_size, a->max_length, err, sizeof err) != 0) die("%s", err);
    if (device_init(dev, &model, a->batch_size, a->max_length, err, sizeof err) != 0) die("%s", err);
    int pad_id = tokenizer_pad_id(tok);

    long steps_per_epoch = (sp->n_train + a->batch_size - 1) / a->batch_size;
    long total_steps = (long)a->epochs * steps_per_epoch;
    if (a->max_steps > 0 && a->max_steps < total_steps) total_steps = a->max_steps;
    long warmup_steps = (long)(a->warmup_ratio * (double)total_steps);
    int epochs = (int)((total_steps + steps_per_epoch - 1) / steps_per_epoch);
    if (rs) {  // the state must sit on this run's schedule
        long in_epoch = rs->epoch <= epochs ? (rs->epoch < epochs ? steps_per_epoch : total_steps - (long)(epochs - 1) * steps_per_epoch) : 0;
        if (rs->total_steps != total_steps || rs->epoch > epochs + 1 || rs->step_in_epoch > in_epoch ||
            (rs->step_in_epoch == in_epoch && in_epoch > 0) ||
            rs->step != (rs->epoch > epochs ? total_steps : (long)(rs->epoch - 1) * steps_per_epoch + rs->step_in_epoch))
            die("%s/trainer_state.json: epoch %d, step %ld of %ld (step %ld in the epoch) is not a point of this run's "
                "schedule (%d epochs of %ld steps, %ld in all)",
                resume_dir, rs->epoch, rs->step, rs->total_steps, rs->step_in_epoch, epochs, steps_per_epoch, total_steps);
    }

    // --- outputs: the directory (an earlier run removed only now, every input being checked), run.json
    // ("running" until every output is written), split.json
    if (make_dirs(a->output_dir, err, sizeof err) != 0) die("%s", err);
    if (a->clear_output && output_dir_clear(a->output_dir, err, sizeof err) != 0) die("%s", err);
    if (rs && output_dir_remove_leftovers(a->output_dir, err, sizeof err) != 0) die("%s", err);
    if (run_manifest_start(a->output_dir, a->run_id, err, sizeof err) != 0) die("%s", err);
    char *split_out = path_join(a->output_dir, "split.json"), *best_dir = path_join(a->output_dir, "best");
    char *history_path = path_join(a->output_dir, "history.json"), *history_svg = path_join(a->output_dir, "history.svg");
    if (!split_out || !best_dir || !history_path || !history_svg) die("out of memory");
    if (!rs && split_write_json(split_out, sp, ds, err, sizeof err) != 0) die("%s", err);

    printf("data: %s, %d rows, %d labels (", ds->path, ds->n, ds->n_labels);
    for (int c = 0; c < ds->n_labels; c++) printf("%s%s", c ? ", " : "", ds->label_names[c]);
    printf(")\nsplit: %d train / %d validation rows%s\n", sp->n_train, sp->n_valid,
           rs ? " (from the run's split.json)" : a->split_path ? " (from --split)" : "");
    printf("model: %s, %d layers, dim %d, %zu parameters; tokenizer %s\n", model_src, model.config.n_layers,
           model.config.dim, model.num_parameters, tok_path);
    printf("training: %d epochs x %ld steps (batch %d), %ld steps total, warmup %ld, lr %g, weight decay %g\n", epochs,
           steps_per_epoch, a->batch_size, total_steps, warmup_steps, a->lr, a->weight_decay);
    if (rs) printf("resuming: %s, epoch %d, step %ld of %ld\n", resume_dir, rs->epoch > epochs ? epochs : rs->epoch,
                   rs->step, total_steps);

    // --- the training loop
    Batch batch;
    if (batch_alloc(&batch, a->batch_size, a->max_length, err, sizeof err) != 0) die("%s", err);
    EpochRecord *history = calloc((size_t)epochs, sizeof *history);
    float *step_losses = malloc(sizeof(float) * (size_t)total_steps);
    if (!history || !step_losses) die("out of memory");
    Progress progress = {isatty(STDERR_FILENO), now_s(), total_steps};
    long step = 0;
    double best_val_loss = INFINITY, lr = 0;
    int best_epoch = 0, first_epoch = 1;
    long first_k = 0, saved_step = 0;
    if (rs) {
        memcpy(history, rs->history, sizeof *history * (size_t)rs->n_history);
        memcpy(step_losses, rs->step_losses, sizeof(float) * (size_t)rs->step);
        step = saved_step = rs->step;
        best_val_loss = rs->best_val_loss;
        best_epoch = rs->best_epoch;
        first_epoch = rs->epoch;
        first_k = rs->step_in_epoch;
    }
    cJSON *run_args = run_args_json(a);
    if (!cJSON_AddNumberToObject(run_args, "save_steps", (double)a->save_steps)) die("out of memory");
    // the run's identity: --resume checks run.json and split.json against these
    char split_hash[20];
    size_t split_size;
    uint64_t split_fnv;
    if (file_fingerprint(split_out, &split_size, &split_fnv, err, sizeof err) != 0) die("%s", err);
    snprintf(split_hash, sizeof split_hash, "%016" PRIx64, split_fnv);
    if (!cJSON_AddStringToObject(run_args, "run_id", a->run_id) || !cJSON_AddStringToObject(run_args, "split_fnv1a64", split_hash))
        die("out of memory");
    // the resume state after `k` steps of `epoch` (epoch + 1 and k = 0 once it is validated)
    ResumeState st = {.total_steps = total_steps, .seed = a->seed, .history = history, .step_losses = step_losses,
                      .args = run_args};
#define SAVE_RESUME(ep, k, steps_done, loss_sum_, examples_, seconds_)                                            \
    do {                                                                                                            \
        device_download(dev, &model, 0);                                                                           \
        check_params_finite(&model, "saving the resume state");                                                    \
        st.epoch = (ep), st.step_in_epoch = (k), st.step = (steps_done), st.forward_count = model.forward_count;  \
        st.adamw_step = model.adamw_step, st.epoch_loss_sum = (loss_sum_), st.epoch_examples = (examples_);      \
        st.epoch_seconds = (seconds_), st.best_epoch = best_epoch, st.best_val_loss = best_val_loss;              \
        st.n_history = (ep) - 1;                                                                                    \
        if (resume_state_save(&model, &st, resume_dir, err, sizeof err) != 0) die("%s", err);                      \
        saved_step = st.step;                                                                                       \
    } while (0)

    for (int epoch = first_epoch; epoch <= epochs; epoch++) {
        BatchPlan plan;
        if (batch_plan_make(&plan, sp->train, sp->n_train, set.lens, a->batch_size, 1, a->bucket, a->seed + (uint64_t)epoch,
                            err, sizeof err) != 0)
            die("%s", err);
        int resumed_here = rs && epoch == first_epoch;
        double t0 = now_s(), loss_sum = resumed_here ? rs->epoch_loss_sum : 0, examples = resumed_here ? rs->epoch_examples : 0;
        double seconds_before = resumed_here ? rs->epoch_seconds : 0;
        long epoch_start = (long)(epoch - 1) * steps_per_epoch;
        long steps_this_epoch = total_steps - epoch_start < plan.n_batches ? total_steps - epoch_start : plan.n_batches;
        for (long k = resumed_here ? first_k : 0; k < steps_this_epoch; k++, step++) {
            if (batch_make(&batch, &set, plan.rows + plan.batch_start[k], plan.batch_len[k], pad_id, err, sizeof err))
                die("%s", err);
            device_zero_grad(dev, &model);
            if (device_forward(dev, &model, batch.ids, batch.mask, batch.labels, batch.B, batch.T, 1, err, sizeof err) != 0)
                die("step %ld: %s", step + 1, err);
            device_backward(dev, &model);
            int nan_hook = a->debug_nan_step == step + 1;  // test hook: one NaN in the gradient of a middle tensor
            if (nan_hook) model.grads_memory[model.table[model.n_entries / 2].offset] = NAN;  // (on the GPU: in the norm)
            double loss = device_mean_loss(dev, &model);
            double norm = device_clip_grad_norm(dev, &model, a->max_grad_norm);  // the norm before clipping
            if (nan_hook && dev->kind == DEVICE_CUDA) norm = NAN;
            if (!isfinite(loss) || !isfinite(norm)) {
                char where[64];
                snprintf(where, sizeof where, "step %ld (epoch %d)", step + 1, epoch);
                device_download(dev, &model, 1);  // the gradients, to name the tensor
                numerical_fault(&model, where, loss, best_epoch, saved_step);
            }
            lr = a->lr * lr_linear_warmup(step, warmup_steps, total_steps);  // optimizer step t uses λ(t-1)
            if (device_adamw_update(dev, &model, lr, 0.9, 0.999, 1e-8, a->weight_decay, err, sizeof err) != 0)
                die("step %ld: %s", step + 1, err);
            step_losses[step] = (float)loss;
            loss_sum += loss;
            examples += batch.B;
            progress_update(&progress, epoch, epochs, step + 1, steps_this_epoch, k + 1, loss, lr, examples,
                            seconds_before + now_s() - t0);
            if (a->save_steps > 0 && (step + 1) % a->save_steps == 0 && k + 1 < steps_this_epoch)
                SAVE_RESUME(epoch, k + 1, step + 1, loss_sum, examples, seconds_before + now_s() - t0);
        }
        double train_time = seconds_before + now_s() - t0;
        batch_plan_free(&plan);

        Evaluation ev;
        device_download(dev, &model, 0);  // validation on the CPU model, which best/ and resume/ are saved from
        if (evaluate_model(&model, &set, sp->valid, sp->n_valid, a->eval_batch_size, pad_id, &ev, err, sizeof err) != 0)
            die("validation: %s", err);
        if (!isfinite(ev.loss)) {
            char kept[128] = "nothing saved";
            if (best_epoch > 0) snprintf(kept, sizeof kept, "best/ (epoch %d) is left as it was", best_epoch);
            die("epoch %d: the validation loss is %g; stopping: %s", epoch, ev.loss, kept);
        }
        EpochRecord *r = &history[epoch - 1];
        *r = (EpochRecord){epoch, step, loss_sum / (double)steps_this_epoch, ev.loss, ev.accuracy, lr,
                           examples / train_time};
        evaluation_free(&ev);
        int improved = r->val_loss < best_val_loss;
        printf("epoch %d: train loss %.4f | val loss %.4f | val accuracy %.4f | %.1f examples/s%s\n", epoch,
               r->train_loss, r->val_loss, r->val_accuracy, r->examples_per_s, improved ? " | best so far, saved" : "");
        if (improved) {
            check_params_finite(&model, "saving best/");
            best_val_loss = r->val_loss;
            best_epoch = epoch;
            char *args_text = train_args_json(a, best_epoch);
            if (!args_text) die("out of memory");
            if (save_checkpoint_dir(&model, tok_path, "train_args.json", args_text, best_dir, err, sizeof err) != 0)
                die("%s", err);
            cJSON_free(args_text);
        }
        if (history_write_json(history_path, history, epoch, err, sizeof err) != 0 ||
            plot_history_svg(history_svg, history, epoch, step_losses, step, steps_per_epoch, err, sizeof err) != 0)
            die("%s", err);
        SAVE_RESUME(epoch + 1, 0, step, 0.0, 0.0, 0.0);
    }
#undef SAVE_RESUME
    cJSON_Delete(run_args);
    if (best_epoch == 0) die("%s: no best checkpoint (no epoch was validated)", best_dir);

    // --- reports for the best checkpoint, reloaded from disk, on the validation rows
    Model best;
    char notice[512];
    if (checkpoint_load(&best, best_dir, 0, NULL, a->seed, notice, sizeof notice, err, sizeof err) != 0) die("%s", err);
    Evaluation ev;
    if (evaluate_model(&best, &set, sp->valid, sp->n_valid, a->eval_batch_size, pad_id, &ev, err, sizeof err) != 0)
        die("%s", err);
    printf("\nbest checkpoint: epoch %d (val loss %.6f), %s; reloaded: val loss %.6f%s\n", best_epoch, best_val_loss,
           best_dir, ev.loss, ev.loss == best_val_loss ? " (identical)" : " (DIFFERS)");
    printf("validation report (%d rows):", ev.n);
    if (write_eval_reports(a->output_dir, &ev, best.config.id2label, stdout, err, sizeof err) != 0) die("%s", err);
    if (run_manifest_complete(a->output_dir, a->run_id, err, sizeof err) != 0) die("%s", err);
    printf("\nwrote %s/{run.json, split.json, history.json, history.svg, metrics.json, predictions.csv, confusion_matrix.svg, best/, resume/}\n",
           a->output_dir);

    evaluation_free(&ev);
    model_free(&best);
    device_free(dev);
    model_free(&model);
    free(history);
    free(step_losses);
    batch_free(&batch);
    tokenized_set_free(&set);
    free(split_out);
    free(best_dir);
    free(history_path);
    free(history_svg);
    free(resume_dir);
}

int main(int argc, char **argv) {
    TrainArgs a;
    parse_args(&a, argc, argv);
    char err[1024];
    Device dev;
    if (device_parse(&dev, a.device, a.precision, err, sizeof err) != 0) die("%s", err);
    ResumeState rs_storage, *rs = NULL;
    if (a.resume_dir) {  // the state first: it supplies the arguments
        char *dir = path_join(a.resume_dir, "resume"), *state_path = path_join(a.resume_dir, "resume/trainer_state.json");
        if (!dir || !state_path) die("out of memory");
        struct stat st;
        if (stat(dir, &st) != 0) die("%s: no resume state (%s); a run saves one at each epoch end and every --save-steps steps", dir, strerror(errno));
        if (resume_state_read(&rs_storage, dir, err, sizeof err) != 0) die("%s", err);
        rs = &rs_storage;
        merge_resume_args(&a, rs->args, state_path);
        const cJSON *ss = cJSON_GetObjectItemCaseSensitive(rs->args, "save_steps");
        if (!a.save_steps_given && cJSON_IsNumber(ss) && ss->valuedouble >= 0 && ss->valuedouble <= 1e15)
            a.save_steps = (long)ss->valuedouble;
        if (rs->seed != a.seed) die("%s: seed %" PRIu64 " differs from args.seed", state_path, rs->seed);
        check_output_dir(&a, rs->args, state_path);
        free(dir);
        free(state_path);
    }
    check_args(&a);
    if (!rs && !a.inspect) check_output_dir(&a, NULL, NULL);
    warn_threads_above_cores(stderr, "train", a.threads);
#ifdef _OPENMP
    if (a.threads > 0) omp_set_num_threads(a.threads);
#endif
    setvbuf(stdout, NULL, _IOLBF, 0);

    // --- inputs, all validated before anything is written
    const char *tok_path = a.tokenizer_path ? a.tokenizer_path : a.model_dir;
    Tokenizer *tok;
    if (tokenizer_load(&tok, tok_path, err, sizeof err) != 0) die("%s", err);
    char **fixed_names = NULL;
    int n_fixed = a.model_dir ? checkpoint_label_names(a.model_dir, &fixed_names) : 0;
    Dataset ds;
    load_dataset(&ds, &a, fixed_names, n_fixed);
    if (!a.inspect) check_tokenizer_fits_data(tok, tok_path, &ds, &a);
    Split sp;
    if (rs) {  // the run's own split.json: the one the state was saved with, and made for this data
        char *split_path = path_join(a.output_dir, "split.json");
        if (!split_path) die("out of memory");
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(rs->args, "split_fnv1a64");
        size_t size;
        uint64_t h;
        char hex[20];
        if (file_fingerprint(split_path, &size, &h, err, sizeof err) != 0) die("%s", err);
        snprintf(hex, sizeof hex, "%016" PRIx64, h);
        if (!cJSON_IsString(want) || strcmp(want->valuestring, hex) != 0)
            die("%s: not the split the resume state was saved with (fnv1a64 %s, the state has %s): it was replaced by "
                "another run", split_path, hex, cJSON_IsString(want) ? want->valuestring : "none");
        if (split_read_json(&sp, split_path, &ds, err, sizeof err) != 0) die("%s", err);
        free(split_path);
    } else {
        make_or_read_split(&sp, &ds, &a);
    }
    int n_sel = sp.n_train + sp.n_valid;
    int *sel = malloc(sizeof(int) * (size_t)n_sel);
    if (!sel) die("out of memory");
    memcpy(sel, sp.train, sizeof(int) * (size_t)sp.n_train);
    memcpy(sel + sp.n_train, sp.valid, sizeof(int) * (size_t)sp.n_valid);

    if (!a.inspect && device_select(&dev, stdout, err, sizeof err) != 0) die("%s", err);
    if (a.inspect) {
        TokenizedSet set;
        int *full_lens = calloc((size_t)ds.n, sizeof(int));
        if (!full_lens) die("out of memory");
        if (tokenize_texts(&set, tok, ds.texts, ds.labels, ds.n, sel, n_sel, a.max_length, full_lens, ds.path,
                           ds.lines, err, sizeof err) != 0)
            die("%s", err);
        if (inspect_report(stdout, &ds, &sp, &set, full_lens, tok, a.batch_size, a.max_length,
                           a.bucket, a.seed, err, sizeof err) != 0)
            die("%s", err);
        tokenized_set_free(&set);
        free(full_lens);
    } else {
        train_and_report(&a, tok, tok_path, &ds, &sp, sel, n_sel, rs, &dev);
    }
    if (rs) resume_state_free(rs);
    free(sel);
    split_free(&sp);
    dataset_free(&ds);
    for (int i = 0; i < n_fixed; i++) free(fixed_names[i]);
    free(fixed_names);
    tokenizer_free(tok);
    return 0;
}
