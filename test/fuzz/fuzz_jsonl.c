// fuzz_jsonl.c: the JSONL dataset reader (dataset_load, format JSONL) on arbitrary bytes; see fuzz_dataset_common.h.
#include "test/fuzz/fuzz_dataset_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_dataset(DATASET_FORMAT_JSONL, "train.jsonl", data, size);
}
