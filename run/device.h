// device.h: where ./train and ./infer run the model — the CPU model (model/model.h) or, in builds
// compiled with -DWITH_CUDA (`make cuda`, `make train-emu`), the GPU model (model/model_cuda.h)
// — behind one set of calls, so the programs have no #ifdefs. Header-only (static functions): the
// programs are compiled with or without WITH_CUDA, the library (build/libenc.a) never is.
//
// The CPU model stays the owner of the weights: it is loaded / initialised first, device_init copies
// it to the GPU, device_download copies the GPU's parameters, AdamW moments and counters back (before
// every checkpoint_save / resume_state_save, and before a CPU evaluation). On the CPU every call is
// the model_* call it replaces. doc/pipeline.md (flags) and doc/cuda.md ("GPU training path").
#ifndef RUN_DEVICE_H
#define RUN_DEVICE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/pipeline.h"
#include "kernels/kernels.h"
#include "model/model.h"
#ifdef WITH_CUDA
#include "model/model_cuda.h"
#endif

typedef enum { DEVICE_DEFAULT = -1, DEVICE_CPU = 0, DEVICE_CUDA = 1 } DeviceKind;

typedef struct {
    DeviceKind kind;  // DEVICE_CPU or DEVICE_CUDA once device_select has run
    int bf16;         // --precision bf16 (the GPU model's bf16, or the CPU's bf16 GEMMs: device_cpu_bf16)
    int ready;        // device_init has run
#ifdef WITH_CUDA
    ModelCuda g;
    real *eval_logits, *eval_probs, *eval_losses;  // device_evaluate's host buffers
#endif
} Device;

#ifdef WITH_CUDA
#define DEVICE_BUILD_NOTE ""
#else
#define DEVICE_BUILD_NOTE " (this is the CPU build; `make cuda` builds the GPU one, `make train-emu infer-emu parity-emu` the emulated ones)"
#endif

// --device VALUE and --precision VALUE. 0, or -1 with one line in err.
static inline int device_parse(Device *d, const char *device, const char *precision, char *err, size_t errlen) {
    *d = (Device){.kind = DEVICE_DEFAULT};
    if (device && !strcmp(device, "cpu")) d->kind = DEVICE_CPU;
    else if (device && !strcmp(device, "cuda")) d->kind = DEVICE_CUDA;
    else if (device) return snprintf(err, errlen, "--device '%s' is not one of cpu, cuda", device), -1;
    if (precision && !strcmp(precision, "bf16")) d->bf16 = 1;
    else if (precision && strcmp(precision, "fp32") != 0)
        return snprintf(err, errlen, "--precision '%s' is not one of fp32, bf16", precision), -1;
#ifndef WITH_CUDA
    if (d->kind == DEVICE_CUDA) return snprintf(err, errlen, "--device cuda needs a CUDA build%s", DEVICE_BUILD_NOTE), -1;
#endif
    return 0;
}

// --precision bf16 on the CPU: the GEMMs take bf16 operands (kernels/matmul_bf16.c) on the best path
// CPUID offers (AMX tiles, else AVX-512 BF16), or the one ENC_BF16_GEMM names (amx, avx512: to compare
// them); one line to `log` says which. A CPU with neither is an error, not a silent fp32 run.
static inline int device_cpu_bf16(FILE *log, char *err, size_t errlen) {
    const char *want = getenv("ENC_BF16_GEMM");
    GemmPath path = gemm_best_bf16_path();
    if (want && !strcmp(want, "amx")) path = GEMM_BF16_AMX;
    else if (want && !strcmp(want, "avx512")) path = GEMM_BF16_AVX512;
    else if (want && want[0]) return snprintf(err, errlen, "ENC_BF16_GEMM='%s' is not one of amx, avx512", want), -1;
    if (path == GEMM_FP32) {
        char why[256];
        gemm_path_supported(GEMM_BF16_AVX512, why, sizeof why);
        return snprintf(err, errlen, "--precision bf16 on the CPU needs avx512_bf16 or amx_bf16 (%s); use --precision fp32", why), -1;
    }
    char why[256];
    if (gemm_set_path(path, why, sizeof why) != 0) return snprintf(err, errlen, "--precision bf16: %s", why), -1;
    fprintf(log, "cpu precision: bf16 GEMMs on %s, fp32 sums, master weights and optimizer\n", gemm_path_name(path));
    return 0;
}

// Settle the default (cuda when a GPU is usable, else cpu) and, in CUDA builds, print one line
// "device: cuda (...)" / "device: cpu (<reason>)" to `log`; on the CPU with --precision bf16, switch
// the GEMMs to bf16 (device_cpu_bf16, its own line). 0, or -1 with one line in err.
static inline int device_select(Device *d, FILE *log, char *err, size_t errlen) {
#ifdef WITH_CUDA
    char why[256] = "";
    int have = d->kind == DEVICE_CPU ? 0 : model_cuda_available(why, sizeof why);
    if (d->kind == DEVICE_CUDA && !have) return snprintf(err, errlen, "--device cuda: no usable GPU (%s)", why), -1;
    d->kind = have ? DEVICE_CUDA : DEVICE_CPU;
    if (d->kind == DEVICE_CUDA) {
        char name[256];
        model_cuda_device_name(name, sizeof name);
        fprintf(log, "device: cuda (%s, %s)\n", name, d->bf16 ? "bf16" : "fp32");
    }
    else fprintf(log, "device: cpu (%s)\n", why[0] ? why : "--device cpu");
#else
    d->kind = DEVICE_CPU;
#endif
    if (d->kind == DEVICE_CPU && d->bf16) return device_cpu_bf16(log, err, errlen);
    return 0;
}

// Copy the CPU model to the device, for batches up to max_B x max_T (nothing to do on the CPU).
static inline int device_init(Device *d, Model *m, int max_B, int max_T, char *err, size_t errlen) {
#ifdef WITH_CUDA
    if (d->kind == DEVICE_CUDA) {
        if (model_cuda_init(&d->g, m, max_B, max_T, d->bf16 ? PRECISION_BF16 : PRECISION_FP32, err, errlen) != 0)
            return -1;
        d->ready = 1;
    }
#endif
    return 0;
}

static inline void device_free(Device *d) {
#ifdef WITH_CUDA
    if (d->ready) model_cuda_free(&d->g);
    free(d->eval_logits), free(d->eval_probs), free(d->eval_losses);
    d->eval_logits = d->eval_probs = d->eval_losses = NULL;
#endif
    d->ready = 0;
}

// the call on the GPU model once device_init has run, else on the CPU model
#ifdef WITH_CUDA
#define DEVICE_CALL(d, gpu_call, cpu_call) ((d)->ready ? (gpu_call) : (cpu_call))
#else
#define DEVICE_CALL(d, gpu_call, cpu_call) (cpu_call)
#endif

// the training step, one for one with model/model.h
static inline void device_zero_grad(Device *d, Model *m) {
    DEVICE_CALL(d, model_cuda_zero_grad(&d->g), model_zero_grad(m));
}
static inline int device_forward(Device *d, Model *m, const int *ids, const int *mask, const int *labels, int B, int T,
                                 int training, char *err, size_t errlen) {
    return DEVICE_CALL(d, model_cuda_forward(&d->g, ids, mask, labels, B, T, training, err, errlen),
                       model_forward(m, ids, mask, labels, B, T, training, err, errlen));
}
static inline double device_mean_loss(Device *d, const Model *m) {
    return DEVICE_CALL(d, (double)model_cuda_mean_loss(&d->g), (double)m->mean_loss);
}
static inline void device_backward(Device *d, Model *m) {
    DEVICE_CALL(d, model_cuda_backward(&d->g), model_backward(m));
}
static inline double device_clip_grad_norm(Device *d, Model *m, double max_norm) {
    return DEVICE_CALL(d, model_cuda_clip_grad_norm(&d->g, max_norm), model_clip_grad_norm(m, max_norm));
}
static inline int device_adamw_update(Device *d, Model *m, double lr, double beta1, double beta2, double eps,
                                      double weight_decay, char *err, size_t errlen) {
    return DEVICE_CALL(d, model_cuda_adamw_update(&d->g, lr, beta1, beta2, eps, weight_decay, err, errlen),
                       model_adamw_update(m, lr, beta1, beta2, eps, weight_decay, err, errlen));
}

// The device's parameters, AdamW moments, step and forward counts into the CPU model (before a save or
// a CPU evaluation); with_grads: its gradients too (to name a non-finite one). No-op on the CPU.
static inline void device_download(Device *d, Model *m, int with_grads) {
#ifdef WITH_CUDA
    if (!d->ready) return;
    model_cuda_download_params(&d->g, m);
    if (with_grads && m->grads_memory) model_cuda_download_grads(&d->g, m->grads_memory);
#else
    (void)d, (void)m, (void)with_grads;
#endif
}

// The device's activations and activation gradients of the last forward and backward into the CPU model's
// buffers (allocated for at least that batch shape), for ./parity. No-op on the CPU.
static inline void device_download_activations(Device *d, Model *m) {
#ifdef WITH_CUDA
    if (d->ready) model_cuda_download_activations(&d->g, &m->acts, &m->grads_acts);
#else
    (void)d, (void)m;
#endif
}
// 1 when the model's last block is computed past its attention for token 0 only (the CPU model,
// model.c); the GPU model computes every token
static inline int device_last_block_token0(const Device *d) { return !d->ready; }

#ifdef WITH_CUDA
// device_evaluate's forward on the GPU: logits read back, probabilities and per-row losses by the
// CPU's crossentropy_forward (the same formula as the CPU evaluation)
static inline int device_eval_forward(void *ctx, const Batch *b, int with_labels, const real **logits,
                                      const real **probs, const real **losses, char *err, size_t errlen) {
    Device *d = ctx;
    if (model_cuda_forward(&d->g, b->ids, b->mask, NULL, b->B, b->T, 0, err, errlen) != 0) return -1;
    model_cuda_read_logits(&d->g, d->eval_logits);
    crossentropy_forward(d->eval_probs, d->eval_losses, d->eval_logits, with_labels ? b->labels : NULL, b->B, d->g.NL);
    *logits = d->eval_logits, *probs = d->eval_probs, *losses = d->eval_losses;
    return 0;
}
#endif

// evaluate_model (run/pipeline.h) on the device: the GPU forward when device_init has run, else the
// CPU inference forward. batch_size must be <= device_init's max_B.
static inline int device_evaluate(Device *d, Model *m, const TokenizedSet *set, const int *rows, int n, int batch_size,
                                  int pad_id, Evaluation *ev, char *err, size_t errlen) {
#ifdef WITH_CUDA
    if (d->ready) {
        size_t C = (size_t)m->config.num_labels, B = (size_t)batch_size;
        if (!d->eval_logits) {
            d->eval_logits = malloc(sizeof(real) * B * C);
            d->eval_probs = malloc(sizeof(real) * B * C);
            d->eval_losses = malloc(sizeof(real) * B);
            if (!d->eval_logits || !d->eval_probs || !d->eval_losses)
                return snprintf(err, errlen, "evaluation: out of memory"), -1;
        }
        return evaluate_with(device_eval_forward, d, (int)C, set, rows, n, batch_size, pad_id, ev, err, errlen);
    }
#endif
    return evaluate_model(m, set, rows, n, batch_size, pad_id, ev, err, errlen);
}

#endif
