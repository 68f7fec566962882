// fuzz_common.h: helpers shared by the libFuzzer harnesses in test/fuzz/ (doc/reliability.md).
//
// Every harness calls the same library entry point the programs call. Loaders that take a path get
// the input written to a file in a private temporary directory (in /dev/shm when it exists, so no
// disk I/O), created once per process and removed at exit. Inputs that hold several files are split
// at NUL bytes (no file we read may contain NUL, so the fuzzer loses nothing by it).
// A harness aborts (a finding) only on a broken invariant of a *successful* load: errors are fine.
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fuzz_dir_path[256];

static inline int fuzz_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

// remove a file or a whole tree (never follows symlinks)
static inline void fuzz_rm_tree(const char *path) { nftw(path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static inline void fuzz_cleanup(void) {
    if (fuzz_dir_path[0]) fuzz_rm_tree(fuzz_dir_path);
}

// The private temporary directory of this process.
static inline const char *fuzz_dir(void) {
    if (!fuzz_dir_path[0]) {
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
                               ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/encfuzz.XXXXXX", base);
        if (!mkdtemp(fuzz_dir_path)) { perror("fuzz: mkdtemp"); abort(); }
        atexit(fuzz_cleanup);
    }
    return fuzz_dir_path;
}

// "<fuzz_dir>/<name>" in a static buffer (one per call site is enough: callers copy when needed)
static inline const char *fuzz_path(const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", fuzz_dir(), name);
    return buf;
}

// Write data to path (created or truncated); aborts on I/O failure (a broken harness, not a finding).
static inline void fuzz_write_file(const char *path, const void *data, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(path); abort(); }
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) { perror(path); abort(); }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
}

// Split data at NUL bytes into at most max parts; returns the number of parts (>= 1). part i is
// data[off[i] .. off[i] + len[i]).
static inline int fuzz_split_nul(const uint8_t *data, size_t size, int max, size_t *off, size_t *len) {
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i < size && n < max - 1; i++)
        if (data[i] == 0) {
            off[n] = start; len[n] = i - start; n++;
            start = i + 1;
        }
    off[n] = start; len[n] = size - start; n++;
    return n;
}

// Fail loudly (a finding) when an invariant of a successful load does not hold.
#define FUZZ_CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "fuzz invariant failed: " __VA_ARGS__); \
                                   fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__); abort(); } } while (0)

// An error message must be one line, non-empty.
#define FUZZ_CHECK_ERR(err) FUZZ_CHECK((err)[0] && !strchr((err), '\n'), "error message not one line: '%s'", (err))

#endif
