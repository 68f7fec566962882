// config.c: DistilBERT config.json reader and writer (reference-semantics.md §1).
#include "model/config.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

// ---- reading helpers: each returns 0, or -1 with a message naming the file and the field

static int get_int(const cJSON *root, const char *key, int def, int min, int max, int *out,
                   const char *path, char *err, size_t errlen) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) { *out = def; return 0; }
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble)) {
        snprintf(err, errlen, "%s: field \"%s\" must be an integer", path, key);
        return -1;
    }
    if (it->valuedouble < min || it->valuedouble > max) {
        snprintf(err, errlen, "%s: field \"%s\" = %.17g is out of range [%d, %d]", path, key,
                 it->valuedouble, min, max);
        return -1;
    }
    *out = (int)it->valuedouble;
    return 0;
}

static int get_float(const cJSON *root, const char *key, float def, float min, float max, float *out,
                     const char *path, char *err, size_t errlen) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) { *out = def; return 0; }
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= min && it->valuedouble <= max)) {
        snprintf(err, errlen, "%s: field \"%s\" must be a number in [%g, %g]", path, key, min, max);
        return -1;
    }
    *out = (float)it->valuedouble;
    return 0;
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

int config_set_labels(ModelConfig *cfg, int num_labels, const char *const *names) {
    if (num_labels < 1 || num_labels > MAX_LABELS) return -1;
    for (int i = 0; names && i < num_labels; i++)  // label2id needs distinct names
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0) return -1;
    char **labels = calloc((size_t)num_labels, sizeof(char *));
    if (!labels) return -1;
    for (int i = 0; i < num_labels; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "LABEL_%d", i);
        labels[i] = dup_string(names ? names[i] : buf);
        if (!labels[i]) {
            for (int j = 0; j < i; j++) free(labels[j]);
            free(labels);
            return -1;
        }
    }
    for (int i = 0; i < cfg->num_labels; i++) free(cfg->id2label[i]);
    free(cfg->id2label);
    cfg->id2label = labels;
    cfg->num_labels = num_labels;
    return 0;
}

// id2label: {"0": "negative", "1": "positive"}; keys must be exactly 0..n-1
static int read_labels(ModelConfig *cfg, const cJSON *root, const char *path, char *err, size_t errlen) {
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    int n_from_field = -1;
    if (get_int(root, "num_labels", -1, 1, MAX_LABELS, &n_from_field, path, err, errlen) != 0) return -1;
    if (!map || cJSON_IsNull(map)) {
        int n = n_from_field > 0 ? n_from_field : 2;  // HF's default: 2 labels LABEL_0, LABEL_1
        if (config_set_labels(cfg, n, NULL) != 0) goto oom;
        return 0;
    }
    if (!cJSON_IsObject(map)) {
        snprintf(err, errlen, "%s: field \"id2label\" must be an object", path);
        return -1;
    }
    int n = cJSON_GetArraySize(map);
    if (n < 1 || n > MAX_LABELS) {
        snprintf(err, errlen, "%s: \"id2label\" has %d entries (need 1..%d)", path, n, MAX_LABELS);
        return -1;
    }
    const char **names = calloc((size_t)n, sizeof(char *));
    if (!names) goto oom;
    for (const cJSON *it = map->child; it; it = it->next) {
        char *end = NULL;
        long id = strtol(it->string, &end, 10);
        if (end == it->string || *end || id < 0 || id >= n || names[id] || !cJSON_IsString(it)) {
            snprintf(err, errlen, "%s: \"id2label\" key \"%s\" must be a distinct integer in 0..%d mapped "
                     "to a string", path, it->string, n - 1);
            free(names);
            return -1;
        }
        names[id] = it->valuestring;
    }
    int rc = config_set_labels(cfg, n, names);
    free(names);
    if (rc != 0) {
        snprintf(err, errlen, "%s: \"id2label\" names must be distinct", path);
        return -1;
    }
    return 0;
oom:
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
}

int config_load(ModelConfig *cfg, const char *path, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    char *text;
    size_t len;
    if (read_file(path, &text, &len, err, errlen) != 0) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "%s: not a JSON object", path);
        cJSON_Delete(root);
        return -1;
    }
    int rc = -1;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsString(mt)) {
        snprintf(err, errlen, "%s: missing string field \"model_type\"", path);
        goto done;
    }
    if (strcmp(mt->valuestring, "distilbert") != 0) {
        snprintf(err, errlen, "%s: model_type \"%.40s\" is not supported (supported: distilbert)",
                 path, mt->valuestring);
        goto done;
    }
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", mt->valuestring);

    // DistilBertConfig class defaults (reference-semantics.md §1.1); HF's attribute_map aliases
    // (hidden_size, num_attention_heads, num_hidden_layers) are accepted when the native name is absent
    const char *dim_key = cJSON_GetObjectItemCaseSensitive(root, "dim") ? "dim" :
                          cJSON_GetObjectItemCaseSensitive(root, "hidden_size") ? "hidden_size" : "dim";
    const char *heads_key = cJSON_GetObjectItemCaseSensitive(root, "n_heads") ? "n_heads" :
                          cJSON_GetObjectItemCaseSensitive(root, "num_attention_heads") ? "num_attention_heads" : "n_heads";
    const char *layers_key = cJSON_GetObjectItemCaseSensitive(root, "n_layers") ? "n_layers" :
                          cJSON_GetObjectItemCaseSensitive(root, "num_hidden_layers") ? "num_hidden_layers" : "n_layers";
    if (get_int(root, "vocab_size", 30522, 1, 1 << 24, &cfg->vocab_size, path, err, errlen) ||
        get_int(root, dim_key, 768, 1, 1 << 16, &cfg->dim, path, err, errlen) ||
        get_int(root, layers_key, 6, 1, 1024, &cfg->n_layers, path, err, errlen) ||
        get_int(root, heads_key, 12, 1, 1024, &cfg->n_heads, path, err, errlen) ||
        get_int(root, "hidden_dim", 3072, 1, 1 << 18, &cfg->hidden_dim, path, err, errlen) ||
        get_int(root, "max_position_embeddings", 512, 1, 1 << 16, &cfg->max_position_embeddings, path, err, errlen) ||
        get_int(root, "pad_token_id", 0, 0, 1 << 24, &cfg->pad_token_id, path, err, errlen) ||
        get_float(root, "dropout", 0.1f, 0, 0.99f, &cfg->dropout, path, err, errlen) ||
        get_float(root, "attention_dropout", 0.1f, 0, 0.99f, &cfg->attention_dropout, path, err, errlen) ||
        get_float(root, "seq_classif_dropout", 0.2f, 0, 0.99f, &cfg->seq_classif_dropout, path, err, errlen) ||
        get_float(root, "initializer_range", 0.02f, 0, 10, &cfg->initializer_range, path, err, errlen))
        goto done;
    cfg->layer_norm_eps = 1e-12f;
    if (cfg->dim % cfg->n_heads != 0) {
        snprintf(err, errlen, "%s: dim %d is not divisible by n_heads %d", path, cfg->dim, cfg->n_heads);
        goto done;
    }
    if (cfg->pad_token_id >= cfg->vocab_size) {
        snprintf(err, errlen, "%s: pad_token_id %d is outside the vocabulary (%d)", path,
                 cfg->pad_token_id, cfg->vocab_size);
        goto done;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "activation");
    if (!act || cJSON_IsNull(act) || (cJSON_IsString(act) && strcmp(act->valuestring, "gelu") == 0)) {
        cfg->activation = ACT_GELU;
    } else if (cJSON_IsString(act) && strcmp(act->valuestring, "relu") == 0) {
        cfg->activation = ACT_RELU;
    } else {
        snprintf(err, errlen, "%s: activation %s is not supported (supported: \"gelu\", \"relu\")", path,
                 cJSON_IsString(act) ? act->valuestring : "(not a string)");
        goto done;
    }
    const cJSON *sin = cJSON_GetObjectItemCaseSensitive(root, "sinusoidal_pos_embds");
    if (cJSON_IsTrue(sin)) {
        snprintf(err, errlen, "%s: sinusoidal_pos_embds = true is not supported", path);
        goto done;
    }
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "problem_type");
    if (pt && !cJSON_IsNull(pt)) {
        if (!cJSON_IsString(pt) || strcmp(pt->valuestring, "single_label_classification") != 0) {
            snprintf(err, errlen, "%s: problem_type %s is not supported (supported: "
                     "\"single_label_classification\")", path, cJSON_IsString(pt) ? pt->valuestring : "?");
            goto done;
        }
        cfg->problem_type = dup_string(pt->valuestring);
    }
    if (read_labels(cfg, root, path, err, errlen) != 0) goto done;
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc != 0) config_free(cfg);
    return rc;
}

int config_save(const ModelConfig *cfg, const char *path, char *err, size_t errlen) {
    cJSON *root = cJSON_CreateObject();
    cJSON *arch = cJSON_CreateArray();
    cJSON *id2label = cJSON_CreateObject();
    cJSON *label2id = cJSON_CreateObject();
    int ok = root && arch && id2label && label2id;
    if (ok) {
        cJSON_AddItemToArray(arch, cJSON_CreateString("DistilBertForSequenceClassification"));
        cJSON_AddItemToObject(root, "architectures", arch);
        cJSON_AddStringToObject(root, "model_type", "distilbert");
        cJSON_AddStringToObject(root, "activation", cfg->activation == ACT_GELU ? "gelu" : "relu");
        cJSON_AddNumberToObject(root, "attention_dropout", cfg->attention_dropout);
        cJSON_AddNumberToObject(root, "dim", cfg->dim);
        cJSON_AddNumberToObject(root, "dropout", cfg->dropout);
        cJSON_AddNumberToObject(root, "hidden_dim", cfg->hidden_dim);
        cJSON_AddNumberToObject(root, "initializer_range", cfg->initializer_range);
        cJSON_AddNumberToObject(root, "max_position_embeddings", cfg->max_position_embeddings);
        cJSON_AddNumberToObject(root, "n_heads", cfg->n_heads);
        cJSON_AddNumberToObject(root, "n_layers", cfg->n_layers);
        cJSON_AddNumberToObject(root, "pad_token_id", cfg->pad_token_id);
        cJSON_AddNumberToObject(root, "qa_dropout", 0.1);
        cJSON_AddNumberToObject(root, "seq_classif_dropout", cfg->seq_classif_dropout);
        cJSON_AddBoolToObject(root, "sinusoidal_pos_embds", 0);
        cJSON_AddNumberToObject(root, "vocab_size", cfg->vocab_size);
        cJSON_AddStringToObject(root, "problem_type", "single_label_classification");
        cJSON_AddStringToObject(root, "torch_dtype", "float32");
        for (int i = 0; i < cfg->num_labels; i++) {
            char key[16];
            snprintf(key, sizeof key, "%d", i);
            cJSON_AddStringToObject(id2label, key, cfg->id2label[i]);
            cJSON_AddNumberToObject(label2id, cfg->id2label[i], i);
        }
        cJSON_AddItemToObject(root, "id2label", id2label);
        cJSON_AddItemToObject(root, "label2id", label2id);
    } else {
        cJSON_Delete(arch);
        cJSON_Delete(id2label);
        cJSON_Delete(label2id);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        snprintf(err, errlen, "%s: out of memory building the config", path);
        return -1;
    }
    size_t n = strlen(text);
    text[n] = '\n';  // cJSON_Print's buffer ends in NUL; write a final newline instead
    int rc = write_file_atomic(path, text, n + 1, err, errlen);
    free(text);
    return rc;
}

void config_free(ModelConfig *cfg) {
    for (int i = 0; i < cfg->num_labels; i++) free(cfg->id2label[i]);
    free(cfg->id2label);
    free(cfg->problem_type);
    cfg->id2label = NULL;
    cfg->problem_type = NULL;
    cfg->num_labels = 0;
}
