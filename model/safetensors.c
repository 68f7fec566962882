// safetensors.c: see safetensors.h for the format and doc/safetensors.md for every validation rule.
//
// Reading is three passes over untrusted bytes:
//   1. the 8-byte length N, checked against the cap and the file size (by subtraction: no wrap);
//   2. a pre-scan of the header text (strict UTF-8, no NUL byte, no \u0000 or malformed \u escape,
//      no raw control characters, bracket depth <= 3) so cJSON never silently truncates a string
//      and never builds a deep tree;
//   3. cJSON on a NUL-terminated copy, then the schema: per-entry checks, duplicate names (cJSON keeps
//      duplicate keys, so we sort the names and compare neighbours), and the tiling of the data buffer.
// Data is only read with explicit little-endian byte loads, so unaligned offsets are fine.
#include "model/safetensors.h"

#include "common/utf8.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"

#define ST_MAX_INT 9007199254740991.0   // 2^53 - 1: largest integer a JSON double holds exactly
#define ST_MAX_U64 9007199254740991ull  // the same, as an integer
#define ST_HEADER_DEPTH 3               // {"name": {"shape": [..]}}
#define ST_INDEX_DEPTH 8                // index.json: weight_map is depth 2; leave room in metadata
#define ST_INDEX_MAX_BYTES (64u << 20)  // cap on model.safetensors.index.json

// ----------------------------------------------------------------------------
// dtypes

static const struct { const char *name; size_t size; } dtype_info[ST_NUM_DTYPES] = {
    [ST_F32] = {"F32", 4},  [ST_F16] = {"F16", 2},  [ST_BF16] = {"BF16", 2}, [ST_F64] = {"F64", 8},
    [ST_I64] = {"I64", 8},  [ST_I32] = {"I32", 4},  [ST_I16] = {"I16", 2},   [ST_I8] = {"I8", 1},
    [ST_U8] = {"U8", 1},    [ST_BOOL] = {"BOOL", 1}, [ST_U16] = {"U16", 2},  [ST_U32] = {"U32", 4},
    [ST_U64] = {"U64", 8},  [ST_F8_E5M2] = {"F8_E5M2", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1},
};

const char *st_dtype_name(st_dtype d) {
    return ((unsigned)d < ST_NUM_DTYPES) ? dtype_info[d].name : "?";
}

size_t st_dtype_size(st_dtype d) {
    return ((unsigned)d < ST_NUM_DTYPES) ? dtype_info[d].size : 0;
}

static int dtype_from_string(const char *s, st_dtype *out) {
    for (int d = 0; d < ST_NUM_DTYPES; d++) {
        if (strcmp(s, dtype_info[d].name) == 0) { *out = (st_dtype)d; return 0; }
    }
    return -1;
}

// ----------------------------------------------------------------------------
// small helpers

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

// Quote untrusted text for a one-line message: printable ASCII as is, everything else as \xNN,
// cut after 64 input bytes with "...". q must hold at least 64*4 + 4 bytes.
#define QUOTE_CAP 300
static const char *quote(char q[QUOTE_CAP], const char *s) {
    size_t k = 0, i = 0;
    for (; s[i] && i < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') q[k++] = (char)c;
        else k += (size_t)snprintf(q + k, 5, "\\x%02x", c);
    }
    if (s[i]) { memcpy(q + k, "...", 3); k += 3; }
    q[k] = '\0';
    return q;
}

static uint16_t ld_u16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t ld_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t ld_u64(const unsigned char *p) { return (uint64_t)ld_u32(p) | ((uint64_t)ld_u32(p + 4) << 32); }
static void put_u16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }

static int utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_sequence_length(p + i, n - i);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Pre-scan JSON text t[0..n) before cJSON sees it (hostile-inputs.md §3.3). Rejects: NUL bytes,
// invalid UTF-8, raw control characters inside strings (and outside, except \t \n \r), \u escapes
// that are not four hex digits or decode to U+0000 (cJSON would truncate the C string there), and
// bracket nesting deeper than max_depth. `base` is added to offsets in messages (file offsets).
static int json_prescan(const char *path, const char *what, const unsigned char *t, size_t n, size_t base,
                        int max_depth, char *err, size_t errlen) {
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = t[i];
        if (c == 0) return fail(err, errlen, "%s: %s contains a NUL byte at byte %zu", path, what, base + i);
        if (c >= 0x80) {
            size_t l = utf8_sequence_length(t + i, n - i);
            if (!l) return fail(err, errlen, "%s: %s is not valid UTF-8 at byte %zu", path, what, base + i);
            i += l;
            continue;
        }
        if (in_str) {
            if (c == '"') in_str = 0;
            else if (c < 0x20) {
                return fail(err, errlen, "%s: %s has a raw control character 0x%02x inside a string at byte %zu",
                            path, what, c, base + i);
            } else if (c == '\\') {
                if (i + 1 >= n) break;   // truncated: cJSON reports it
                if (t[i + 1] == 'u') {
                    unsigned v = 0;
                    for (int k = 0; k < 4; k++) {
                        int h = (i + 2 + k < n) ? hexval(t[i + 2 + k]) : -1;
                        if (h < 0) return fail(err, errlen, "%s: %s has an invalid \\u escape at byte %zu",
                                               path, what, base + i);
                        v = v * 16 + (unsigned)h;
                    }
                    if (v == 0) return fail(err, errlen, "%s: %s contains \\u0000 (NUL) in a string at byte %zu",
                                            path, what, base + i);
                    i += 6;
                    continue;
                }
                i += 2;   // other escapes are checked by cJSON; skipping keeps \" inside the string
                continue;
            }
        } else {
            if (c == '"') in_str = 1;
            else if (c == '{' || c == '[') {
                if (++depth > max_depth)
                    return fail(err, errlen, "%s: %s nests deeper than %d levels at byte %zu",
                                path, what, max_depth, base + i);
            } else if (c == '}' || c == ']') {
                if (depth > 0) depth--;
            } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                return fail(err, errlen, "%s: %s has a control character 0x%02x at byte %zu", path, what, c, base + i);
            }
        }
        i++;
    }
    return 0;
}

// Parse JSON text t[0..n) (pre-scanned) from a NUL-terminated copy, rejecting trailing text.
static cJSON *json_parse(const char *path, const char *what, const unsigned char *t, size_t n, size_t base,
                         char *err, size_t errlen) {
    char *copy = malloc(n + 1);
    if (!copy) { fail(err, errlen, "%s: out of memory copying the %zu-byte %s", path, n, what); return NULL; }
    memcpy(copy, t, n);
    copy[n] = '\0';
    const char *end = NULL;
    // length n+1 includes the NUL, so require_null_terminated works (hostile-inputs.md §3.3)
    cJSON *root = cJSON_ParseWithLengthOpts(copy, n + 1, &end, 1);
    if (!root) {
        size_t at = end ? (size_t)(end - copy) : 0;
        fail(err, errlen, "%s: %s: invalid JSON at byte %zu (%s)", path, what, base + at,
             (at >= n) ? "unexpected end" : "syntax error or trailing text");
    } else if (end != copy + n) {
        fail(err, errlen, "%s: %s: unexpected NUL at byte %zu", path, what, base + (size_t)(end - copy));
        cJSON_Delete(root);
        root = NULL;
    }
    free(copy);
    return root;
}

// A JSON integer we accept: a number, integral, in [0, 2^53) (hostile-inputs.md §1.2).
// cJSON keeps only a double, so 1.0 and 1e2 pass as 1 and 100; -1, 1.5, 1e999, "4", true fail.
static int json_uint(const cJSON *x, uint64_t *out) {
    if (!cJSON_IsNumber(x)) return -1;
    double d = x->valuedouble;
    if (!(d >= 0.0 && d <= ST_MAX_INT)) return -1;   // also rejects NaN and inf
    if (d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

typedef struct { const char *name; int idx; } name_idx;

static int cmp_name_idx(const void *a, const void *b) {
    const name_idx *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

// ----------------------------------------------------------------------------
// reader

void safetensors_close(safetensors_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) { free(f->meta[i].key); free(f->meta[i].value); }
    free(f->tensors);
    free(f->meta);
    free(f->by_name);
    free(f->buf);
    free(f->path);
    memset(f, 0, sizeof *f);
}

// "__metadata__": an object of string -> string, keys unique.
static int parse_metadata(safetensors_file *f, const cJSON *m, char *err, size_t errlen) {
    const char *path = f->path;
    if (!cJSON_IsObject(m)) return fail(err, errlen, "%s: __metadata__ must be an object of strings", path);
    int n = 0;
    for (const cJSON *c = m->child; c; c = c->next) n++;
    f->meta = calloc(n ? (size_t)n : 1, sizeof *f->meta);
    name_idx *keys = calloc(n ? (size_t)n : 1, sizeof *keys);
    if (!f->meta || !keys) { free(keys); return fail(err, errlen, "%s: out of memory", path); }
    char q[QUOTE_CAP];
    int rc = 0;
    for (const cJSON *c = m->child; c; c = c->next) {
        if (!cJSON_IsString(c) || !c->valuestring) {
            rc = fail(err, errlen, "%s: __metadata__ values must be strings ('%s' is not)", path, quote(q, c->string));
            break;
        }
        st_meta *e = &f->meta[f->n_meta];
        e->key = strdup(c->string);
        e->value = strdup(c->valuestring);
        if (!e->key || !e->value) { free(e->key); free(e->value); rc = fail(err, errlen, "%s: out of memory", path); break; }
        keys[f->n_meta].name = e->key;
        keys[f->n_meta].idx = f->n_meta;
        f->n_meta++;
    }
    if (rc == 0 && n > 1) {
        qsort(keys, (size_t)n, sizeof *keys, cmp_name_idx);
        for (int i = 1; i < n; i++) {
            if (strcmp(keys[i - 1].name, keys[i].name) == 0) {
                rc = fail(err, errlen, "%s: duplicate __metadata__ key '%s'", path, quote(q, keys[i].name));
                break;
            }
        }
    }
    free(keys);
    return rc;
}

// One tensor entry {"dtype": .., "shape": [..], "data_offsets": [b, e]}; fills t (t->name already set).
static int parse_tensor(const char *path, const cJSON *c, st_tensor *t, char *err, size_t errlen) {
    char q[QUOTE_CAP];
    const char *qn = quote(q, t->name);
    if (!cJSON_IsObject(c)) return fail(err, errlen, "%s: tensor '%s': entry must be an object", path, qn);
    // walk the members ourselves: a repeated key is an error (cJSON would keep both)
    const cJSON *dt = NULL, *sh = NULL, *off = NULL;
    for (const cJSON *m = c->child; m; m = m->next) {
        const cJSON **slot = NULL;
        if (strcmp(m->string, "dtype") == 0) slot = &dt;
        else if (strcmp(m->string, "shape") == 0) slot = &sh;
        else if (strcmp(m->string, "data_offsets") == 0) slot = &off;
        else continue;   // unknown members are ignored, like the reference reader
        if (*slot) return fail(err, errlen, "%s: tensor '%s': duplicate key '%s'", path, qn, m->string);
        *slot = m;
    }
    if (!dt || !sh || !off) {
        return fail(err, errlen, "%s: tensor '%s': missing \"%s\"", path, qn,
                    !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    }
    // dtype: one of the known strings
    if (!cJSON_IsString(dt) || !dt->valuestring) return fail(err, errlen, "%s: tensor '%s': dtype must be a string", path, qn);
    if (dtype_from_string(dt->valuestring, &t->dtype) != 0) {
        char q2[QUOTE_CAP];
        return fail(err, errlen, "%s: tensor '%s': unknown dtype '%s'", path, qn, quote(q2, dt->valuestring));
    }
    // shape: array of at most 8 integers in [0, 2^53); numel = product, overflow-checked
    if (!cJSON_IsArray(sh)) return fail(err, errlen, "%s: tensor '%s': shape must be an array", path, qn);
    int nd = cJSON_GetArraySize(sh);
    if (nd > ST_MAX_DIMS) return fail(err, errlen, "%s: tensor '%s': rank %d exceeds %d", path, qn, nd, ST_MAX_DIMS);
    t->ndim = nd;
    size_t numel = 1;
    int d = 0;
    for (const cJSON *x = sh->child; x; x = x->next, d++) {
        uint64_t v;
        if (json_uint(x, &v) != 0)
            return fail(err, errlen, "%s: tensor '%s': shape[%d] must be an integer in [0, 2^53)", path, qn, d);
        t->shape[d] = (int64_t)v;
        if (__builtin_mul_overflow(numel, (size_t)v, &numel))
            return fail(err, errlen, "%s: tensor '%s': size overflows (shape product too large)", path, qn);
    }
    t->numel = numel;
    size_t nbytes;
    if (__builtin_mul_overflow(numel, st_dtype_size(t->dtype), &nbytes))
        return fail(err, errlen, "%s: tensor '%s': size overflows (%zu elements of %s)", path, qn, numel,
                    st_dtype_name(t->dtype));
    // data_offsets: exactly [begin, end], integers, begin <= end, end - begin == bytes of the shape
    uint64_t b, e;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || json_uint(off->child, &b) != 0 ||
        json_uint(off->child->next, &e) != 0)
        return fail(err, errlen, "%s: tensor '%s': data_offsets must be [begin, end] with integers in [0, 2^53)", path, qn);
    if (e < b) return fail(err, errlen, "%s: tensor '%s': end %llu < begin %llu", path, qn,
                           (unsigned long long)e, (unsigned long long)b);
    t->begin = (size_t)b;
    t->end = (size_t)e;
    if (t->end - t->begin != nbytes) {
        char shp[200];
        size_t k = 0;
        shp[k++] = '[';
        for (int i = 0; i < nd; i++)
            k += (size_t)snprintf(shp + k, sizeof shp - k, "%s%lld", i ? "," : "", (long long)t->shape[i]);
        snprintf(shp + k, sizeof shp - k, "]");
        return fail(err, errlen, "%s: tensor '%s': shape %s %s needs %zu bytes, offsets give %zu", path, qn, shp,
                    st_dtype_name(t->dtype), nbytes, t->end - t->begin);
    }
    return 0;
}

// data order: by begin, then end, then name (zero-size tensors may share an offset)
static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

// Parse and validate f->buf[0..f->size) (f->path, f->buf, f->size already set).
static int parse_file(safetensors_file *f, size_t max_header, char *err, size_t errlen) {
    const char *path = f->path;
    const unsigned char *buf = f->buf;
    char q[QUOTE_CAP], q2[QUOTE_CAP];
    if (max_header > ST_FORMAT_MAX_HEADER) max_header = ST_FORMAT_MAX_HEADER;

    // 1. header length N: u64 LE; N <= cap and N <= size - 8 (subtraction: cannot wrap)
    if (f->size < 8) return fail(err, errlen, "%s: file is %zu bytes, need at least 8 for the header length", path, f->size);
    uint64_t n = ld_u64(buf);
    if (n > max_header) return fail(err, errlen, "%s: header length %llu exceeds limit %zu", path, (unsigned long long)n, max_header);
    if (n > f->size - 8) return fail(err, errlen, "%s: header length %llu but only %zu bytes follow", path,
                                     (unsigned long long)n, f->size - 8);
    f->data_start = 8 + (size_t)n;

    // 2. header text: pre-scan, then parse a NUL-terminated copy
    if (json_prescan(path, "header", buf + 8, (size_t)n, 8, ST_HEADER_DEPTH, err, errlen) != 0) return -1;
    cJSON *root = json_parse(path, "header", buf + 8, (size_t)n, 8, err, errlen);
    if (!root) return -1;
    int rc = -1;
    name_idx *names = NULL;
    if (!cJSON_IsObject(root)) { fail(err, errlen, "%s: header: expected a JSON object", path); goto done; }

    // 3. entries: "__metadata__" (at most once) and tensors
    int n_children = 0;
    for (const cJSON *c = root->child; c; c = c->next) n_children++;
    f->tensors = calloc(n_children ? (size_t)n_children : 1, sizeof *f->tensors);
    if (!f->tensors) { fail(err, errlen, "%s: out of memory", path); goto done; }
    int seen_meta = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            if (seen_meta) { fail(err, errlen, "%s: duplicate \"__metadata__\" entry", path); goto done; }
            seen_meta = 1;
            if (parse_metadata(f, c, err, errlen) != 0) goto done;
            continue;
        }
        st_tensor *t = &f->tensors[f->n_tensors];
        t->name = strdup(c->string);
        if (!t->name) { fail(err, errlen, "%s: out of memory", path); goto done; }
        f->n_tensors++;
        if (parse_tensor(path, c, t, err, errlen) != 0) goto done;
    }

    // 4. names are unique (checked before the tiling, which a duplicate would break confusingly)
    names = malloc((f->n_tensors ? (size_t)f->n_tensors : 1) * sizeof *names);
    f->by_name = malloc((f->n_tensors ? (size_t)f->n_tensors : 1) * sizeof *f->by_name);
    if (!names || !f->by_name) { fail(err, errlen, "%s: out of memory", path); goto done; }
    for (int i = 0; i < f->n_tensors; i++) { names[i].name = f->tensors[i].name; names[i].idx = i; }
    qsort(names, (size_t)f->n_tensors, sizeof *names, cmp_name_idx);
    for (int i = 1; i < f->n_tensors; i++) {
        if (strcmp(names[i - 1].name, names[i].name) == 0) {
            fail(err, errlen, "%s: duplicate tensor name '%s'", path, quote(q, names[i].name));
            goto done;
        }
    }

    // 5. sorted by offset, the tensors tile the data buffer: first begin 0, each begin == previous
    //    end, last end == data length. No gaps, no overlaps, no trailing bytes.
    qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_by_offset);
    size_t data_len = f->size - f->data_start, pos = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        const st_tensor *t = &f->tensors[i];
        if (t->begin != pos) {
            if (i == 0)
                fail(err, errlen, "%s: tensor '%s': begins at %zu, the first tensor must begin at 0", path,
                     quote(q, t->name), t->begin);
            else
                fail(err, errlen, "%s: tensor '%s': begins at %zu, previous tensor '%s' ends at %zu (%s)", path,
                     quote(q, t->name), t->begin, quote(q2, f->tensors[i - 1].name), pos,
                     t->begin < pos ? "overlap" : "gap");
            goto done;
        }
        pos = t->end;
        if (pos > data_len) {
            fail(err, errlen, "%s: tensor '%s': ends at %zu but the data buffer has %zu bytes (file truncated?)",
                 path, quote(q, t->name), pos, data_len);
            goto done;
        }
    }
    if (pos != data_len) {
        fail(err, errlen, "%s: data ends at byte %zu but the file has %zu bytes (%zu trailing bytes)", path,
             f->data_start + pos, f->size, data_len - pos);
        goto done;
    }

    // 6. name index for safetensors_find (names are unique, so a plain strcmp order)
    for (int i = 0; i < f->n_tensors; i++) { names[i].name = f->tensors[i].name; names[i].idx = i; }
    qsort(names, (size_t)f->n_tensors, sizeof *names, cmp_name_idx);
    for (int i = 0; i < f->n_tensors; i++) f->by_name[i] = names[i].idx;
    rc = 0;
done:
    free(names);
    cJSON_Delete(root);
    return rc;
}

int safetensors_open_ex(safetensors_file *f, const char *path, size_t max_header, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    // stat first: read_file's fopen would block forever on a FIFO (hostile-inputs.md §0.1)
    struct stat st;
    if (stat(path, &st) != 0) return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return fail(err, errlen, "%s: not a regular file", path);
    char *data;
    size_t len;
    if (read_file(path, &data, &len, err, errlen) != 0) return -1;
    f->path = strdup(path);
    if (!f->path) { free(data); return fail(err, errlen, "%s: out of memory", path); }
    f->buf = (unsigned char *)data;
    f->size = len;
    if (parse_file(f, max_header, err, errlen) != 0) { safetensors_close(f); return -1; }
    return 0;
}

int safetensors_open(safetensors_file *f, const char *path, char *err, size_t errlen) {
    return safetensors_open_ex(f, path, ST_DEFAULT_MAX_HEADER, err, errlen);
}

int safetensors_open_buffer(safetensors_file *f, const char *path, const void *data, size_t size,
                            size_t max_header, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    f->buf = malloc(size + 1);
    if (!f->path || !f->buf) { safetensors_close(f); return fail(err, errlen, "%s: out of memory", path); }
    if (size) memcpy(f->buf, data, size);
    f->buf[size] = 0;
    f->size = size;
    if (parse_file(f, max_header, err, errlen) != 0) { safetensors_close(f); return -1; }
    return 0;
}

const st_tensor *safetensors_find(const safetensors_file *f, const char *name) {
    int lo = 0, hi = f->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const st_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return NULL;
}

const char *safetensors_meta(const safetensors_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

const unsigned char *safetensors_data(const safetensors_file *f, const st_tensor *t) {
    return f->buf + f->data_start + t->begin;
}

// The checks every conversion makes: n == numel and the byte range lies inside this file's data
// (guards against a tensor from another file or a modified struct).
static int check_read(const safetensors_file *f, const st_tensor *t, size_t n, char *err, size_t errlen) {
    char q[QUOTE_CAP];
    if (!t) return fail(err, errlen, "%s: no tensor given", f->path);
    size_t nbytes;
    if (__builtin_mul_overflow(t->numel, st_dtype_size(t->dtype), &nbytes) || t->end < t->begin ||
        t->end - t->begin != nbytes || t->end > f->size - f->data_start || st_dtype_size(t->dtype) == 0)
        return fail(err, errlen, "%s: tensor '%s': descriptor does not match this file", f->path, quote(q, t->name));
    if (n != t->numel)
        return fail(err, errlen, "%s: tensor '%s': has %zu elements, caller expects %zu", f->path, quote(q, t->name),
                    t->numel, n);
    return 0;
}

// IEEE half -> float, exact: zero, subnormal (mant * 2^-24), normal, inf, nan (payload kept).
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (exp == 0 && mant == 0) {
        bits = sign;
    } else if (exp == 0) {              // subnormal: shift the mantissa up until its leading 1 is bit 10
        int e = -1;
        do { e++; mant <<= 1; } while (!(mant & 0x400u));
        bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int safetensors_read_f32(const safetensors_file *f, const st_tensor *t, float *out, size_t n,
                         char *err, size_t errlen) {
    if (check_read(f, t, n, err, errlen) != 0) return -1;
    const unsigned char *p = safetensors_data(f, t);
    switch (t->dtype) {
    case ST_F32:
        for (size_t i = 0; i < n; i++) { uint32_t b = ld_u32(p + 4 * i); memcpy(&out[i], &b, 4); }
        return 0;
    case ST_F16:
        for (size_t i = 0; i < n; i++) out[i] = f16_to_f32(ld_u16(p + 2 * i));
        return 0;
    case ST_BF16:
        for (size_t i = 0; i < n; i++) { uint32_t b = (uint32_t)ld_u16(p + 2 * i) << 16; memcpy(&out[i], &b, 4); }
        return 0;
    case ST_F64:
        for (size_t i = 0; i < n; i++) { uint64_t b = ld_u64(p + 8 * i); double d; memcpy(&d, &b, 8); out[i] = (float)d; }
        return 0;
    default: {
        char q[QUOTE_CAP];
        return fail(err, errlen, "%s: tensor '%s': dtype %s cannot be converted to float32 (need F32/F16/BF16/F64)",
                    f->path, quote(q, t->name), st_dtype_name(t->dtype));
    }
    }
}

int safetensors_read_i64(const safetensors_file *f, const st_tensor *t, int64_t *out, size_t n,
                         char *err, size_t errlen) {
    if (check_read(f, t, n, err, errlen) != 0) return -1;
    const unsigned char *p = safetensors_data(f, t);
    char q[QUOTE_CAP];
    switch (t->dtype) {
    case ST_I64: for (size_t i = 0; i < n; i++) out[i] = (int64_t)ld_u64(p + 8 * i); return 0;
    case ST_I32: for (size_t i = 0; i < n; i++) out[i] = (int32_t)ld_u32(p + 4 * i); return 0;
    case ST_I16: for (size_t i = 0; i < n; i++) out[i] = (int16_t)ld_u16(p + 2 * i); return 0;
    case ST_I8:  for (size_t i = 0; i < n; i++) out[i] = (int8_t)p[i]; return 0;
    case ST_U8:  for (size_t i = 0; i < n; i++) out[i] = p[i]; return 0;
    case ST_BOOL: for (size_t i = 0; i < n; i++) out[i] = p[i] != 0; return 0;
    case ST_U16: for (size_t i = 0; i < n; i++) out[i] = ld_u16(p + 2 * i); return 0;
    case ST_U32: for (size_t i = 0; i < n; i++) out[i] = ld_u32(p + 4 * i); return 0;
    case ST_U64:
        for (size_t i = 0; i < n; i++) {
            uint64_t v = ld_u64(p + 8 * i);
            if (v > (uint64_t)INT64_MAX)
                return fail(err, errlen, "%s: tensor '%s': element %zu = %llu does not fit int64", f->path,
                            quote(q, t->name), i, (unsigned long long)v);
            out[i] = (int64_t)v;
        }
        return 0;
    default:
        return fail(err, errlen, "%s: tensor '%s': dtype %s is not an integer type", f->path, quote(q, t->name),
                    st_dtype_name(t->dtype));
    }
}

// ----------------------------------------------------------------------------
// writer

// float -> IEEE half, round to nearest even; overflow to inf, nan stays (quiet) nan.
// (F. Giesen's float_to_half_fast3_rtne; the subnormal case lets the FPU do the rounding.)
static uint16_t f32_to_f16(float fv) {
    const uint32_t f32infty = 255u << 23, f16max = (127u + 16) << 23;
    const uint32_t denorm_magic = ((127u - 15) + (23 - 10) + 1) << 23;
    uint32_t x;
    memcpy(&x, &fv, 4);
    uint32_t sign = x & 0x80000000u;
    x ^= sign;
    uint16_t o;
    if (x >= f16max) {                       // too big for a half: inf, or nan
        o = (x > f32infty) ? 0x7e00 : 0x7c00;
    } else if (x < (113u << 23)) {           // result is subnormal or zero
        float a, m;
        memcpy(&a, &x, 4);
        memcpy(&m, &denorm_magic, 4);
        a += m;                              // aligns the mantissa so the FPU rounds to nearest even
        uint32_t r;
        memcpy(&r, &a, 4);
        o = (uint16_t)(r - denorm_magic);
    } else {                                 // normal: rebias exponent, round mantissa to 10 bits
        uint32_t mant_odd = (x >> 13) & 1;
        x += ((uint32_t)(15 - 127) << 23) + 0xfff;
        x += mant_odd;
        o = (uint16_t)(x >> 13);
    }
    return (uint16_t)(o | (sign >> 16));
}

// float -> bfloat16, round to nearest even; nan stays (quiet) nan.
static uint16_t f32_to_bf16(float fv) {
    uint32_t x;
    memcpy(&x, &fv, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

// growable string for the header
typedef struct { char *s; size_t len, cap; int oom; } strbuf;

static void sb_add(strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) { b->oom = 1; return; }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}
static void sb_str(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_u64(strbuf *b, uint64_t v) { char t[32]; sb_add(b, t, (size_t)snprintf(t, sizeof t, "%llu", (unsigned long long)v)); }

// a JSON string as serde_json writes it: \" \\ \b \f \n \r \t, other controls as \u00XX, rest raw
static void sb_json_str(strbuf *b, const char *s) {
    sb_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char t[8];
        switch (*p) {
        case '"': sb_add(b, "\\\"", 2); break;
        case '\\': sb_add(b, "\\\\", 2); break;
        case '\b': sb_add(b, "\\b", 2); break;
        case '\f': sb_add(b, "\\f", 2); break;
        case '\n': sb_add(b, "\\n", 2); break;
        case '\r': sb_add(b, "\\r", 2); break;
        case '\t': sb_add(b, "\\t", 2); break;
        default:
            if (*p < 0x20) sb_add(b, t, (size_t)snprintf(t, sizeof t, "\\u%04x", *p));
            else sb_add(b, (const char *)p, 1);
        }
    }
    sb_add(b, "\"", 1);
}

typedef struct { const st_write_tensor *t; int rank; size_t nbytes; } wt_order;

// reference order: dtype descending in the reference enum (F32 > BF16 > F16), then name bytewise
static int write_rank(st_dtype d) { return d == ST_I64 ? 4 : d == ST_F32 ? 3 : d == ST_BF16 ? 2 : 1; }
static int cmp_write_order(const void *a, const void *b) {
    const wt_order *x = a, *y = b;
    if (x->rank != y->rank) return y->rank - x->rank;
    return strcmp(x->t->name, y->t->name);
}

int safetensors_write_meta(const char *path, const st_write_tensor *tensors, int n,
                           const st_meta *meta, int n_meta, char *err, size_t errlen) {
    char q[QUOTE_CAP];
    if (n < 0 || n_meta < 0 || (n > 0 && !tensors) || (n_meta > 0 && !meta))
        return fail(err, errlen, "%s: invalid tensor or metadata list", path);
    wt_order *ord = calloc(n ? (size_t)n : 1, sizeof *ord);
    if (!ord) return fail(err, errlen, "%s: out of memory", path);
    strbuf h = {0};
    unsigned char *chunk = NULL;
    int rc = -1;

    // 1. validate every tensor before anything touches the disk
    for (int i = 0; i < n; i++) {
        const st_write_tensor *t = &tensors[i];
        if (!t->name) { fail(err, errlen, "%s: tensor %d has no name", path, i); goto done; }
        const char *qn = quote(q, t->name);
        if (!utf8_valid(t->name)) { fail(err, errlen, "%s: tensor '%s': name is not valid UTF-8", path, qn); goto done; }
        if (strcmp(t->name, "__metadata__") == 0) { fail(err, errlen, "%s: tensor name '__metadata__' is reserved", path); goto done; }
        if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 && t->dtype != ST_I64) {
            fail(err, errlen, "%s: tensor '%s': can only write F32, F16, BF16 or I64, not %s", path, qn, st_dtype_name(t->dtype));
            goto done;
        }
        if (t->ndim < 0 || t->ndim > ST_MAX_DIMS) { fail(err, errlen, "%s: tensor '%s': rank %d not in 0..%d", path, qn, t->ndim, ST_MAX_DIMS); goto done; }
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 || (uint64_t)t->shape[d] > ST_MAX_U64 ||
                __builtin_mul_overflow(numel, (size_t)t->shape[d], &numel)) {
                fail(err, errlen, "%s: tensor '%s': bad shape[%d] = %lld (or size overflows)", path, qn, d, (long long)t->shape[d]);
                goto done;
            }
        }
        if (__builtin_mul_overflow(numel, st_dtype_size(t->dtype), &ord[i].nbytes)) {
            fail(err, errlen, "%s: tensor '%s': size overflows", path, qn);
            goto done;
        }
        if (numel > 0 && (t->dtype == ST_I64 ? !t->data_i64 : !t->data)) { fail(err, errlen, "%s: tensor '%s': no data", path, qn); goto done; }
        ord[i].t = t;
        ord[i].rank = write_rank(t->dtype);
    }
    for (int i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value || !utf8_valid(meta[i].key) || !utf8_valid(meta[i].value)) {
            fail(err, errlen, "%s: metadata entry %d must be a UTF-8 key and value", path, i);
            goto done;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(meta[i].key, meta[j].key) == 0) {
                fail(err, errlen, "%s: duplicate metadata key '%s'", path, quote(q, meta[i].key));
                goto done;
            }
    }
    qsort(ord, (size_t)n, sizeof *ord, cmp_write_order);
    // sorting by rank then name puts equal names next to each other only within a rank: compare
    // all names by a separate pass over a name-sorted copy
    {
        name_idx *nm = malloc((n ? (size_t)n : 1) * sizeof *nm);
        if (!nm) { fail(err, errlen, "%s: out of memory", path); goto done; }
        for (int i = 0; i < n; i++) { nm[i].name = tensors[i].name; nm[i].idx = i; }
        qsort(nm, (size_t)n, sizeof *nm, cmp_name_idx);
        for (int i = 1; i < n; i++) {
            if (strcmp(nm[i - 1].name, nm[i].name) == 0) {
                fail(err, errlen, "%s: duplicate tensor name '%s'", path, quote(q, nm[i].name));
                free(nm);
                goto done;
            }
        }
        free(nm);
    }

    // 2. header: {"__metadata__":{"format":"pt",...},"name":{"dtype":..,"shape":[..],"data_offsets":[b,e]},...}
    sb_str(&h, "{\"__metadata__\":{");
    int has_format = 0;
    for (int i = 0; i < n_meta; i++) has_format |= strcmp(meta[i].key, "format") == 0;
    if (!has_format) sb_str(&h, "\"format\":\"pt\"");
    for (int i = 0; i < n_meta; i++) {
        if (i > 0 || !has_format) sb_str(&h, ",");
        sb_json_str(&h, meta[i].key);
        sb_str(&h, ":");
        sb_json_str(&h, meta[i].value);
    }
    sb_str(&h, "}");
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const st_write_tensor *t = ord[i].t;
        sb_str(&h, ",");
        sb_json_str(&h, t->name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, st_dtype_name(t->dtype));
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) sb_str(&h, ",");
            sb_u64(&h, (uint64_t)t->shape[d]);
        }
        sb_str(&h, "],\"data_offsets\":[");
        sb_u64(&h, offset);
        sb_str(&h, ",");
        if ((uint64_t)ord[i].nbytes > ST_MAX_U64 - offset) { fail(err, errlen, "%s: total data exceeds 2^53 bytes", path); goto done; }
        offset += ord[i].nbytes;
        sb_u64(&h, offset);
        sb_str(&h, "]}");
    }
    sb_str(&h, "}");
    while (!h.oom && h.len % 8 != 0) sb_str(&h, " ");   // pad with spaces: data starts 8-byte aligned
    if (h.oom) { fail(err, errlen, "%s: out of memory building the header", path); goto done; }

    // 3. write: length, header, data (little-endian), through a temporary file renamed at the end
    AtomicFile af;
    if (atomic_open(&af, path, err, errlen) != 0) goto done;
    unsigned char len8[8];
    put_u64(len8, (uint64_t)h.len);
    const size_t CHUNK = 1 << 16;   // elements per conversion chunk
    chunk = malloc(CHUNK * 8);
    if (!chunk) { atomic_abort(&af); fail(err, errlen, "%s: out of memory", path); goto done; }
    if (atomic_write(&af, len8, 8, err, errlen) != 0 || atomic_write(&af, h.s, h.len, err, errlen) != 0) {
        atomic_abort(&af);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const st_write_tensor *t = ord[i].t;
        size_t es = st_dtype_size(t->dtype), numel = ord[i].nbytes / es;
        for (size_t s = 0; s < numel; s += CHUNK) {
            size_t m = numel - s < CHUNK ? numel - s : CHUNK;
            const float *src = t->data + s;
            for (size_t k = 0; k < m; k++) {
                if (t->dtype == ST_I64) put_u64(chunk + 8 * k, (uint64_t)t->data_i64[s + k]);
                else if (t->dtype == ST_F32) { uint32_t b; memcpy(&b, &src[k], 4); put_u32(chunk + 4 * k, b); }
                else if (t->dtype == ST_F16) put_u16(chunk + 2 * k, f32_to_f16(src[k]));
                else put_u16(chunk + 2 * k, f32_to_bf16(src[k]));
            }
            if (atomic_write(&af, chunk, m * es, err, errlen) != 0) { atomic_abort(&af); goto done; }
        }
    }
    if (atomic_commit(&af, err, errlen) != 0) goto done;
    rc = 0;
done:
    free(chunk);
    free(h.s);
    free(ord);
    return rc;
}

int safetensors_write(const char *path, const st_write_tensor *tensors, int n, char *err, size_t errlen) {
    return safetensors_write_meta(path, tensors, n, NULL, 0, err, errlen);
}

// ----------------------------------------------------------------------------
// sharded checkpoints

void safetensors_set_close(safetensors_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n_files; i++) safetensors_close(&s->files[i]);
    free(s->files);
    free(s->entries);
    free(s->dir);
    memset(s, 0, sizeof *s);
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int cmp_entry(const void *a, const void *b) {
    const st_set_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->file != y->file ? (x->file > y->file) - (x->file < y->file) : (x->tensor > y->tensor) - (x->tensor < y->tensor);
}

static const st_set_entry *set_lookup(const safetensors_set *s, const char *name) {
    int lo = 0, hi = s->n_entries - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, s->entries[mid].name);
        if (c == 0) return &s->entries[mid];
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return NULL;
}

// Collect every tensor of every file into s->entries, sorted by name; a name in two files is an error.
static int set_build_entries(safetensors_set *s, const char *what, char *err, size_t errlen) {
    size_t total = 0;
    for (int i = 0; i < s->n_files; i++) total += (size_t)s->files[i].n_tensors;
    if (total > INT32_MAX) return fail(err, errlen, "%s: too many tensors", what);
    s->entries = malloc((total ? total : 1) * sizeof *s->entries);
    if (!s->entries) return fail(err, errlen, "%s: out of memory", what);
    for (int i = 0; i < s->n_files; i++)
        for (int j = 0; j < s->files[i].n_tensors; j++)
            s->entries[s->n_entries++] = (st_set_entry){s->files[i].tensors[j].name, i, j};
    qsort(s->entries, (size_t)s->n_entries, sizeof *s->entries, cmp_entry);
    char q[QUOTE_CAP];
    for (int i = 1; i < s->n_entries; i++) {
        if (strcmp(s->entries[i - 1].name, s->entries[i].name) == 0)
            return fail(err, errlen, "%s: tensor '%s' is in both %s and %s", what, quote(q, s->entries[i].name),
                        s->files[s->entries[i - 1].file].path, s->files[s->entries[i].file].path);
    }
    return 0;
}

// A shard name from an index file: a plain file name in the index's directory.
static int shard_name_ok(const char *s) {
    size_t n = strlen(s), ext = strlen(".safetensors");
    if (n <= ext || s[0] == '.') return 0;
    if (strchr(s, '/') || strchr(s, '\\')) return 0;
    return strcmp(s + n - ext, ".safetensors") == 0;
}

int safetensors_set_open_index(safetensors_set *s, const char *index_path, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    const char *ip = index_path;
    char q[QUOTE_CAP], q2[QUOTE_CAP];
    // bound the file before reading it
    struct stat st;
    if (stat(ip, &st) != 0) return fail(err, errlen, "%s: cannot open: %s", ip, strerror(errno));
    if (!S_ISREG(st.st_mode)) return fail(err, errlen, "%s: not a regular file", ip);
    if ((uint64_t)st.st_size > ST_INDEX_MAX_BYTES)
        return fail(err, errlen, "%s: %lld bytes exceeds the %u-byte limit for an index", ip, (long long)st.st_size, ST_INDEX_MAX_BYTES);
    char *text;
    size_t len;
    if (read_file(ip, &text, &len, err, errlen) != 0) return -1;
    if (len > ST_INDEX_MAX_BYTES) { free(text); return fail(err, errlen, "%s: file grew past the index limit", ip); }
    cJSON *root = NULL;
    name_idx *wm = NULL;
    const char **shards = NULL;
    unsigned char *listed = NULL;
    int rc = -1, n_wm = 0, n_shards = 0;

    if (json_prescan(ip, "index", (const unsigned char *)text, len, 0, ST_INDEX_DEPTH, err, errlen) != 0) goto done;
    root = json_parse(ip, "index", (const unsigned char *)text, len, 0, err, errlen);
    if (!root) goto done;
    if (!cJSON_IsObject(root)) { fail(err, errlen, "%s: expected a JSON object", ip); goto done; }
    const cJSON *wmap = NULL, *meta = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        const cJSON **slot = strcmp(c->string, "weight_map") == 0 ? &wmap : strcmp(c->string, "metadata") == 0 ? &meta : NULL;
        if (!slot) continue;
        if (*slot) { fail(err, errlen, "%s: duplicate key '%s'", ip, c->string); goto done; }
        *slot = c;
    }
    if (!cJSON_IsObject(wmap)) { fail(err, errlen, "%s: weight_map must be an object of tensor name -> shard file", ip); goto done; }
    if (meta && !cJSON_IsObject(meta)) { fail(err, errlen, "%s: metadata must be an object", ip); goto done; }

    // weight_map: unique tensor names, each mapped to a plain shard file name
    for (const cJSON *c = wmap->child; c; c = c->next) n_wm++;
    wm = malloc((n_wm ? (size_t)n_wm : 1) * sizeof *wm);
    shards = malloc((n_wm ? (size_t)n_wm : 1) * sizeof *shards);
    if (!wm || !shards) { fail(err, errlen, "%s: out of memory", ip); goto done; }
    int k = 0;
    for (const cJSON *c = wmap->child; c; c = c->next, k++) {
        if (!cJSON_IsString(c) || !c->valuestring) {
            fail(err, errlen, "%s: weight_map: tensor '%s': shard must be a string", ip, quote(q, c->string));
            goto done;
        }
        if (!shard_name_ok(c->valuestring)) {
            fail(err, errlen, "%s: weight_map: tensor '%s': shard name '%s' must be a plain file name ending .safetensors",
                 ip, quote(q, c->string), quote(q2, c->valuestring));
            goto done;
        }
        wm[k].name = c->string;
        wm[k].idx = k;
        shards[k] = c->valuestring;
    }
    qsort(wm, (size_t)n_wm, sizeof *wm, cmp_name_idx);
    for (int i = 1; i < n_wm; i++)
        if (strcmp(wm[i - 1].name, wm[i].name) == 0) {
            fail(err, errlen, "%s: weight_map: duplicate tensor name '%s'", ip, quote(q, wm[i].name));
            goto done;
        }

    // distinct shard names, each opened once, from the index's directory
    const char *slash = strrchr(ip, '/');
    s->dir = slash ? strndup(ip, (size_t)(slash - ip) + (slash == ip)) : strdup(".");
    const char **uniq = malloc((n_wm ? (size_t)n_wm : 1) * sizeof *uniq);
    if (!s->dir || !uniq) { free(uniq); fail(err, errlen, "%s: out of memory", ip); goto done; }
    for (int i = 0; i < n_wm; i++) uniq[i] = shards[i];
    qsort(uniq, (size_t)n_wm, sizeof *uniq, cmp_cstr);
    for (int i = 0; i < n_wm; i++)
        if (i == 0 || strcmp(uniq[i], uniq[n_shards - 1]) != 0) uniq[n_shards++] = uniq[i];
    s->files = calloc(n_shards ? (size_t)n_shards : 1, sizeof *s->files);
    if (!s->files) { free(uniq); fail(err, errlen, "%s: out of memory", ip); goto done; }
    for (int i = 0; i < n_shards; i++) {
        char *p = path_join(s->dir, uniq[i]);
        if (!p) { free(uniq); fail(err, errlen, "%s: out of memory", ip); goto done; }
        int r = safetensors_open(&s->files[i], p, err, errlen);
        free(p);
        if (r != 0) { free(uniq); goto done; }
        s->n_files++;
    }
    free(uniq);
    if (set_build_entries(s, ip, err, errlen) != 0) goto done;

    // cross-check: every listed tensor is in the shard it is listed for, every shard tensor is listed
    listed = calloc(s->n_entries ? (size_t)s->n_entries : 1, 1);
    if (!listed) { fail(err, errlen, "%s: out of memory", ip); goto done; }
    for (int i = 0; i < n_wm; i++) {
        const char *name = wm[i].name, *shard = shards[wm[i].idx];
        const st_set_entry *e = set_lookup(s, name);
        if (!e) {
            fail(err, errlen, "%s: tensor '%s' listed for shard '%s' but not in it", ip, quote(q, name), quote(q2, shard));
            goto done;
        }
        const char *fp = s->files[e->file].path, *base = strrchr(fp, '/');
        base = base ? base + 1 : fp;
        if (strcmp(base, shard) != 0) {
            fail(err, errlen, "%s: tensor '%s' listed for shard '%s' but found in %s", ip, quote(q, name), quote(q2, shard), fp);
            goto done;
        }
        listed[e - s->entries] = 1;
    }
    for (int i = 0; i < s->n_entries; i++)
        if (!listed[i]) {
            fail(err, errlen, "%s: %s has tensor '%s' not listed in weight_map", ip, s->files[s->entries[i].file].path,
                 quote(q, s->entries[i].name));
            goto done;
        }

    // metadata.total_size, if present, should equal the sum of tensor bytes: a warning only
    const cJSON *ts = meta ? cJSON_GetObjectItemCaseSensitive(meta, "total_size") : NULL;
    if (ts) {
        uint64_t declared, sum = 0;
        for (int i = 0; i < s->n_files; i++) sum += s->files[i].size - s->files[i].data_start;
        if (json_uint(ts, &declared) != 0)
            snprintf(s->warning, sizeof s->warning, "%s: metadata.total_size is not an integer", ip);
        else if (declared != sum)
            snprintf(s->warning, sizeof s->warning, "%s: metadata.total_size %llu but the shards hold %llu bytes of tensors",
                     ip, (unsigned long long)declared, (unsigned long long)sum);
    }
    rc = 0;
done:
    free(listed);
    free(shards);
    free(wm);
    cJSON_Delete(root);
    free(text);
    if (rc != 0) safetensors_set_close(s);
    return rc;
}

int safetensors_set_open_dir(safetensors_set *s, const char *dir, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    char *single = path_join(dir, "model.safetensors");
    char *index = path_join(dir, "model.safetensors.index.json");
    int rc = -1;
    struct stat st;
    if (!single || !index) { fail(err, errlen, "%s: out of memory", dir); goto done; }
    if (stat(single, &st) == 0) {
        s->dir = strdup(dir);
        s->files = calloc(1, sizeof *s->files);
        if (!s->dir || !s->files) { fail(err, errlen, "%s: out of memory", dir); safetensors_set_close(s); goto done; }
        if (safetensors_open(&s->files[0], single, err, errlen) != 0) { safetensors_set_close(s); goto done; }
        s->n_files = 1;
        if (set_build_entries(s, single, err, errlen) != 0) { safetensors_set_close(s); goto done; }
        rc = 0;
    } else if (stat(index, &st) == 0) {
        rc = safetensors_set_open_index(s, index, err, errlen);
    } else {
        fail(err, errlen, "%s: neither model.safetensors nor model.safetensors.index.json found", dir);
    }
done:
    free(single);
    free(index);
    return rc;
}

const st_tensor *safetensors_set_find(const safetensors_set *s, const char *name, const safetensors_file **file) {
    const st_set_entry *e = set_lookup(s, name);
    if (file) *file = e ? &s->files[e->file] : NULL;
    return e ? &s->files[e->file].tensors[e->tensor] : NULL;
}
