// infer.c: classify texts with a checkpoint directory (ours from ./train, or any Hugging Face
// DistilBERT classifier with its tokenizer files), or evaluate it on a labelled dataset.
//
//   ./infer --model DIR TEXT...                 one JSON line per text
//   ./infer --model DIR --file F                one text per line of F
//   ./infer --model DIR < texts.txt             one text per line of stdin
//   ./infer --model DIR --eval --data PATH [--split OUTPUT/split.json] [--output-dir DIR]
//
// Each output line is {"text": ..., "label": ..., "probabilities": {label: p, ...}} (and "logits"
// with --logits). See doc/pipeline.md. Argument parsing and orchestration only; the pieces are in
// run/pipeline.h.
#include <cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/fileio.h"
#include "data/dataset.h"
#include "run/output_dir.h"
#include "run/pipeline.h"
#include "data/split.h"
#include "model/checkpoint.h"
#include "run/device.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    const char *model_dir, *file;
    char **texts;  // from the command line
    int n_texts;
    int eval, logits;
    const char *data_path, *format, *text_column, *label_column, *split_path, *output_dir;
    const char *device, *precision;  // --device cpu|cuda, --precision fp32|bf16 (run/device.h)
    int max_length, batch_size, threads;  // 0 = from DIR/train_args.json, else a default
} InferArgs;

static void usage(FILE *out) {
    fprintf(out,
            "usage: ./infer --model DIR [options] [TEXT...]      (no TEXT and no --file: one text per stdin line)\n"
            "       ./infer --model DIR --eval --data PATH [--split FILE] [--output-dir DIR] [options]\n"
            "  --model DIR          checkpoint directory: config.json, model.safetensors, tokenizer files\n"
            "  --file F             classify each line of F\n"
            "  --logits             add the raw logits to each JSON line\n"
            "  --eval               evaluate on the labelled --data (all rows, or the validation rows of --split)\n"
            "  --data PATH          csv, tsv, jsonl file or aclImdb split folder (with --eval)\n"
            "  --format F           csv|tsv|jsonl|imdb-dir (default: from the extension / folder)\n"
            "  --text-column C      --label-column C   as for ./train\n"
            "  --split FILE         split.json written by ./train: evaluate exactly its validation rows\n"
            "  --output-dir DIR     write metrics.json, predictions.csv, confusion_matrix.svg there\n"
            "                       (without it the report is only printed); never a training run's folder\n"
            "                       (its own folder, or a subfolder such as OUTPUT/eval)\n"
            "  --max-length N       truncation (default: DIR/train_args.json's, else 256)\n"
            "  --batch-size N       texts per forward (default: DIR/train_args.json's eval batch size, else 16)\n"
            "  --threads N          OpenMP threads (default: all cores)\n"
            "  --device D           cpu|cuda (default: cuda in a CUDA build when a GPU is usable, else cpu)\n"
            "  --precision P        fp32|bf16 (bf16: mixed precision, bf16 GEMMs; CPU: avx512_bf16 or AMX; default fp32)\n"
            "  --help\n");
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "infer: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static int parse_int(const char *flag, const char *v, int lo, int hi) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) die("%s expects an integer in [%d, %d], got '%s'", flag, lo, hi, v);
    return (int)x;
}

static void parse_args(InferArgs *a, int argc, char **argv) {
    *a = (InferArgs){0};
    a->texts = calloc((size_t)argc, sizeof(char *));
    if (!a->texts) die("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) { usage(stdout); exit(0); }
        if (!strcmp(flag, "--")) {  // everything after is text
            while (++i < argc) a->texts[a->n_texts++] = argv[i];
            break;
        }
        if (strncmp(flag, "--", 2) != 0) { a->texts[a->n_texts++] = argv[i]; continue; }
        if (!strcmp(flag, "--eval")) { a->eval = 1; continue; }
        if (!strcmp(flag, "--logits")) { a->logits = 1; continue; }
        if (i + 1 >= argc) die("%s needs a value (see --help)", flag);
        const char *v = argv[++i];
        if (!strcmp(flag, "--model")) a->model_dir = v;
        else if (!strcmp(flag, "--file")) a->file = v;
        else if (!strcmp(flag, "--data")) a->data_path = v;
        else if (!strcmp(flag, "--format")) a->format = v;
        else if (!strcmp(flag, "--text-column")) a->text_column = v;
        else if (!strcmp(flag, "--label-column")) a->label_column = v;
        else if (!strcmp(flag, "--split")) a->split_path = v;
        else if (!strcmp(flag, "--output-dir")) a->output_dir = v;
        else if (!strcmp(flag, "--max-length")) a->max_length = parse_int(flag, v, 2, 1 << 16);
        else if (!strcmp(flag, "--batch-size")) a->batch_size = parse_int(flag, v, 1, 1 << 16);
        else if (!strcmp(flag, "--threads")) a->threads = parse_int(flag, v, 1, 4096);
        else if (!strcmp(flag, "--device")) a->device = v;
        else if (!strcmp(flag, "--precision")) a->precision = v;
        else die("unknown option '%s' (see --help)", flag);
    }
    if (!a->model_dir) die("--model DIR is required (see --help)");
    if (a->eval && !a->data_path) die("--eval needs --data PATH");
    if (!a->eval && (a->data_path || a->split_path || a->output_dir))
        die("--data, --split and --output-dir go with --eval");
    if (a->eval && (a->file || a->n_texts)) die("--eval reads --data; do not give texts or --file");
    if (a->file && a->n_texts) die("give texts or --file, not both");
    char err[1024];
    if (a->output_dir && eval_dir_check(a->output_dir, err, sizeof err) != 0) die("%s", err);
}

// max_length and eval batch size recorded by ./train in DIR/train_args.json (absent: 0)
static void read_train_args(const char *model_dir, int *max_length, int *batch_size) {
    char *path = path_join(model_dir, "train_args.json"), *text = NULL, err[512];
    size_t len;
    *max_length = *batch_size = 0;
    if (!path) die("out of memory");
    FILE *probe = fopen(path, "rb");
    if (probe) {
        fclose(probe);
        if (read_file(path, &text, &len, err, sizeof err) != 0) die("%s", err);
        cJSON *o = cJSON_Parse(text);
        if (!o) die("%s: invalid JSON", path);
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(o, "max_length");
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(o, "eval_batch_size");
        if (cJSON_IsNumber(ml) && ml->valuedouble >= 2 && ml->valuedouble <= 65536) *max_length = ml->valueint;
        if (cJSON_IsNumber(bs) && bs->valuedouble >= 1 && bs->valuedouble <= 65536) *batch_size = bs->valueint;
        cJSON_Delete(o);
        free(text);
    }
    free(path);
}

// The texts to classify: the command line, --file, or stdin; one per line (blank lines skipped,
// a CR before LF dropped). lines[i] is text i's line number, for error messages.
typedef struct {
    char **texts;
    int n;
    int *lines;          // NULL for the command line
    char *data;          // the file / stdin bytes the texts point into (NULL for the command line)
    const char *source;  // for error messages
} TextList;

static void read_texts(TextList *tl, const InferArgs *a) {
    *tl = (TextList){a->texts, a->n_texts, NULL, NULL, "command line"};
    if (a->n_texts) return;
    char err[512];
    size_t len = 0;
    if (a->file) {
        if (read_file(a->file, &tl->data, &len, err, sizeof err) != 0) die("%s", err);
        tl->source = a->file;
    } else {
        size_t cap = 1 << 16;
        tl->data = malloc(cap);
        for (size_t k; tl->data && (k = fread(tl->data + len, 1, cap - len - 1, stdin)) > 0;) {
            len += k;
            if (len + 1 == cap) tl->data = realloc(tl->data, cap *= 2);
        }
        if (!tl->data) die("out of memory reading stdin");
        if (ferror(stdin)) die("<stdin>: read error");
        tl->data[len] = '\0';
        tl->source = "<stdin>";
    }
    tl->texts = malloc(sizeof(char *) * (len + 1));
    tl->lines = malloc(sizeof(int) * (len + 1));
    if (!tl->texts || !tl->lines) die("out of memory");
    char *data = tl->data;
    int line = 0;
    for (char *p = data; p < data + len;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        char *end = nl ? nl : data + len;
        line++;
        if (memchr(p, '\0', (size_t)(end - p))) die("%s:%d: NUL byte in text", tl->source, line);
        if (end > p && end[-1] == '\r') end[-1] = '\0';
        *end = '\0';
        if (*p) {
            tl->texts[tl->n] = p;
            tl->lines[tl->n++] = line;
        }
        p = end + 1;
    }
    if (tl->n == 0) die("%s: no texts to classify", tl->source);
}

static void text_list_free(TextList *tl, const InferArgs *a) {
    if (tl->texts != a->texts) free(tl->texts);
    free(tl->lines);
    free(tl->data);
}

// One JSON line per text: text, predicted label, probabilities by label name (and logits).
static void print_predictions(const Evaluation *ev, char *const *texts, char *const *label_names, int with_logits) {
    for (int i = 0; i < ev->n; i++) {
        cJSON *o = cJSON_CreateObject(), *probs = cJSON_CreateObject();
        if (!o || !probs) die("out of memory");
        cJSON_AddStringToObject(o, "text", texts[ev->rows[i]]);
        cJSON_AddStringToObject(o, "label", label_names[ev->preds[i]]);
        cJSON_AddItemToObject(o, "probabilities", probs);
        for (int c = 0; c < ev->C; c++) cJSON_AddNumberToObject(probs, label_names[c], ev->probs[(size_t)i * ev->C + c]);
        if (with_logits) cJSON_AddItemToObject(o, "logits", cJSON_CreateFloatArray(ev->logits + (size_t)i * ev->C, ev->C));
        char *line = cJSON_PrintUnformatted(o);
        if (!line) die("out of memory");
        puts(line);
        cJSON_free(line);
        cJSON_Delete(o);
    }
}

int main(int argc, char **argv) {
    InferArgs a;
    parse_args(&a, argc, argv);
    char err[1024], notice[1024];
    Device dev;  // device_select reports on stderr: stdout is the JSON lines
    if (device_parse(&dev, a.device, a.precision, err, sizeof err) != 0 || device_select(&dev, stderr, err, sizeof err) != 0)
        die("%s", err);
    warn_threads_above_cores(stderr, "infer", a.threads);
#ifdef _OPENMP
    if (a.threads > 0) omp_set_num_threads(a.threads);
#endif

    // --- the checkpoint and its tokenizer
    Model model;
    if (checkpoint_load(&model, a.model_dir, 0, NULL, 42, notice, sizeof notice, err, sizeof err) != 0) die("%s", err);
    if (notice[0]) fprintf(stderr, "infer: warning: %s (predictions are meaningless)\n", notice);
    Tokenizer *tok;
    if (tokenizer_load(&tok, a.model_dir, err, sizeof err) != 0) die("%s", err);
    int saved_max_length, saved_batch_size;
    read_train_args(a.model_dir, &saved_max_length, &saved_batch_size);
    int max_length = a.max_length ? a.max_length : saved_max_length ? saved_max_length : 256;
    if (!a.max_length && max_length > model.config.max_position_embeddings)
        max_length = model.config.max_position_embeddings;
    int batch_size = a.batch_size ? a.batch_size : saved_batch_size ? saved_batch_size : 16;
    if (check_tokenizer_fits_model(tok, a.model_dir, &model.config, a.model_dir, max_length, err, sizeof err) != 0)
        die("%s", err);
    if (device_init(&dev, &model, batch_size, max_length, err, sizeof err) != 0) die("%s", err);
    char *const *label_names = model.config.id2label;
    int pad_id = tokenizer_pad_id(tok);

    TokenizedSet set;
    Evaluation ev;
    if (!a.eval) {
        // --- classify texts
        TextList tl;
        read_texts(&tl, &a);
        int *rows = malloc(sizeof(int) * (size_t)tl.n);
        if (!rows) die("out of memory");
        for (int i = 0; i < tl.n; i++) rows[i] = i;
        if (tokenize_texts(&set, tok, tl.texts, NULL, tl.n, rows, tl.n, max_length, NULL, tl.source, tl.lines, err,
                           sizeof err) != 0)
            die("%s", err);
        if (device_evaluate(&dev, &model, &set, rows, tl.n, batch_size, pad_id, &ev, err, sizeof err) != 0) die("%s", err);
        print_predictions(&ev, tl.texts, label_names, a.logits);
        free(rows);
        text_list_free(&tl, &a);
    } else {
        // --- evaluate on a labelled dataset (labels mapped onto the model's id2label)
        DatasetOptions o = dataset_options_default(a.data_path);
        if (a.format && dataset_format_parse(a.format, &o.format) != 0)
            die("--format '%s' is not one of csv, tsv, jsonl, imdb-dir", a.format);
        o.text_column = a.text_column;
        o.label_column = a.label_column;
        o.fixed_label_names = label_names;
        o.n_fixed = model.config.num_labels;
        Dataset ds;
        if (dataset_load(&ds, &o, err, sizeof err) != 0) die("%s", err);
        Split sp = {0};
        int *rows, n;
        if (a.split_path) {
            if (split_read_json(&sp, a.split_path, &ds, err, sizeof err) != 0) die("%s", err);
            if (sp.n_valid < 1) die("%s: no validation rows", a.split_path);
            rows = sp.valid;
            n = sp.n_valid;
        } else {
            n = ds.n;
            rows = malloc(sizeof(int) * (size_t)n);
            if (!rows) die("out of memory");
            for (int i = 0; i < n; i++) rows[i] = i;
        }
        if (tokenize_texts(&set, tok, ds.texts, ds.labels, ds.n, rows, n, max_length, NULL, ds.path, ds.lines, err,
                           sizeof err) != 0)
            die("%s", err);
        if (device_evaluate(&dev, &model, &set, rows, n, batch_size, pad_id, &ev, err, sizeof err) != 0) die("%s", err);
        printf("evaluation of %s on %d rows of %s%s%s (max length %d): loss %.6f\n", a.model_dir, n, ds.path,
               a.split_path ? ", validation rows of " : "", a.split_path ? a.split_path : "", max_length, ev.loss);
        if (a.output_dir && make_dirs(a.output_dir, err, sizeof err) != 0) die("%s", err);
        printf("report (%d rows):", ev.n);
        if (write_eval_reports(a.output_dir, &ev, label_names, stdout, err, sizeof err) != 0) die("%s", err);
        if (a.output_dir) printf("\nwrote %s/{metrics.json, predictions.csv, confusion_matrix.svg}\n", a.output_dir);
        if (!a.split_path) free(rows);
        split_free(&sp);
        dataset_free(&ds);
    }
    evaluation_free(&ev);
    tokenized_set_free(&set);
    tokenizer_free(tok);
    device_free(&dev);
    model_free(&model);
    free(a.texts);
    return 0;
}
