// fuzz_split.c: split.json (our train/validation split) through split_read_json against a fixed dataset
// of 10 rows (fingerprint below; make_seeds.c writes valid seeds for the same dataset). On success the
// indices must be in range, unique and disjoint.
#include "test/fuzz/fuzz_common.h"

#include "data/split.h"
#include "test/fuzz/fuzz_split_dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[300], err[512];
    fuzz_path("split.json", path, sizeof path);
    fuzz_write_file(path, data, size);
    Dataset ds = fuzz_split_dataset();
    Split s;
    memset(&s, 0, sizeof s);
    if (split_read_json(&s, path, &ds, err, sizeof err) != 0) {
        FUZZ_CHECK_ERR(err);
        split_free(&s);
        return 0;
    }
    char seen[FUZZ_SPLIT_ROWS] = {0};
    FUZZ_CHECK(s.n_train + s.n_valid <= ds.n, "%d + %d rows", s.n_train, s.n_valid);
    for (int i = 0; i < s.n_train; i++) {
        FUZZ_CHECK(s.train[i] >= 0 && s.train[i] < ds.n && !seen[s.train[i]], "train[%d] = %d", i, s.train[i]);
        seen[s.train[i]] = 1;
    }
    for (int i = 0; i < s.n_valid; i++) {
        FUZZ_CHECK(s.valid[i] >= 0 && s.valid[i] < ds.n && !seen[s.valid[i]], "valid[%d] = %d", i, s.valid[i]);
        seen[s.valid[i]] = 1;
    }
    split_free(&s);
    return 0;
}
