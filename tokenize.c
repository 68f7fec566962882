// tokenize.c: the tokenizer as a command-line filter.
//
//   ./tokenize --tokenizer PATH [--max-length N] < texts.jsonl
//
// PATH is a directory (tokenizer.json, else vocab.txt, else vocab.json + merges.txt) or a tokenizer.json
// file. Reads one JSON object per line, {"text": "..."} (other keys are ignored; blank lines are skipped),
// and writes one line per input, in order: {"ids": [...], "tokens": [...]}. The "text" string is decoded
// by our own JSON string reader so that \u0000 survives (cJSON would cut the string there).
// Errors (invalid JSON, invalid UTF-8, missing files) go to stderr with the line number; exit status 1.
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p) { fprintf(stderr, "tokenize: out of memory\n"); exit(1); }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p;
}

static int hex4(const char *p, const char *end, uint32_t *v) {
    if (end - p < 4) return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

// Parse a JSON string at *pp (which points at the opening quote) into out (if non-NULL), keeping NULs.
// Validates UTF-8 and escapes (surrogate pairs combine; a lone surrogate is an error).
static int parse_string(const char **pp, const char *end, Buf *out, const char **why) {
    const char *p = *pp + 1;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20) { *why = "control character in string"; return -1; }
        if (c == '\\') {
            if (++p >= end) break;
            char e = *p++, ch;
            uint32_t cp;
            switch (e) {
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case '/': ch = '/'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u':
                if (hex4(p, end, &cp) != 0) { *why = "bad \\u escape"; return -1; }
                p += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF) { *why = "lone low surrogate in \\u escape"; return -1; }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
                        *why = "lone high surrogate in \\u escape";
                        return -1;
                    }
                    p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (out) { char u[4]; buf_put(out, u, (size_t)utf8_encode(cp, u)); }
                continue;
            default: *why = "bad escape in string"; return -1;
            }
            if (out) buf_put(out, &ch, 1);
            continue;
        }
        if (c < 0x80) { if (out) buf_put(out, p, 1); p++; continue; }
        uint32_t cp;
        int k = utf8_decode((const unsigned char *)p, (size_t)(end - p), &cp);
        if (k == 0) { *why = "invalid UTF-8"; return -1; }
        if (out) buf_put(out, p, (size_t)k);
        p += k;
    }
    if (p >= end) { *why = "unterminated string"; return -1; }
    *pp = p + 1;
    return 0;
}

// skip any JSON value (depth-limited)
static int skip_value(const char **pp, const char *end, int depth, const char **why) {
    const char *p = skip_ws(*pp, end);
    if (p >= end) { *why = "expected a value"; return -1; }
    if (depth > 64) { *why = "nesting too deep"; return -1; }
    if (*p == '"') { if (parse_string(&p, end, NULL, why) != 0) return -1; *pp = p; return 0; }
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = skip_ws(p + 1, end);
        if (p < end && *p == close) { *pp = p + 1; return 0; }
        for (;;) {
            if (close == '}') {
                p = skip_ws(p, end);
                if (p >= end || *p != '"' || parse_string(&p, end, NULL, why) != 0) { *why = "expected a key"; return -1; }
                p = skip_ws(p, end);
                if (p >= end || *p != ':') { *why = "expected ':'"; return -1; }
                p++;
            }
            if (skip_value(&p, end, depth + 1, why) != 0) return -1;
            p = skip_ws(p, end);
            if (p < end && *p == ',') { p++; continue; }
            if (p < end && *p == close) { *pp = p + 1; return 0; }
            *why = "expected ',' or a closing bracket";
            return -1;
        }
    }
    const char *start = p;
    while (p < end && (strchr("+-.eE", *p) || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z'))) p++;
    size_t n = (size_t)(p - start);
    if (n == 0 || (((*start < '0' || *start > '9') && *start != '-') &&
                   !(n == 4 && !memcmp(start, "true", 4)) && !(n == 5 && !memcmp(start, "false", 5)) &&
                   !(n == 4 && !memcmp(start, "null", 4)))) {
        *why = "invalid value";
        return -1;
    }
    *pp = p;
    return 0;
}

// the "text" member of a one-line JSON object
static int parse_line(const char *line, size_t len, Buf *text, const char **why) {
    const char *p = skip_ws(line, line + len), *end = line + len;
    int found = 0;
    if (p >= end || *p != '{') { *why = "expected a JSON object"; return -1; }
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') p++;
    else
        for (;;) {
            p = skip_ws(p, end);
            Buf key = {0};
            if (p >= end || *p != '"') { *why = "expected a key"; return -1; }
            if (parse_string(&p, end, &key, why) != 0) { free(key.buf); return -1; }
            int is_text = key.len == 4 && memcmp(key.buf, "text", 4) == 0;
            free(key.buf);
            p = skip_ws(p, end);
            if (p >= end || *p != ':') { *why = "expected ':'"; return -1; }
            p = skip_ws(p + 1, end);
            if (is_text) {
                if (p >= end || *p != '"') { *why = "\"text\" must be a string"; return -1; }
                text->len = 0;
                if (parse_string(&p, end, text, why) != 0) return -1;
                found = 1;
            } else if (skip_value(&p, end, 0, why) != 0) return -1;
            p = skip_ws(p, end);
            if (p < end && *p == ',') { p++; continue; }
            if (p < end && *p == '}') { p++; break; }
            *why = "expected ',' or '}'";
            return -1;
        }
    if (skip_ws(p, end) != end) { *why = "trailing characters after the object"; return -1; }
    if (!found) { *why = "missing key \"text\""; return -1; }
    return 0;
}

static void put_json_string(Buf *o, const char *s, size_t n) {
    buf_put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; buf_put(o, e, 2); }
        else if (c < 0x20) { char e[8]; snprintf(e, sizeof e, "\\u%04x", c); buf_put(o, e, 6); }
        else buf_put(o, s + i, 1);
    }
    buf_put(o, "\"", 1);
}

static void usage(void) {
    fprintf(stderr, "usage: ./tokenize --tokenizer PATH [--max-length N] < texts.jsonl\n"
                    "  PATH: a directory (tokenizer.json, or vocab.txt, or vocab.json + merges.txt) or a tokenizer.json\n"
                    "  input: one {\"text\": \"...\"} per line; output: one {\"ids\": [...], \"tokens\": [...]} per line\n");
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int max_length = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tokenizer") == 0 && i + 1 < argc) path = argv[++i];
        else if (strcmp(argv[i], "--max-length") == 0 && i + 1 < argc) {
            char *e;
            long v = strtol(argv[++i], &e, 10);
            if (*e || v < 1 || v > 1000000000) { fprintf(stderr, "tokenize: --max-length must be a positive integer\n"); return 1; }
            max_length = (int)v;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) { usage(); return 0; }
        else { fprintf(stderr, "tokenize: unknown argument '%s'\n", argv[i]); usage(); return 1; }
    }
    if (!path) { usage(); return 1; }
    char err[1024];
    Tokenizer *tok;
    if (tokenizer_load(&tok, path, err, sizeof err) != 0) { fprintf(stderr, "tokenize: %s\n", err); return 1; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    Buf text = {0}, out = {0};
    TokenizerEncoding enc = {0};
    int status = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (skip_ws(line, line + len) == line + len) continue; // blank line
        const char *why = NULL;
        if (parse_line(line, len, &text, &why) != 0) {
            fprintf(stderr, "tokenize: stdin line %ld: invalid input JSON: %s\n", lineno, why);
            status = 1;
            break;
        }
        if (tokenizer_encode(tok, text.buf ? text.buf : "", text.len, max_length, &enc, err, sizeof err) != 0) {
            fprintf(stderr, "tokenize: stdin line %ld: %s\n", lineno, err);
            status = 1;
            break;
        }
        out.len = 0;
        buf_put(&out, "{\"ids\": [", 9);
        for (int i = 0; i < enc.n; i++) {
            char num[16];
            int k = snprintf(num, sizeof num, i ? ", %d" : "%d", (int)enc.ids[i]);
            buf_put(&out, num, (size_t)k);
        }
        buf_put(&out, "], \"tokens\": [", 14);
        for (int i = 0; i < enc.n; i++) {
            size_t tl;
            const char *t = tokenizer_id_to_token(tok, enc.ids[i], &tl);
            if (i) buf_put(&out, ", ", 2);
            put_json_string(&out, t ? t : "", t ? tl : 0);
        }
        buf_put(&out, "]}\n", 3);
        if (fwrite(out.buf, 1, out.len, stdout) != out.len) { fprintf(stderr, "tokenize: write error\n"); status = 1; break; }
    }
    if (!status && ferror(stdin)) { fprintf(stderr, "tokenize: read error on stdin\n"); status = 1; }
    if (fflush(stdout) != 0) { fprintf(stderr, "tokenize: write error\n"); status = 1; }
    free(line); free(text.buf); free(out.buf);
    tokenizer_encoding_free(&enc);
    tokenizer_free(tok);
    return status;
}
