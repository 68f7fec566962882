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
#include <errno.h>
#include <math.h>
#include <stdarg.h>
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

#include "common/fileio.h"
#include "data/batch.h"
#include "data/dataset.h"
#include "data/history.h"
#include "data/inspect.h"
#include "data/pipeline.h"
#include "data/plot.h"
#include "data/split.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#define BUCKET_BATCHES 50  // --bucket: sort each chunk of 50 batches' rows by length (HF group_by_length)

typedef struct {
    const char *model_dir, *config_path, *tokenizer_path;
    const char *data_path, *format, *text_column, *label_column, *label_mode, *split_path;
    const char *output_dir;
    int n_samples;
    double valid_ratio;
    int max_length, batch_size, eval_batch_size, epochs;
    long max_steps;
    double lr, weight_decay, warmup_ratio, max_grad_norm;
    uint64_t seed;
    int threads, bucket, inspect;
} TrainArgs;

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
            "  --output-dir DIR     where reports and best/ go (default out)\n"
            "  --n-samples N        rows drawn from the shuffled data, 0 = all (default 2000)\n"
            "  --valid-ratio R      validation fraction of the drawn rows (default 0.2)\n"
            "  --max-length N       truncate to N tokens, special tokens included (default 256)\n"
            "  --batch-size N       training batch size (default 4)\n"
            "  --eval-batch-size N  validation batch size (default 4)\n"
            "  --epochs N           (default 3)\n"
            "  --max-steps N        stop after N optimizer steps (default: no limit)\n"
            "  --lr X               peak learning rate (default 5e-5)\n"
            "  --weight-decay X     AdamW decoupled weight decay on every parameter (default 0.01)\n"
            "  --warmup-ratio X     linear warmup over this fraction of the steps (default 0.1)\n"
            "  --max-grad-norm X    clip the global gradient norm; 0 = off (default 1.0)\n"
            "  --seed N             split, batch order, dropout and new-head init (default 42)\n"
            "  --bucket             batch rows of similar length together (less padding)\n"
            "  --threads N          OpenMP threads (default: all cores)\n"
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

static void parse_args(TrainArgs *a, int argc, char **argv) {
    *a = (TrainArgs){.output_dir = "out", .n_samples = 2000, .valid_ratio = 0.2, .max_length = 256,
                     .batch_size = 4, .eval_batch_size = 4, .epochs = 3, .max_steps = 0, .lr = 5e-5,
                     .weight_decay = 0.01, .warmup_ratio = 0.1, .max_grad_norm = 1.0, .seed = 42};
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) { usage(stdout); exit(0); }
        if (!strcmp(flag, "--bucket")) { a->bucket = BUCKET_BATCHES; continue; }
        if (!strcmp(flag, "--inspect")) { a->inspect = 1; continue; }
        if (strncmp(flag, "--", 2) != 0) die("unexpected argument '%s' (see --help)", flag);
        if (i + 1 >= argc) die("%s needs a value (see --help)", flag);
        const char *v = argv[++i];
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
        else if (!strcmp(flag, "--max-steps")) a->max_steps = parse_long(flag, v, 0, 1L << 40);
        else if (!strcmp(flag, "--lr")) a->lr = parse_double(flag, v, 0, 10);
        else if (!strcmp(flag, "--weight-decay")) a->weight_decay = parse_double(flag, v, 0, 10);
        else if (!strcmp(flag, "--warmup-ratio")) a->warmup_ratio = parse_double(flag, v, 0, 1);
        else if (!strcmp(flag, "--max-grad-norm")) a->max_grad_norm = parse_double(flag, v, 0, 1e30);
        else if (!strcmp(flag, "--seed")) a->seed = (uint64_t)parse_long(flag, v, 0, 1L << 62);
        else if (!strcmp(flag, "--threads")) a->threads = (int)parse_long(flag, v, 1, 4096);
        else die("unknown option '%s' (see --help)", flag);
    }
    if (!a->data_path) die("--data PATH is required (see --help)");
    if (a->model_dir && a->config_path) die("give one of --model DIR or --config FILE, not both");
    if (a->inspect && (a->model_dir || a->tokenizer_path)) return;  // --inspect needs only a tokenizer
    if (!a->model_dir && !a->config_path) die("give --model DIR or --config FILE (see --help)");
    if (a->config_path && !a->tokenizer_path) die("--config needs --tokenizer PATH");
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
    if (dataset_load(ds, &o, err, sizeof err) != 0) die("%s", err);
    if (ds->n_labels < 2) die("%s: needs at least 2 labels, found %d", a->data_path, ds->n_labels);
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
static void build_model(Model *m, const Dataset *ds, const TrainArgs *a) {
    char err[1024], notice[1024];
    if (a->model_dir) {
        if (checkpoint_load(m, a->model_dir, ds->n_labels, (const char *const *)ds->label_names, a->seed, notice,
                            sizeof notice, err, sizeof err) != 0)
            die("%s", err);
        if (notice[0]) printf("%s\n", notice);
    } else {
        ModelConfig cfg;
        if (config_load(&cfg, a->config_path, err, sizeof err) != 0) die("%s", err);
        if (config_set_labels(&cfg, ds->n_labels, (const char *const *)ds->label_names) != 0)
            die("%s: cannot set %d labels", a->config_path, ds->n_labels);
        if (model_init(m, &cfg, err, sizeof err) != 0) die("%s: %s", a->config_path, err);
        model_init_weights(m, a->seed, 0);
    }
    m->dropout_seed = a->seed;
}

// train_args.json: the run's settings (best/ gets a copy, so ./infer knows max_length)
static char *train_args_json(const TrainArgs *a, int best_epoch) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "model", a->model_dir ? a->model_dir : "");
    cJSON_AddStringToObject(o, "config", a->config_path ? a->config_path : "");
    cJSON_AddStringToObject(o, "tokenizer", a->tokenizer_path ? a->tokenizer_path : a->model_dir);
    cJSON_AddStringToObject(o, "data", a->data_path);
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

// Everything after the inputs are validated: the model, OUTPUT/, the training loop, the reports.
static void train_and_report(const TrainArgs *a, Tokenizer *tok, const char *tok_path, const Dataset *ds,
                             const Split *sp, const int *sel, int n_sel) {
    char err[1024];
    Model model;
    build_model(&model, ds, a);
    const char *model_src = a->model_dir ? a->model_dir : a->config_path;
    if (check_tokenizer_fits_model(tok, tok_path, &model.config, model_src, a->max_length, err, sizeof err) != 0)
        die("%s", err);
    TokenizedSet set;
    if (tokenize_texts(&set, tok, ds->texts, ds->labels, ds->n, sel, n_sel, a->max_length, NULL, ds->path, ds->lines, err,
                       sizeof err) != 0)
        die("%s", err);
    int max_B = a->batch_size > a->eval_batch_size ? a->batch_size : a->eval_batch_size;
    if (model_alloc_activations(&model, max_B, a->max_length, err, sizeof err) != 0) die("%s", err);
    int pad_id = tokenizer_pad_id(tok);

    // --- outputs: the directory, split.json
    if (make_dirs(a->output_dir, err, sizeof err) != 0) die("%s", err);
    char *split_out = path_join(a->output_dir, "split.json"), *best_dir = path_join(a->output_dir, "best");
    char *history_path = path_join(a->output_dir, "history.json"), *history_svg = path_join(a->output_dir, "history.svg");
    if (!split_out || !best_dir || !history_path || !history_svg) die("out of memory");
    if (split_write_json(split_out, sp, ds, err, sizeof err) != 0) die("%s", err);

    long steps_per_epoch = (sp->n_train + a->batch_size - 1) / a->batch_size;
    long total_steps = (long)a->epochs * steps_per_epoch;
    if (a->max_steps > 0 && a->max_steps < total_steps) total_steps = a->max_steps;
    long warmup_steps = (long)(a->warmup_ratio * (double)total_steps);
    int epochs = (int)((total_steps + steps_per_epoch - 1) / steps_per_epoch);
    printf("data: %s, %d rows, %d labels (", ds->path, ds->n, ds->n_labels);
    for (int c = 0; c < ds->n_labels; c++) printf("%s%s", c ? ", " : "", ds->label_names[c]);
    printf(")\nsplit: %d train / %d validation rows%s\n", sp->n_train, sp->n_valid, a->split_path ? " (from --split)" : "");
    printf("model: %s, %d layers, dim %d, %zu parameters; tokenizer %s\n", model_src, model.config.n_layers,
           model.config.dim, model.num_parameters, tok_path);
    printf("training: %d epochs x %ld steps (batch %d), %ld steps total, warmup %ld, lr %g, weight decay %g\n", epochs,
           steps_per_epoch, a->batch_size, total_steps, warmup_steps, a->lr, a->weight_decay);

    // --- the training loop
    Batch batch;
    if (batch_alloc(&batch, a->batch_size, a->max_length, err, sizeof err) != 0) die("%s", err);
    EpochRecord *history = calloc((size_t)epochs, sizeof *history);
    float *step_losses = malloc(sizeof(float) * (size_t)total_steps);
    if (!history || !step_losses) die("out of memory");
    Progress progress = {isatty(STDERR_FILENO), now_s(), total_steps};
    long step = 0;
    double best_val_loss = INFINITY, lr = 0;
    int best_epoch = 0;
    for (int epoch = 1; epoch <= epochs; epoch++) {
        BatchPlan plan;
        if (batch_plan_make(&plan, sp->train, sp->n_train, set.lens, a->batch_size, 1, a->bucket, a->seed + (uint64_t)epoch,
                            err, sizeof err) != 0)
            die("%s", err);
        double t0 = now_s(), loss_sum = 0, examples = 0;
        long steps_this_epoch = total_steps - step < plan.n_batches ? total_steps - step : plan.n_batches;
        for (long k = 0; k < steps_this_epoch; k++, step++) {
            if (batch_make(&batch, &set, plan.rows + plan.batch_start[k], plan.batch_len[k], pad_id, err, sizeof err))
                die("%s", err);
            model_zero_grad(&model);
            if (model_forward(&model, batch.ids, batch.mask, batch.labels, batch.B, batch.T, 1, err, sizeof err) != 0)
                die("step %ld: %s", step + 1, err);
            model_backward(&model);
            model_clip_grad_norm(&model, a->max_grad_norm);
            lr = a->lr * lr_linear_warmup(step, warmup_steps, total_steps);  // optimizer step t uses λ(t-1)
            if (model_adamw_update(&model, lr, 0.9, 0.999, 1e-8, a->weight_decay, err, sizeof err) != 0)
                die("step %ld: %s", step + 1, err);
            double loss = model.mean_loss;
            if (!isfinite(loss)) die("step %ld: the training loss is %g (try a lower --lr)", step + 1, loss);
            step_losses[step] = (float)loss;
            loss_sum += loss;
            examples += batch.B;
            progress_update(&progress, epoch, epochs, step + 1, steps_this_epoch, k + 1, loss, lr, examples,
                            now_s() - t0);
        }
        double train_time = now_s() - t0;
        batch_plan_free(&plan);

        Evaluation ev;
        if (evaluate_model(&model, &set, sp->valid, sp->n_valid, a->eval_batch_size, pad_id, &ev, err, sizeof err) != 0)
            die("validation: %s", err);
        EpochRecord *r = &history[epoch - 1];
        *r = (EpochRecord){epoch, step, loss_sum / (double)steps_this_epoch, ev.loss, ev.accuracy, lr,
                           examples / train_time};
        evaluation_free(&ev);
        int improved = r->val_loss < best_val_loss;
        printf("epoch %d: train loss %.4f | val loss %.4f | val accuracy %.4f | %.1f examples/s%s\n", epoch,
               r->train_loss, r->val_loss, r->val_accuracy, r->examples_per_s, improved ? " | best so far, saved" : "");
        if (improved) {
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
    }

    // --- reports for the best checkpoint, reloaded from disk, on the validation rows
    Model best;
    char notice[512];
    if (checkpoint_load(&best, best_dir, 0, NULL, a->seed, notice, sizeof notice, err, sizeof err) != 0 ||
        model_alloc_activations(&best, a->eval_batch_size, a->max_length, err, sizeof err) != 0)
        die("%s", err);
    Evaluation ev;
    if (evaluate_model(&best, &set, sp->valid, sp->n_valid, a->eval_batch_size, pad_id, &ev, err, sizeof err) != 0)
        die("%s", err);
    printf("\nbest checkpoint: epoch %d (val loss %.6f), %s; reloaded: val loss %.6f%s\n", best_epoch, best_val_loss,
           best_dir, ev.loss, ev.loss == best_val_loss ? " (identical)" : " (DIFFERS)");
    printf("validation report (%d rows):", ev.n);
    if (write_eval_reports(a->output_dir, &ev, best.config.id2label, stdout, err, sizeof err) != 0) die("%s", err);
    printf("\nwrote %s/{split.json, history.json, history.svg, metrics.json, predictions.csv, confusion_matrix.svg, best/}\n",
           a->output_dir);

    evaluation_free(&ev);
    model_free(&best);
    model_free(&model);
    free(history);
    free(step_losses);
    batch_free(&batch);
    tokenized_set_free(&set);
    free(split_out);
    free(best_dir);
    free(history_path);
    free(history_svg);
}

int main(int argc, char **argv) {
    TrainArgs a;
    parse_args(&a, argc, argv);
    char err[1024];
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
    Split sp;
    make_or_read_split(&sp, &ds, &a);
    int n_sel = sp.n_train + sp.n_valid;
    int *sel = malloc(sizeof(int) * (size_t)n_sel);
    if (!sel) die("out of memory");
    memcpy(sel, sp.train, sizeof(int) * (size_t)sp.n_train);
    memcpy(sel + sp.n_train, sp.valid, sizeof(int) * (size_t)sp.n_valid);

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
        train_and_report(&a, tok, tok_path, &ds, &sp, sel, n_sel);
    }
    free(sel);
    split_free(&sp);
    dataset_free(&ds);
    for (int i = 0; i < n_fixed; i++) free(fixed_names[i]);
    free(fixed_names);
    tokenizer_free(tok);
    return 0;
}
