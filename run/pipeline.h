// pipeline.h: the pieces ./train and ./infer share between reading a dataset and writing reports:
// tokenizing texts into a TokenizedSet, evaluating a model on rows of it, writing the evaluation
// reports, checking that a tokenizer fits a model, and saving a checkpoint directory with its
// tokenizer files so that it can be loaded standalone. See doc/pipeline.md.
#ifndef RUN_PIPELINE_H
#define RUN_PIPELINE_H

#include <stddef.h>
#include <stdio.h>

#include "data/batch.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

// Tokenize texts[rows[i]] (special tokens added, truncated to max_length) into `set`, which is
// indexed like `texts` (set->n = n_texts; rows that are not listed keep lens 0 and ids NULL, and
// must not be batched). labels (n_texts) is copied, or NULL. full_lens (n_texts, or NULL) receives
// the untruncated length of each listed row (costs a second encoding of the truncated rows).
// An encoding error names `source` and the row (line_of_row(row) when lines != NULL).
int tokenize_texts(TokenizedSet *set, Tokenizer *tok, char *const *texts, const int *labels, int n_texts,
                   const int *rows, int n_rows, int max_length, int *full_lens, const char *source,
                   const int *lines, char *err, size_t errlen);
void tokenized_set_free(TokenizedSet *set);

// The model's outputs on a list of rows, in the order given.
typedef struct {
    int n, C;
    int *rows;       // (n) row of the set each example came from
    int *labels;     // (n) true labels, or NULL when the set has none
    int *preds;      // (n) argmax of the logits (ties -> lowest class)
    float *logits;   // (n, C)
    float *probs;    // (n, C) softmax(logits)
    double loss;     // mean cross-entropy over the n examples (NAN without labels)
    double accuracy; // NAN without labels
} Evaluation;

// Forward (dropout off) over rows[0..n) in batches of batch_size, each padded to its longest row,
// with the inference forward (model/inference.h: its own buffers and a pack of the weights as they
// are at this call); the model needs no activations allocated.
int evaluate_model(Model *m, const TokenizedSet *set, const int *rows, int n, int batch_size, int pad_id,
                   Evaluation *ev, char *err, size_t errlen);
void evaluation_free(Evaluation *ev);

// evaluate_model with another forward (the GPU model's, run/device.h): `forward` runs one batch
// (dropout off) and points logits, probs (B·C) and, when with_labels, the per-row losses (B) at its
// results, valid until its next call; C is the number of classes.
typedef int (*EvalForward)(void *ctx, const Batch *b, int with_labels, const real **logits, const real **probs,
                           const real **losses, char *err, size_t errlen);
int evaluate_with(EvalForward forward, void *ctx, int C, const TokenizedSet *set, const int *rows, int n,
                  int batch_size, int pad_id, Evaluation *ev, char *err, size_t errlen);

// In `outdir` (NULL: no files): metrics.json, predictions.csv and confusion_matrix.svg for a
// labelled evaluation; the classification report, confusion matrix and calibration numbers are
// printed to `table` (NULL: not printed). predictions.csv's `row` column is ev->rows.
int write_eval_reports(const char *outdir, const Evaluation *ev, char *const *label_names, FILE *table,
                       char *err, size_t errlen);

// The tokenizer loaded from tok_path fits the model: its ids are < vocab_size and its pad id is the
// config's pad_token_id; max_length fits max_position_embeddings.
int check_tokenizer_fits_model(const Tokenizer *tok, const char *tok_path, const ModelConfig *cfg,
                               const char *model_src, int max_length, char *err, size_t errlen);

// One warning line on `out` ("<program>: warning: --threads N is more than the C cores here ...") when
// threads exceeds the machine's online cores (threads 0: the default, all cores: nothing).
void warn_threads_above_cores(FILE *out, const char *program, int threads);

// Copy the tokenizer files of `src` into directory `dir`: for a directory, whichever of
// tokenizer.json, vocab.txt, vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json
// exist; for a file, that file under its own name.
int copy_tokenizer_files(const char *src, const char *dir, char *err, size_t errlen);

// Save model + tokenizer files (+ optional `extra_name` holding `extra_text`) as directory `dir`:
// written into "<dir>.tmp.XXXXXX", then swapped in with dir_replace_commit, so `dir` is always either
// the old or the new checkpoint.
int save_checkpoint_dir(const Model *m, const char *tokenizer_src, const char *extra_name, const char *extra_text,
                        const char *dir, char *err, size_t errlen);

// Replacing a directory atomically, for any set of files: dir_replace_begin makes the empty sibling
// "<dir>.tmp.XXXXXX" (malloc'd name; NULL and err on failure); the caller writes its files there;
// dir_replace_commit puts it in place of `dir` and removes the previous one — with
// renameat2(RENAME_EXCHANGE) where the kernel and filesystem have it (one atomic step), else by
// renaming the old one to "<dir>.old.XXXXXX" first (a crash between the two renames leaves no `dir`
// but that .old. directory). On failure the temporary is removed and `dir` is as it was.
char *dir_replace_begin(const char *dir, char *err, size_t errlen);
int dir_replace_commit(const char *tmp, const char *dir, char *err, size_t errlen);

// Remove a directory holding only plain files (a checkpoint directory); missing is not an error. A
// symbolic link named `dir` is removed as a link: its target is never listed or deleted.
int remove_flat_dir(const char *dir, char *err, size_t errlen);

// Create a directory (and its missing parents), like mkdir -p.
int make_dirs(const char *path, char *err, size_t errlen);

#endif
