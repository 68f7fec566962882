// table.c: CSV and TSV files as tables: header detection, column choice, row checks.
//
// Columns (doc/data.md): with a header a column is named ("review") or, if no header field has that
// name, given by 0-based index ("0"); without a header only indices work. Defaults: text = the first
// of text/sentence/review in the header, label = label/sentiment; without a header text 0, label 1.
// has_header = -1 decides: columns given by name -> header; given by index -> none; nothing given ->
// header iff the first row has a field named like a default column.
// Every row must have as many fields as the header (or the first row). TSV rows with more fields
// give the extra TABs to the text column, so `sentence<TAB>label` splits at the last TAB and
// `label<TAB>text` at the first.
#include "data/dataset_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_text_names[] = {"text", "sentence", "review", NULL};
static const char *const default_label_names[] = {"label", "sentiment", NULL};

void row_reader_init(RowReader *rr, const char *path, const char *buf, size_t len) {
    memset(rr, 0, sizeof *rr);
    rr->path = path;
    rr->buf = buf;
    rr->len = len;
    rr->line = 1;
}

void row_reader_free(RowReader *rr) {
    free(rr->fields);
    free(rr->field_lens);
    free(rr->scratch);
    free(rr->scratch_offsets);
    memset(rr, 0, sizeof *rr);
}

int row_add_field(RowReader *rr, const char *start, size_t len, char *err, size_t errlen) {
    if (rr->n_fields == rr->fields_cap) {
        int cap = rr->fields_cap ? rr->fields_cap * 2 : 8;
        if (cap > 100000) {
            snprintf(err, errlen, "%s:%d: more than 100000 fields in one row", rr->path, rr->row_line);
            return -1;
        }
        const char **f = realloc(rr->fields, (size_t)cap * sizeof *f);
        if (f) rr->fields = f;
        size_t *l = realloc(rr->field_lens, (size_t)cap * sizeof *l);
        if (l) rr->field_lens = l;
        size_t *o = realloc(rr->scratch_offsets, (size_t)cap * sizeof *o);
        if (o) rr->scratch_offsets = o;
        if (!f || !l || !o) { snprintf(err, errlen, "%s: out of memory", rr->path); return -1; }
        rr->fields_cap = cap;
    }
    rr->fields[rr->n_fields] = start;
    rr->field_lens[rr->n_fields] = len;
    rr->n_fields++;
    return 0;
}

static int field_equals(const RowReader *rr, int i, const char *name) {
    return rr->field_lens[i] == strlen(name) && memcmp(rr->fields[i], name, rr->field_lens[i]) == 0;
}

static int find_field(const RowReader *rr, const char *name) {
    for (int i = 0; i < rr->n_fields; i++)
        if (field_equals(rr, i, name)) return i;
    return -1;
}

static int is_index_spec(const char *spec) {
    long v;
    return spec && text_parse_index(spec, strlen(spec), 1000000, &v) == 0;
}

// "a, b, c" list of the header's fields for error messages
static void header_list(const RowReader *rr, char *dst, size_t cap) {
    size_t o = 0;
    dst[0] = '\0';
    for (int i = 0; i < rr->n_fields && o + 8 < cap; i++) {
        char q[96];
        text_quote_for_error(q, sizeof q, rr->fields[i], rr->field_lens[i]);
        o += (size_t)snprintf(dst + o, cap - o, "%s'%s'", i ? ", " : "", q);
        if (o >= cap) { dst[cap - 1] = '\0'; return; }
    }
}

// Resolve one column spec against the first row. role is "text" or "label" (for messages).
static int resolve_column(const RowReader *first, int has_header, const char *spec,
                          const char *const *defaults, int default_index, const char *role,
                          int *col, char *err, size_t errlen) {
    long idx;
    if (has_header) {
        if (spec) {
            *col = find_field(first, spec);
            if (*col >= 0) return 0;
            if (text_parse_index(spec, strlen(spec), 1000000, &idx) == 0) { *col = (int)idx; goto check_range; }
        } else {
            for (int k = 0; defaults[k]; k++)
                if ((*col = find_field(first, defaults[k])) >= 0) return 0;
        }
        char cols[512];
        header_list(first, cols, sizeof cols);
        if (spec)
            snprintf(err, errlen, "%s:%d: no %s column '%s' in the header (columns: %s)", first->path,
                     first->row_line, role, spec, cols);
        else
            snprintf(err, errlen, "%s:%d: no default %s column in the header; name one (columns: %s)",
                     first->path, first->row_line, role, cols);
        return -1;
    }
    if (!spec) { *col = default_index; goto check_range; }
    if (text_parse_index(spec, strlen(spec), 1000000, &idx) != 0) {
        snprintf(err, errlen, "%s: %s column '%s' is a name but the file is read without a header; give a 0-based index",
                 first->path, role, spec);
        return -1;
    }
    *col = (int)idx;
check_range:
    if (*col >= first->n_fields) {
        snprintf(err, errlen, "%s:%d: %s column index %d out of range (the row has %d fields)", first->path,
                 first->row_line, role, *col, first->n_fields);
        return -1;
    }
    return 0;
}

static int decide_header(const RowReader *first, const DatasetOptions *opt) {
    if (opt->has_header >= 0) return opt->has_header;
    const char *t = opt->text_column, *l = opt->unlabeled ? NULL : opt->label_column;
    if ((t && !is_index_spec(t)) || (l && !is_index_spec(l))) return 1;
    if (t || l) return 0;
    for (int k = 0; default_text_names[k]; k++)
        if (find_field(first, default_text_names[k]) >= 0) return 1;
    for (int k = 0; default_label_names[k]; k++)
        if (find_field(first, default_label_names[k]) >= 0) return 1;
    return 0;
}

int table_read(const char *path, const char *buf, size_t len, DatasetFormat format,
               const DatasetOptions *opt, RecordList *out, char *err, size_t errlen) {
    int (*next_row)(RowReader *, char *, size_t) = format == DATASET_FORMAT_CSV ? csv_next_row : tsv_next_row;
    RowReader rr;
    row_reader_init(&rr, path, buf, len);
    int rc = -1;
    int got = next_row(&rr, err, errlen);
    if (got < 0) goto done;
    if (got == 0) { snprintf(err, errlen, "%s: no examples (the file is empty)", path); goto done; }

    int has_header = decide_header(&rr, opt);
    int text_col, label_col = -1;
    if (resolve_column(&rr, has_header, opt->text_column, default_text_names, 0, "text", &text_col, err, errlen))
        goto done;
    if (!opt->unlabeled) {
        if (resolve_column(&rr, has_header, opt->label_column, default_label_names, 1, "label", &label_col, err, errlen))
            goto done;
        if (label_col == text_col) {
            snprintf(err, errlen, "%s: text and label are the same column (%d)", path, text_col);
            goto done;
        }
    }
    int n_cols = rr.n_fields;
    if (has_header) got = next_row(&rr, err, errlen);
    for (; got == 1; got = next_row(&rr, err, errlen)) {
        int extra = rr.n_fields - n_cols;
        if (extra < 0 || (extra > 0 && format == DATASET_FORMAT_CSV)) {
            snprintf(err, errlen, "%s:%d: row has %d fields, %s has %d", path, rr.row_line, rr.n_fields,
                     has_header ? "the header" : "the first row", n_cols);
            goto done;
        }
        // TSV: fields text_col..text_col+extra are one text (contiguous in the buffer)
        const char *text = rr.fields[text_col];
        size_t text_len = (size_t)(rr.fields[text_col + extra] + rr.field_lens[text_col + extra] - text);
        if (text_len == 0) { snprintf(err, errlen, "%s:%d: empty text", path, rr.row_line); goto done; }
        const char *label = NULL;
        size_t label_len = 0;
        if (label_col >= 0) {
            int lc = label_col > text_col ? label_col + extra : label_col;
            label = text_trim(rr.fields[lc], rr.field_lens[lc], &label_len);
            if (label_len == 0) { snprintf(err, errlen, "%s:%d: empty label", path, rr.row_line); goto done; }
        }
        if (records_push(out, path, text, text_len, label, label_len, rr.row_line, err, errlen)) goto done;
    }
    if (got < 0) goto done;
    if (out->n == 0) { snprintf(err, errlen, "%s: no examples (only a header)", path); goto done; }
    rc = 0;
done:
    row_reader_free(&rr);
    return rc;
}
