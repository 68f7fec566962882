// compare.c: the model comparison report — one row per trained output folder, like the seed
// notebook's DistilBERT-vs-RoBERTa table.
//
//   ./compare [--output PREFIX] OUTPUT_DIR...
//
// For each OUTPUT_DIR written by ./train it reads best/config.json (architecture, layers, hidden size,
// parameter count), metrics.json (accuracy, F1, log loss on the validation rows) and history.json
// (training examples/s, the mean over epochs), prints a markdown table, and with --output writes
// PREFIX.json and PREFIX.md (atomically). A folder is compared only when its run.json says the run
// is complete and every file has the size and hash run.json records (one run, not a mixture), and
// every number it reads is a number.
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "model/config.h"
#include "model/model.h"
#include "run/output_dir.h"

typedef struct {
    const char *dir;
    char model_type[32];
    size_t parameters;
    int layers, hidden, heads;
    double accuracy, f1, log_loss, examples_per_s;
} Row;

static cJSON *read_json(const char *dir, const char *name, char *err, size_t errlen) {
    char *path = path_join(dir, name), *text = NULL;
    size_t len;
    cJSON *json = NULL;
    if (!path) { snprintf(err, errlen, "%s: out of memory", dir); return NULL; }
    if (read_file(path, &text, &len, err, errlen) == 0) {
        json = cJSON_ParseWithLength(text, len);
        if (!json) snprintf(err, errlen, "%s: not valid JSON", path);
    }
    free(text);
    free(path);
    return json;
}

// obj[key] as a finite number; else -1 with "<dir>/<file>: 'key' must be a number, found ..."
static int number_field(const cJSON *obj, const char *key, const char *dir, const char *file, double *out, char *err,
                        size_t errlen) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNumber(it) && isfinite(it->valuedouble)) { *out = it->valuedouble; return 0; }
    const char *found = !it ? "nothing" : cJSON_IsString(it) ? "a string" : cJSON_IsNumber(it) ? "a non-finite number"
                        : cJSON_IsNull(it) ? "null" : "another type";
    snprintf(err, errlen, "%s/%s: '%s' must be a number, found %s", dir, file, key, found);
    return -1;
}

static int read_row(Row *r, const char *dir, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->dir = dir;
    // one complete run: run.json lists every file with its size and hash (run/output_dir.h), so a folder
    // holding files of two runs, or a run cut short, is refused before anything is read
    char run_id[RUN_ID_CHARS + 1];
    int complete;
    if (run_manifest_read(dir, run_id, &complete, 1, err, errlen) != 0) return -1;
    if (!complete) {
        snprintf(err, errlen, "%s: run %s did not finish (run.json says \"running\"): its outputs are incomplete", dir,
                 run_id);
        return -1;
    }
    char *best = path_join(dir, "best"), *config_path = best ? path_join(best, "config.json") : NULL;
    ModelConfig cfg;
    int rc = config_path ? config_load(&cfg, config_path, err, errlen) : -1;
    free(best);
    free(config_path);
    if (rc != 0) return -1;
    snprintf(r->model_type, sizeof r->model_type, "%s", cfg.model_type);
    r->parameters = model_num_parameters(&cfg);
    r->layers = cfg.n_layers;
    r->hidden = cfg.dim;
    r->heads = cfg.n_heads;
    config_free(&cfg);

    cJSON *metrics = read_json(dir, "metrics.json", err, errlen);
    if (!metrics) return -1;
    rc = number_field(metrics, "accuracy", dir, "metrics.json", &r->accuracy, err, errlen) ||
         number_field(metrics, "f1", dir, "metrics.json", &r->f1, err, errlen) ||
         number_field(metrics, "log_loss", dir, "metrics.json", &r->log_loss, err, errlen);
    cJSON_Delete(metrics);
    if (rc) return -1;

    cJSON *history = read_json(dir, "history.json", err, errlen);
    if (!history) return -1;
    double sum = 0;
    int n = 0;
    const cJSON *epoch;
    if (!cJSON_IsArray(history) || cJSON_GetArraySize(history) < 1) {
        snprintf(err, errlen, "%s/history.json: must be a list with one object per epoch", dir);
        rc = -1;
    }
    cJSON_ArrayForEach(epoch, history) {
        double v;
        if (rc == 0 && number_field(epoch, "examples_per_s", dir, "history.json", &v, err, errlen) != 0) rc = -1;
        if (rc == 0) { sum += v; n++; }
    }
    r->examples_per_s = n ? sum / n : NAN;
    cJSON_Delete(history);
    return rc;
}

// the markdown table, into a malloc'd string
static char *markdown_table(const Row *rows, int n) {
    size_t cap = 512 + (size_t)n * 512, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    len += (size_t)snprintf(out + len, cap - len,
                            "| output | model | parameters | layers | hidden | heads | accuracy | F1 | log loss | train examples/s |\n"
                            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        const Row *r = &rows[i];
        len += (size_t)snprintf(out + len, cap - len,
                                "| %s | %s | %.2fM | %d | %d | %d | %.4f | %.4f | %.4f | %.1f |\n", r->dir,
                                r->model_type, r->parameters / 1e6, r->layers, r->hidden, r->heads, r->accuracy,
                                r->f1, r->log_loss, r->examples_per_s);
    }
    return out;
}

static char *json_report(const Row *rows, int n) {
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; list && i < n; i++) {
        const Row *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddStringToObject(o, "output_dir", r->dir);
        cJSON_AddStringToObject(o, "model_type", r->model_type);
        cJSON_AddNumberToObject(o, "parameters", (double)r->parameters);
        cJSON_AddNumberToObject(o, "layers", r->layers);
        cJSON_AddNumberToObject(o, "hidden_size", r->hidden);
        cJSON_AddNumberToObject(o, "heads", r->heads);
        cJSON_AddNumberToObject(o, "accuracy", r->accuracy);
        cJSON_AddNumberToObject(o, "f1", r->f1);
        cJSON_AddNumberToObject(o, "log_loss", r->log_loss);
        cJSON_AddNumberToObject(o, "examples_per_s", r->examples_per_s);
        cJSON_AddItemToArray(list, o);
    }
    char *text = list ? cJSON_Print(list) : NULL;
    cJSON_Delete(list);
    return text;
}

static int write_text(const char *prefix, const char *ext, const char *text, char *err, size_t errlen) {
    size_t n = strlen(prefix) + strlen(ext) + 1;
    char *path = malloc(n);
    if (!path) { snprintf(err, errlen, "%s%s: out of memory", prefix, ext); return -1; }
    snprintf(path, n, "%s%s", prefix, ext);
    int rc = write_file_atomic(path, text, strlen(text), err, errlen);
    free(path);
    return rc;
}

int main(int argc, char **argv) {
    const char *output = NULL;
    const char **dirs = calloc((size_t)argc, sizeof(char *));
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) output = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--output PREFIX] OUTPUT_DIR...\n"
                            "  compares folders written by ./train (best/config.json, metrics.json, history.json);\n"
                            "  each must hold one complete run (its run.json says \"complete\" and lists every file)\n"
                            "  prints a markdown table; --output also writes PREFIX.json and PREFIX.md\n", argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        } else dirs[n++] = argv[i];
    }
    if (n == 0) { fprintf(stderr, "usage: %s [--output PREFIX] OUTPUT_DIR...\n", argv[0]); return 2; }
    Row *rows = calloc((size_t)n, sizeof(Row));
    char err[1024];
    if (!rows) { fprintf(stderr, "out of memory\n"); return 1; }
    for (int i = 0; i < n; i++) {
        if (read_row(&rows[i], dirs[i], err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    }
    char *md = markdown_table(rows, n), *json = json_report(rows, n);
    if (!md || !json) { fprintf(stderr, "out of memory\n"); return 1; }
    fputs(md, stdout);
    if (output && (write_text(output, ".md", md, err, sizeof err) != 0 ||
                   write_text(output, ".json", json, err, sizeof err) != 0)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    free(md);
    free(json);
    free(rows);
    free(dirs);
    return 0;
}
