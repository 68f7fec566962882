// tokenizer.h: Hugging Face-compatible text tokenizers in C: WordPiece (BERT, DistilBERT, MiniLM) and
// byte-level BPE (RoBERTa, GPT-2). Same ids as HF `tokenizers` for the files in ../shared/data/vocab;
// see doc/tokenizer.md for the algorithms and shared/doc/reference-semantics.md §8 for the spec.
//
//   Tokenizer *tok; char err[512];
//   if (tokenizer_load(&tok, "../shared/data/vocab/bert-base-uncased", err, sizeof err)) { puts(err); ... }
//   TokenizerEncoding enc = {0};
//   tokenizer_encode(tok, text, strlen(text), 256, &enc, err, sizeof err);   // enc.ids[0..enc.n)
//   tokenizer_encoding_free(&enc); tokenizer_free(tok);
//
// A Tokenizer keeps scratch buffers and the BPE word cache, so one Tokenizer must not be used by two
// threads at once (load one per thread).
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct Tokenizer Tokenizer;

typedef enum { TOKENIZER_WORDPIECE, TOKENIZER_BPE } TokenizerKind;

// Load from a directory (tokenizer.json if present, else vocab.txt, else vocab.json + merges.txt, with
// tokenizer_config.json / special_tokens_map.json when present), a tokenizer.json file, or a vocab.txt file.
int tokenizer_load(Tokenizer **out, const char *path, char *err, size_t errlen);
void tokenizer_free(Tokenizer *t);

// One encoded text: ids including the special tokens of the template ([CLS] A [SEP] / <s> A </s>).
typedef struct {
    int32_t *ids;
    int32_t *attention_mask; // all 1 (padding is only added by tokenizer_encode_batch)
    int n;                   // number of ids
    int cap;                 // allocated entries (owned by the encoding; reuse it across calls)
} TokenizerEncoding;

// Encode text[0..len) (UTF-8; may contain NUL bytes). max_length > 0 truncates so that content +
// special tokens <= max_length, dropping content tokens from the end; max_length <= 0: no truncation.
// Invalid UTF-8 is an error ("invalid UTF-8 at byte N"). Returns 0 or -1.
int tokenizer_encode(Tokenizer *t, const char *text, size_t len, int max_length, TokenizerEncoding *enc,
                     char *err, size_t errlen);
void tokenizer_encoding_free(TokenizerEncoding *enc);

// Encode B texts into row-major (B, T) ids and attention_mask, truncated to T and padded on the right with
// the pad id (mask 0). lengths[b] (may be NULL) receives the unpadded length of row b.
int tokenizer_encode_batch(Tokenizer *t, const char *const *texts, const size_t *lens, int B, int T,
                           int32_t *ids, int32_t *attention_mask, int *lengths, char *err, size_t errlen);

// Decode ids to text with the tokenizer's decoder (WordPiece: join, glue "##" pieces, clean up spaces
// before punctuation; ByteLevel: map characters back to bytes, invalid UTF-8 becomes U+FFFD).
// skip_special drops special tokens. *out is malloc'd and NUL-terminated; caller frees.
int tokenizer_decode(const Tokenizer *t, const int32_t *ids, int n, int skip_special, char **out,
                     size_t *out_len, char *err, size_t errlen);

// The token string of an id (not NUL-terminated; byte-level tokens are in their mapped form, e.g. "Ġthe"),
// or NULL for an unknown id.
const char *tokenizer_id_to_token(const Tokenizer *t, int id, size_t *len);
int tokenizer_token_to_id(const Tokenizer *t, const char *token, size_t len); // -1 if absent
TokenizerKind tokenizer_kind(const Tokenizer *t);
int tokenizer_vocab_size(const Tokenizer *t); // 1 + the largest id
int tokenizer_pad_id(const Tokenizer *t);     // -1 if the tokenizer has no pad token

#endif
