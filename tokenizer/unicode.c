// unicode.c: lowercase and NFD lookups over the generated tables, UTF-8 helpers.
#include "tokenizer/unicode.h"

int utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = 0xC0 | (cp >> 6); o[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) {
        o[0] = 0xE0 | (cp >> 12); o[1] = 0x80 | ((cp >> 6) & 0x3F); o[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    o[0] = 0xF0 | (cp >> 18); o[1] = 0x80 | ((cp >> 12) & 0x3F);
    o[2] = 0x80 | ((cp >> 6) & 0x3F); o[3] = 0x80 | (cp & 0x3F);
    return 4;
}

long utf8_find_invalid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        uint32_t cp;
        int k = utf8_decode(u + i, n - i, &cp);
        if (k == 0) return (long)i;
        i += (size_t)k;
    }
    return -1;
}

// binary search of cp among sorted keys; copies the mapped code points into out
static int lookup_map(uint32_t cp, const uint32_t *keys, const uint32_t *vals, const uint32_t *pool,
                      int count, uint32_t *out) {
    int lo = 0, hi = count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (keys[mid] == cp) {
            uint32_t v = vals[mid], len = v & 7, off = v >> 3;
            for (uint32_t i = 0; i < len; i++) out[i] = pool[off + i];
            return (int)len;
        }
        if (keys[mid] < cp) lo = mid + 1; else hi = mid - 1;
    }
    out[0] = cp;
    return 1;
}

int unicode_lowercase(uint32_t cp, uint32_t *out) {
    if (cp < 0x80) { out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp; return 1; }
    if (!(unicode_props(cp) & UPROP_LOWER)) { out[0] = cp; return 1; }
    return lookup_map(cp, unicode_lower_keys, unicode_lower_vals, unicode_lower_pool, unicode_lower_count, out);
}

int unicode_nfd(uint32_t cp, uint32_t *out) {
    // Hangul syllables decompose algorithmically (Unicode §3.12): S = L V [T]
    if (cp >= 0xAC00 && cp <= 0xD7A3) {
        uint32_t s = cp - 0xAC00;
        out[0] = 0x1100 + s / (21 * 28);
        out[1] = 0x1161 + (s % (21 * 28)) / 28;
        if (s % 28) { out[2] = 0x11A7 + s % 28; return 3; }
        return 2;
    }
    if (!(unicode_props(cp) & UPROP_DECOMP)) { out[0] = cp; return 1; }
    return lookup_map(cp, unicode_decomp_keys, unicode_decomp_vals, unicode_decomp_pool, unicode_decomp_count, out);
}
