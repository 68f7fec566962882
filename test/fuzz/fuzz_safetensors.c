// fuzz_safetensors.c: the safetensors reader (8-byte length, JSON header, data tiling) on arbitrary bytes,
// through safetensors_open_buffer (the same parser safetensors_open runs on a file's contents).
// On success every tensor is looked up by name and converted, so the checked offsets are also used.
#include "test/fuzz/fuzz_common.h"

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    safetensors_file f;
    char err[512];
    if (safetensors_open_buffer(&f, "fuzz.safetensors", data, size, ST_DEFAULT_MAX_HEADER, err, sizeof err) != 0) {
        FUZZ_CHECK_ERR(err);
        safetensors_close(&f);  // must be safe on a failed open
        return 0;
    }
    size_t prev_end = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        // the tiling rule: back to back, inside the data buffer
        FUZZ_CHECK(t->begin == prev_end && t->end >= t->begin && t->end <= f.size - f.data_start,
                   "tensor %d [%zu, %zu) breaks the tiling", i, t->begin, t->end);
        FUZZ_CHECK(t->numel * st_dtype_size(t->dtype) == t->end - t->begin, "tensor %d size", i);
        prev_end = t->end;
        FUZZ_CHECK(safetensors_find(&f, t->name) == t, "find('%s')", t->name);
        if (t->numel > (1u << 16)) continue;
        int isfloat = t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64;
        if (isfloat) {
            float *out = malloc((t->numel ? t->numel : 1) * sizeof *out);
            if (safetensors_read_f32(&f, t, out, t->numel, err, sizeof err) != 0) FUZZ_CHECK_ERR(err);
            free(out);
        } else {
            int64_t *out = malloc((t->numel ? t->numel : 1) * sizeof *out);
            if (safetensors_read_i64(&f, t, out, t->numel, err, sizeof err) != 0) FUZZ_CHECK_ERR(err);
            free(out);
        }
    }
    FUZZ_CHECK(prev_end == f.size - f.data_start, "data not fully covered");
    for (int i = 0; i < f.n_meta; i++) FUZZ_CHECK(safetensors_meta(&f, f.meta[i].key) != NULL, "meta");
    safetensors_close(&f);
    return 0;
}
