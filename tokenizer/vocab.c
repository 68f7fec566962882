// vocab.c: see vocab.h.
#include "tokenizer/vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vocab_init(Vocab *v) { memset(v, 0, sizeof *v); }

void vocab_free(Vocab *v) {
    free(v->pool); free(v->tok_off); free(v->tok_len); free(v->slot_id); free(v->slot_hash);
    memset(v, 0, sizeof *v);
}

static int vocab_rehash(Vocab *v, size_t n_slots) {
    int32_t *ids = malloc(n_slots * sizeof *ids);
    uint32_t *hashes = malloc(n_slots * sizeof *hashes);
    if (!ids || !hashes) { free(ids); free(hashes); return -1; }
    for (size_t i = 0; i < n_slots; i++) ids[i] = -1;
    for (size_t i = 0; i < v->n_slots; i++) {
        if (v->slot_id[i] < 0) continue;
        size_t j = v->slot_hash[i] & (n_slots - 1);
        while (ids[j] >= 0) j = (j + 1) & (n_slots - 1);
        ids[j] = v->slot_id[i];
        hashes[j] = v->slot_hash[i];
    }
    free(v->slot_id); free(v->slot_hash);
    v->slot_id = ids; v->slot_hash = hashes; v->n_slots = n_slots;
    return 0;
}

int vocab_find_hashed(const Vocab *v, const char *s, size_t n, uint32_t h) {
    if (!v->n_slots) return -1;
    size_t mask = v->n_slots - 1;
    for (size_t j = h & mask;; j = (j + 1) & mask) {
        int32_t id = v->slot_id[j];
        if (id < 0) return -1;
        if (v->slot_hash[j] == h && (size_t)v->tok_len[id] == n && memcmp(v->pool + v->tok_off[id], s, n) == 0)
            return id;
    }
}

const char *vocab_token(const Vocab *v, int id, size_t *len) {
    if (id < 0 || id >= v->n_ids || v->tok_len[id] < 0) return NULL;
    *len = (size_t)v->tok_len[id];
    return v->pool + v->tok_off[id];
}

int vocab_add(Vocab *v, const char *s, size_t n, int id, const char *what, char *err, size_t errlen) {
    if (id < 0) { snprintf(err, errlen, "%s: negative id %d", what, id); return -1; }
    // ids index dense arrays: cap them so a tiny hostile file cannot ask for gigabytes (found by fuzzing)
    if (id > VOCAB_MAX_ID) { snprintf(err, errlen, "%s: id %d is above the cap %d", what, id, VOCAB_MAX_ID); return -1; }
    uint32_t h = vocab_hash(s, n);
    int old = vocab_find_hashed(v, s, n, h);
    if (old >= 0) {
        snprintf(err, errlen, "%s: duplicate token '%.64s' (ids %d and %d)", what, v->pool + v->tok_off[old], old, id);
        return -1;
    }
    if (id >= v->cap_ids) {
        int cap = v->cap_ids ? v->cap_ids : 1024;
        while (cap <= id) cap *= 2;
        uint32_t *off = realloc(v->tok_off, (size_t)cap * sizeof *off);
        if (off) v->tok_off = off;
        int32_t *len = realloc(v->tok_len, (size_t)cap * sizeof *len);
        if (len) v->tok_len = len;
        if (!off || !len) { snprintf(err, errlen, "%s: out of memory", what); return -1; }
        for (int i = v->cap_ids; i < cap; i++) v->tok_len[i] = -1;
        v->cap_ids = cap;
    }
    if (v->tok_len[id] >= 0) {
        snprintf(err, errlen, "%s: id %d used by both '%.64s' and '%.64s'", what, id,
                 v->pool + v->tok_off[id], s);
        return -1;
    }
    if (v->pool_len + n + 1 > v->pool_cap) {
        size_t cap = v->pool_cap ? v->pool_cap : 65536;
        while (cap < v->pool_len + n + 1) cap *= 2;
        char *p = realloc(v->pool, cap);
        if (!p) { snprintf(err, errlen, "%s: out of memory", what); return -1; }
        v->pool = p; v->pool_cap = cap;
    }
    if ((size_t)(v->count + 1) * 2 > v->n_slots) {
        if (vocab_rehash(v, v->n_slots ? v->n_slots * 2 : 1024) != 0) {
            snprintf(err, errlen, "%s: out of memory", what);
            return -1;
        }
    }
    memcpy(v->pool + v->pool_len, s, n);
    v->pool[v->pool_len + n] = '\0';
    v->tok_off[id] = (uint32_t)v->pool_len;
    v->tok_len[id] = (int32_t)n;
    v->pool_len += n + 1;
    if (id >= v->n_ids) v->n_ids = id + 1;
    if ((int)n > v->max_token_len) v->max_token_len = (int)n;
    size_t mask = v->n_slots - 1, j = h & mask;
    while (v->slot_id[j] >= 0) j = (j + 1) & mask;
    v->slot_id[j] = id;
    v->slot_hash[j] = h;
    v->count++;
    return 0;
}
