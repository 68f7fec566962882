// vmath.h: exp and erf on 16 floats at a time (AVX-512), for softmax and GELU.
//
// glibc's scalar erff costs ~18 ns per value here, as much as the FFN GEMM it follows
// (shared/doc/kernel-notes.md §2); these cost well under 1 ns. Only defined when the compiler targets
// AVX-512 and real is float (VMATH_AVX512); callers keep their plain libm loop otherwise.
//
// vexp: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, Cephes expf's degree-6 polynomial for e^r,
//       then 2^n by scalef. About 1 ulp; inputs below -87.3 give 0 (expf gives a denormal or 0).
// verf: |x| < 1:      erf(x) = x P(x²)                      (degree 6 in x², least-squares minimax fit)
//       1 <= |x| < 4: erf(x) = 1 - exp(-x²) R(|x| - 2.5)     (R ≈ erfc(t) e^{t²}, degree 11)
//       |x| >= 4:     erf(x) = ±1 (erfc(4) = 1.5e-8 is below float resolution at 1)
//       Max abs error vs the exact erf ~1e-7 (checked in test/test_kernels_fast.c); glibc erff: ~6e-8.
#ifndef VMATH_H
#define VMATH_H

#include "kernels/real.h"

#if defined(__AVX512F__) && !defined(REAL_DOUBLE)
#define VMATH_AVX512 1
#include <immintrin.h>

static inline __m512 vexp(__m512 x) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 c1 = _mm512_set1_ps(0.693359375f), c2 = _mm512_set1_ps(-2.12194440e-4f);
    __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_GE_OQ);
    x = _mm512_min_ps(x, _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, c1, x);
    r = _mm512_fnmadd_ps(n, c2, r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_mov_ps(ok, _mm512_scalef_ps(p, n));
}

static inline __m512 verf(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 t = _mm512_abs_ps(x);
    // |x| < 1: x * P(x²)
    __m512 u = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(8.148349297698587e-05f);
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-8.095594821497798e-04f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(5.197606049478054e-03f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-2.6858458295464516e-02f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(1.1283690482378006e-01f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(-3.7612634897232056e-01f));
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(1.128379225730896f));
    __m512 small = _mm512_mul_ps(x, p);
    // 1 <= |x| < 4: 1 - exp(-x²) R(|x| - 2.5)
    __m512 tc = _mm512_min_ps(t, _mm512_set1_ps(4.0f));
    __m512 s = _mm512_sub_ps(tc, _mm512_set1_ps(2.5f));
    __m512 q = _mm512_set1_ps(-3.267609827e-07f);
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(1.616356030e-06f));
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(-4.330763204e-06f));
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(1.464609977e-05f));
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(-5.829168003e-05f));
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(2.124373277e-04f));
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(-7.342780009e-04f));
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(2.466376638e-03f));
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(-8.001280017e-03f));
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(2.493810467e-02f));
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(-7.434737682e-02f));
    q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(2.108063549e-01f));
    __m512 e = vexp(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(tc, tc)));
    __m512 big = _mm512_fnmadd_ps(e, q, one);                          // erf(|x|)
    big = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, _mm512_set1_ps(4.0f), _CMP_GE_OQ), big, one);
    // sign of x onto erf(|x|)
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    big = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(big),
                                              _mm512_and_si512(_mm512_castps_si512(x), sign)));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, one, _CMP_LT_OQ), big, small);
}

#endif
#endif
