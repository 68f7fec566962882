// tokenizer_internal.h: the Tokenizer struct and the per-model entry points shared by tokenizer/*.c.
// Not part of the public API (tokenizer.h).
#ifndef TOKENIZER_INTERNAL_H
#define TOKENIZER_INTERNAL_H

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

// growable list of ids that model code appends to
typedef struct {
    int32_t *ids;
    int n, cap;
} IdList;
int idlist_reserve(IdList *l, int extra);
static inline int idlist_push(IdList *l, int32_t id) {
    if (l->n == l->cap && idlist_reserve(l, 1) != 0) return -1;
    l->ids[l->n++] = id;
    return 0;
}

// BertNormalizer + BertPreTokenizer + WordPiece model
typedef struct {
    int clean_text, handle_chinese_chars, strip_accents, lowercase; // normalizer flags (all 0: no normalizer)
    Vocab continuations;      // tokens that start with the continuing-subword prefix, stored without it
    char prefix[16];          // continuing_subword_prefix, "##"
    int unk_id;
    int max_input_chars_per_word;
    // scratch for the word being built (normalized UTF-8 and the byte end of each character)
    char *word;
    int *char_end;
} WordPiece;

// one cached BPE word: key bytes and resulting ids live in the cache arenas
typedef struct {
    uint32_t hash;
    uint32_t key_off, ids_off;
    uint16_t key_len, n_ids;
} BpeCacheSlot;

// ByteLevel pre-tokenizer + BPE model
typedef struct {
    int add_prefix_space, use_regex, ignore_merges;
    int byte_id[256];         // vocab id of the one-character token of each byte
    uint32_t byte_char[256];  // bytes-to-unicode: the code point standing for each byte
    // merges: open-addressing table keyed by (left id, right id)
    uint64_t *merge_key;      // UINT64_MAX = empty
    int32_t *merge_rank, *merge_new_id;
    size_t merge_slots;
    int n_merges;
    // word cache (words shorter than BPE_CACHE_MAX_WORD bytes; no insertion once full)
    BpeCacheSlot *cache;
    size_t cache_slots;
    int cache_count;
    char *cache_keys; size_t cache_keys_len, cache_keys_cap;
    int32_t *cache_ids; size_t cache_ids_len, cache_ids_cap;
    // merge scratch, grown to the longest word seen
    int32_t *sym_id, *sym_prev, *sym_next;
    uint64_t *heap_key; int32_t *heap_left, *heap_right, *heap_new;
    int scratch_cap, heap_cap;
    char *prefixed; size_t prefixed_cap; // segment with the prefix space, when add_prefix_space
} Bpe;

typedef struct {
    char *content;
    size_t len;
    int id;
    int special, single_word, lstrip, rstrip, normalized;
} AddedToken;

enum { DECODER_NONE, DECODER_WORDPIECE, DECODER_BYTELEVEL };

struct Tokenizer {
    TokenizerKind kind;
    Vocab vocab;              // model vocabulary plus added tokens that are not in it
    WordPiece wp;
    Bpe bpe;
    AddedToken *added;
    int n_added;
    uint8_t added_first_byte[256]; // 1 if some added token starts with this byte
    int32_t prefix_ids[4], suffix_ids[4]; // single-sequence template: prefix A suffix
    int n_prefix, n_suffix;
    int pad_id;
    int decoder;
    int decoder_cleanup;      // WordPiece decoder: clean up spaces before punctuation
    IdList scratch;           // content ids of one encode call
};

// Model entry points: encode one segment (text between added tokens; valid UTF-8) appending ids to out,
// stopping once out->n >= limit (the caller truncates to exactly limit). Return 0, -1 on out of memory.
int wordpiece_encode(Tokenizer *t, const char *s, size_t n, IdList *out, int limit);
int bpe_encode(Tokenizer *t, const char *s, size_t n, IdList *out, int limit);

// Model setup used by the loaders (tokenizer_load.c)
int wordpiece_init(Tokenizer *t, const char *unk_token, const char *prefix, int max_chars, const char *what,
                   char *err, size_t errlen);
void wordpiece_free(WordPiece *wp);
void bpe_init_byte_map(Bpe *b);
int bpe_add_merge(Tokenizer *t, const char *left, size_t llen, const char *right, size_t rlen, int rank,
                  const char *what, char *err, size_t errlen);
int bpe_finish_init(Tokenizer *t, const char *what, char *err, size_t errlen);
void bpe_free(Bpe *b);

#endif
