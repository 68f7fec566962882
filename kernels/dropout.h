// dropout.h: the counter-based random numbers behind every dropout mask.
//
// keep(seed, i) is a pure function of the seed and the element index, so forward and backward
// regenerate the same mask without storing it, and results do not depend on the thread count.
#ifndef DROPOUT_H
#define DROPOUT_H

#include <math.h>
#include <stdint.h>

// Compiled by nvcc (kernels/cuda/) the same functions are __host__ __device__, so the GPU draws
// exactly the masks the CPU draws; the C build sees plain static inline functions.
#ifdef __CUDACC__
#define DROPOUT_HD __host__ __device__
#else
#define DROPOUT_HD
#endif

// splitmix64 finaliser of (seed, i): a well-mixed 64-bit value
DROPOUT_HD static inline uint64_t dropout_hash(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// 1 with probability 1 - p: a uniform u in [0,1) with 24 random bits, kept when u >= p
DROPOUT_HD static inline int dropout_keep(uint64_t seed, uint64_t i, double p) {
    double u = (double)(dropout_hash(seed, i) >> 40) * (1.0 / 16777216.0);
    return u >= p;
}

// The same test on integers, for code that draws many masks with one p (the AVX-512 path below, the
// fused GPU attention): u = (h >> 40) / 2^24 >= p  <=>  (h >> 40) >= ceil(p 2^24), exactly, because
// h >> 40 is an integer. dropout_threshold24(p) is that ceiling (0 when p <= 0: every element kept).
DROPOUT_HD static inline uint32_t dropout_threshold24(double p) {
    return p > 0 ? (uint32_t)ceil(p * 16777216.0) : 0u;
}
DROPOUT_HD static inline int dropout_keep24(uint64_t seed, uint64_t i, uint32_t threshold24) {
    return (uint32_t)(dropout_hash(seed, i) >> 40) >= threshold24;
}

#if defined(__AVX512F__) && defined(__AVX512DQ__) && !defined(REAL_DOUBLE)
#include <immintrin.h>
#define DROPOUT_KEEP8 1
// dropout_keep24 for the 8 indices i .. i+7 at once (bit k of the result = dropout_keep(seed, i + k, p)),
// with thr = dropout_threshold(p), dropout_threshold24 in every lane
static inline __m512i dropout_threshold(double p) { return _mm512_set1_epi64((long long)dropout_threshold24(p)); }
static inline __mmask8 dropout_keep8(uint64_t seed, uint64_t i, __m512i thr) {
    __m512i idx = _mm512_add_epi64(_mm512_set1_epi64((long long)(i + 1)), _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
    __m512i z = _mm512_add_epi64(_mm512_set1_epi64((long long)seed),
                                 _mm512_mullo_epi64(idx, _mm512_set1_epi64((long long)0x9E3779B97F4A7C15ull)));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ull));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), _mm512_set1_epi64((long long)0x94D049BB133111EBull));
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
    return _mm512_cmpge_epu64_mask(_mm512_srli_epi64(z, 40), thr);
}
#endif

// a seed for one dropout site: (base seed, optimizer step, site number) -> seed
DROPOUT_HD static inline uint64_t dropout_site_seed(uint64_t base, uint64_t step, uint64_t site) {
    return dropout_hash(dropout_hash(base, step), site);
}

#endif
