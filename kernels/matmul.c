// matmul.c: the GEMM behind linear layers and attention, C = A·B (+ C) (+ bias), written the
// BLIS / GotoBLAS way (shared/doc/kernel-notes.md §1): pack B into NR-wide slivers and A into MR-tall
// slivers, both k-major, and run an MR x NR register micro-kernel over them.
//
//   for each K block of KC (pc):           B panel Bp[pc] packed once per call, shared by all threads
//     for each MC block of the thread's rows (ic):   A block packed by the thread (lives in L2)
//       for each NR sliver of B (jr):      one KC x NR sliver of B stays in L1
//         for each MR sliver of A (ir):    micro-kernel: MR x NR accumulators in registers
//
// Strides instead of transpose flags: A(i,k) = A[i*rsa + k*csa], B(k,j) = B[k*rsb + j*csb], so the three
// products of a linear layer and the four of attention are all the same call (see linear.c,
// attention.c); the pack routines absorb the transposition. Partial tiles are zero-padded in the
// packs and written through masked stores, so any M, N, K works.
//
// Threads (OpenMP): the rows (or, when there are few rows, the columns) are split statically; every
// element of C is computed by one thread, summing k in ascending KC blocks, so results do not depend
// on the thread count or on scheduling (deterministic, no atomics).
//
// The micro-kernel: AVX-512 intrinsics (12 x 32: 24 zmm accumulators, 2 loads of B and 12
// broadcasts of A per k) when the compiler targets AVX-512, else a plain C 12 x 32 kernel. The double
// build (-DREAL_DOUBLE, used by the finite-difference checks) uses matmul_reference, the triple loop.
//
// --precision bf16 on the CPU: once a program has chosen a bf16 path (gemm_set_path), matmul,
// matmul_serial, matmul_pack and matmul_packed hand their products to matmul_bf16.c (same call, bf16
// operands, fp32 sums); with the default GEMM_FP32 they run the code below, unchanged.
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm_threads.h"
#include "kernels/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void matmul_pack_free(PackedB *p) {
    free(p->data);
    free(p->pairs);
    p->data = NULL;
    p->pairs = NULL;
}

void matmul_reference(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const real *B,
                      ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            real acc = 0;
            for (int k = 0; k < K; k++) acc += A[i * rsa + k * csa] * B[k * rsb + j * csb];
            real *c = C + (size_t)i * ldc + j;
            *c = (accumulate ? *c : 0) + acc + (bias ? bias[j] : 0);
        }
    }
}

#ifdef REAL_DOUBLE

void matmul_serial(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const real *B,
                   ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate) {
    matmul_reference(C, ldc, A, rsa, csa, B, rsb, csb, bias, M, N, K, accumulate);
}

void matmul(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const real *B,
            ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate) {
    #pragma omp parallel for
    for (int i = 0; i < M; i++)
        matmul_reference(C + (size_t)i * ldc, ldc, A + i * rsa, rsa, csa, B, rsb, csb, bias, 1, N, K, accumulate);
}

// the double build does not pack: a PackedB just remembers the operand
int matmul_pack(PackedB *p, const real *B, ptrdiff_t rsb, ptrdiff_t csb, int N, int K) {
    PackedB q = {NULL, B, rsb, csb, N, K, GEMM_FP32, NULL};
    *p = q;
    return 0;
}

void matmul_packed(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const PackedB *p,
                   const real *bias, int M, int accumulate) {
    matmul(C, ldc, A, rsa, csa, p->B, p->rsb, p->csb, bias, M, p->N, p->K, accumulate);
}

#else  // float: the packed, blocked GEMM

#if defined(__AVX512F__)
#include "kernels/avx512_transpose.h"
#endif


#define MR 12       // rows of the register tile
#define NR 32       // columns of the register tile (two 16-float vectors)
#ifndef KC
#define KC 384      // depth of one rank-KC update
#endif
#ifndef MC_MAX
#define MC_MAX 192  // rows of A packed at once (MC x KC floats = 288 KB, in L2)
#endif

// ---------------------------------------------------------------- pack buffers (grow once, per thread)

static _Thread_local PackBuffer tl_apack, tl_bpack;

static float *pack_buffer(PackBuffer *b, size_t n) { return pack_buffer_grow(b, n * sizeof(float)); }

void *pack_buffer_grow(PackBuffer *b, size_t bytes) {
    if (bytes > b->cap) {
        free(b->p);
        void *p = NULL;
        if (posix_memalign(&p, 64, bytes + 64) != 0) abort();  // out of memory: nothing sane to do
        b->p = p;
        b->cap = bytes;
    }
    return b->p;
}

// ---------------------------------------------------------------- packing

// A rows [i0, i0+mc), depth [k0, k0+kc) -> MR-tall slivers, sliver r at ap + r*kc*MR, Ap[k*MR + i]
static void pack_a(float *ap, const float *A, ptrdiff_t rsa, ptrdiff_t csa, int i0, int mc, int k0, int kc) {
    for (int r = 0; r < mc; r += MR) {
        int mr = mc - r < MR ? mc - r : MR;
        float *dst = ap + (size_t)r * kc;
        const float *src = A + (i0 + r) * rsa + k0 * csa;
        if (rsa == 1 && mr == MR) {         // MR contiguous values per k (dW: A = doutᵀ)
            for (int k = 0; k < kc; k++) memcpy(dst + k * MR, src + k * csa, MR * sizeof(float));
        } else if (csa == 1) {              // contiguous rows: read each row, write with stride MR
#if defined(__AVX512F__)
            for (int k = 0; k < kc; k += 16) {  // 16 x 16 register transposes, 12 lanes stored per k
                int kn = kc - k < 16 ? kc - k : 16;
                __m512 v[16];
                load_transposed(v, src + k, rsa, mr, kn);
                for (int kk = 0; kk < kn; kk++) _mm512_mask_storeu_ps(dst + (k + kk) * MR, 0x0FFF, v[kk]);
            }
            continue;
#endif
            for (int i = 0; i < mr; i++) {
                const float *row = src + i * rsa;
                for (int k = 0; k < kc; k++) dst[k * MR + i] = row[k];
            }
            for (int i = mr; i < MR; i++)
                for (int k = 0; k < kc; k++) dst[k * MR + i] = 0;
        } else {
            for (int k = 0; k < kc; k++)
                for (int i = 0; i < MR; i++) dst[k * MR + i] = i < mr ? src[i * rsa + k * csa] : 0;
        }
    }
}

// B columns [j0, j0+nr), depth [k0, k0+kc) -> one NR-wide sliver, Bp[k*NR + j]
static void pack_b_sliver(float *bp, const float *B, ptrdiff_t rsb, ptrdiff_t csb, int j0, int nr, int k0, int kc) {
    const float *src = B + k0 * rsb + j0 * csb;
    if (csb == 1) {                         // contiguous rows of B (dX = dout·W, dW, attention)
        for (int k = 0; k < kc; k++) {
            memcpy(bp + k * NR, src + k * rsb, nr * sizeof(float));
            for (int j = nr; j < NR; j++) bp[k * NR + j] = 0;
        }
    } else if (rsb == 1) {                  // B = Wᵀ (forward): read rows of W, write with stride NR
#if defined(__AVX512F__)
        for (int k = 0; k < kc; k += 16) {      // two 16 x 16 register transposes per 16 k
            int kn = kc - k < 16 ? kc - k : 16;
            for (int half = 0; half < 2; half++) {
                __m512 r[16];
                int rows = nr - 16 * half;
                load_transposed(r, src + 16 * half * csb + k, csb, rows < 0 ? 0 : rows, kn);
                for (int kk = 0; kk < kn; kk++) _mm512_store_ps(bp + (k + kk) * NR + 16 * half, r[kk]);
            }
        }
        return;
#endif
        for (int j = 0; j < nr; j++) {
            const float *col = src + j * csb;
            for (int k = 0; k < kc; k++) bp[k * NR + j] = col[k];
        }
        for (int j = nr; j < NR; j++)
            for (int k = 0; k < kc; k++) bp[k * NR + j] = 0;
    } else {
        for (int k = 0; k < kc; k++)
            for (int j = 0; j < NR; j++) bp[k * NR + j] = j < nr ? src[k * rsb + j * csb] : 0;
    }
}

// ---------------------------------------------------------------- micro-kernels
// C[0..mr, 0..nr) (row stride ldc) = (load_c ? C : 0) + Σ_k Ap[k][i] Bp[k][j] (+ bias[j] if bias)

#if defined(__AVX512F__)
static void micro_kernel(int kc, const float *restrict ap, const float *restrict bp, float *c, int ldc,
                         int mr, int nr, int load_c, const float *bias) {
    __m512 acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    if (load_c)  // the C tile is read after the k loop: start fetching it now
        for (int i = 0; i < mr; i++) {
            _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + (size_t)i * ldc + 16), _MM_HINT_T0);
        }
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
        #pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(ap[i]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
        ap += MR;
        bp += NR;
    }
    __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
    if (bias) {
        bias0 = _mm512_maskz_loadu_ps(m0, bias);
        bias1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
    #pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        if (i >= mr) break;
        float *ci = c + (size_t)i * ldc;
        __m512 c0 = _mm512_add_ps(acc[i][0], bias0), c1 = _mm512_add_ps(acc[i][1], bias1);
        if (load_c) {
            c0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, ci), c0);
            c1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, ci + 16), c1);
        }
        _mm512_mask_storeu_ps(ci, m0, c0);
        _mm512_mask_storeu_ps(ci + 16, m1, c1);
    }
}
#else
static void micro_kernel(int kc, const float *restrict ap, const float *restrict bp, float *c, int ldc,
                         int mr, int nr, int load_c, const float *bias) {
    float acc[MR][NR] = {{0}};
    for (int k = 0; k < kc; k++) {
        for (int i = 0; i < MR; i++) {
            float a = ap[i];
            for (int j = 0; j < NR; j++) acc[i][j] += a * bp[j];
        }
        ap += MR;
        bp += NR;
    }
    for (int i = 0; i < mr; i++) {
        float *ci = c + (size_t)i * ldc;
        for (int j = 0; j < nr; j++) {
            float v = acc[i][j] + (bias ? bias[j] : 0);
            ci[j] = load_c ? ci[j] + v : v;
        }
    }
}
#endif

// ---------------------------------------------------------------- the blocked loops

typedef struct {
    float *C;
    int ldc;
    const float *A, *B, *bias;
    ptrdiff_t rsa, csa, rsb, csb;
    int M, N, K, accumulate;
    int nslivers;       // ceil(N / NR)
    float *bpack;       // all of B packed: K block q starts at k0 * nslivers * NR, sliver s at s * kc * NR
    int prepacked;      // bpack came from matmul_pack: nothing to pack in this call
} Gemm;

static void pack_b_range(const void *gemm, int first, int last) {  // (K block, sliver) pairs [first, last)
    const Gemm *g = gemm;
    if (g->prepacked) return;
    for (int idx = first; idx < last; idx++) {
        int q = idx / g->nslivers, s = idx % g->nslivers;
        int k0 = q * KC, kc = g->K - k0 < KC ? g->K - k0 : KC;
        int j0 = s * NR, nr = g->N - j0 < NR ? g->N - j0 : NR;
        pack_b_sliver(g->bpack + (size_t)k0 * g->nslivers * NR + (size_t)s * kc * NR, g->B, g->rsb, g->csb,
                      j0, nr, k0, kc);
    }
}

// rows [m0, m1) x slivers [s0, s1) of C, by one thread
static void gemm_block(const void *gemm, int m0, int m1, int s0, int s1) {
    const Gemm *g = gemm;
    if (m0 >= m1 || s0 >= s1) return;
    int rows = m1 - m0;
    int nblocks = (rows + MC_MAX - 1) / MC_MAX;
    int mc_step = ((rows + nblocks - 1) / nblocks + MR - 1) / MR * MR;  // balanced MC, multiple of MR
    float *ap = pack_buffer(&tl_apack, (size_t)mc_step * KC);
    for (int ic = m0; ic < m1; ic += mc_step) {
        int mc = m1 - ic < mc_step ? m1 - ic : mc_step;
        for (int k0 = 0; k0 < g->K; k0 += KC) {
            int kc = g->K - k0 < KC ? g->K - k0 : KC;
            int first = k0 == 0;
            pack_a(ap, g->A, g->rsa, g->csa, ic, mc, k0, kc);
            for (int s = s0; s < s1; s++) {
                int j0 = s * NR, nr = g->N - j0 < NR ? g->N - j0 : NR;
                const float *bp = g->bpack + (size_t)k0 * g->nslivers * NR + (size_t)s * kc * NR;
                for (int ir = 0; ir < mc; ir += MR) {
                    int mr = mc - ir < MR ? mc - ir : MR;
                    micro_kernel(kc, ap + (size_t)ir * kc, bp, g->C + (size_t)(ic + ir) * g->ldc + j0, g->ldc, mr, nr,
                                 !first || g->accumulate, first && g->bias ? g->bias + j0 : NULL);
                }
            }
        }
    }
}

// K = 0: C = (accumulate ? C : 0) + bias
static void gemm_empty(const Gemm *g) {
    for (int i = 0; i < g->M; i++)
        for (int j = 0; j < g->N; j++) {
            float *c = g->C + (size_t)i * g->ldc + j;
            *c = (g->accumulate ? *c : 0) + (g->bias ? g->bias[j] : 0);
        }
}

static Gemm gemm_setup(float *C, int ldc, const float *A, ptrdiff_t rsa, ptrdiff_t csa, const float *B,
                       ptrdiff_t rsb, ptrdiff_t csb, const float *bias, int M, int N, int K, int accumulate) {
    Gemm g = {C, ldc, A, B, bias, rsa, csa, rsb, csb, M, N, K, accumulate, (N + NR - 1) / NR, NULL, 0};
    return g;
}

// the whole product on the calling thread (B packed first unless prepacked)
static void gemm_serial(const Gemm *g) {
    pack_b_range(g, 0, ((g->K + KC - 1) / KC) * g->nslivers);
    gemm_block(g, 0, g->M, 0, g->nslivers);
}

void matmul_serial(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const real *B,
                   ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K > 0 && gemm_get_path() != GEMM_FP32) {  // --precision bf16 (matmul_bf16.c)
        matmul_bf16(gemm_get_path(), 0, C, ldc, A, rsa, csa, B, rsb, csb, bias, M, N, K, accumulate);
        return;
    }
    Gemm g = gemm_setup(C, ldc, A, rsa, csa, B, rsb, csb, bias, M, N, K, accumulate);
    if (K <= 0) { gemm_empty(&g); return; }
    g.bpack = pack_buffer(&tl_bpack, (size_t)K * g.nslivers * NR);
    gemm_serial(&g);
}


static void gemm_run(const Gemm *g);

void matmul(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const real *B,
            ptrdiff_t rsb, ptrdiff_t csb, const real *bias, int M, int N, int K, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K > 0 && gemm_get_path() != GEMM_FP32) {  // --precision bf16 (matmul_bf16.c)
        matmul_bf16(gemm_get_path(), 1, C, ldc, A, rsa, csa, B, rsb, csb, bias, M, N, K, accumulate);
        return;
    }
    Gemm g = gemm_setup(C, ldc, A, rsa, csa, B, rsb, csb, bias, M, N, K, accumulate);
    if (K <= 0) { gemm_empty(&g); return; }
    g.bpack = pack_buffer(&tl_bpack, (size_t)K * g.nslivers * NR);  // the calling thread's buffer, shared
    gemm_run(&g);
}

// ---------------------------------------------------------------- a right operand packed once

int matmul_pack(PackedB *p, const real *B, ptrdiff_t rsb, ptrdiff_t csb, int N, int K) {
    if (gemm_get_path() != GEMM_FP32) return matmul_bf16_pack(gemm_get_path(), p, B, rsb, csb, N, K);
    PackedB q = {NULL, B, rsb, csb, N, K, GEMM_FP32, NULL};
    *p = q;
    if (N <= 0 || K <= 0) return 0;
    Gemm g = gemm_setup(NULL, 0, NULL, 0, 0, B, rsb, csb, NULL, 0, N, K, 0);
    size_t n = (size_t)K * g.nslivers * NR;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, n * sizeof(float)) != 0) return -1;
    g.bpack = mem;
    gemm_pack_all(pack_b_range, &g, ((K + KC - 1) / KC) * g.nslivers);
    p->data = mem;
    return 0;
}

void matmul_packed(real *C, int ldc, const real *A, ptrdiff_t rsa, ptrdiff_t csa, const PackedB *p,
                   const real *bias, int M, int accumulate) {
    if (M <= 0 || p->N <= 0) return;
    Gemm g = gemm_setup(C, ldc, A, rsa, csa, p->B, p->rsb, p->csb, bias, M, p->N, p->K, accumulate);
    if (p->K <= 0) { gemm_empty(&g); return; }
    if (p->path != GEMM_FP32) {  // packed as bf16 k-pairs (matmul_bf16.c)
        matmul_bf16_packed(C, ldc, A, rsa, csa, p, bias, M, accumulate);
        return;
    }
    g.bpack = p->data;
    g.prepacked = 1;
    gemm_run(&g);
}

// run a set-up product with its B buffer (to fill, or prepacked): on the OpenMP threads unless small
static void gemm_run(const Gemm *g) {
    GemmSplit split = {g, pack_b_range, gemm_block, g->M, g->N, g->K, g->nslivers, (g->K + KC - 1) / KC, MR,
                       g->prepacked, 1};
    gemm_split_run(&split);
}

void gemm_pack_all(void (*pack_b)(const void *gemm, int first, int last), const void *gemm, int npairs) {
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < npairs; i++) pack_b(gemm, i, i + 1);
}

void gemm_split_run(const GemmSplit *s) {
    int nt = 1;
#ifdef _OPENMP
    if (s->threaded && !omp_in_parallel()) nt = omp_get_max_threads();
#endif
    int npairs = s->nq * s->nslivers;
    if (nt == 1 || (double)s->M * s->N * s->K < 1 << 18) {  // small products: threads cost more than they save
        if (!s->prepacked) s->pack_b(s->gemm, 0, npairs);
        s->block(s->gemm, 0, s->M, 0, s->nslivers);
        return;
    }
    int split_rows = s->M >= nt * 8 * s->mr || s->nslivers < nt;
    #pragma omp parallel num_threads(nt)
    {
        int tid = 0, n = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        n = omp_get_num_threads();
#endif
        if (split_rows) {
            if (!s->prepacked) {
                s->pack_b(s->gemm, (int)((long)npairs * tid / n), (int)((long)npairs * (tid + 1) / n));
                #pragma omp barrier
            }
            int slivers = (s->M + s->mr - 1) / s->mr;
            int m0 = (int)((long)slivers * tid / n) * s->mr, m1 = (int)((long)slivers * (tid + 1) / n) * s->mr;
            s->block(s->gemm, m0, m1 < s->M ? m1 : s->M, 0, s->nslivers);
        } else {
            int s0 = (int)((long)s->nslivers * tid / n), s1 = (int)((long)s->nslivers * (tid + 1) / n);
            if (!s->prepacked)
                for (int q = 0; q < s->nq; q++) s->pack_b(s->gemm, q * s->nslivers + s0, q * s->nslivers + s1);
            s->block(s->gemm, 0, s->M, s0, s1);
        }
    }
}


#endif
