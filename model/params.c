// params.c: the parameter table — every Hugging Face tensor's name, shape and offset in the one
// contiguous parameter buffer — and HF's initialisation of new weights.
//
// Per-layer tensors are stacked over layers in ParameterTensors (llm.c layout); the table maps each
// HF tensor onto its block: e.g. layer l's query, key and value weights are the three (C, C) blocks
// of qkvw at offset l·3C·C, so one linear computes Q, K and V together. Loading and saving a
// checkpoint is a loop over this table (checkpoint.c).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dropout.h"
#include "model/params.h"

// HF names of one architecture (reference-semantics.md §2.2–2.4)
typedef struct {
    const char *base;              // "distilbert", "bert", "roberta": prefix of the encoder tensors
    const char *layer;             // per-layer prefix after the base
    const char *qkv[3], *attn_out, *ln1, *ffn_in, *ffn_out, *ln2;
    const char *head_dense, *head_out;  // full names of the two head linears
} ArchNames;

static const ArchNames DISTILBERT = {
    "distilbert", "transformer.layer",
    {"attention.q_lin", "attention.k_lin", "attention.v_lin"}, "attention.out_lin", "sa_layer_norm",
    "ffn.lin1", "ffn.lin2", "output_layer_norm",
    "pre_classifier", "classifier",
};
static const ArchNames BERT = {
    "bert", "encoder.layer",
    {"attention.self.query", "attention.self.key", "attention.self.value"}, "attention.output.dense",
    "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
    "bert.pooler.dense", "classifier",
};
static const ArchNames ROBERTA = {
    "roberta", "encoder.layer",
    {"attention.self.query", "attention.self.key", "attention.self.value"}, "attention.output.dense",
    "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
    "classifier.dense", "classifier.out_proj",
};

static const ArchNames *arch_names(ModelArch arch) {
    return arch == ARCH_BERT ? &BERT : arch == ARCH_ROBERTA ? &ROBERTA : &DISTILBERT;
}

const char *model_base_prefix(ModelArch arch) {
    static const char *prefixes[] = {"distilbert.", "bert.", "roberta."};
    return prefixes[arch];
}

// Sizes of the fields of ParameterTensors, in declaration order.
void param_field_sizes(const ModelConfig *c, size_t s[NUM_PARAM_FIELDS]) {
    size_t V = c->vocab_size, P = c->max_position_embeddings, NT = c->type_vocab_size;
    size_t C = c->dim, L = c->n_layers, I = c->hidden_dim, NL = c->num_labels;
    size_t sizes[NUM_PARAM_FIELDS] = {
        V * C, P * C, NT * C, C, C,          // wte, wpe, wtt, ln_emb_w, ln_emb_b
        L * 3 * C * C, L * 3 * C,            // qkvw, qkvb
        L * C * C, L * C,                    // attprojw, attprojb
        L * C, L * C,                        // ln1w, ln1b
        L * I * C, L * I,                    // fcw, fcb
        L * C * I, L * C,                    // fcprojw, fcprojb
        L * C, L * C,                        // ln2w, ln2b
        C * C, C,                            // prew, preb
        NL * C, NL,                          // clsw, clsb
    };
    memcpy(s, sizes, sizeof sizes);
}

size_t model_num_parameters(const ModelConfig *c) {
    size_t sizes[NUM_PARAM_FIELDS], total = 0;
    param_field_sizes(c, sizes);
    for (int i = 0; i < NUM_PARAM_FIELDS; i++) total += sizes[i];
    return total;
}

void point_params(ParameterTensors *p, real *memory, const size_t sizes[NUM_PARAM_FIELDS]) {
    real **ptrs[NUM_PARAM_FIELDS] = {
        &p->wte, &p->wpe, &p->wtt, &p->ln_emb_w, &p->ln_emb_b, &p->qkvw, &p->qkvb, &p->attprojw,
        &p->attprojb, &p->ln1w, &p->ln1b, &p->fcw, &p->fcb, &p->fcprojw, &p->fcprojb,
        &p->ln2w, &p->ln2b, &p->prew, &p->preb, &p->clsw, &p->clsb,
    };
    for (int i = 0; i < NUM_PARAM_FIELDS; i++) {
        *ptrs[i] = memory;
        memory += sizes[i];
    }
}

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

// a Linear's weight (d0, d1) at offset w and bias (d0) at offset b, named "<name>.weight/.bias"
static void table_add_linear(Model *m, const char *name, int64_t d0, int64_t d1, size_t w, size_t b,
                             int is_head) {
    char full[PARAM_NAME_LEN];
    snprintf(full, sizeof full, "%s.weight", name);
    table_add(m, full, 2, d0, d1, w, is_head);
    snprintf(full, sizeof full, "%s.bias", name);
    table_add(m, full, 1, d0, 0, b, is_head);
}

// a LayerNorm's weight and bias, both (C)
static void table_add_layernorm(Model *m, const char *name, int64_t C, size_t w, size_t b) {
    char full[PARAM_NAME_LEN];
    snprintf(full, sizeof full, "%s.weight", name);
    table_add(m, full, 1, C, 0, w, 0);
    snprintf(full, sizeof full, "%s.bias", name);
    table_add(m, full, 1, C, 0, b, 0);
}

// name = "<a>.<b>" (names are short: the longest HF name here is under 70 bytes)
static void join_name(char name[PARAM_NAME_LEN], const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > PARAM_NAME_LEN / 2) la = PARAM_NAME_LEN / 2;
    if (lb > PARAM_NAME_LEN / 2 - 2) lb = PARAM_NAME_LEN / 2 - 2;
    memcpy(name, a, la);
    name[la] = '.';
    memcpy(name + la + 1, b, lb);
    name[la + 1 + lb] = '\0';
}

void build_param_table(Model *m, const size_t f[NUM_PARAM_FIELDS]) {
    const ModelConfig *c = &m->config;
    const ArchNames *n = arch_names(c->arch);
    size_t V = c->vocab_size, P = c->max_position_embeddings, NT = c->type_vocab_size;
    size_t C = c->dim, I = c->hidden_dim, NL = c->num_labels;
    char name[PARAM_NAME_LEN];
    m->n_entries = 0;
    snprintf(name, sizeof name, "%s.embeddings.word_embeddings.weight", n->base);
    table_add(m, name, 2, V, C, f[0], 0);
    snprintf(name, sizeof name, "%s.embeddings.position_embeddings.weight", n->base);
    table_add(m, name, 2, P, C, f[1], 0);
    if (NT > 0) {
        snprintf(name, sizeof name, "%s.embeddings.token_type_embeddings.weight", n->base);
        table_add(m, name, 2, NT, C, f[2], 0);
    }
    snprintf(name, sizeof name, "%s.embeddings.LayerNorm", n->base);
    table_add_layernorm(m, name, C, f[3], f[4]);
    for (size_t l = 0; l < (size_t)c->n_layers; l++) {
        char layer[PARAM_NAME_LEN];
        int k = snprintf(layer, sizeof layer, "%s.%s.%zu", n->base, n->layer, l);
        (void)k;
        for (size_t j = 0; j < 3; j++) {
            join_name(name, layer, n->qkv[j]);
            table_add_linear(m, name, C, C, f[5] + (l * 3 + j) * C * C, f[6] + (l * 3 + j) * C, 0);
        }
        join_name(name, layer, n->attn_out);
        table_add_linear(m, name, C, C, f[7] + l * C * C, f[8] + l * C, 0);
        join_name(name, layer, n->ln1);
        table_add_layernorm(m, name, C, f[9] + l * C, f[10] + l * C);
        join_name(name, layer, n->ffn_in);
        table_add_linear(m, name, I, C, f[11] + l * I * C, f[12] + l * I, 0);
        join_name(name, layer, n->ffn_out);
        table_add_linear(m, name, C, I, f[13] + l * C * I, f[14] + l * C, 0);
        join_name(name, layer, n->ln2);
        table_add_layernorm(m, name, C, f[15] + l * C, f[16] + l * C);
    }
    // the head: absent from base checkpoints, so loading may initialise it (BERT's pooler too)
    table_add_linear(m, n->head_dense, C, C, f[17], f[18], 1);
    table_add_linear(m, n->head_out, NL, C, f[19], f[20], 1);
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

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

void model_init_weights(Model *m, uint64_t seed, int head_only) {
    const ModelConfig *c = &m->config;
    uint64_t counter = 0;
    for (int i = 0; i < m->n_entries; i++) {
        const ParamEntry *e = &m->table[i];
        if (head_only && !e->is_head) continue;
        real *p = m->params_memory + e->offset;
        int is_layernorm = strstr(e->name, "LayerNorm") || strstr(e->name, "layer_norm");
        int is_bias = ends_with(e->name, ".bias");
        for (size_t k = 0; k < e->numel; k++) {
            if (is_layernorm) p[k] = is_bias ? 0 : 1;
            else if (is_bias) p[k] = 0;
            else p[k] = (real)(c->initializer_range * normal_draw(seed, &counter));
        }
        // nn.Embedding(padding_idx) zeroes its padding row at initialisation (RoBERTa's positions too)
        if (ends_with(e->name, "embeddings.word_embeddings.weight") ||
            (c->arch == ARCH_ROBERTA && ends_with(e->name, "embeddings.position_embeddings.weight")))
            memset(p + (size_t)c->pad_token_id * c->dim, 0, sizeof(real) * c->dim);
    }
}
