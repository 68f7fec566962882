// fuzz_imdb_dir.c: the aclImdb folder reader (dataset_load, format imdb-dir). The input describes a split
// folder as NUL-separated triples  label NUL name NUL content  (at most 12 files): each becomes
// <split>/<label>/<name> holding <content>. A name ending in '/' becomes a sub-folder instead of a file
// (the reader must refuse it), and '/' elsewhere in a name or label is replaced by '_'.
#include "test/fuzz/fuzz_common.h"

#include <errno.h>

#include "data/dataset.h"

#define MAX_FILES 12

// a path component from fuzz bytes: '/' -> '_', NUL impossible (split on it), "", "." and ".." -> "x"
static void component(char *out, size_t cap, const uint8_t *s, size_t n, int *is_dir) {
    *is_dir = n > 0 && s[n - 1] == '/';
    if (*is_dir) n--;
    if (n > cap - 1) n = cap - 1;
    for (size_t i = 0; i < n; i++) out[i] = s[i] == '/' ? '_' : (char)s[i];
    out[n] = '\0';
    if (!strcmp(out, "") || !strcmp(out, ".") || !strcmp(out, "..")) strcpy(out, "x");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char split[300], p[900], err[512];
    fuzz_path("split", split, sizeof split);
    fuzz_rm_tree(split);
    if (mkdir(split, 0755) != 0) { perror(split); abort(); }
    size_t off[3 * MAX_FILES], len[3 * MAX_FILES];
    int n = fuzz_split_nul(data, size, 3 * MAX_FILES, off, len);
    for (int i = 0; i + 2 < n; i += 3) {
        char label[128], name[128];
        int label_dir, name_dir;
        component(label, sizeof label, data + off[i], len[i], &label_dir);
        component(name, sizeof name, data + off[i + 1], len[i + 1], &name_dir);
        snprintf(p, sizeof p, "%s/%s", split, label);
        if (mkdir(p, 0755) != 0 && errno != EEXIST) continue;  // e.g. a file already has that name
        snprintf(p, sizeof p, "%s/%s/%s", split, label, name);
        if (name_dir) { mkdir(p, 0755); continue; }
        struct stat st;
        if (lstat(p, &st) == 0) continue;  // first one wins
        fuzz_write_file(p, data + off[i + 2], len[i + 2]);
    }
    DatasetOptions opt = dataset_options_default(split);
    opt.format = DATASET_FORMAT_IMDB_DIR;
    Dataset ds;
    memset(&ds, 0, sizeof ds);
    if (dataset_load(&ds, &opt, err, sizeof err) != 0) {
        FUZZ_CHECK_ERR(err);
        dataset_free(&ds);
        return 0;
    }
    FUZZ_CHECK(ds.n >= 1 && ds.n <= MAX_FILES, "%d rows", ds.n);
    for (int i = 0; i < ds.n; i++) {
        FUZZ_CHECK(ds.texts[i] && ds.texts[i][0], "row %d empty", i);
        FUZZ_CHECK(ds.labels[i] >= 0 && ds.labels[i] < ds.n_labels, "row %d label %d", i, ds.labels[i]);
    }
    dataset_free(&ds);
    return 0;
}
