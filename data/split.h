// split.h: a reproducible train/validation split without leakage, saved as split.json.
//
// split_make: permute 0..n_rows-1 with PCG32(seed) + Fisher-Yates (data/rng.h), keep the first
// n_samples (0 = all) as the selection, then validation = the first ceil(valid_ratio * n_selected)
// of it and train = the rest (like HF `train_test_split`; both keep the shuffled order).
// split.json records the data fingerprint (size + FNV-1a 64) and row count, so split_read_json
// refuses a split made for other data, and checks that every index is in range, appears once, and
// that train and validation are disjoint. Format: doc/data.md.
#ifndef DATA_SPLIT_H
#define DATA_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

typedef struct {
    int *train;          // row indices into the dataset
    int n_train;
    int *valid;
    int n_valid;
    int n_rows;          // rows of the dataset it was made for
    uint64_t seed;
    int n_samples;       // 0 = all rows
    double valid_ratio;
} Split;

int split_make(Split *s, int n_rows, uint64_t seed, int n_samples, double valid_ratio, char *err, size_t errlen);
// Atomic write of split.json for dataset ds (its fingerprint, row count and path are recorded).
int split_write_json(const char *path, const Split *s, const Dataset *ds, char *err, size_t errlen);
// Read split.json and check it against ds (fingerprint, row count, indices).
int split_read_json(Split *s, const char *path, const Dataset *ds, char *err, size_t errlen);
void split_free(Split *s);

// Cap on the size of split.json (about 10 million indices).
#define SPLIT_MAX_FILE_BYTES (256u << 20)

#endif
