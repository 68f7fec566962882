// dump.c: the parity dump format (model/dump.h, doc/parity.md): reading a dump's inputs and metadata,
// gathering our model's tensors under the format's names in execution order, writing a dump.
#include "model/dump.h"
#include "model/params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------- reading

int dump_open(safetensors_file *f, const char *path, char *err, size_t errlen) {
    if (safetensors_open(f, path, err, errlen) != 0) return -1;
    const char *name = safetensors_meta(f, "dump_format"), *version = safetensors_meta(f, "dump_version");
    if (!name || strcmp(name, DUMP_FORMAT_NAME) != 0) {
        snprintf(err, errlen, "%s: not a parity dump (metadata dump_format is %s%s%s, expected %s; dev/dump_torch.py "
                 "writes one)", path, name ? "'" : "", name ? name : "absent", name ? "'" : "", DUMP_FORMAT_NAME);
        safetensors_close(f);
        return -1;
    }
    if (!version || strcmp(version, DUMP_FORMAT_VERSION) != 0) {
        snprintf(err, errlen, "%s: dump_version %s, this program reads version %s", path, version ? version : "absent",
                 DUMP_FORMAT_VERSION);
        safetensors_close(f);
        return -1;
    }
    return 0;
}

// an I64 tensor of the given rank into ints
static int read_ints(const safetensors_file *f, const char *name, int ndim, int **out, const st_tensor **t_out,
                     char *err, size_t errlen) {
    const st_tensor *t = safetensors_find(f, name);
    if (!t) return snprintf(err, errlen, "%s: tensor %s is missing (every dump has the batch)", f->path, name), -1;
    if (t->ndim != ndim || t->numel == 0)
        return snprintf(err, errlen, "%s: tensor %s has rank %d and %zu values, expected rank %d", f->path, name,
                        t->ndim, t->numel, ndim), -1;
    int64_t *buf = malloc(sizeof(int64_t) * t->numel);
    *out = malloc(sizeof(int) * t->numel);
    if (!buf || !*out) {
        free(buf);
        return snprintf(err, errlen, "%s: out of memory reading %s", f->path, name), -1;
    }
    if (safetensors_read_i64(f, t, buf, t->numel, err, errlen) != 0) return free(buf), -1;
    for (size_t i = 0; i < t->numel; i++) {
        if (buf[i] < -100000000 || buf[i] > 100000000) {
            snprintf(err, errlen, "%s: %s[%zu] = %lld is out of range", f->path, name, i, (long long)buf[i]);
            return free(buf), -1;
        }
        (*out)[i] = (int)buf[i];
    }
    free(buf);
    *t_out = t;
    return 0;
}

int dump_read_inputs(const safetensors_file *f, DumpInputs *in, char *err, size_t errlen) {
    memset(in, 0, sizeof *in);
    const st_tensor *ids, *mask, *labels;
    if (read_ints(f, "input_ids", 2, &in->ids, &ids, err, errlen) != 0 ||
        read_ints(f, "attention_mask", 2, &in->mask, &mask, err, errlen) != 0 ||
        read_ints(f, "labels", 1, &in->labels, &labels, err, errlen) != 0) {
        dump_inputs_free(in);
        return -1;
    }
    in->B = (int)ids->shape[0];
    in->T = (int)ids->shape[1];
    if (mask->shape[0] != in->B || mask->shape[1] != in->T || labels->shape[0] != in->B) {
        snprintf(err, errlen, "%s: input_ids is %d x %d but attention_mask is %lld x %lld and labels %lld", f->path,
                 in->B, in->T, (long long)mask->shape[0], (long long)mask->shape[1], (long long)labels->shape[0]);
        dump_inputs_free(in);
        return -1;
    }
    return 0;
}

void dump_inputs_free(DumpInputs *in) {
    free(in->ids);
    free(in->mask);
    free(in->labels);
    memset(in, 0, sizeof *in);
}

// a number from the metadata: 0 and *v untouched when absent, -1 when not a number
static int meta_number(const safetensors_file *f, const char *key, double *v, char *err, size_t errlen) {
    const char *s = safetensors_meta(f, key);
    if (!s) return 0;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(x))
        return snprintf(err, errlen, "%s: metadata %s = '%s' is not a number", f->path, key, s), -1;
    *v = x;
    return 0;
}

int dump_read_adamw(const safetensors_file *f, DumpAdamW *a, char *err, size_t errlen) {
    *a = (DumpAdamW){0, 1e-3, 0.9, 0.999, 1e-8, 0.01, 0};
    double steps = 0;
    if (meta_number(f, "adamw_steps", &steps, err, errlen) != 0) return -1;
    if (steps < 0 || steps > 1000 || steps != floor(steps))
        return snprintf(err, errlen, "%s: metadata adamw_steps = %g is not a step count 0..1000", f->path, steps), -1;
    a->steps = (int)steps;
    if (a->steps == 0) return 0;
    const char *keys[] = {"lr", "beta1", "beta2", "eps", "weight_decay", "max_grad_norm"};
    double *vals[] = {&a->lr, &a->beta1, &a->beta2, &a->eps, &a->weight_decay, &a->max_grad_norm};
    for (int i = 0; i < 6; i++) {
        if (!safetensors_meta(f, keys[i]))
            return snprintf(err, errlen, "%s: adamw_steps is %d but metadata %s is missing", f->path, a->steps,
                            keys[i]), -1;
        if (meta_number(f, keys[i], vals[i], err, errlen) != 0) return -1;
    }
    return 0;
}

int dump_num_labels(const safetensors_file *f) {
    double v = 0;
    char err[8];
    if (meta_number(f, "num_labels", &v, err, sizeof err) != 0 || v < 1 || v > MAX_LABELS) return 0;
    return (int)v;
}

int dump_check_model(const safetensors_file *f, const ModelConfig *c, char *err, size_t errlen) {
    const char *type = safetensors_meta(f, "model_type");
    if (type && strcmp(type, c->model_type) != 0)
        return snprintf(err, errlen, "%s: the dump was made for a %s model, the checkpoint is %s", f->path, type,
                        c->model_type), -1;
    // num_labels only when the head comes from the checkpoint (a dump with init.* tensors brings its own)
    int head_in_dump = 0;
    for (int i = 0; i < f->n_tensors; i++) head_in_dump |= strncmp(f->tensors[i].name, "init.", 5) == 0;
    const char *keys[] = {"num_hidden_layers", "hidden_size", "vocab_size", "num_labels"};
    int ours[] = {c->n_layers, c->dim, c->vocab_size, c->num_labels};
    for (int i = 0; i < (head_in_dump ? 3 : 4); i++) {
        double v = ours[i];
        if (meta_number(f, keys[i], &v, err, errlen) != 0) return -1;
        if (v != ours[i])
            return snprintf(err, errlen, "%s: the dump was made for a model with %s %g, the checkpoint has %d", f->path,
                            keys[i], v, ours[i]), -1;
    }
    return 0;
}

int dump_apply_init(const safetensors_file *f, Model *m, char *err, size_t errlen) {
    for (int i = 0; i < f->n_tensors; i++) {
        const st_tensor *t = &f->tensors[i];
        if (strncmp(t->name, "init.", 5) != 0) continue;
        const ParamEntry *e = model_find_param(m, t->name + 5);
        if (!e) return snprintf(err, errlen, "%s: %s is not a parameter of this model", f->path, t->name), -1;
        int same = t->ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++) same = t->shape[d] == e->shape[d];
        if (!same) return snprintf(err, errlen, "%s: %s has another shape than the model's parameter", f->path, t->name), -1;
        float *tmp = malloc(sizeof(float) * (t->numel ? t->numel : 1));
        if (!tmp) return snprintf(err, errlen, "%s: out of memory reading %s", f->path, t->name), -1;
        if (safetensors_read_f32(f, t, tmp, t->numel, err, errlen) != 0) return free(tmp), -1;
        for (size_t k = 0; k < t->numel; k++) m->params_memory[e->offset + k] = (real)tmp[k];
        free(tmp);
    }
    return 0;
}

// ---------------------------------------------------------------------------- our tensors

// append a tensor of the format's shape (dims given, up to 4); ours hold index 0 of token0_axis only
// when it is >= 0. Returns its data buffer (numel floats) or NULL.
static float *add_tensor(DumpList *list, DumpClass cls, const char *name, int token0_axis, int ndim, const int64_t *shape,
                         char *err, size_t errlen) {
    if (list->n == list->cap) {
        int cap = list->cap ? 2 * list->cap : 64;
        DumpTensor *t = realloc(list->t, sizeof(DumpTensor) * (size_t)cap);
        if (!t) return snprintf(err, errlen, "out of memory listing tensors"), NULL;
        list->t = t;
        list->cap = cap;
    }
    DumpTensor *t = &list->t[list->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->cls = cls;
    t->ndim = ndim;
    t->token0_axis = token0_axis;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->numel *= d == token0_axis ? 1 : (size_t)shape[d];
    }
    t->data = malloc(sizeof(float) * (t->numel ? t->numel : 1));
    if (!t->data) return snprintf(err, errlen, "out of memory for tensor %s", name), NULL;
    list->n++;
    return t->data;
}

// rows x width values from src (row stride src_stride) into dst, as float
static void copy_rows(float *dst, const real *src, size_t rows, size_t width, size_t src_stride) {
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < width; i++) dst[r * width + i] = (float)src[r * src_stride + i];
}

// a (B,T,X) activation whose rows are n consecutive rows of width X in src (row stride src_stride)
static int add_rows(DumpList *list, DumpClass cls, const char *name, int token0, int B, int T, int X, const real *src,
                    size_t src_stride, char *err, size_t errlen) {
    int64_t shape[3] = {B, T, X};
    float *d = add_tensor(list, cls, name, token0 ? 1 : -1, 3, shape, err, errlen);
    if (!d) return -1;
    copy_rows(d, src, (size_t)B * (token0 ? 1 : T), (size_t)X, src_stride);
    return 0;
}

// The stage of backward that computes a parameter's gradient: the ParameterTensors field it lies in
// (0-4 embeddings, 5/6 qkv, 7/8 attention out, 9/10 ln1, 11/12 FFN in, 13/14 FFN out, 15/16 ln2,
// 17/18 head dense, 19/20 head out) and, for per-layer fields, its layer.
static void param_stage(const ModelConfig *c, const ParamEntry *e, int *field, int *layer) {
    size_t sizes[NUM_PARAM_FIELDS], start = 0;
    param_field_sizes(c, sizes);
    *field = 0;
    *layer = 0;
    for (int i = 0; i < NUM_PARAM_FIELDS; i++) {
        if (sizes[i] > 0 && e->offset >= start && e->offset < start + sizes[i]) {
            *field = i;
            if (i >= 5 && i <= 16) *layer = (int)((e->offset - start) / (sizes[i] / (size_t)c->n_layers));
            return;
        }
        start += sizes[i];
    }
}

// grad.<name> of every parameter whose gradient the backward stage (fields f0..f1, layer) computes
static int add_param_grads(DumpList *list, const ModelView *v, int f0, int f1, int layer, char *err, size_t errlen) {
    char name[DUMP_NAME_LEN];
    for (int i = 0; i < v->n_entries; i++) {
        const ParamEntry *e = &v->table[i];
        int field, l;
        param_stage(v->config, e, &field, &l);
        if (field < f0 || field > f1 || (field >= 5 && field <= 16 && l != layer)) continue;
        snprintf(name, sizeof name, "grad.%s", e->name);
        float *d = add_tensor(list, DUMP_BACKWARD, name, -1, e->ndim, e->shape, err, errlen);
        if (!d) return -1;
        list->t[list->n - 1].param = e;
        copy_rows(d, v->param_grads + e->offset, 1, e->numel, e->numel);
    }
    return 0;
}

// dP[b,h,t,j] = sum_i dcontext[b,t,h*HS+i] * v[b,j,h*HS+i]: the gradient of the attention
// probabilities (dropout off), for Tq query rows per (b,h) (T, or 1 in the CPU model's last block)
static void attention_probs_grad(float *dP, const real *dcontext, const real *qkv, int B, int T, int Tq, int C, int NH) {
    int HS = C / NH;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < Tq; t++) {
                const real *dc = dcontext + ((size_t)b * Tq + t) * C + h * HS;
                for (int j = 0; j < T; j++) {
                    const real *vj = qkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * HS;
                    double s = 0;
                    for (int i = 0; i < HS; i++) s += (double)dc[i] * (double)vj[i];
                    dP[(((size_t)b * NH + h) * Tq + t) * T + j] = (float)s;
                }
            }
}

// the per-layer tensors of one layer, forward (a = acts) or backward (a = grads_acts, prefix "grad.")
static int add_layer(DumpList *list, const ModelView *v, const ActivationTensors *a, int grads, int l, char *err,
                     size_t errlen) {
    const ModelConfig *c = v->config;
    int B = v->B, T = v->T, C = c->dim, I = c->hidden_dim, NH = c->n_heads, L = c->n_layers;
    size_t BT = (size_t)B * T, oC = (size_t)l * BT * C, oI = (size_t)l * BT * I;
    int token0 = v->last_block_token0 && l == L - 1, Tq = token0 ? 1 : T;
    DumpClass cls = grads ? DUMP_BACKWARD : DUMP_FORWARD;
    const char *pre = grads ? "grad." : "";
    char name[DUMP_NAME_LEN];
    const real *qkv = a->qkv + 3 * oC;
    // forward order; backward adds the same tensors in reverse, each followed by its parameters' gradients
    int64_t pshape[4] = {B, NH, T, T};
    size_t pnum = (size_t)B * NH * Tq * T;
    if (!grads) {
        const char *qkv_names[3] = {"q", "k", "v"};
        for (int j = 0; j < 3; j++) {
            snprintf(name, sizeof name, "layer.%d.%s", l, qkv_names[j]);
            if (add_rows(list, cls, name, 0, B, T, C, qkv + j * C, 3 * (size_t)C, err, errlen) != 0) return -1;
        }
        snprintf(name, sizeof name, "layer.%d.attention_probs", l);
        float *d = add_tensor(list, cls, name, token0 ? 2 : -1, 4, pshape, err, errlen);
        if (!d) return -1;
        copy_rows(d, a->att + (size_t)l * B * NH * T * T, 1, pnum, pnum);
    }
    struct { const char *name; const real *src; int X; int f0; } rows[] = {
        {"attention_context", a->atty + oC, C, -1},
        {"attention_output", a->attproj + oC, C, 7},
        {"attention_layernorm", a->ln1 + oC, C, 9},
        {"ffn_preact", a->fch + oI, I, 11},
        {"ffn_output", a->fcproj + oC, C, 13},
        {"output_layernorm", a->ln2 + oC, C, 15},
    };
    int n = (int)(sizeof rows / sizeof rows[0]);
    for (int k = 0; k < n; k++) {
        int i = grads ? n - 1 - k : k;
        snprintf(name, sizeof name, "%slayer.%d.%s", pre, l, rows[i].name);
        if (add_rows(list, cls, name, token0, B, T, rows[i].X, rows[i].src, (size_t)rows[i].X, err, errlen) != 0)
            return -1;
        if (grads && rows[i].f0 >= 0 && add_param_grads(list, v, rows[i].f0, rows[i].f0 + 1, l, err, errlen) != 0)
            return -1;
    }
    if (grads) {
        snprintf(name, sizeof name, "grad.layer.%d.attention_probs", l);
        float *d = add_tensor(list, cls, name, token0 ? 2 : -1, 4, pshape, err, errlen);
        if (!d) return -1;
        attention_probs_grad(d, a->atty + oC, v->acts->qkv + 3 * oC, B, T, Tq, C, NH);
        const char *qkv_names[3] = {"v", "k", "q"};
        for (int j = 0; j < 3; j++) {
            snprintf(name, sizeof name, "grad.layer.%d.%s", l, qkv_names[j]);
            if (add_rows(list, cls, name, 0, B, T, C, qkv + (2 - j) * C, 3 * (size_t)C, err, errlen) != 0) return -1;
        }
        if (add_param_grads(list, v, 5, 6, l, err, errlen) != 0) return -1;
    }
    return 0;
}

// the head's (B,X) tensors
static int add_head(DumpList *list, DumpClass cls, const char *name, const real *src, int B, int X, char *err,
                    size_t errlen) {
    int64_t shape[2] = {B, X};
    float *d = add_tensor(list, cls, name, -1, 2, shape, err, errlen);
    if (!d) return -1;
    copy_rows(d, src, 1, (size_t)B * X, (size_t)B * X);
    return 0;
}

int dump_collect(DumpList *list, const ModelView *v, int with_grads, char *err, size_t errlen) {
    const ModelConfig *c = v->config;
    int B = v->B, T = v->T, C = c->dim, L = c->n_layers, NL = c->num_labels;
    const ActivationTensors *a = v->acts, *d = v->grads_acts;
    // forward
    if (add_rows(list, DUMP_FORWARD, "embeddings", 0, B, T, C, a->ln_emb, (size_t)C, err, errlen) != 0) return -1;
    for (int l = 0; l < L; l++)
        if (add_layer(list, v, a, 0, l, err, errlen) != 0) return -1;
    if (add_head(list, DUMP_FORWARD, "head_dense", a->pre, B, C, err, errlen) != 0 ||
        add_head(list, DUMP_FORWARD, "pooled", a->pre_act, B, C, err, errlen) != 0 ||
        add_head(list, DUMP_FORWARD, "logits", a->logits, B, NL, err, errlen) != 0)
        return -1;
    float *loss = add_tensor(list, DUMP_FORWARD, "loss", -1, 0, NULL, err, errlen);
    if (!loss) return -1;
    loss[0] = (float)v->mean_loss;
    if (!with_grads) return 0;
    // backward from the loss, each parameter gradient after the activation gradient it is computed from
    if (add_head(list, DUMP_BACKWARD, "grad.logits", d->logits, B, NL, err, errlen) != 0 ||
        add_param_grads(list, v, 19, 20, 0, err, errlen) != 0 ||
        add_head(list, DUMP_BACKWARD, "grad.pooled", d->pre_act, B, C, err, errlen) != 0 ||
        add_head(list, DUMP_BACKWARD, "grad.head_dense", d->pre, B, C, err, errlen) != 0 ||
        add_param_grads(list, v, 17, 18, 0, err, errlen) != 0)
        return -1;
    for (int l = L - 1; l >= 0; l--)
        if (add_layer(list, v, d, 1, l, err, errlen) != 0) return -1;
    if (add_rows(list, DUMP_BACKWARD, "grad.embeddings", 0, B, T, C, d->ln_emb, (size_t)C, err, errlen) != 0 ||
        add_param_grads(list, v, 0, 4, 0, err, errlen) != 0)
        return -1;
    return 0;
}

int dump_collect_adamw(DumpList *list, const ModelView *v, const real *params, const float *grad_norms, int steps,
                       char *err, size_t errlen) {
    int64_t n = steps;
    // the norms are gradients' (compared at the backward tolerance)
    float *d = add_tensor(list, DUMP_BACKWARD, "adamw.grad_norm", -1, 1, &n, err, errlen);
    if (!d) return -1;
    memcpy(d, grad_norms, sizeof(float) * (size_t)steps);
    char name[DUMP_NAME_LEN];
    for (int i = 0; i < v->n_entries; i++) {
        const ParamEntry *e = &v->table[i];
        snprintf(name, sizeof name, "adamw.%s", e->name);
        if (!(d = add_tensor(list, DUMP_ADAMW, name, -1, e->ndim, e->shape, err, errlen))) return -1;
        list->t[list->n - 1].param = e;
        copy_rows(d, params + e->offset, 1, e->numel, e->numel);
    }
    return 0;
}

void dump_list_free(DumpList *list) {
    for (int i = 0; i < list->n; i++) free(list->t[i].data);
    free(list->t);
    memset(list, 0, sizeof *list);
}

const DumpTensor *dump_list_find(const DumpList *list, const char *name) {
    for (int i = 0; i < list->n; i++)
        if (strcmp(list->t[i].name, name) == 0) return &list->t[i];
    return NULL;
}

// ---------------------------------------------------------------------------- writing

int dump_write(const char *path, const DumpInputs *in, const DumpList *list, const ModelConfig *c,
               const DumpAdamW *adamw, const char *precision, char *err, size_t errlen) {
    int n = list->n + 3;
    st_write_tensor *w = calloc((size_t)n, sizeof *w);
    int64_t *ints = malloc(sizeof(int64_t) * ((size_t)2 * in->B * in->T + in->B));
    if (!w || !ints) {
        free(w), free(ints);
        return snprintf(err, errlen, "%s: out of memory", path), -1;
    }
    size_t BT = (size_t)in->B * in->T;
    for (size_t i = 0; i < BT; i++) ints[i] = in->ids[i], ints[BT + i] = in->mask[i];
    for (int b = 0; b < in->B; b++) ints[2 * BT + b] = in->labels[b];
    w[0] = (st_write_tensor){.name = "input_ids", .ndim = 2, .shape = {in->B, in->T}, .dtype = ST_I64, .data_i64 = ints};
    w[1] = (st_write_tensor){.name = "attention_mask", .ndim = 2, .shape = {in->B, in->T}, .dtype = ST_I64,
                             .data_i64 = ints + BT};
    w[2] = (st_write_tensor){.name = "labels", .ndim = 1, .shape = {in->B}, .dtype = ST_I64, .data_i64 = ints + 2 * BT};
    for (int i = 0; i < list->n; i++) {
        const DumpTensor *t = &list->t[i];
        w[3 + i] = (st_write_tensor){.name = t->name, .ndim = t->ndim, .data = t->data};
        for (int d = 0; d < t->ndim; d++) w[3 + i].shape[d] = d == t->token0_axis ? 1 : t->shape[d];
    }
    char nums[5][32], hyper[6][32];
    snprintf(nums[0], 32, "%d", c->n_layers);
    snprintf(nums[1], 32, "%d", c->dim);
    snprintf(nums[2], 32, "%d", c->vocab_size);
    snprintf(nums[3], 32, "%d", c->num_labels);
    snprintf(nums[4], 32, "%d", adamw ? adamw->steps : 0);
    st_meta meta[16] = {
        {"dump_format", DUMP_FORMAT_NAME}, {"dump_version", DUMP_FORMAT_VERSION}, {"source", "parity --write-dump"},
        {"precision", (char *)precision}, {"model_type", (char *)c->model_type}, {"num_hidden_layers", nums[0]},
        {"hidden_size", nums[1]}, {"vocab_size", nums[2]}, {"num_labels", nums[3]}, {"adamw_steps", nums[4]},
    };
    int n_meta = 10;
    if (adamw && adamw->steps > 0) {
        const char *keys[] = {"lr", "beta1", "beta2", "eps", "weight_decay", "max_grad_norm"};
        double vals[] = {adamw->lr, adamw->beta1, adamw->beta2, adamw->eps, adamw->weight_decay, adamw->max_grad_norm};
        for (int i = 0; i < 6; i++) {
            snprintf(hyper[i], sizeof hyper[i], "%.17g", vals[i]);
            meta[n_meta++] = (st_meta){(char *)keys[i], hyper[i]};
        }
    }
    int rc = safetensors_write_meta(path, w, n, meta, n_meta, err, errlen);
    free(w);
    free(ints);
    return rc;
}
