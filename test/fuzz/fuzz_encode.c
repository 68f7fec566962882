// fuzz_encode.c: tokenizer_encode / tokenizer_encode_batch / tokenizer_decode on arbitrary bytes with the
// real bert-base-uncased (WordPiece) and roberta-base (byte-level BPE) tokenizers of ../shared/data/vocab
// (FUZZ_VOCAB_DIR overrides; run from the repo root). Input: one option byte, then the text.
// Option bits: 0 tokenizer (0 bert, 1 roberta); 1-3 max_length (0, 1, 2, 3, 5, 16, 512, 100000).
// Checks: ids in the vocabulary, the truncation bound, batch rows equal to single encodes.
#include "test/fuzz/fuzz_common.h"

#include "tokenizer/tokenizer.h"

static Tokenizer *toks[2];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *dir = getenv("FUZZ_VOCAB_DIR") ? getenv("FUZZ_VOCAB_DIR") : "../shared/data/vocab";
    const char *names[2] = {"bert-base-uncased/vocab.txt", "roberta-base"};
    char path[512], err[512];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (tokenizer_load(&toks[i], path, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_encode: %s (run from the repo root or set FUZZ_VOCAB_DIR)\n", err);
            exit(1);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const int max_lens[8] = {0, 1, 2, 3, 5, 16, 512, 100000};
    Tokenizer *tok = toks[data[0] & 1];
    int max_len = max_lens[(data[0] >> 1) & 7];
    // exact-size heap copy: ASan sees any read past the end of the text
    size_t n = size - 1;
    char *text = malloc(n ? n : 1);
    memcpy(text, data + 1, n);
    char err[512];
    int V = tokenizer_vocab_size(tok);
    TokenizerEncoding enc = {0};
    if (tokenizer_encode(tok, text, n, max_len, &enc, err, sizeof err) != 0) {
        FUZZ_CHECK_ERR(err);
    } else {
        FUZZ_CHECK(max_len <= 0 || enc.n <= max_len, "%d ids for max_length %d", enc.n, max_len);
        for (int i = 0; i < enc.n; i++) FUZZ_CHECK(enc.ids[i] >= 0 && enc.ids[i] < V, "id %d", enc.ids[i]);
        char *out = NULL;
        size_t out_len = 0;
        if (tokenizer_decode(tok, enc.ids, enc.n, data[0] >> 4 & 1, &out, &out_len, err, sizeof err) != 0)
            FUZZ_CHECK_ERR(err);
        else
            FUZZ_CHECK(out && out[out_len] == '\0', "decode output not NUL-terminated");
        free(out);
        // the batch path: row 0 must be the single encode truncated/padded to T
        int T = max_len > 0 && max_len <= 512 ? max_len : 64;
        int32_t *ids = malloc(2 * (size_t)T * sizeof *ids), *mask = malloc(2 * (size_t)T * sizeof *mask);
        const char *texts[2] = {text, text};
        size_t lens[2] = {n, n};
        int got[2];
        TokenizerEncoding one = {0};
        if (tokenizer_encode_batch(tok, texts, lens, 2, T, ids, mask, got, err, sizeof err) == 0 &&
            tokenizer_encode(tok, text, n, T, &one, err, sizeof err) == 0) {
            FUZZ_CHECK(got[0] == one.n && got[0] <= T, "batch row length %d vs %d", got[0], one.n);
            for (int i = 0; i < got[0]; i++) FUZZ_CHECK(ids[i] == one.ids[i] && mask[i] == 1, "batch id %d", i);
            for (int i = got[0]; i < T; i++) FUZZ_CHECK(mask[i] == 0, "padding mask %d", i);
        }
        tokenizer_encoding_free(&one);
        free(ids);
        free(mask);
    }
    tokenizer_encoding_free(&enc);
    free(text);
    return 0;
}
