// pipeline.c: tokenizing, evaluating and reporting for ./train and ./infer (pipeline.h).
#define _GNU_SOURCE  // renameat2(RENAME_EXCHANGE): replace a checkpoint directory in one step
#include "run/pipeline.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dirs.h"
#include "common/fileio.h"
#include "data/metrics.h"
#include "data/plot.h"
#include "model/checkpoint.h"
#include "model/inference.h"

void tokenized_set_free(TokenizedSet *set) {
    if (set->ids)
        for (int i = 0; i < set->n; i++) free(set->ids[i]);
    free(set->ids);
    free(set->lens);
    free(set->labels);
    memset(set, 0, sizeof *set);
}

int tokenize_texts(TokenizedSet *set, Tokenizer *tok, char *const *texts, const int *labels, int n_texts,
                   const int *rows, int n_rows, int max_length, int *full_lens, const char *source,
                   const int *lines, char *err, size_t errlen) {
    memset(set, 0, sizeof *set);
    set->n = n_texts;
    set->ids = calloc((size_t)(n_texts > 0 ? n_texts : 1), sizeof *set->ids);
    set->lens = calloc((size_t)(n_texts > 0 ? n_texts : 1), sizeof *set->lens);
    set->labels = labels ? malloc(sizeof(int) * (size_t)(n_texts > 0 ? n_texts : 1)) : NULL;
    if (!set->ids || !set->lens || (labels && !set->labels)) {
        tokenized_set_free(set);
        snprintf(err, errlen, "%s: out of memory tokenizing %d texts", source, n_texts);
        return -1;
    }
    if (labels) memcpy(set->labels, labels, sizeof(int) * (size_t)n_texts);
    TokenizerEncoding enc = {0};
    char terr[512];
    for (int i = 0; i < n_rows; i++) {
        int r = rows[i];
        if (r < 0 || r >= n_texts) {
            snprintf(err, errlen, "%s: row %d out of range [0, %d)", source, r, n_texts);
            goto fail;
        }
        // with full_lens: encode untruncated first, and again with truncation only when it is too long
        int limit = full_lens ? 0 : max_length;
        if (tokenizer_encode(tok, texts[r], strlen(texts[r]), limit, &enc, terr, sizeof terr) != 0) goto enc_fail;
        if (full_lens) {
            full_lens[r] = enc.n;
            if (enc.n > max_length &&
                tokenizer_encode(tok, texts[r], strlen(texts[r]), max_length, &enc, terr, sizeof terr) != 0)
                goto enc_fail;
        }
        if (enc.n < 1 || enc.n > max_length) {
            snprintf(terr, sizeof terr, "encoded to %d tokens (expected 1..%d)", enc.n, max_length);
            goto enc_fail;
        }
        set->ids[r] = malloc(sizeof(int32_t) * (size_t)enc.n);
        if (!set->ids[r]) { snprintf(err, errlen, "%s: out of memory tokenizing", source); goto fail; }
        memcpy(set->ids[r], enc.ids, sizeof(int32_t) * (size_t)enc.n);
        set->lens[r] = enc.n;
        continue;
    enc_fail:
        if (lines && lines[r] > 0) snprintf(err, errlen, "%s:%d: %s", source, lines[r], terr);
        else snprintf(err, errlen, "%s: text %d: %s", source, r + 1, terr);
        goto fail;
    }
    tokenizer_encoding_free(&enc);
    return 0;
fail:
    tokenizer_encoding_free(&enc);
    tokenized_set_free(set);
    return -1;
}

// The classification report, the confusion matrix and the headline and calibration numbers.
static void print_metrics_table(FILE *out, const Metrics *mt, char *const *label_names) {
    char *report = metrics_report(mt, label_names);
    fprintf(out, "\n%s\n", report ? report : "(out of memory)\n");
    free(report);
    fprintf(out, "confusion matrix (rows = true, columns = predicted):\n");
    for (int t = 0; t < mt->C; t++) {
        fprintf(out, "  %-12s", label_names ? label_names[t] : "");
        for (int p = 0; p < mt->C; p++) fprintf(out, " %7d", mt->confusion[t * mt->C + p]);
        fprintf(out, "\n");
    }
    int binary = mt->C == 2;
    fprintf(out, "\naccuracy %.4f | %s f1 %.4f precision %.4f recall %.4f\n", mt->accuracy,
            binary ? "binary" : "macro", binary ? mt->binary_f1 : mt->macro_f1,
            binary ? mt->precision[1] : mt->macro_precision, binary ? mt->recall[1] : mt->macro_recall);
    fprintf(out, "log_loss %.4f | ", mt->log_loss);
    if (binary) fprintf(out, "brier %.4f | ", mt->brier);
    fprintf(out, "ece %.4f (%d bins)\n", mt->ece, METRICS_ECE_BINS);
}

void evaluation_free(Evaluation *ev) {
    free(ev->rows);
    free(ev->labels);
    free(ev->preds);
    free(ev->logits);
    free(ev->probs);
    memset(ev, 0, sizeof *ev);
}

// the longest listed row (at least 1): the batch shape an evaluation allocates for
static int eval_max_T(const TokenizedSet *set, const int *rows, int n) {
    int max_T = 1;
    for (int i = 0; i < n; i++)
        if (rows[i] >= 0 && rows[i] < set->n && set->lens[rows[i]] > max_T) max_T = set->lens[rows[i]];
    return max_T;
}

int evaluate_with(EvalForward forward, void *ctx, int C, const TokenizedSet *set, const int *rows, int n,
                  int batch_size, int pad_id, Evaluation *ev, char *err, size_t errlen) {
    memset(ev, 0, sizeof *ev);
    Batch b;
    if (batch_alloc(&b, batch_size, eval_max_T(set, rows, n), err, errlen) != 0) return -1;
    size_t nn = (size_t)(n > 0 ? n : 1);
    ev->n = n;
    ev->C = C;
    ev->rows = malloc(sizeof(int) * nn);
    ev->labels = set->labels ? malloc(sizeof(int) * nn) : NULL;
    ev->preds = malloc(sizeof(int) * nn);
    ev->logits = malloc(sizeof(float) * nn * (size_t)C);
    ev->probs = malloc(sizeof(float) * nn * (size_t)C);
    if (!ev->rows || (set->labels && !ev->labels) || !ev->preds || !ev->logits || !ev->probs) {
        snprintf(err, errlen, "evaluation: out of memory for %d examples", n);
        goto fail;
    }
    double loss_sum = 0;
    int correct = 0;
    for (int start = 0; start < n; start += batch_size) {
        int B = n - start < batch_size ? n - start : batch_size;
        const real *all_logits, *all_probs, *losses;
        if (batch_make(&b, set, rows + start, B, pad_id, err, errlen) != 0) goto fail;
        if (forward(ctx, &b, set->labels != NULL, &all_logits, &all_probs, &losses, err, errlen) != 0) goto fail;
        for (int i = 0; i < B; i++) {
            int k = start + i;
            const real *logits = all_logits + (size_t)i * C, *probs = all_probs + (size_t)i * C;
            int best = 0;
            for (int c = 0; c < C; c++) {
                ev->logits[(size_t)k * C + c] = (float)logits[c];
                ev->probs[(size_t)k * C + c] = (float)probs[c];
                if (logits[c] > logits[best]) best = c;
            }
            ev->rows[k] = b.rows[i];
            ev->preds[k] = best;
            if (set->labels) {
                ev->labels[k] = b.labels[i];
                loss_sum += losses[i];
                correct += best == b.labels[i];
            }
        }
    }
    ev->loss = set->labels && n > 0 ? loss_sum / n : NAN;
    ev->accuracy = set->labels && n > 0 ? (double)correct / n : NAN;
    batch_free(&b);
    return 0;
fail:
    batch_free(&b);
    evaluation_free(ev);
    return -1;
}

// evaluate_model's forward: the CPU inference forward (model/inference.h)
typedef struct {
    Inference inf;
    const Model *m;
} CpuEval;

static int cpu_eval_forward(void *ctx, const Batch *b, int with_labels, const real **logits, const real **probs,
                            const real **losses, char *err, size_t errlen) {
    CpuEval *e = ctx;
    if (inference_forward(&e->inf, e->m, b->ids, b->mask, with_labels ? b->labels : NULL, b->B, b->T, err, errlen) != 0)
        return -1;
    *logits = e->inf.logits, *probs = e->inf.probs, *losses = e->inf.losses;
    return 0;
}

int evaluate_model(Model *m, const TokenizedSet *set, const int *rows, int n, int batch_size, int pad_id,
                   Evaluation *ev, char *err, size_t errlen) {
    memset(ev, 0, sizeof *ev);
    CpuEval e = {.m = m};  // the eval forward: packs the weights as they are now, buffers for this evaluation only
    if (inference_init(&e.inf, m, batch_size, eval_max_T(set, rows, n), err, errlen) != 0) return -1;
    int rc = evaluate_with(cpu_eval_forward, &e, m->config.num_labels, set, rows, n, batch_size, pad_id, ev, err, errlen);
    inference_free(&e.inf);
    return rc;
}

int write_eval_reports(const char *outdir, const Evaluation *ev, char *const *label_names, FILE *table,
                       char *err, size_t errlen) {
    if (!ev->labels) { snprintf(err, errlen, "%s: cannot write metrics without labels", outdir ? outdir : "report"); return -1; }
    Metrics mt;
    if (metrics_compute(&mt, ev->labels, ev->preds, ev->probs, ev->n, ev->C, err, errlen) != 0) return -1;
    int rc = 0;
    if (outdir) {
        char *metrics_path = path_join(outdir, "metrics.json"), *pred_path = path_join(outdir, "predictions.csv"),
             *cm_path = path_join(outdir, "confusion_matrix.svg");
        rc = -1;
        if (!metrics_path || !pred_path || !cm_path) {
            snprintf(err, errlen, "%s: out of memory", outdir);
        } else if (metrics_write_json(metrics_path, &mt, label_names, err, errlen) == 0 &&
                   predictions_write_csv(pred_path, ev->rows, ev->labels, ev->preds, ev->probs, ev->n, ev->C,
                                         label_names, err, errlen) == 0 &&
                   plot_confusion_svg(cm_path, &mt, label_names, err, errlen) == 0) {
            rc = 0;
        }
        free(metrics_path);
        free(pred_path);
        free(cm_path);
    }
    if (rc == 0 && table) print_metrics_table(table, &mt, label_names);
    metrics_free(&mt);
    return rc;
}

int check_tokenizer_fits_model(const Tokenizer *tok, const char *tok_path, const ModelConfig *cfg,
                               const char *model_src, int max_length, char *err, size_t errlen) {
    int tv = tokenizer_vocab_size(tok), pad = tokenizer_pad_id(tok);
    if (tv > cfg->vocab_size) {
        snprintf(err, errlen, "%s: tokenizer has %d ids but the model (%s) has vocab_size %d", tok_path, tv,
                 model_src, cfg->vocab_size);
        return -1;
    }
    if (pad < 0) { snprintf(err, errlen, "%s: tokenizer has no pad token", tok_path); return -1; }
    if (pad != cfg->pad_token_id) {
        snprintf(err, errlen, "%s: tokenizer pad id %d differs from pad_token_id %d of the model (%s)", tok_path,
                 pad, cfg->pad_token_id, model_src);
        return -1;
    }
    if (max_length > cfg->max_position_embeddings) {
        snprintf(err, errlen, "--max-length %d exceeds max_position_embeddings %d of the model (%s)", max_length,
                 cfg->max_position_embeddings, model_src);
        return -1;
    }
    return 0;
}

void warn_threads_above_cores(FILE *out, const char *program, int threads) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads > 0 && cores > 0 && threads > cores)
        fprintf(out, "%s: warning: --threads %d is more than the %ld cores here; the threads will share them "
                "(slower, and on a shared machine much slower)\n", program, threads, cores);
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen) {
    char *data;
    size_t len;
    if (read_file(from, &data, &len, err, errlen) != 0) return -1;
    int rc = write_file_atomic(to, data, len, err, errlen);
    free(data);
    return rc;
}

int copy_tokenizer_files(const char *src, const char *dir, char *err, size_t errlen) {
    static const char *const names[] = {"tokenizer.json",        "vocab.txt",
                                        "vocab.json",            "merges.txt",
                                        "tokenizer_config.json", "special_tokens_map.json"};
    struct stat st;
    if (stat(src, &st) != 0) { snprintf(err, errlen, "%s: %s", src, strerror(errno)); return -1; }
    if (!S_ISDIR(st.st_mode)) {
        const char *base = strrchr(src, '/');
        base = base ? base + 1 : src;
        char *to = path_join(dir, base);
        if (!to) { snprintf(err, errlen, "%s: out of memory", dir); return -1; }
        int rc = copy_file(src, to, err, errlen);
        free(to);
        return rc;
    }
    int copied = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *from = path_join(src, names[i]), *to = path_join(dir, names[i]);
        int rc = 0;
        if (!from || !to) { snprintf(err, errlen, "%s: out of memory", dir); rc = -1; }
        else if (stat(from, &st) == 0 && S_ISREG(st.st_mode)) { rc = copy_file(from, to, err, errlen); copied++; }
        free(from);
        free(to);
        if (rc) return -1;
    }
    if (!copied) { snprintf(err, errlen, "%s: no tokenizer files found to copy", src); return -1; }
    return 0;
}

int remove_flat_dir(const char *dir, char *err, size_t errlen) {
    return remove_tree_nofollow(dir, 0, err, errlen);  // a link named `dir` goes as a link, never its target
}

int make_dirs(const char *path, char *err, size_t errlen) {
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (!p) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char saved = p[i];
        p[i] = '\0';
        struct stat st;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create directory: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: exists and is not a directory", p);
            free(p);
            return -1;
        }
        p[i] = saved;
    }
    free(p);
    return 0;
}

// "<dir><suffix>XXXXXX" as a new empty directory (mkdtemp); malloc'd name or NULL
static char *make_sibling_dir(const char *dir, const char *suffix) {
    size_t n = strlen(dir) + strlen(suffix) + 7;
    char *name = malloc(n);
    if (!name) return NULL;
    snprintf(name, n, "%s%sXXXXXX", dir, suffix);
    if (!mkdtemp(name)) { free(name); return NULL; }
    chmod(name, 0755);  // mkdtemp makes it 0700; a checkpoint directory is as readable as its files
    return name;
}

char *dir_replace_begin(const char *dir, char *err, size_t errlen) {
    char *tmp = make_sibling_dir(dir, ".tmp.");
    if (!tmp) snprintf(err, errlen, "%s.tmp.XXXXXX: cannot create directory: %s", dir, strerror(errno));
    return tmp;
}

// fsync the directory holding `path`, so that a rename in it survives a crash (best effort)
static void sync_dir_of(const char *path) {
    char *parent = strdup(path);
    if (!parent) return;
    char *slash = strrchr(parent, '/');
    if (slash == parent) slash[1] = '\0';
    else if (slash) *slash = '\0';
    int fd = open(slash ? parent : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(parent);
}

int dir_replace_commit(const char *tmp, const char *dir, char *err, size_t errlen) {
    char ignored[256];
    struct stat st;
    int exists = lstat(dir, &st) == 0;
    if (exists && !S_ISDIR(st.st_mode)) {  // never swap a link (or a file) into the temporary's place to delete it
        snprintf(err, errlen, "%s: is not a folder (%s); left as it is", dir, S_ISLNK(st.st_mode) ? "a symbolic link" : "a file");
        remove_flat_dir(tmp, ignored, sizeof ignored);
        return -1;
    }
#ifdef RENAME_EXCHANGE
    // one atomic step: `dir` is the old or the new directory at every moment, even across a crash
    if (exists && renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        sync_dir_of(dir);
        return remove_flat_dir(tmp, err, errlen);  // tmp now holds the previous directory
    }
    // EINVAL / ENOSYS: a filesystem or kernel without RENAME_EXCHANGE; the three steps below
#endif
    char *old = NULL;
    if (exists) {
        // a directory cannot be renamed over a non-empty one: move the old one away first
        old = make_sibling_dir(dir, ".old.");
        if (!old || rename(dir, old) != 0) {
            snprintf(err, errlen, "%s: cannot move the previous checkpoint away: %s", dir, strerror(errno));
            if (old) rmdir(old);
            free(old);
            remove_flat_dir(tmp, ignored, sizeof ignored);
            return -1;
        }
    }
    if (rename(tmp, dir) != 0) {
        snprintf(err, errlen, "%s: cannot rename %s into place: %s", dir, tmp, strerror(errno));
        if (old) rename(old, dir);  // put the previous checkpoint back
        free(old);
        remove_flat_dir(tmp, ignored, sizeof ignored);
        return -1;
    }
    sync_dir_of(dir);
    int rc = old ? remove_flat_dir(old, err, errlen) : 0;
    free(old);
    return rc;
}

int save_checkpoint_dir(const Model *m, const char *tokenizer_src, const char *extra_name, const char *extra_text,
                        const char *dir, char *err, size_t errlen) {
    char *tmp = dir_replace_begin(dir, err, errlen);
    if (!tmp) return -1;
    int rc = checkpoint_save(m, tmp, err, errlen);
    if (rc == 0 && tokenizer_src) rc = copy_tokenizer_files(tokenizer_src, tmp, err, errlen);
    if (rc == 0 && extra_name) {
        char *p = path_join(tmp, extra_name);
        rc = p ? write_file_atomic(p, extra_text, strlen(extra_text), err, errlen) : -1;
        if (!p) snprintf(err, errlen, "%s: out of memory", tmp);
        free(p);
    }
    if (rc == 0) rc = dir_replace_commit(tmp, dir, err, errlen);
    else {
        char ignored[256];
        remove_flat_dir(tmp, ignored, sizeof ignored);
    }
    free(tmp);
    return rc;
}
