// model.c: encoder sequence classifiers (DistilBERT, BERT, RoBERTa) — buffers, forward, backward.
//
// The forward (reference-semantics.md §3.3–3.6), with the buffers of ActivationTensors in brackets:
//   [emb]     = (word_emb[ids] + type_emb[0]) + pos_emb[pos]   (no type_emb in DistilBERT;
//               pos = t, RoBERTa: padding_idx + 1 + index among non-pad tokens)
//   [x0]      = dropout(LayerNorm(emb))                                          [ln_emb]
//   per block: [qkv] = Linear(x; Wq|Wk|Wv)   [atty] = attention(qkv, mask)   [attproj] = Linear(atty; Wo)
//              [ln1] = LayerNorm(dropout(attproj) + x)   (DistilBERT: no dropout) [attproj_drop, resid1]
//              [fcproj] = Linear(gelu(Linear(ln1)))                             [fch, fch_act]
//              [ln2] = LayerNorm(dropout(fcproj) + ln1) = block output          [fcproj_drop, resid2]
//   [cls]    = ln2_last[:, 0, :]
//   head     = DistilBERT: out(dropout(relu(dense(cls))))      BERT: out(dropout(tanh(pooler(cls))))
//              RoBERTa:    out(dropout(tanh(dense(dropout(cls)))))   [cls_drop, pre, pre_act, pre_drop, logits]
//   loss     = mean cross-entropy                                               [probs, losses]
// One block is block_forward / block_backward, over the layer's named tensors (LayerParams,
// LayerActs). The last block needs every token's key and value (token 0 attends to all of them), but
// past its attention only token 0 reaches the head: from atty to ln2 it runs on the B token-0 rows
// (attention_forward_first_query; residual input x_cls), which is exact and skips ~3/4 of its work;
// that shortcut is the `last` branch of the two block functions and nowhere else.
// model_backward walks the same list in reverse; every kernel adds into its input gradients
// (kernels/kernels.h), so the residual stream needs no special handling.
#include "model/model.h"
#include "model/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dropout.h"
#include "kernels/kernels.h"

// ---------------------------------------------------------------------------- allocation

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
    m->num_parameters = total;  // = model_num_parameters(cfg)
    size_t max_entries = 16 + (size_t)cfg->n_layers * 16;
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

// ---------------------------------------------------------------------------- activations

void model_activation_sizes(const ModelConfig *c, int B, int T, size_t s[NUM_ACTIVATION_TENSORS]) {
    size_t BT = (size_t)B * T, C = c->dim, L = c->n_layers, I = c->hidden_dim, NH = c->n_heads;
    size_t NL = c->num_labels;
    size_t sizes[NUM_ACTIVATION_TENSORS] = {
        BT * C, BT * C, BT, BT, BT * C,                   // emb, ln_emb, mean, rstd, x0
        L * BT * 3 * C, L * B * NH * T * T, L * BT * C,   // qkv, att, atty
        L * BT * C, L * BT * C,                           // attproj, attproj_drop
        L * BT * C, L * BT * C, L * BT, L * BT,           // resid1, ln1, mean, rstd
        L * BT * I, L * BT * I, L * BT * C, L * BT * C,   // fch, fch_act, fcproj, fcproj_drop
        L * BT * C, L * BT * C, L * BT, L * BT,           // resid2, ln2, mean, rstd
        (size_t)B * C,                                    // x_cls
        (size_t)B * C, (size_t)B * C,                     // cls, cls_drop
        (size_t)B * C, (size_t)B * C, (size_t)B * C,      // pre, pre_act, pre_drop
        (size_t)B * NL, (size_t)B * NL, (size_t)B,        // logits, probs, losses
    };
    memcpy(s, sizes, sizeof sizes);
}

// the fields of an ActivationTensors in the order of model_activation_sizes
static void activation_fields(ActivationTensors *a, real **ptrs[NUM_ACTIVATION_TENSORS]) {
    real **p[NUM_ACTIVATION_TENSORS] = {
        &a->emb, &a->ln_emb, &a->ln_emb_mean, &a->ln_emb_rstd, &a->x0,
        &a->qkv, &a->att, &a->atty, &a->attproj, &a->attproj_drop, &a->resid1, &a->ln1, &a->ln1_mean,
        &a->ln1_rstd, &a->fch, &a->fch_act, &a->fcproj, &a->fcproj_drop, &a->resid2, &a->ln2, &a->ln2_mean,
        &a->ln2_rstd, &a->x_cls, &a->cls, &a->cls_drop, &a->pre, &a->pre_act, &a->pre_drop, &a->logits, &a->probs,
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
    if (max_B < 1 || max_T < 1 || max_T > model_max_sequence_length(&m->config)) {
        snprintf(err, errlen, "batch shape %d x %d is invalid (sequence length must be 1..%d)",
                 max_B, max_T, model_max_sequence_length(&m->config));
        return -1;
    }
    size_t sizes[NUM_ACTIVATION_TENSORS], total = 0;
    model_activation_sizes(&m->config, max_B, max_T, sizes);
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) total += sizes[i];
    free(m->acts_memory);
    free(m->grads_acts_memory);
    free(m->inputs); free(m->positions); free(m->token_types); free(m->key_mask); free(m->targets);
    size_t BT = (size_t)max_B * max_T;
    m->acts_memory = calloc(total, sizeof(real));
    m->grads_acts_memory = calloc(total, sizeof(real));
    m->inputs = calloc(BT, sizeof(int));
    m->positions = calloc(BT, sizeof(int));
    m->token_types = calloc(BT, sizeof(int));
    m->key_mask = calloc(BT, sizeof(int));
    m->targets = calloc((size_t)max_B, sizeof(int));
    if (!m->acts_memory || !m->grads_acts_memory || !m->inputs || !m->positions || !m->token_types || !m->key_mask ||
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
    free(m->token_types);
    free(m->key_mask);
    free(m->targets);
    memset(m, 0, sizeof *m);
}

// ---------------------------------------------------------------------------- forward

// the seed of a dropout site (model.h) in this forward
static uint64_t site_seed(const Model *m, int site) {
    return dropout_site_seed(m->dropout_seed, m->forward_count, (uint64_t)site);
}

int model_max_sequence_length(const ModelConfig *c) {
    // RoBERTa positions run from padding_idx + 1 to padding_idx + T
    return c->arch == ARCH_ROBERTA ? c->max_position_embeddings - c->pad_token_id - 1 : c->max_position_embeddings;
}

// Position ids: 0..T-1, except RoBERTa's (create_position_ids_from_input_ids):
// pos = padding_idx + (number of non-pad tokens up to and including t) for non-pad tokens, padding_idx for pads.
void model_fill_positions(int *pos, const int *ids, const ModelConfig *c, int B, int T) {
    for (int b = 0; b < B; b++) {
        int count = 0;
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            if (c->arch != ARCH_ROBERTA) { pos[i] = t; continue; }
            if (ids[i] != c->pad_token_id) pos[i] = c->pad_token_id + (++count);
            else pos[i] = c->pad_token_id;
        }
    }
}

DropoutRates model_dropout_rates(const ModelConfig *c, int training) {
    DropoutRates r = {0, 0, 0, 0, 0};
    if (!training) return r;
    r.hidden = c->dropout;
    r.att = c->attention_dropout;
    r.attproj = c->arch == ARCH_DISTILBERT ? 0 : c->dropout;        // DistilBERT: none on out_lin
    r.head_in = c->arch == ARCH_ROBERTA ? c->seq_classif_dropout : 0;  // RoBERTa: dropout before dense
    r.head_out = c->seq_classif_dropout;
    return r;
}

int model_check_inputs(const ModelConfig *c, const int *ids, const int *key_mask, const int *labels, int B, int T,
                       int max_B, int max_T, char *err, size_t errlen) {
    if (B < 1 || T < 1 || B > max_B || T > max_T) {
        snprintf(err, errlen, "batch %d x %d exceeds the allocated %d x %d", B, T, max_B, max_T);
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
    return 0;
}

// ---------------------------------------------------------------------------- one block

LayerParams model_layer_params(const ParameterTensors *p, const ModelConfig *c, int l) {
    size_t C = c->dim, I = c->hidden_dim, L1 = (size_t)l;
    LayerParams lp = {
        p->qkvw + L1 * 3 * C * C, p->qkvb + L1 * 3 * C,
        p->attprojw + L1 * C * C, p->attprojb + L1 * C,
        p->ln1w + L1 * C, p->ln1b + L1 * C,
        p->fcw + L1 * I * C, p->fcb + L1 * I,
        p->fcprojw + L1 * C * I, p->fcprojb + L1 * C,
        p->ln2w + L1 * C, p->ln2b + L1 * C,
    };
    return lp;
}

// One layer's activations (or their gradients) by name: layer l of the stacked ActivationTensors
// fields for a batch B x T. In the last block atty .. ln2 hold B rows (see model.h).
typedef struct {
    real *qkv, *att, *atty, *attproj, *attproj_drop, *resid1, *ln1, *ln1_mean, *ln1_rstd;
    real *fch, *fch_act, *fcproj, *fcproj_drop, *resid2, *ln2, *ln2_mean, *ln2_rstd;
} LayerActs;

static LayerActs layer_acts(const ActivationTensors *a, const ModelConfig *c, int l, int B, int T) {
    size_t BT = (size_t)B * T, C = c->dim, I = c->hidden_dim, NH = c->n_heads;
    size_t oC = (size_t)l * BT * C, oI = (size_t)l * BT * I, oN = (size_t)l * BT;
    LayerActs la = {
        a->qkv + 3 * oC, a->att + (size_t)l * B * NH * T * T, a->atty + oC, a->attproj + oC, a->attproj_drop + oC,
        a->resid1 + oC, a->ln1 + oC, a->ln1_mean + oN, a->ln1_rstd + oN,
        a->fch + oI, a->fch_act + oI, a->fcproj + oC, a->fcproj_drop + oC,
        a->resid2 + oC, a->ln2 + oC, a->ln2_mean + oN, a->ln2_rstd + oN,
    };
    return la;
}

// the input (B,T,C) of block l: x0 for the first, the previous block's ln2 otherwise
static real *block_input(const ActivationTensors *a, const ModelConfig *c, int l, int B, int T) {
    return l == 0 ? a->x0 : a->ln2 + (size_t)(l - 1) * B * T * c->dim;
}

// Block l of the encoder, x (B,T,C) -> its ln2 slot:
//   qkv = x·Wqkvᵀ + b    atty = attention(qkv)    resid1 = dropout(atty·Woᵀ + bo) + x    ln1 = LN(resid1)
//   fch = ln1·W1ᵀ + b1   fch_act = gelu(fch)      resid2 = dropout(fch_act·W2ᵀ + b2) + ln1   ln2 = LN(resid2)
// The last block continues past attention with token 0 only: N = B rows, residual input x_cls; its
// dropouts draw the masks of those rows in the full (B,T,C) layout (row stride T·C).
static void block_forward(Model *m, int l, const real *x, DropoutRates p) {
    const ModelConfig *c = &m->config;
    int B = m->B, T = m->T, C = c->dim, NH = c->n_heads, I = c->hidden_dim, BT = B * T;
    int last = l == c->n_layers - 1, N = last ? B : BT;
    size_t row_stride = (size_t)C * (BT / N);
    real eps = c->layer_norm_eps;
    LayerParams w = model_layer_params(&m->params, c, l);
    LayerActs a = layer_acts(&m->acts, c, l, B, T);
    const real *xin = x;   // the residual input of the N rows

    linear_forward(a.qkv, x, w.qkvw, w.qkvb, BT, C, 3 * C);
    if (last) {
        attention_forward_first_query(a.atty, a.att, a.qkv, m->key_mask, p.att, site_seed(m, SITE_ATT(l)), B, T, C,
                                      NH);
        first_token_forward(m->acts.x_cls, x, B, T, C);
        xin = m->acts.x_cls;
    } else {
        attention_forward(a.atty, a.att, a.qkv, m->key_mask, p.att, site_seed(m, SITE_ATT(l)), B, T, C, NH);
    }
    linear_forward(a.attproj, a.atty, w.attprojw, w.attprojb, N, C, C);
    dropout_forward_rows(a.attproj_drop, a.attproj, p.attproj, site_seed(m, SITE_ATTPROJ(l)), N, C, row_stride);
    residual_forward(a.resid1, a.attproj_drop, xin, N * C);
    layernorm_forward(a.ln1, a.ln1_mean, a.ln1_rstd, a.resid1, w.ln1w, w.ln1b, N, C, eps);
    linear_forward(a.fch, a.ln1, w.fcw, w.fcb, N, C, I);
    if (c->activation == ACT_GELU) gelu_forward(a.fch_act, a.fch, N * I);
    else relu_forward(a.fch_act, a.fch, N * I);
    linear_forward(a.fcproj, a.fch_act, w.fcprojw, w.fcprojb, N, I, C);
    dropout_forward_rows(a.fcproj_drop, a.fcproj, p.hidden, site_seed(m, SITE_FFN(l)), N, C, row_stride);
    residual_forward(a.resid2, a.fcproj_drop, a.ln1, N * C);
    layernorm_forward(a.ln2, a.ln2_mean, a.ln2_rstd, a.resid2, w.ln2w, w.ln2b, N, C, eps);
}

// block_forward in reverse: from the gradient in its ln2 slot into dx (B,T,C) and the layer's
// parameter gradients (every kernel adds into its input gradients)
static void block_backward(Model *m, int l, const real *x, real *dx, DropoutRates p) {
    const ModelConfig *c = &m->config;
    int B = m->B, T = m->T, C = c->dim, NH = c->n_heads, I = c->hidden_dim, BT = B * T;
    int last = l == c->n_layers - 1, N = last ? B : BT;
    size_t row_stride = (size_t)C * (BT / N);
    LayerParams w = model_layer_params(&m->params, c, l), g = model_layer_params(&m->grads, c, l);
    LayerActs a = layer_acts(&m->acts, c, l, B, T), d = layer_acts(&m->grads_acts, c, l, B, T);
    real *dxin = last ? m->grads_acts.x_cls : dx;

    layernorm_backward(d.resid2, g.ln2w, g.ln2b, d.ln2, a.resid2, w.ln2w, a.ln2_mean, a.ln2_rstd, N, C);
    residual_backward(d.fcproj_drop, d.ln1, d.resid2, N * C);
    dropout_backward_rows(d.fcproj, d.fcproj_drop, p.hidden, site_seed(m, SITE_FFN(l)), N, C, row_stride);
    linear_backward(d.fch_act, g.fcprojw, g.fcprojb, d.fcproj, a.fch_act, w.fcprojw, N, I, C);
    if (c->activation == ACT_GELU) gelu_backward(d.fch, a.fch, d.fch_act, N * I);
    else relu_backward(d.fch, a.fch_act, d.fch_act, N * I);
    linear_backward(d.ln1, g.fcw, g.fcb, d.fch, a.ln1, w.fcw, N, C, I);
    layernorm_backward(d.resid1, g.ln1w, g.ln1b, d.ln1, a.resid1, w.ln1w, a.ln1_mean, a.ln1_rstd, N, C);
    residual_backward(d.attproj_drop, dxin, d.resid1, N * C);
    dropout_backward_rows(d.attproj, d.attproj_drop, p.attproj, site_seed(m, SITE_ATTPROJ(l)), N, C, row_stride);
    linear_backward(d.atty, g.attprojw, g.attprojb, d.attproj, a.atty, w.attprojw, N, C, C);
    if (last) {
        attention_backward_first_query(d.qkv, d.atty, a.qkv, a.att, p.att, site_seed(m, SITE_ATT(l)), B, T, C, NH);
        first_token_backward(dx, m->grads_acts.x_cls, B, T, C);  // token 0's residual path into the input
    } else {
        attention_backward(d.qkv, d.atty, a.qkv, a.att, p.att, site_seed(m, SITE_ATT(l)), B, T, C, NH);
    }
    // dQ is zero outside token 0 in the last block: the full product is still exact
    linear_backward(dx, g.qkvw, g.qkvb, d.qkv, x, w.qkvw, BT, C, 3 * C);
}

int model_forward(Model *m, const int *ids, const int *key_mask, const int *labels, int B, int T,
                  int training, char *err, size_t errlen) {
    const ModelConfig *c = &m->config;
    if (model_check_inputs(c, ids, key_mask, labels, B, T, m->max_B, m->max_T, err, errlen) != 0) return -1;
    m->B = B;
    m->T = T;
    m->training = training;
    if (training) m->forward_count++;
    memcpy(m->inputs, ids, sizeof(int) * B * T);
    memcpy(m->key_mask, key_mask, sizeof(int) * B * T);
    model_fill_positions(m->positions, ids, c, B, T);
    if (labels) memcpy(m->targets, labels, sizeof(int) * B);

    int C = c->dim, L = c->n_layers, NL = c->num_labels;
    int BT = B * T;
    real eps = c->layer_norm_eps;
    DropoutRates p = model_dropout_rates(c, training);
    ParameterTensors *w = &m->params;
    ActivationTensors *a = &m->acts;

    embedding_forward(a->emb, m->inputs, m->positions, m->token_types, w->wte, w->wpe,
                      c->type_vocab_size > 0 ? w->wtt : NULL, B, T, C);
    layernorm_forward(a->ln_emb, a->ln_emb_mean, a->ln_emb_rstd, a->emb, w->ln_emb_w, w->ln_emb_b, BT, C, eps);
    dropout_forward(a->x0, a->ln_emb, p.hidden, site_seed(m, SITE_EMB), BT * C);

    for (int l = 0; l < L; l++) block_forward(m, l, block_input(&m->acts, c, l, B, T), p);

    // head on the first token: [dropout] -> dense -> relu/tanh -> dropout -> output linear
    memcpy(a->cls, a->ln2 + (size_t)(L - 1) * BT * C, sizeof(real) * B * C);  // the last block's B rows
    dropout_forward(a->cls_drop, a->cls, p.head_in, site_seed(m, SITE_HEAD_IN(L)), B * C);
    linear_forward(a->pre, a->cls_drop, w->prew, w->preb, B, C, C);
    if (c->arch == ARCH_DISTILBERT) relu_forward(a->pre_act, a->pre, B * C);
    else tanh_forward(a->pre_act, a->pre, B * C);
    dropout_forward(a->pre_drop, a->pre_act, p.head_out, site_seed(m, SITE_HEAD_OUT(L)), B * C);
    linear_forward(a->logits, a->pre_drop, w->clsw, w->clsb, B, C, NL);
    m->mean_loss = crossentropy_forward(a->probs, a->losses, a->logits, labels ? m->targets : NULL, B, NL);
    if (!labels) m->mean_loss = -1;
    return 0;
}

// ---------------------------------------------------------------------------- backward

// memset split over the OpenMP threads (hundreds of MB per step: one core alone cannot saturate memory)
static void zero_parallel(real *p, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i += 65536) memset(p + i, 0, sizeof(real) * (n - i < 65536 ? n - i : 65536));
}

void model_zero_grad(Model *m) {
    zero_parallel(m->grads_memory, m->num_parameters);
}

void model_backward(Model *m) {
    const ModelConfig *c = &m->config;
    int B = m->B, T = m->T;
    int C = c->dim, L = c->n_layers, NL = c->num_labels;
    int BT = B * T;
    DropoutRates p = model_dropout_rates(c, m->training);
    ParameterTensors *w = &m->params, *g = &m->grads;
    ActivationTensors *a = &m->acts, *d = &m->grads_acts;

    // activation gradients are accumulated too: clear the part this batch shape uses
    size_t sizes[NUM_ACTIVATION_TENSORS];
    model_activation_sizes(c, B, T, sizes);
    real **fields[NUM_ACTIVATION_TENSORS];
    activation_fields(d, fields);
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) zero_parallel(*fields[i], sizes[i]);

    // head, in reverse
    crossentropy_backward(d->logits, a->probs, m->targets, B, NL);
    linear_backward(d->pre_drop, g->clsw, g->clsb, d->logits, a->pre_drop, w->clsw, B, C, NL);
    dropout_backward(d->pre_act, d->pre_drop, p.head_out, site_seed(m, SITE_HEAD_OUT(L)), B * C);
    if (c->arch == ARCH_DISTILBERT) relu_backward(d->pre, a->pre_act, d->pre_act, B * C);
    else tanh_backward(d->pre, a->pre_act, d->pre_act, B * C);
    linear_backward(d->cls_drop, g->prew, g->preb, d->pre, a->cls_drop, w->prew, B, C, C);
    dropout_backward(d->cls, d->cls_drop, p.head_in, site_seed(m, SITE_HEAD_IN(L)), B * C);
    // the head read the last block's output (its B token-0 rows)
    real *dlast = d->ln2 + (size_t)(L - 1) * BT * C;
    for (int i = 0; i < B * C; i++) dlast[i] += d->cls[i];

    for (int l = L - 1; l >= 0; l--)
        block_backward(m, l, block_input(&m->acts, c, l, B, T), block_input(&m->grads_acts, c, l, B, T), p);

    dropout_backward(d->ln_emb, d->x0, p.hidden, site_seed(m, SITE_EMB), BT * C);
    layernorm_backward(d->emb, g->ln_emb_w, g->ln_emb_b, d->ln_emb, a->emb, w->ln_emb_w,
                       a->ln_emb_mean, a->ln_emb_rstd, BT, C);
    // nn.Embedding(padding_idx): no gradient into the pad row (RoBERTa's position table too)
    embedding_backward(g->wte, g->wpe, c->type_vocab_size > 0 ? g->wtt : NULL, d->emb, m->inputs, m->positions,
                       m->token_types, c->pad_token_id, c->arch == ARCH_ROBERTA ? c->pad_token_id : -1, B, T, C);
}
