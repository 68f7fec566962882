// unicode.h: the Unicode facts the tokenizers need, read from the generated tables in unicode_tables.c
// (dev/gen_tokenizer_unicode_tables.py): general category, White_Space, full lowercase mapping and
// canonical decomposition (NFD) of one code point, plus a strict UTF-8 decoder.
#ifndef TOKENIZER_UNICODE_H
#define TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

// General categories, in the order the generator numbers them.
enum {
    UC_Cn, UC_Lu, UC_Ll, UC_Lt, UC_Lm, UC_Lo, UC_Mn, UC_Mc, UC_Me, UC_Nd, UC_Nl, UC_No,
    UC_Pc, UC_Pd, UC_Ps, UC_Pe, UC_Pi, UC_Pf, UC_Po, UC_Sm, UC_Sc, UC_Sk, UC_So,
    UC_Zs, UC_Zl, UC_Zp, UC_Cc, UC_Cf, UC_Cs, UC_Co
};
// The property byte: category in the low 5 bits, then flags.
#define UPROP_CATEGORY   0x1f
#define UPROP_WHITESPACE 0x20 // White_Space property (what Rust's char::is_whitespace and regex \s test)
#define UPROP_LOWER      0x40 // lowercase mapping differs from the code point
#define UPROP_DECOMP     0x80 // has a canonical decomposition (Hangul syllables excepted)

// generated tables (unicode_tables.c)
extern const char *const unicode_version;
extern const uint16_t unicode_prop_index[];
extern const uint8_t unicode_prop_blocks[];
extern const int unicode_lower_count, unicode_decomp_count;
extern const uint32_t unicode_lower_keys[], unicode_lower_vals[], unicode_lower_pool[];
extern const uint32_t unicode_decomp_keys[], unicode_decomp_vals[], unicode_decomp_pool[];

static inline unsigned unicode_props(uint32_t cp) {
    if (cp >= 0x110000) return UC_Cn;
    return unicode_prop_blocks[((uint32_t)unicode_prop_index[cp >> 7] << 7) | (cp & 127)];
}
static inline unsigned unicode_category(uint32_t cp) { return unicode_props(cp) & UPROP_CATEGORY; }
static inline int unicode_is_whitespace(uint32_t cp) { return (unicode_props(cp) & UPROP_WHITESPACE) != 0; }
static inline int unicode_category_is_letter(unsigned cat) { return cat >= UC_Lu && cat <= UC_Lo; }
static inline int unicode_category_is_number(unsigned cat) { return cat >= UC_Nd && cat <= UC_No; }
static inline int unicode_category_is_punct(unsigned cat) { return cat >= UC_Pc && cat <= UC_Po; }

// Decode one UTF-8 character starting at s[0] (n > 0 bytes available). Strict: rejects overlong forms,
// surrogates, values above U+10FFFF and sequences cut by the end of the buffer. Returns the number of
// bytes consumed (1..4) and sets *cp, or returns 0 on invalid input (never reads past s + n).
static inline int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    if (c < 0xC2) return 0;
    if (c < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
        *cp = ((c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        uint32_t v = ((c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF)) return 0;
        *cp = v;
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        uint32_t v = ((c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6)
                   | (s[3] & 0x3F);
        if (v < 0x10000 || v > 0x10FFFF) return 0;
        *cp = v;
        return 4;
    }
    return 0;
}

// Encode cp as UTF-8 into out (room for 4 bytes); returns the byte count.
int utf8_encode(uint32_t cp, char *out);

// Check that s[0..n) is valid UTF-8; returns -1 if it is, else the byte offset of the first bad byte.
long utf8_find_invalid(const char *s, size_t n);

// Full lowercase mapping of cp into out (room for 4); returns the count (1 when cp maps to itself).
int unicode_lowercase(uint32_t cp, uint32_t *out);

// Full canonical decomposition (NFD) of cp into out (room for 8); returns the count (1 if none).
// Combining marks are not reordered across characters (canonical ordering); see doc/tokenizer.md.
int unicode_nfd(uint32_t cp, uint32_t *out);

#endif
