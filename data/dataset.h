// dataset.h: labelled text datasets (CSV, TSV, JSON lines, aclImdb folders) read into memory.
//
// dataset_load reads one file (or one aclImdb split folder), picks the text and label columns,
// checks every text is non-empty valid UTF-8 and maps label strings to class ids 0..n_labels-1.
// The rules (columns, headers, label mapping, errors) are written out in doc/data.md.
// Errors follow common/fileio.h: return -1 and one line "<file>:<line>: <problem>" in err.
#ifndef DATA_DATASET_H
#define DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    DATASET_FORMAT_AUTO = 0,  // from the path: directory -> imdb-dir, .csv, .tsv/.txt, .jsonl/.json
    DATASET_FORMAT_CSV,       // RFC 4180, ',' separated, optional header
    DATASET_FORMAT_TSV,       // TAB separated, no quoting, optional header
    DATASET_FORMAT_JSONL,     // one JSON object per line
    DATASET_FORMAT_IMDB_DIR,  // <split>/<label>/*.txt, label = folder name
} DatasetFormat;

typedef enum {
    DATASET_LABELS_AUTO = 0,  // integers if every label is a non-negative integer, else names
    DATASET_LABELS_INT,       // every label must be an integer: id = the integer
    DATASET_LABELS_NAMES,     // every label is a name, even "1": ids = sorted order of the names
} DatasetLabelMode;

typedef struct {
    const char *path;        // file, or split folder for imdb-dir
    DatasetFormat format;    // DATASET_FORMAT_AUTO = from the path
    const char *text_column; // header name or 0-based index ("0"); NULL = default (doc/data.md)
    const char *label_column;// same; for JSONL the key; NULL = default
    int has_header;          // CSV/TSV: 1 yes, 0 no, -1 auto (doc/data.md)
    int unlabeled;           // 1: read texts only (labels all -1, no label column needed)
    DatasetLabelMode label_mode;
    // Fixed mapping (e.g. id2label of a model config): label string == names[i] -> id i;
    // an integer label k (not matching a name) -> id k, checked against n_fixed. NULL = derive.
    char *const *fixed_label_names;
    int n_fixed;
    int num_labels;          // without fixed names: integer labels must be < num_labels (0 = derive)
} DatasetOptions;

// Size and FNV-1a 64-bit hash of the bytes read, so split.json can tell it belongs to this data.
// For an imdb-dir: total size of the text files; the hash runs over "<label>/<name>\0<bytes>" of each
// file in load order.
typedef struct {
    uint64_t size;
    uint64_t fnv1a64;
} DataFingerprint;

typedef struct {
    char **texts;        // n NUL-terminated UTF-8 strings, exactly as in the file (no trimming)
    int *labels;         // n class ids in [0, n_labels), or -1 when unlabeled
    int *lines;          // n 1-based line numbers where each example starts (0 for imdb-dir files)
    int n;
    char **label_names;  // n_labels names; id i <-> label_names[i]
    int n_labels;
    DataFingerprint fingerprint;
    char *path;          // copy of the path the data came from
} Dataset;

// Options with the defaults: auto format, default columns, auto header, derived labels.
DatasetOptions dataset_options_default(const char *path);
int dataset_load(Dataset *ds, const DatasetOptions *opt, char *err, size_t errlen);
void dataset_free(Dataset *ds);

// The format dataset_load would use for this path (AUTO is resolved); -1 with err if unknown.
int dataset_detect_format(const char *path, DatasetFormat *format, char *err, size_t errlen);
const char *dataset_format_name(DatasetFormat format);
// "csv", "tsv", "jsonl", "imdb-dir" (and "auto") -> enum; -1 if unknown.
int dataset_format_parse(const char *name, DatasetFormat *format);

// Caps on untrusted input (doc/hostile-inputs.md §0); errors name the cap.
#define DATASET_MAX_FIELD_BYTES  (1 << 20)        // one text / field / line
#define DATASET_MAX_ROWS         10000000
#define DATASET_MAX_FILE_BYTES   ((uint64_t)4 << 30)
#define DATASET_MAX_LABELS       65536             // integer labels must be below this

#endif
