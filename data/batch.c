// batch.c: see batch.h.
#include "data/batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/rng.h"

int batch_alloc(Batch *b, int max_B, int max_T, char *err, size_t errlen) {
    memset(b, 0, sizeof *b);
    if (max_B < 1 || max_T < 1 || (size_t)max_B * (size_t)max_T > ((size_t)1 << 31)) {
        snprintf(err, errlen, "batch: bad size max_B %d x max_T %d", max_B, max_T);
        return -1;
    }
    size_t n = (size_t)max_B * (size_t)max_T;
    b->ids = malloc(n * sizeof(int32_t));
    b->mask = malloc(n * sizeof(int32_t));
    b->labels = malloc((size_t)max_B * sizeof(int));
    b->rows = malloc((size_t)max_B * sizeof(int));
    if (!b->ids || !b->mask || !b->labels || !b->rows) {
        batch_free(b);
        snprintf(err, errlen, "batch: out of memory for %d x %d", max_B, max_T);
        return -1;
    }
    b->max_B = max_B;
    b->max_T = max_T;
    return 0;
}

void batch_free(Batch *b) {
    free(b->ids);
    free(b->mask);
    free(b->labels);
    free(b->rows);
    memset(b, 0, sizeof *b);
}

int batch_make(Batch *b, const TokenizedSet *set, const int *idx, int B, int pad_id, char *err, size_t errlen) {
    if (B < 1 || B > b->max_B) {
        snprintf(err, errlen, "batch: %d rows asked, the batch holds 1..%d", B, b->max_B);
        return -1;
    }
    int T = 0;
    for (int r = 0; r < B; r++) {
        int i = idx[r];
        if (i < 0 || i >= set->n) { snprintf(err, errlen, "batch: example %d out of range [0, %d)", i, set->n); return -1; }
        int len = set->lens[i];
        if (len < 1 || len > b->max_T) {
            snprintf(err, errlen, "batch: example %d has %d tokens, expected 1..%d", i, len, b->max_T);
            return -1;
        }
        if (len > T) T = len;
    }
    for (int r = 0; r < B; r++) {
        int i = idx[r], len = set->lens[i];
        int32_t *ids = b->ids + (size_t)r * T, *mask = b->mask + (size_t)r * T;
        memcpy(ids, set->ids[i], (size_t)len * sizeof(int32_t));
        for (int t = 0; t < len; t++) mask[t] = 1;
        for (int t = len; t < T; t++) { ids[t] = pad_id; mask[t] = 0; }
        b->labels[r] = set->labels ? set->labels[i] : -1;
        b->rows[r] = i;
    }
    b->B = B;
    b->T = T;
    return 0;
}

void batch_plan_free(BatchPlan *p) {
    free(p->rows);
    free(p->batch_start);
    free(p->batch_len);
    memset(p, 0, sizeof *p);
}

typedef struct {
    int len, pos, row;
} LenKey;

static int cmp_len_key(const void *a, const void *b) {
    const LenKey *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);  // stable: earlier position first
}

// Sort rows[0..n) by lens[row], ties in their current order.
static int sort_by_length(int *rows, int n, const int *lens, LenKey *keys) {
    for (int i = 0; i < n; i++) keys[i] = (LenKey){lens[rows[i]], i, rows[i]};
    qsort(keys, (size_t)n, sizeof *keys, cmp_len_key);
    for (int i = 0; i < n; i++) rows[i] = keys[i].row;
    return 0;
}

int batch_plan_make(BatchPlan *p, const int *rows, int n_rows, const int *lens, int B, int shuffle,
                    int bucket_batches, uint64_t seed, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    if (n_rows < 1 || B < 1 || bucket_batches < 0) {
        snprintf(err, errlen, "batch plan: need rows >= 1, B >= 1, bucket_batches >= 0 (got %d, %d, %d)",
                 n_rows, B, bucket_batches);
        return -1;
    }
    int n_batches = (n_rows + B - 1) / B;
    p->rows = malloc((size_t)n_rows * sizeof(int));
    p->batch_start = malloc((size_t)n_batches * sizeof(int));
    p->batch_len = malloc((size_t)n_batches * sizeof(int));
    int *order = malloc((size_t)n_batches * sizeof(int));
    int chunk = bucket_batches > 0 && (size_t)bucket_batches * (size_t)B < (size_t)n_rows ? bucket_batches * B : n_rows;
    LenKey *keys = bucket_batches > 0 ? malloc((size_t)chunk * sizeof(LenKey)) : NULL;
    if (!p->rows || !p->batch_start || !p->batch_len || !order || (bucket_batches > 0 && !keys)) {
        free(order);
        free(keys);
        batch_plan_free(p);
        snprintf(err, errlen, "batch plan: out of memory");
        return -1;
    }
    memcpy(p->rows, rows, (size_t)n_rows * sizeof(int));
    Rng rng;
    rng_seed(&rng, seed, RNG_STREAM);
    if (shuffle) rng_shuffle_ints(&rng, p->rows, n_rows);
    if (bucket_batches > 0)
        for (int c = 0; c < n_rows; c += chunk)
            sort_by_length(p->rows + c, n_rows - c < chunk ? n_rows - c : chunk, lens, keys);
    // batches in row order, then (when shuffling a bucketed plan) in shuffled order
    for (int k = 0; k < n_batches; k++) order[k] = k;
    if (shuffle && bucket_batches > 0) rng_shuffle_ints(&rng, order, n_batches);
    for (int k = 0; k < n_batches; k++) {
        int start = order[k] * B;
        p->batch_start[k] = start;
        p->batch_len[k] = n_rows - start < B ? n_rows - start : B;
    }
    p->n_rows = n_rows;
    p->n_batches = n_batches;
    free(order);
    free(keys);
    return 0;
}
