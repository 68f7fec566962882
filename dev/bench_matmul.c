// bench_matmul.c: GFLOP/s of our blocked GEMM (kernels/matmul.c) on the linear-layer shapes of
// DistilBERT at 1024 tokens: forward (X·Wᵀ), dX (dY·W) and dW (dYᵀ·X). Median of --reps runs, by wall
// clock and per CPU-second (the latter is robust to other load on a shared machine).
// Build (repo root, after `make build/libenc.a`):
//   cc -O2 -std=c11 -fopenmp -I. dev/bench_matmul.c build/libenc.a -lm -o build/bench_matmul
// Run: OMP_NUM_THREADS=2 build/bench_matmul [reps]
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/kernels.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
// CPU time of the process (all threads): GFLOP per CPU-second is robust to other load on a shared machine
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 9;
    struct { const char *name; int M, N, K, kind; } cases[] = {
        {"QKV fwd   X.Wt", 1024, 2304, 768, 0}, {"FFN1 fwd  X.Wt", 1024, 3072, 768, 0},
        {"FFN2 fwd  X.Wt", 1024, 768, 3072, 0}, {"dX FFN2   dY.W", 1024, 3072, 768, 1},
        {"dX FFN1   dY.W", 1024, 768, 3072, 1}, {"dW FFN1  dYt.X", 3072, 768, 1024, 2},
        {"dW proj  dYt.X", 768, 768, 1024, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int M = cases[c].M, N = cases[c].N, K = cases[c].K;
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N), *C = calloc((size_t)M * N, 4);
        for (long i = 0; i < (long)M * K; i++) A[i] = (float)(i % 7) * 0.1f;
        for (long i = 0; i < (long)K * N; i++) B[i] = (float)(i % 5) * 0.1f;
        double t[64], cpu[64];
        for (int r = 0; r < reps; r++) {
            double t0 = now_s(), c0 = cpu_s();
            if (cases[c].kind == 0) matmul(C, N, A, K, 1, B, 1, K, NULL, M, N, K, 0);       // B stored (N,K)
            else if (cases[c].kind == 1) matmul(C, N, A, K, 1, B, N, 1, NULL, M, N, K, 1);  // B stored (K,N)
            else matmul(C, N, A, 1, M, B, N, 1, NULL, M, N, K, 1);                          // A stored (K,M)
            t[r] = now_s() - t0;
            cpu[r] = cpu_s() - c0;
        }
        qsort(t, reps, sizeof(double), cmp);
        qsort(cpu, reps, sizeof(double), cmp);
        printf("%-16s %5d x %5d x %5d  %7.1f GFLOP/s (median), best %7.1f; per CPU-second %7.1f\n", cases[c].name,
               M, N, K, 2.0 * M * N * K / t[reps / 2] * 1e-9, 2.0 * M * N * K / t[0] * 1e-9,
               2.0 * M * N * K / cpu[reps / 2] * 1e-9);
        free(A); free(B); free(C);
    }
    return 0;
}
