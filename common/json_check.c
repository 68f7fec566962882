// json_check.c: see json_check.h.
#include "common/json_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/utf8.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int prescan(const char *path, const unsigned char *t, size_t n, int max_depth, char *err, size_t errlen) {
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = t[i];
        if (c == 0) return fail(err, errlen, "%s: NUL byte at byte %zu", path, i);
        if (c >= 0x80) {
            size_t l = utf8_sequence_length(t + i, n - i);
            if (!l) return fail(err, errlen, "%s: invalid UTF-8 at byte %zu", path, i);
            i += l;
            continue;
        }
        if (in_str) {
            if (c == '"') in_str = 0;
            else if (c < 0x20) {
                return fail(err, errlen, "%s: raw control character 0x%02x inside a string at byte %zu", path, c, i);
            } else if (c == '\\') {
                if (i + 1 >= n) break;  // truncated: cJSON reports it
                if (t[i + 1] == 'u') {
                    unsigned v = 0;
                    for (int k = 0; k < 4; k++) {
                        int h = i + 2 + k < n ? hexval(t[i + 2 + k]) : -1;
                        if (h < 0) return fail(err, errlen, "%s: invalid \\u escape at byte %zu", path, i);
                        v = v * 16 + (unsigned)h;
                    }
                    if (v == 0) return fail(err, errlen, "%s: \\u0000 (NUL) in a string at byte %zu", path, i);
                    i += 6;
                    continue;
                }
                i += 2;  // other escapes are checked by cJSON; skipping keeps \" inside the string
                continue;
            }
        } else {
            if (c == '"') in_str = 1;
            else if (c == '{' || c == '[') {
                if (++depth > max_depth)
                    return fail(err, errlen, "%s: JSON nests deeper than %d levels at byte %zu", path, max_depth, i);
            } else if (c == '}' || c == ']') {
                if (depth > 0) depth--;
            }
        }
        i++;
    }
    return 0;
}

cJSON *json_parse_checked(const char *path, const char *buf, size_t len, int max_depth, char *err, size_t errlen) {
    if (prescan(path, (const unsigned char *)buf, len, max_depth, err, errlen) != 0) return NULL;
    const char *end = NULL;
    // length len + 1 includes the terminating NUL, so require_null_terminated rejects trailing text
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!root) {
        size_t at = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
        const char *hint = "";
        for (size_t k = at >= 1 ? at - 1 : at; k <= at && k < len; k++)
            if (!strncmp(buf + k, "NaN", 3) || !strncmp(buf + k, "Infinity", 8)) hint = " (NaN/Infinity are not JSON)";
        fail(err, errlen, "%s: invalid JSON at byte %zu%s", path, at, hint);
        return NULL;
    }
    return root;
}

cJSON *json_read_file(const char *path, size_t max_bytes, int max_depth, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max_bytes) {
        fail(err, errlen, "%s: file too large (%lld bytes, limit %zu)", path, (long long)st.st_size, max_bytes);
        return NULL;
    }
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, err, errlen) != 0) return NULL;
    cJSON *root = json_parse_checked(path, buf, len, max_depth, err, errlen);
    free(buf);
    return root;
}

void err_one_line(char *err, size_t errlen) {
    if (!err || errlen == 0) return;
    size_t n = strnlen(err, errlen - 1), extra = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)err[i];
        if (c < 0x20 || c == 0x7F) extra += 3;
    }
    if (extra == 0) return;
    char *out = malloc(n + extra + 1);
    if (!out) {  // cannot escape: at least keep it on one line
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)err[i] < 0x20 || err[i] == 0x7F) err[i] = ' ';
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)err[i];
        if (c < 0x20 || c == 0x7F) o += (size_t)sprintf(out + o, "\\x%02X", c);
        else out[o++] = (char)c;
    }
    out[o] = '\0';
    snprintf(err, errlen, "%s", out);
    free(out);
}
