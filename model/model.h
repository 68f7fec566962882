// model.h: encoder sequence classifiers on the CPU — DistilBertForSequenceClassification,
// BertForSequenceClassification (also MiniLM) and RobertaForSequenceClassification: parameters,
// activations, forward, backward, and the training-step pieces (zero_grad, clipping, AdamW, schedule).
//
// Memory is laid out as in llm.c: one contiguous buffer for all parameters (and one each for their
// gradients and the two AdamW moments), pointed into by ParameterTensors; one buffer for all
// activations (and one for their gradients), pointed into by ActivationTensors. The parameter table
// (ParamEntry) is the single source of truth for every tensor's Hugging Face name, shape and offset:
// loading and saving checkpoints is a loop over it.
#ifndef MODEL_H
#define MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/real.h"
#include "model/config.h"

// Per-layer tensors are stacked over layers (leading L dimension). The Q, K and V projections of a
// layer sit next to each other, so they form one (3C, C) matrix and one (3C) bias: one linear
// produces the qkv activation that attention reads. HF names: DistilBERT / BERT (RoBERTa as BERT with
// the prefix roberta.), with "layer.{l}" short for distilbert.transformer.layer.{l} / bert.encoder.layer.{l}.
typedef struct {
    real *wte;        // (V, C)      embeddings.word_embeddings.weight
    real *wpe;        // (P, C)      embeddings.position_embeddings.weight
    real *wtt;        // (NT, C)     embeddings.token_type_embeddings.weight (BERT, RoBERTa; NT = 0 for DistilBERT)
    real *ln_emb_w;   // (C)         embeddings.LayerNorm.weight
    real *ln_emb_b;   // (C)         embeddings.LayerNorm.bias
    real *qkvw;       // (L, 3C, C)  layer.{l}.attention.{q,k,v}_lin / attention.self.{query,key,value} .weight
    real *qkvb;       // (L, 3C)     ... .bias
    real *attprojw;   // (L, C, C)   layer.{l}.attention.out_lin / attention.output.dense .weight
    real *attprojb;   // (L, C)
    real *ln1w;       // (L, C)      layer.{l}.sa_layer_norm / attention.output.LayerNorm .weight
    real *ln1b;       // (L, C)
    real *fcw;        // (L, I, C)   layer.{l}.ffn.lin1 / intermediate.dense .weight
    real *fcb;        // (L, I)
    real *fcprojw;    // (L, C, I)   layer.{l}.ffn.lin2 / output.dense .weight
    real *fcprojb;    // (L, C)
    real *ln2w;       // (L, C)      layer.{l}.output_layer_norm / output.LayerNorm .weight
    real *ln2b;       // (L, C)
    real *prew;       // (C, C)      head dense: pre_classifier / bert.pooler.dense / classifier.dense .weight
    real *preb;       // (C)
    real *clsw;       // (NL, C)     head output: classifier / classifier / classifier.out_proj .weight
    real *clsb;       // (NL)
} ParameterTensors;
#define NUM_PARAM_FIELDS 21

// One layer's parameters by name (llm.c's l_qkvw, l_ln1w, ...): pointers into layer l of a
// ParameterTensors — the parameters, or their gradients, which have the same layout.
typedef struct {
    real *qkvw, *qkvb;            // (3C, C), (3C)
    real *attprojw, *attprojb;    // (C, C), (C)
    real *ln1w, *ln1b;            // (C)
    real *fcw, *fcb;              // (I, C), (I)
    real *fcprojw, *fcprojb;      // (C, I), (C)
    real *ln2w, *ln2b;            // (C)
} LayerParams;

#define MAX_PARAM_ENTRIES 4096
#define PARAM_NAME_LEN 96

// one Hugging Face tensor: its name, shape and place in the parameter buffer
typedef struct {
    char name[PARAM_NAME_LEN];   // canonical HF name, e.g. "distilbert.transformer.layer.0.ffn.lin1.weight"
    int ndim;                    // 1 or 2
    int64_t shape[2];
    size_t offset;               // in elements from the start of the parameter buffer
    size_t numel;
    int is_head;                 // the two head linears (BERT: pooler + classifier): may be absent
                                 // from a base checkpoint and are then initialised
} ParamEntry;

// Activations of one forward, for B ≤ max_B rows of T ≤ max_T tokens. Per-layer tensors are
// stacked over layers; the buffers are sized once for (max_B, max_T) and indexed with the current
// (B, T), so no allocation happens per step.
typedef struct {
    real *emb;        // (B, T, C)        word + position embedding
    real *ln_emb;     // (B, T, C)        its LayerNorm = block 0's input (before dropout)
    real *ln_emb_mean, *ln_emb_rstd;  // (B, T)
    real *x0;         // (B, T, C)        dropout(ln_emb): the input of block 0
    real *qkv;        // (L, B, T, 3C)
    real *att;        // (L, B, NH, T, T) attention probabilities (before dropout)
    real *atty;       // (L, B, T, C)     attention output, heads concatenated
    real *attproj;    // (L, B, T, C)     out_lin(atty)
    real *attproj_drop;//(L, B, T, C)     dropout(attproj) (BERT/RoBERTa; DistilBERT has none: a copy)
    real *resid1;     // (L, B, T, C)     attproj_drop + block input
    real *ln1;        // (L, B, T, C)     sa_layer_norm(resid1)
    real *ln1_mean, *ln1_rstd;        // (L, B, T)
    real *fch;        // (L, B, T, I)     lin1(ln1)
    real *fch_act;    // (L, B, T, I)     gelu(fch) (or relu)
    real *fcproj;     // (L, B, T, C)     lin2(fch_act)
    real *fcproj_drop;// (L, B, T, C)     dropout(fcproj)
    real *resid2;     // (L, B, T, C)     fcproj_drop + ln1
    real *ln2;        // (L, B, T, C)     output_layer_norm(resid2) = the block's output
    real *ln2_mean, *ln2_rstd;        // (L, B, T)
                      // The last block (l = L-1) is computed past its attention for token 0 only (the
                      // head reads nothing else): its atty .. ln2 slots hold B rows, not B·T; att holds
                      // (B, NH, 1, T); qkv is complete (every token's key and value).
    real *x_cls;      // (B, C)           the last block's input at token 0 (its residual input)
    real *cls;        // (B, C)           the first token's final hidden state
    real *cls_drop;   // (B, C)           dropout(cls) (RoBERTa's head; a copy for the others)
    real *pre;        // (B, C)           head dense(cls_drop)
    real *pre_act;    // (B, C)           relu(pre) (DistilBERT) or tanh(pre) (BERT pooler, RoBERTa)
    real *pre_drop;   // (B, C)           dropout(pre_act)
    real *logits;     // (B, NL)
    real *probs;      // (B, NL)          softmax(logits)
    real *losses;     // (B)              per-row cross-entropy
} ActivationTensors;

#define NUM_ACTIVATION_TENSORS 31

typedef struct {
    ModelConfig config;
    // parameters, their gradients, AdamW moments: four buffers of num_parameters each
    ParamEntry *table;
    int n_entries;
    size_t num_parameters;
    ParameterTensors params, grads;
    real *params_memory, *grads_memory;
    real *m_memory, *v_memory;        // allocated at the first AdamW step
    int adamw_step;                   // t, the number of AdamW steps taken
    // activations and their gradients, sized for (max_B, max_T)
    int max_B, max_T;
    size_t num_activations;
    ActivationTensors acts, grads_acts;
    real *acts_memory, *grads_acts_memory;
    // inputs of the last forward (copied, since backward needs them)
    int *inputs, *positions, *token_types, *key_mask, *targets;  // token_types: all 0 (one segment)
    int B, T;                          // sizes of the last forward
    int training;                      // dropout on in the last forward
    uint64_t dropout_seed;             // base seed; each step and site derives its own
    uint64_t forward_count;            // steps the dropout seeds are derived from
    real mean_loss;                    // of the last forward with labels, else -1
} Model;

// Build the parameter table and allocate parameters (zero) and gradients for `cfg` (takes ownership
// of cfg's strings). Activations are allocated separately for a maximum batch shape.
int model_init(Model *m, const ModelConfig *cfg, char *err, size_t errlen);
int model_alloc_activations(Model *m, int max_B, int max_T, char *err, size_t errlen);
void model_free(Model *m);
// Number of parameters (every element of every tensor of the table) of a model with this config.
size_t model_num_parameters(const ModelConfig *c);
// The longest sequence the position table allows (RoBERTa: P - padding_idx - 1).
int model_max_sequence_length(const ModelConfig *c);
// "distilbert.", "bert." or "roberta.": the prefix of the encoder's tensor names
const char *model_base_prefix(ModelArch arch);
// HF initialisation: Linear/Embedding weights ~ Normal(0, initializer_range), biases 0,
// LayerNorm weight 1 bias 0, the pad row of the word embedding 0. Only entries with
// (is_head || !head_only) are touched.
void model_init_weights(Model *m, uint64_t seed, int head_only);
const ParamEntry *model_find_param(const Model *m, const char *name);

// ids, key_mask (B,T); labels (B) or NULL. T ≤ max_T, B ≤ max_B, ids < V, positions < P.
// Token types are all 0 (single-sentence classification).
// training != 0: dropout on (masks from dropout_seed and the forward count).
// Afterwards acts.logits / acts.probs hold (B, NL) and mean_loss the mean CE (labels given).
int model_forward(Model *m, const int *ids, const int *key_mask, const int *labels, int B, int T,
                  int training, char *err, size_t errlen);
// The checks model_forward makes: B x T within max_B x max_T, ids in the vocabulary, mask 0/1,
// labels in 0..NL-1 or -100.
int model_check_inputs(const ModelConfig *c, const int *ids, const int *key_mask, const int *labels, int B, int T,
                       int max_B, int max_T, char *err, size_t errlen);
// Position ids (B,T) of the tokens: t, or RoBERTa's padding_idx + 1 + index among non-pad tokens.
void model_fill_positions(int *pos, const int *ids, const ModelConfig *c, int B, int T);

// ---- the model's layout: one description for the CPU training forward (model.c), the inference
// forward (inference.c) and the GPU model (model_cuda.cu); model_check_inputs above is its input check.
// Elements of each ActivationTensors field for a batch B x T, in field order (emb, ln_emb, ..., losses).
void model_activation_sizes(const ModelConfig *c, int B, int T, size_t sizes[NUM_ACTIVATION_TENSORS]);
// Layer l's parameters (or gradients: pass &m->grads) by name.
LayerParams model_layer_params(const ParameterTensors *p, const ModelConfig *c, int l);
// Dropout sites: each draws its own masks from dropout_site_seed(dropout_seed, forward_count, site).
// 0 the embeddings; per layer l three (attention probabilities, attention output, FFN output); then,
// with L layers, the head's input and output dropouts.
#define SITE_EMB 0
#define SITE_ATT(l) (1 + 3 * (l))
#define SITE_ATTPROJ(l) (2 + 3 * (l))
#define SITE_FFN(l) (3 + 3 * (l))
#define SITE_HEAD_IN(L) (1 + 3 * (L))
#define SITE_HEAD_OUT(L) (2 + 3 * (L))
// The dropout probability at each kind of site in one forward: all 0 in eval mode (training == 0).
typedef struct { real hidden, att, attproj, head_in, head_out; } DropoutRates;
DropoutRates model_dropout_rates(const ModelConfig *c, int training);
void model_zero_grad(Model *m);
// Gradients of the mean loss of the last forward into m->grads (accumulated: call zero_grad first).
void model_backward(Model *m);

// ---- optimizer.c
// Global L2 norm of all gradients; if max_norm > 0, scale them by min(1, max_norm / (norm + 1e-6))
// (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
double model_clip_grad_norm(Model *m, double max_norm);
// One torch.optim.AdamW step over every parameter (decoupled decay first, bias correction,
// eps added after the corrected sqrt).
int model_adamw_update(Model *m, double lr, double beta1, double beta2, double eps,
                       double weight_decay, char *err, size_t errlen);
// transformers' get_linear_schedule_with_warmup multiplier for scheduler counter k.
double lr_linear_warmup(long k, long warmup_steps, long total_steps);

#endif
