// imdb_dir.c: the aclImdb folder layout: <split>/<label>/<name>.txt, one review per file.
//
// Rules (doc/data.md, hostile-inputs.md §5):
// - every subfolder of the split folder is a class named after it, except dot-folders and `unsup`
//   (aclImdb's unlabelled reviews); plain files beside them (urls_pos.txt, *.feat) are ignored;
// - inside a class folder, dot-files (macOS `._x.txt`) are skipped and every other entry must be a
//   regular file named *.txt (no symlinks, FIFOs or devices: opened with O_NOFOLLOW|O_NONBLOCK);
// - classes and files are read in bytewise-sorted name order (readdir order is unspecified);
// - each file is one text: valid UTF-8, non-empty, at most DATASET_MAX_FIELD_BYTES, BOM dropped.
#include "data/dataset_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"

typedef struct {
    char **names;
    int n, cap;
} NameList;

static void names_free(NameList *l) {
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int names_push(NameList *l, const char *name) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->names, (size_t)cap * sizeof *p);
        if (!p) return -1;
        l->names = p;
        l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(name))) return -1;
    l->n++;
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

// The class folders of the split folder, sorted.
static int list_classes(const char *dir, NameList *classes, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) { snprintf(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno)); return -1; }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "unsup") == 0) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (names_push(classes, e->d_name)) { snprintf(err, errlen, "%s: out of memory", dir); rc = -1; break; }
    }
    closedir(d);
    if (rc == 0 && classes->n == 0) {
        snprintf(err, errlen, "%s: no label folders (expected e.g. pos/ and neg/ holding *.txt files)", dir);
        rc = -1;
    }
    if (rc == 0) qsort(classes->names, (size_t)classes->n, sizeof(char *), cmp_names);
    return rc;
}

// The *.txt names of one class folder, sorted; fd is the open class folder (closed here).
static int list_texts(int fd, const char *class_path, NameList *files, char *err, size_t errlen) {
    DIR *d = fdopendir(fd);
    if (!d) { close(fd); snprintf(err, errlen, "%s: cannot read folder: %s", class_path, strerror(errno)); return -1; }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (!ends_with(e->d_name, ".txt")) {
            snprintf(err, errlen, "%s/%s: bad file name (expected *.txt)", class_path, e->d_name);
            rc = -1;
            break;
        }
        if (files->n >= DATASET_MAX_ROWS) {
            snprintf(err, errlen, "%s: more than %d files", class_path, DATASET_MAX_ROWS);
            rc = -1;
            break;
        }
        if (names_push(files, e->d_name)) { snprintf(err, errlen, "%s: out of memory", class_path); rc = -1; break; }
    }
    closedir(d);  // also closes fd
    if (rc == 0 && files->n == 0) { snprintf(err, errlen, "%s: no *.txt files", class_path); rc = -1; }
    if (rc == 0) qsort(files->names, (size_t)files->n, sizeof(char *), cmp_names);
    return rc;
}

// Read one review file (a regular file, not followed through a symlink) into a malloc'd string.
static int read_text_file(int dir_fd, const char *name, const char *file_path, char **text, size_t *len,
                          char *err, size_t errlen) {
    *text = NULL;
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s%s", file_path, strerror(errno),
                 errno == ELOOP ? " (symlinks are not followed)" : "");
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", file_path);
        close(fd);
        return -1;
    }
    if (st.st_size > DATASET_MAX_FIELD_BYTES) {
        snprintf(err, errlen, "%s: file larger than %d bytes", file_path, DATASET_MAX_FIELD_BYTES);
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = malloc(size + 1);
    if (!buf) { snprintf(err, errlen, "%s: out of memory", file_path); close(fd); return -1; }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != size) {
        snprintf(err, errlen, "%s: read error (got %zu of %zu bytes)", file_path, got, size);
        free(buf);
        return -1;
    }
    buf[size] = '\0';
    *text = buf;
    *len = size;
    return 0;
}

static int read_class(const char *dir, const char *label, const DatasetOptions *opt, RecordList *out,
                      DataFingerprint *fp, char *err, size_t errlen) {
    char *class_path = path_join(dir, label);
    if (!class_path) { snprintf(err, errlen, "%s: out of memory", dir); return -1; }
    NameList files = {0};
    int rc = -1;
    int fd = open(class_path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) { snprintf(err, errlen, "%s: cannot open folder: %s", class_path, strerror(errno)); goto done; }
    int list_fd = dup(fd);  // fdopendir takes ownership of one descriptor; the other opens the files
    if (list_fd < 0) { close(fd); snprintf(err, errlen, "%s: %s", class_path, strerror(errno)); goto done; }
    if (list_texts(list_fd, class_path, &files, err, errlen)) { close(fd); goto done; }
    for (int i = 0; i < files.n; i++) {
        char *file_path = path_join(class_path, files.names[i]);
        char *text = NULL;
        size_t len = 0;
        int ok = file_path && read_text_file(fd, files.names[i], file_path, &text, &len, err, errlen) == 0;
        if (!file_path) snprintf(err, errlen, "%s: out of memory", class_path);
        if (ok) ok = text_check_utf8(file_path, text, len, err, errlen) == 0;
        if (ok) {
            // fingerprint: "<label>/<name>\0<bytes>" of every file in load order
            fp->size += len;
            fp->fnv1a64 = fnv1a64_update(fp->fnv1a64, label, strlen(label));
            fp->fnv1a64 = fnv1a64_update(fp->fnv1a64, "/", 1);
            fp->fnv1a64 = fnv1a64_update(fp->fnv1a64, files.names[i], strlen(files.names[i]) + 1);
            fp->fnv1a64 = fnv1a64_update(fp->fnv1a64, text, len);
            size_t bom = text_bom_length(text, len);
            if (len == bom) { snprintf(err, errlen, "%s: empty text", file_path); ok = 0; }
            if (ok) ok = records_push(out, file_path, text + bom, len - bom, opt->unlabeled ? NULL : label,
                                      strlen(label), 0, err, errlen) == 0;
        }
        free(text);
        free(file_path);
        if (!ok) { close(fd); goto done; }
    }
    close(fd);
    rc = 0;
done:
    names_free(&files);
    free(class_path);
    return rc;
}

int imdb_dir_read(const char *dir, const DatasetOptions *opt, RecordList *out, DataFingerprint *fp,
                  char *err, size_t errlen) {
    NameList classes = {0};
    fp->size = 0;
    fp->fnv1a64 = FNV1A64_INIT;
    int rc = list_classes(dir, &classes, err, errlen);
    for (int c = 0; rc == 0 && c < classes.n; c++)
        rc = read_class(dir, classes.names[c], opt, out, fp, err, errlen);
    names_free(&classes);
    return rc;
}
