// fileio.c: see fileio.h.
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen) {
    *data = NULL;
    *len = 0;
    // check the type before opening: opening a FIFO for reading would block forever
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        fclose(fp);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    if ((uint64_t)st.st_size >= SIZE_MAX) {
        snprintf(err, errlen, "%s: file too large", path);
        fclose(fp);
        return -1;
    }
    char *buf = malloc(size + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory reading %zu bytes", path, size);
        fclose(fp);
        return -1;
    }
    size_t got = size ? fread(buf, 1, size, fp) : 0;
    if (got != size || ferror(fp)) {
        snprintf(err, errlen, "%s: read error (got %zu of %zu bytes)", path, got, size);
        free(buf);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return 0;
}

// fsync the directory holding `path` so the rename itself survives a crash (best effort)
static void sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", (int)((slash - path) ? (slash - path) : 1), path);
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int atomic_open(AtomicFile *af, const char *path, char *err, size_t errlen) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + 32;
    af->path = strdup(path);
    af->tmp_path = malloc(n);
    if (!af->path || !af->tmp_path) {
        snprintf(err, errlen, "%s: out of memory", path);
        atomic_abort(af);
        return -1;
    }
    // mkstemp: a fresh file with an unpredictable name (never follows an existing link)
    snprintf(af->tmp_path, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd >= 0) fchmod(fd, 0644);  // mkstemp makes 0600; outputs are ordinary readable files
    af->fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!af->fp) {
        if (fd >= 0) { close(fd); remove(af->tmp_path); }
        snprintf(err, errlen, "%s: cannot create: %s", af->tmp_path, strerror(errno));
        free(af->path);
        free(af->tmp_path);
        memset(af, 0, sizeof *af);
        return -1;
    }
    return 0;
}

int atomic_write(AtomicFile *af, const void *buf, size_t n, char *err, size_t errlen) {
    if (n && fwrite(buf, 1, n, af->fp) != n) {
        snprintf(err, errlen, "%s: write failed: %s", af->path, strerror(errno));
        return -1;
    }
    return 0;
}

int atomic_commit(AtomicFile *af, char *err, size_t errlen) {
    int ok = fflush(af->fp) == 0 && fsync(fileno(af->fp)) == 0;
    int saved = errno;
    if (fclose(af->fp) != 0 && ok) { ok = 0; saved = errno; }
    af->fp = NULL;
    if (!ok) {
        snprintf(err, errlen, "%s: write failed: %s", af->path, strerror(saved));
        atomic_abort(af);
        return -1;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        snprintf(err, errlen, "%s: cannot rename temporary into place: %s", af->path, strerror(errno));
        atomic_abort(af);
        return -1;
    }
    sync_parent_dir(af->path);
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) remove(af->tmp_path);
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

int write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    AtomicFile af;
    if (atomic_open(&af, path, err, errlen) != 0) return -1;
    if (atomic_write(&af, data, len, err, errlen) != 0) { atomic_abort(&af); return -1; }
    return atomic_commit(&af, err, errlen);
}

char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a > 0 && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}
