// rng.h: a small deterministic PRNG (PCG32) and a Fisher-Yates shuffle, so splits and batch orders
// are the same on every machine for the same seed.
//
// PCG32 = PCG-XSH-RR 64/32 of M. O'Neill (pcg-random.org, pcg_basic.c):
//   state' = state * 6364136223846793005 + inc            (inc odd, from the stream)
//   output = rotr32(((state >> 18) ^ state) >> 27, state >> 59)   (of the old state)
// Seeding as pcg32_srandom_r(initstate = seed, initseq = RNG_STREAM). With seed 42 and stream 54
// the first outputs are 0xa15c02b7 0x7b47f409 0xba1d3330 (pcg_basic's demo; tested).
#ifndef DATA_RNG_H
#define DATA_RNG_H

#include <stdint.h>

#define RNG_STREAM 54u

typedef struct {
    uint64_t state;
    uint64_t inc;
} Rng;

void rng_seed(Rng *rng, uint64_t seed, uint64_t stream);
uint32_t rng_next_u32(Rng *rng);
// Uniform integer in [0, bound), bound >= 1, without modulo bias (pcg32_boundedrand_r: draws below
// 2^32 mod bound are rejected).
uint32_t rng_below(Rng *rng, uint32_t bound);
// Fisher-Yates (Durstenfeld): for i = n-1 down to 1, swap a[i] with a[j], j = rng_below(i + 1).
void rng_shuffle_ints(Rng *rng, int *a, int n);

#endif
