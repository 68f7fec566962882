// history.c: history_write_json (history.h).
#include "data/history.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "common/fileio.h"

int history_write_json(const char *path, const EpochRecord *h, int n, char *err, size_t errlen) {
    cJSON *list = cJSON_CreateArray();
    int ok = list != NULL;
    for (int i = 0; ok && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(list, o)) { cJSON_Delete(o); ok = 0; break; }
        ok = cJSON_AddNumberToObject(o, "epoch", h[i].epoch) && cJSON_AddNumberToObject(o, "step", (double)h[i].step) &&
             cJSON_AddNumberToObject(o, "train_loss", h[i].train_loss) &&
             cJSON_AddNumberToObject(o, "val_loss", h[i].val_loss) &&
             cJSON_AddNumberToObject(o, "val_accuracy", h[i].val_accuracy) &&
             cJSON_AddNumberToObject(o, "lr", h[i].lr) &&
             cJSON_AddNumberToObject(o, "examples_per_s", h[i].examples_per_s);
    }
    char *text = ok ? cJSON_Print(list) : NULL;
    cJSON_Delete(list);
    if (!text) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    size_t len = strlen(text);
    text[len] = '\n';  // replace the NUL: the file ends with a newline
    int rc = write_file_atomic(path, text, len + 1, err, errlen);
    cJSON_free(text);
    return rc;
}
