// split.c: see split.h. JSON is read with the safe pattern of doc/hostile-inputs.md §3.3 and
// integers with the rule of §1.2 (integral, 0 <= x < 2^53); the 64-bit seed is a decimal string.
#include "data/split.h"

#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "data/dataset_internal.h"
#include "data/rng.h"

void split_free(Split *s) {
    free(s->train);
    free(s->valid);
    memset(s, 0, sizeof *s);
}

int split_make(Split *s, int n_rows, uint64_t seed, int n_samples, double valid_ratio, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    if (n_rows < 1) { snprintf(err, errlen, "split: no rows to split"); return -1; }
    if (n_samples < 0 || n_samples > n_rows) {
        snprintf(err, errlen, "split: n_samples %d not in [0, %d] (0 = all rows)", n_samples, n_rows);
        return -1;
    }
    if (!(valid_ratio >= 0.0 && valid_ratio < 1.0)) {
        snprintf(err, errlen, "split: valid_ratio %g not in [0, 1)", valid_ratio);
        return -1;
    }
    int n_sel = n_samples ? n_samples : n_rows;
    int n_valid = (int)ceil(valid_ratio * n_sel);
    if (n_valid >= n_sel) {
        snprintf(err, errlen, "split: valid_ratio %g of %d rows leaves no training rows", valid_ratio, n_sel);
        return -1;
    }
    int *perm = malloc((size_t)n_rows * sizeof(int));
    s->valid = malloc((size_t)(n_valid ? n_valid : 1) * sizeof(int));
    s->train = malloc((size_t)(n_sel - n_valid) * sizeof(int));
    if (!perm || !s->valid || !s->train) {
        free(perm);
        split_free(s);
        snprintf(err, errlen, "split: out of memory");
        return -1;
    }
    for (int i = 0; i < n_rows; i++) perm[i] = i;
    Rng rng;
    rng_seed(&rng, seed, RNG_STREAM);
    rng_shuffle_ints(&rng, perm, n_rows);
    memcpy(s->valid, perm, (size_t)n_valid * sizeof(int));
    memcpy(s->train, perm + n_valid, (size_t)(n_sel - n_valid) * sizeof(int));
    free(perm);
    s->n_valid = n_valid;
    s->n_train = n_sel - n_valid;
    s->n_rows = n_rows;
    s->seed = seed;
    s->n_samples = n_samples;
    s->valid_ratio = valid_ratio;
    return 0;
}

static void hex64(char out[17], uint64_t v) { snprintf(out, 17, "%016" PRIx64, v); }

int split_write_json(const char *path, const Split *s, const Dataset *ds, char *err, size_t errlen) {
    char hash[17], seed[24];
    hex64(hash, ds->fingerprint.fnv1a64);
    snprintf(seed, sizeof seed, "%" PRIu64, s->seed);
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    ok = ok && cJSON_AddNumberToObject(root, "version", 1);
    ok = ok && cJSON_AddStringToObject(root, "data_path", ds->path ? ds->path : "");
    ok = ok && cJSON_AddNumberToObject(root, "data_size", (double)ds->fingerprint.size);
    ok = ok && cJSON_AddStringToObject(root, "data_fnv1a64", hash);
    ok = ok && cJSON_AddNumberToObject(root, "n_rows", s->n_rows);
    ok = ok && cJSON_AddStringToObject(root, "seed", seed);
    ok = ok && cJSON_AddNumberToObject(root, "n_samples", s->n_samples);
    ok = ok && cJSON_AddNumberToObject(root, "valid_ratio", s->valid_ratio);
    cJSON *valid = ok ? cJSON_CreateIntArray(s->valid, s->n_valid) : NULL;
    ok = ok && valid && cJSON_AddItemToObject(root, "validation", valid);
    cJSON *train = ok ? cJSON_CreateIntArray(s->train, s->n_train) : NULL;
    ok = ok && train && cJSON_AddItemToObject(root, "train", train);
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    size_t n = strlen(text);
    text[n] = '\n';  // cJSON_Print's buffer ends in a NUL we may overwrite: we pass the length
    int rc = write_file_atomic(path, text, n + 1, err, errlen);
    cJSON_free(text);
    return rc;
}

// The one member named key (case-sensitive); NULL with an error when missing or duplicated.
static cJSON *get_unique(cJSON *obj, const char *key, const char *path, int required, char *err, size_t errlen) {
    cJSON *found = NULL, *item;
    cJSON_ArrayForEach(item, obj) {
        if (item->string && strcmp(item->string, key) == 0) {
            if (found) { snprintf(err, errlen, "%s: key '%s' appears twice", path, key); return NULL; }
            found = item;
        }
    }
    if (!found && required) snprintf(err, errlen, "%s: missing key '%s'", path, key);
    return found;
}

static int json_integer(const cJSON *item, double max, double *out) {
    if (!cJSON_IsNumber(item)) return -1;
    double d = item->valuedouble;
    if (!(d >= 0 && d <= max && d == floor(d))) return -1;
    *out = d;
    return 0;
}

// Read an index array: each an integer in [0, n_rows) not seen before (marks[i] records the list).
static int read_indices(cJSON *root, const char *key, char mark, char *marks, int n_rows, int **out, int *n_out,
                        const char *path, char *err, size_t errlen) {
    cJSON *arr = get_unique(root, key, path, 1, err, errlen);
    if (!arr) return -1;
    if (!cJSON_IsArray(arr)) { snprintf(err, errlen, "%s: '%s' must be an array of row indices", path, key); return -1; }
    int n = cJSON_GetArraySize(arr);
    *out = malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!*out) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    int k = 0;
    cJSON *item;
    cJSON_ArrayForEach(item, arr) {
        double d;
        if (json_integer(item, 9007199254740991.0, &d)) {
            snprintf(err, errlen, "%s: %s[%d] must be an integer in [0, 2^53)", path, key, k);
            return -1;
        }
        if (d >= n_rows) {
            snprintf(err, errlen, "%s: %s[%d] = %.0f is out of range (the data has %d rows)", path, key, k, d, n_rows);
            return -1;
        }
        int row = (int)d;
        if (marks[row]) {
            if (marks[row] == mark) snprintf(err, errlen, "%s: row %d appears twice in %s", path, row, key);
            else snprintf(err, errlen, "%s: row %d is in both train and validation", path, row);
            return -1;
        }
        marks[row] = mark;
        (*out)[k++] = row;
    }
    *n_out = k;
    return 0;
}

static int check_header(cJSON *root, Split *s, const char *path, const Dataset *ds, char *err, size_t errlen) {
    double size, n_rows;
    cJSON *item;
    if (!(item = get_unique(root, "data_size", path, 1, err, errlen))) return -1;
    if (json_integer(item, 9007199254740991.0, &size)) {
        snprintf(err, errlen, "%s: data_size must be an integer", path);
        return -1;
    }
    if (!(item = get_unique(root, "data_fnv1a64", path, 1, err, errlen))) return -1;
    if (!cJSON_IsString(item) || strlen(item->valuestring) != 16 ||
        strspn(item->valuestring, "0123456789abcdef") != 16) {
        snprintf(err, errlen, "%s: data_fnv1a64 must be a string of 16 lowercase hex digits", path);
        return -1;
    }
    char hash[17];
    hex64(hash, ds->fingerprint.fnv1a64);
    if ((uint64_t)size != ds->fingerprint.size || strcmp(item->valuestring, hash) != 0) {
        snprintf(err, errlen, "%s: made for different data (size %.0f, fnv1a64 %s), but %s has size %" PRIu64 ", fnv1a64 %s",
                 path, size, item->valuestring, ds->path, ds->fingerprint.size, hash);
        return -1;
    }
    if (!(item = get_unique(root, "n_rows", path, 1, err, errlen))) return -1;
    if (json_integer(item, 1e9, &n_rows) || (int)n_rows != ds->n) {
        snprintf(err, errlen, "%s: n_rows must be %d, the rows of %s", path, ds->n, ds->path);
        return -1;
    }
    s->n_rows = ds->n;
    // seed, n_samples, valid_ratio describe how the split was made; optional, but typed
    if ((item = get_unique(root, "seed", path, 0, err, errlen))) {
        const char *t = cJSON_IsString(item) ? item->valuestring : NULL;
        char *end = NULL;
        errno = 0;
        unsigned long long v = t ? strtoull(t, &end, 10) : 0;
        if (!t || !*t || *end || errno == ERANGE || t[0] < '0' || t[0] > '9') {
            snprintf(err, errlen, "%s: seed must be a decimal string (64-bit seeds do not fit JSON numbers)", path);
            return -1;
        }
        s->seed = v;
    }
    double d;
    if ((item = get_unique(root, "n_samples", path, 0, err, errlen))) {
        if (json_integer(item, ds->n, &d)) {
            snprintf(err, errlen, "%s: n_samples must be an integer in [0, %d]", path, ds->n);
            return -1;
        }
        s->n_samples = (int)d;
    }
    if ((item = get_unique(root, "valid_ratio", path, 0, err, errlen))) {
        if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0 && item->valuedouble < 1)) {
            snprintf(err, errlen, "%s: valid_ratio must be a number in [0, 1)", path);
            return -1;
        }
        s->valid_ratio = item->valuedouble;
    }
    return 0;
}

int split_read_json(Split *s, const char *path, const Dataset *ds, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size > SPLIT_MAX_FILE_BYTES) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, SPLIT_MAX_FILE_BYTES);
        return -1;
    }
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, err, errlen)) return -1;
    cJSON *root = NULL;
    char *marks = NULL;
    int rc = -1;
    if (text_check_utf8(path, buf, len, err, errlen)) goto done;  // also rejects NUL bytes
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!root) { snprintf(err, errlen, "%s: invalid JSON at byte %td", path, end ? end - buf : 0); goto done; }
    if (!cJSON_IsObject(root)) { snprintf(err, errlen, "%s: expected a JSON object", path); goto done; }
    if (check_header(root, s, path, ds, err, errlen)) goto done;
    marks = calloc((size_t)ds->n, 1);
    if (!marks) { snprintf(err, errlen, "%s: out of memory", path); goto done; }
    if (read_indices(root, "validation", 'v', marks, ds->n, &s->valid, &s->n_valid, path, err, errlen)) goto done;
    if (read_indices(root, "train", 't', marks, ds->n, &s->train, &s->n_train, path, err, errlen)) goto done;
    if (s->n_train + s->n_valid == 0) { snprintf(err, errlen, "%s: no rows in train or validation", path); goto done; }
    int expected = s->n_samples ? s->n_samples : s->n_rows;
    if (get_unique(root, "n_samples", path, 0, err, errlen) && s->n_train + s->n_valid != expected) {
        snprintf(err, errlen, "%s: train + validation hold %d rows, n_samples says %d", path,
                 s->n_train + s->n_valid, expected);
        goto done;
    }
    rc = 0;
done:
    if (rc != 0) split_free(s);
    free(marks);
    cJSON_Delete(root);
    free(buf);
    return rc;
}
