// fuzz_tokenizer_common.h: what the tokenizer-file harnesses do with a tokenizer that loaded: encode
// and decode a few fixed texts and check that every id is in the vocabulary and truncation holds.
#ifndef FUZZ_TOKENIZER_COMMON_H
#define FUZZ_TOKENIZER_COMMON_H

#include "test/fuzz/fuzz_common.h"

#include "tokenizer/tokenizer.h"

static void fuzz_exercise_tokenizer(Tokenizer *tok) {
    static const char *texts[] = {
        "Hello, world! This movie wasn't bad at all.",
        "unaffable  \t\n naïve café 東京 [CLS] <s> </s> <mask> [MASK] ##ing Ġthe",
        "",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    char err[512];
    int V = tokenizer_vocab_size(tok);
    FUZZ_CHECK(V >= 1, "vocab size %d", V);
    TokenizerEncoding enc = {0};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        int max_len = k == 1 ? 8 : 0;
        if (tokenizer_encode(tok, texts[k], strlen(texts[k]), max_len, &enc, err, sizeof err) != 0) {
            FUZZ_CHECK_ERR(err);
            continue;
        }
        for (int i = 0; i < enc.n; i++) FUZZ_CHECK(enc.ids[i] >= 0 && enc.ids[i] < V, "id %d of %d", enc.ids[i], V);
        char *out = NULL;
        size_t out_len = 0;
        if (tokenizer_decode(tok, enc.ids, enc.n, (int)(k & 1), &out, &out_len, err, sizeof err) != 0) FUZZ_CHECK_ERR(err);
        free(out);
    }
    tokenizer_encoding_free(&enc);
    int32_t ids[2 * 16], mask[2 * 16];
    int lens[2];
    const char *bt[2] = {texts[0], texts[1]};
    size_t bl[2] = {strlen(texts[0]), strlen(texts[1])};
    if (tokenizer_encode_batch(tok, bt, bl, 2, 16, ids, mask, lens, err, sizeof err) != 0) FUZZ_CHECK_ERR(err);
    for (int i = 0; i < V && i < 300; i++) {
        size_t n = 0;
        const char *s = tokenizer_id_to_token(tok, i, &n);
        if (s) {
            int back = tokenizer_token_to_id(tok, s, n);
            FUZZ_CHECK(back >= 0, "token of id %d not found again", i);
        }
    }
}

#endif
