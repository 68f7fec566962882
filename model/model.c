// model.c: DistilBertForSequenceClassification — parameter table, buffers, forward and backward.
//
// The forward (reference-semantics.md §3.3), with the buffers of ActivationTensors in brackets:
//   [emb]     = word_emb[ids] + pos_emb[t]
//   [x0]      = dropout(LayerNorm(emb))                                    [ln_emb]
//   per block: [qkv] = Linear(x; q,k,v_lin)   [atty] = attention(qkv, mask)   [attproj] = out_lin(atty)
//              [ln1] = LayerNorm(attproj + x) (no dropout on attproj)         [resid1]
//              [fcproj] = lin2(gelu(lin1(ln1)))                               [fch, fch_act]
//              [ln2] = LayerNorm(dropout(fcproj) + ln1) = block output        [fcproj_drop, resid2]
//   [cls]    = ln2_last[:, 0, :]
//   [logits] = classifier(dropout(relu(pre_classifier(cls))))                 [pre, pre_relu, pre_drop]
//   loss     = mean cross-entropy                                             [probs, losses]
// model_backward walks the same list in reverse; every kernel adds into its input gradients
// (kernels/kernels.h), so the residual stream needs no special handling.
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dropout.h"
#include "kernels/kernels.h"

// ---------------------------------------------------------------------------- parameter table

// The table lists every HF tensor with its offset in the parameter buffer. Stacked fields hold
// one block per layer; q_lin, k_lin and v_lin of layer l fill the three (C, C) blocks of its qkvw.
static void table_add(Model *m, const char *name, int ndim, int64_t d0, int64_t d1,
                      size_t offset, int is_head) {
    ParamEntry *e = &m->table[m->n_entries++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = ndim;
    e->shape[0] = d0;
    e->shape[1] = ndim > 1 ? d1 : 1;
    e->numel = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1);
    e->offset = offset;
    e->is_head = is_head;
}

// Sizes of the fields of ParameterTensors, in declaration order.
#define NUM_PARAM_FIELDS 20
static void param_field_sizes(const ModelConfig *c, size_t sizes[NUM_PARAM_FIELDS]) {
    size_t V = c->vocab_size, P = c->max_position_embeddings, C = c->dim, L = c->n_layers;
    size_t I = c->hidden_dim, NL = c->num_labels;
    size_t s[NUM_PARAM_FIELDS] = {
        V * C, P * C, C, C,                  // wte, wpe, ln_emb_w, ln_emb_b
        L * 3 * C * C, L * 3 * C,            // qkvw, qkvb
        L * C * C, L * C,                    // attprojw, attprojb
        L * C, L * C,                        // ln1w, ln1b
        L * I * C, L * I,                    // fcw, fcb
        L * C * I, L * C,                    // fcprojw, fcprojb
        L * C, L * C,                        // ln2w, ln2b
        C * C, C,                            // prew, preb
        NL * C, NL,                          // clsw, clsb
    };
    memcpy(sizes, s, sizeof s);
}

static void build_param_table(Model *m, const size_t field_offset[NUM_PARAM_FIELDS]) {
    const ModelConfig *c = &m->config;
    int64_t V = c->vocab_size, P = c->max_position_embeddings, C = c->dim, I = c->hidden_dim;
    int64_t NL = c->num_labels;
    const size_t *f = field_offset;
    char name[PARAM_NAME_LEN];
    m->n_entries = 0;
    table_add(m, "distilbert.embeddings.word_embeddings.weight", 2, V, C, f[0], 0);
    table_add(m, "distilbert.embeddings.position_embeddings.weight", 2, P, C, f[1], 0);
    table_add(m, "distilbert.embeddings.LayerNorm.weight", 1, C, 0, f[2], 0);
    table_add(m, "distilbert.embeddings.LayerNorm.bias", 1, C, 0, f[3], 0);
    static const char *qkv_names[3] = {"q_lin", "k_lin", "v_lin"};
    for (int l = 0; l < c->n_layers; l++) {
        const char *pre = "distilbert.transformer.layer";
        size_t ul = (size_t)l;
        for (int j = 0; j < 3; j++) {
            snprintf(name, sizeof name, "%s.%d.attention.%s.weight", pre, l, qkv_names[j]);
            table_add(m, name, 2, C, C, f[4] + (ul * 3 + j) * C * C, 0);
            snprintf(name, sizeof name, "%s.%d.attention.%s.bias", pre, l, qkv_names[j]);
            table_add(m, name, 1, C, 0, f[5] + (ul * 3 + j) * C, 0);
        }
        snprintf(name, sizeof name, "%s.%d.attention.out_lin.weight", pre, l);
        table_add(m, name, 2, C, C, f[6] + ul * C * C, 0);
        snprintf(name, sizeof name, "%s.%d.attention.out_lin.bias", pre, l);
        table_add(m, name, 1, C, 0, f[7] + ul * C, 0);
        snprintf(name, sizeof name, "%s.%d.sa_layer_norm.weight", pre, l);
        table_add(m, name, 1, C, 0, f[8] + ul * C, 0);
        snprintf(name, sizeof name, "%s.%d.sa_layer_norm.bias", pre, l);
        table_add(m, name, 1, C, 0, f[9] + ul * C, 0);
        snprintf(name, sizeof name, "%s.%d.ffn.lin1.weight", pre, l);
        table_add(m, name, 2, I, C, f[10] + ul * I * C, 0);
        snprintf(name, sizeof name, "%s.%d.ffn.lin1.bias", pre, l);
        table_add(m, name, 1, I, 0, f[11] + ul * I, 0);
        snprintf(name, sizeof name, "%s.%d.ffn.lin2.weight", pre, l);
        table_add(m, name, 2, C, I, f[12] + ul * C * I, 0);
        snprintf(name, sizeof name, "%s.%d.ffn.lin2.bias", pre, l);
        table_add(m, name, 1, C, 0, f[13] + ul * C, 0);
        snprintf(name, sizeof name, "%s.%d.output_layer_norm.weight", pre, l);
        table_add(m, name, 1, C, 0, f[14] + ul * C, 0);
        snprintf(name, sizeof name, "%s.%d.output_layer_norm.bias", pre, l);
        table_add(m, name, 1, C, 0, f[15] + ul * C, 0);
    }
    table_add(m, "pre_classifier.weight", 2, C, C, f[16], 1);
    table_add(m, "pre_classifier.bias", 1, C, 0, f[17], 1);
    table_add(m, "classifier.weight", 2, NL, C, f[18], 1);
    table_add(m, "classifier.bias", 1, NL, 0, f[19], 1);
}

// point the fields of a ParameterTensors into `memory`
static void point_params(ParameterTensors *p, real *memory, const size_t sizes[NUM_PARAM_FIELDS]) {
    real **ptrs[NUM_PARAM_FIELDS] = {
        &p->wte, &p->wpe, &p->ln_emb_w, &p->ln_emb_b, &p->qkvw, &p->qkvb, &p->attprojw,
        &p->attprojb, &p->ln1w, &p->ln1b, &p->fcw, &p->fcb, &p->fcprojw, &p->fcprojb,
        &p->ln2w, &p->ln2b, &p->prew, &p->preb, &p->clsw, &p->clsb,
    };
    for (int i = 0; i < NUM_PARAM_FIELDS; i++) {
        *ptrs[i] = memory;
        memory += sizes[i];
    }
}

int model_init(Model *m, const ModelConfig *cfg, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->config = *cfg;
    m->mean_loss = -1;
    size_t sizes[NUM_PARAM_FIELDS], offsets[NUM_PARAM_FIELDS];
    param_field_sizes(cfg, sizes);
    size_t total = 0;
    for (int i = 0; i < NUM_PARAM_FIELDS; i++) {
        offsets[i] = total;
        total += sizes[i];
    }
    m->num_parameters = total;
    size_t max_entries = 8 + (size_t)cfg->n_layers * 16;
    m->table = calloc(max_entries, sizeof(ParamEntry));
    m->params_memory = calloc(total, sizeof(real));
    m->grads_memory = calloc(total, sizeof(real));
    if (!m->table || !m->params_memory || !m->grads_memory) {
        snprintf(err, errlen, "out of memory allocating %zu parameters", total);
        model_free(m);
        return -1;
    }
    build_param_table(m, offsets);
    point_params(&m->params, m->params_memory, sizes);
    point_params(&m->grads, m->grads_memory, sizes);
    return 0;
}

const ParamEntry *model_find_param(const Model *m, const char *name) {
    for (int i = 0; i < m->n_entries; i++)
        if (strcmp(m->table[i].name, name) == 0) return &m->table[i];
    return NULL;
}

// standard normal draws (Box–Muller over a splitmix64 stream)
static double normal_draw(uint64_t seed, uint64_t *counter) {
    double u1 = ((double)(dropout_hash(seed, (*counter)++) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(dropout_hash(seed, (*counter)++) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void model_init_weights(Model *m, uint64_t seed, int head_only) {
    const ModelConfig *c = &m->config;
    uint64_t counter = 0;
    for (int i = 0; i < m->n_entries; i++) {
        const ParamEntry *e = &m->table[i];
        if (head_only && !e->is_head) continue;
        real *p = m->params_memory + e->offset;
        size_t len = strlen(e->name);
        int is_layernorm = strstr(e->name, "LayerNorm") || strstr(e->name, "layer_norm");
        int is_bias = len > 5 && strcmp(e->name + len - 5, ".bias") == 0;
        for (size_t k = 0; k < e->numel; k++) {
            if (is_layernorm) p[k] = is_bias ? 0 : 1;
            else if (is_bias) p[k] = 0;
            else p[k] = (real)(c->initializer_range * normal_draw(seed, &counter));
        }
        // nn.Embedding(padding_idx) zeroes its padding row at initialisation
        if (strcmp(e->name, "distilbert.embeddings.word_embeddings.weight") == 0)
            memset(p + (size_t)c->pad_token_id * c->dim, 0, sizeof(real) * c->dim);
    }
}

// ---------------------------------------------------------------------------- activations

static void activation_sizes(const ModelConfig *c, int B, int T, size_t s[NUM_ACTIVATION_TENSORS]) {
    size_t BT = (size_t)B * T, C = c->dim, L = c->n_layers, I = c->hidden_dim, NH = c->n_heads;
    size_t NL = c->num_labels;
    size_t sizes[NUM_ACTIVATION_TENSORS] = {
        BT * C, BT * C, BT, BT, BT * C,                   // emb, ln_emb, mean, rstd, x0
        L * BT * 3 * C, L * B * NH * T * T, L * BT * C,   // qkv, att, atty
        L * BT * C, L * BT * C, L * BT * C, L * BT, L * BT,  // attproj, resid1, ln1, mean, rstd
        L * BT * I, L * BT * I, L * BT * C, L * BT * C,   // fch, fch_act, fcproj, fcproj_drop
        L * BT * C, L * BT * C, L * BT, L * BT,           // resid2, ln2, mean, rstd
        (size_t)B * C, (size_t)B * C, (size_t)B * C, (size_t)B * C,  // cls, pre, pre_relu, pre_drop
        (size_t)B * NL, (size_t)B * NL, (size_t)B,        // logits, probs, losses
    };
    memcpy(s, sizes, sizeof sizes);
}

// the fields of an ActivationTensors in the order of activation_sizes
static void activation_fields(ActivationTensors *a, real **ptrs[NUM_ACTIVATION_TENSORS]) {
    real **p[NUM_ACTIVATION_TENSORS] = {
        &a->emb, &a->ln_emb, &a->ln_emb_mean, &a->ln_emb_rstd, &a->x0,
        &a->qkv, &a->att, &a->atty, &a->attproj, &a->resid1, &a->ln1, &a->ln1_mean, &a->ln1_rstd,
        &a->fch, &a->fch_act, &a->fcproj, &a->fcproj_drop, &a->resid2, &a->ln2, &a->ln2_mean,
        &a->ln2_rstd, &a->cls, &a->pre, &a->pre_relu, &a->pre_drop, &a->logits, &a->probs,
        &a->losses,
    };
    memcpy(ptrs, p, sizeof p);
}

static void point_activations(ActivationTensors *a, real *memory, const size_t s[NUM_ACTIVATION_TENSORS]) {
    real **ptrs[NUM_ACTIVATION_TENSORS];
    activation_fields(a, ptrs);
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) {
        *ptrs[i] = memory;
        memory += s[i];
    }
}

int model_alloc_activations(Model *m, int max_B, int max_T, char *err, size_t errlen) {
    if (max_B < 1 || max_T < 1 || max_T > m->config.max_position_embeddings) {
        snprintf(err, errlen, "batch shape %d x %d is invalid (sequence length must be 1..%d)",
                 max_B, max_T, m->config.max_position_embeddings);
        return -1;
    }
    size_t sizes[NUM_ACTIVATION_TENSORS], total = 0;
    activation_sizes(&m->config, max_B, max_T, sizes);
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) total += sizes[i];
    free(m->acts_memory);
    free(m->grads_acts_memory);
    free(m->inputs); free(m->positions); free(m->key_mask); free(m->targets);
    size_t BT = (size_t)max_B * max_T;
    m->acts_memory = calloc(total, sizeof(real));
    m->grads_acts_memory = calloc(total, sizeof(real));
    m->inputs = calloc(BT, sizeof(int));
    m->positions = calloc(BT, sizeof(int));
    m->key_mask = calloc(BT, sizeof(int));
    m->targets = calloc((size_t)max_B, sizeof(int));
    if (!m->acts_memory || !m->grads_acts_memory || !m->inputs || !m->positions || !m->key_mask ||
        !m->targets) {
        snprintf(err, errlen, "out of memory allocating activations for batch %d x %d (%zu values)",
                 max_B, max_T, total);
        return -1;
    }
    m->max_B = max_B;
    m->max_T = max_T;
    m->num_activations = total;
    point_activations(&m->acts, m->acts_memory, sizes);
    point_activations(&m->grads_acts, m->grads_acts_memory, sizes);
    return 0;
}

void model_free(Model *m) {
    config_free(&m->config);
    free(m->table);
    free(m->params_memory);
    free(m->grads_memory);
    free(m->m_memory);
    free(m->v_memory);
    free(m->acts_memory);
    free(m->grads_acts_memory);
    free(m->inputs);
    free(m->positions);
    free(m->key_mask);
    free(m->targets);
    memset(m, 0, sizeof *m);
}

// ---------------------------------------------------------------------------- forward

// dropout sites: 0 embeddings, then per layer 2 (attention probabilities, FFN output), then the head
static uint64_t site_seed(const Model *m, int site) {
    return dropout_site_seed(m->dropout_seed, m->forward_count, (uint64_t)site);
}
#define SITE_EMB 0
#define SITE_ATT(l) (1 + 2 * (l))
#define SITE_FFN(l) (2 + 2 * (l))
#define SITE_HEAD(L) (1 + 2 * (L))

int model_forward(Model *m, const int *ids, const int *key_mask, const int *labels, int B, int T,
                  int training, char *err, size_t errlen) {
    const ModelConfig *c = &m->config;
    if (B < 1 || T < 1 || B > m->max_B || T > m->max_T) {
        snprintf(err, errlen, "batch %d x %d exceeds the allocated %d x %d", B, T, m->max_B, m->max_T);
        return -1;
    }
    for (int i = 0; i < B * T; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab_size) {
            snprintf(err, errlen, "token id %d at row %d position %d is outside the vocabulary (%d)",
                     ids[i], i / T, i % T, c->vocab_size);
            return -1;
        }
        if (key_mask[i] != 0 && key_mask[i] != 1) {
            snprintf(err, errlen, "attention mask value %d at row %d position %d is not 0 or 1",
                     key_mask[i], i / T, i % T);
            return -1;
        }
    }
    for (int b = 0; labels && b < B; b++) {
        if ((labels[b] < 0 || labels[b] >= c->num_labels) && labels[b] != -100) {
            snprintf(err, errlen, "label %d of row %d is outside 0..%d", labels[b], b, c->num_labels - 1);
            return -1;
        }
    }
    m->B = B;
    m->T = T;
    m->training = training;
    if (training) m->forward_count++;
    memcpy(m->inputs, ids, sizeof(int) * B * T);
    memcpy(m->key_mask, key_mask, sizeof(int) * B * T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) m->positions[b * T + t] = t;  // DistilBERT: 0..T-1
    if (labels) memcpy(m->targets, labels, sizeof(int) * B);

    int C = c->dim, NH = c->n_heads, I = c->hidden_dim, L = c->n_layers, NL = c->num_labels;
    int BT = B * T;
    real eps = c->layer_norm_eps;
    real p_hidden = training ? c->dropout : 0;
    real p_att = training ? c->attention_dropout : 0;
    real p_head = training ? c->seq_classif_dropout : 0;
    ParameterTensors *w = &m->params;
    ActivationTensors *a = &m->acts;

    embedding_forward(a->emb, m->inputs, m->positions, NULL, w->wte, w->wpe, NULL, B, T, C);
    layernorm_forward(a->ln_emb, a->ln_emb_mean, a->ln_emb_rstd, a->emb, w->ln_emb_w, w->ln_emb_b, BT, C, eps);
    dropout_forward(a->x0, a->ln_emb, p_hidden, site_seed(m, SITE_EMB), BT * C);

    for (int l = 0; l < L; l++) {
        const real *x = l == 0 ? a->x0 : a->ln2 + (size_t)(l - 1) * BT * C;
        real *qkv = a->qkv + (size_t)l * BT * 3 * C;
        real *att = a->att + (size_t)l * B * NH * T * T;
        real *atty = a->atty + (size_t)l * BT * C;
        real *attproj = a->attproj + (size_t)l * BT * C;
        real *resid1 = a->resid1 + (size_t)l * BT * C;
        real *ln1 = a->ln1 + (size_t)l * BT * C;
        real *fch = a->fch + (size_t)l * BT * I;
        real *fch_act = a->fch_act + (size_t)l * BT * I;
        real *fcproj = a->fcproj + (size_t)l * BT * C;
        real *fcproj_drop = a->fcproj_drop + (size_t)l * BT * C;
        real *resid2 = a->resid2 + (size_t)l * BT * C;
        real *ln2 = a->ln2 + (size_t)l * BT * C;

        linear_forward(qkv, x, w->qkvw + (size_t)l * 3 * C * C, w->qkvb + (size_t)l * 3 * C, BT, C, 3 * C);
        attention_forward(atty, att, qkv, m->key_mask, p_att, site_seed(m, SITE_ATT(l)), B, T, C, NH);
        linear_forward(attproj, atty, w->attprojw + (size_t)l * C * C, w->attprojb + (size_t)l * C, BT, C, C);
        residual_forward(resid1, attproj, x, BT * C);
        layernorm_forward(ln1, a->ln1_mean + (size_t)l * BT, a->ln1_rstd + (size_t)l * BT, resid1,
                          w->ln1w + (size_t)l * C, w->ln1b + (size_t)l * C, BT, C, eps);
        linear_forward(fch, ln1, w->fcw + (size_t)l * I * C, w->fcb + (size_t)l * I, BT, C, I);
        if (c->activation == ACT_GELU) gelu_forward(fch_act, fch, BT * I);
        else relu_forward(fch_act, fch, BT * I);
        linear_forward(fcproj, fch_act, w->fcprojw + (size_t)l * C * I, w->fcprojb + (size_t)l * C, BT, I, C);
        dropout_forward(fcproj_drop, fcproj, p_hidden, site_seed(m, SITE_FFN(l)), BT * C);
        residual_forward(resid2, fcproj_drop, ln1, BT * C);
        layernorm_forward(ln2, a->ln2_mean + (size_t)l * BT, a->ln2_rstd + (size_t)l * BT, resid2,
                          w->ln2w + (size_t)l * C, w->ln2b + (size_t)l * C, BT, C, eps);
    }

    // head: first token -> pre_classifier -> ReLU -> dropout -> classifier
    const real *last = a->ln2 + (size_t)(L - 1) * BT * C;
    for (int b = 0; b < B; b++) memcpy(a->cls + (size_t)b * C, last + (size_t)b * T * C, sizeof(real) * C);
    linear_forward(a->pre, a->cls, w->prew, w->preb, B, C, C);
    relu_forward(a->pre_relu, a->pre, B * C);
    dropout_forward(a->pre_drop, a->pre_relu, p_head, site_seed(m, SITE_HEAD(L)), B * C);
    linear_forward(a->logits, a->pre_drop, w->clsw, w->clsb, B, C, NL);
    m->mean_loss = crossentropy_forward(a->probs, a->losses, a->logits, labels ? m->targets : NULL, B, NL);
    if (!labels) m->mean_loss = -1;
    return 0;
}

// ---------------------------------------------------------------------------- backward

void model_zero_grad(Model *m) {
    memset(m->grads_memory, 0, sizeof(real) * m->num_parameters);
}

void model_backward(Model *m) {
    const ModelConfig *c = &m->config;
    int B = m->B, T = m->T;
    int C = c->dim, NH = c->n_heads, I = c->hidden_dim, L = c->n_layers, NL = c->num_labels;
    int BT = B * T;
    real p_hidden = m->training ? c->dropout : 0;
    real p_att = m->training ? c->attention_dropout : 0;
    real p_head = m->training ? c->seq_classif_dropout : 0;
    ParameterTensors *w = &m->params, *g = &m->grads;
    ActivationTensors *a = &m->acts, *d = &m->grads_acts;

    // activation gradients are accumulated too: clear the part this batch shape uses
    size_t sizes[NUM_ACTIVATION_TENSORS];
    activation_sizes(c, B, T, sizes);
    real **fields[NUM_ACTIVATION_TENSORS];
    activation_fields(d, fields);
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) memset(*fields[i], 0, sizeof(real) * sizes[i]);

    // head, in reverse
    crossentropy_backward(d->logits, a->probs, m->targets, B, NL);
    linear_backward(d->pre_drop, g->clsw, g->clsb, d->logits, a->pre_drop, w->clsw, B, C, NL);
    dropout_backward(d->pre_relu, d->pre_drop, p_head, site_seed(m, SITE_HEAD(L)), B * C);
    relu_backward(d->pre, a->pre_relu, d->pre_relu, B * C);
    linear_backward(d->cls, g->prew, g->preb, d->pre, a->cls, w->prew, B, C, C);
    // only the first token of the last block's output reaches the head
    real *dlast = d->ln2 + (size_t)(L - 1) * BT * C;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < C; i++) dlast[(size_t)b * T * C + i] += d->cls[(size_t)b * C + i];

    for (int l = L - 1; l >= 0; l--) {
        size_t oC = (size_t)l * BT * C, oI = (size_t)l * BT * I, oN = (size_t)l * BT;
        const real *x = l == 0 ? a->x0 : a->ln2 + oC - (size_t)BT * C;
        real *dx = l == 0 ? d->x0 : d->ln2 + oC - (size_t)BT * C;

        layernorm_backward(d->resid2 + oC, g->ln2w + (size_t)l * C, g->ln2b + (size_t)l * C, d->ln2 + oC,
                           a->resid2 + oC, w->ln2w + (size_t)l * C, a->ln2_mean + oN, a->ln2_rstd + oN, BT, C);
        residual_backward(d->fcproj_drop + oC, d->ln1 + oC, d->resid2 + oC, BT * C);
        dropout_backward(d->fcproj + oC, d->fcproj_drop + oC, p_hidden, site_seed(m, SITE_FFN(l)), BT * C);
        linear_backward(d->fch_act + oI, g->fcprojw + (size_t)l * C * I, g->fcprojb + (size_t)l * C,
                        d->fcproj + oC, a->fch_act + oI, w->fcprojw + (size_t)l * C * I, BT, I, C);
        if (c->activation == ACT_GELU) gelu_backward(d->fch + oI, a->fch + oI, d->fch_act + oI, BT * I);
        else relu_backward(d->fch + oI, a->fch_act + oI, d->fch_act + oI, BT * I);
        linear_backward(d->ln1 + oC, g->fcw + (size_t)l * I * C, g->fcb + (size_t)l * I, d->fch + oI,
                        a->ln1 + oC, w->fcw + (size_t)l * I * C, BT, C, I);
        layernorm_backward(d->resid1 + oC, g->ln1w + (size_t)l * C, g->ln1b + (size_t)l * C, d->ln1 + oC,
                           a->resid1 + oC, w->ln1w + (size_t)l * C, a->ln1_mean + oN, a->ln1_rstd + oN, BT, C);
        residual_backward(d->attproj + oC, dx, d->resid1 + oC, BT * C);
        linear_backward(d->atty + oC, g->attprojw + (size_t)l * C * C, g->attprojb + (size_t)l * C,
                        d->attproj + oC, a->atty + oC, w->attprojw + (size_t)l * C * C, BT, C, C);
        attention_backward(d->qkv + 3 * oC, d->atty + oC, a->qkv + 3 * oC, a->att + (size_t)l * B * NH * T * T,
                           p_att, site_seed(m, SITE_ATT(l)), B, T, C, NH);
        linear_backward(dx, g->qkvw + (size_t)l * 3 * C * C, g->qkvb + (size_t)l * 3 * C, d->qkv + 3 * oC,
                        x, w->qkvw + (size_t)l * 3 * C * C, BT, C, 3 * C);
    }

    dropout_backward(d->ln_emb, d->x0, p_hidden, site_seed(m, SITE_EMB), BT * C);
    layernorm_backward(d->emb, g->ln_emb_w, g->ln_emb_b, d->ln_emb, a->emb, w->ln_emb_w,
                       a->ln_emb_mean, a->ln_emb_rstd, BT, C);
    embedding_backward(g->wte, g->wpe, NULL, d->emb, m->inputs, m->positions, NULL,
                       c->pad_token_id, -1, B, T, C);
}
