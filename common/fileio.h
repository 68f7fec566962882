// fileio.h: checked file helpers shared by every reader and writer (the only cross-cutting code).
//
// Convention used across the project: library functions return 0 on success and -1 on failure,
// writing one line into `err` (errlen bytes) that names the file and what went wrong.
// Programs print that line and exit non-zero; tests assert on it.
#ifndef FILEIO_H
#define FILEIO_H

#include <stddef.h>
#include <stdio.h>

// Read a whole file into a malloc'd buffer with one extra NUL byte after the data
// (so text parsers may treat it as a C string; *len excludes the NUL). Caller frees *data.
int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen);

// Atomic output: write into "<path>.tmp.XXXXXX" (mkstemp) and rename over `path` only when everything was
// written and flushed, so a failure (disk full, crash, bad input) never leaves a damaged `path`.
typedef struct {
    FILE *fp;
    char *path;      // final name
    char *tmp_path;  // temporary name in the same directory
} AtomicFile;

int atomic_open(AtomicFile *af, const char *path, char *err, size_t errlen);
// write n bytes; on error the file stays open (call atomic_abort)
int atomic_write(AtomicFile *af, const void *buf, size_t n, char *err, size_t errlen);
// flush, fsync, close and rename into place; on error the temporary is removed
int atomic_commit(AtomicFile *af, char *err, size_t errlen);
// close and remove the temporary; `path` is untouched
void atomic_abort(AtomicFile *af);

// Write a whole buffer to `path` atomically (atomic_open + atomic_write + atomic_commit).
int write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

// Join a directory and a file name into a malloc'd string ("dir/name"); NULL on allocation failure.
char *path_join(const char *dir, const char *name);

#endif
