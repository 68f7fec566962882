/*
matmul_forward.cu: the linear layer forward, out = inp · Wᵀ + bias (optionally GELU fused),
inp (M,K), weight (N,K) as in PyTorch, bias (N) -> out (M,N). M = B·T tokens, K = C, N = OC.
CPU reference: linear_forward + gelu_forward from kernels/ (linked from build/cuda/libref.a).
NVCC_ARCH: sm_90a   (built for sm_80 and sm_90a; version 4 runs only on an sm_90 device)

Build and run (from the repo root):
    make cuda                       # or: make -C dev/cuda matmul_forward
    ./build/cuda/matmul_forward     # validate every version at every size, then benchmark
    ./build/cuda/matmul_forward 3   # one version only

Version 1: naive fp32. One thread per output element, the dot product read straight from global
memory; bias and GELU in the same thread. The correctness baseline.

Version 2: tiled fp32 SIMT (no tensor cores). 128x128x8 CTA tiles of A and B in shared memory, 256
threads each owning an 8x8 register tile fed by float4 smem reads (Boehm's kernel 5/6, kernel-notes
§3.1). Tails are zero-filled in the loads and masked in the epilogue, so any M, N, K works. Tops out
near the ~67 TFLOP/s fp32 peak at best: the baseline for the odd shapes, not for speed.

Version 3: bf16 tensor cores with mma.sync (sm_80+). Inputs bf16, fp32 accumulation, bf16 output.
128x128x32 CTA tile, 8 warps as 2x4, warp tile 64x32 = 4x4 mma.m16n8k16, fragments via ldmatrix,
3-stage cp.async ring with zero-filled tails (matmul_mma.cuh). Bias + GELU (+ the saved
pre-activation) fused in the epilogue. When K is not a multiple of 8 (K = 37) 16-byte copies are
impossible and the same kernel is instantiated with scalar tile loads.

Version 4: bf16 wgmma (sm_90a only). Two consumer warpgroups each issue
wgmma.mma_async.m64n128k16 on a 128x128x64 CTA tile; A and B are read by wgmma straight from shared
memory through matrix descriptors, in the 128-byte-swizzled K-major layout (16-byte chunk c of row r
stored at chunk c ^ (r % 8), 8-row groups 1024 B apart) that TMA would produce. Loads are still
cp.async by all threads (4-stage ring, zero-filled tails, scalar loads when K % 8 != 0), made
visible to the async proxy with fence.proxy.async before the CTA barrier; no TMA, no warp
specialization, no persistent scheduling yet (kernel-notes §3.3 lists those next steps).
On a device other than sm_90 it is skipped (the sm_80 build of the kernel is empty).

Version 5: skinny fp32, one warp per output element (float4 loads when K % 4 == 0), for the
classifier head (N = 2) and other tiny-N products where a 128-wide tile would be 98 % padding.

Validation: every version on fresh random non-zero inputs with NaN-poisoned outputs at
B8xT128 (768->768, 768->3072 with GELU), B8xT77 with the 2-column head, K = 37 with GELU, and a
MiniLM-sized T=77 product; bf16 versions are compared against the reference fed the same
bf16-rounded inputs. Then a benchmark at the FFN1 shapes and the head (RESULT lines, common.h).
*/
#include <math.h>
#include "common.h"
extern "C" {
#include "kernels/kernels.h"
}
#include "kernels/cuda/matmul_simt.cuh"

// ------------------------------------------------------------------------------------- version 4: wgmma

namespace wg_gemm {
constexpr int BM = 128, BN = 128, BK = 64, STAGES = 4, THREADS = 256;  // 2 warpgroups x 64 rows
constexpr int A_TILE = BM * BK, B_TILE = BN * BK;                       // bf16 elements (16 KB each)
constexpr size_t SMEM_BYTES = (size_t)STAGES * (A_TILE + B_TILE) * sizeof(bf16) + 1024;  // + alignment slack
}  // namespace wg_gemm

// the CPU emulator (test/cuda_emu) emulates wgmma, so the kernel body is compiled there too
#if defined(CUDA_EMU) || (defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL))
#define WGMMA_ENABLED 1
#else
#define WGMMA_ENABLED 0
#endif

// shared-memory matrix descriptor (PTX ISA "Matrix Descriptor Format"): start address >> 4 in bits
// 0-13, leading byte offset >> 4 in 16-29 (unused for swizzled K-major), stride byte offset >> 4 in
// 32-45 (1024 B between 8-row groups), swizzle mode in 62-63 (1 = 128B)
__device__ __forceinline__ uint64_t wgmma_desc(const bf16 *p) {
    uint64_t addr = smem_addr(p);
    uint64_t desc = (addr & 0x3FFFF) >> 4;
    desc |= (uint64_t)(16 >> 4) << 16;
    desc |= (uint64_t)(1024 >> 4) << 32;
    desc |= 1ull << 62;
    return desc;
}

__device__ __forceinline__ void wgmma_fence() {
#if defined(CUDA_EMU)
    emu::wgmma_fence(emu::Site{__FILE__, __LINE__});
#elif WGMMA_ENABLED
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_commit() {
#if defined(CUDA_EMU)
    emu::wgmma_commit(emu::Site{__FILE__, __LINE__});
#elif WGMMA_ENABLED
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_wait0() {
#if defined(CUDA_EMU)
    emu::wgmma_wait(0, emu::Site{__FILE__, __LINE__});
#elif WGMMA_ENABLED
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void fence_proxy_async_smem() {
#if defined(CUDA_EMU)
    // nothing to emulate: the emulated wgmma reads shared memory with plain loads at its wait
#elif WGMMA_ENABLED
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// d (64x128 fp32 per warpgroup, 64 regs/thread) += A (64x16, smem desc) · B (16x128, smem desc); both K-major
__device__ __forceinline__ void wgmma_m64n128k16(float d[64], uint64_t desc_a, uint64_t desc_b) {
#if defined(CUDA_EMU)
    emu::wgmma(128, d, desc_a, desc_b, 1, 0, 0, emu::Site{__FILE__, __LINE__});   // scale-d 1, both K-major
#elif WGMMA_ENABLED
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "setp.ne.b32 p, 1, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
        "%64, %65, p, 1, 1, 0, 0;\n"
        "}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(desc_a), "l"(desc_b));
#endif
}

// one 128 x 64 K-major tile (rows r0.., k0..) into the 128B-swizzled layout: row r at r*128 B, its
// 16-byte chunk c at chunk c ^ (r & 7)
template <bool VEC>
__device__ __forceinline__ void wg_load_tile(bf16 *tile, const bf16 *src, int ld, int r0, int rows, int k0, int K) {
    using namespace wg_gemm;
    for (int c = threadIdx.x; c < 128 * (BK / 8); c += THREADS) {
        int r = c / (BK / 8), ch = c % (BK / 8);
        int gr = r0 + r, gk = k0 + ch * 8;
        bf16 *dst = tile + r * BK + ((ch ^ (r & 7)) * 8);
        if (VEC) {
            bool ok = gr < rows && gk < K;
            cp_async16(dst, ok ? src + (size_t)gr * ld + gk : src, ok);
        } else {
            for (int e = 0; e < 8; e++) {
                bool ok = gr < rows && gk + e < K;
                dst[e] = ok ? src[(size_t)gr * ld + gk + e] : __float2bfloat16(0.0f);
            }
        }
    }
}

template <bool VEC, typename OutT>
__global__ void __launch_bounds__(wg_gemm::THREADS)
matmul_forward_kernel4(OutT *out, const bf16 *inp, const bf16 *weight, int M, int N, int K, Epilogue ep) {
#if WGMMA_ENABLED
    using namespace wg_gemm;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    // the 128B swizzle pattern repeats every 1024 B: align the tiles to it
    uint32_t base = smem_addr(smem_raw);
    bf16 *smem = reinterpret_cast<bf16 *>(smem_raw + ((1024 - (base & 1023)) & 1023));
    bf16 *As = smem, *Bs = smem + STAGES * A_TILE;

    const int wg = threadIdx.x / 128;               // warpgroup: rows wg*64 .. wg*64+63 of the tile
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int ktiles = (K + BK - 1) / BK;
    float d[64];
    #pragma unroll
    for (int i = 0; i < 64; i++) d[i] = 0.0f;

    auto load_stage = [&](int kt, int stage) {
        wg_load_tile<VEC>(As + stage * A_TILE, inp, K, m0, M, kt * BK, K);
        wg_load_tile<VEC>(Bs + stage * B_TILE, weight, K, n0, N, kt * BK, K);
    };
    #pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < ktiles) load_stage(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < ktiles; kt++) {
        cp_async_wait<STAGES - 2>();
        fence_proxy_async_smem();   // this thread's smem writes -> visible to wgmma (async proxy)
        __syncthreads();            // everyone's; and stage (kt-1) % STAGES is no longer read
        int next = kt + STAGES - 1;
        if (next < ktiles) load_stage(next, next % STAGES);
        cp_async_commit();

        const bf16 *a = As + (kt % STAGES) * A_TILE + wg * 64 * BK;  // 64 rows x 128 B = 8 KB: 1024-aligned
        const bf16 *b = Bs + (kt % STAGES) * B_TILE;
        wgmma_fence();
        #pragma unroll
        for (int kk = 0; kk < BK; kk += 16)   // k16 step = +32 B inside the swizzled rows
            wgmma_m64n128k16(d, wgmma_desc(a + kk), wgmma_desc(b + kk));
        wgmma_commit();
        wgmma_wait0();
    }
    cp_async_wait<0>();

    // accumulator layout: warp w of the warpgroup owns rows 16w..16w+15; d[4j..4j+3] are
    // (g, 8j+2t..+1) and (g+8, 8j+2t..+1) as in mma.m16n8
    const int lane = threadIdx.x & 31, warp = (threadIdx.x / 32) & 3;
    const int g = lane >> 2, t = lane & 3;
    #pragma unroll
    for (int j = 0; j < 16; j++) {
        int col = n0 + 8 * j + 2 * t;
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            int row = m0 + wg * 64 + warp * 16 + g + 8 * h;
            if (row >= M) continue;
            if (col < N) epilogue_store(out, N, row, col, d[4 * j + 2 * h], ep);
            if (col + 1 < N) epilogue_store(out, N, row, col + 1, d[4 * j + 2 * h + 1], ep);
        }
    }
#endif
}

static bool device_is_sm90(void) {
    int dev = 0, major = 0;
    cudaCheck(cudaGetDevice(&dev));
    cudaCheck(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    return major == 9;
}

template <typename OutT>
static void matmul_forward4(OutT *out, const bf16 *inp, const bf16 *weight, int M, int N, int K, Epilogue ep) {
    using namespace wg_gemm;
    dim3 grid(ceil_div(N, BN), ceil_div(M, BM));
    if (aligned16(inp, K) && aligned16(weight, K)) {
        auto kern = matmul_forward_kernel4<true, OutT>;
        cudaCheck(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)SMEM_BYTES));
        kern<<<grid, THREADS, SMEM_BYTES>>>(out, inp, weight, M, N, K, ep);
    } else {
        auto kern = matmul_forward_kernel4<false, OutT>;
        cudaCheck(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)SMEM_BYTES));
        kern<<<grid, THREADS, SMEM_BYTES>>>(out, inp, weight, M, N, K, ep);
    }
    cudaCheckLaunch();
}

// ------------------------------------------------------------------------------------- version 5: skinny

// one warp per output element; lanes stride over K (float4 when K % 4 == 0)
__global__ void matmul_forward_kernel5(float *out, const float *inp, const float *weight, int M, int N, int K,
                                       Epilogue ep) {
    int w = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
    if (w >= M * N) return;
    int m = w / N, n = w % N;
    const float *x = inp + (size_t)m * K, *wr = weight + (size_t)n * K;
    float acc = 0.0f;
    if (K % 4 == 0) {
        for (int k = lane * 4; k < K; k += 128) {
            float4 a = *reinterpret_cast<const float4 *>(x + k), b = *reinterpret_cast<const float4 *>(wr + k);
            acc += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
        }
    } else {
        for (int k = lane; k < K; k += 32) acc += x[k] * wr[k];
    }
    acc = warp_reduce_sum(acc);
    if (lane == 0) epilogue_store(out, N, m, n, acc, ep);
}

// ------------------------------------------------------------------------------------- dispatch

// device buffers of one problem; the fp32 versions use the float ones, the bf16 versions the bf16 ones
struct Problem {
    int M, K, N, gelu;
    float *inp, *weight, *bias, *out, *pre;
    bf16 *inp16, *weight16, *out16, *pre16;
};

static const int NUM_VERSIONS = 5;
static bool version_is_bf16(int v) { return v == 3 || v == 4; }

static void matmul_forward(int version, const Problem &p) {
    Epilogue ep = {p.bias, NULL, p.gelu, 0};
    switch (version) {
    case 1:
        ep.pre = p.pre;
        // B(k,n) = weight[n*K + k]
        gemm_naive(p.out, p.N, p.inp, p.K, 1, p.weight, 1, p.K, p.M, p.N, p.K, ep);
        break;
    case 2:
        ep.pre = p.pre;
        gemm_simt(p.out, p.N, p.inp, p.K, 1, p.weight, 1, p.K, p.M, p.N, p.K, ep, 1);
        break;
    case 3:
        ep.pre = p.pre16;
        gemm_mma<true, true, bf16>(p.out16, p.N, p.inp16, p.K, p.weight16, p.K, p.M, p.N, p.K, ep, 1, 0);
        break;
    case 4:
        ep.pre = p.pre16;
        matmul_forward4<bf16>(p.out16, p.inp16, p.weight16, p.M, p.N, p.K, ep);
        break;
    case 5: {
        ep.pre = p.pre;
        long threads = (long)p.M * p.N * 32;
        matmul_forward_kernel5<<<(unsigned)ceil_div(threads, 256L), 256>>>(p.out, p.inp, p.weight, p.M, p.N, p.K, ep);
        break;
    }
    default:
        fprintf(stderr, "no version %d\n", version);
        exit(2);
    }
    cudaCheckLaunch();
}

static Problem problem_alloc(int M, int K, int N, int gelu) {
    Problem p = {M, K, N, gelu, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    p.inp = dev_alloc<float>((size_t)M * K);
    p.weight = dev_alloc<float>((size_t)N * K);
    p.bias = dev_alloc<float>(N);
    p.out = dev_alloc<float>((size_t)M * N);
    p.pre = dev_alloc<float>((size_t)M * N);
    p.inp16 = dev_alloc<bf16>((size_t)M * K);
    p.weight16 = dev_alloc<bf16>((size_t)N * K);
    p.out16 = dev_alloc<bf16>((size_t)M * N);
    p.pre16 = dev_alloc<bf16>((size_t)M * N);
    return p;
}
static void problem_free(Problem &p) {
    cudaCheck(cudaFree(p.inp)); cudaCheck(cudaFree(p.weight)); cudaCheck(cudaFree(p.bias));
    cudaCheck(cudaFree(p.out)); cudaCheck(cudaFree(p.pre));
    cudaCheck(cudaFree(p.inp16)); cudaCheck(cudaFree(p.weight16));
    cudaCheck(cudaFree(p.out16)); cudaCheck(cudaFree(p.pre16));
}

// upload host inputs (both precisions)
static void problem_upload(Problem &p, const float *inp, const float *weight, const float *bias) {
    size_t nx = (size_t)p.M * p.K, nw = (size_t)p.N * p.K;
    to_device(p.inp, inp, nx);
    to_device(p.weight, weight, nw);
    to_device(p.bias, bias, p.N);
    std::vector<bf16> tmp(std::max(nx, nw));
    float_to_bf16(tmp.data(), inp, nx);
    to_device(p.inp16, tmp.data(), nx);
    float_to_bf16(tmp.data(), weight, nw);
    to_device(p.weight16, tmp.data(), nw);
}

// ------------------------------------------------------------------------------------- main

struct Case { int M, K, N, gelu; const char *label; };

// fp32 in / fp32 out: summation order only. bf16 in (reference fed the same rounded inputs), fp32
// accumulate, bf16 out: the output rounding dominates (TOL_BF16).
static Tolerance tolerance_for(int v) { return version_is_bf16(v) ? TOL_BF16 : TOL_FP32; }

// validate one version on one case with fresh inputs; returns the max relative error
static float validate_case(int v, const Case &c) {
    int M = c.M, K = c.K, N = c.N;
    float wscale = 1.0f / sqrtf((float)K);  // keeps outputs O(1), so GELU sees both signs and its knee
    float *inp = make_random_float((size_t)M * K);
    float *weight = make_random_float((size_t)N * K, -wscale, wscale);
    float *bias = make_random_float(N, -0.5f, 0.5f);
    if (version_is_bf16(v)) {  // the reference sees exactly the values the tensor cores see
        round_to_bf16(inp, (size_t)M * K);
        round_to_bf16(weight, (size_t)N * K);
    }
    float *ref_pre = (float *)host_malloc((size_t)M * N * sizeof(float));
    float *ref_out = (float *)host_malloc((size_t)M * N * sizeof(float));
    linear_forward(ref_pre, inp, weight, bias, M, K, N);
    if (c.gelu) gelu_forward(ref_out, ref_pre, M * N);
    else memcpy(ref_out, ref_pre, (size_t)M * N * sizeof(float));

    Problem p = problem_alloc(M, K, N, c.gelu);
    problem_upload(p, inp, weight, bias);
    poison(p.out, (size_t)M * N * sizeof(float)); poison(p.pre, (size_t)M * N * sizeof(float));
    poison(p.out16, (size_t)M * N * sizeof(bf16)); poison(p.pre16, (size_t)M * N * sizeof(bf16));
    matmul_forward(v, p);
    cudaCheck(cudaDeviceSynchronize());

    printf("version %d  %s (M %d K %d N %d%s)\n", v, c.label, M, K, N, c.gelu ? " +gelu" : "");
    Tolerance tol = tolerance_for(v);
    float maxrel;
    if (version_is_bf16(v)) {
        maxrel = validate("out", p.out16, ref_out, (size_t)M * N, tol);
        if (c.gelu) maxrel = std::max(maxrel, validate("pre-activation", p.pre16, ref_pre, (size_t)M * N, tol));
    } else {
        maxrel = validate("out", p.out, ref_out, (size_t)M * N, tol);
        if (c.gelu) maxrel = std::max(maxrel, validate("pre-activation", p.pre, ref_pre, (size_t)M * N, tol));
    }
    problem_free(p);
    free(inp); free(weight); free(bias); free(ref_pre); free(ref_out);
    return maxrel;
}

int main(int argc, char **argv) {
    lab_init("matmul_forward");
    const bool sm90 = device_is_sm90();
    const Case cases[] = {
        {8 * 128, 768, 768, 0, "B8xT128_C768_OC768"},
        {8 * 128, 768, 3072, 1, "B8xT128_FFN1_gelu"},
        {8 * 77, 768, 2, 0, "B8xT77_head_OC2"},
        {8 * 77, 37, 100, 1, "B8xT77_K37_OC100_gelu"},
        {77, 384, 1152, 0, "B1xT77_C384_OC1152"},
    };
    // emulated: the same kinds of shape at a few million multiply-adds: M and N one full 128-tile
    // plus a partial one, K = 136 past the 32- and 64-deep K tiles (16-byte loads), the 2-column
    // head, K = 37 (scalar loads), and a product whose N and K fill their tiles exactly
    const Case emulated[] = {
        {2 * 77, 136, 160, 1, "B2xT77_K136_N160_gelu"},
        {2 * 77, 96, 2, 0, "B2xT77_head_OC2"},
        {2 * 77, 37, 100, 1, "B2xT77_K37_OC100_gelu"},
        {77, 64, 128, 0, "B1xT77_K64_N128"},
    };
    const Case bench[] = {
        {8 * 128, 768, 3072, 1, "B8xT128_FFN1_gelu"},
        {32 * 256, 768, 3072, 1, "B32xT256_FFN1_gelu"},
        {8, 768, 2, 0, "B8_head_OC2"},
    };

    for (int v = 1; v <= NUM_VERSIONS; v++) {
        if (!lab_want(argc, argv, v)) continue;
        if (v == 4 && !sm90) { printf("version 4: skipped (wgmma needs an sm_90 device)\n"); continue; }
        lab_version = v;
        for (const Case &c : lab_cases(cases, emulated)) validate_case(v, c);
    }
    if (lab_emulated) return lab_exit();

    for (const Case &c : bench) {
        Problem p = problem_alloc(c.M, c.K, c.N, c.gelu);
        float *inp = make_random_float((size_t)c.M * c.K);
        float *weight = make_random_float((size_t)c.N * c.K, -0.03f, 0.03f);
        float *bias = make_random_float(c.N);
        problem_upload(p, inp, weight, bias);
        for (int v = 1; v <= NUM_VERSIONS; v++) {
            if (!lab_want(argc, argv, v) || (v == 4 && !sm90)) continue;
            Timing t = benchmark([&] { matmul_forward(v, p); });
            bool b16 = version_is_bf16(v);
            double elt = b16 ? 2.0 : 4.0;
            // minimum traffic: inputs once, output (+ pre-activation with GELU) once, bias
            double bytes = elt * ((double)c.M * c.K + (double)c.N * c.K + (c.gelu ? 2.0 : 1.0) * c.M * c.N) + 4.0 * c.N;
            double flops = 2.0 * c.M * c.N * c.K;
            print_result("matmul_forward", v, t, bytes, flops, b16 ? PEAK_TFLOPS_BF16 : PEAK_TFLOPS_FP32, c.label);
        }
        problem_free(p);
        free(inp); free(weight); free(bias);
    }
    return lab_exit();
}
