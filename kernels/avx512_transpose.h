// avx512_transpose.h: 16 x 16 in-register transposes of fp32 (or any 32-bit) lanes, shared by the fp32
// GEMM's pack routines (matmul.c) and the bf16 ones (matmul_bf16.c). The functions carry their own
// target attribute, so a file built without -mavx512f (matmul_bf16.c on a machine without AVX-512,
// whose AVX-512 code only runs after a CPUID check) can still call them from its AVX-512 functions.
#ifndef KERNELS_AVX512_TRANSPOSE_H
#define KERNELS_AVX512_TRANSPOSE_H

#include <stddef.h>
#include <immintrin.h>

#define AVX512_TRANSPOSE_TARGET __attribute__((target("avx512f")))

// in-register transpose of a 16 x 16 block: r[i] holds row i on entry, column i on exit
AVX512_TRANSPOSE_TARGET static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

// rows[0..nrows) of a matrix with row stride ld, columns [k, k+16) (fewer at the end: kn) -> for each
// column kk < kn, the vector of the nrows values (zero beyond nrows); 16 x 16 at a time
AVX512_TRANSPOSE_TARGET static inline void load_transposed(__m512 r[16], const float *src, ptrdiff_t ld, int nrows, int kn) {
    __mmask16 km = kn >= 16 ? 0xFFFF : (__mmask16)((1u << kn) - 1);
    for (int i = 0; i < 16; i++) r[i] = i < nrows ? _mm512_maskz_loadu_ps(km, src + i * ld) : _mm512_setzero_ps();
    transpose16(r);
}

#endif
