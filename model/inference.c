// inference.c: the eval-mode forward with one layer's buffers, packed weights and a first-token-only
// last layer (inference.h). The math is model.c's forward with every dropout the identity:
//   x     = LayerNorm(word_emb[ids] (+ type_emb[0]) + pos_emb[pos])
//   per block:  qkv = x·[Wq|Wk|Wv]ᵀ   atty = attention(qkv, mask)   ln1 = LayerNorm(atty·Woᵀ + x)
//               x   = LayerNorm(act(ln1·W1ᵀ)·W2ᵀ + ln1)
//   head on x[:,0,:] -> logits, softmax, cross-entropy.
// In the last block, K and V are needed for every token (token 0 attends to all of them) but
// everything after them only for token 0: the block runs on the B rows of `cls` instead of B·T rows.
#include "model/inference.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void inference_free(Inference *inf) {
    PackedB *per_layer[] = {inf->wqkv, inf->wo, inf->w1, inf->w2};
    for (int k = 0; k < 4; k++) {
        for (int l = 0; per_layer[k] && l < inf->n_layers; l++) matmul_pack_free(&per_layer[k][l]);
        free(per_layer[k]);
    }
    matmul_pack_free(&inf->wq_last);
    matmul_pack_free(&inf->wkv_last);
    matmul_pack_free(&inf->wpre);
    matmul_pack_free(&inf->wcls);
    free(inf->memory);
    free(inf->positions);
    free(inf->token_types);
    memset(inf, 0, sizeof *inf);
}

static int pack_weights(Inference *inf, const Model *m) {
    const ModelConfig *c = &m->config;
    const ParameterTensors *w = &m->params;
    int C = c->dim, I = c->hidden_dim, L = c->n_layers;
    PackedB **per_layer[] = {&inf->wqkv, &inf->wo, &inf->w1, &inf->w2};
    for (int k = 0; k < 4; k++)
        if (!(*per_layer[k] = calloc((size_t)L, sizeof(PackedB)))) return -1;
    for (int l = 0; l < L; l++) {
        LayerParams lw = model_layer_params(w, c, l);
        int qkv_failed = l < L - 1 ? linear_pack(&inf->wqkv[l], lw.qkvw, C, 3 * C)
                                   : linear_pack(&inf->wq_last, lw.qkvw, C, C) ||
                                         linear_pack(&inf->wkv_last, lw.qkvw + (size_t)C * C, C, 2 * C);
        if (qkv_failed || linear_pack(&inf->wo[l], lw.attprojw, C, C) || linear_pack(&inf->w1[l], lw.fcw, C, I) ||
            linear_pack(&inf->w2[l], lw.fcprojw, I, C))
            return -1;
    }
    if (linear_pack(&inf->wpre, w->prew, C, C) || linear_pack(&inf->wcls, w->clsw, C, c->num_labels)) return -1;
    return 0;
}

int inference_init(Inference *inf, const Model *m, int max_B, int max_T, char *err, size_t errlen) {
    memset(inf, 0, sizeof *inf);
    const ModelConfig *c = &m->config;
    if (max_B < 1 || max_T < 1 || max_T > model_max_sequence_length(c)) {
        snprintf(err, errlen, "batch shape %d x %d is invalid (sequence length must be 1..%d)", max_B, max_T,
                 model_max_sequence_length(c));
        return -1;
    }
    size_t BT = (size_t)max_B * max_T, C = c->dim, I = c->hidden_dim, B = max_B, NL = c->num_labels;
    size_t sizes[] = {BT * C, BT * 3 * C, BT * C, BT * C, BT * C, BT * I, BT, BT, B * C, B * C, B * NL, B * NL, B};
    real **fields[] = {&inf->x, &inf->qkv, &inf->atty, &inf->sum, &inf->ln1, &inf->fch, &inf->mean, &inf->rstd,
                       &inf->cls, &inf->pre, &inf->logits, &inf->probs, &inf->losses};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
    inf->n_layers = c->n_layers;
    inf->memory = malloc(total * sizeof(real));
    inf->positions = malloc(BT * sizeof(int));
    inf->token_types = calloc(BT, sizeof(int));
    if (!inf->memory || !inf->positions || !inf->token_types || pack_weights(inf, m) != 0) {
        snprintf(err, errlen, "out of memory allocating inference buffers for batch %d x %d", max_B, max_T);
        inference_free(inf);
        return -1;
    }
    real *p = inf->memory;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *fields[i] = p;
        p += sizes[i];
    }
    inf->max_B = max_B;
    inf->max_T = max_T;
    inf->mean_loss = -1;
    return 0;
}

// One block over N rows of xin (N = B·T, or B in the last block, where xin = cls holds token 0);
// K and V always come from all B·T rows of inf->x. The block output replaces xin.
static void block_forward(Inference *inf, const Model *m, const int *key_mask, int l, int B, int T, int last) {
    const ModelConfig *c = &m->config;
    LayerParams w = model_layer_params(&m->params, c, l);
    int C = c->dim, I = c->hidden_dim, NH = c->n_heads, N = last ? B : B * T;
    real eps = c->layer_norm_eps;
    real *xin = last ? inf->cls : inf->x;
    const real *qkvb = w.qkvb;

    if (last) {
        // K|V of every token into columns C..3C of qkv; Q of token 0 into columns 0..C at t = 0 of
        // each batch row (rows T·3C apart)
        linear_forward_packed(inf->qkv + C, 3 * C, inf->x, &inf->wkv_last, qkvb + C, B * T);
        linear_forward_packed(inf->qkv, T * 3 * C, xin, &inf->wq_last, qkvb, B);
        attention_forward_first_query(inf->atty, NULL, inf->qkv, key_mask, 0, 0, B, T, C, NH);
    } else {
        linear_forward_packed(inf->qkv, 3 * C, inf->x, &inf->wqkv[l], qkvb, B * T);
        attention_forward(inf->atty, NULL, inf->qkv, key_mask, 0, 0, B, T, C, NH);
    }

    // ln1 = LayerNorm(out_lin(atty) + xin)
    linear_forward_packed(inf->sum, C, inf->atty, &inf->wo[l], w.attprojb, N);
    residual_forward(inf->sum, inf->sum, xin, N * C);
    layernorm_forward(inf->ln1, inf->mean, inf->rstd, inf->sum, w.ln1w, w.ln1b, N, C, eps);
    // xin = LayerNorm(lin2(act(lin1(ln1))) + ln1)
    linear_forward_packed(inf->fch, I, inf->ln1, &inf->w1[l], w.fcb, N);
    if (c->activation == ACT_GELU) gelu_forward(inf->fch, inf->fch, N * I);
    else relu_forward(inf->fch, inf->fch, N * I);
    linear_forward_packed(inf->sum, C, inf->fch, &inf->w2[l], w.fcprojb, N);
    residual_forward(inf->sum, inf->sum, inf->ln1, N * C);
    layernorm_forward(xin, inf->mean, inf->rstd, inf->sum, w.ln2w, w.ln2b, N, C, eps);
}

int inference_forward(Inference *inf, const Model *m, const int *ids, const int *key_mask, const int *labels,
                      int B, int T, char *err, size_t errlen) {
    const ModelConfig *c = &m->config;
    if (model_check_inputs(c, ids, key_mask, labels, B, T, inf->max_B, inf->max_T, err, errlen) != 0) return -1;
    const ParameterTensors *w = &m->params;
    int C = c->dim, L = c->n_layers, NL = c->num_labels;

    model_fill_positions(inf->positions, ids, c, B, T);
    embedding_forward(inf->sum, ids, inf->positions, inf->token_types, w->wte, w->wpe,
                      c->type_vocab_size > 0 ? w->wtt : NULL, B, T, C);
    layernorm_forward(inf->x, inf->mean, inf->rstd, inf->sum, w->ln_emb_w, w->ln_emb_b, B * T, C, c->layer_norm_eps);
    for (int l = 0; l < L; l++) {  // L >= 1 (config.c)
        int last = l == L - 1;
        if (last) first_token_forward(inf->cls, inf->x, B, T, C);  // all that the last block carries forward
        block_forward(inf, m, key_mask, l, B, T, last);
    }

    // head on token 0: dense -> relu (DistilBERT) / tanh (BERT pooler, RoBERTa) -> output linear
    linear_forward_packed(inf->pre, C, inf->cls, &inf->wpre, w->preb, B);
    if (c->arch == ARCH_DISTILBERT) relu_forward(inf->pre, inf->pre, B * C);
    else tanh_forward(inf->pre, inf->pre, B * C);
    linear_forward_packed(inf->logits, NL, inf->pre, &inf->wcls, w->clsb, B);
    inf->mean_loss = crossentropy_forward(inf->probs, inf->losses, inf->logits, labels, B, NL);
    if (!labels) inf->mean_loss = -1;
    return 0;
}
