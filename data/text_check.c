// text_check.c: byte-level checks shared by the dataset readers (UTF-8, BOM, error quoting,
// trimming, integer parsing, FNV-1a). See dataset_internal.h.
#include "data/dataset_internal.h"

#include "common/utf8.h"

#include <stdio.h>
#include <string.h>

int text_check_utf8(const char *path, const char *buf, size_t len, char *err, size_t errlen) {
    const unsigned char *s = (const unsigned char *)buf;
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == '\0') {
            snprintf(err, errlen, "%s:%d:%zu: NUL byte in text", path, line, i - line_start + 1);
            return -1;
        }
        if (s[i] == '\n') { line++; line_start = ++i; continue; }
        size_t k = utf8_sequence_length(s + i, len - i);
        if (k == 0) {
            // lone bytes 0x80..0x9F are the usual cp1252 leftovers (0x85 '...', 0x92 quote)
            snprintf(err, errlen, "%s:%d:%zu: invalid UTF-8 byte 0x%02X%s", path, line,
                     i - line_start + 1, s[i], (s[i] >= 0x80 && s[i] <= 0x9F) ? " (cp1252 text?)" : "");
            return -1;
        }
        i += k;
    }
    return 0;
}

size_t text_bom_length(const char *buf, size_t len) {
    return (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
}

void text_quote_for_error(char *dst, size_t cap, const char *s, size_t len) {
    size_t o = 0;
    size_t shown = len < 64 ? len : 64;
    for (size_t i = 0; i < shown && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F) dst[o++] = (char)c;
        else o += (size_t)snprintf(dst + o, cap - o, "\\x%02X", c);
    }
    if (shown < len && o + 4 < cap) { memcpy(dst + o, "...", 3); o += 3; }
    if (cap) dst[o < cap ? o : cap - 1] = '\0';
}

static int is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

const char *text_trim(const char *s, size_t len, size_t *out_len) {
    while (len > 0 && is_ascii_space(s[0])) { s++; len--; }
    while (len > 0 && is_ascii_space(s[len - 1])) len--;
    *out_len = len;
    return s;
}

int text_parse_index(const char *s, size_t len, long limit, long *out) {
    if (len == 0 || len > 18) return -1;   // 18 digits cannot overflow a 64-bit long
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > limit) return -1;
    *out = v;
    return 0;
}

uint64_t fnv1a64_update(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
