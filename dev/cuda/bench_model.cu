/*
bench_model.cu: our side of the GPU benchmark against PyTorch (dev/bench_gpu.py is the other side;
dev/gpu_check.sh runs both and prints one table). A randomly initialised DistilBERT-base sequence
classifier (V 30522, C 768, 6 layers, 12 heads, FFN 3072, 2 labels), batch B x T (default 32 x 256)
of random full-length token ids, on the GPU path of model/model_cuda.h:
  train: forward (dropout on) + zero_grad + backward + clip_grad_norm(1.0) + AdamW, one step;
  infer: forward in eval mode, no labels.
Median of --iters timed steps (CUDA events, after --warmup untimed ones), tokens/s = B·T / median,
MFU against 989 TFLOP/s (H100 SXM bf16 dense; kernel-notes §7.1-7.2: training 6·N + 12·L·C·T FLOPs per
token, inference 2·N + 4·L·C·T, N = 42.47 M GEMM parameters of the encoder), and the device memory
in use (cudaMemGetInfo after the run, minus before the model; our allocations are all made once).
One line per (precision, mode):
  BENCH impl=ours precision=<fp32|bf16> mode=<train|infer> median_ms=<t> tokens_per_s=<n> mfu=<f> mem_gb=<g>

    ./build/cuda/bench_model [--precision fp32|bf16|both] [--B 32] [--T 256] [--iters 20] [--warmup 5]
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

extern "C" {
#include "model/config.h"
#include "model/model.h"
}
#include "model/model_cuda.h"

#define PEAK_FLOPS 989e12

static void check(cudaError_t e, const char *what) {
    if (e != cudaSuccess) { fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e)); exit(2); }
}

static int make_model(Model *m, char *err, size_t errlen) {
    ModelConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.model_type, sizeof c.model_type, "distilbert");
    c.arch = ARCH_DISTILBERT;
    c.vocab_size = 30522; c.dim = 768; c.n_layers = 6; c.n_heads = 12; c.hidden_dim = 3072;
    c.max_position_embeddings = 512; c.type_vocab_size = 0; c.pad_token_id = 0; c.activation = ACT_GELU;
    c.dropout = 0.1f; c.attention_dropout = 0.1f; c.seq_classif_dropout = 0.2f; c.initializer_range = 0.02f;
    c.layer_norm_eps = 1e-12f;
    if (config_set_labels(&c, 2, NULL) != 0) { snprintf(err, errlen, "out of memory"); return -1; }
    if (model_init(m, &c, err, errlen) != 0) return -1;
    model_init_weights(m, 42, 0);
    return 0;
}

int main(int argc, char **argv) {
    int B = 32, T = 256, iters = 20, warmup = 5;
    const char *prec_arg = "both";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--B")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--T")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--precision")) prec_arg = argv[i + 1];
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    char why[256], err[512];
    if (!model_cuda_available(why, sizeof why)) { printf("bench_model: no GPU (%s)\n", why); return 1; }
    Model cpu;
    if (make_model(&cpu, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    const double C = 768, L = 6, I = 3072;
    const double N = L * (4 * C * C + 2 * C * I);
    const double flops_train_tok = 6 * N + 12 * L * C * T, flops_infer_tok = 2 * N + 4 * L * C * T;

    std::vector<int> ids((size_t)B * T), mask((size_t)B * T, 1), labels(B);
    uint64_t s = 88172645463325252ull;
    for (auto &x : ids) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; x = 1000 + (int)(s % 29000); }
    for (int b = 0; b < B; b++) labels[b] = b & 1;

    Precision precs[2] = {PRECISION_FP32, PRECISION_BF16};
    for (Precision prec : precs) {
        const char *pname = prec == PRECISION_BF16 ? "bf16" : "fp32";
        if (strcmp(prec_arg, "both") && strcmp(prec_arg, pname)) continue;
        size_t free0 = 0, total = 0;
        check(cudaMemGetInfo(&free0, &total), "cudaMemGetInfo");
        ModelCuda g;
        if (model_cuda_init(&g, &cpu, B, T, prec, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
        cudaEvent_t e0, e1;
        check(cudaEventCreate(&e0), "event");
        check(cudaEventCreate(&e1), "event");
        for (int mode = 0; mode < 2; mode++) {   // 0 train, 1 infer
            std::vector<float> ms;
            for (int it = 0; it < warmup + iters; it++) {
                check(cudaEventRecord(e0), "record");
                if (mode == 0) {
                    model_cuda_forward(&g, ids.data(), mask.data(), labels.data(), B, T, 1, err, sizeof err);
                    model_cuda_zero_grad(&g);
                    model_cuda_backward(&g);
                    model_cuda_clip_grad_norm(&g, 1.0);
                    model_cuda_adamw_update(&g, 5e-5, 0.9, 0.999, 1e-8, 0.01, err, sizeof err);
                } else {
                    model_cuda_forward(&g, ids.data(), mask.data(), NULL, B, T, 0, err, sizeof err);
                }
                check(cudaEventRecord(e1), "record");
                check(cudaEventSynchronize(e1), "sync");
                float t = 0;
                check(cudaEventElapsedTime(&t, e0, e1), "elapsed");
                if (it >= warmup) ms.push_back(t);
            }
            check(cudaGetLastError(), "kernels");
            std::sort(ms.begin(), ms.end());
            double med = ms[ms.size() / 2];
            double tok = (double)B * T / (med * 1e-3);
            double mfu = tok * (mode == 0 ? flops_train_tok : flops_infer_tok) / PEAK_FLOPS;
            size_t free1 = 0;
            check(cudaMemGetInfo(&free1, &total), "cudaMemGetInfo");
            printf("BENCH impl=ours precision=%s mode=%s median_ms=%.3f tokens_per_s=%.0f mfu=%.4f mem_gb=%.3f\n", pname,
                   mode == 0 ? "train" : "infer", med, tok, mfu, (double)(free0 - free1) / 1e9);
            fflush(stdout);
        }
        check(cudaEventDestroy(e0), "event");
        check(cudaEventDestroy(e1), "event");
        model_cuda_free(&g);
    }
    model_free(&cpu);
    return 0;
}
