// safetensors.h: reader and writer for the Hugging Face safetensors format, plus sharded checkpoints.
//
// File layout (reference-semantics.md §7.1):
//   bytes 0..7      N, u64 little-endian: length of the header in bytes
//   bytes 8..8+N-1  header: UTF-8 JSON object
//                     {"__metadata__": {"k": "v", ...},            (optional, string -> string)
//                      "name": {"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}, ...}
//   bytes 8+N..end  data buffer; offsets are relative to its start, end exclusive,
//                   little-endian, C order, dense. Sorted by begin, the tensors tile the buffer exactly.
//
// The reader trusts nothing: every rule it enforces is listed in doc/safetensors.md and each one fails
// with a single line "<file>: [tensor '<name>': ]<problem>". Data is only ever copied out with
// explicit little-endian loads, so unaligned offsets are fine.
// Errors follow common/fileio.h: functions return 0 / -1 and write one line into err.
#ifndef SAFETENSORS_H
#define SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8
// the format's own cap on N (safetensors MAX_HEADER_SIZE)
#define ST_FORMAT_MAX_HEADER 100000000u
// our default cap: cJSON needs 27-40x the JSON size in memory, and a BERT-size header is ~20 KB
#define ST_DEFAULT_MAX_HEADER (16u << 20)

// dtypes we understand (others are parsed and validated for size, but cannot be converted).
// ST_F32 is 0, so a zero-initialised st_write_tensor writes F32.
typedef enum {
    ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
    ST_U16, ST_U32, ST_U64, ST_F8_E5M2, ST_F8_E4M3,
    ST_NUM_DTYPES
} st_dtype;

const char *st_dtype_name(st_dtype d);  // "F32", ...; "?" for out-of-range values
size_t st_dtype_size(st_dtype d);       // bytes per element; 0 for out-of-range values

typedef struct {
    char *name;          // UTF-8 tensor name (never contains NUL: such files are rejected)
    st_dtype dtype;
    int ndim;            // 0..8
    int64_t shape[ST_MAX_DIMS];
    size_t numel;        // product of shape (1 for a scalar, 0 if any dim is 0)
    size_t begin, end;   // byte offsets into the data buffer, end exclusive
} st_tensor;

typedef struct {
    char *key;
    char *value;
} st_meta;

typedef struct {
    char *path;
    unsigned char *buf;  // whole file contents (owned)
    size_t size;         // bytes in buf
    size_t data_start;   // 8 + header length: the data buffer is buf[data_start .. size)
    st_tensor *tensors;  // in data order (sorted by begin, then end)
    int n_tensors;
    st_meta *meta;       // the "__metadata__" entries, in header order
    int n_meta;
    int *by_name;        // indices into tensors sorted by name (strcmp), for safetensors_find
} safetensors_file;

// Read `path` and parse + validate everything (header cap ST_DEFAULT_MAX_HEADER). On failure *f is
// left zeroed, so safetensors_close is always safe to call.
int safetensors_open(safetensors_file *f, const char *path, char *err, size_t errlen);
// Same with an explicit header cap (clamped to ST_FORMAT_MAX_HEADER).
int safetensors_open_ex(safetensors_file *f, const char *path, size_t max_header, char *err, size_t errlen);
// Parse a file image already in memory (copied; `path` is only used in messages). For tests and fuzzing.
int safetensors_open_buffer(safetensors_file *f, const char *path, const void *data, size_t size,
                            size_t max_header, char *err, size_t errlen);
void safetensors_close(safetensors_file *f);

// The tensor called `name`, or NULL if absent (binary search, O(log n)).
const st_tensor *safetensors_find(const safetensors_file *f, const char *name);
// The value of "__metadata__" key `key`, or NULL if absent.
const char *safetensors_meta(const safetensors_file *f, const char *key);
// Raw bytes of a tensor inside f->buf (t->end - t->begin bytes, possibly unaligned: memcpy them).
const unsigned char *safetensors_data(const safetensors_file *f, const st_tensor *t);

// Convert a tensor to float32: F32 copy, F16 (IEEE half incl. subnormals/inf/nan), BF16 (bits << 16),
// F64 (rounded). Any other dtype is an error. n must equal t->numel.
int safetensors_read_f32(const safetensors_file *f, const st_tensor *t, float *out, size_t n,
                         char *err, size_t errlen);
// Convert an integer tensor (I64, I32, I16, I8, U8, U16, U32, U64, BOOL) to int64; U64 values above
// INT64_MAX are an error, BOOL bytes read as 0/1. Float dtypes are an error. n must equal t->numel.
int safetensors_read_i64(const safetensors_file *f, const st_tensor *t, int64_t *out, size_t n,
                         char *err, size_t errlen);

// Writing. Each tensor is a name, a shape and float32 data, stored as `dtype`: ST_F32 (the default,
// 0), ST_F16 or ST_BF16 (round to nearest even); or int64 data (data_i64) stored as ST_I64. The data
// pointer may be NULL only when numel is 0.
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;
    st_dtype dtype;
    const int64_t *data_i64;   // ST_I64 only
} st_write_tensor;

// Write like the reference writer: `"__metadata__":{"format":"pt"}` first, tensors sorted by dtype
// size (largest first, I64 first; BF16 before F16 as in the reference) then by name (bytewise), laid back to
// back, header padded with spaces to a multiple of 8. Atomic (temporary file + rename): on any error
// nothing is created or changed at `path`. Duplicate names, the name "__metadata__", names that are
// not valid UTF-8 and bad shapes are errors.
int safetensors_write(const char *path, const st_write_tensor *tensors, int n, char *err, size_t errlen);
// Same, with extra metadata pairs (keys/values UTF-8); "format":"pt" is always written first unless
// the caller gives "format" itself.
int safetensors_write_meta(const char *path, const st_write_tensor *tensors, int n,
                           const st_meta *meta, int n_meta, char *err, size_t errlen);

// Sharded checkpoints (reference-semantics.md §7.2): a directory holding either model.safetensors or
// model.safetensors.index.json = {"metadata": {...}, "weight_map": {"<tensor>": "<shard file>", ...}}.
typedef struct {
    const char *name;    // points into the owning file's st_tensor
    int file;            // index into files
    int tensor;          // index into files[file].tensors
} st_set_entry;

typedef struct {
    char *dir;
    safetensors_file *files;
    int n_files;
    st_set_entry *entries;  // every tensor of every file, sorted by name
    int n_entries;
    char warning[256];      // non-fatal finding (e.g. total_size differs from the sum); "" if none
} safetensors_set;

// Open `dir`/model.safetensors if it exists, else `dir`/model.safetensors.index.json and its shards.
int safetensors_set_open_dir(safetensors_set *s, const char *dir, char *err, size_t errlen);
// Open an index file and every shard it names (shards are looked up next to the index). Rules:
// shard names are plain file names ending ".safetensors" (no '/', '\\', not starting with '.');
// every tensor listed is in its shard, every shard tensor is listed for that shard.
int safetensors_set_open_index(safetensors_set *s, const char *index_path, char *err, size_t errlen);
void safetensors_set_close(safetensors_set *s);
// Find a tensor across shards: returns it and sets *file (if non-NULL) to its file; NULL if absent.
const st_tensor *safetensors_set_find(const safetensors_set *s, const char *name,
                                      const safetensors_file **file);

#endif
