// json_check.h: the safe way to parse an untrusted JSON file with cJSON (shared/doc/hostile-inputs.md §3.3),
// for the readers that had been calling cJSON directly (config.json, tokenizer files).
//
// json_parse_checked first pre-scans the text: no NUL byte, strict UTF-8, no raw control character inside
// a string, every \u escape four hex digits and not \u0000 (cJSON would silently cut the C string there),
// bracket nesting at most max_depth. Then cJSON parses it with require_null_terminated, so trailing text
// ("{}{}", "{} x") is an error, and the error gives the byte offset (and says when NaN/Infinity, which
// Python's json writes by default, is the problem). model/safetensors.c has its own copy of the pre-scan
// with header-specific messages.
#ifndef JSON_CHECK_H
#define JSON_CHECK_H

#include <stddef.h>

#include <cJSON.h>

// buf[0..len) is the file text and buf[len] must be '\0' (read_file guarantees it). Returns the tree
// (caller cJSON_Delete's it) or NULL with one line "<path>: <problem> at byte N" in err.
cJSON *json_parse_checked(const char *path, const char *buf, size_t len, int max_depth, char *err, size_t errlen);

// Read `path` (at most max_bytes) and json_parse_checked it.
cJSON *json_read_file(const char *path, size_t max_bytes, int max_depth, char *err, size_t errlen);

// Make an error message one printable line in place: each byte < 0x20 or 0x7F becomes "\xNN" (the
// message is cut to errlen - 1 bytes). Loaders quote names and tokens from the file in their errors;
// this keeps a newline in such a string from splitting the message.
void err_one_line(char *err, size_t errlen);

#endif
