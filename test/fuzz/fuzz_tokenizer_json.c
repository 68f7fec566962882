// fuzz_tokenizer_json.c: a Hugging Face tokenizer.json (WordPiece or byte-level BPE) through tokenizer_load
// on the file; a tokenizer that loads then encodes and decodes fixed texts (fuzz_tokenizer_common.h).
#include "test/fuzz/fuzz_tokenizer_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[300], err[512];
    fuzz_path("tokenizer.json", path, sizeof path);
    fuzz_write_file(path, data, size);
    Tokenizer *tok = NULL;
    if (tokenizer_load(&tok, path, err, sizeof err) != 0) {
        FUZZ_CHECK_ERR(err);
        FUZZ_CHECK(tok == NULL, "tokenizer set on failure");
        return 0;
    }
    fuzz_exercise_tokenizer(tok);
    tokenizer_free(tok);
    return 0;
}
