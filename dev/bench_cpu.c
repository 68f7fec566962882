// bench_cpu.c: time our CPU model — one training step (forward + backward + AdamW) or one inference
// forward — on a random-initialised model of a given shape, and report the median and peak RSS.
// Driven by dev/bench_cpu.py, which runs this and the PyTorch counterpart in separate processes.
//
// Build (from the repo root, after `make build/libenc.a`):
//   cc -O2 -std=c11 -fopenmp -I. $(pkg-config --cflags libcjson) dev/bench_cpu.c build/libenc.a \
//      $(pkg-config --libs libcjson) -lm -o build/bench_cpu
// Run:
//   build/bench_cpu --model distilbert|minilm --mode train|infer --batch 8 --seq 128 --reps 5 --threads 2
//                   [--precision fp32|bf16|bf16-avx512|bf16-amx]
// (bf16: the best bf16 GEMM path of this CPU, kernels/matmul_bf16.c; the others force one path)
// Output: one JSON line {"model":..., "mode":..., "precision":..., "times_ms":[...], "median_ms":...,
// "median_cpu_ms":..., "peak_rss_mb":...}; median_cpu_ms is the CPU time of all threads per step.
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/kernels.h"
#include "model/config.h"
#include "model/inference.h"
#include "model/model.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b);

static double cpu_ms(void) {  // CPU time of all threads: robust to other load on a shared machine
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static double median(const double *x, int n) {
    double *tmp = malloc(sizeof(double) * n);
    memcpy(tmp, x, sizeof(double) * n);
    qsort(tmp, n, sizeof(double), cmp_double);
    double med = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
    free(tmp);
    return med;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// the two shapes of the benchmark, as HF config.json text (so every other field takes HF's defaults)
static const char *config_json(const char *name) {
    if (strcmp(name, "distilbert") == 0)  // distilbert-base-uncased
        return "{\"model_type\": \"distilbert\", \"vocab_size\": 30522, \"dim\": 768, \"n_layers\": 6, "
               "\"n_heads\": 12, \"hidden_dim\": 3072, \"max_position_embeddings\": 512, \"num_labels\": 2}";
    if (strcmp(name, "minilm") == 0)      // sentence-transformers/all-MiniLM-L6-v2
        return "{\"model_type\": \"bert\", \"vocab_size\": 30522, \"hidden_size\": 384, \"num_hidden_layers\": 6, "
               "\"num_attention_heads\": 12, \"intermediate_size\": 1536, \"max_position_embeddings\": 512, "
               "\"type_vocab_size\": 2, \"layer_norm_eps\": 1e-12, \"hidden_act\": \"gelu\", \"num_labels\": 2}";
    return NULL;
}

int main(int argc, char **argv) {
    const char *name = "distilbert", *mode = "train", *precision = "fp32";
    int B = 8, T = 128, reps = 5, warmup = 1, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) goto usage;
        if (strcmp(argv[i], "--model") == 0) name = argv[++i];
        else if (strcmp(argv[i], "--mode") == 0) mode = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0) B = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seq") == 0) T = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0) warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--precision") == 0) precision = argv[++i];
        else goto usage;
    }
    GemmPath path = !strcmp(precision, "fp32") ? GEMM_FP32
                  : !strcmp(precision, "bf16") ? gemm_best_bf16_path()
                  : !strcmp(precision, "bf16-avx512") ? GEMM_BF16_AVX512
                  : !strcmp(precision, "bf16-amx") ? GEMM_BF16_AMX : (GemmPath)-1;
    if ((int)path < 0) goto usage;
    if (strcmp(precision, "fp32") != 0 && path == GEMM_FP32) { fprintf(stderr, "no bf16 GEMM path on this CPU\n"); return 1; }
    char perr[256];
    if (gemm_set_path(path, perr, sizeof perr) != 0) { fprintf(stderr, "%s\n", perr); return 1; }
    int train = strcmp(mode, "train") == 0;
    const char *json = config_json(name);
    if (!json || (!train && strcmp(mode, "infer") != 0) || B < 1 || T < 1 || reps < 1 || warmup < 0) goto usage;
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads(threads);
    threads = omp_get_max_threads();
#else
    threads = 1;
#endif

    // config via a temporary config.json, so the defaults are exactly config_load's
    char config_path[] = "/tmp/bench_cpu_configXXXXXX", err[1024];
    int fd = mkstemp(config_path);
    if (fd < 0 || write(fd, json, strlen(json)) != (ssize_t)strlen(json)) { perror("config"); return 1; }
    close(fd);
    ModelConfig cfg;
    int rc = config_load(&cfg, config_path, err, sizeof err);
    unlink(config_path);
    if (rc != 0) { fprintf(stderr, "%s\n", err); return 1; }
    Model m;
    // training: activations for the backward; inference: model/inference.h (one layer's buffers,
    // weights packed once, as a server or `infer` holds them across batches)
    Inference inf;
    if (model_init(&m, &cfg, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    model_init_weights(&m, 42, 0);
    if ((train ? model_alloc_activations(&m, B, T, err, sizeof err) : inference_init(&inf, &m, B, T, err, sizeof err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    m.dropout_seed = 1234;

    // random tokens (ids in [1000, 30000)), every position real, labels 0/1
    int *ids = malloc(sizeof(int) * B * T), *mask = malloc(sizeof(int) * B * T), *labels = malloc(sizeof(int) * B);
    uint64_t s = 88172645463325252ull;
    for (int i = 0; i < B * T; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        ids[i] = 1000 + (int)(s % 29000);
        mask[i] = 1;
    }
    for (int b = 0; b < B; b++) labels[b] = b % 2;

    double *times = malloc(sizeof(double) * reps), *cpu = malloc(sizeof(double) * reps);
    for (int r = -warmup; r < reps; r++) {
        double t0 = now_ms(), c0 = cpu_ms();
        if (train) {
            model_zero_grad(&m);
            if (model_forward(&m, ids, mask, labels, B, T, 1, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
            model_backward(&m);
            if (model_adamw_update(&m, 5e-5, 0.9, 0.999, 1e-8, 0.01, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
        } else {
            if (inference_forward(&inf, &m, ids, mask, NULL, B, T, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
        }
        double dt = now_ms() - t0, dc = cpu_ms() - c0;
        if (r >= 0) times[r] = dt, cpu[r] = dc;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"impl\": \"ours\", \"model\": \"%s\", \"mode\": \"%s\", \"precision\": \"%s\", \"gemm\": \"%s\", "
           "\"batch\": %d, \"seq\": %d, \"threads\": %d, \"loss\": %.6f, \"times_ms\": [",
           name, mode, precision, gemm_path_name(path), B, T, threads, train ? m.mean_loss : 0.0);
    for (int r = 0; r < reps; r++) printf(r ? ", %.2f" : "%.2f", times[r]);
    printf("], \"median_ms\": %.2f, \"median_cpu_ms\": %.2f, \"peak_rss_mb\": %.1f}\n", median(times, reps),
           median(cpu, reps), ru.ru_maxrss / 1024.0);
    free(times); free(cpu); free(ids); free(mask); free(labels);
    model_free(&m);
    return 0;
usage:
    fprintf(stderr, "usage: %s --model distilbert|minilm --mode train|infer [--batch B] [--seq T] [--reps R] "
                    "[--warmup W] [--threads N] [--precision fp32|bf16|bf16-avx512|bf16-amx]\n", argv[0]);
    return 2;
}
