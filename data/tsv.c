// tsv.c: one TAB-separated line at a time.
//
// Rules (doc/data.md): no quoting at all ('"' is text, as in the UCI files); a record is one line
// ending in LF (one CR before the LF is dropped; any other CR is an error); blank lines are skipped.
// Fields point straight into the file buffer, so neighbouring fields are contiguous: table.c uses
// that to give extra TABs to the text column ("the label follows the last TAB").
#include "data/dataset_internal.h"

#include <stdio.h>
#include <string.h>

int tsv_next_row(RowReader *rr, char *err, size_t errlen) {
    const char *b = rr->buf;
    for (;;) {
        if (rr->pos >= rr->len) return 0;
        size_t start = rr->pos;
        const char *nl = memchr(b + start, '\n', rr->len - start);
        size_t end = nl ? (size_t)(nl - b) : rr->len;   // exclusive, at the LF
        rr->pos = nl ? end + 1 : rr->len;
        rr->row_line = rr->line++;
        if (end > start && b[end - 1] == '\r') end--;
        if (end - start > DATASET_MAX_FIELD_BYTES) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", rr->path, rr->row_line, DATASET_MAX_FIELD_BYTES);
            return -1;
        }
        const char *cr = memchr(b + start, '\r', end - start);
        if (cr) {
            snprintf(err, errlen, "%s:%d: bare CR at byte %zu; convert line endings to LF", rr->path, rr->row_line,
                     (size_t)(cr - b));
            return -1;
        }
        if (end == start) continue;  // blank line
        rr->n_fields = 0;
        size_t f = start;
        for (size_t i = start; i <= end; i++) {
            if (i == end || b[i] == '\t') {
                if (row_add_field(rr, b + f, i - f, err, errlen)) return -1;
                f = i + 1;
            }
        }
        return 1;
    }
}
