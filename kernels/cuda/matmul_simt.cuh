// matmul_simt.cuh: the fp32 SIMT GEMMs (no tensor cores) shared by the matmul labs.
//
//   gemm_naive_kernel   one thread per output element, straight from global memory.
//   gemm_simt_kernel    128x128x8 CTA tile in shared memory, 256 threads each computing an 8x8
//                       register tile (Boehm's "2D block tiling" + float4 smem reads, kernel-notes §3.1).
// Both take the operands as strided views, A(m,k) = A[m*rsa + k*csa], B(k,n) = B[k*rsb + n*csb], so
// the forward (B = Wᵀ), dinp (B = W) and dW (A = doutᵀ) products are the same kernel; the shared Epilogue
// (matmul_mma.cuh) adds bias / GELU / += ; blockIdx.z selects a split-K slice and its partial slab.
#pragma once
#include "matmul_mma.cuh"

__global__ void gemm_naive_kernel(float *out, int ldc, const float *A, int rsa, int csa, const float *B, int rsb,
                                  int csb, int M, int N, int K, Epilogue ep) {
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    int m = blockIdx.y * blockDim.y + threadIdx.y;
    if (m >= M || n >= N) return;
    float acc = 0.0f;
    for (int k = 0; k < K; k++) acc += A[(size_t)m * rsa + (size_t)k * csa] * B[(size_t)k * rsb + (size_t)n * csb];
    epilogue_store(out, ldc, m, n, acc, ep);
}

namespace simt_gemm {
constexpr int BM = 128, BN = 128, BK = 8, TM = 8, TN = 8, THREADS = 256, PAD = 4;
}

__global__ void __launch_bounds__(simt_gemm::THREADS)
gemm_simt_kernel(float *out, int ldc, size_t split_stride, const float *A, int rsa, int csa, const float *B, int rsb,
                 int csb, int M, int N, int K, int k_split, Epilogue ep) {
    using namespace simt_gemm;
    __shared__ __align__(16) float As[BK][BM + PAD];  // (k, m): a column of A is contiguous for the broadcast
    __shared__ __align__(16) float Bs[BK][BN + PAD];  // (k, n)
    const int tid = threadIdx.x;
    const int tx = tid % (BN / TN), ty = tid / (BN / TN);  // 16 x 16 threads
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int kbeg = blockIdx.z * k_split, kend = min(K, kbeg + k_split);
    out += blockIdx.z * split_stride;

    float acc[TM][TN];
    #pragma unroll
    for (int i = 0; i < TM; i++)
        #pragma unroll
        for (int j = 0; j < TN; j++) acc[i][j] = 0.0f;

    for (int k0 = kbeg; k0 < kend; k0 += BK) {
        // 1024 elements per tile, 4 per thread; the contiguous dimension of the source varies fastest
        #pragma unroll
        for (int i = 0; i < BM * BK / THREADS; i++) {
            int e = tid + i * THREADS;
            int m, k;
            if (csa == 1) { m = e / BK; k = e % BK; } else { m = e % BM; k = e / BM; }
            int gm = m0 + m, gk = k0 + k;
            As[k][m] = (gm < M && gk < kend) ? A[(size_t)gm * rsa + (size_t)gk * csa] : 0.0f;
            int n;
            if (csb == 1) { n = e % BN; k = e / BN; } else { n = e / BK; k = e % BK; }
            int gn = n0 + n;
            gk = k0 + k;
            Bs[k][n] = (gn < N && gk < kend) ? B[(size_t)gk * rsb + (size_t)gn * csb] : 0.0f;
        }
        __syncthreads();
        #pragma unroll
        for (int k = 0; k < BK; k++) {
            float a[TM], b[TN];
            float4 a0 = *reinterpret_cast<const float4 *>(&As[k][ty * TM]);
            float4 a1 = *reinterpret_cast<const float4 *>(&As[k][ty * TM + 4]);
            float4 b0 = *reinterpret_cast<const float4 *>(&Bs[k][tx * TN]);
            float4 b1 = *reinterpret_cast<const float4 *>(&Bs[k][tx * TN + 4]);
            a[0] = a0.x; a[1] = a0.y; a[2] = a0.z; a[3] = a0.w; a[4] = a1.x; a[5] = a1.y; a[6] = a1.z; a[7] = a1.w;
            b[0] = b0.x; b[1] = b0.y; b[2] = b0.z; b[3] = b0.w; b[4] = b1.x; b[5] = b1.y; b[6] = b1.z; b[7] = b1.w;
            #pragma unroll
            for (int i = 0; i < TM; i++)
                #pragma unroll
                for (int j = 0; j < TN; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
    #pragma unroll
    for (int i = 0; i < TM; i++) {
        int row = m0 + ty * TM + i;
        if (row >= M) continue;
        #pragma unroll
        for (int j = 0; j < TN; j++) {
            int col = n0 + tx * TN + j;
            if (col < N) epilogue_store(out, ldc, row, col, acc[i][j], ep);
        }
    }
}

// host launchers (stream 0); split > 1 writes a (split, M, N) partial slab with ldc = N
static inline void gemm_naive(float *out, int ldc, const float *A, int rsa, int csa, const float *B, int rsb, int csb,
                              int M, int N, int K, Epilogue ep) {
    dim3 block(32, 8), grid((N + 31) / 32, (M + 7) / 8);
    gemm_naive_kernel<<<grid, block>>>(out, ldc, A, rsa, csa, B, rsb, csb, M, N, K, ep);
}
static inline void gemm_simt(float *out, int ldc, const float *A, int rsa, int csa, const float *B, int rsb, int csb,
                             int M, int N, int K, Epilogue ep, int split) {
    using namespace simt_gemm;
    if (split < 1) split = 1;
    int k_split = (K + split - 1) / split;
    dim3 grid((N + BN - 1) / BN, (M + BM - 1) / BM, split);
    gemm_simt_kernel<<<grid, THREADS>>>(out, ldc, (size_t)M * N, A, rsa, csa, B, rsb, csb, M, N, K, k_split, ep);
}

// deterministic split-K reduction: out[i] (+)= Σ_s partial[s][i] in slice order
__global__ void splitk_reduce_kernel(float *out, const float *partial, int split, size_t n, int accumulate) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float acc = 0.0f;
    for (int s = 0; s < split; s++) acc += partial[(size_t)s * n + i];
    out[i] = accumulate ? out[i] + acc : acc;
}
static inline void splitk_reduce(float *out, const float *partial, int split, size_t n, int accumulate) {
    splitk_reduce_kernel<<<(unsigned)((n + 255) / 256), 256>>>(out, partial, split, n, accumulate);
}
