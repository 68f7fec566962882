// model/model_cuda.h: the encoder classifiers of model/model.h (DistilBERT, BERT, RoBERTa) on one NVIDIA GPU,
// with our own kernels (kernels/cuda/*.cu, chosen from the labs in dev/cuda/). Same semantics as the
// CPU model: the same parameter layout (one buffer, the CPU parameter table's offsets, so upload and
// download are one memcpy of params_memory), the same forward/backward order, the same dropout sites,
// seeds and masks (kernels/dropout.h compiled for the device), the same AdamW and clipping formulas.
//
// Everything lives on the device: parameters, gradients, AdamW moments, activations and their
// gradients (sized once for max_B x max_T). A training step makes no host round trip per layer: the
// host uploads the batch (ids, mask, labels and the embedding-gradient row lists it builds from the
// ids) once per forward and waits only when it reads a result back (loss, logits, gradient norm).
//
// Precision:
//   PRECISION_FP32  every op in fp32 (SIMT GEMMs; no TF32).
//   PRECISION_BF16  mixed precision: the encoder's linear layers take bf16 operands (a bf16 copy of the
//                   weights kept in sync by AdamW, bf16 copies of their input activations) and
//                   accumulate in fp32 on tensor cores; attention is the fused flash kernel pair on
//                   tensor cores (bf16 Q, K, V, P and dO; fp32 softmax statistics and accumulation; the
//                   logsumexp saved instead of the T x T probabilities; dropout masks drawn inside);
//                   everything else — master weights, gradients, AdamW moments, LayerNorm, the loss,
//                   the classifier head — stays fp32 (doc/cuda.md, "GPU training path").
//
// Usable from C (train.c / infer.c) and C++; link build/cuda/libmodel_cuda.a and the CUDA runtime.
// NOTHING IN THIS PATH HAS RUN ON A GPU YET (doc/cuda.md).
#ifndef MODEL_CUDA_H
#define MODEL_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "model/model.h"

typedef enum { PRECISION_FP32 = 0, PRECISION_BF16 = 1 } Precision;

typedef struct {
    // the CPU model's configuration (a copy without its strings: id2label and problem_type are NULL);
    // the layout (activation sizes, dropout sites and rates, input checks) comes from it through model.h,
    // and its values the kernels need by their short names
    ModelConfig config;
    ModelArch arch;
    Activation activation;
    int V, C, L, NH, I, P, NT, NL, pad_token_id;
    float eps;
    Precision precision;
    int num_sms;

    // parameters, gradients and AdamW moments: num_parameters floats each, laid out as the CPU model's
    // params_memory; params/grads point into them like the CPU ParameterTensors
    size_t num_parameters;
    ParameterTensors params, grads;
    float *params_memory, *grads_memory, *m_memory, *v_memory;
    void *params_bf16;                 // bf16 copy of params_memory (PRECISION_BF16), else NULL
    int adamw_step;

    // activations and their gradients, the CPU model's fields (each field's start 256-byte aligned)
    int max_B, max_T;
    size_t num_activations;
    ActivationTensors acts, grads_acts;
    float *acts_memory, *grads_acts_memory;
    // PRECISION_BF16: bf16 copies of the encoder linears' inputs, per layer (L, B·T, C or I), kept for
    // the weight gradients (in16_atty is the fused attention's output itself); qkv16 (L, B·T, 3C) the
    // attention's input; and a scratch for the bf16 copy of an output gradient
    void *qkv16, *in16_qkv, *in16_atty, *in16_ln1, *in16_fch_act, *dout16;

    // per-forward inputs on the device, uploaded in one copy: ids, key mask, positions, token types
    // (all 0), labels (-100 when none), and for the deterministic embedding backward the row lists
    // (rows, offsets, tokens) of the word, position and token-type tables
    int *dev_ints, *host_ints;        // host_ints: pinned staging of the same layout
    size_t n_ints;
    int *d_ids, *d_mask, *d_pos, *d_types, *d_labels;
    int *d_rows[3], *d_offsets[3], *d_tokens[3];
    int nrows[3];
    int *host_count;                  // counting-sort scratch (max(V, P, NT) + 1 ints)

    // scratch
    float *workspace;                 // split-K slabs of the weight gradients
    size_t workspace_floats;
    float *ln_scratch;                // LayerNorm backward per-block partials
    float *norm_result, *norm_partials;   // [0] norm, [1] clip coef
    unsigned int *norm_ticket;
    float *ce_stats;                  // [0] mean loss, [1] labelled rows
    int clip_pending;                 // model_cuda_clip_grad_norm ran since the last AdamW step

    // the last forward
    int B, T, training, has_labels;
    uint64_t dropout_seed;            // copied from the CPU model at init (same masks as the CPU run)
    uint64_t forward_count;
} ModelCuda;

// 1 when a CUDA device is usable (else 0, with the reason in why)
int model_cuda_available(char *why, size_t whylen);
// the name of the device the model runs on (device 0)
void model_cuda_device_name(char *name, size_t len);
// Allocate everything for batches up to max_B x max_T and upload cpu's parameters (and AdamW state,
// step count, dropout seed and forward count). Refuses C % 4 != 0, C > 1024, I % 4 != 0 (the
// LayerNorm and float4 kernels) with a message.
int model_cuda_init(ModelCuda *g, const Model *cpu, int max_B, int max_T, Precision precision, char *err,
                    size_t errlen);
void model_cuda_free(ModelCuda *g);
// parameters (and AdamW moments, step) host -> device; refreshes the bf16 weight copy
void model_cuda_upload_params(ModelCuda *g, const Model *cpu);
// device -> host: params_memory, and the AdamW moments (allocated on the CPU model if needed),
// adamw_step and forward_count, so checkpoint_save(cpu) writes the GPU-trained model
void model_cuda_download_params(const ModelCuda *g, Model *cpu);
// gradients (num_parameters floats) into host memory
void model_cuda_download_grads(const ModelCuda *g, float *host);
// the activations and activation gradients of the last forward/backward (B x T) into host buffers laid out
// as the CPU model's (model_alloc_activations for at least B x T); the attention-probability gradient slot
// (the attention backward's scratch) is left out. bf16: qkv and atty are widened from their bf16 copies
// and the probabilities (never stored by the flash kernels) recomputed on the host from the bf16 q, k
void model_cuda_download_activations(const ModelCuda *g, ActivationTensors *acts, ActivationTensors *grads);

// Same contract as model_forward (host arrays ids, key_mask (B,T), labels (B) or NULL).
int model_cuda_forward(ModelCuda *g, const int *ids, const int *key_mask, const int *labels, int B, int T,
                       int training, char *err, size_t errlen);
// mean loss of the last forward (waits for the GPU), -1 without labels
float model_cuda_mean_loss(ModelCuda *g);
// logits / probabilities of the last forward, B·NL floats (waits for the GPU)
void model_cuda_read_logits(ModelCuda *g, float *host);
void model_cuda_read_probs(ModelCuda *g, float *host);
void model_cuda_zero_grad(ModelCuda *g);
void model_cuda_backward(ModelCuda *g);
// Global gradient norm (returned: waits for the GPU); with max_norm > 0 the clip factor
// min(1, max_norm / (norm + 1e-6)) is applied by the next model_cuda_adamw_update (to the gradients
// it reads; the gradient buffer itself is not rescaled).
double model_cuda_clip_grad_norm(ModelCuda *g, double max_norm);
int model_cuda_adamw_update(ModelCuda *g, double lr, double beta1, double beta2, double eps, double weight_decay,
                            char *err, size_t errlen);
void model_cuda_synchronize(void);
// bytes of device memory this model holds
size_t model_cuda_bytes(const ModelCuda *g);

#ifdef __cplusplus
}
#endif
#endif
