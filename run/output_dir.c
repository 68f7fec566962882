// output_dir.c: the output folder rules and run.json (output_dir.h).
#include "run/output_dir.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/dirs.h"
#include "common/fileio.h"
#include "common/json_check.h"
#include "data/dataset_internal.h"

const RunEntry RUN_ENTRIES[] = {
    {RUN_MANIFEST, 0},    {"split.json", 0},      {"history.json", 0}, {"history.svg", 0},
    {"metrics.json", 0},  {"predictions.csv", 0}, {"confusion_matrix.svg", 0},
    {"best", 1},          {"resume", 1},
};
const int N_RUN_ENTRIES = (int)(sizeof RUN_ENTRIES / sizeof RUN_ENTRIES[0]);

#define RUN_VERSION 1
#define RUN_MANIFEST_MAX_BYTES (1u << 20)
#define REMOVE_MAX_DEPTH 4  // best/ and resume/ are flat; a little room for what a user put there

int file_fingerprint(const char *path, size_t *size, uint64_t *hash, char *err, size_t errlen) {
    char *data;
    if (read_file(path, &data, size, err, errlen) != 0) return -1;
    *hash = fnv1a64_update(FNV1A64_INIT, data, *size);
    free(data);
    return 0;
}

// "<entry>.tmp.XXXXXX" or "<entry>.old.XXXXXX" for a run entry: an atomic write of a killed run
static int is_leftover(const char *name) {
    for (int i = 0; i < N_RUN_ENTRIES; i++) {
        size_t n = strlen(RUN_ENTRIES[i].name);
        if (strncmp(name, RUN_ENTRIES[i].name, n) != 0) continue;
        const char *rest = name + n;
        if ((!strncmp(rest, ".tmp.", 5) || !strncmp(rest, ".old.", 5)) && strlen(rest + 5) == 6) return 1;
    }
    return 0;
}

int output_dir_check(const char *dir, int *has_run, char *err, size_t errlen) {
    *has_run = 0;
    if (!dir[0]) {
        snprintf(err, errlen, "the output folder name is empty (give a folder name; '.' is the current folder)");
        return -1;
    }
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT) return 0;  // made later, after every input check
        snprintf(err, errlen, "%s: cannot inspect the output folder: %s", dir, strerror(errno));
        return -1;
    }
    if (S_ISLNK(st.st_mode)) {
        snprintf(err, errlen, "%s: the output folder is a symbolic link (a run never writes through links); give "
                 "the folder it points to, or another name", dir);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: exists and is not a directory", dir);
        return -1;
    }
    for (int i = 0; i < N_RUN_ENTRIES; i++) {
        char *p = path_join(dir, RUN_ENTRIES[i].name);
        if (!p) { snprintf(err, errlen, "%s: out of memory", dir); return -1; }
        int rc = 0;
        if (lstat(p, &st) == 0) {
            *has_run = 1;
            if (S_ISLNK(st.st_mode)) {
                snprintf(err, errlen, "%s: is a symbolic link (a run never follows links in its output folder); "
                         "remove it or choose another --output-dir", p);
                rc = -1;
            } else if (RUN_ENTRIES[i].is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
                snprintf(err, errlen, "%s: is not a %s, as a run of ./train writes it; remove it or choose another "
                         "--output-dir", p, RUN_ENTRIES[i].is_dir ? "folder" : "regular file");
                rc = -1;
            }
        } else if (errno != ENOENT) {
            snprintf(err, errlen, "%s: cannot inspect: %s", p, strerror(errno));
            rc = -1;
        }
        free(p);
        if (rc) return -1;
    }
    DIR *d = opendir(dir);
    if (!d) { snprintf(err, errlen, "%s: cannot list the output folder: %s", dir, strerror(errno)); return -1; }
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (is_leftover(e->d_name)) *has_run = 1;
    closedir(d);
    return 0;
}

int eval_dir_check(const char *dir, char *err, size_t errlen) {
    static const char *const reports[] = {"metrics.json", "predictions.csv", "confusion_matrix.svg"};
    int has_run;
    // the same type and link rules as a training run's folder; then: no training run's entries
    if (output_dir_check(dir, &has_run, err, errlen) != 0) return -1;
    for (int i = 0; has_run && i < N_RUN_ENTRIES; i++) {
        int is_report = 0;
        for (int k = 0; k < 3; k++) is_report |= !strcmp(RUN_ENTRIES[i].name, reports[k]);
        char *p = path_join(dir, RUN_ENTRIES[i].name);
        struct stat st;
        int found = p && !is_report && lstat(p, &st) == 0;
        free(p);
        if (found) {
            snprintf(err, errlen, "%s holds a training run (%s): ./infer --eval would replace its reports; give a "
                     "folder of its own, e.g. --output-dir %s/eval", dir, RUN_ENTRIES[i].name, dir);
            return -1;
        }
    }
    return 0;
}

const char *output_dir_entry_holding(const char *dir, const char *path) {
    for (int i = 0; i < N_RUN_ENTRIES; i++) {
        char *p = path_join(dir, RUN_ENTRIES[i].name);
        int inside = p && path_is_within(path, p);
        free(p);
        if (inside) return RUN_ENTRIES[i].name;
    }
    return NULL;
}

// remove every entry of dir whose name passes `pick` (links as links)
static int remove_picked(const char *dir, int (*pick)(const char *name), char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: cannot list the output folder: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!pick(e->d_name)) continue;
        char *p = path_join(dir, e->d_name);
        if (!p) { snprintf(err, errlen, "%s: out of memory", dir); rc = -1; break; }
        rc = remove_tree_nofollow(p, REMOVE_MAX_DEPTH, err, errlen);
        free(p);
    }
    closedir(d);
    return rc;
}

int output_dir_remove_leftovers(const char *dir, char *err, size_t errlen) {
    return remove_picked(dir, is_leftover, err, errlen);
}

static int is_run_entry(const char *name) {
    for (int i = 0; i < N_RUN_ENTRIES; i++)
        if (!strcmp(name, RUN_ENTRIES[i].name)) return 1;
    return 0;
}

int output_dir_clear(const char *dir, char *err, size_t errlen) {
    char *manifest = path_join(dir, RUN_MANIFEST);
    if (!manifest) { snprintf(err, errlen, "%s: out of memory", dir); return -1; }
    int rc = remove_tree_nofollow(manifest, 0, err, errlen);
    free(manifest);
    if (rc == 0) rc = remove_picked(dir, is_run_entry, err, errlen);
    if (rc == 0) rc = output_dir_remove_leftovers(dir, err, errlen);
    return rc;
}

void run_id_new(char id[RUN_ID_CHARS + 1]) {
    uint64_t x = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    int got = fd >= 0 && read(fd, &x, sizeof x) == (ssize_t)sizeof x;
    if (fd >= 0) close(fd);
    if (!got) {  // no /dev/urandom: the clock and the pid, mixed (a run id only needs to differ between runs)
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        x = fnv1a64_update(FNV1A64_INIT, &ts, sizeof ts);
        pid_t pid = getpid();
        x = fnv1a64_update(x, &pid, sizeof pid);
    }
    snprintf(id, RUN_ID_CHARS + 1, "%016" PRIx64, x);
}

static int write_manifest(const char *dir, cJSON *root, char *err, size_t errlen) {
    char *text = cJSON_Print(root), *path = path_join(dir, RUN_MANIFEST);
    int rc = -1;
    if (!text || !path) snprintf(err, errlen, "%s/%s: out of memory", dir, RUN_MANIFEST);
    else rc = write_file_atomic(path, text, strlen(text), err, errlen);
    cJSON_free(text);
    free(path);
    return rc;
}

static cJSON *manifest_head(const char *run_id, const char *status) {
    cJSON *o = cJSON_CreateObject();
    if (o && cJSON_AddStringToObject(o, "format", RUN_FORMAT) && cJSON_AddNumberToObject(o, "version", RUN_VERSION) &&
        cJSON_AddStringToObject(o, "run_id", run_id) && cJSON_AddStringToObject(o, "status", status))
        return o;
    cJSON_Delete(o);
    return NULL;
}

int run_manifest_start(const char *dir, const char *run_id, char *err, size_t errlen) {
    cJSON *o = manifest_head(run_id, "running");
    if (!o) { snprintf(err, errlen, "%s/%s: out of memory", dir, RUN_MANIFEST); return -1; }
    int rc = write_manifest(dir, o, err, errlen);
    cJSON_Delete(o);
    return rc;
}

// The run files of dir as relative names (malloc'd, *n of them): the top-level run files, every
// entry of best/, and resume/trainer_state.json. Entries that are not regular files are listed too,
// so that the caller's fingerprint reports them.
static char **list_run_files(const char *dir, int *n, char *err, size_t errlen) {
    int cap = 64;
    char **names = calloc((size_t)cap, sizeof *names);
    *n = 0;
    if (!names) goto oom;
    for (int i = 0; i < N_RUN_ENTRIES; i++) {
        if (RUN_ENTRIES[i].is_dir || !strcmp(RUN_ENTRIES[i].name, RUN_MANIFEST)) continue;
        char *p = path_join(dir, RUN_ENTRIES[i].name);
        struct stat st;
        if (!p) goto oom;
        if (lstat(p, &st) == 0 && !(names[(*n)++] = strdup(RUN_ENTRIES[i].name))) { free(p); goto oom; }
        free(p);
    }
    char *best = path_join(dir, "best"), *state = path_join(dir, "resume/trainer_state.json");
    if (!best || !state) { free(best); free(state); goto oom; }
    struct stat st;
    if (lstat(state, &st) == 0 && !(names[(*n)++] = strdup("resume/trainer_state.json"))) {
        free(best); free(state); goto oom;
    }
    free(state);
    DIR *d = opendir(best);
    free(best);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (*n == cap) {
            char **more = realloc(names, sizeof *names * (size_t)(cap *= 2));
            if (!more) { closedir(d); goto oom; }
            names = more;
        }
        size_t len = strlen(e->d_name) + 6;
        if (!(names[*n] = malloc(len))) { closedir(d); goto oom; }
        snprintf(names[(*n)++], len, "best/%s", e->d_name);
    }
    if (d) closedir(d);
    return names;
oom:
    for (int i = 0; names && i < *n; i++) free(names[i]);
    free(names);
    snprintf(err, errlen, "%s: out of memory listing the run's files", dir);
    return NULL;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

// size and hash of dir/name as JSON-ready values; -1 with err if it is not a readable regular file
static int fingerprint_in(const char *dir, const char *name, size_t *size, char hex[17], char *err, size_t errlen) {
    char *p = path_join(dir, name);
    struct stat st;
    uint64_t h;
    int rc = -1;
    if (!p) snprintf(err, errlen, "%s: out of memory", dir);
    else if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) snprintf(err, errlen, "%s: not a regular file", p);
    else if (file_fingerprint(p, size, &h, err, errlen) == 0) {
        snprintf(hex, 17, "%016" PRIx64, h);
        rc = 0;
    }
    free(p);
    return rc;
}

int run_manifest_complete(const char *dir, const char *run_id, char *err, size_t errlen) {
    int n;
    char **names = list_run_files(dir, &n, err, errlen);
    if (!names) return -1;
    cJSON *o = manifest_head(run_id, "complete"), *files = o ? cJSON_AddObjectToObject(o, "files") : NULL;
    int rc = files ? 0 : -1;
    if (!files) snprintf(err, errlen, "%s/%s: out of memory", dir, RUN_MANIFEST);
    for (int i = 0; rc == 0 && i < n; i++) {
        size_t size;
        char hex[17];
        cJSON *f;
        rc = fingerprint_in(dir, names[i], &size, hex, err, errlen);
        if (rc == 0 && !((f = cJSON_AddObjectToObject(files, names[i])) && cJSON_AddNumberToObject(f, "size", (double)size) &&
                         cJSON_AddStringToObject(f, "fnv1a64", hex))) {
            snprintf(err, errlen, "%s/%s: out of memory", dir, RUN_MANIFEST);
            rc = -1;
        }
    }
    if (rc == 0) rc = write_manifest(dir, o, err, errlen);
    cJSON_Delete(o);
    free_names(names, n);
    return rc;
}

// every run file present is listed in `files` with its size and hash
static int verify_files(const char *dir, const cJSON *files, const char *path, char *err, size_t errlen) {
    if (!cJSON_IsObject(files)) { snprintf(err, errlen, "%s: 'files' must be an object", path); return -1; }
    int n;
    char **names = list_run_files(dir, &n, err, errlen);
    if (!names) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(files, names[i]);
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "size"), *hash = cJSON_GetObjectItemCaseSensitive(f, "fnv1a64");
        size_t got;
        char hex[17];
        if (!f) {
            snprintf(err, errlen, "%s/%s: not among the files of run.json: it comes from another run", dir, names[i]);
            rc = -1;
        } else if (fingerprint_in(dir, names[i], &got, hex, err, errlen) != 0) {
            rc = -1;
        } else if (!cJSON_IsNumber(size) || size->valuedouble != (double)got || !cJSON_IsString(hash) ||
                   strcmp(hash->valuestring, hex) != 0) {
            snprintf(err, errlen, "%s/%s: size or checksum differs from run.json: it comes from another run or "
                     "changed after the run ended", dir, names[i]);
            rc = -1;
        }
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, files) {  // and every file listed is still there
        int found = 0;
        for (int i = 0; i < n && !found; i++) found = f->string && !strcmp(f->string, names[i]);
        if (rc == 0 && !found) {
            snprintf(err, errlen, "%s/%s: listed in run.json but missing (the run's outputs are incomplete)", dir,
                     f->string ? f->string : "?");
            rc = -1;
        }
    }
    free_names(names, n);
    return rc;
}

int run_manifest_read(const char *dir, char run_id[RUN_ID_CHARS + 1], int *complete, int verify, char *err,
                      size_t errlen) {
    char *path = path_join(dir, RUN_MANIFEST);
    if (!path) { snprintf(err, errlen, "%s: out of memory", dir); return -1; }
    struct stat st;
    if (lstat(path, &st) != 0) {
        snprintf(err, errlen, "%s: no %s: not the folder of a run of ./train (or of one older than run.json)", dir,
                 RUN_MANIFEST);
        free(path);
        return -1;
    }
    cJSON *o = json_read_file(path, RUN_MANIFEST_MAX_BYTES, 8, err, errlen);
    int rc = -1;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format"), *ver = cJSON_GetObjectItemCaseSensitive(o, "version"),
                *id = cJSON_GetObjectItemCaseSensitive(o, "run_id"), *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    if (!o) {
        err_one_line(err, errlen);
    } else if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, RUN_FORMAT) != 0) {
        snprintf(err, errlen, "%s: 'format' is not \"%s\"", path, RUN_FORMAT);
    } else if (!cJSON_IsNumber(ver) || ver->valuedouble != RUN_VERSION) {
        snprintf(err, errlen, "%s: 'version' must be %d", path, RUN_VERSION);
    } else if (!cJSON_IsString(id) || strlen(id->valuestring) != RUN_ID_CHARS ||
               strspn(id->valuestring, "0123456789abcdef") != RUN_ID_CHARS) {
        snprintf(err, errlen, "%s: 'run_id' must be %d lowercase hex digits", path, RUN_ID_CHARS);
    } else if (!cJSON_IsString(status) || (strcmp(status->valuestring, "running") && strcmp(status->valuestring, "complete"))) {
        snprintf(err, errlen, "%s: 'status' must be \"running\" or \"complete\"", path);
    } else {
        memcpy(run_id, id->valuestring, RUN_ID_CHARS + 1);
        *complete = !strcmp(status->valuestring, "complete");
        rc = *complete && verify ? verify_files(dir, cJSON_GetObjectItemCaseSensitive(o, "files"), path, err, errlen) : 0;
    }
    cJSON_Delete(o);
    free(path);
    return rc;
}
