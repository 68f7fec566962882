// csv.c: one RFC 4180 record at a time.
//
// Rules (RFC 4180 §2, strict like Python's csv with strict=True, see doc/data.md):
// - fields are separated by ',' and records end with LF or CRLF (the last may lack one);
// - a field that starts with '"' is quoted: it runs to the next lone '"', may hold commas, CR and
//   LF, and '""' inside it stands for one '"'; only ',' or a line end may follow the closing quote;
// - an unquoted field may not contain '"'; spaces are part of the field (nothing is trimmed);
// - a bare CR outside quotes is an error (CR-only line endings), blank lines are skipped.
// Lines are counted on '\n' only, so U+0085 and U+2028 inside a field are plain text.
#include "data/dataset_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int scratch_append(RowReader *rr, const char *s, size_t n, size_t field_start, int quoted,
                          int field_line, char *err, size_t errlen) {
    if (rr->scratch_len - field_start + n > DATASET_MAX_FIELD_BYTES) {
        snprintf(err, errlen, "%s:%d: field longer than %d bytes%s", rr->path, field_line,
                 DATASET_MAX_FIELD_BYTES, quoted ? " (a quote opened here may never be closed)" : "");
        return -1;
    }
    if (rr->scratch_len + n + 1 > rr->scratch_cap) {
        size_t cap = rr->scratch_cap ? rr->scratch_cap : 4096;
        while (cap < rr->scratch_len + n + 1) cap *= 2;
        char *p = realloc(rr->scratch, cap);
        if (!p) { snprintf(err, errlen, "%s: out of memory", rr->path); return -1; }
        rr->scratch = p;
        rr->scratch_cap = cap;
    }
    memcpy(rr->scratch + rr->scratch_len, s, n);
    rr->scratch_len += n;
    return 0;
}

// Read a quoted field starting at the opening quote; leaves pos after the closing quote.
static int read_quoted(RowReader *rr, size_t field_start, char *err, size_t errlen) {
    const char *b = rr->buf;
    int open_line = rr->line;
    rr->pos++;  // opening quote
    for (;;) {
        size_t span = rr->pos;
        while (span < rr->len && b[span] != '"') {
            if (b[span] == '\n') rr->line++;
            span++;
        }
        if (scratch_append(rr, b + rr->pos, span - rr->pos, field_start, 1, open_line, err, errlen)) return -1;
        if (span >= rr->len) {
            snprintf(err, errlen, "%s:%d: quoted field opened here is never closed", rr->path, open_line);
            return -1;
        }
        if (span + 1 < rr->len && b[span + 1] == '"') {  // "" -> "
            if (scratch_append(rr, "\"", 1, field_start, 1, open_line, err, errlen)) return -1;
            rr->pos = span + 2;
            continue;
        }
        rr->pos = span + 1;  // closing quote
        return 0;
    }
}

static int read_unquoted(RowReader *rr, size_t field_start, char *err, size_t errlen) {
    const char *b = rr->buf;
    size_t span = rr->pos;
    while (span < rr->len && b[span] != ',' && b[span] != '\n' && b[span] != '\r') {
        if (b[span] == '"') {
            snprintf(err, errlen, "%s:%d: '\"' inside an unquoted field (quote the field and double the quote)",
                     rr->path, rr->line);
            return -1;
        }
        span++;
    }
    if (scratch_append(rr, b + rr->pos, span - rr->pos, field_start, 0, rr->line, err, errlen)) return -1;
    rr->pos = span;
    return 0;
}

int csv_next_row(RowReader *rr, char *err, size_t errlen) {
    const char *b = rr->buf;
    // skip blank lines (LF or CRLF alone)
    while (rr->pos < rr->len) {
        if (b[rr->pos] == '\n') { rr->pos++; rr->line++; }
        else if (b[rr->pos] == '\r' && rr->pos + 1 < rr->len && b[rr->pos + 1] == '\n') { rr->pos += 2; rr->line++; }
        else break;
    }
    if (rr->pos >= rr->len) return 0;
    rr->n_fields = 0;
    rr->scratch_len = 0;
    rr->row_line = rr->line;
    for (;;) {
        size_t field_start = rr->scratch_len;
        int field_line = rr->line;  // a quoted field may span lines: errors name the line where it starts
        if (b[rr->pos] == '"') {
            if (read_quoted(rr, field_start, err, errlen)) return -1;
        } else {
            if (read_unquoted(rr, field_start, err, errlen)) return -1;
        }
        if (row_add_field(rr, NULL, rr->scratch_len - field_start, err, errlen)) return -1;
        rr->scratch_offsets[rr->n_fields - 1] = field_start;
        if (rr->pos >= rr->len) break;                   // last record without a line end
        char c = b[rr->pos];
        if (c == ',') { rr->pos++; continue; }
        if (c == '\n') { rr->pos++; rr->line++; break; }
        if (c == '\r' && rr->pos + 1 < rr->len && b[rr->pos + 1] == '\n') { rr->pos += 2; rr->line++; break; }
        if (c == '\r') {
            snprintf(err, errlen, "%s:%d: bare CR line ending at byte %zu; convert to LF", rr->path, rr->line, rr->pos);
            return -1;
        }
        snprintf(err, errlen, "%s:%d: unexpected character after closing quote (only ',' or a line end may follow)%s",
                 rr->path, field_line, field_line != rr->line ? " (the quoted field starts on this line)" : "");
        return -1;
    }
    // the scratch buffer no longer moves: point the fields into it
    for (int i = 0; i < rr->n_fields; i++) rr->fields[i] = rr->scratch + rr->scratch_offsets[i];
    return 1;
}
