// checkpoint.c: load and save Hugging Face DistilBERT checkpoints through the parameter table.
#include "model/checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "model/safetensors.h"

// The checkpoint tensor for table entry `e`: the canonical name, the name without the base
// prefix, or either with a legacy LayerNorm.gamma / LayerNorm.beta ending.
static const st_tensor *find_entry(const safetensors_set *set, const char *canonical, const char *prefix,
                                   const safetensors_file **file) {
    char legacy[PARAM_NAME_LEN + 8];
    const char *candidates[4] = {canonical, NULL, NULL, NULL};
    size_t prefix_len = strlen(prefix);
    int has_prefix = strncmp(canonical, prefix, prefix_len) == 0;
    if (has_prefix) candidates[1] = canonical + prefix_len;
    const char *ln_w = strstr(canonical, "LayerNorm.weight"), *ln_b = strstr(canonical, "LayerNorm.bias");
    if (ln_w || ln_b) {
        const char *at = ln_w ? ln_w : ln_b;
        snprintf(legacy, sizeof legacy, "%.*sLayerNorm.%s", (int)(at - canonical), canonical,
                 ln_w ? "gamma" : "beta");
        candidates[2] = legacy;
        if (has_prefix) candidates[3] = legacy + prefix_len;
    }
    for (int i = 0; i < 4; i++) {
        if (!candidates[i]) continue;
        const st_tensor *t = safetensors_set_find(set, candidates[i], file);
        if (t) return t;
    }
    return NULL;
}

static void shape_string(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++) k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

// copy a checkpoint tensor into the parameter buffer, converting to `real`
static int read_tensor_into(real *dst, const safetensors_file *f, const st_tensor *t, size_t n,
                            char *err, size_t errlen) {
#ifdef REAL_DOUBLE
    float *tmp = malloc(sizeof(float) * (n ? n : 1));
    if (!tmp) { snprintf(err, errlen, "%s: out of memory reading tensor '%s'", f->path, t->name); return -1; }
    int rc = safetensors_read_f32(f, t, tmp, n, err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++) dst[i] = tmp[i];
    free(tmp);
    return rc;
#else
    return safetensors_read_f32(f, t, dst, n, err, errlen);
#endif
}

int checkpoint_load(Model *m, const char *dir, int num_labels, const char *const *label_names,
                    uint64_t head_seed, char *notice, size_t noticelen, char *err, size_t errlen) {
    if (notice && noticelen) notice[0] = '\0';
    char *config_path = path_join(dir, "config.json");
    if (!config_path) { snprintf(err, errlen, "%s: out of memory", dir); return -1; }
    ModelConfig cfg;
    int rc = config_load(&cfg, config_path, err, errlen);
    free(config_path);
    if (rc != 0) return -1;
    if (num_labels > 0 && config_set_labels(&cfg, num_labels, label_names) != 0) {
        snprintf(err, errlen, "%s: cannot set %d labels", dir, num_labels);
        config_free(&cfg);
        return -1;
    }
    if (model_init(m, &cfg, err, errlen) != 0) return -1;  // the model owns cfg's strings now

    safetensors_set set;
    if (safetensors_set_open_dir(&set, dir, err, errlen) != 0) { model_free(m); return -1; }
    // HF-style initialisation of the head tensors first; what the checkpoint holds then overwrites it,
    // so a base checkpoint's pretrained parts of the head (BERT's pooler) are kept, and the draws of
    // the missing ones do not depend on which others are present
    model_init_weights(m, head_seed, 1);
    char missing_head[256] = "";
    int n_missing_head = 0;
    for (int i = 0; i < m->n_entries; i++) {
        const ParamEntry *e = &m->table[i];
        const safetensors_file *f = NULL;
        const st_tensor *t = find_entry(&set, e->name, model_base_prefix(m->config.arch), &f);
        if (!t) {
            if (e->is_head) {
                size_t k = strlen(missing_head);
                snprintf(missing_head + k, sizeof missing_head - k, "%s%s", n_missing_head ? ", " : "", e->name);
                n_missing_head++;
                continue;
            }
            snprintf(err, errlen, "%s: tensor '%s' is missing from the checkpoint", dir, e->name);
            goto fail;
        }
        if (t->ndim != e->ndim || t->shape[0] != e->shape[0] || (e->ndim > 1 && t->shape[1] != e->shape[1])) {
            char got[96], want[96];
            shape_string(got, sizeof got, t->ndim, t->shape);
            shape_string(want, sizeof want, e->ndim, e->shape);
            snprintf(err, errlen, "%s: tensor '%s' has shape %s, but config.json implies %s", f->path,
                     t->name, got, want);
            goto fail;
        }
        real *dst = m->params_memory + e->offset;
        if (read_tensor_into(dst, f, t, e->numel, err, errlen) != 0) goto fail;
        for (size_t k = 0; k < e->numel; k++) {
            if (!isfinite(dst[k])) {
                snprintf(err, errlen, "%s: tensor '%s' contains a non-finite value (NaN or Inf) at element %zu",
                         f->path, t->name, k);
                goto fail;
            }
        }
    }
    if (n_missing_head && notice)
        snprintf(notice, noticelen, "%s: initialised new head tensors (not in the checkpoint): %s", dir, missing_head);
    safetensors_set_close(&set);
    return 0;
fail:
    safetensors_set_close(&set);
    model_free(m);
    return -1;
}

int checkpoint_save(const Model *m, const char *dir, char *err, size_t errlen) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create directory: %s", dir, strerror(errno));
        return -1;
    }
    int n = m->n_entries;
    st_write_tensor *tensors = calloc((size_t)n, sizeof *tensors);
    if (!tensors) { snprintf(err, errlen, "%s: out of memory", dir); return -1; }
#ifdef REAL_DOUBLE
    float *converted = malloc(sizeof(float) * m->num_parameters);
    if (!converted) { free(tensors); snprintf(err, errlen, "%s: out of memory", dir); return -1; }
    for (size_t i = 0; i < m->num_parameters; i++) converted[i] = (float)m->params_memory[i];
    const float *source = converted;
#else
    const float *source = m->params_memory;
#endif
    for (int i = 0; i < n; i++) {
        const ParamEntry *e = &m->table[i];
        tensors[i].name = e->name;
        tensors[i].ndim = e->ndim;
        tensors[i].shape[0] = e->shape[0];
        tensors[i].shape[1] = e->shape[1];
        tensors[i].data = source + e->offset;
        tensors[i].dtype = ST_F32;
    }
    char *weights_path = path_join(dir, "model.safetensors");
    char *config_path = path_join(dir, "config.json");
    int rc = -1;
    if (!weights_path || !config_path) snprintf(err, errlen, "%s: out of memory", dir);
    else if (safetensors_write(weights_path, tensors, n, err, errlen) == 0)
        rc = config_save(&m->config, config_path, err, errlen);
    free(weights_path);
    free(config_path);
    free(tensors);
#ifdef REAL_DOUBLE
    free(converted);
#endif
    return rc;
}
