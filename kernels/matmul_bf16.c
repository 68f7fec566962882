// matmul_bf16.c: C = A·B (+ C) (+ bias) with bf16 operands and fp32 sums, the GEMM behind
// --precision bf16 on the CPU. The same call as matmul.c (strides instead of transpose flags, any M,
// N, K) and the same BLIS loops (K blocks of KC, B packed once per call and shared by the threads, A
// packed per MC block by each thread); only the packs and the micro-kernels differ:
//
//   value  A and B are rounded to bf16 (round to nearest even, bf16_from_float) while they are packed,
//          so a weight is converted once per product (the fp32 path packs it there too) and an
//          activation once per K block. C, bias, the accumulators and everything outside the GEMM
//          stay fp32: each C element is Σ_k bf16(A[i,k])·bf16(B[k,j]) summed in fp32 (a product of
//          two bf16 values is exact in fp32: 8 x 8 significand bits).
//
//   k-pairs  Both instructions multiply pairs of bf16 along k that share one 32-bit lane:
//          vdpbf16ps     acc[j] += a[2j]·b[2j] + a[2j+1]·b[2j+1]           (16 fp32 lanes per zmm)
//          tdpbf16ps     C[m][n] += Σ_p A[m][2p]·B[p][n].lo + A[m][2p+1]·B[p][n].hi   (16 x 16 fp32 tile)
//          so B is packed as k-pairs: Bp[p][j] (uint32) = bf16(B[k0+2p][j]) | bf16(B[k0+2p+1][j]) << 16,
//          NR = 32 columns per sliver, p-major (a sliver row of 32 pairs is 128 bytes). An odd K gets a
//          zero partner; the AMX path pads each K block to a multiple of 32 (16 pairs) with zeros.
//
//   avx512-bf16  12 x 32 register tile like the fp32 kernel: per pair p, 2 loads of B (32 columns),
//          12 broadcasts of A's pair (one uint32) and 24 vdpbf16ps: twice the k per instruction.
//          A packed as pairs too: Ap[p][i] = bf16(A[i,2p]) | bf16(A[i,2p+1]) << 16, MR = 12 rows.
//   amx-bf16   32 x 32 output block in four 16 x 16 fp32 tiles (tmm0-3); per 32 k: two A tiles
//          (rows 0-15 and 16-31, each row 32 bf16 = 64 bytes), two B tiles (columns 0-15 and 16-31
//          of 16 pairs, read from the same k-pair pack with a row stride of 128 bytes), four
//          tdpbf16ps. A packed row-major: Ap[i][k] (uint16), rows of the K block's padded depth.
//          The tiles are stored to a 32 x 32 buffer and the bias / previous C added with AVX-512.
//
// Which path runs is chosen once (gemm_set_path, from CPUID via gemm_best_bf16_path) and printed by
// the program. The kernels are compiled with target attributes, not -m flags, so this file builds
// on any x86-64 compiler that knows the instructions (gcc >= 11, clang >= 12), and a path only runs
// after gemm_path_supported has seen it in CPUID (and, for AMX, Linux has granted the tile state).
//
// Summation order: vdpbf16ps adds the odd product and then the even one into the accumulator
// (Intel SDM), the AMX unit sums a tile's pairs in an unspecified order; both treat bf16 denormal
// inputs as zero and flush denormal results. Results therefore match the fp32 GEMM of the rounded
// operands up to fp32 summation order (test/test_bf16.c states the bound), not bit for bit, and are
// deterministic for a given path and thread count (every C element is summed by one thread, K blocks
// in ascending order). The double build (finite-difference checks) has no bf16 path.
#define _DEFAULT_SOURCE  // syscall(): the AMX permission request
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm_threads.h"
#include "kernels/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static GemmPath current_path = GEMM_FP32;

GemmPath gemm_get_path(void) { return current_path; }

const char *gemm_path_name(GemmPath path) {
    switch (path) {
    case GEMM_FP32: return "fp32";
    case GEMM_BF16_AVX512: return "avx512-bf16 (vdpbf16ps, 12x32 register tile)";
    case GEMM_BF16_AMX: return "amx-bf16 (tdpbf16ps, 32x32 in four 16x16 tiles)";
    }
    return "unknown";
}

// ---------------------------------------------------------------- conversion (scalar)

uint16_t bf16_from_float(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0xFFFF;  // NaN (any sign or payload)
    // round to nearest even on the 16 dropped bits: add 0x7FFF plus the lowest kept bit, so a tie
    // (dropped bits exactly 0x8000) carries only when the kept part is odd; an overflow of the
    // largest finite values carries into the exponent and gives ±Inf, as it should
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

float bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

void bf16_round_array(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_to_float(bf16_from_float(src[i]));
}

#if defined(REAL_DOUBLE) || !defined(__x86_64__) || !(defined(__clang__) ? __clang_major__ >= 12 : __GNUC__ >= 11)

// no bf16 kernels in this build: the double build, another architecture, or a compiler without the
// AVX-512 BF16 / AMX intrinsics
int gemm_path_supported(GemmPath path, char *why, size_t whylen) {
    if (path == GEMM_FP32) return 1;
    snprintf(why, whylen, "%s: not in this build (%s)", gemm_path_name(path),
#ifdef REAL_DOUBLE
             "the double-precision library"
#else
             "needs x86-64 and gcc >= 11 or clang >= 12"
#endif
    );
    return 0;
}

void bf16_from_float_array(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_from_float(src[i]);
}

#ifndef REAL_DOUBLE
void matmul_bf16(GemmPath path, int threaded, real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa,
                 const real *B, ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate) {
    abort();  // unreachable: gemm_set_path refuses every bf16 path in this build
}
int matmul_bf16_pack(GemmPath path, PackedB *p, const real *B, ptrdiff_t rsb, ptrdiff_t csb, int N, int K) {
    abort();
}
void matmul_bf16_packed(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const PackedB *p,
                        const real *bias, int M, int accumulate) {
    abort();
}
#endif

#else  // x86-64 float build: the kernels

#include <cpuid.h>
#include <immintrin.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "kernels/avx512_transpose.h"

// The instruction sets each group of functions may use (they run only after the CPUID checks below).
#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define TARGET_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define TARGET_AMX_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,amx-tile,amx-bf16")))

// ---------------------------------------------------------------- what this CPU runs

static uint64_t read_xcr0(void) {  // the state components the OS saves and restores (XGETBV 0)
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

// AVX-512 F/BW/VL/DQ in CPUID and the opmask and zmm state enabled by the OS (XCR0 bits 1, 2, 5, 6, 7)
static int cpu_has_avx512(char *why, size_t whylen) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)))
        return snprintf(why, whylen, "no OSXSAVE: the OS does not expose XGETBV"), 0;
    if ((read_xcr0() & 0xE6) != 0xE6) return snprintf(why, whylen, "the OS does not enable the AVX-512 state"), 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return snprintf(why, whylen, "no CPUID leaf 7"), 0;
    unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);  // avx512 f, dq, bw, vl
    if ((b & need) != need) return snprintf(why, whylen, "the CPU lacks AVX-512 F/DQ/BW/VL"), 0;
    return 1;
}

static int cpu_has_avx512_bf16(char *why, size_t whylen) {
    if (!cpu_has_avx512(why, whylen)) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !(a & (1u << 5)))  // CPUID.(7,1):EAX bit 5
        return snprintf(why, whylen, "the CPU lacks avx512_bf16 (vdpbf16ps)"), 0;
    return 1;
}

#define ARCH_REQ_XCOMP_PERM 0x1023  // Linux arch_prctl: ask for a dynamically enabled state component
#define XFEATURE_XTILEDATA 18       // the AMX tile data (8 KiB per thread)

static int cpu_has_amx_bf16(char *why, size_t whylen) {
    if (!cpu_has_avx512(why, whylen)) return 0;  // the epilogue and the packs use AVX-512
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 22)))  // CPUID.(7,0):EDX bit 24 amx-tile, bit 22 amx-bf16
        return snprintf(why, whylen, "the CPU lacks amx_tile / amx_bf16"), 0;
    if ((read_xcr0() & (3u << 17)) != (3u << 17)) return snprintf(why, whylen, "the OS does not enable the AMX state"), 0;
#ifdef __linux__
    // Linux hands out the 8 KiB tile state only on request (kernel 5.16+); once per process, idempotent
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
        return snprintf(why, whylen, "Linux refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM)"), 0;
    return 1;
#else
    return snprintf(why, whylen, "AMX is only used on Linux (arch_prctl permission)"), 0;
#endif
}

int gemm_path_supported(GemmPath path, char *why, size_t whylen) {
    char reason[160] = "";
    int ok = path == GEMM_FP32 ? 1
           : path == GEMM_BF16_AVX512 ? cpu_has_avx512_bf16(reason, sizeof reason)
           : path == GEMM_BF16_AMX ? cpu_has_amx_bf16(reason, sizeof reason)
           : (snprintf(reason, sizeof reason, "no such path"), 0);
    if (!ok) snprintf(why, whylen, "%s: %s", gemm_path_name(path), reason);
    return ok;
}

#endif  // the kernels' CPU checks

GemmPath gemm_best_bf16_path(void) {
    char why[256];
    if (gemm_path_supported(GEMM_BF16_AMX, why, sizeof why)) return GEMM_BF16_AMX;
    if (gemm_path_supported(GEMM_BF16_AVX512, why, sizeof why)) return GEMM_BF16_AVX512;
    return GEMM_FP32;
}

int gemm_set_path(GemmPath path, char *err, size_t errlen) {
    if (!gemm_path_supported(path, err, errlen)) return -1;
    current_path = path;
    return 0;
}

#if !defined(REAL_DOUBLE) && defined(__x86_64__) && (defined(__clang__) ? __clang_major__ >= 12 : __GNUC__ >= 11)

// ---------------------------------------------------------------- conversion (16 lanes)

// 16 floats -> their bf16 bits in the low halves of 16 uint32 lanes (high halves zero); the same
// arithmetic as bf16_from_float, NaN lanes -> 0xFFFF
TARGET_AVX512 static inline __m512i bf16_round_lanes(__m512 x) {
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    return _mm512_mask_mov_epi32(r, nan, _mm512_set1_epi32(0xFFFF));
}

TARGET_AVX512 static void bf16_from_float_lanes(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(dst + i, m, _mm512_cvtepi32_epi16(bf16_round_lanes(_mm512_maskz_loadu_ps(m, src + i))));
    }
}

void bf16_from_float_array(uint16_t *dst, const float *src, size_t n) {
    static int avx512 = -1;  // the CPUID answer, found once (a race writes the same value)
    if (avx512 < 0) {
        char why[160];
        avx512 = cpu_has_avx512(why, sizeof why);
    }
    if (avx512) bf16_from_float_lanes(dst, src, n);
    else
        for (size_t i = 0; i < n; i++) dst[i] = bf16_from_float(src[i]);
}

// the pairs of two k rows: lane j = bf16(even[j]) | bf16(odd[j]) << 16, the first n lanes (rest zero)
TARGET_AVX512 static inline __m512i pairs_of_rows(const float *even, const float *odd, int n) {
    __mmask16 m = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __m512i lo = bf16_round_lanes(_mm512_maskz_loadu_ps(m, even));
    __m512i hi = odd ? bf16_round_lanes(_mm512_maskz_loadu_ps(m, odd)) : _mm512_setzero_si512();
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

// 32 consecutive k values of one row (the first kn, rest zero) -> 16 pairs as uint32 lanes
TARGET_AVX512 static inline __m512 pairs_of_row(const float *row, int kn) {
    int n0 = kn < 0 ? 0 : kn > 16 ? 16 : kn, n1 = kn - 16 < 0 ? 0 : kn - 16 > 16 ? 16 : kn - 16;
    __m512i r0 = bf16_round_lanes(_mm512_maskz_loadu_ps((__mmask16)((1u << n0) - 1), row));
    __m512i r1 = bf16_round_lanes(_mm512_maskz_loadu_ps((__mmask16)((1u << n1) - 1), row + 16));
    __m512i words = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(r0)), _mm512_cvtepi32_epi16(r1), 1);
    return _mm512_castsi512_ps(words);  // uint16 k0..k31 = uint32 pairs 0..15
}

// ---------------------------------------------------------------- blocking

#define NR 32           // columns of a B sliver (both paths)
#define MR_AVX512 12    // rows of the vdpbf16ps register tile
#define MR_AMX 32       // rows of the AMX output block (two 16-row A tiles)
// Depth of one K block, a multiple of 32 so every block but the last is unpadded. vdpbf16ps: 384, so a
// B sliver (384 x 32 bf16 = 24 KB) stays in L1 beside the A sliver, as in the fp32 GEMM. AMX: 768 (an
// A and a B sliver of 48 KB each, from L2): each K block ends with the four C tiles stored and added
// to C, and at 384 that epilogue was ~10 % of a DistilBERT forward (768 measured 0.90x the time of
// 384 on batch 32 x 128).
#define KC_AVX512 384
#define KC_AMX 768
#define KC_MAX 768
#define MC_MAX 192      // rows of A packed at once

static int path_mr(GemmPath path) { return path == GEMM_BF16_AMX ? MR_AMX : MR_AVX512; }
static int path_kc(GemmPath path) { return path == GEMM_BF16_AMX ? KC_AMX : KC_AVX512; }
// a K block's packed depth: even (vdpbf16ps pairs) or a multiple of 32 (one AMX tile row of pairs)
static int padded_depth(GemmPath path, int kc) { return path == GEMM_BF16_AMX ? (kc + 31) / 32 * 32 : (kc + 1) / 2 * 2; }

// ---------------------------------------------------------------- packing B (k-pairs, both paths)

// B columns [j0, j0+nr), depth [k0, k0+kc) -> one sliver of kc_pad/2 rows of NR pairs, Bp[p*NR + j]
TARGET_AVX512 static void pack_b_pairs(uint32_t *bp, const float *B, ptrdiff_t rsb, ptrdiff_t csb, int j0, int nr,
                                       int k0, int kc, int kc_pad) {
    const float *src = B + k0 * rsb + j0 * csb;
    int npairs = kc_pad / 2;
    if (csb == 1) {                 // rows of B contiguous in j (dX = dY·W, dW, attention)
        for (int p = 0; p < npairs; p++) {
            int k = 2 * p;
            for (int half = 0; half < 2; half++) {
                int n = nr - 16 * half;
                __m512i v = k < kc && n > 0 ? pairs_of_rows(src + k * rsb + 16 * half, k + 1 < kc ? src + (k + 1) * rsb + 16 * half : NULL, n)
                                            : _mm512_setzero_si512();
                _mm512_store_si512(bp + p * NR + 16 * half, v);
            }
        }
    } else if (rsb == 1) {          // B = Wᵀ (forward): rows of W contiguous in k, transposed 16 x 16
        for (int k = 0; k < kc_pad; k += 32) {
            int pn = (kc_pad - k) / 2 < 16 ? (kc_pad - k) / 2 : 16;
            for (int half = 0; half < 2; half++) {
                __m512 r[16];
                for (int jj = 0; jj < 16; jj++) {
                    int j = 16 * half + jj;
                    r[jj] = j < nr ? pairs_of_row(src + j * csb + k, kc - k) : _mm512_setzero_ps();
                }
                transpose16(r);  // r[p] = pair p of the 16 columns
                for (int p = 0; p < pn; p++) _mm512_store_ps((float *)(bp + (k / 2 + p) * NR + 16 * half), r[p]);
            }
        }
    } else {                        // any strides
        for (int p = 0; p < npairs; p++)
            for (int j = 0; j < NR; j++) {
                int k = 2 * p;
                uint32_t lo = j < nr && k < kc ? bf16_from_float(src[k * rsb + j * csb]) : 0;
                uint32_t hi = j < nr && k + 1 < kc ? bf16_from_float(src[(k + 1) * rsb + j * csb]) : 0;
                bp[p * NR + j] = lo | hi << 16;
            }
    }
}

// ---------------------------------------------------------------- packing A

// vdpbf16ps: A rows [i0, i0+mc), depth [k0, k0+kc) -> MR-tall slivers of pairs, Ap[p*MR + i] (uint32),
// sliver r at ap + r/MR * (kc_pad/2) * MR
TARGET_AVX512 static void pack_a_pairs(uint32_t *ap, const float *A, ptrdiff_t rsa, ptrdiff_t csa, int i0, int mc,
                                       int k0, int kc, int kc_pad) {
    const int MR = MR_AVX512;
    int npairs = kc_pad / 2;
    for (int r = 0; r < mc; r += MR) {
        int mr = mc - r < MR ? mc - r : MR;
        uint32_t *dst = ap + (size_t)r * npairs;
        const float *src = A + (i0 + r) * rsa + k0 * csa;
        if (csa == 1) {             // rows of A contiguous in k (X in the forward, dY in dX): transposed
            for (int k = 0; k < kc_pad; k += 32) {
                int pn = (kc_pad - k) / 2 < 16 ? (kc_pad - k) / 2 : 16;
                __m512 v[16];
                for (int i = 0; i < 16; i++) v[i] = i < mr ? pairs_of_row(src + i * rsa + k, kc - k) : _mm512_setzero_ps();
                transpose16(v);  // v[p] = pair p of rows 0..15; 12 of them stored
                for (int p = 0; p < pn; p++) _mm512_mask_storeu_ps((float *)(dst + (k / 2 + p) * MR), 0x0FFF, v[p]);
            }
        } else if (rsa == 1) {      // A = dYᵀ (dW): k rows contiguous in i
            for (int p = 0; p < npairs; p++) {
                int k = 2 * p;
                __m512i v = k < kc ? pairs_of_rows(src + k * csa, k + 1 < kc ? src + (k + 1) * csa : NULL, mr)
                                   : _mm512_setzero_si512();
                _mm512_mask_storeu_epi32(dst + p * MR, 0x0FFF, v);
            }
        } else {
            for (int p = 0; p < npairs; p++)
                for (int i = 0; i < MR; i++) {
                    int k = 2 * p;
                    uint32_t lo = i < mr && k < kc ? bf16_from_float(src[i * rsa + k * csa]) : 0;
                    uint32_t hi = i < mr && k + 1 < kc ? bf16_from_float(src[i * rsa + (k + 1) * csa]) : 0;
                    dst[p * MR + i] = lo | hi << 16;
                }
        }
    }
}

// AMX: A rows [i0, i0+mc), depth [k0, k0+kc) -> 32-row slivers, row-major bf16 with kc_pad per row:
// Ap[i*kc_pad + k] (uint16), sliver r at ap + r * kc_pad (rows past mc and k past kc are zero)
TARGET_AVX512 static void pack_a_rows(uint16_t *ap, const float *A, ptrdiff_t rsa, ptrdiff_t csa, int i0, int mc,
                                      int k0, int kc, int kc_pad) {
    const int MR = MR_AMX;
    for (int r = 0; r < mc; r += MR) {
        int mr = mc - r < MR ? mc - r : MR;
        uint16_t *dst = ap + (size_t)r * kc_pad;
        const float *src = A + (i0 + r) * rsa + k0 * csa;
        if (csa == 1) {             // rows contiguous in k: convert 16 at a time
            for (int i = 0; i < MR; i++)
                for (int k = 0; k < kc_pad; k += 16) {
                    int kn = i < mr ? (kc - k < 0 ? 0 : kc - k > 16 ? 16 : kc - k) : 0;
                    __m512i v = bf16_round_lanes(_mm512_maskz_loadu_ps((__mmask16)((1u << kn) - 1), src + i * rsa + k));
                    _mm256_storeu_si256((__m256i *)(dst + (size_t)i * kc_pad + k), _mm512_cvtepi32_epi16(v));
                }
        } else if (rsa == 1) {      // A = dYᵀ (dW): k rows contiguous in i, transposed 16 x 16
            for (int k = 0; k < kc_pad; k += 16) {
                int kn = kc - k < 0 ? 0 : kc - k > 16 ? 16 : kc - k;
                for (int half = 0; half < 2; half++) {
                    int n = mr - 16 * half < 0 ? 0 : mr - 16 * half > 16 ? 16 : mr - 16 * half;
                    __m512 v[16];
                    load_transposed(v, src + k * csa + 16 * half, csa, kn, n);  // v[i] = row i's 16 k values
                    for (int i = 0; i < 16; i++)
                        _mm256_storeu_si256((__m256i *)(dst + (size_t)(16 * half + i) * kc_pad + k),
                                            _mm512_cvtepi32_epi16(bf16_round_lanes(v[i])));
                }
            }
        } else {
            for (int i = 0; i < MR; i++)
                for (int k = 0; k < kc_pad; k++)
                    dst[(size_t)i * kc_pad + k] = i < mr && k < kc ? bf16_from_float(src[i * rsa + k * csa]) : 0;
        }
    }
}

// ---------------------------------------------------------------- micro-kernels
// C[0..mr, 0..nr) (row stride ldc) = (load_c ? C : 0) + Σ_k A[i][k] B[k][j] (+ bias[j] if bias)

// one row of the output block: C row = v0|v1 (32 columns, nr of them) + bias + (load_c ? C row : 0)
TARGET_AVX512 static inline void store_row(float *ci, __m512 v0, __m512 v1, int nr, int load_c, const float *bias) {
    __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    if (bias) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, bias));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, bias + 16));
    }
    if (load_c) {
        v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, ci), v0);
        v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, ci + 16), v1);
    }
    _mm512_mask_storeu_ps(ci, m0, v0);
    _mm512_mask_storeu_ps(ci + 16, m1, v1);
}

// vdpbf16ps: 12 x 32 accumulators (24 zmm), per pair 2 loads of B, 12 broadcasts of A's pair
TARGET_AVX512_BF16 static void micro_kernel_avx512_bf16(int npairs, const uint32_t *restrict ap, const uint32_t *restrict bp,
                                                        float *c, int ldc, int mr, int nr, int load_c, const float *bias) {
    __m512 acc[MR_AVX512][2];
    for (int i = 0; i < MR_AVX512; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int p = 0; p < npairs; p++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(bp), b1 = (__m512bh)_mm512_load_si512(bp + 16);
        #pragma GCC unroll 12
        for (int i = 0; i < MR_AVX512; i++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)ap[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], a, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], a, b1);
        }
        ap += MR_AVX512;
        bp += NR;
    }
    #pragma GCC unroll 12
    for (int i = 0; i < MR_AVX512; i++) {
        if (i >= mr) break;
        store_row(c + (size_t)i * ldc, acc[i][0], acc[i][1], nr, load_c, bias);
    }
}

// The tile configuration (palette 1): every tile 16 rows x 64 bytes. tmm0-3: C (rows 0-15 / 16-31 x
// columns 0-15 / 16-31, fp32); tmm4-5: A rows 0-15 / 16-31 (32 bf16 each); tmm6-7: B columns 0-15 /
// 16-31 (16 pairs each).
typedef struct {
    uint8_t palette_id, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} TileConfig;

TARGET_AMX_BF16 static void amx_configure(void) {
    _Alignas(64) TileConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
}

TARGET_AMX_BF16 static void amx_release(void) { _tile_release(); }

// AMX: a 32 x 32 block over kc_pad (a multiple of 32) depth
TARGET_AMX_BF16 static void micro_kernel_amx_bf16(int kc_pad, const uint16_t *ap, const uint32_t *bp, float *c, int ldc,
                                                  int mr, int nr, int load_c, const float *bias) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    size_t a_stride = (size_t)kc_pad * sizeof(uint16_t), b_stride = NR * sizeof(uint32_t);
    for (int k = 0; k < kc_pad; k += 32) {
        _tile_loadd(4, ap + k, a_stride);
        _tile_loadd(5, ap + (size_t)16 * kc_pad + k, a_stride);
        _tile_loadd(6, bp + (size_t)(k / 2) * NR, b_stride);
        _tile_loadd(7, bp + (size_t)(k / 2) * NR + 16, b_stride);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _Alignas(64) float out[MR_AMX][NR];
    _tile_stored(0, &out[0][0], NR * sizeof(float));
    _tile_stored(1, &out[0][16], NR * sizeof(float));
    _tile_stored(2, &out[16][0], NR * sizeof(float));
    _tile_stored(3, &out[16][16], NR * sizeof(float));
    for (int i = 0; i < mr; i++)
        store_row(c + (size_t)i * ldc, _mm512_load_ps(out[i]), _mm512_load_ps(out[i] + 16), nr, load_c, bias);
}

// ---------------------------------------------------------------- pack buffers (grow once, per thread)

static _Thread_local PackBuffer tl_apack, tl_bpack;  // gemm_threads.h

static void *pack_buffer(PackBuffer *b, size_t bytes) { return pack_buffer_grow(b, bytes); }

// ---------------------------------------------------------------- the blocked loops

typedef struct {
    GemmPath path;
    float *C;
    int ldc;
    const float *A, *B, *bias;
    ptrdiff_t rsa, csa, rsb, csb;
    int M, N, K, accumulate;
    int nslivers;       // ceil(N / NR)
    uint32_t *bpack;    // all of B as pairs: K block at k0 starts at (k0/2) * nslivers * NR, sliver s at s * (kc_pad/2) * NR
    int prepacked;      // bpack came from matmul_bf16_pack
} GemmBf16;

// words of the whole B pack, an upper bound for both paths: only the last K block is padded, to <= 32
static size_t bpack_words(int N, int K) {
    return (size_t)(K + 31) / 32 * 16 * ((N + NR - 1) / NR) * NR;
}

static uint32_t *b_sliver(const GemmBf16 *g, int k0, int kc, int s) {
    return g->bpack + (size_t)(k0 / 2) * g->nslivers * NR + (size_t)s * (padded_depth(g->path, kc) / 2) * NR;
}

static void pack_b_range(const void *gemm, int first, int last) {  // (K block, sliver) pairs [first, last)
    const GemmBf16 *g = gemm;
    if (g->prepacked) return;
    for (int idx = first; idx < last; idx++) {
        int q = idx / g->nslivers, s = idx % g->nslivers;
        int KC = path_kc(g->path), k0 = q * KC, kc = g->K - k0 < KC ? g->K - k0 : KC;
        int j0 = s * NR, nr = g->N - j0 < NR ? g->N - j0 : NR;
        pack_b_pairs(b_sliver(g, k0, kc, s), g->B, g->rsb, g->csb, j0, nr, k0, kc, padded_depth(g->path, kc));
    }
}

// rows [m0, m1) x slivers [s0, s1) of C, by one thread
static void gemm_block(const void *gemm, int m0, int m1, int s0, int s1) {
    const GemmBf16 *g = gemm;
    if (m0 >= m1 || s0 >= s1) return;
    int MR = path_mr(g->path), amx = g->path == GEMM_BF16_AMX;
    int rows = m1 - m0;
    int nblocks = (rows + MC_MAX - 1) / MC_MAX;
    int mc_step = ((rows + nblocks - 1) / nblocks + MR - 1) / MR * MR;  // balanced MC, multiple of MR
    void *ap = pack_buffer(&tl_apack, (size_t)mc_step * (KC_MAX + 32) * sizeof(uint16_t));
    int KC = path_kc(g->path);
    if (amx) amx_configure();
    for (int ic = m0; ic < m1; ic += mc_step) {
        int mc = m1 - ic < mc_step ? m1 - ic : mc_step;
        for (int k0 = 0; k0 < g->K; k0 += KC) {
            int kc = g->K - k0 < KC ? g->K - k0 : KC, kc_pad = padded_depth(g->path, kc);
            int first = k0 == 0;
            if (amx) pack_a_rows(ap, g->A, g->rsa, g->csa, ic, mc, k0, kc, kc_pad);
            else pack_a_pairs(ap, g->A, g->rsa, g->csa, ic, mc, k0, kc, kc_pad);
            for (int s = s0; s < s1; s++) {
                int j0 = s * NR, nr = g->N - j0 < NR ? g->N - j0 : NR;
                const uint32_t *bp = b_sliver(g, k0, kc, s);
                for (int ir = 0; ir < mc; ir += MR) {
                    int mr = mc - ir < MR ? mc - ir : MR;
                    float *c = g->C + (size_t)(ic + ir) * g->ldc + j0;
                    int load_c = !first || g->accumulate;
                    const float *bias = first && g->bias ? g->bias + j0 : NULL;
                    if (amx) micro_kernel_amx_bf16(kc_pad, (const uint16_t *)ap + (size_t)ir * kc_pad, bp, c, g->ldc, mr, nr, load_c, bias);
                    else micro_kernel_avx512_bf16(kc_pad / 2, (const uint32_t *)ap + (size_t)ir * (kc_pad / 2), bp, c, g->ldc, mr, nr,
                                                  load_c, bias);
                }
            }
        }
    }
    if (amx) amx_release();
}

// the product, split over the OpenMP threads like the fp32 GEMM's (gemm_threads.h) unless `threaded` is 0
static void gemm_bf16_run(const GemmBf16 *g, int threaded) {
    GemmSplit split = {g, pack_b_range, gemm_block, g->M, g->N, g->K, g->nslivers, (g->K + path_kc(g->path) - 1) / path_kc(g->path),
                       path_mr(g->path), g->prepacked, threaded};
    gemm_split_run(&split);
}

void matmul_bf16(GemmPath path, int threaded, real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa,
                 const real *B, ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate) {
    if (M <= 0 || N <= 0 || K <= 0 || path == GEMM_FP32) {  // nothing to multiply in bf16: the fp32 GEMM
        if (threaded) matmul(C, ldc, A, rsa, csa, B, rsb, csb, bias, M, N, K, accumulate);
        else matmul_serial(C, ldc, A, rsa, csa, B, rsb, csb, bias, M, N, K, accumulate);
        return;
    }
    GemmBf16 g = {path, C, ldc, A, B, bias, rsa, csa, rsb, csb, M, N, K, accumulate, (N + NR - 1) / NR, NULL, 0};
    g.bpack = pack_buffer(&tl_bpack, bpack_words(N, K) * sizeof(uint32_t));  // the calling thread's, shared
    gemm_bf16_run(&g, threaded);
}

int matmul_bf16_pack(GemmPath path, PackedB *p, const real *B, ptrdiff_t rsb, ptrdiff_t csb, int N, int K) {
    PackedB q = {NULL, B, rsb, csb, N, K, path, NULL};
    *p = q;
    if (N <= 0 || K <= 0) return 0;
    GemmBf16 g = {path, NULL, 0, NULL, B, NULL, 0, 0, rsb, csb, 0, N, K, 0, (N + NR - 1) / NR, NULL, 0};
    void *mem = NULL;
    if (posix_memalign(&mem, 64, bpack_words(N, K) * sizeof(uint32_t)) != 0) return -1;
    g.bpack = mem;
    gemm_pack_all(pack_b_range, &g, ((K + path_kc(path) - 1) / path_kc(path)) * g.nslivers);
    p->pairs = mem;
    return 0;
}

void matmul_bf16_packed(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const PackedB *p,
                        const real *bias, int M, int accumulate) {
    if (M <= 0 || p->N <= 0 || p->K <= 0) {
        matmul(C, ldc, A, rsa, csa, p->B, p->rsb, p->csb, bias, M, p->N, p->K, accumulate);
        return;
    }
    GemmBf16 g = {p->path, C, ldc, A, p->B, bias, rsa, csa, p->rsb, p->csb, M, p->N, p->K, accumulate,
                  (p->N + NR - 1) / NR, p->pairs, 1};
    gemm_bf16_run(&g, 1);
}

#endif
