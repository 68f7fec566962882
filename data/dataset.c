// dataset.c: dataset_load = format detection + one reader + label mapping. See dataset.h.
//
// Label mapping (doc/data.md). Label strings are trimmed of ASCII whitespace and compared
// case-sensitively. An "integer label" is a string of decimal digits only (no sign, '+', "0x", "1.0").
// - fixed names given: a label equal to names[i] gets id i; otherwise an integer k < n_fixed gets id k
//   (unless label_mode is NAMES); anything else is an error listing the known names;
// - else LABELS_INT, or AUTO when every label is an integer: id = the integer, n_labels = num_labels
//   if given (labels checked against it) else max + 1; names are "0", "1", ...;
// - else (names): the distinct strings sorted bytewise (strcmp) get ids 0, 1, ...
//   ("negative" < "positive", "ham" < "spam", "neg" < "pos").
#include "data/dataset_internal.h"

#include "common/json_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"

int records_push(RecordList *r, const char *path, const char *text, size_t text_len,
                 const char *label, size_t label_len, int line, char *err, size_t errlen) {
    if (r->n >= DATASET_MAX_ROWS) {
        snprintf(err, errlen, "%s: more than %d examples", path, DATASET_MAX_ROWS);
        return -1;
    }
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 1024;
        char **t = realloc(r->texts, (size_t)cap * sizeof *t);
        if (t) r->texts = t;
        char **l = realloc(r->labels, (size_t)cap * sizeof *l);
        if (l) r->labels = l;
        int *ln = realloc(r->lines, (size_t)cap * sizeof *ln);
        if (ln) r->lines = ln;
        if (!t || !l || !ln) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
        r->cap = cap;
    }
    char *tc = strndup(text, text_len);
    char *lc = label ? strndup(label, label_len) : NULL;
    if (!tc || (label && !lc)) {
        free(tc);
        free(lc);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    r->texts[r->n] = tc;
    r->labels[r->n] = lc;
    r->lines[r->n] = line;
    r->n++;
    return 0;
}

void records_free(RecordList *r) {
    for (int i = 0; i < r->n; i++) {
        free(r->texts[i]);
        free(r->labels[i]);
    }
    free(r->texts);
    free(r->labels);
    free(r->lines);
    memset(r, 0, sizeof *r);
}

DatasetOptions dataset_options_default(const char *path) {
    DatasetOptions o;
    memset(&o, 0, sizeof o);
    o.path = path;
    o.format = DATASET_FORMAT_AUTO;
    o.has_header = -1;
    o.label_mode = DATASET_LABELS_AUTO;
    return o;
}

static const char *const format_names[] = {"auto", "csv", "tsv", "jsonl", "imdb-dir"};

const char *dataset_format_name(DatasetFormat format) {
    return (format >= DATASET_FORMAT_AUTO && format <= DATASET_FORMAT_IMDB_DIR) ? format_names[format] : "?";
}

int dataset_format_parse(const char *name, DatasetFormat *format) {
    for (int f = DATASET_FORMAT_AUTO; f <= DATASET_FORMAT_IMDB_DIR; f++)
        if (strcmp(name, format_names[f]) == 0) { *format = (DatasetFormat)f; return 0; }
    return -1;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int dataset_detect_format(const char *path, DatasetFormat *format, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) { *format = DATASET_FORMAT_IMDB_DIR; return 0; }
    if (has_suffix(path, ".csv")) *format = DATASET_FORMAT_CSV;
    else if (has_suffix(path, ".tsv") || has_suffix(path, ".txt")) *format = DATASET_FORMAT_TSV;
    else if (has_suffix(path, ".jsonl") || has_suffix(path, ".json")) *format = DATASET_FORMAT_JSONL;
    else {
        snprintf(err, errlen, "%s: cannot tell the format from the name (.csv, .tsv, .txt, .jsonl, .json or a folder); "
                 "give it explicitly", path);
        return -1;
    }
    return 0;
}

static int is_integer_label(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static int cmp_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// Where the error names an example: "<path>:<line>" for files, "<path>/<label>" for imdb-dir folders.
static void example_where(char *dst, size_t cap, const char *path, const RecordList *r, int i) {
    if (r->lines[i] > 0) snprintf(dst, cap, "%s:%d", path, r->lines[i]);
    else snprintf(dst, cap, "%s/%s", path, r->labels[i]);
}

static int known_names_list(char *dst, size_t cap, char *const *names, int n) {
    size_t o = 0;
    dst[0] = '\0';
    for (int i = 0; i < n && o < cap; i++) o += (size_t)snprintf(dst + o, cap - o, "%s%s", i ? ", " : "", names[i]);
    return 0;
}

// Integer label -> id with a bound (num_labels, or DATASET_MAX_LABELS when deriving).
static int integer_id(const char *where, const char *label, long bound, int bound_given, int *id,
                      char *err, size_t errlen) {
    long v;
    if (text_parse_index(label, strlen(label), bound - 1, &v) != 0) {
        char q[96];
        text_quote_for_error(q, sizeof q, label, strlen(label));
        if (bound_given) snprintf(err, errlen, "%s: label %s out of range [0, %ld)", where, q, bound);
        else snprintf(err, errlen, "%s: label %s is larger than %d classes allow", where, q, DATASET_MAX_LABELS);
        return -1;
    }
    *id = (int)v;
    return 0;
}

static int set_integer_names(Dataset *ds, int n_labels, const char *path, char *err, size_t errlen) {
    ds->label_names = calloc((size_t)n_labels, sizeof(char *));
    if (!ds->label_names) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    ds->n_labels = n_labels;
    for (int k = 0; k < n_labels; k++) {
        char num[16];
        snprintf(num, sizeof num, "%d", k);
        if (!(ds->label_names[k] = strdup(num))) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    }
    return 0;
}

// ds->label_names = a copy of the fixed mapping's names (opt->n_fixed of them)
static int copy_fixed_names(Dataset *ds, const DatasetOptions *opt, const char *path, char *err, size_t errlen) {
    ds->label_names = calloc((size_t)opt->n_fixed, sizeof(char *));
    if (!ds->label_names) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    ds->n_labels = opt->n_fixed;
    for (int k = 0; k < opt->n_fixed; k++)
        if (!(ds->label_names[k] = strdup(opt->fixed_label_names[k]))) {
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
    return 0;
}

static int map_labels(Dataset *ds, const RecordList *r, const DatasetOptions *opt, char *err, size_t errlen) {
    const char *path = opt->path;
    char where[512];
    ds->labels = malloc((size_t)r->n * sizeof(int));
    if (!ds->labels) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    if (opt->unlabeled) {
        for (int i = 0; i < r->n; i++) ds->labels[i] = -1;
        if (opt->fixed_label_names && copy_fixed_names(ds, opt, path, err, errlen) != 0) return -1;
        return 0;
    }

    if (opt->fixed_label_names) {
        if (opt->n_fixed < 1) { snprintf(err, errlen, "%s: empty fixed label mapping", path); return -1; }
        if (copy_fixed_names(ds, opt, path, err, errlen) != 0) return -1;
        for (int i = 0; i < r->n; i++) {
            const char *lab = r->labels[i];
            int id = -1;
            for (int k = 0; k < opt->n_fixed && id < 0; k++)
                if (strcmp(lab, opt->fixed_label_names[k]) == 0) id = k;
            example_where(where, sizeof where, path, r, i);
            if (id < 0 && opt->label_mode != DATASET_LABELS_NAMES && is_integer_label(lab)) {
                if (integer_id(where, lab, opt->n_fixed, 1, &id, err, errlen)) return -1;
            }
            if (id < 0) {
                char q[96], known[256];
                text_quote_for_error(q, sizeof q, lab, strlen(lab));
                known_names_list(known, sizeof known, ds->label_names, ds->n_labels);
                snprintf(err, errlen, "%s: unknown label '%s' (known: %s)", where, q, known);
                return -1;
            }
            ds->labels[i] = id;
        }
        return 0;
    }

    int all_integers = 1;
    for (int i = 0; i < r->n && all_integers; i++) all_integers = is_integer_label(r->labels[i]);
    if (opt->label_mode == DATASET_LABELS_INT || (opt->label_mode == DATASET_LABELS_AUTO && all_integers)) {
        long bound = opt->num_labels > 0 ? opt->num_labels : DATASET_MAX_LABELS;
        int max_id = -1;
        for (int i = 0; i < r->n; i++) {
            example_where(where, sizeof where, path, r, i);
            if (!is_integer_label(r->labels[i])) {
                char q[96];
                text_quote_for_error(q, sizeof q, r->labels[i], strlen(r->labels[i]));
                snprintf(err, errlen, "%s: label '%s' is not an integer", where, q);
                return -1;
            }
            if (integer_id(where, r->labels[i], bound, opt->num_labels > 0, &ds->labels[i], err, errlen)) return -1;
            if (ds->labels[i] > max_id) max_id = ds->labels[i];
        }
        return set_integer_names(ds, opt->num_labels > 0 ? opt->num_labels : max_id + 1, path, err, errlen);
    }

    // names: distinct strings in strcmp order
    char **sorted = malloc((size_t)r->n * sizeof(char *));
    if (!sorted) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    memcpy(sorted, r->labels, (size_t)r->n * sizeof(char *));
    qsort(sorted, (size_t)r->n, sizeof(char *), cmp_strings);
    int n_distinct = 0;
    for (int i = 0; i < r->n; i++)
        if (i == 0 || strcmp(sorted[i], sorted[n_distinct - 1]) != 0) sorted[n_distinct++] = sorted[i];
    if (opt->num_labels > 0 && n_distinct > opt->num_labels) {
        snprintf(err, errlen, "%s: %d distinct labels but num_labels is %d", path, n_distinct, opt->num_labels);
        free(sorted);
        return -1;
    }
    ds->label_names = calloc((size_t)n_distinct, sizeof(char *));
    int ok = ds->label_names != NULL;
    for (int k = 0; ok && k < n_distinct; k++) ok = (ds->label_names[k] = strdup(sorted[k])) != NULL;
    ds->n_labels = ok ? n_distinct : 0;
    for (int i = 0; ok && i < r->n; i++) {
        char **hit = bsearch(&r->labels[i], sorted, (size_t)n_distinct, sizeof(char *), cmp_strings);
        ds->labels[i] = (int)(hit - sorted);
    }
    if (!ok) {
        snprintf(err, errlen, "%s: out of memory", path);
        if (ds->label_names) ds->n_labels = n_distinct;  // so dataset_free frees what was made
    }
    free(sorted);
    return ok ? 0 : -1;
}

// CSV, TSV, JSONL: read the file, check it, hand it to the reader.
static int read_text_file_records(const DatasetOptions *opt, DatasetFormat format, RecordList *r,
                                  DataFingerprint *fp, char *err, size_t errlen) {
    struct stat st;
    if (stat(opt->path, &st) == 0 && (uint64_t)st.st_size > DATASET_MAX_FILE_BYTES) {
        snprintf(err, errlen, "%s: file larger than %llu bytes", opt->path, (unsigned long long)DATASET_MAX_FILE_BYTES);
        return -1;
    }
    char *buf;
    size_t len;
    if (read_file(opt->path, &buf, &len, err, errlen)) return -1;
    fp->size = len;
    fp->fnv1a64 = fnv1a64_update(FNV1A64_INIT, buf, len);
    size_t bom = text_bom_length(buf, len);
    int rc = text_check_utf8(opt->path, buf, len, err, errlen);
    if (rc == 0) {
        if (format == DATASET_FORMAT_JSONL) rc = jsonl_read(opt->path, buf + bom, len - bom, opt, r, err, errlen);
        else rc = table_read(opt->path, buf + bom, len - bom, format, opt, r, err, errlen);
    }
    free(buf);
    return rc;
}

int dataset_load(Dataset *ds, const DatasetOptions *opt, char *err, size_t errlen) {
    memset(ds, 0, sizeof *ds);
    if (!opt->path) { snprintf(err, errlen, "dataset: no path given"); return -1; }
    DatasetFormat format = opt->format;
    if (format == DATASET_FORMAT_AUTO && dataset_detect_format(opt->path, &format, err, errlen)) return -1;
    RecordList r = {0};
    int rc = format == DATASET_FORMAT_IMDB_DIR
        ? imdb_dir_read(opt->path, opt, &r, &ds->fingerprint, err, errlen)
        : read_text_file_records(opt, format, &r, &ds->fingerprint, err, errlen);
    if (rc == 0) rc = map_labels(ds, &r, opt, err, errlen);
    if (rc == 0 && !(ds->path = strdup(opt->path))) { snprintf(err, errlen, "%s: out of memory", opt->path); rc = -1; }
    // the texts and line numbers move over to the dataset; the label strings are dropped
    ds->texts = r.texts;
    ds->lines = r.lines;
    ds->n = r.n;
    for (int i = 0; i < r.n; i++) free(r.labels[i]);
    free(r.labels);
    if (rc != 0) {
        dataset_free(ds);
        err_one_line(err, errlen);  // file names (imdb-dir) quoted in messages may hold newlines
    }
    return rc;
}

void dataset_free(Dataset *ds) {
    for (int i = 0; i < ds->n; i++) free(ds->texts[i]);
    free(ds->texts);
    free(ds->labels);
    free(ds->lines);
    for (int k = 0; k < ds->n_labels; k++) free(ds->label_names[k]);
    free(ds->label_names);
    free(ds->path);
    memset(ds, 0, sizeof *ds);
}
