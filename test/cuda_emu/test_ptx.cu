// test_ptx.cu: the emulator's PTX (test/cuda_emu/ptx.cpp) against plain host products and the CuTe
// layout definitions, built only for the emulator (make -C test/cuda_emu selftest).
//
//   ldmatrix .x1/.x2/.x4 (.trans): every register of every lane against CuTe's Copy_Traits
//       SM75_U32x4_LDSM_N / SM75_U16x8_LDSM_T bit maps, rows gathered from random places of a tile
//   mma.sync m16n8k16 bf16 and f16: fragments built from CuTe's MMA_Traits<SM80_16x8x16_*> thread-value
//       layouts, D compared with A·B + C computed in double
//   ldmatrix + mma through the wrappers of kernels/cuda/matmul_mma.cuh (ldsm_a_mk / ldsm_a_km / ldsm_b_nk /
//       ldsm_b_kn, cp_async16): a 16x16x16 product at several tile positions, all four operand majors
//   cp.async: not visible before its wait_group, visible after; zero fill; uncommitted copies stay
//   wgmma m64nNk16 bf16: N in {8, 64, 128, 256} x swizzle {none, 32B, 64B, 128B} x K-/MN-major A and B x
//       scale-d {0, 1}; each tile is laid out in shared memory by tile_to_shape of the CuTe GMMA layout
//       atoms (Layout_{K,MN}_{INTER,SW32,SW64,SW128}_Atom<bf16>) with the swizzle on the byte address,
//       descriptors read off that layout as make_gmma_desc does, 4 chained k16 wgmmas in one group
//       (K = 64), D checked through CuTe's CLayout_64xN; plus async semantics (stale before the wait,
//       wait_group 1, shared memory read at the wait) and two warpgroups with matmul_forward's descriptors
//   error paths (in a forked child): misaligned ldmatrix / cp.async, copies or wgmmas never waited for,
//       a first wgmma without wgmma.fence, a swizzle pattern that does not start on its boundary
// The last line is `N passed, N failed`; the exit status is 1 on any failure.
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "kernels/cuda/matmul_mma.cuh"

static int n_passed, n_failed;

static void result(bool ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    (ok ? n_passed : n_failed)++;
}

#define CHECK_CUDA(x)                                                                        \
    do {                                                                                     \
        cudaError_t e_ = (x);                                                                \
        if (e_ != cudaSuccess) { printf("CUDA error %d at %s:%d\n", (int)e_, __FILE__, __LINE__); exit(2); } \
    } while (0)

// ------------------------------------------------------------------------------------ helpers

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_u64(void) {   // splitmix64
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float rng_uniform(void) { return (float)((rng_u64() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }
static unsigned short rand_bf16(void) { return emu::float_to_bf16_bits(rng_uniform()); }
static unsigned short rand_f16(void) { return emu::float_to_half_bits(rng_uniform() * 4.0f); }
static float bf(unsigned short h) { return emu::bf16_bits_to_float(h); }

template <class T> static T *to_device(const std::vector<T> &v) {
    T *p;
    CHECK_CUDA(cudaMalloc(&p, v.size() * sizeof(T)));
    CHECK_CUDA(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    return p;
}
template <class T> static std::vector<T> from_device(const T *p, size_t n) {
    std::vector<T> v(n);
    CHECK_CUDA(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
}
template <class T> static T *device_zeros(size_t n) {
    T *p;
    CHECK_CUDA(cudaMalloc(&p, n * sizeof(T)));
    CHECK_CUDA(cudaMemset(p, 0, n * sizeof(T)));
    return p;
}

// |got - ref| within 2^-20 of the sum of the magnitudes of the terms (fp32 summation of <= 65 terms in
// an unspecified order: the error bound is ~65 · 2^-24 of that sum)
static bool close_enough(float got, double ref, double magnitude) {
    return fabs((double)got - ref) <= magnitude * 0x1p-20 + 1e-30;
}

// ------------------------------------------------------------------------------------ ldmatrix layout

constexpr int LD_ROWS = 64, LD_COLS = 40;   // a 64 x 40 b16 tile, rows 80 bytes apart

__global__ void ldmatrix_kernel(const unsigned short *src, const int *lane_elem, int num, int trans, uint32_t *out) {
    __shared__ __align__(16) unsigned short tile[LD_ROWS * LD_COLS];
    for (int i = threadIdx.x; i < LD_ROWS * LD_COLS; i += blockDim.x) tile[i] = src[i];
    __syncthreads();
    uint32_t r[4] = {0xDEADBEEFu, 0xDEADBEEFu, 0xDEADBEEFu, 0xDEADBEEFu};
    emu::ldmatrix(r, num, trans != 0, (uint32_t)__cvta_generic_to_shared(tile + lane_elem[threadIdx.x]),
                  emu::Site{__FILE__, __LINE__});
    for (int i = 0; i < 4; i++) out[threadIdx.x * 4 + i] = r[i];
}

static void test_ldmatrix(void) {
    for (int trans = 0; trans < 2; trans++)
        for (int num : {1, 2, 4}) {
            int bad = 0;
            const int placements = 4;
            for (int rep = 0; rep < placements; rep++) {
                std::vector<unsigned short> tile(LD_ROWS * LD_COLS);
                for (auto &x : tile) x = (unsigned short)rng_u64();
                std::vector<int> lane_elem(32);
                for (int l = 0; l < 32; l++) lane_elem[l] = (int)(rng_u64() % LD_ROWS) * LD_COLS + (int)(rng_u64() % 5) * 8;
                unsigned short *d_tile = to_device(tile);
                int *d_lane = to_device(lane_elem);
                uint32_t *d_out = device_zeros<uint32_t>(128);
                ldmatrix_kernel<<<1, 32>>>(d_tile, d_lane, num, trans, d_out);
                CHECK_CUDA(cudaDeviceSynchronize());
                std::vector<uint32_t> out = from_device(d_out, 128);
                // bit b of matrix i (row-major, 8 rows of 128 bits): row b / 128 given by lane 8i + b/128
                auto src_bit = [&](int i, int b) {
                    int row = b / 128, col = (b % 128) / 16, bit = b % 16;
                    return (tile[lane_elem[8 * i + row] + col] >> bit) & 1;
                };
                for (int t = 0; t < 32; t++)
                    for (int i = 0; i < 4; i++) {
                        uint32_t want = 0;
                        if (i >= num) want = 0xDEADBEEFu;   // registers past .num are not written
                        else
                            for (int v = 0; v < 32; v++) {
                                // CuTe Copy_Traits DstLayout: (thr, val) -> bit of the loaded matrices
                                int b = trans ? 256 * (t % 4) + 16 * (t / 4) + (v % 16) + 128 * (v / 16)   // SM75_U16x8_LDSM_T
                                              : 32 * t + v;                                            // SM75_U32x4_LDSM_N
                                want |= (uint32_t)src_bit(i, b) << v;
                            }
                        if (out[t * 4 + i] != want) {
                            if (bad < 3) printf("     lane %d reg %d: got 0x%08x want 0x%08x\n", t, i, out[t * 4 + i], want);
                            bad++;
                        }
                    }
                cudaFree(d_tile), cudaFree(d_lane), cudaFree(d_out);
            }
            result(bad == 0, "ldmatrix.m8n8.x%d%s: %d random row placements, every register of every lane (%d wrong)",
                   num, trans ? ".trans" : "", placements, bad);
        }
}

// ------------------------------------------------------------------------------------ mma.sync

// CuTe MMA_Traits<SM80_16x8x16_F32{BF16,F16}...F32_TN>: (thread, value) -> index into the col-major tile
static int cute_a(int t, int v) { return 32 * (t % 4) + t / 4 + 16 * (v % 2) + 8 * ((v / 2) % 2) + 128 * (v / 4); }   // (M16,K16)
static int cute_b(int t, int v) { return 16 * (t % 4) + t / 4 + 8 * (v % 2) + 64 * (v / 2); }                      // (N8,K16)
static int cute_c(int t, int v) { return 32 * (t % 4) + t / 4 + 16 * (v % 2) + 8 * (v / 2); }                       // (M16,N8)

// A (16x16, A[m*16+k]), B (16x8, B[k*8+n]) as 16-bit patterns, C, D (16x8, [m*8+n])
__global__ void mma_kernel(const unsigned short *A, const unsigned short *B, const float *C, int f16, float *D) {
    int t = threadIdx.x;
    uint32_t a[4], b[2];
    float c[4], d[4];
    for (int r = 0; r < 4; r++) {
        uint32_t v2[2];
        for (int h = 0; h < 2; h++) {
            int idx = cute_a(t, 2 * r + h);
            v2[h] = A[(idx % 16) * 16 + idx / 16];
        }
        a[r] = v2[0] | v2[1] << 16;
    }
    for (int r = 0; r < 2; r++) {
        uint32_t v2[2];
        for (int h = 0; h < 2; h++) {
            int idx = cute_b(t, 2 * r + h);
            v2[h] = B[(idx / 8) * 8 + idx % 8];
        }
        b[r] = v2[0] | v2[1] << 16;
    }
    for (int v = 0; v < 4; v++) {
        int idx = cute_c(t, v);
        c[v] = C[(idx % 16) * 8 + idx / 16];
    }
    emu::mma_m16n8k16(d, a, b, c, f16 != 0, emu::Site{__FILE__, __LINE__});
    for (int v = 0; v < 4; v++) {
        int idx = cute_c(t, v);
        D[(idx % 16) * 8 + idx / 16] = d[v];
    }
}

static void test_mma(void) {
    for (int f16 = 0; f16 < 2; f16++) {
        int bad = 0;
        const int reps = 6;
        for (int rep = 0; rep < reps; rep++) {
            std::vector<unsigned short> A(256), B(128);
            std::vector<float> C(128);
            for (auto &x : A) x = f16 ? rand_f16() : rand_bf16();
            for (auto &x : B) x = f16 ? rand_f16() : rand_bf16();
            for (auto &x : C) x = rep == 0 ? 0.0f : rng_uniform();
            auto val = [&](unsigned short h) { return f16 ? (double)emu::half_bits_to_float(h) : (double)bf(h); };
            unsigned short *dA = to_device(A), *dB = to_device(B);
            float *dC = to_device(C), *dD = device_zeros<float>(128);
            mma_kernel<<<1, 32>>>(dA, dB, dC, f16, dD);
            CHECK_CUDA(cudaDeviceSynchronize());
            std::vector<float> D = from_device(dD, 128);
            for (int m = 0; m < 16; m++)
                for (int n = 0; n < 8; n++) {
                    double ref = C[m * 8 + n], mag = fabs(C[m * 8 + n]);
                    for (int k = 0; k < 16; k++) {
                        double p = val(A[m * 16 + k]) * val(B[k * 8 + n]);
                        ref += p, mag += fabs(p);
                    }
                    if (!close_enough(D[m * 8 + n], ref, mag)) {
                        if (bad < 3) printf("     D(%d,%d) = %.9g, want %.9g\n", m, n, D[m * 8 + n], ref);
                        bad++;
                    }
                }
            cudaFree(dA), cudaFree(dB), cudaFree(dC), cudaFree(dD);
        }
        result(bad == 0, "mma.sync.m16n8k16.row.col.f32.%s: %d random A, B, C against A·B + C in double (%d wrong)",
               f16 ? "f16.f16" : "bf16.bf16", reps, bad);
    }
}

// ------------------------------------------------------------------------------------ wrappers: ldmatrix + mma

// a 32x32 logical A (m,k) and B (k,n) tile, each stored both ways (row stride 40 elements = 80 B), loaded
// with cp_async16; one 16x16x16 product at (m0, n0, k0) through the matmul_mma.cuh fragment loaders
constexpr int WT = 32, WS = 40;
__global__ void wrappers_kernel(const bf16 *a_mk, const bf16 *a_km, const bf16 *b_nk, const bf16 *b_kn, int a_kmajor,
                                int b_kmajor, int m0, int n0, int k0, float *out) {
    __shared__ __align__(16) bf16 sa[WT * WS], sb[WT * WS];
    const bf16 *ga = a_kmajor ? a_mk : a_km, *gb = b_kmajor ? b_nk : b_kn;
    for (int c = threadIdx.x; c < WT * WT / 8; c += blockDim.x) {   // 16-byte chunks
        int r = c / (WT / 8), col = (c % (WT / 8)) * 8;
        cp_async16(sa + r * WS + col, ga + r * WT + col, true);
        cp_async16(sb + r * WS + col, gb + r * WT + col, true);
    }
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    int lane = threadIdx.x;
    uint32_t a[4], b[4];
    if (a_kmajor) ldsm_a_mk(a, sa, WS, m0, k0, lane);
    else ldsm_a_km(a, sa, WS, m0, k0, lane);
    if (b_kmajor) ldsm_b_nk(b, sb, WS, n0, k0, lane);
    else ldsm_b_kn(b, sb, WS, n0, k0, lane);
    float c0[4] = {0, 0, 0, 0}, c1[4] = {0, 0, 0, 0};
    mma_bf16_16816(c0, a, b);       // n0 .. n0+7
    mma_bf16_16816(c1, a, b + 2);   // n0+8 .. n0+15
    int g = lane >> 2, t = lane & 3;
    for (int h = 0; h < 2; h++) {   // C fragment: c0,c1 (g, 2t..2t+1), c2,c3 (g+8, 2t..2t+1)
        out[(g + 8 * h) * 16 + 2 * t] = c0[2 * h];
        out[(g + 8 * h) * 16 + 2 * t + 1] = c0[2 * h + 1];
        out[(g + 8 * h) * 16 + 8 + 2 * t] = c1[2 * h];
        out[(g + 8 * h) * 16 + 8 + 2 * t + 1] = c1[2 * h + 1];
    }
}

static void test_wrappers(void) {
    std::vector<unsigned short> A(WT * WT), B(WT * WT);   // A[m][k], B[k][n]
    for (auto &x : A) x = rand_bf16();
    for (auto &x : B) x = rand_bf16();
    std::vector<bf16> a_mk(WT * WT), a_km(WT * WT), b_nk(WT * WT), b_kn(WT * WT);
    for (int i = 0; i < WT; i++)
        for (int j = 0; j < WT; j++) {
            a_mk[i * WT + j] = __ushort_as_bfloat16(A[i * WT + j]);   // (m=i, k=j)
            a_km[i * WT + j] = __ushort_as_bfloat16(A[j * WT + i]);   // (k=i, m=j)
            b_nk[i * WT + j] = __ushort_as_bfloat16(B[j * WT + i]);   // (n=i, k=j)
            b_kn[i * WT + j] = __ushort_as_bfloat16(B[i * WT + j]);   // (k=i, n=j)
        }
    bf16 *d_amk = to_device(a_mk), *d_akm = to_device(a_km), *d_bnk = to_device(b_nk), *d_bkn = to_device(b_kn);
    float *d_out = device_zeros<float>(256);
    const int pos[3][3] = {{0, 0, 0}, {16, 8, 16}, {8, 16, 8}};
    for (int am = 1; am >= 0; am--)
        for (int bm = 1; bm >= 0; bm--) {
            int bad = 0;
            for (auto &p : pos) {
                int m0 = p[0], n0 = p[1], k0 = p[2];
                wrappers_kernel<<<1, 32>>>(d_amk, d_akm, d_bnk, d_bkn, am, bm, m0, n0, k0, d_out);
                CHECK_CUDA(cudaDeviceSynchronize());
                std::vector<float> out = from_device(d_out, 256);
                for (int m = 0; m < 16; m++)
                    for (int n = 0; n < 16; n++) {
                        double ref = 0, mag = 0;
                        for (int k = 0; k < 16; k++) {
                            double x = (double)bf(A[(m0 + m) * WT + k0 + k]) * bf(B[(k0 + k) * WT + n0 + n]);
                            ref += x, mag += fabs(x);
                        }
                        if (!close_enough(out[m * 16 + n], ref, mag)) {
                            if (bad < 3) printf("     at (%d,%d,%d): C(%d,%d) = %.9g, want %.9g\n", m0, n0, k0, m, n, out[m * 16 + n], ref);
                            bad++;
                        }
                    }
            }
            result(bad == 0, "matmul_mma.cuh: cp_async16 + %s + %s + mma_bf16_16816 at 3 tile positions (%d wrong)",
                   am ? "ldsm_a_mk (ldmatrix.x4)" : "ldsm_a_km (ldmatrix.x4.trans)",
                   bm ? "ldsm_b_nk (ldmatrix.x4)" : "ldsm_b_kn (ldmatrix.x4.trans)", bad);
        }
    cudaFree(d_amk), cudaFree(d_akm), cudaFree(d_bnk), cudaFree(d_bkn), cudaFree(d_out);
}

// ------------------------------------------------------------------------------------ cp.async

// each of 32 threads owns 4 16-byte slots; snapshots of them (as 4 x 4 uints) after each step
__global__ void cp_async_kernel(const uint32_t *src, uint32_t *snap) {
    __shared__ __align__(16) uint32_t slot[32 * 4 * 4];
    int t = threadIdx.x;
    uint32_t *my = slot + t * 16;
    const uint32_t *s = src + t * 16;
    auto take = [&](int step) {
        for (int i = 0; i < 16; i++) snap[(step * 32 + t) * 16 + i] = my[i];
    };
    for (int i = 0; i < 16; i++) my[i] = 0xA5A5A5A5u;
    cp_async16(my + 0, s + 0, true);    // group 0
    cp_async_commit();
    cp_async16(my + 4, s + 4, false);   // group 1: zero fill
    cp_async_commit();
    emu::cp_async((uint32_t)__cvta_generic_to_shared(my + 8), s + 8, 16, 8, emu::Site{__FILE__, __LINE__});   // uncommitted
    take(0);                            // nothing landed
    cp_async_wait<1>();
    take(1);                            // group 0 landed
    cp_async_wait<0>();
    take(2);                            // group 1 landed; the uncommitted copy did not
    cp_async_commit();                  // group 2
    cp_async_wait<0>();
    take(3);                            // 8 bytes + 8 zeros
    emu::cp_async((uint32_t)__cvta_generic_to_shared(my + 12), s + 12, 4, 4, emu::Site{__FILE__, __LINE__});
    emu::cp_async((uint32_t)__cvta_generic_to_shared(my + 14), s + 14, 8, 4, emu::Site{__FILE__, __LINE__});
    cp_async_commit();
    cp_async_wait<0>();
    take(4);                            // 4-byte copy; 8-byte copy of 4 bytes + 4 zeros
}

static void test_cp_async(void) {
    std::vector<uint32_t> src(32 * 16);
    for (auto &x : src) x = (uint32_t)rng_u64() | 1u;   // never zero
    uint32_t *d_src = to_device(src), *d_snap = device_zeros<uint32_t>(5 * 32 * 16);
    cp_async_kernel<<<1, 32>>>(d_src, d_snap);
    CHECK_CUDA(cudaDeviceSynchronize());
    std::vector<uint32_t> snap = from_device(d_snap, 5 * 32 * 16);
    const uint32_t P = 0xA5A5A5A5u;
    int bad[5] = {0, 0, 0, 0, 0};
    for (int t = 0; t < 32; t++) {
        const uint32_t *s = &src[t * 16];
        for (int step = 0; step < 5; step++) {
            const uint32_t *g = &snap[(step * 32 + t) * 16];
            for (int i = 0; i < 16; i++) {
                uint32_t want = P;
                int slot = i / 4;
                if (slot == 0 && step >= 1) want = s[i];
                if (slot == 1 && step >= 2) want = 0;
                if (slot == 2 && step >= 3) want = i < 10 ? s[i] : 0;
                if (slot == 3 && step >= 4) want = i == 12 ? s[12] : i == 13 ? P : i == 14 ? s[14] : 0;
                bad[step] += g[i] != want;
            }
        }
    }
    result(bad[0] == 0, "cp.async: no copy is visible before a wait_group (%d words wrong)", bad[0]);
    result(bad[1] == 0, "cp.async: wait_group 1 lands the older of two groups only (%d words wrong)", bad[1]);
    result(bad[2] == 0, "cp.async: wait_group 0 lands a zero-filling copy (src-size 0), not an uncommitted one (%d wrong)", bad[2]);
    result(bad[3] == 0, "cp.async: src-size 8 of cp-size 16 lands 8 bytes and 8 zeros once committed (%d wrong)", bad[3]);
    result(bad[4] == 0, "cp.async: cp-size 4, and cp-size 8 with src-size 4 (%d wrong)", bad[4]);
    cudaFree(d_src), cudaFree(d_snap);
}

// ------------------------------------------------------------------------------------ wgmma

// Host-side shared-memory layout of a bf16 operand tile, from the CuTe GMMA layout atoms
// (include/cute/atom/mma_traits_sm90_gmma.hpp, in bits, upcast to 16-bit elements):
//   Layout_K_INTER_Atom  (8,8):(8,1)    Layout_MN_INTER_Atom  (8,8):(1,8)      Swizzle<0,4,3>
//   Layout_K_SW32_Atom   (8,16):(16,1)  Layout_MN_SW32_Atom   (16,8):(1,16)    Swizzle<1,4,3>
//   Layout_K_SW64_Atom   (8,32):(32,1)  Layout_MN_SW64_Atom   (32,8):(1,32)    Swizzle<2,4,3>
//   Layout_K_SW128_Atom  (8,64):(64,1)  Layout_MN_SW128_Atom  (64,8):(1,64)    Swizzle<3,4,3>
// tiled to (MN, K) by tile_to_shape (atoms in column-major order: along MN first), the swizzle applied
// by the smem pointer to the byte address (cute::swizzle_ptr; the tile base is 1024-byte aligned).
struct TileLayout {
    bool mn_major;
    int sw;        // 0 (interleave), 32, 64, 128: bytes per swizzle row
    int MN, K;     // the tile (MN a multiple of the atom's MN extent)
    int atom_mn() const { return mn_major ? (sw ? sw / 2 : 8) : 8; }
    int atom_k() const { return mn_major ? 8 : (sw ? sw / 2 : 8); }
    int offset(int mn, int k) const {   // element offset before the swizzle
        int amn = atom_mn(), ak = atom_k();
        int in_atom = mn_major ? (mn % amn) + (k % ak) * amn : (mn % amn) * ak + (k % ak);
        int atom = (mn / amn) + (k / ak) * (MN / amn);
        return in_atom + atom * amn * ak;
    }
    uint32_t swizzle(uint32_t byte_addr) const {   // cute::Swizzle<B,4,3>::apply
        int B = sw == 128 ? 3 : sw == 64 ? 2 : sw == 32 ? 1 : 0;
        uint32_t yyy = ((1u << B) - 1) << 7;
        return byte_addr ^ ((byte_addr & yyy) >> 3);
    }
    uint32_t bytes() const { return (uint32_t)MN * K * 2; }
    // the descriptor of the k16 block kb, as make_gmma_desc reads it off the layout (start address
    // relative to the tile base; the kernel adds the base): strides in bytes between core matrices
    uint64_t desc(int kb, int mn_valid) const {
        uint32_t start = (uint32_t)offset(0, 16 * kb) * 2;
        auto diff = [&](int dmn, int dk) { return (uint32_t)(offset(dmn, 16 * kb + dk) - offset(0, 16 * kb)) * 2; };
        uint32_t lbo, sbo;
        if (!mn_major) {
            sbo = diff(8, 0);                       // next 8 rows (MN)
            lbo = sw ? 16 : diff(0, 8);             // interleave: next 8 K; swizzled: unused ("assumed 1")
        } else if (!sw) {
            sbo = diff(8, 0);                       // next T=8 MN elements
            lbo = diff(0, 8);                       // next 8 K
        } else {
            lbo = mn_valid > sw / 2 ? diff(sw / 2, 0) : 0;   // next swizzle atom along MN (if any)
            sbo = diff(0, 8);                       // next 8 K
        }
        uint64_t mode = sw == 128 ? 1 : sw == 64 ? 2 : sw == 32 ? 3 : 0;
        return (uint64_t)(start >> 4) | (uint64_t)(lbo >> 4) << 16 | (uint64_t)(sbo >> 4) << 32 | mode << 62;
    }
};

constexpr int WG_KT = 64, WG_MAXK = WG_KT / 16;

struct WgParams {
    int N, nk, scale_d0, ta, tb;
    uint32_t a_off, b_off;               // tile offsets from the 1024-aligned base (1024-aligned)
    uint64_t desc_a[2][WG_MAXK], desc_b[WG_MAXK];   // per warpgroup (A) and k-block; start relative to the tile
    int mode;                            // 0: one group; 1: two groups and wait_group 1; 2: overwrite B before the wait
};

// image: the shared-memory bytes (A tile(s) then B tile), copied to a 1024-aligned window. Accumulators:
// d_init / d_stale / d_mid / d_out are (threads, N/2) row-major.
__global__ void wgmma_kernel(const uint32_t *image, int image_words, WgParams p, const float *d_init, float *d_stale,
                             float *d_mid, float *d_out) {
    extern __shared__ __align__(16) unsigned char wg_smem[];
    uint32_t raw = (uint32_t)__cvta_generic_to_shared(wg_smem);
    unsigned char *base = wg_smem + ((1024 - (raw & 1023)) & 1023);
    uint32_t *w = (uint32_t *)base;
    for (int i = threadIdx.x; i < image_words; i += blockDim.x) w[i] = image[i];
    __syncthreads();
    const int R = p.N / 2, t = threadIdx.x, wg = t / 128;
    float d[128];
    for (int i = 0; i < R; i++) d[i] = d_init[t * R + i];
    uint64_t sb = (uint64_t)(__cvta_generic_to_shared(base) >> 4);
    uint64_t a_start = sb + (p.a_off >> 4), b_start = sb + (p.b_off >> 4);
    emu::Site site = {__FILE__, __LINE__};
    emu::wgmma_fence(site);
    for (int kb = 0; kb < p.nk; kb++) {
        emu::wgmma(p.N, d, p.desc_a[wg][kb] + a_start, p.desc_b[kb] + b_start, kb == 0 ? p.scale_d0 : 1, p.ta, p.tb, site);
        if (p.mode == 1 && kb == 0) emu::wgmma_commit(site);   // group 1: the first k-block; group 2: the rest
    }
    emu::wgmma_commit(site);
    for (int i = 0; i < R; i++) d_stale[t * R + i] = d[i];   // before any wait: still the old values
    if (p.mode == 1) {
        emu::wgmma_wait(1, site);
        for (int i = 0; i < R; i++) d_mid[t * R + i] = d[i];   // the first group only
    }
    if (p.mode == 2) {   // zero the B tile before the wait: the wait reads shared memory then
        __syncthreads();
        for (int i = t; i < image_words; i += blockDim.x)
            if ((uint32_t)i * 4 >= p.b_off) w[i] = 0;
        __syncthreads();
    }
    emu::wgmma_wait(0, site);
    for (int i = 0; i < R; i++) d_out[t * R + i] = d[i];
}

// CuTe CLayout_64xN: (thread, value) -> index into the col-major (64, N) accumulator
static void cute_d(int t, int v, int *m, int *n) {
    int off = 128 * (t % 4) + (t / 4) % 8 + 16 * (t / 32) + 64 * (v % 2) + 8 * ((v / 2) % 2) + 512 * (v / 4);
    *m = off % 64, *n = off / 64;
}

struct WgCase {
    int N, sw_a, sw_b, ta, tb, scale_d, mode, warpgroups;
    bool forward_desc;   // use matmul_forward.cu's wgmma_desc() form (K-major SW128, LBO 16 B, SBO 1024 B)
};

static bool run_wgmma_case(const WgCase &c, std::string *detail) {
    const int N = c.N, R = N / 2, threads = 128 * c.warpgroups, M = 64 * c.warpgroups;
    TileLayout la = {c.ta != 0, c.sw_a, 0, WG_KT}, lb = {c.tb != 0, c.sw_b, 0, WG_KT};
    la.MN = 64;   // every A atom is at most 64 wide along M
    lb.MN = ((N + lb.atom_mn() - 1) / lb.atom_mn()) * lb.atom_mn();
    // logical operands: A (M, K), B (K, N)
    std::vector<unsigned short> A(M * WG_KT), B(WG_KT * N);
    for (auto &x : A) x = rand_bf16();
    for (auto &x : B) x = rand_bf16();
    uint32_t a_bytes = (la.bytes() + 1023) / 1024 * 1024;
    WgParams p;
    memset(&p, 0, sizeof p);
    p.N = N, p.nk = WG_MAXK, p.scale_d0 = c.scale_d, p.ta = c.ta, p.tb = c.tb, p.mode = c.mode;
    p.a_off = 0;
    p.b_off = a_bytes * c.warpgroups;
    uint32_t total = p.b_off + (lb.bytes() + 1023) / 1024 * 1024;
    std::vector<unsigned char> image(total, 0xEE);   // padding: a NaN-ish pattern that must never be read
    auto put = [&](const TileLayout &L, uint32_t tile_off, int mn, int k, unsigned short v) {
        uint32_t addr = L.swizzle(tile_off + (uint32_t)L.offset(mn, k) * 2);
        memcpy(&image[addr], &v, 2);
    };
    for (int g = 0; g < c.warpgroups; g++)
        for (int m = 0; m < 64; m++)
            for (int k = 0; k < WG_KT; k++) put(la, p.a_off + g * a_bytes, m, k, A[(64 * g + m) * WG_KT + k]);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < WG_KT; k++) put(lb, p.b_off, n, k, B[k * N + n]);
    for (int kb = 0; kb < WG_MAXK; kb++) {
        for (int g = 0; g < c.warpgroups; g++) {
            if (c.forward_desc) {   // matmul_forward.cu wgmma_desc(): start, LBO 16, SBO 1024, 128B swizzle
                uint32_t start = g * a_bytes + 32 * kb;
                p.desc_a[g][kb] = (uint64_t)(start >> 4) | (uint64_t)(16 >> 4) << 16 | (uint64_t)(1024 >> 4) << 32 | 1ull << 62;
            } else {
                p.desc_a[g][kb] = la.desc(kb, 64) + (uint64_t)((g * a_bytes) >> 4);
            }
        }
        if (c.forward_desc)
            p.desc_b[kb] = (uint64_t)((32 * kb) >> 4) | (uint64_t)(16 >> 4) << 16 | (uint64_t)(1024 >> 4) << 32 | 1ull << 62;
        else
            p.desc_b[kb] = lb.desc(kb, N);
    }
    std::vector<float> init((size_t)threads * R);
    for (auto &x : init) x = c.scale_d ? rng_uniform() : __builtin_nanf("");   // scale-d 0 must ignore d
    std::vector<uint32_t> words(total / 4);
    memcpy(words.data(), image.data(), total);
    uint32_t *d_image = to_device(words);
    float *d_init = to_device(init);
    float *d_stale = device_zeros<float>(init.size()), *d_mid = device_zeros<float>(init.size()),
          *d_out = device_zeros<float>(init.size());
    size_t smem = total + 1024;
    CHECK_CUDA(cudaFuncSetAttribute(wgmma_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    wgmma_kernel<<<1, threads, smem>>>(d_image, (int)words.size(), p, d_init, d_stale, d_mid, d_out);
    CHECK_CUDA(cudaDeviceSynchronize());
    std::vector<float> stale = from_device(d_stale, init.size()), mid = from_device(d_mid, init.size()),
                       out = from_device(d_out, init.size());
    cudaFree(d_image), cudaFree(d_init), cudaFree(d_stale), cudaFree(d_mid), cudaFree(d_out);
    // expected: (scale_d ? init : 0) + sum over the k-blocks performed of A·B
    auto expect = [&](int th, int v, int kblocks, bool b_zero, double *mag) {
        int m, n;
        cute_d(th % 128, v, &m, &n);
        m += 64 * (th / 128);
        double ref = c.scale_d ? init[(size_t)th * R + v] : 0.0;
        *mag = fabs(ref);
        if (!b_zero)
            for (int k = 0; k < 16 * kblocks; k++) {
                double x = (double)bf(A[m * WG_KT + k]) * bf(B[k * N + n]);
                ref += x, *mag += fabs(x);
            }
        return ref;
    };
    int bad_out = 0, bad_stale = 0, bad_mid = 0;
    for (int th = 0; th < threads; th++)
        for (int v = 0; v < R; v++) {
            size_t i = (size_t)th * R + v;
            if (memcmp(&stale[i], &init[i], 4)) bad_stale++;
            double mag, ref = expect(th, v, WG_MAXK, c.mode == 2, &mag);
            if (!close_enough(out[i], ref, mag)) {
                if (bad_out < 2) {
                    int m, n;
                    cute_d(th % 128, v, &m, &n);
                    char buf[160];
                    snprintf(buf, sizeof buf, " [thread %d d[%d] = D(%d,%d) = %.9g, want %.9g]", th, v, m + 64 * (th / 128), n,
                             out[i], ref);
                    *detail += buf;
                }
                bad_out++;
            }
            if (c.mode == 1) {
                double mref = expect(th, v, 1, false, &mag);
                if (!close_enough(mid[i], mref, mag)) bad_mid++;
            }
        }
    char buf[160];
    snprintf(buf, sizeof buf, " (%d wrong, %d changed before the wait%s)", bad_out, bad_stale,
             c.mode == 1 ? (bad_mid ? ", wait_group 1 wrong" : ", wait_group 1 right") : "");
    *detail = buf + *detail;
    return bad_out == 0 && bad_stale == 0 && bad_mid == 0;
}

static const char *sw_name(int sw) { return sw == 128 ? "128B" : sw == 64 ? "64B" : sw == 32 ? "32B" : "none"; }

static void test_wgmma(void) {
    for (int N : {8, 64, 128, 256})
        for (int sw : {0, 32, 64, 128})
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++)
                    for (int sd = 0; sd < 2; sd++) {
                        WgCase c = {N, sw, sw, ta, tb, sd, 0, 1, false};
                        std::string detail;
                        bool ok = run_wgmma_case(c, &detail);
                        result(ok, "wgmma m64n%dk16 swizzle %-4s A %s-major B %s-major scale-d %d: 4 chained k16 in one group%s", N,
                               sw_name(sw), ta ? "M" : "K", tb ? "N" : "K", sd, detail.c_str());
                    }
    struct Extra { WgCase c; const char *what; };
    const Extra extra[] = {
        {{64, 128, 32, 0, 1, 1, 0, 1, false}, "mixed swizzles: A K-major 128B, B N-major 32B"},
        {{96, 64, 0, 1, 0, 1, 0, 1, false}, "N = 96 (B: 12 core matrices), A M-major 64B, B K-major interleave"},
        {{128, 128, 128, 0, 0, 1, 1, 1, false}, "two groups: wait_group 1 performs the first only, the second chains onto it"},
        {{64, 128, 128, 0, 0, 1, 2, 1, false}, "B zeroed after the commit, before the wait: read at the wait (d = C)"},
        {{128, 128, 128, 0, 0, 0, 0, 2, true}, "two warpgroups with matmul_forward.cu's descriptors (K-major 128B, LBO 16, SBO 1024)"},
    };
    for (const Extra &e : extra) {
        std::string detail;
        bool ok = run_wgmma_case(e.c, &detail);
        result(ok, "wgmma m64n%dk16 %s%s", e.c.N, e.what, detail.c_str());
    }
}

// ------------------------------------------------------------------------------------ error paths

__global__ void bad_ldmatrix_kernel(int *) {
    __shared__ __align__(16) unsigned short tile[8 * 16];
    uint32_t r[4];
    ldmatrix_x4(r, tile + (threadIdx.x % 8) * 16 + (threadIdx.x == 5 ? 4 : 0));   // lane 5: 8 bytes off
}
__global__ void bad_cp_align_kernel(const uint32_t *src) {
    __shared__ __align__(16) uint32_t buf[64];
    cp_async16(buf + 1, src, true);
    cp_async_commit();
    cp_async_wait<0>();
}
__global__ void missing_cp_wait_kernel(const uint32_t *src, uint32_t *out) {
    __shared__ __align__(16) uint32_t buf[32 * 4];
    cp_async16(buf + threadIdx.x * 4, src + threadIdx.x * 4, true);
    cp_async_commit();
    out[threadIdx.x] = buf[threadIdx.x * 4];   // poison: the wait is missing
}
// (wgmma operands in dynamic shared memory: static __shared__ variables lie past the 227 KB dynamic
// window in the emulator's arena, too far for the 18-bit descriptor addresses)
__global__ void missing_wgmma_wait_kernel(int *) {
    extern __shared__ __align__(16) unsigned char neg_smem[];
    float d[4] = {0, 0, 0, 0};
    uint64_t desc = (uint64_t)(__cvta_generic_to_shared(neg_smem) >> 4) | (uint64_t)(1024 >> 4) << 32;
    emu::wgmma_fence(emu::Site{__FILE__, __LINE__});
    emu::wgmma(8, d, desc, desc, 0, 0, 0, emu::Site{__FILE__, __LINE__});
    emu::wgmma_commit(emu::Site{__FILE__, __LINE__});
}
__global__ void bad_pattern_kernel(int *) {
    extern __shared__ __align__(16) unsigned char neg_smem[];   // the window starts 1024-byte aligned
    float d[4] = {0, 0, 0, 0};
    // a 128B-swizzled operand starting 128 bytes (one pattern row) into the pattern, base offset 0
    uint64_t desc = (uint64_t)((__cvta_generic_to_shared(neg_smem) + 128) >> 4) | (uint64_t)(1024 >> 4) << 32 | 1ull << 62;
    emu::wgmma_fence(emu::Site{__FILE__, __LINE__});
    emu::wgmma(8, d, desc, desc, 0, 0, 0, emu::Site{__FILE__, __LINE__});
    emu::wgmma_commit(emu::Site{__FILE__, __LINE__});
    emu::wgmma_wait(0, emu::Site{__FILE__, __LINE__});
}

__global__ void missing_fence_kernel(int *) {
    extern __shared__ __align__(16) unsigned char neg_smem[];
    float d[4] = {0, 0, 0, 0};
    uint64_t desc = (uint64_t)(__cvta_generic_to_shared(neg_smem) >> 4) | (uint64_t)(1024 >> 4) << 32;
    if (threadIdx.x < 96) emu::wgmma_fence(emu::Site{__FILE__, __LINE__});   // warp 3 skips it
    emu::wgmma(8, d, desc, desc, 0, 0, 0, emu::Site{__FILE__, __LINE__});
    emu::wgmma_commit(emu::Site{__FILE__, __LINE__});
    emu::wgmma_wait(0, emu::Site{__FILE__, __LINE__});
}

// runs fn in a child process; it must exit non-zero with `want` in its stderr
static void expect_failure(const char *what, const char *want, const std::function<void(void)> &fn) {
    fflush(stdout);
    fflush(stderr);
    int fds[2];
    if (pipe(fds)) { perror("pipe"); exit(2); }
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1);
        fn();
        cudaDeviceSynchronize();
        _exit(0);
    }
    close(fds[1]);
    std::string err;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) err.append(buf, (size_t)n);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    bool named = err.find(want) != std::string::npos;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    size_t nl = err.find('\n');
    if (nl != std::string::npos) err.resize(nl);
    if (err.size() > 200) err = err.substr(0, 200) + "...";
    result(failed && named, "rejects %s: %s", what, failed ? (named ? err.c_str() : ("wrong message: " + err).c_str())
                                                          : "it ran to the end");
}

static void test_errors(void) {
    std::vector<uint32_t> src(256, 7u);
    uint32_t *d_src = to_device(src), *d_out = device_zeros<uint32_t>(64);
    expect_failure("a misaligned ldmatrix row", "not 16-byte aligned", [] { bad_ldmatrix_kernel<<<1, 32>>>((int *)NULL); });
    expect_failure("a misaligned cp.async destination", "not aligned to cp-size", [=] { bad_cp_align_kernel<<<1, 32>>>(d_src); });
    expect_failure("a missing cp.async.wait_group", "cp.async copies never waited for",
                   [=] { missing_cp_wait_kernel<<<1, 32>>>(d_src, d_out); });
    expect_failure("a missing wgmma.wait_group", "wgmma groups in flight", [] { missing_wgmma_wait_kernel<<<1, 128, 16384>>>((int *)NULL); });
    expect_failure("a first wgmma without wgmma.fence in every warp", "have not executed wgmma.fence",
                   [] { missing_fence_kernel<<<1, 128, 16384>>>((int *)NULL); });
    expect_failure("a swizzle pattern off its boundary with base offset 0", "base offset is 0",
                   [] { bad_pattern_kernel<<<1, 128, 16384>>>((int *)NULL); });
    cudaFree(d_src), cudaFree(d_out);
}

int main(void) {
    test_ldmatrix();
    test_mma();
    test_wrappers();
    test_cp_async();
    test_wgmma();
    test_errors();
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
