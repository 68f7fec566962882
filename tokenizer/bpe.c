// bpe.c: byte-level BPE (HF tokenizers ByteLevel pre-tokenizer + BPE model), as used by RoBERTa and GPT-2.
//
// 1. Pre-tokenize with the GPT-2 pattern, written out by hand (bpe_next_piece):
//      's|'t|'re|'ve|'m|'ll|'d | ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+ | \s+(?!\S) | \s+
// 2. Each piece's UTF-8 bytes become symbols: the one-character tokens of the bytes-to-unicode map.
// 3. Merge (bpe_word): repeatedly merge the adjacent pair with the lowest merge rank, leftmost first, using
//    a binary heap of candidate pairs keyed by (rank, position) and skipping stale entries: O(n log n).
// 4. Words shorter than BPE_CACHE_MAX_WORD bytes are cached (piece bytes -> ids) until the cache is full.
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BPE_CACHE_MAX_WORD 256
#define BPE_CACHE_SLOTS (1u << 17)
#define BPE_CACHE_MAX_ENTRIES (1 << 16)
#define MERGE_EMPTY UINT64_MAX

// bytes-to-unicode (GPT-2): printable bytes 33-126, 161-172, 174-255 stand for themselves; the other 68
// bytes, in increasing order, map to U+0100, U+0101, ...
void bpe_init_byte_map(Bpe *b) {
    uint32_t next = 256;
    for (int c = 0; c < 256; c++) {
        int printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
        b->byte_char[c] = printable ? (uint32_t)c : next++;
    }
}

static inline uint64_t merge_key(int32_t left, int32_t right) {
    return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}
static inline size_t merge_slot(uint64_t key, size_t slots) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (slots - 1);
}

static int merge_table_grow(Bpe *b) {
    size_t slots = b->merge_slots ? b->merge_slots * 2 : 1024;
    uint64_t *keys = malloc(slots * sizeof *keys);
    int32_t *rank = malloc(slots * sizeof *rank), *nid = malloc(slots * sizeof *nid);
    if (!keys || !rank || !nid) { free(keys); free(rank); free(nid); return -1; }
    for (size_t i = 0; i < slots; i++) keys[i] = MERGE_EMPTY;
    for (size_t i = 0; i < b->merge_slots; i++) {
        if (b->merge_key[i] == MERGE_EMPTY) continue;
        size_t j = merge_slot(b->merge_key[i], slots);
        while (keys[j] != MERGE_EMPTY) j = (j + 1) & (slots - 1);
        keys[j] = b->merge_key[i]; rank[j] = b->merge_rank[i]; nid[j] = b->merge_new_id[i];
    }
    free(b->merge_key); free(b->merge_rank); free(b->merge_new_id);
    b->merge_key = keys; b->merge_rank = rank; b->merge_new_id = nid; b->merge_slots = slots;
    return 0;
}

// slot of the merge (left, right), or -1
static inline long merge_find(const Bpe *b, int32_t left, int32_t right) {
    uint64_t key = merge_key(left, right);
    size_t mask = b->merge_slots - 1;
    for (size_t j = merge_slot(key, b->merge_slots);; j = (j + 1) & mask) {
        if (b->merge_key[j] == key) return (long)j;
        if (b->merge_key[j] == MERGE_EMPTY) return -1;
    }
}

// Register merge `rank`: left + right -> the token left||right, all three must be in the vocabulary.
// A repeated pair takes the later rank, as HF's merge map does.
int bpe_add_merge(Tokenizer *t, const char *left, size_t llen, const char *right, size_t rlen, int rank,
                  const char *what, char *err, size_t errlen) {
    Bpe *b = &t->bpe;
    int lid = vocab_find(&t->vocab, left, llen), rid = vocab_find(&t->vocab, right, rlen);
    if (lid < 0 || rid < 0) {
        snprintf(err, errlen, "%s: merge %d ('%.*s', '%.*s'): '%.*s' not in vocab", what, rank, (int)(llen > 64 ? 64 : llen),
                 left, (int)(rlen > 64 ? 64 : rlen), right, lid < 0 ? (int)(llen > 64 ? 64 : llen) : (int)(rlen > 64 ? 64 : rlen),
                 lid < 0 ? left : right);
        return -1;
    }
    // HF #2198 shape: compute the merged length first and check it before copying anything
    int nid = -1;
    char buf[2048];
    if (llen + rlen <= (size_t)t->vocab.max_token_len && llen + rlen <= sizeof buf) {
        memcpy(buf, left, llen);
        memcpy(buf + llen, right, rlen);
        nid = vocab_find(&t->vocab, buf, llen + rlen);
    }
    if (nid < 0) {
        int l = llen > 64 ? 64 : (int)llen, r = rlen > 64 ? 64 : (int)rlen;
        snprintf(err, errlen, "%s: merge %d ('%.*s', '%.*s'): '%.*s%.*s' not in vocab", what, rank, l, left, r, right,
                 l, left, r, right);
        return -1;
    }
    if ((size_t)(b->n_merges + 1) * 2 > b->merge_slots && merge_table_grow(b) != 0) {
        snprintf(err, errlen, "%s: out of memory", what);
        return -1;
    }
    long slot = merge_find(b, lid, rid);
    if (slot < 0) {
        uint64_t key = merge_key(lid, rid);
        size_t j = merge_slot(key, b->merge_slots);
        while (b->merge_key[j] != MERGE_EMPTY) j = (j + 1) & (b->merge_slots - 1);
        slot = (long)j;
        b->merge_key[j] = key;
        b->n_merges++;
    }
    b->merge_rank[slot] = rank;
    b->merge_new_id[slot] = nid;
    return 0;
}

// After vocab and merges: resolve the 256 byte symbols and set up the cache.
int bpe_finish_init(Tokenizer *t, const char *what, char *err, size_t errlen) {
    Bpe *b = &t->bpe;
    bpe_init_byte_map(b);
    for (int c = 0; c < 256; c++) {
        char buf[4];
        int k = utf8_encode(b->byte_char[c], buf);
        b->byte_id[c] = vocab_find(&t->vocab, buf, (size_t)k);
        if (b->byte_id[c] < 0) {
            snprintf(err, errlen, "%s: byte-level vocabulary lacks the token for byte 0x%02X ('%.*s')", what, c, k, buf);
            return -1;
        }
    }
    if (!b->merge_slots && merge_table_grow(b) != 0) goto oom;
    b->cache_slots = BPE_CACHE_SLOTS;
    b->cache = calloc(b->cache_slots, sizeof *b->cache);
    if (!b->cache) goto oom;
    return 0;
oom:
    snprintf(err, errlen, "%s: out of memory", what);
    return -1;
}

void bpe_free(Bpe *b) {
    free(b->merge_key); free(b->merge_rank); free(b->merge_new_id);
    free(b->cache); free(b->cache_keys); free(b->cache_ids);
    free(b->sym_id); free(b->sym_prev); free(b->sym_next);
    free(b->heap_key); free(b->heap_left); free(b->heap_right); free(b->heap_new);
    free(b->prefixed);
    memset(b, 0, sizeof *b);
}

// ---------------------------------------------------------------------------------------------------
// merging one word

static int grow_scratch(Bpe *b, int n) {
    if (n <= b->scratch_cap) return 0;
    int cap = b->scratch_cap ? b->scratch_cap : 64;
    while (cap < n) cap *= 2;
    int32_t *id = realloc(b->sym_id, (size_t)cap * sizeof *id);
    if (id) b->sym_id = id;
    int32_t *pv = realloc(b->sym_prev, (size_t)cap * sizeof *pv);
    if (pv) b->sym_prev = pv;
    int32_t *nx = realloc(b->sym_next, (size_t)cap * sizeof *nx);
    if (nx) b->sym_next = nx;
    if (!id || !pv || !nx) return -1;
    b->scratch_cap = cap;
    return 0;
}

static int heap_reserve(Bpe *b, int n) {
    if (n <= b->heap_cap) return 0;
    int cap = b->heap_cap ? b->heap_cap : 128;
    while (cap < n) cap *= 2;
    uint64_t *k = realloc(b->heap_key, (size_t)cap * sizeof *k);
    if (k) b->heap_key = k;
    int32_t *l = realloc(b->heap_left, (size_t)cap * sizeof *l);
    if (l) b->heap_left = l;
    int32_t *r = realloc(b->heap_right, (size_t)cap * sizeof *r);
    if (r) b->heap_right = r;
    int32_t *w = realloc(b->heap_new, (size_t)cap * sizeof *w);
    if (w) b->heap_new = w;
    if (!k || !l || !r || !w) return -1;
    b->heap_cap = cap;
    return 0;
}

// heap entry: key = rank << 32 | position of the left symbol; payload = the pair's ids and the merged id
static void heap_push(Bpe *b, int *size, uint64_t key, int32_t left, int32_t right, int32_t nid) {
    int i = (*size)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (b->heap_key[p] <= key) break;
        b->heap_key[i] = b->heap_key[p]; b->heap_left[i] = b->heap_left[p];
        b->heap_right[i] = b->heap_right[p]; b->heap_new[i] = b->heap_new[p];
        i = p;
    }
    b->heap_key[i] = key; b->heap_left[i] = left; b->heap_right[i] = right; b->heap_new[i] = nid;
}

static void heap_pop(Bpe *b, int *size) {
    int n = --(*size);
    uint64_t key = b->heap_key[n];
    int32_t l = b->heap_left[n], r = b->heap_right[n], w = b->heap_new[n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && b->heap_key[c + 1] < b->heap_key[c]) c++;
        if (b->heap_key[c] >= key) break;
        b->heap_key[i] = b->heap_key[c]; b->heap_left[i] = b->heap_left[c];
        b->heap_right[i] = b->heap_right[c]; b->heap_new[i] = b->heap_new[c];
        i = c;
    }
    b->heap_key[i] = key; b->heap_left[i] = l; b->heap_right[i] = r; b->heap_new[i] = w;
}

// push the pair starting at symbol pos, if it has a right neighbour and the pair has a merge
static void push_pair(Bpe *b, int *hsize, int pos) {
    if (pos < 0) return;
    int nx = b->sym_next[pos];
    if (nx < 0) return;
    long slot = merge_find(b, b->sym_id[pos], b->sym_id[nx]);
    if (slot < 0) return;
    uint64_t key = ((uint64_t)(uint32_t)b->merge_rank[slot] << 32) | (uint32_t)pos;
    heap_push(b, hsize, key, b->sym_id[pos], b->sym_id[nx], b->merge_new_id[slot]);
}

// BPE on one piece: symbols start as the byte tokens; the lowest-(rank, position) pair is merged until no
// adjacent pair has a merge. A heap entry is stale when its left symbol was merged away or changed, or its
// right neighbour no longer has the id it was pushed with; stale entries are skipped.
static int bpe_word(Bpe *b, const unsigned char *s, int n, IdList *out) {
    if (grow_scratch(b, n) != 0 || heap_reserve(b, 2 * n + 2) != 0) return -1;
    for (int i = 0; i < n; i++) {
        b->sym_id[i] = b->byte_id[s[i]];
        b->sym_prev[i] = i - 1;
        b->sym_next[i] = i + 1 < n ? i + 1 : -1;
    }
    int hsize = 0;
    for (int i = 0; i + 1 < n; i++) push_pair(b, &hsize, i);
    while (hsize > 0) {
        int pos = (int)(uint32_t)b->heap_key[0];
        int32_t left = b->heap_left[0], right = b->heap_right[0], nid = b->heap_new[0];
        heap_pop(b, &hsize);
        int nx = b->sym_next[pos];
        if (b->sym_id[pos] != left || nx < 0 || b->sym_id[nx] != right) continue; // stale
        // merge pos and nx into pos
        b->sym_id[pos] = nid;
        b->sym_id[nx] = -1;
        b->sym_next[pos] = b->sym_next[nx];
        if (b->sym_next[nx] >= 0) b->sym_prev[b->sym_next[nx]] = pos;
        // every merge removes a symbol and pushes at most 2 pairs: the heap never exceeds 2n + 2
        push_pair(b, &hsize, b->sym_prev[pos]);
        push_pair(b, &hsize, pos);
    }
    for (int i = 0; i >= 0; i = b->sym_next[i])
        if (idlist_push(out, b->sym_id[i]) != 0) return -1;
    return 0;
}

// ignore_merges: a piece that is itself a vocabulary token (in mapped form) is emitted as is
static int bpe_whole_word(Tokenizer *t, const unsigned char *s, int n) {
    char buf[BPE_CACHE_MAX_WORD * 2];
    int len = 0;
    if (n >= BPE_CACHE_MAX_WORD) return -1;
    for (int i = 0; i < n; i++) len += utf8_encode(t->bpe.byte_char[s[i]], buf + len);
    return vocab_find(&t->vocab, buf, (size_t)len);
}

// encode one piece through the cache
static int bpe_piece(Tokenizer *t, const unsigned char *s, int n, IdList *out) {
    Bpe *b = &t->bpe;
    if (b->ignore_merges) {
        int id = bpe_whole_word(t, s, n);
        if (id >= 0) return idlist_push(out, id);
    }
    if (n == 1) return idlist_push(out, b->byte_id[s[0]]);
    if (n >= BPE_CACHE_MAX_WORD) return bpe_word(b, s, n, out);
    uint32_t h = vocab_hash((const char *)s, (size_t)n);
    size_t mask = b->cache_slots - 1, j = h & mask;
    for (;; j = (j + 1) & mask) {
        BpeCacheSlot *c = &b->cache[j];
        if (c->key_len == 0) break;
        if (c->hash == h && c->key_len == n && memcmp(b->cache_keys + c->key_off, s, (size_t)n) == 0) {
            if (idlist_reserve(out, c->n_ids) != 0) return -1;
            memcpy(out->ids + out->n, b->cache_ids + c->ids_off, (size_t)c->n_ids * sizeof(int32_t));
            out->n += c->n_ids;
            return 0;
        }
    }
    int first = out->n;
    if (bpe_word(b, s, n, out) != 0) return -1;
    if (b->cache_count >= BPE_CACHE_MAX_ENTRIES) return 0; // full: no more insertions (as HF)
    int nids = out->n - first;
    if (b->cache_keys_len + (size_t)n > b->cache_keys_cap) {
        size_t cap = b->cache_keys_cap ? b->cache_keys_cap * 2 : (1u << 20);
        char *k = realloc(b->cache_keys, cap);
        if (!k) return 0; // the cache is an optimisation: skip on out of memory
        b->cache_keys = k; b->cache_keys_cap = cap;
    }
    if (b->cache_ids_len + (size_t)nids > b->cache_ids_cap) {
        size_t cap = b->cache_ids_cap ? b->cache_ids_cap * 2 : (1u << 18);
        int32_t *w = realloc(b->cache_ids, cap * sizeof *w);
        if (!w) return 0;
        b->cache_ids = w; b->cache_ids_cap = cap;
    }
    BpeCacheSlot *c = &b->cache[j];
    c->hash = h;
    c->key_off = (uint32_t)b->cache_keys_len;
    c->key_len = (uint16_t)n;
    c->ids_off = (uint32_t)b->cache_ids_len;
    c->n_ids = (uint16_t)nids;
    memcpy(b->cache_keys + b->cache_keys_len, s, (size_t)n);
    memcpy(b->cache_ids + b->cache_ids_len, out->ids + first, (size_t)nids * sizeof(int32_t));
    b->cache_keys_len += (size_t)n;
    b->cache_ids_len += (size_t)nids;
    b->cache_count++;
    return 0;
}

// ---------------------------------------------------------------------------------------------------
// the GPT-2 pre-tokenization pattern

enum { CL_WS, CL_LETTER, CL_NUMBER, CL_OTHER };

static int char_class(uint32_t cp) {
    unsigned p = unicode_props(cp);
    if (p & UPROP_WHITESPACE) return CL_WS;
    unsigned cat = p & UPROP_CATEGORY;
    if (unicode_category_is_letter(cat)) return CL_LETTER;
    if (unicode_category_is_number(cat)) return CL_NUMBER;
    return CL_OTHER;
}

static unsigned char ascii_cls[128];
static int ascii_cls_ready;

// class of the character at s[i] (i < n) and its byte length
static inline int class_at(const unsigned char *s, size_t n, size_t i, int *len) {
    if (s[i] < 128) { *len = 1; return ascii_cls[s[i]]; }
    uint32_t cp;
    int k = utf8_decode(s + i, n - i, &cp);
    if (k == 0) { *len = 1; return CL_OTHER; } // callers validate UTF-8; always make progress
    *len = k;
    return char_class(cp);
}

// Length in bytes of the piece starting at s[i]: the first alternative of the pattern that matches.
static size_t bpe_next_piece(const unsigned char *s, size_t n, size_t i) {
    // 1. contractions (ASCII apostrophe, lowercase letters only)
    if (s[i] == '\'' && i + 1 < n) {
        unsigned char a = s[i + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if (i + 2 < n) {
            unsigned char b2 = s[i + 2];
            if ((a == 'r' && b2 == 'e') || (a == 'v' && b2 == 'e') || (a == 'l' && b2 == 'l')) return 3;
        }
    }
    int len;
    int cls = class_at(s, n, i, &len);
    size_t j = i + (size_t)len;
    // 2-4. optional space, then a run of letters / numbers / other (not whitespace, letter or number)
    if (s[i] == ' ' && j < n) {
        int len2;
        int cls2 = class_at(s, n, j, &len2);
        if (cls2 != CL_WS) { cls = cls2; j += (size_t)len2; }
    }
    if (cls != CL_WS) {
        while (j < n) {
            int l;
            if (class_at(s, n, j, &l) != cls) break;
            j += (size_t)l;
        }
        return j - i;
    }
    // 5-6. whitespace run: at the end of the text it is one piece; before a non-space character the run
    // minus its last character (\s+(?!\S)), or a lone whitespace character (\s+)
    size_t last = i; // start of the last whitespace character in the run
    while (j < n) {
        int l;
        if (class_at(s, n, j, &l) != CL_WS) break;
        last = j;
        j += (size_t)l;
    }
    if (j == n || last == i) return j - i;
    return last - i;
}

int bpe_encode(Tokenizer *t, const char *text, size_t n, IdList *out, int limit) {
    Bpe *b = &t->bpe;
    if (!ascii_cls_ready) {
        for (int c = 0; c < 128; c++) ascii_cls[c] = (unsigned char)char_class((uint32_t)c);
        ascii_cls_ready = 1;
    }
    const unsigned char *s = (const unsigned char *)text;
    if (b->add_prefix_space && n > 0 && s[0] != ' ') { // HF prepends one space to each segment
        if (n + 1 > b->prefixed_cap) {
            char *p = realloc(b->prefixed, n + 1);
            if (!p) return -1;
            b->prefixed = p; b->prefixed_cap = n + 1;
        }
        b->prefixed[0] = ' ';
        memcpy(b->prefixed + 1, text, n);
        s = (const unsigned char *)b->prefixed;
        n++;
    }
    if (!b->use_regex) return n ? bpe_piece(t, s, (int)n, out) : 0;
    size_t i = 0;
    while (i < n && out->n < limit) {
        size_t len = bpe_next_piece(s, n, i);
        if (len > (size_t)INT32_MAX / 4) return -1;
        if (bpe_piece(t, s + i, (int)len, out) != 0) return -1;
        i += len;
    }
    return 0;
}
