// dropout.h: the counter-based random numbers behind every dropout mask.
//
// keep(seed, i) is a pure function of the seed and the element index, so forward and backward
// regenerate the same mask without storing it, and results do not depend on the thread count.
#ifndef DROPOUT_H
#define DROPOUT_H

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

// a seed for one dropout site: (base seed, optimizer step, site number) -> seed
DROPOUT_HD static inline uint64_t dropout_site_seed(uint64_t base, uint64_t step, uint64_t site) {
    return dropout_hash(dropout_hash(base, step), site);
}

#endif
