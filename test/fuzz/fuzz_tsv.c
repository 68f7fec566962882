// fuzz_tsv.c: the TSV dataset reader (dataset_load, format TSV) on arbitrary bytes; see fuzz_dataset_common.h.
#include "test/fuzz/fuzz_dataset_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_dataset(DATASET_FORMAT_TSV, "train.tsv", data, size);
}
