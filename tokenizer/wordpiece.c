// wordpiece.c: BERT's text pipeline (HF tokenizers BertNormalizer + BertPreTokenizer + WordPiece), fused
// into one pass over the text so no normalized copy of the text is ever built.
//
// Per code point c of the input:
//   clean_text:  drop U+0000, U+FFFD and controls (categories Cc Cf Co Cs, except \t \n \r);
//                whitespace (White_Space) ends the current word.
//   chinese:     a CJK ideograph becomes a word of its own.
//   strip_accents: NFD-decompose c and drop the nonspacing marks (Mn); lowercase: full lowercase mapping.
//   pre-tokenize: each resulting code point that is punctuation (ASCII 33-47, 58-64, 91-96, 123-126 or
//                Unicode P*) is a word of its own; whitespace ends a word; anything else extends the word.
// Each finished word goes through wordpiece_word (greedy longest-match-first with "##" continuations).
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// classes of ASCII characters for the fast path
enum { A_LETTER, A_SPACE, A_PUNCT, A_CONTROL };
static unsigned char ascii_class[128];
static int ascii_class_ready;

static void init_ascii_class(void) {
    for (int c = 0; c < 128; c++) {
        unsigned char k = A_LETTER; // letters, digits: part of a word
        if (c == ' ' || (c >= 9 && c <= 13)) k = A_SPACE;
        else if (c < 32 || c == 127) k = A_CONTROL;
        else if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
            k = A_PUNCT;
        ascii_class[c] = k;
    }
    ascii_class_ready = 1;
}

static int is_chinese_char(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int wordpiece_init(Tokenizer *t, const char *unk_token, const char *prefix, int max_chars, const char *what,
                   char *err, size_t errlen) {
    WordPiece *wp = &t->wp;
    if (!ascii_class_ready) init_ascii_class();
    if (max_chars < 1 || max_chars > 10000) {
        snprintf(err, errlen, "%s: max_input_chars_per_word must be in [1, 10000], got %d", what, max_chars);
        return -1;
    }
    size_t plen = strlen(prefix);
    if (plen >= sizeof wp->prefix) {
        snprintf(err, errlen, "%s: continuing_subword_prefix '%.32s' is too long", what, prefix);
        return -1;
    }
    memcpy(wp->prefix, prefix, plen + 1);
    wp->max_input_chars_per_word = max_chars;
    wp->unk_id = vocab_find(&t->vocab, unk_token, strlen(unk_token));
    if (wp->unk_id < 0) {
        snprintf(err, errlen, "%s: unk_token '%.64s' is not in the vocabulary", what, unk_token);
        return -1;
    }
    // continuation table: "##abc" stored as "abc" with the same id, so lookups need no string building
    vocab_init(&wp->continuations);
    for (int id = 0; id < t->vocab.n_ids; id++) {
        size_t len;
        const char *tok = vocab_token(&t->vocab, id, &len);
        if (!tok || plen == 0 || len <= plen || memcmp(tok, prefix, plen) != 0) continue;
        if (vocab_add(&wp->continuations, tok + plen, len - plen, id, what, err, errlen) != 0) return -1;
    }
    // a word holds at most max_chars characters of at most 4 bytes each (longer words are [UNK] anyway)
    wp->word = malloc((size_t)(max_chars + 1) * 4);
    wp->char_end = malloc((size_t)(max_chars + 1) * sizeof(int));
    if (!wp->word || !wp->char_end) {
        snprintf(err, errlen, "%s: out of memory", what);
        return -1;
    }
    return 0;
}

void wordpiece_free(WordPiece *wp) {
    vocab_free(&wp->continuations);
    free(wp->word);
    free(wp->char_end);
    wp->word = NULL;
    wp->char_end = NULL;
}

// WordPiece model on one word (nchars characters; char_end[i] = byte end of character i):
// greedy longest-match-first. From `start`, try the longest substring in the vocabulary (with the "##"
// prefix when start > 0), emit it, continue after it; if no substring matches, the whole word is [UNK].
// A word of more than max_input_chars_per_word characters is [UNK] without any matching.
static int wordpiece_word(Tokenizer *t, const char *word, const int *char_end, int nchars, int too_long,
                          IdList *out) {
    WordPiece *wp = &t->wp;
    if (too_long) return idlist_push(out, wp->unk_id);
    int mark = out->n;
    int start = 0;
    while (start < nchars) {
        const Vocab *table = (start == 0 || !wp->prefix[0]) ? &t->vocab : &wp->continuations;
        int bstart = start == 0 ? 0 : char_end[start - 1];
        int id = -1, end = nchars;
        for (; end > start; end--) {
            int blen = char_end[end - 1] - bstart;
            if (blen > table->max_token_len) continue;
            id = vocab_find(table, word + bstart, (size_t)blen);
            if (id >= 0) break;
        }
        if (id < 0) {
            out->n = mark;
            return idlist_push(out, wp->unk_id);
        }
        if (idlist_push(out, id) != 0) return -1;
        start = end;
    }
    return 0;
}

// the word being assembled from normalized characters
typedef struct {
    int len, nchars, too_long;
} WordState;

static inline void word_append(WordPiece *wp, WordState *w, uint32_t cp) {
    if (w->nchars >= wp->max_input_chars_per_word) { w->too_long = 1; return; }
    w->len += utf8_encode(cp, wp->word + w->len);
    wp->char_end[w->nchars++] = w->len;
}

static inline int word_flush(Tokenizer *t, WordState *w, IdList *out) {
    if (w->nchars == 0 && !w->too_long) return 0;
    int rc = wordpiece_word(t, t->wp.word, t->wp.char_end, w->nchars, w->too_long, out);
    w->len = w->nchars = w->too_long = 0;
    return rc;
}

// pre-tokenize one normalized code point: punctuation is its own word, whitespace ends the word
static inline int pretokenize_char(Tokenizer *t, WordState *w, uint32_t d, IdList *out) {
    unsigned props = unicode_props(d);
    unsigned cat = props & UPROP_CATEGORY;
    int punct = d < 128 ? ascii_class[d] == A_PUNCT : unicode_category_is_punct(cat);
    if (punct) {
        if (word_flush(t, w, out) != 0) return -1;
        word_append(&t->wp, w, d);
        return word_flush(t, w, out);
    }
    if (props & UPROP_WHITESPACE) return word_flush(t, w, out);
    word_append(&t->wp, w, d);
    return 0;
}

int wordpiece_encode(Tokenizer *t, const char *s, size_t n, IdList *out, int limit) {
    WordPiece *wp = &t->wp;
    const unsigned char *u = (const unsigned char *)s;
    WordState w = {0, 0, 0};
    size_t i = 0;
    while (i < n) {
        if (out->n >= limit) return 0;
        unsigned c = u[i];
        if (c < 128) { // ASCII fast path: no NFD, lowercase is +32
            i++;
            switch (ascii_class[c]) {
            case A_LETTER:
                if (wp->lowercase && c >= 'A' && c <= 'Z') c += 32;
                word_append(wp, &w, c);
                break;
            case A_SPACE:
                if (wp->clean_text && (c == 11 || c == 12)) break; // \v \f are controls: deleted
                if (word_flush(t, &w, out) != 0) return -1;
                break;
            case A_PUNCT:
                if (word_flush(t, &w, out) != 0) return -1;
                word_append(wp, &w, c);
                if (word_flush(t, &w, out) != 0) return -1;
                break;
            default: // control
                if (!wp->clean_text) word_append(wp, &w, c);
                break;
            }
            continue;
        }
        uint32_t cp;
        int k = utf8_decode(u + i, n - i, &cp);
        if (k == 0) { cp = 0xFFFD; k = 1; } // callers validate UTF-8 first; never loop forever
        i += (size_t)k;
        unsigned cat = unicode_category(cp);
        if (wp->clean_text && (cp == 0xFFFD || cat == UC_Cc || cat == UC_Cf || cat == UC_Co || cat == UC_Cs))
            continue;
        int chinese = wp->handle_chinese_chars && is_chinese_char(cp);
        if (chinese && word_flush(t, &w, out) != 0) return -1;
        uint32_t dec[8], low[4];
        int nd = 1;
        dec[0] = cp;
        if (wp->strip_accents) nd = unicode_nfd(cp, dec);
        for (int j = 0; j < nd; j++) {
            if (wp->strip_accents && unicode_category(dec[j]) == UC_Mn) continue;
            int nl = 1;
            low[0] = dec[j];
            if (wp->lowercase) nl = unicode_lowercase(dec[j], low);
            for (int m = 0; m < nl; m++)
                if (pretokenize_char(t, &w, low[m], out) != 0) return -1;
        }
        if (chinese && word_flush(t, &w, out) != 0) return -1;
    }
    return word_flush(t, &w, out);
}
