// fuzz_split_dataset.h: the fixed dataset fuzz_split checks split.json against (only the fields
// split_read_json / split_write_json use).
#ifndef FUZZ_SPLIT_DATASET_H
#define FUZZ_SPLIT_DATASET_H

#include <string.h>

#include "data/dataset.h"

#define FUZZ_SPLIT_ROWS 10

static Dataset fuzz_split_dataset(void) {
    Dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = FUZZ_SPLIT_ROWS;
    ds.fingerprint.size = 4321;
    ds.fingerprint.fnv1a64 = 0x0123456789abcdefULL;
    ds.path = (char *)"train.csv";
    return ds;
}

#endif
