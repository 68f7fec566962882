// fuzz_vocab_txt.c: a WordPiece vocab.txt, with the optional tokenizer_config.json and
// special_tokens_map.json beside it, through tokenizer_load on the directory.
// Input: vocab.txt [NUL tokenizer_config.json [NUL special_tokens_map.json]]; a missing part = no file.
#include "test/fuzz/fuzz_tokenizer_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *names[3] = {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"};
    size_t off[3], len[3];
    int n = fuzz_split_nul(data, size, 3, off, len);
    char path[300], err[512];
    for (int i = 0; i < 3; i++) {
        fuzz_path(names[i], path, sizeof path);
        if (i < n) fuzz_write_file(path, data + off[i], len[i]);
        else remove(path);
    }
    Tokenizer *tok = NULL;
    if (tokenizer_load(&tok, fuzz_dir(), err, sizeof err) != 0) {
        FUZZ_CHECK_ERR(err);
        return 0;
    }
    FUZZ_CHECK(tokenizer_kind(tok) == TOKENIZER_WORDPIECE, "vocab.txt gave a BPE tokenizer");
    fuzz_exercise_tokenizer(tok);
    tokenizer_free(tok);
    return 0;
}
