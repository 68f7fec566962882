// tokenizer.c: the encode / decode API over the two models (tokenizer.h).
//
// tokenizer_encode follows HF's pipeline (reference-semantics.md §8.1):
//   1. split out added tokens found in the raw text (leftmost-longest; lstrip/rstrip absorb whitespace),
//   2. run each segment between them through the model pipeline (wordpiece_encode / bpe_encode),
//   3. truncate the content to max_length minus the template's special tokens,
//   4. wrap it in the single-sequence template ([CLS] A [SEP] or <s> A </s>).
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int idlist_reserve(IdList *l, int extra) {
    if (l->n + extra <= l->cap) return 0;
    int cap = l->cap ? l->cap : 256;
    while (cap < l->n + extra) cap *= 2;
    int32_t *ids = realloc(l->ids, (size_t)cap * sizeof *ids);
    if (!ids) return -1;
    l->ids = ids;
    l->cap = cap;
    return 0;
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    vocab_free(&t->vocab);
    wordpiece_free(&t->wp);
    bpe_free(&t->bpe);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    free(t->scratch.ids);
    free(t);
}

TokenizerKind tokenizer_kind(const Tokenizer *t) { return t->kind; }
int tokenizer_vocab_size(const Tokenizer *t) { return t->vocab.n_ids; }
int tokenizer_pad_id(const Tokenizer *t) { return t->pad_id; }
const char *tokenizer_id_to_token(const Tokenizer *t, int id, size_t *len) { return vocab_token(&t->vocab, id, len); }
int tokenizer_token_to_id(const Tokenizer *t, const char *token, size_t len) { return vocab_find(&t->vocab, token, len); }

static int encode_segment(Tokenizer *t, const char *s, size_t n, IdList *out, int limit) {
    if (n == 0) return 0;
    return t->kind == TOKENIZER_WORDPIECE ? wordpiece_encode(t, s, n, out, limit) : bpe_encode(t, s, n, out, limit);
}

// decode the code point that ends just before s[end] (UTF-8 is self-synchronising); returns its start
static size_t prev_char(const char *s, size_t end, uint32_t *cp) {
    size_t i = end - 1;
    while (i > 0 && end - i < 4 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    if (utf8_decode((const unsigned char *)s + i, end - i, cp) == 0) { *cp = 0xFFFD; return end - 1; }
    return i;
}

static int is_word_char(uint32_t cp) {
    unsigned cat = unicode_category(cp);
    return cp == '_' || unicode_category_is_letter(cat) || unicode_category_is_number(cat) || cat == UC_Mn || cat == UC_Mc;
}

// the longest added token that matches at s[i], or NULL; single_word tokens must not touch word characters
static const AddedToken *match_added(const Tokenizer *t, const char *s, size_t n, size_t i) {
    const AddedToken *best = NULL;
    for (int k = 0; k < t->n_added; k++) {
        const AddedToken *a = &t->added[k];
        if (a->len > n - i || (best && a->len <= best->len) || memcmp(s + i, a->content, a->len) != 0) continue;
        if (a->single_word) {
            uint32_t cp;
            if (i > 0) { prev_char(s, i, &cp); if (is_word_char(cp)) continue; }
            if (i + a->len < n && utf8_decode((const unsigned char *)s + i + a->len, n - i - a->len, &cp) && is_word_char(cp))
                continue;
        }
        best = a;
    }
    return best;
}

// content ids of text (steps 1-2), at most `limit` of them
static int encode_content(Tokenizer *t, const char *s, size_t n, IdList *out, int limit) {
    size_t seg = 0; // start of the segment not yet encoded
    for (size_t i = 0; i < n && out->n < limit;) {
        const AddedToken *a = t->added_first_byte[(unsigned char)s[i]] ? match_added(t, s, n, i) : NULL;
        if (!a) { i++; continue; }
        size_t start = i, end = i + a->len;
        uint32_t cp;
        if (a->lstrip)
            while (start > seg) {
                size_t p = prev_char(s, start, &cp);
                if (!unicode_is_whitespace(cp)) break;
                start = p;
            }
        if (a->rstrip)
            while (end < n) {
                int k = utf8_decode((const unsigned char *)s + end, n - end, &cp);
                if (k == 0 || !unicode_is_whitespace(cp)) break;
                end += (size_t)k;
            }
        if (encode_segment(t, s + seg, start - seg, out, limit) != 0) return -1;
        if (out->n < limit && idlist_push(out, a->id) != 0) return -1;
        seg = i = end;
    }
    if (out->n < limit && encode_segment(t, s + seg, n - seg, out, limit) != 0) return -1;
    if (out->n > limit) out->n = limit;
    return 0;
}

static int encoding_reserve(TokenizerEncoding *enc, int n) {
    if (n <= enc->cap) return 0;
    int cap = enc->cap ? enc->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *ids = realloc(enc->ids, (size_t)cap * sizeof *ids);
    if (ids) enc->ids = ids;
    int32_t *mask = realloc(enc->attention_mask, (size_t)cap * sizeof *mask);
    if (mask) enc->attention_mask = mask;
    if (!ids || !mask) return -1;
    enc->cap = cap;
    return 0;
}

void tokenizer_encoding_free(TokenizerEncoding *enc) {
    free(enc->ids);
    free(enc->attention_mask);
    memset(enc, 0, sizeof *enc);
}

int tokenizer_encode(Tokenizer *t, const char *text, size_t len, int max_length, TokenizerEncoding *enc,
                     char *err, size_t errlen) {
    enc->n = 0;
    long bad = utf8_find_invalid(text, len);
    if (bad >= 0) {
        snprintf(err, errlen, "invalid UTF-8 at byte %ld (0x%02X)", bad, (unsigned char)text[bad]);
        return -1;
    }
    int n_special = t->n_prefix + t->n_suffix;
    // the special tokens alone would exceed max_length: the result would break the documented bound
    // (fuzz_encode: tokenizer_encode_batch with T = 1 reported row lengths of 2 for a row of 1)
    if (max_length > 0 && max_length < n_special) {
        snprintf(err, errlen, "max_length %d is smaller than the %d special tokens of the template", max_length, n_special);
        return -1;
    }
    int limit = INT32_MAX / 2;
    if (max_length > 0) limit = max_length > n_special ? max_length - n_special : 0;
    t->scratch.n = 0;
    if (encode_content(t, text, len, &t->scratch, limit) != 0) {
        snprintf(err, errlen, "out of memory while encoding %zu bytes", len);
        return -1;
    }
    int total = t->n_prefix + t->scratch.n + t->n_suffix;
    if (encoding_reserve(enc, total) != 0) {
        snprintf(err, errlen, "out of memory while encoding %zu bytes", len);
        return -1;
    }
    int k = 0;
    for (int i = 0; i < t->n_prefix; i++) enc->ids[k++] = t->prefix_ids[i];
    // scratch.ids is NULL before the first non-empty text: memcpy(dst, NULL, 0) is undefined (UBSan, fuzz_encode)
    if (t->scratch.n > 0) memcpy(enc->ids + k, t->scratch.ids, (size_t)t->scratch.n * sizeof(int32_t));
    k += t->scratch.n;
    for (int i = 0; i < t->n_suffix; i++) enc->ids[k++] = t->suffix_ids[i];
    for (int i = 0; i < total; i++) enc->attention_mask[i] = 1;
    enc->n = total;
    return 0;
}

int tokenizer_encode_batch(Tokenizer *t, const char *const *texts, const size_t *lens, int B, int T,
                           int32_t *ids, int32_t *attention_mask, int *lengths, char *err, size_t errlen) {
    TokenizerEncoding enc = {0};
    int pad = t->pad_id >= 0 ? t->pad_id : 0;
    for (int b = 0; b < B; b++) {
        if (tokenizer_encode(t, texts[b], lens[b], T, &enc, err, errlen) != 0) {
            char inner[256];
            snprintf(inner, sizeof inner, "%s", err);
            snprintf(err, errlen, "text %d: %s", b, inner);
            tokenizer_encoding_free(&enc);
            return -1;
        }
        int32_t *row = ids + (size_t)b * T, *mrow = attention_mask + (size_t)b * T;
        for (int i = 0; i < T; i++) {
            row[i] = i < enc.n ? enc.ids[i] : pad;
            mrow[i] = i < enc.n;
        }
        if (lengths) lengths[b] = enc.n;
    }
    tokenizer_encoding_free(&enc);
    return 0;
}

// ---------------------------------------------------------------------------------------------------
// decoding

typedef struct {
    char *buf;
    size_t len, cap;
} Text;

static int text_append(Text *o, const char *s, size_t n) {
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1) cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b) return -1;
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
    return 0;
}

static const AddedToken *find_added_id(const Tokenizer *t, int id) {
    for (int k = 0; k < t->n_added; k++)
        if (t->added[k].id == id) return &t->added[k];
    return NULL;
}

// WordPiece decoder cleanup (HF decoders/wordpiece.rs cleanup): remove spaces before punctuation and
// contractions
static void wordpiece_cleanup(Text *o) {
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " do not", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", " don't", "'s", "'ve", "'re"};
    for (size_t r = 0; r < sizeof from / sizeof from[0]; r++) {
        size_t fl = strlen(from[r]), tl = strlen(to[r]), w = 0;
        for (size_t i = 0; i < o->len;) {
            if (i + fl <= o->len && memcmp(o->buf + i, from[r], fl) == 0) {
                memmove(o->buf + w, to[r], tl);
                w += tl;
                i += fl;
            } else {
                o->buf[w++] = o->buf[i++];
            }
        }
        o->len = w;
        o->buf[w] = '\0';
    }
}

int tokenizer_decode(const Tokenizer *t, const int32_t *ids, int n, int skip_special, char **out,
                     size_t *out_len, char *err, size_t errlen) {
    Text o = {0};
    int32_t inverse[512]; // byte-level: code point (< 512) -> byte
    if (t->decoder == DECODER_BYTELEVEL) {
        for (int c = 0; c < 512; c++) inverse[c] = -1;
        for (int c = 0; c < 256; c++) inverse[t->bpe.byte_char[c]] = c;
    }
    if (text_append(&o, "", 0) != 0) goto oom;
    int first = 1;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *tok = vocab_token(&t->vocab, ids[i], &len);
        if (!tok) {
            snprintf(err, errlen, "decode: id %d is not in the vocabulary", (int)ids[i]);
            free(o.buf);
            return -1;
        }
        const AddedToken *a = find_added_id(t, ids[i]);
        if (skip_special && a && a->special) continue;
        if (t->decoder == DECODER_WORDPIECE) {
            size_t pl = strlen(t->wp.prefix);
            if (!a && pl && len >= pl && memcmp(tok, t->wp.prefix, pl) == 0) { tok += pl; len -= pl; }
            else if (!first && text_append(&o, " ", 1) != 0) goto oom;
            if (text_append(&o, tok, len) != 0) goto oom;
        } else if (t->decoder == DECODER_BYTELEVEL && !a) {
            for (size_t j = 0; j < len;) {
                uint32_t cp;
                int k = utf8_decode((const unsigned char *)tok + j, len - j, &cp);
                if (k == 0) { k = 1; cp = 0xFFFD; }
                j += (size_t)k;
                char c;
                if (cp < 512 && inverse[cp] >= 0) { c = (char)inverse[cp]; if (text_append(&o, &c, 1) != 0) goto oom; }
                else { char u[4]; int m = utf8_encode(cp, u); if (text_append(&o, u, (size_t)m) != 0) goto oom; }
            }
        } else {
            if (text_append(&o, tok, len) != 0) goto oom;
        }
        first = 0;
    }
    if (t->decoder == DECODER_WORDPIECE && t->decoder_cleanup) wordpiece_cleanup(&o);
    if (t->decoder == DECODER_BYTELEVEL) { // invalid UTF-8 from byte pieces -> U+FFFD per bad byte
        Text v = {0};
        if (text_append(&v, "", 0) != 0) goto oom;
        for (size_t j = 0; j < o.len;) {
            uint32_t cp;
            int k = utf8_decode((const unsigned char *)o.buf + j, o.len - j, &cp);
            int rc = k ? text_append(&v, o.buf + j, (size_t)k) : text_append(&v, "\xEF\xBF\xBD", 3);
            if (rc != 0) { free(v.buf); goto oom; }
            j += k ? (size_t)k : 1;
        }
        free(o.buf);
        o = v;
    }
    *out = o.buf;
    if (out_len) *out_len = o.len;
    return 0;
oom:
    free(o.buf);
    snprintf(err, errlen, "decode: out of memory");
    return -1;
}
