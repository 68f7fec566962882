// vocab.h: token string <-> id tables shared by WordPiece and BPE.
// Strings live in one pool; lookup is an open-addressing hash table (linear probing, power-of-two size,
// 32-bit hash kept per slot so most mismatches cost no string compare). No allocation per lookup.
#ifndef TOKENIZER_VOCAB_H
#define TOKENIZER_VOCAB_H

#include <stddef.h>
#include <stdint.h>

// the largest id a vocabulary may use (real vocabularies stay below 300,000)
#define VOCAB_MAX_ID ((1 << 22) - 1)

typedef struct {
    char *pool;           // all token bytes, back to back
    size_t pool_len, pool_cap;
    uint32_t *tok_off;    // per id: offset into pool (valid when tok_len[id] >= 0)
    int32_t *tok_len;     // per id: byte length, -1 for an unused id
    int n_ids;            // ids are 0..n_ids-1
    int cap_ids;
    // hash table
    int32_t *slot_id;     // -1 empty
    uint32_t *slot_hash;
    size_t n_slots;       // power of two
    int count;            // tokens stored
    int max_token_len;    // longest token in bytes
} Vocab;

// FNV-1a variant over bytes (fast enough for short tokens, good spread after the final mix).
static inline uint32_t vocab_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    h ^= h >> 15;
    return h;
}

void vocab_init(Vocab *v);
void vocab_free(Vocab *v);
// Add token s[0..n) with the given id. Returns 0, or -1 with err filled ("duplicate token", "duplicate id",
// out of memory). `what` names the source file for messages.
int vocab_add(Vocab *v, const char *s, size_t n, int id, const char *what, char *err, size_t errlen);
// id of s[0..n), or -1
int vocab_find_hashed(const Vocab *v, const char *s, size_t n, uint32_t h);
static inline int vocab_find(const Vocab *v, const char *s, size_t n) {
    return vocab_find_hashed(v, s, n, vocab_hash(s, n));
}
// token string of id (not NUL-terminated) or NULL when the id is unused / out of range
const char *vocab_token(const Vocab *v, int id, size_t *len);

#endif
