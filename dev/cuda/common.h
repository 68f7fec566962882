// common.h: what every kernel lab in dev/cuda/ shares (the llm.c dev/cuda/common.h idea, plus
// poisoned outputs, relative-error validation, median timing and one machine-readable result line).
//
// A lab's main():
//   1. for every validation size and every version: fresh random non-zero inputs (host, then copied),
//      outputs that the kernel must fully write are poisoned with NaN (0xFF bytes), outputs it adds
//      into (+=, the backward convention of kernels/kernels.h) are pre-filled with random values;
//      run the CPU reference (our kernels/ code, linked from build/cuda/libref.a) and the version,
//      set lab_version = <n>, then validate() each output (it records the version's worst error);
//   2. benchmark() every version at the DistilBERT-sized case (median of event-timed repetitions, L2
//      flushed before each one) and print_result() one line that dev/gpu_check.sh collects:
//        RESULT op=<op> version=<n> status=<ok|FAIL|noval> maxrel=<x> time_us=<t> hot_us=<t>
//               gbps=<g> tflops=<f> floor_us=<f> pct=<p> size=<label>
//      (one line; maxrel is the largest validated error of that version over all sizes, measured as
//      defined at validate(); floor_us is the roofline time for the benchmarked size: max(bytes /
//      peak bandwidth, flops / peak flop rate); pct = floor_us / time_us · 100);
//   3. return lab_exit(): one summary line per version that ran validations,
//        VERSION op=<op> version=<n> status=<ok|FAIL> maxrel=<x> checks=<n>
//      (test/cuda_emu/run_labs.sh collects them), then non-zero when any validation failed.
// Under the CPU emulator (test/cuda_emu: g++ with CUDA_EMU defined, `make test-cuda-emu`),
// lab_emulated is true: each lab validates a second, small case list (the same awkward shapes, sizes
// a CPU can emulate in seconds) and returns lab_exit() before its benchmark; the emulated device is
// sized as 4 SMs for the grids the labs derive from lab_device.num_sms (see lab_init).
// Environment: LAB_PEAK_GBPS overrides the bandwidth peak read from the device; LAB_REPS and
// LAB_WARMUP the repetition counts (defaults 50 and 10).
#ifndef DEV_CUDA_COMMON_H
#define DEV_CUDA_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <initializer_list>
#include <vector>

#include <cuda_runtime.h>
#include <cuda_bf16.h>

// errors (cudaCheck, cudaCheckLaunch), ceil_div and the warp/block reductions: kernels/cuda/common.cuh,
// the same the production kernels use
#include "kernels/cuda/common.cuh"

static inline void *host_malloc_(size_t bytes, const char *file, int line) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) { fprintf(stderr, "%s:%d: out of host memory (%zu bytes)\n", file, line, bytes); exit(2); }
    return p;
}
#define host_malloc(bytes) host_malloc_((bytes), __FILE__, __LINE__)

// ----------------------------------------------------------------------------------------------
// random inputs (a fixed-seed xorshift: runs are reproducible, every call gives fresh values)

static uint64_t lab_rng_state = 0x853c49e6748fea9bull;
static inline uint32_t lab_rand_u32(void) {
    lab_rng_state ^= lab_rng_state >> 12;
    lab_rng_state ^= lab_rng_state << 25;
    lab_rng_state ^= lab_rng_state >> 27;
    return (uint32_t)((lab_rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}
// uniform in [lo, hi), never exactly 0 (a zero input hides bugs that skip or overwrite an element)
static inline float lab_rand_uniform(float lo, float hi) {
    for (;;) {
        float u = (float)(lab_rand_u32() >> 8) * (1.0f / 16777216.0f);
        float x = lo + (hi - lo) * u;
        if (x != 0.0f) return x;
    }
}
static inline void fill_uniform(float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lab_rand_uniform(lo, hi);
}
static inline float *make_random_float(size_t n, float lo = -1.0f, float hi = 1.0f) {
    float *x = (float *)host_malloc(n * sizeof(float));
    fill_uniform(x, n, lo, hi);
    return x;
}
static inline int lab_rand_int(int n) { return (int)(lab_rand_u32() % (uint32_t)n); }

// ----------------------------------------------------------------------------------------------
// bf16 on the host (round to nearest even, as __float2bfloat16_rn on the device)

static inline float bf16_round(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }
static inline void round_to_bf16(float *x, size_t n) { for (size_t i = 0; i < n; i++) x[i] = bf16_round(x[i]); }
static inline void float_to_bf16(__nv_bfloat16 *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = __float2bfloat16_rn(in[i]);
}

// ----------------------------------------------------------------------------------------------
// device buffers

template <class T> static inline T *dev_alloc(size_t n) {
    T *p = NULL;
    cudaCheck(cudaMalloc((void **)&p, (n ? n : 1) * sizeof(T)));
    return p;
}
template <class T> static inline void to_device(T *dst, const T *src, size_t n) {
    cudaCheck(cudaMemcpy(dst, src, n * sizeof(T), cudaMemcpyHostToDevice));
}
template <class T> static inline void to_host(T *dst, const T *src, size_t n) {
    cudaCheck(cudaMemcpy(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost));
}
// NaN in every float / bf16 element (0xFFFF.. is a quiet NaN in both): an output element the kernel
// forgets to write fails validation
static inline void poison(void *dev_ptr, size_t bytes) { cudaCheck(cudaMemset(dev_ptr, 0xFF, bytes)); }
// a bf16 device copy of host floats
static inline __nv_bfloat16 *bf16_to_device(const float *host, size_t n) {
    std::vector<__nv_bfloat16> tmp(n);
    float_to_bf16(tmp.data(), host, n);
    __nv_bfloat16 *d = dev_alloc<__nv_bfloat16>(n);
    to_device(d, tmp.data(), n);
    return d;
}

// ----------------------------------------------------------------------------------------------
// validation

// Tolerances. rel: the largest allowed |gpu - ref| / (|ref| + floor), where floor = floor_frac ·
// RMS(ref) keeps near-zero reference values from demanding impossible relative accuracy
// (kernel-notes §6: atol ≈ 1e-2 · RMS for bf16).
//   TOL_FP32: fp32 in, fp32 out, only the summation order differs from the CPU reference.
//   TOL_BF16: bf16-stored outputs against a reference fed the same bf16-rounded inputs:
//             two bf16 ulps (2 · 2^-8) of the value, plus the floor.
//   TOL_FP32_SUM: fp32 sums over many rows (parameter-gradient column sums, norms): both sides
//             round each of up to N additions, in different orders, so the error scales with
//             N · eps · RMS of the terms, not with the (possibly cancelling) result.
//   TOL_FP32_MEAN: a statistic whose values scatter around 0 (LayerNorm's row means): judged
//             against its own RMS, since the reference's value itself is a cancelling sum.
//   TOL_BF16_SUM: an output that sums terms each rounded to bf16 first (attention's P·V with P in
//             bf16), then is itself rounded to bf16: every term carries its own relative error (at
//             most u = 2^-9, spread like uniform noise of standard deviation u/sqrt(3)), so the
//             sum's error is ~ u/sqrt(3) · sqrt(Σ terms²) ≈ 1.1e-3 · RMS(out) whatever the value
//             itself (which may be small after cancelling); the output's rounding adds up to
//             u · |out|. Floor = the whole RMS; with a measured standard deviation of 2.2e-3 · RMS
//             (emulator), rel 1.2e-2 allows ~5.5 of them near zero: the largest of 1e6 Gaussian
//             errors is ~5. Derivation, and the backward's variant: doc/cuda.md, "Tolerances".
typedef struct { float rel; float floor_frac; } Tolerance;
static const Tolerance TOL_FP32 = {1e-4f, 1e-2f};
static const Tolerance TOL_BF16 = {8e-3f, 1e-2f};
static const Tolerance TOL_FP32_SUM = {1e-3f, 1e-1f};
static const Tolerance TOL_FP32_MEAN = {1e-4f, 1.0f};
static const Tolerance TOL_BF16_SUM = {1.2e-2f, 1.0f};

#ifdef CUDA_EMU
static const bool lab_emulated = true;
#else
static const bool lab_emulated = false;
#endif

static int lab_failures = 0;   // validations that failed in this run (lab_exit's status)
// the version being validated: validate() records its largest error and any failure per version
#define LAB_MAX_VERSIONS 32
static int lab_version = 0;
static float lab_maxrel[LAB_MAX_VERSIONS];
static int lab_failed[LAB_MAX_VERSIONS];
static int lab_checks[LAB_MAX_VERSIONS];   // validations run; a version with none reports status=noval
static inline void lab_record(float rel, int failed) {
    int v = lab_version >= 0 && lab_version < LAB_MAX_VERSIONS ? lab_version : 0;
    lab_checks[v]++;
    if (!(rel <= lab_maxrel[v])) lab_maxrel[v] = rel;   // also takes NaN / INFINITY
    lab_failed[v] |= failed;
}

// Compare n values computed on the device (already on the host, as floats) with the reference.
// Prints the first mismatches and returns the largest error, or INFINITY when any device value is
// not finite where the reference is. Reference entries that are not finite are skipped (and counted
// in the message).
// slack (or NULL): a per-element absolute error allowed on top (see validate_added).
static float validate_values(const char *what, const float *got, const float *ref, size_t n, Tolerance tol,
                             const float *slack = NULL) {
    double sumsq = 0.0;
    size_t finite_ref = 0;
    for (size_t i = 0; i < n; i++) if (isfinite(ref[i])) { sumsq += (double)ref[i] * ref[i]; finite_ref++; }
    double rms = finite_ref ? sqrt(sumsq / finite_ref) : 0.0;
    double floor_abs = tol.floor_frac * rms;
    if (floor_abs == 0.0) floor_abs = 1e-30;
    double maxrel = 0.0, errsq = 0.0;
    size_t bad = 0, skipped = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(ref[i])) { skipped++; continue; }
        float g = got[i];
        double diff = fabs((double)g - ref[i]);
        if (slack) diff = fmax(0.0, diff - slack[i]);
        double rel = isfinite(g) ? diff / (fabs((double)ref[i]) + floor_abs) : INFINITY;
        errsq += isfinite(g) ? ((double)g - ref[i]) * ((double)g - ref[i]) : INFINITY;
        if (rel > maxrel) { maxrel = rel; worst = i; }
        if (!(rel <= tol.rel)) {
            if (bad < 8) printf("    MISMATCH %s[%zu]: gpu %.8g ref %.8g (rel %.3g > %.3g)\n", what, i, g, ref[i], rel, tol.rel);
            bad++;
        }
    }
    if (bad) {
        printf("  v%d %-24s FAIL: %zu of %zu beyond rel %.3g (max %.3g at %zu)%s\n", lab_version, what, bad, n,
               tol.rel, maxrel, worst, skipped ? " [non-finite reference entries skipped]" : "");
        lab_failures++;
    } else {
        printf("  v%d %-24s ok   max rel %.3g (tol %.3g, n %zu; RMS error / RMS ref %.2g)\n", lab_version, what,
               maxrel, tol.rel, n, sumsq > 0 ? sqrt(errsq / sumsq) : 0.0);
    }
    lab_record((float)maxrel, bad != 0);
    return (float)maxrel;
}

// n device values (float or bf16) against the host reference
template <class T>
static float validate(const char *what, const T *dev_ptr, const float *ref, size_t n, Tolerance tol) {
    std::vector<T> got_raw(n);
    to_host(got_raw.data(), dev_ptr, n);
    std::vector<float> got(n);
    for (size_t i = 0; i < n; i++) got[i] = (float)got_raw[i];
    return validate_values(what, got.data(), ref, n, tol);
}

// An output the kernel adds into (+=, gradients): `before` is what it held before the kernel (and
// the reference) ran. The increments gpu - before and ref - before are compared, so the floor is a
// fraction of the RMS of what the kernel computed, not of the random values it was pre-filled with.
// Both sums were rounded at the magnitude of before + increment: half an fp32 ulp of it each side
// is allowed on top (2^-24 · (|gpu| + |ref|)), which the increments cannot resolve.
static float validate_added(const char *what, const float *dev_ptr, const float *ref, const float *before, size_t n,
                            Tolerance tol) {
    std::vector<float> got(n), inc(n), slack(n);
    to_host(got.data(), dev_ptr, n);
    for (size_t i = 0; i < n; i++) {
        slack[i] = 0x1p-24f * (fabsf(got[i]) + fabsf(ref[i]));
        got[i] -= before[i];
        inc[i] = ref[i] - before[i];
    }
    return validate_values(what, got.data(), inc.data(), n, tol, slack.data());
}
// a scalar computed on the device (already copied to the host)
static inline float validate_scalar(const char *what, float got, double ref, float rel_tol) {
    double rel = isfinite(got) ? fabs(got - ref) / fmax(fabs(ref), 1e-30) : INFINITY;
    if (!(rel <= rel_tol)) {
        printf("  v%d %-24s FAIL: gpu %.9g ref %.9g (rel %.3g > %.3g)\n", lab_version, what, got, ref, rel, rel_tol);
        lab_failures++;
    } else {
        printf("  v%d %-24s ok   gpu %.9g ref %.9g (rel %.3g)\n", lab_version, what, got, ref, rel);
    }
    lab_record((float)rel, !(rel <= rel_tol));
    return (float)rel;
}

static const char *lab_op = "?";   // the lab's name (lab_init), the op= of its result lines

static inline int lab_exit(void) {
    for (int v = 0; v < LAB_MAX_VERSIONS; v++)
        if (lab_checks[v])
            printf("VERSION op=%s version=%d status=%s maxrel=%.3g checks=%d\n", lab_op, v,
                   lab_failed[v] ? "FAIL" : "ok", lab_maxrel[v], lab_checks[v]);
    if (lab_failures) { printf("VALIDATION FAILED: %d check(s)\n", lab_failures); return 1; }
    printf("all validations passed\n");
    return 0;
}

// ----------------------------------------------------------------------------------------------
// the device and its roofline

typedef struct {
    double peak_gbps;   // HBM: 2 · memory clock · bus width (H100 SXM: 3352 GB/s); LAB_PEAK_GBPS overrides
    int l2_bytes;
    int num_sms;
    char name[256];
} LabDevice;
static LabDevice lab_device;

// Under the emulator the grids that the labs size from the SM count (grid-stride loops, split-K,
// per-block scratch) are sized for this many SMs, so those loops wrap and the partials get several
// rows at the small emulated sizes, as they do at the GPU sizes on a full device.
#define LAB_EMULATED_SMS 4

static inline void lab_init(const char *lab) {
    lab_op = lab;
    setvbuf(stdout, NULL, _IOLBF, 0);   // whole lines in the log even if the process dies
    int dev = 0;
    cudaCheck(cudaSetDevice(dev));
    cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, dev));
    int mem_khz = 0, bus_bits = 0;
    cudaCheck(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, dev));
    cudaCheck(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev));
    cudaCheck(cudaDeviceGetAttribute(&lab_device.l2_bytes, cudaDevAttrL2CacheSize, dev));
    lab_device.num_sms = prop.multiProcessorCount;
    if (lab_emulated) lab_device.num_sms = std::min(lab_device.num_sms, LAB_EMULATED_SMS);
    snprintf(lab_device.name, sizeof lab_device.name, "%s", prop.name);
    lab_device.peak_gbps = 2.0 * mem_khz * 1e3 * (bus_bits / 8) / 1e9;
    const char *env = getenv("LAB_PEAK_GBPS");
    if (env && atof(env) > 0) lab_device.peak_gbps = atof(env);
    if (!(lab_device.peak_gbps > 0)) lab_device.peak_gbps = 3352.0;
    printf("== %s on %s (sm_%d%d, %d SMs, L2 %d MB, peak %.0f GB/s)%s\n", lab, prop.name, prop.major, prop.minor,
           lab_device.num_sms, lab_device.l2_bytes >> 20, lab_device.peak_gbps,
           lab_emulated ? " [emulated: small cases, no benchmark]" : "");
}

// Peak flop rates for the compute floor (H100 SXM dense, quoted: kernel-notes §0, §7.2). A lab with
// flops passes the rate of the unit its version uses.
#define PEAK_TFLOPS_FP32 66.9
#define PEAK_TFLOPS_TF32 494.7
#define PEAK_TFLOPS_BF16 989.4

// ----------------------------------------------------------------------------------------------
// timing

typedef struct { float median_us; float hot_us; } Timing;

static inline int lab_env_int(const char *name, int dflt) {
    const char *s = getenv(name);
    return s && atoi(s) > 0 ? atoi(s) : dflt;
}

// Time `launch` (a callable that enqueues the kernel(s) on stream 0): warm-up, then the median of
// `reps` event-timed repetitions with L2 flushed before each (HBM-cold: the honest per-kernel
// number), then the median without flushing (what a consumer right after the producer sees).
template <class F> static Timing benchmark(F &&launch, int reps = 0, int warmup = 0) {
    if (lab_emulated) {   // emulated timings mean nothing: every lab returns before its benchmark
        fprintf(stderr, "benchmark() reached under the emulator\n");
        exit(2);
    }
    if (reps <= 0) reps = lab_env_int("LAB_REPS", 50);
    if (warmup <= 0) warmup = lab_env_int("LAB_WARMUP", 10);
    size_t flush_bytes = (size_t)std::max(lab_device.l2_bytes, 1 << 20) * 2;
    static char *flush = NULL;
    static size_t flush_size = 0;
    if (flush_size < flush_bytes) {
        if (flush) cudaCheck(cudaFree(flush));
        cudaCheck(cudaMalloc((void **)&flush, flush_bytes));
        flush_size = flush_bytes;
    }
    cudaEvent_t start, stop;
    cudaCheck(cudaEventCreate(&start));
    cudaCheck(cudaEventCreate(&stop));
    for (int i = 0; i < warmup; i++) launch();
    cudaCheckLaunch();
    cudaCheck(cudaDeviceSynchronize());
    std::vector<float> cold(reps), hot(reps);
    for (int i = 0; i < reps; i++) {
        cudaCheck(cudaMemsetAsync(flush, i & 0xFF, flush_size));
        cudaCheck(cudaEventRecord(start));
        launch();
        cudaCheck(cudaEventRecord(stop));
        cudaCheck(cudaEventSynchronize(stop));
        float ms = 0;
        cudaCheck(cudaEventElapsedTime(&ms, start, stop));
        cold[i] = ms * 1e3f;
    }
    for (int i = 0; i < reps; i++) {
        cudaCheck(cudaEventRecord(start));
        launch();
        cudaCheck(cudaEventRecord(stop));
        cudaCheck(cudaEventSynchronize(stop));
        float ms = 0;
        cudaCheck(cudaEventElapsedTime(&ms, start, stop));
        hot[i] = ms * 1e3f;
    }
    cudaCheckLaunch();
    cudaCheck(cudaEventDestroy(start));
    cudaCheck(cudaEventDestroy(stop));
    std::sort(cold.begin(), cold.end());
    std::sort(hot.begin(), hot.end());
    Timing t = {cold[reps / 2], hot[reps / 2]};
    return t;
}

// Time launch(block) for each block size and keep the fastest (printing each).
template <class F> static Timing benchmark_blocks(int version, std::initializer_list<int> blocks, F &&launch) {
    Timing best = {INFINITY, INFINITY};
    int best_block = 0;
    for (int block : blocks) {
        Timing t = benchmark([&] { launch(block); });
        printf("  v%d block %4d: %9.2f us (hot %.2f)\n", version, block, t.median_us, t.hot_us);
        if (t.median_us < best.median_us) { best = t; best_block = block; }
    }
    printf("  v%d best block %d\n", version, best_block);
    return best;
}

// One RESULT line (format at the top of this file) for `version`, with the largest error and the
// status validate() recorded for it. bytes: the minimum HBM traffic of the benchmarked call;
// flops: its arithmetic (0 for memory-bound ops); peak_tflops: the peak of the unit it uses.
static inline void print_result(const char *op, int version, Timing t, double bytes, double flops,
                                double peak_tflops, const char *size) {
    float maxrel = lab_maxrel[version];
    const char *status = lab_failed[version] ? "FAIL" : lab_checks[version] ? "ok" : "noval";
    double floor_us = bytes / (lab_device.peak_gbps * 1e9) * 1e6;
    if (flops > 0 && peak_tflops > 0) floor_us = std::max(floor_us, flops / (peak_tflops * 1e12) * 1e6);
    double gbps = bytes / (t.median_us * 1e-6) / 1e9;
    double tflops = flops / (t.median_us * 1e-6) / 1e12;
    printf("RESULT op=%s version=%d status=%s maxrel=%.3g time_us=%.2f hot_us=%.2f gbps=%.1f tflops=%.2f "
           "floor_us=%.2f pct=%.1f size=%s\n",
           op, version, status, maxrel, t.median_us, t.hot_us, gbps, tflops, floor_us,
           100.0 * floor_us / t.median_us, size);
    fflush(stdout);
}

// a lab's validation cases: its GPU list, or under the emulator its small list
template <class T, size_t NG, size_t NE>
static inline std::vector<T> lab_cases(const T (&gpu)[NG], const T (&emulated)[NE]) {
    return lab_emulated ? std::vector<T>(emulated, emulated + NE) : std::vector<T>(gpu, gpu + NG);
}

// which versions to run: all by default, or the one given as argv[1] (llm.c's `./layernorm_forward 3`)
static inline bool lab_want(int argc, char **argv, int version) {
    return argc < 2 || atoi(argv[1]) == version;
}

// ----------------------------------------------------------------------------------------------
// device helpers (the reductions are in kernels/cuda/common.cuh)

// 16-byte packs of 8 bf16 (llm.c's x128): one vector load or store
struct alignas(16) bf16x8 { __nv_bfloat162 h[4]; };

#endif
