// dataset_internal.h: what the format readers share (not part of the public API).
//
// Each reader turns its input into a RecordList: one (text, label string, line) per example.
// dataset.c then maps the label strings to ids. Text checks (UTF-8, NUL, BOM) live in text_check.c.
#ifndef DATA_DATASET_INTERNAL_H
#define DATA_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

typedef struct {
    char **texts;   // owned copies
    char **labels;  // owned copies, NULL entries when unlabeled
    int *lines;
    int n, cap;
} RecordList;

// Append copies of text[0..text_len) and label[0..label_len) (label may be NULL).
int records_push(RecordList *r, const char *path, const char *text, size_t text_len,
                 const char *label, size_t label_len, int line, char *err, size_t errlen);
void records_free(RecordList *r);

// One row of a CSV or TSV file: fields point into the reader's buffers, valid until the next row.
typedef struct {
    const char *path;
    const char *buf;       // whole file, NUL-terminated, BOM already skipped
    size_t len, pos;
    int line;              // 1-based line of the next byte to read
    int row_line;          // line on which the current row started
    const char **fields;   // field starts
    size_t *field_lens;
    int n_fields, fields_cap;
    char *scratch;         // CSV: unescaped field bytes
    size_t scratch_len, scratch_cap;
    size_t *scratch_offsets;
} RowReader;

void row_reader_init(RowReader *rr, const char *path, const char *buf, size_t len);
void row_reader_free(RowReader *rr);
// Read the next row: 1 = got one, 0 = end of file, -1 = error. Blank lines are skipped.
int csv_next_row(RowReader *rr, char *err, size_t errlen);
int tsv_next_row(RowReader *rr, char *err, size_t errlen);
// internal to the two row readers: append one field (start, len) to the row
int row_add_field(RowReader *rr, const char *start, size_t len, char *err, size_t errlen);

// CSV/TSV: choose columns (header or indices) and collect the records.
int table_read(const char *path, const char *buf, size_t len, DatasetFormat format,
               const DatasetOptions *opt, RecordList *out, char *err, size_t errlen);
int jsonl_read(const char *path, const char *buf, size_t len, const DatasetOptions *opt,
               RecordList *out, char *err, size_t errlen);
int imdb_dir_read(const char *dir, const DatasetOptions *opt, RecordList *out,
                  DataFingerprint *fp, char *err, size_t errlen);

// --- text_check.c ---
// Check the whole buffer: no NUL byte, strict UTF-8 (no overlongs, surrogates, > U+10FFFF,
// truncated sequences). Error "<path>:<line>:<col>: invalid UTF-8 byte 0x85 (cp1252?)".
int text_check_utf8(const char *path, const char *buf, size_t len, char *err, size_t errlen);
// Number of bytes of a UTF-8 BOM at buf[0] (3 or 0).
size_t text_bom_length(const char *buf, size_t len);
// Copy at most 64 bytes of s into dst for an error message, non-printable bytes as \xNN.
void text_quote_for_error(char *dst, size_t cap, const char *s, size_t len);
// Trim ASCII whitespace (space, \t, \r, \n, \v, \f) at both ends: returns start, sets *out_len.
const char *text_trim(const char *s, size_t len, size_t *out_len);
// Parse a whole string as a non-negative decimal integer (digits only, <= limit): 0 ok, -1 not.
int text_parse_index(const char *s, size_t len, long limit, long *out);

// FNV-1a 64-bit: hash = (hash ^ byte) * 0x100000001b3, starting from 0xcbf29ce484222325.
#define FNV1A64_INIT 0xcbf29ce484222325ULL
uint64_t fnv1a64_update(uint64_t h, const void *data, size_t len);

#endif
