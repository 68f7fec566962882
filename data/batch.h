// batch.h: padded batches of token id sequences, and the order in which rows become batches.
//
// A batch is (B, T) with T = the longest sequence in it (dynamic padding, like HF's
// DataCollatorWithPadding): ids[b*T + t] = token or pad_id, mask[b*T + t] = 1 for tokens, 0 for
// padding, labels[b]. Buffers are allocated once for (max_B, max_T) and reused every step.
#ifndef DATA_BATCH_H
#define DATA_BATCH_H

#include <stddef.h>
#include <stdint.h>

// The tokenized examples (special tokens already added, already truncated by the tokenizer).
typedef struct {
    int32_t **ids;   // ids[i][0..lens[i]): token ids of example i
    int *lens;       // lens[i] >= 1
    int *labels;     // labels[i], or NULL (batches then get label -1)
    int n;
} TokenizedSet;

typedef struct {
    int32_t *ids;    // (B, T) token ids, padding = pad_id
    int32_t *mask;   // (B, T) 1 = token, 0 = padding
    int *labels;     // (B)
    int *rows;       // (B) which example each batch row came from
    int B, T;        // this batch
    int max_B, max_T;
} Batch;

int batch_alloc(Batch *b, int max_B, int max_T, char *err, size_t errlen);
void batch_free(Batch *b);
// Fill b with the examples idx[0..B) of set, padded to their longest length. Fails (without
// allocating) if B > max_B, a sequence is longer than max_T or empty, or an index is out of range.
int batch_make(Batch *b, const TokenizedSet *set, const int *idx, int B, int pad_id, char *err, size_t errlen);

// An epoch's batches: rows[batch_start[k] .. batch_start[k] + batch_len[k]) form batch k.
typedef struct {
    int *rows;
    int n_rows;
    int *batch_start;
    int *batch_len;
    int n_batches;
} BatchPlan;

// Plan the batches of `rows` (dataset row indices; lens is indexed by row):
// - shuffle = 0, bucket_batches = 0: rows in the given order, cut into batches of B (last may be short);
// - shuffle = 1: rows permuted with PCG32(seed) (data/rng.h) before cutting;
// - bucket_batches = K > 0: after the optional shuffle, each chunk of K*B consecutive rows is sorted
//   by length (stable: ties keep their order) so that batches hold similar lengths; then, if shuffle,
//   the order of the batches is shuffled with the same generator.
// Every row appears exactly once. Use a different seed per epoch (e.g. seed + epoch).
int batch_plan_make(BatchPlan *p, const int *rows, int n_rows, const int *lens, int B, int shuffle,
                    int bucket_batches, uint64_t seed, char *err, size_t errlen);
void batch_plan_free(BatchPlan *p);

#endif
