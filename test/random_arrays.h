// random_arrays.h: the kernel suites' random inputs (xorshift64, fixed seed, so every run draws the
// same numbers) and their thread-count switch.
#ifndef TEST_RANDOM_ARRAYS_H
#define TEST_RANDOM_ARRAYS_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static uint64_t rng_state = 12345;
static float frand(void) {  // uniform in [-1, 1), a multiple of 2^-23 (never a denormal)
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / 8388608.0) - 1.0);
}

static float *rand_array(size_t n) {
    float *p = malloc(n * sizeof(float) + 4);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

static void set_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

#endif
