// fuzz_csv.c: the CSV dataset reader (dataset_load, format CSV) on arbitrary bytes; see fuzz_dataset_common.h.
#include "test/fuzz/fuzz_dataset_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_dataset(DATASET_FORMAT_CSV, "train.csv", data, size);
}
