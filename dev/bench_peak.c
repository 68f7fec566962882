// bench_peak.c: the arithmetic peak of this CPU for each GEMM path, measured with bare instruction
// loops (no memory traffic): what "x % of peak" in doc/results.md divides by.
//   fp32          24 independent zmm accumulators, vfmadd231ps         (32 FLOP per instruction)
//   avx512-bf16   24 independent zmm accumulators, vdpbf16ps           (64 FLOP per instruction)
//   amx-bf16      4 independent 16x16 fp32 tiles, tdpbf16ps from 2 A and 2 B tiles loaded once
//                 (16 x 16 x 32 multiply-adds = 16384 FLOP per instruction)
// All threads run the loop together for `seconds`; GFLOP/s = FLOP / wall time, summed over the threads;
// the best of 5 such measurements is printed (other load on a shared machine only ever lowers it).
// Build (repo root): cc -O2 -std=c11 -fopenmp dev/bench_peak.c -o build/bench_peak
// Run: build/bench_peak [threads] [seconds]   (paths the CPU lacks are skipped with a line)
#define _DEFAULT_SOURCE  // syscall()
#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define ITERS 1000000L  // instructions per accumulator between clock reads

__attribute__((target("avx512f"))) static double loop_fp32(long rounds) {
    __m512 acc[24], a = _mm512_set1_ps(1e-7f), b = _mm512_set1_ps(0.999f);
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long r = 0; r < rounds; r++) {
        #pragma GCC unroll 24
        for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(a, b, acc[i]);
    }
    float sink = 0;
    for (int i = 0; i < 24; i++) sink += _mm512_reduce_add_ps(acc[i]);
    return sink;
}

__attribute__((target("avx512f,avx512bf16"))) static double loop_avx512_bf16(long rounds) {
    __m512 acc[24];
    __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x33d633d6);
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long r = 0; r < rounds; r++) {
        #pragma GCC unroll 24
        for (int i = 0; i < 24; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    }
    float sink = 0;
    for (int i = 0; i < 24; i++) sink += _mm512_reduce_add_ps(acc[i]);
    return sink;
}

typedef struct {
    uint8_t palette_id, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} TileConfig;

__attribute__((target("amx-tile,amx-bf16"))) static double loop_amx_bf16(long rounds) {
    _Alignas(64) TileConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
    _Alignas(64) static const uint16_t ones[16 * 32] = {0};
    _Alignas(64) float out[16 * 16];
    _tile_loadd(4, ones, 64);
    _tile_loadd(5, ones, 64);
    _tile_loadd(6, ones, 64);
    _tile_loadd(7, ones, 64);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (long r = 0; r < rounds; r++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, out, 64);
    _tile_release();
    return out[0];
}

static int has_avx512_bf16(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
}
static int has_amx_bf16(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 22)) || !(d & (1u << 24))) return 0;
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
}

// GFLOP/s of `loop` on `threads` threads for about `seconds`, once
static double measure_once(double (*loop)(long), double flop_per_round, int threads, double seconds) {
    long rounds = 1000;
    double t0 = now_s(), sink = 0;
    loop(rounds);
    while (now_s() - t0 < 0.05) rounds *= 2, t0 = now_s(), sink += loop(rounds);  // calibrate ~0.05 s
    double per_round = (now_s() - t0) / rounds;
    long n = (long)(seconds / per_round) + 1;
    double start = now_s();
    #pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += loop(n);
    double dt = now_s() - start;
    if (sink == 12345.678) printf(" ");  // keep the loops
    return flop_per_round * n * threads / dt * 1e-9;
}

static double measure(double (*loop)(long), double flop_per_round, int threads, double seconds) {
    double best = 0;
    for (int i = 0; i < 5; i++) {
        double g = measure_once(loop, flop_per_round, threads, seconds);
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    double seconds = argc > 2 ? atof(argv[2]) : 0.3;
    if (threads < 1 || seconds <= 0) {
        fprintf(stderr, "usage: %s [threads] [seconds]\n", argv[0]);
        return 2;
    }
    printf("{\"threads\": %d", threads);
    printf(", \"fp32_gflops\": %.1f", measure(loop_fp32, 24.0 * 32, threads, seconds));
    if (has_avx512_bf16()) printf(", \"avx512_bf16_gflops\": %.1f", measure(loop_avx512_bf16, 24.0 * 64, threads, seconds));
    else fprintf(stderr, "skipped avx512-bf16: the CPU lacks avx512_bf16\n");
    if (has_amx_bf16()) printf(", \"amx_bf16_gflops\": %.1f", measure(loop_amx_bf16, 4.0 * 16 * 16 * 32 * 2, threads, seconds));
    else fprintf(stderr, "skipped amx-bf16: the CPU lacks amx_bf16 or Linux refused the tile state\n");
    printf("}\n");
    return 0;
}
