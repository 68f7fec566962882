// metrics_io.c: the outputs of an evaluation: classification report text, metrics.json and
// predictions.csv (both written atomically). See metrics.h.
#include "data/metrics.h"

#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

// A growing text buffer; after an allocation failure it stays failed (ok = 0).
typedef struct {
    char *s;
    size_t len, cap;
    int ok;
} TextBuf;

static void tb_printf(TextBuf *tb, const char *fmt, ...) {
    if (!tb->ok) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(tb->s ? tb->s + tb->len : NULL, tb->s ? tb->cap - tb->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { tb->ok = 0; return; }
        if (tb->s && tb->len + (size_t)k < tb->cap) { tb->len += (size_t)k; return; }
        size_t cap = tb->cap ? tb->cap : 1024;
        while (cap <= tb->len + (size_t)k) cap *= 2;
        char *p = realloc(tb->s, cap);
        if (!p) { tb->ok = 0; return; }
        tb->s = p;
        tb->cap = cap;
    }
}

static void tb_pad(TextBuf *tb, int n) {
    for (int i = 0; i < n; i++) tb_printf(tb, " ");
}

// Display width as Python's len(): UTF-8 code points (bytes that are not continuation bytes).
static int utf8_width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static const char *class_name(char *const *names, int c, char *tmp, size_t cap) {
    if (names) return names[c];
    snprintf(tmp, cap, "%d", c);
    return tmp;
}

// sklearn.metrics.classification_report(digits=2):
//   width = max(len(name), len("weighted avg"), 2); header "{:>width} " + " {:>9}" x 4, blank line,
//   rows "{:>width} " + " {:>9.2f}" x 3 + " {:>9}", blank line, accuracy, macro avg, weighted avg.
char *metrics_report(const Metrics *m, char *const *label_names) {
    char tmp[16];
    int width = (int)strlen("weighted avg");
    for (int c = 0; c < m->C; c++) {
        int w = utf8_width(class_name(label_names, c, tmp, sizeof tmp));
        if (w > width) width = w;
    }
    TextBuf tb = {NULL, 0, 0, 1};
    tb_pad(&tb, width);
    tb_printf(&tb, "  %9s %9s %9s %9s\n\n", "precision", "recall", "f1-score", "support");
    for (int c = 0; c < m->C; c++) {
        const char *name = class_name(label_names, c, tmp, sizeof tmp);
        tb_pad(&tb, width - utf8_width(name));
        tb_printf(&tb, "%s  %9.2f %9.2f %9.2f %9d\n", name, m->precision[c], m->recall[c], m->f1[c], m->support[c]);
    }
    tb_printf(&tb, "\n");
    tb_pad(&tb, width - 8);
    tb_printf(&tb, "accuracy  %9s %9s %9.2f %9d\n", "", "", m->accuracy, m->n);
    tb_pad(&tb, width - 9);
    tb_printf(&tb, "macro avg  %9.2f %9.2f %9.2f %9d\n", m->macro_precision, m->macro_recall, m->macro_f1, m->n);
    tb_pad(&tb, width - 12);
    tb_printf(&tb, "weighted avg  %9.2f %9.2f %9.2f %9d\n", m->weighted_precision, m->weighted_recall,
              m->weighted_f1, m->n);
    if (!tb.ok) { free(tb.s); return NULL; }
    return tb.s;
}

static cJSON *prf_object(double p, double r, double f1, int support) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (!cJSON_AddNumberToObject(o, "precision", p) || !cJSON_AddNumberToObject(o, "recall", r) ||
        !cJSON_AddNumberToObject(o, "f1", f1) || !cJSON_AddNumberToObject(o, "support", support)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

// cJSON_AddItemToObject that frees the item on failure; 0 on failure.
static int add_item(cJSON *obj, const char *key, cJSON *item) {
    if (!item) return 0;
    if (!cJSON_AddItemToObject(obj, key, item)) { cJSON_Delete(item); return 0; }
    return 1;
}

static int add_to_array(cJSON *arr, cJSON *item) {
    if (!item) return 0;
    if (!cJSON_AddItemToArray(arr, item)) { cJSON_Delete(item); return 0; }
    return 1;
}

// Atomic write of a NUL-terminated string plus a final newline.
static int write_text(const char *path, const char *text, char *err, size_t errlen) {
    AtomicFile af;
    if (atomic_open(&af, path, err, errlen)) return -1;
    if (atomic_write(&af, text, strlen(text), err, errlen) || atomic_write(&af, "\n", 1, err, errlen)) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af, err, errlen);
}

int metrics_write_json(const char *path, const Metrics *m, char *const *label_names, char *err, size_t errlen) {
    char tmp[16];
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    ok = ok && cJSON_AddNumberToObject(root, "n", m->n);
    ok = ok && cJSON_AddNumberToObject(root, "num_labels", m->C);
    cJSON *names = ok ? cJSON_CreateArray() : NULL;
    ok = ok && add_item(root, "label_names", names);
    for (int c = 0; ok && c < m->C; c++)
        ok = add_to_array(names, cJSON_CreateString(class_name(label_names, c, tmp, sizeof tmp)));
    ok = ok && cJSON_AddNumberToObject(root, "accuracy", m->accuracy);
    int binary = m->C == 2;  // headline scores: the positive class (1), else macro averages
    ok = ok && cJSON_AddStringToObject(root, "average", binary ? "binary" : "macro");
    ok = ok && cJSON_AddNumberToObject(root, "f1", binary ? m->binary_f1 : m->macro_f1);
    ok = ok && cJSON_AddNumberToObject(root, "precision", binary ? m->precision[1] : m->macro_precision);
    ok = ok && cJSON_AddNumberToObject(root, "recall", binary ? m->recall[1] : m->macro_recall);
    if (m->has_probs) ok = ok && cJSON_AddNumberToObject(root, "log_loss", m->log_loss);
    if (m->has_probs && m->C == 2) ok = ok && cJSON_AddNumberToObject(root, "brier", m->brier);
    if (m->has_probs) ok = ok && cJSON_AddNumberToObject(root, "ece", m->ece);
    cJSON *per_class = ok ? cJSON_CreateArray() : NULL;
    ok = ok && add_item(root, "per_class", per_class);
    for (int c = 0; ok && c < m->C; c++) {
        cJSON *o = prf_object(m->precision[c], m->recall[c], m->f1[c], m->support[c]);
        ok = add_to_array(per_class, o) &&
             cJSON_AddStringToObject(o, "label", class_name(label_names, c, tmp, sizeof tmp)) != NULL;
    }
    ok = ok && add_item(root, "macro_avg", prf_object(m->macro_precision, m->macro_recall, m->macro_f1, m->n));
    ok = ok && add_item(root, "weighted_avg",
                        prf_object(m->weighted_precision, m->weighted_recall, m->weighted_f1, m->n));
    cJSON *cm = ok ? cJSON_CreateArray() : NULL;
    ok = ok && add_item(root, "confusion_matrix", cm);  // rows = true label, columns = predicted
    for (int t = 0; ok && t < m->C; t++) ok = add_to_array(cm, cJSON_CreateIntArray(m->confusion + t * m->C, m->C));
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    int rc = write_text(path, text, err, errlen);
    cJSON_free(text);
    return rc;
}

// One CSV field, quoted (RFC 4180) when it holds ',', '"', CR or LF.
static void csv_field(TextBuf *tb, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) { tb_printf(tb, "%s", s); return; }
    tb_printf(tb, "\"");
    for (; *s; s++) tb_printf(tb, *s == '"' ? "\"\"" : "%c", *s);
    tb_printf(tb, "\"");
}

int predictions_write_csv(const char *path, const int *rows, const int *labels, const int *preds,
                          const float *probs, int n, int C, char *const *label_names, char *err, size_t errlen) {
    char tmp[16];
    for (int i = 0; i < n; i++) {
        if (preds[i] < 0 || preds[i] >= C || (labels && (labels[i] < -1 || labels[i] >= C))) {
            snprintf(err, errlen, "%s: example %d has a label or prediction outside [0, %d)", path, i, C);
            return -1;
        }
    }
    TextBuf tb = {NULL, 0, 0, 1};
    tb_printf(&tb, "row,label_id,label,pred_id,pred");
    for (int c = 0; probs && c < C; c++) {
        char col[300];
        snprintf(col, sizeof col, "prob_%s", class_name(label_names, c, tmp, sizeof tmp));
        tb_printf(&tb, ",");
        csv_field(&tb, col);
    }
    tb_printf(&tb, "\n");
    for (int i = 0; i < n; i++) {
        tb_printf(&tb, "%d,", rows ? rows[i] : i);
        if (labels && labels[i] >= 0) {
            tb_printf(&tb, "%d,", labels[i]);
            csv_field(&tb, class_name(label_names, labels[i], tmp, sizeof tmp));
        } else {
            tb_printf(&tb, ",");
        }
        tb_printf(&tb, ",%d,", preds[i]);
        csv_field(&tb, class_name(label_names, preds[i], tmp, sizeof tmp));
        for (int c = 0; probs && c < C; c++) tb_printf(&tb, ",%.9g", probs[(size_t)i * C + c]);
        tb_printf(&tb, "\n");
    }
    if (!tb.ok) { free(tb.s); snprintf(err, errlen, "%s: out of memory", path); return -1; }
    int rc = write_file_atomic(path, tb.s, tb.len, err, errlen);
    free(tb.s);
    return rc;
}
