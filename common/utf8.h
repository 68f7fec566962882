// utf8.h: strict UTF-8 validation shared by every reader of untrusted text.
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

// Length (1..4) of the valid UTF-8 sequence at s[0..n), or 0 if invalid (RFC 3629 table 3-7):
// 00..7F | C2..DF 80..BF | E0 A0..BF 80..BF | E1..EC,EE..EF (80..BF)x2 | ED 80..9F 80..BF
// | F0 90..BF (80..BF)x2 | F1..F3 (80..BF)x3 | F4 80..8F (80..BF)x2
// i.e. no overlong forms, no surrogates (U+D800..DFFF), nothing above U+10FFFF. n must be > 0.
static inline size_t utf8_sequence_length(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;        // no overlongs
        if (c == 0xED) hi = 0x9F;        // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;        // no overlongs
        if (c == 0xF4) hi = 0x8F;        // nothing above U+10FFFF
    } else return 0;
    if (n < need) return 0;              // truncated by the end of the buffer
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < need; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return need;
}

#endif
