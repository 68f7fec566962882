// matmul_mma.cuh: the tensor-core building blocks shared by the matmul and attention labs.
//
//   - PTX wrappers: cp.async (16-byte, zero-filling), ldmatrix (x4, plain and .trans),
//     mma.sync m16n8k16 bf16 x bf16 -> fp32, and bf16x2 packing.
//   - gemm_mma_kernel: one templated mma.sync GEMM, C (M,N) = A·B with fp32 accumulation, that
//     covers all three products of a linear layer by template flags instead of copies:
//         forward   out  = inp · Wᵀ     A (M,K) k-contiguous,  B = W (N,K) k-contiguous
//         backward  dinp = dout · W     A (M,K) k-contiguous,  B = W (K,N) n-contiguous (B_KN)
//         backward  dW   = doutᵀ · inp  A = dout (K,M) m-contiguous (A_KM), B = inp (K,N) (B_KN)
//     and an epilogue with bias, exact-erf GELU (optionally saving the pre-activation), += into the
//     output (backward adds into gradients) and split-K (blockIdx.z picks a K slice and a partial
//     output slab, summed afterwards in a fixed order by the caller).
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16", g = lane>>2, t = lane&3):
//   A 16x16: a0 (g, 2t..2t+1)  a1 (g+8, 2t..)  a2 (g, 2t+8..)  a3 (g+8, 2t+8..)
//   B 16x8:  b0 (k 2t..2t+1, n g)  b1 (k 2t+8.., n g)
//   C 16x8:  c0,c1 (g, 2t..2t+1)   c2,c3 (g+8, 2t..2t+1)
// ldmatrix.x4 gives lane l the fragment of each of 4 8x8 matrices whose 8 row addresses come from
// lanes 8i..8i+7; .trans hands out the transpose, which is how k-major and m/n-major tiles both
// become the same fragments (derivation next to each address computation below).
//
// Shared-memory tiles are padded by 8 bf16 (16 B) per row instead of swizzled: row strides of 80 B
// (BK=32 k-contiguous tiles) and 272 B (128-wide m/n-contiguous tiles) put the 8 rows of each
// ldmatrix phase on disjoint 4-bank groups, so loads and cp.async stores are conflict free.
#pragma once
#include <stdint.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

typedef __nv_bfloat16 bf16;

// ----------------------------------------------------------------------------------- PTX wrappers

__device__ __forceinline__ uint32_t smem_addr(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

// 16-byte async copy global -> shared; src_bytes = 0 zero-fills the destination (tails).
// Under the CPU emulator (test/cuda_emu, CUDA_EMU) each wrapper calls its emulation instead of the asm.
__device__ __forceinline__ void cp_async16(void *dst, const void *src, bool valid) {
#if defined(CUDA_EMU)
    emu::cp_async(smem_addr(dst), src, 16, valid ? 16 : 0, emu::Site{__FILE__, __LINE__});
#else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                 :: "r"(smem_addr(dst)), "l"(src), "r"(valid ? 16 : 0) : "memory");
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if defined(CUDA_EMU)
    emu::cp_async_commit(emu::Site{__FILE__, __LINE__});
#else
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void cp_async_wait() {
#if defined(CUDA_EMU)
    emu::cp_async_wait(N, emu::Site{__FILE__, __LINE__});
#else
    asm volatile("cp.async.wait_group %0;\n" :: "n"(N) : "memory");
#endif
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void *p) {
#if defined(CUDA_EMU)
    emu::ldmatrix(r, 4, false, smem_addr(p), emu::Site{__FILE__, __LINE__});
#else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)));
#endif
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void *p) {
#if defined(CUDA_EMU)
    emu::ldmatrix(r, 4, true, smem_addr(p), emu::Site{__FILE__, __LINE__});
#else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)));
#endif
}

// c (16x8 fp32) += a (16x16 bf16, row) · b (16x8 bf16, col)
__device__ __forceinline__ void mma_bf16_16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
#if defined(CUDA_EMU)
    emu::mma_m16n8k16(c, a, b, c, false, emu::Site{__FILE__, __LINE__});
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// two floats -> one register of two bf16 (lo = lower column index, as the fragments expect)
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

__device__ __forceinline__ float gelu_erf(float x) {  // exact form, as kernels/activations.c
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

__device__ __forceinline__ void store_value(float *p, float v) { *p = v; }
__device__ __forceinline__ void store_value(bf16 *p, float v) { *p = __float2bfloat16(v); }
__device__ __forceinline__ float load_value(const float *p) { return *p; }
__device__ __forceinline__ float load_value(const bf16 *p) { return __bfloat162float(*p); }

// The same four fragment loads for a tile with any row stride (in elements), used by the attention
// kernels whose tiles are (token, head dim) with rows of HS + 8. Lane mappings as derived below in
// mma_load_a / mma_load_b2 (checked against the ldmatrix rules by a small host-side emulation).
// A (m, k) stored (m, k): 16x16 fragment at (m0, k0)
__device__ __forceinline__ void ldsm_a_mk(uint32_t a[4], const bf16 *tile, int stride, int m0, int k0, int lane) {
    ldmatrix_x4(a, tile + (m0 + (lane & 15)) * stride + k0 + (lane >> 4) * 8);
}
// A (m, k) stored (k, m)
__device__ __forceinline__ void ldsm_a_km(uint32_t a[4], const bf16 *tile, int stride, int m0, int k0, int lane) {
    ldmatrix_x4_trans(a, tile + (k0 + (lane & 7) + ((lane >> 4) << 3)) * stride + m0 + ((lane >> 3) & 1) * 8);
}
// B (k, n) stored (n, k): fragments of n8 tiles n0 (b[0..1]) and n0+8 (b[2..3]) at k0
__device__ __forceinline__ void ldsm_b_nk(uint32_t b[4], const bf16 *tile, int stride, int n0, int k0, int lane) {
    ldmatrix_x4(b, tile + (n0 + (lane & 7) + ((lane >> 4) << 3)) * stride + k0 + ((lane >> 3) & 1) * 8);
}
// B (k, n) stored (k, n)
__device__ __forceinline__ void ldsm_b_kn(uint32_t b[4], const bf16 *tile, int stride, int n0, int k0, int lane) {
    ldmatrix_x4_trans(b, tile + (k0 + (lane & 7) + ((lane >> 3) & 1) * 8) * stride + n0 + (lane >> 4) * 8);
}

// acc[0], acc[1] (the n8 tiles n0 and n0+8) += a (a 16x16 A fragment) · B (k0..k0+15, n0..n0+15):
// the B fragments of both tiles with one ldmatrix.x4 (b[0..1] tile n0, b[2..3] tile n0+8), then two
// mma.sync. B stored (n, k) (mma_a_b_nk) or (k, n) (mma_a_b_kn).
__device__ __forceinline__ void mma_a_b2(float acc[][4], const uint32_t a[4], const uint32_t b[4]) {
    mma_bf16_16816(acc[0], a, b);
    mma_bf16_16816(acc[1], a, b + 2);
}
__device__ __forceinline__ void mma_a_b_nk(float acc[][4], const uint32_t a[4], const bf16 *tile, int stride, int n0,
                                           int k0, int lane) {
    uint32_t b[4];
    ldsm_b_nk(b, tile, stride, n0, k0, lane);
    mma_a_b2(acc, a, b);
}
__device__ __forceinline__ void mma_a_b_kn(float acc[][4], const uint32_t a[4], const bf16 *tile, int stride, int n0,
                                           int k0, int lane) {
    uint32_t b[4];
    ldsm_b_kn(b, tile, stride, n0, k0, lane);
    mma_a_b2(acc, a, b);
}

// ----------------------------------------------------------------------------------- epilogue

struct Epilogue {
    const float *bias;  // (N) added per column, or NULL
    void *pre;          // if gelu: where to save the pre-activation (same type as out), or NULL
    int gelu;           // apply exact GELU after the bias
    int accumulate;     // out += result (gradients) instead of out = result
};

// one accumulator element (row, col) through bias, GELU, accumulate and the store
template <typename OutT>
__device__ __forceinline__ void epilogue_store(OutT *out, int ldc, int row, int col, float v, const Epilogue &ep) {
    size_t idx = (size_t)row * ldc + col;
    if (ep.bias) v += ep.bias[col];
    if (ep.gelu) {
        if (ep.pre) store_value((OutT *)ep.pre + idx, v);
        v = gelu_erf(v);
    }
    if (ep.accumulate) v += load_value(out + idx);
    store_value(out + idx, v);
}

// ----------------------------------------------------------------------------------- mma.sync GEMM

namespace mma_gemm {
constexpr int BM = 128, BN = 128, BK = 32, STAGES = 3, THREADS = 256;
constexpr int PAD = 8;                       // bf16 of padding per smem row
constexpr int K_ROW = BK + PAD;              // k-contiguous tile: BM (or BN) rows of BK
constexpr int MN_ROW = BM + PAD;             // m/n-contiguous tile: BK rows of BM (= BN)
constexpr int TILE_ELEMS = (BM * K_ROW > BK * MN_ROW) ? BM * K_ROW : BK * MN_ROW;
constexpr size_t SMEM_BYTES = (size_t)STAGES * 2 * TILE_ELEMS * sizeof(bf16);
}  // namespace mma_gemm

// Loads one BM x BK tile of an operand into smem (one stage). KMAJOR: element (r, k) of the tile
// is src[(r0 + r) * ld + k0 + k] (r = m or n); else src[(k0 + k) * ld + r0 + r]. VEC: 16-byte
// cp.async (needs the contiguous extent % 8 == 0 and a 16-byte aligned base); else scalar loads.
template <bool KMAJOR, bool VEC>
__device__ __forceinline__ void mma_load_tile(bf16 *tile, const bf16 *src, int ld, int r0, int rows,
                                              int k0, int kend) {
    using namespace mma_gemm;
    const int tid = threadIdx.x;
    if (KMAJOR) {
        // BM rows x BK/8 chunks of 8 = 512 chunks, 2 per thread
        for (int c = tid; c < BM * (BK / 8); c += THREADS) {
            int r = c / (BK / 8), kc = (c % (BK / 8)) * 8;
            int gr = r0 + r, gk = k0 + kc;
            bf16 *dst = tile + r * K_ROW + kc;
            if (VEC) {
                bool ok = gr < rows && gk < kend;
                cp_async16(dst, ok ? src + (size_t)gr * ld + gk : src, ok);
            } else {
                for (int e = 0; e < 8; e++) {
                    bool ok = gr < rows && gk + e < kend;
                    dst[e] = ok ? src[(size_t)gr * ld + gk + e] : __float2bfloat16(0.0f);
                }
            }
        }
    } else {
        // BK rows (k) x BM/8 chunks
        for (int c = tid; c < BK * (BM / 8); c += THREADS) {
            int k = c / (BM / 8), rc = (c % (BM / 8)) * 8;
            int gk = k0 + k, gr = r0 + rc;
            bf16 *dst = tile + k * MN_ROW + rc;
            if (VEC) {
                bool ok = gk < kend && gr < rows;
                cp_async16(dst, ok ? src + (size_t)gk * ld + gr : src, ok);
            } else {
                for (int e = 0; e < 8; e++) {
                    bool ok = gk < kend && gr + e < rows;
                    dst[e] = ok ? src[(size_t)gk * ld + gr + e] : __float2bfloat16(0.0f);
                }
            }
        }
    }
}

// A 16x16 fragment (rows m0.., cols k0..) from an A tile
template <bool KMAJOR>
__device__ __forceinline__ void mma_load_a(uint32_t a[4], const bf16 *tile, int m0, int k0, int lane) {
    using namespace mma_gemm;
    if (KMAJOR) {
        // matrices 0..3 = (m0-7,k0-7) (m8-15,k0-7) (m0-7,k8-15) (m8-15,k8-15): lane l gives row l%16, col (l/16)*8
        ldmatrix_x4(a, tile + (m0 + (lane & 15)) * K_ROW + k0 + (lane >> 4) * 8);
    } else {
        // tile stored (k, m): the same four matrices are the transposes of stored 8x8 blocks at
        // (k0, m0) (k0, m0+8) (k0+8, m0) (k0+8, m0+8); lane 8i+r gives stored row r of block i
        int k = k0 + (lane & 7) + ((lane >> 4) << 3);
        int m = m0 + ((lane >> 3) & 1) * 8;
        ldmatrix_x4_trans(a, tile + k * MN_ROW + m);
    }
}

// B fragments for two adjacent n8 tiles (n0..n0+15) at k0..k0+15: b[0..1] tile n0, b[2..3] tile n0+8
template <bool KMAJOR>
__device__ __forceinline__ void mma_load_b2(uint32_t b[4], const bf16 *tile, int n0, int k0, int lane) {
    using namespace mma_gemm;
    if (KMAJOR) {
        // stored (n, k): matrices (n0-7,k0-7) (n0-7,k8-15) (n8-15,k0-7) (n8-15,k8-15)
        int n = n0 + (lane & 7) + ((lane >> 4) << 3);
        int k = k0 + ((lane >> 3) & 1) * 8;
        ldmatrix_x4(b, tile + n * K_ROW + k);
    } else {
        // stored (k, n), transposed on load: matrices (k0-7,n0-7) (k8-15,n0-7) (k0-7,n8-15) (k8-15,n8-15)
        int k = k0 + (lane & 7) + ((lane >> 3) & 1) * 8;
        int n = n0 + (lane >> 4) * 8;
        ldmatrix_x4_trans(b, tile + k * MN_ROW + n);
    }
}

// C (M,N), row stride ldc (+ blockIdx.z * split_stride for split-K partials) = A·B over the
// K slice [z*k_split, min(K, (z+1)*k_split)). A_KMAJOR: A(m,k) = A[m*lda + k], else A[k*lda + m].
// B_KMAJOR: B(k,n) = B[n*ldb + k] (a PyTorch weight), else B[k*ldb + n].
// CTA tile 128x128x32, 8 warps as 2 (m) x 4 (n), warp tile 64x32 = 4x4 m16n8 accumulators,
// 3-stage cp.async ring.
template <bool A_KMAJOR, bool B_KMAJOR, bool VEC, typename OutT>
__global__ void __launch_bounds__(mma_gemm::THREADS)
gemm_mma_kernel(OutT *out, int ldc, size_t split_stride, const bf16 *A, int lda, const bf16 *B, int ldb,
                int M, int N, int K, int k_split, Epilogue ep) {
    using namespace mma_gemm;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16 *smem = reinterpret_cast<bf16 *>(smem_raw);
    bf16 *As = smem;                              // STAGES tiles
    bf16 *Bs = smem + STAGES * TILE_ELEMS;        // STAGES tiles

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm = warp >> 2, wn = warp & 3;      // warp's 64x32 sub-tile
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int kbeg = blockIdx.z * k_split;
    const int kend = min(K, kbeg + k_split);
    out += blockIdx.z * split_stride;
    const int ktiles = kend > kbeg ? (kend - kbeg + BK - 1) / BK : 0;

    float acc[4][4][4];
    #pragma unroll
    for (int i = 0; i < 4; i++)
        #pragma unroll
        for (int j = 0; j < 4; j++)
            #pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

    auto load_stage = [&](int kt, int stage) {
        int k0 = kbeg + kt * BK;
        mma_load_tile<A_KMAJOR, VEC>(As + stage * TILE_ELEMS, A, lda, m0, M, k0, kend);
        mma_load_tile<B_KMAJOR, VEC>(Bs + stage * TILE_ELEMS, B, ldb, n0, N, k0, kend);
    };

    #pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < ktiles) load_stage(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < ktiles; kt++) {
        cp_async_wait<STAGES - 2>();  // tile kt has landed (this thread's copies) ...
        __syncthreads();              // ... and everyone's; stage (kt-1)%STAGES is free again
        int next = kt + STAGES - 1;
        if (next < ktiles) load_stage(next, next % STAGES);
        cp_async_commit();

        const bf16 *a_tile = As + (kt % STAGES) * TILE_ELEMS;
        const bf16 *b_tile = Bs + (kt % STAGES) * TILE_ELEMS;
        #pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            uint32_t af[4][4], bfr[4][2];
            #pragma unroll
            for (int mi = 0; mi < 4; mi++) mma_load_a<A_KMAJOR>(af[mi], a_tile, wm * 64 + mi * 16, kk, lane);
            #pragma unroll
            for (int np = 0; np < 2; np++) {
                uint32_t r[4];
                mma_load_b2<B_KMAJOR>(r, b_tile, wn * 32 + np * 16, kk, lane);
                bfr[2 * np][0] = r[0]; bfr[2 * np][1] = r[1];
                bfr[2 * np + 1][0] = r[2]; bfr[2 * np + 1][1] = r[3];
            }
            #pragma unroll
            for (int mi = 0; mi < 4; mi++)
                #pragma unroll
                for (int ni = 0; ni < 4; ni++) mma_bf16_16816(acc[mi][ni], af[mi], bfr[ni]);
        }
    }
    cp_async_wait<0>();

    // epilogue: thread holds (g, 2t..2t+1) and (g+8, 2t..2t+1) of each m16n8 tile
    const int g = lane >> 2, t = lane & 3;
    #pragma unroll
    for (int mi = 0; mi < 4; mi++) {
        #pragma unroll
        for (int ni = 0; ni < 4; ni++) {
            int col = n0 + wn * 32 + ni * 8 + 2 * t;
            #pragma unroll
            for (int h = 0; h < 2; h++) {
                int row = m0 + wm * 64 + mi * 16 + g + 8 * h;
                if (row >= M) continue;
                if (col < N) epilogue_store(out, ldc, row, col, acc[mi][ni][2 * h], ep);
                if (col + 1 < N) epilogue_store(out, ldc, row, col + 1, acc[mi][ni][2 * h + 1], ep);
            }
        }
    }
}

// is p 16-byte aligned and is every row start (stride ld elements) too?
static inline bool aligned16(const void *p, int ld) { return ((uintptr_t)p % 16 == 0) && (ld % 8 == 0); }

// host launcher: picks VEC when every contiguous extent allows 16-byte chunks. split > 1: out is
// a (split, M, N) partial slab (ldc = N, accumulate/bias/gelu must be off) summed by the caller.
template <bool A_KMAJOR, bool B_KMAJOR, typename OutT>
static void gemm_mma(OutT *out, int ldc, const bf16 *A, int lda, const bf16 *B, int ldb, int M, int N, int K,
                     Epilogue ep, int split, cudaStream_t stream) {
    using namespace mma_gemm;
    if (split < 1) split = 1;
    int k_split = (K + split - 1) / split;
    k_split = (k_split + BK - 1) / BK * BK;  // whole k-tiles per slice
    bool vec = aligned16(A, lda) && aligned16(B, ldb) && (A_KMAJOR ? K % 8 == 0 : M % 8 == 0) &&
               (B_KMAJOR ? K % 8 == 0 : N % 8 == 0) && (k_split % 8 == 0);
    dim3 grid((N + BN - 1) / BN, (M + BM - 1) / BM, split);
    size_t split_stride = (size_t)M * N;
    if (vec) {
        auto kern = gemm_mma_kernel<A_KMAJOR, B_KMAJOR, true, OutT>;
        cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)SMEM_BYTES);
        kern<<<grid, THREADS, SMEM_BYTES, stream>>>(out, ldc, split_stride, A, lda, B, ldb, M, N, K, k_split, ep);
    } else {
        auto kern = gemm_mma_kernel<A_KMAJOR, B_KMAJOR, false, OutT>;
        cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)SMEM_BYTES);
        kern<<<grid, THREADS, SMEM_BYTES, stream>>>(out, ldc, split_stride, A, lda, B, ldb, M, N, K, k_split, ep);
    }
}
