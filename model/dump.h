// dump.h: the parity dump format (doc/parity.md) — a safetensors file of one batch's inputs, the
// forward activations, their gradients, every parameter gradient and optionally the parameters after
// AdamW steps, named by what they are. dev/dump_torch.py writes it from PyTorch; ./parity and
// test/test_parity.c read it and gather our model's tensors under the same names (parity.h compares).
//
// Names, in execution order (l = 0..L-1; shapes with B rows of T tokens, C channels, NH heads,
// I FFN channels, NL labels):
//   input_ids, attention_mask (B,T), labels (B)                       I64
//   embeddings (B,T,C)                                                LayerNorm(word + position [+ type])
//   layer.l.q, .k, .v (B,T,C)                                         the three projections (q unscaled)
//   layer.l.attention_probs (B,NH,T,T)                                softmax, masked keys 0
//   layer.l.attention_context (B,T,C)                                 heads concatenated
//   layer.l.attention_output (B,T,C)                                  its output projection (before the residual)
//   layer.l.attention_layernorm (B,T,C)                               LayerNorm(attention_output + block input)
//   layer.l.ffn_preact (B,T,I), layer.l.ffn_output (B,T,C)            lin1 output, lin2 output
//   layer.l.output_layernorm (B,T,C)                                  the block's output
//   head_dense (B,C), pooled (B,C), logits (B,NL), loss ()            pooled = relu/tanh(head_dense)
//   grad.<each of those but loss>, grad.<HF parameter name>           in backward order
//   adamw.grad_norm (N), adamw.<HF parameter name>                    after N AdamW steps (metadata)
//   init.<HF parameter name>                                          a parameter the checkpoint lacks
#ifndef DUMP_H
#define DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "model/safetensors.h"

#define DUMP_FORMAT_NAME "encoder-parity-dump"
#define DUMP_FORMAT_VERSION "1"
#define DUMP_NAME_LEN (PARAM_NAME_LEN + 16)

// the batch of a dump
typedef struct {
    int B, T;
    int *ids, *mask, *labels;   // (B,T), (B,T), (B)
} DumpInputs;

// what a dump holds besides tensors: the AdamW run its adamw.* tensors come from
typedef struct {
    int steps;                   // 0: no adamw.* tensors
    double lr, beta1, beta2, eps, weight_decay, max_grad_norm;   // max_grad_norm 0: no clipping
} DumpAdamW;

typedef enum { DUMP_FORWARD, DUMP_BACKWARD, DUMP_ADAMW } DumpClass;

// one tensor of ours under its dump name
typedef struct {
    char name[DUMP_NAME_LEN];
    DumpClass cls;
    int ndim;
    int64_t shape[4];            // the format's shape
    int token0_axis;             // -1, or: ours hold index 0 of this axis only (shape[axis] -> 1)
    size_t numel;                // values in data
    float *data;                 // ours, contiguous (owned)
    const ParamEntry *param;     // grad.<param> / adamw.<param>: its table entry, else NULL
} DumpTensor;

typedef struct {
    DumpTensor *t;
    int n, cap;
} DumpList;

// Where our tensors are read from: one model's activations and gradients in host memory, in the
// ActivationTensors layout of model.h (the CPU model's, or the GPU model's downloaded).
typedef struct {
    const ModelConfig *config;
    const ParamEntry *table;
    int n_entries;
    const ActivationTensors *acts, *grads_acts;
    const real *param_grads;     // num_parameters values at the table's offsets
    double mean_loss;
    int B, T;
    int last_block_token0;       // 1: the last block holds token 0 only past its attention (CPU model)
} ModelView;

// Open `path` and check it is a dump (metadata dump_format / dump_version).
int dump_open(safetensors_file *f, const char *path, char *err, size_t errlen);
// input_ids, attention_mask, labels (I64 of matching shapes); free with dump_inputs_free.
int dump_read_inputs(const safetensors_file *f, DumpInputs *in, char *err, size_t errlen);
void dump_inputs_free(DumpInputs *in);
// The dump's AdamW hyperparameters (steps 0 when it has none).
int dump_read_adamw(const safetensors_file *f, DumpAdamW *a, char *err, size_t errlen);
// num_labels from the metadata (0 if absent)
int dump_num_labels(const safetensors_file *f);
// The metadata's model_type, num_hidden_layers, hidden_size, vocab_size, num_labels (those present;
// num_labels only when the dump has no init.* tensors) against a config (config.json's, before the
// weights are loaded): "the dump was made for ..." on a mismatch.
int dump_check_model(const safetensors_file *f, const ModelConfig *c, char *err, size_t errlen);
// Copy every init.<name> tensor into the model's parameter (shape checked).
int dump_apply_init(const safetensors_file *f, Model *m, char *err, size_t errlen);

// Our forward tensors, and with with_grads the backward ones (activation and parameter gradients
// interleaved in the order backward computes them), appended to list in execution order.
// grad.layer.l.attention_probs is derived here as dP = dcontext · Vᵀ per head (what the attention
// backward computes internally and does not keep).
int dump_collect(DumpList *list, const ModelView *v, int with_grads, char *err, size_t errlen);
// adamw.grad_norm (steps values) and adamw.<param> for every table entry from params.
int dump_collect_adamw(DumpList *list, const ModelView *v, const real *params, const float *grad_norms, int steps,
                       char *err, size_t errlen);
void dump_list_free(DumpList *list);
// The tensor of list called name, or NULL.
const DumpTensor *dump_list_find(const DumpList *list, const char *name);

// Write inputs and every tensor of list (ours in the format; the token0 axes keep their size 1) to path,
// with the metadata of the format plus model_type and sizes from c. Atomic.
int dump_write(const char *path, const DumpInputs *in, const DumpList *list, const ModelConfig *c,
               const DumpAdamW *adamw, const char *precision, char *err, size_t errlen);

#endif
