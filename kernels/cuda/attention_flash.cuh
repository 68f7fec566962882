// attention_flash.cuh: the fused (FlashAttention-2 style) attention forwards, shared by the
// attention_forward lab (which validates and times them) and the attention_backward lab (which needs
// their O and logsumexp as inputs, exactly as training would produce them).
//
// Semantics = kernels/attention.c: qkv (B,T,3C) = [Q | K | V] per token,
// key_mask (B,T) 1 = real token; for head h, s[t,t2] = q[t]·k[t2] / sqrt(HS) over unmasked keys,
// P = softmax (masked keys get exactly 0), out[t] = Σ P[t,t2] v[t2]. A batch row whose keys are all
// masked gets uniform 1/T over all T keys (the reference's rule): we run it with score multiplier 0
// and no mask, which is exactly that. Saved for backward: lse (B,NH,T) = log Σ_t2 exp(s[t,t2]), fp32.
//
// Online softmax per query row (FA2): m = running max, l = running Σ exp(s - m), acc = running
// Σ exp(s - m) v; per key tile: m' = max(m, max s), c = exp(m - m'), l = c·l + Σ exp(s - m'),
// acc = c·acc + exp(s - m')·V; at the end out = acc / l, lse = m + log l. Scores are kept in log2
// units (scale·log2 e folded in) so exp is one ex2. A running max of -inf (every key so far masked)
// is replaced by 0 before subtracting, so exp(-inf - -inf) never makes a NaN.
//
// Dropout on the probabilities (the bf16 tensor-core kernels; FlashDropout): P' = P ∘ keep · 1/(1-p)
// with keep(seed, ((b·NH + h)·T + t)·T + t2) from kernels/dropout.h — the index of (t, t2) in the
// (B,NH,T,T) tensor the CPU materialises, so both draw the same mask without storing it. The
// forward's normaliser l sums the undropped P (softmax first, dropout after); only P·V sees P'.
// Backward: dV = P'ᵀ dO, dP = keep·scale ∘ (dO Vᵀ), dS = P ∘ (dP - D), and D = rowsum(P ∘ dP) =
// rowsum(P' ∘ dO Vᵀ) = dO · O still, because O = P' V.
#pragma once
#include <type_traits>

#include "matmul_mma.cuh"
#include "kernels/dropout.h"

#define LOG2E_F 1.4426950408889634f
#define LN2_F 0.6931471805599453f

// does batch row b have at least one real key? (block-wide; every thread gets the answer)
__device__ __forceinline__ bool any_key(const int *key_mask, int b, int T) {
    int found = 0;
    for (int t = threadIdx.x; t < T; t += blockDim.x) found |= key_mask[(size_t)b * T + t] != 0;
    return __syncthreads_or(found) != 0;
}

// dropout on the probabilities, drawn inside the kernels; threshold24 == 0: none (scale 1)
struct FlashDropout {
    uint64_t seed;
    uint32_t threshold24;   // kernels/dropout.h dropout_threshold24(p)
    float scale;            // (float)(1 / (1 - p)), as kernels/attention.c
};
static inline FlashDropout flash_dropout(float p, uint64_t seed) {
    FlashDropout d;
    d.seed = seed;
    d.threshold24 = dropout_threshold24((double)p);
    d.scale = p > 0 ? (float)(1.0 / (1.0 - (double)p)) : 1.0f;
    return d;
}
// the factor probability (row, t2) is multiplied by: keep·scale, where row = (b·NH + h)·T + t
__device__ __forceinline__ float flash_keep_scale(const FlashDropout &d, uint64_t row, int T, int t2) {
    if (d.threshold24 == 0) return 1.0f;
    return dropout_keep24(d.seed, row * (uint64_t)T + (uint64_t)t2, d.threshold24) ? d.scale : 0.0f;
}

// ------------------------------------------------------------------------------------- fp32 SIMT

// One thread per query row (q and the output accumulator in registers), a CTA of 64 queries of one
// (b, h); K and V tiles of 64 keys in shared memory; scores in chunks of 16 keys so each chunk costs
// one rescale of the accumulator.
namespace flash_simt {
constexpr int BR = 64, BC = 64, CHUNK = 16;
}

template <int HS>
__global__ void __launch_bounds__(flash_simt::BR)
flash_forward_simt_kernel(float *out, float *lse, const float *qkv, const int *key_mask, int T, int C, int NH) {
    using namespace flash_simt;
    __shared__ float Ks[BC][HS + 1], Vs[BC][HS];
    __shared__ float kbias[BC];
    const int b = blockIdx.z, h = blockIdx.y, t = blockIdx.x * BR + threadIdx.x;
    const int C3 = 3 * C;
    const bool masking = any_key(key_mask, b, T);
    const float scale2 = masking ? LOG2E_F / sqrtf((float)HS) : 0.0f;  // log2 units

    float q[HS], acc[HS];
    const float *qp = qkv + ((size_t)b * T + min(t, T - 1)) * C3 + h * HS;
    #pragma unroll
    for (int i = 0; i < HS; i++) { q[i] = qp[i] * scale2; acc[i] = 0.0f; }
    float m = -INFINITY, l = 0.0f;

    for (int j0 = 0; j0 < T; j0 += BC) {
        __syncthreads();  // previous tile fully consumed
        for (int e = threadIdx.x; e < BC * HS; e += BR) {
            int j = e / HS, i = e % HS, t2 = j0 + j;
            const float *kv = qkv + ((size_t)b * T + min(t2, T - 1)) * C3 + C + h * HS;
            Ks[j][i] = t2 < T ? kv[i] : 0.0f;
            Vs[j][i] = t2 < T ? kv[C + i] : 0.0f;
        }
        {
            int t2 = j0 + threadIdx.x;
            kbias[threadIdx.x] = (t2 < T && (!masking || key_mask[(size_t)b * T + t2])) ? 0.0f : -INFINITY;
        }
        __syncthreads();
        int jn = min(BC, T - j0);
        for (int c0 = 0; c0 < jn; c0 += CHUNK) {
            float s[CHUNK];
            float mx = m;
            #pragma unroll
            for (int jj = 0; jj < CHUNK; jj++) {
                int j = c0 + jj;
                float d = 0.0f;
                #pragma unroll
                for (int i = 0; i < HS; i++) d += q[i] * Ks[j][i];
                s[jj] = d + kbias[j];   // keys past T carry -inf
                mx = fmaxf(mx, s[jj]);
            }
            float mu = mx == -INFINITY ? 0.0f : mx;
            float corr = exp2f(m - mu);
            l *= corr;
            #pragma unroll
            for (int i = 0; i < HS; i++) acc[i] *= corr;
            #pragma unroll
            for (int jj = 0; jj < CHUNK; jj++) {
                float p = exp2f(s[jj] - mu);
                l += p;
                #pragma unroll
                for (int i = 0; i < HS; i++) acc[i] += p * Vs[c0 + jj][i];
            }
            m = mx;
        }
    }
    if (t >= T) return;
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    float *op = out + ((size_t)b * T + t) * C + h * HS;
    #pragma unroll
    for (int i = 0; i < HS; i++) op[i] = acc[i] * inv;
    lse[((size_t)b * NH + h) * T + t] = (m == -INFINITY ? 0.0f : m) * LN2_F + logf(l);
}

static void flash_forward_simt(float *out, float *lse, const float *qkv, const int *key_mask, int B, int T, int C,
                               int NH) {
    int HS = C / NH;
    dim3 grid((T + flash_simt::BR - 1) / flash_simt::BR, NH, B);
    if (HS == 64) flash_forward_simt_kernel<64><<<grid, flash_simt::BR>>>(out, lse, qkv, key_mask, T, C, NH);
    else if (HS == 32) flash_forward_simt_kernel<32><<<grid, flash_simt::BR>>>(out, lse, qkv, key_mask, T, C, NH);
    else { fprintf(stderr, "flash_forward_simt: head size %d not instantiated (32, 64)\n", HS); exit(2); }
}

// ------------------------------------------------------------------------------------- bf16 mma.sync

// FA2 forward on tensor cores: CTA = 4 warps x 16 query rows = 64 queries of one (b, h); K/V tiles
// of 64 keys double-buffered through cp.async. Per warp and key tile:
//   S (16x64)  = Q (16xHS) · Kᵀ        Q fragments held in registers all along; K tile (key, d) is
//                                        exactly the "B stored (n, k)" layout -> plain ldmatrix
//   online softmax on the S accumulators (each thread owns rows g and g+8; row max/sum across the
//   4 threads of a quad by shuffles; l is kept per thread and quad-reduced once at the end)
//   O (16xHS) += P · V                  P re-packed from the S accumulators into bf16 A fragments
//                                        (no smem round trip); V tile (key, d) = "B stored (k, n)" ->
//                                        ldmatrix.trans
namespace flash_mma {
constexpr int BR = 64, BC = 64, THREADS = 128;
// HS: the head size, a multiple of 8; the tiles hold HSP = HS rounded up to the k16 step of the mma,
// the columns past HS zero-filled, so they add nothing to Q·Kᵀ and their output columns are dropped
template <int HS> struct Smem {
    static constexpr int HSP = (HS + 15) / 16 * 16;       // head columns in a tile
    static constexpr int ROW = HSP + 8;                    // padded row: conflict-free ldmatrix
    static constexpr int TILE = 64 * ROW;                  // one 64 x HSP tile (bf16 elements)
};
// the head sizes the kernels are instantiated for: f(std::integral_constant<int, HS>) for HS in
// {8, 16, 32, 64}; returns false (nothing launched) for any other
template <typename F> static bool flash_with_head_size(int HS, F f) {
    switch (HS) {
    case 8: f(std::integral_constant<int, 8>()); return true;
    case 16: f(std::integral_constant<int, 16>()); return true;
    case 32: f(std::integral_constant<int, 32>()); return true;
    case 64: f(std::integral_constant<int, 64>()); return true;
    default: return false;
    }
}
static inline bool flash_head_size_supported(int HS) { return HS == 8 || HS == 16 || HS == 32 || HS == 64; }
}  // namespace flash_mma

// one 64-row x HSP tile of the q, k or v columns of qkv (rows r0.., zero-filled past T and past HS)
template <int HS>
__device__ __forceinline__ void flash_load_tile(bf16 *tile, const bf16 *qkv, int b, int T, int C3, int col0, int r0) {
    constexpr int ROW = flash_mma::Smem<HS>::ROW, CPR = flash_mma::Smem<HS>::HSP / 8;  // 16-byte chunks per row
    for (int c = threadIdx.x; c < 64 * CPR; c += flash_mma::THREADS) {
        int r = c / CPR, ch = c % CPR, t = r0 + r;
        bool ok = t < T && ch * 8 < HS;
        const bf16 *src = qkv + ((size_t)b * T + (ok ? t : 0)) * C3 + col0 + (ok ? ch * 8 : 0);
        cp_async16(tile + r * ROW + ch * 8, src, ok);
    }
}

template <int HS, typename OutT>
__global__ void __launch_bounds__(flash_mma::THREADS)
flash_forward_mma_kernel(OutT *out, float *lse, const bf16 *qkv, const int *key_mask, FlashDropout drop, int T, int C,
                         int NH) {
    using namespace flash_mma;
    constexpr int ROW = Smem<HS>::ROW, TILE = Smem<HS>::TILE;
    constexpr int KS = Smem<HS>::HSP / 16;   // k16 steps over the head dimension
    constexpr int NO = Smem<HS>::HSP / 8;    // n8 tiles of the output (those past HS are not stored)
    __shared__ __align__(16) bf16 Qs[TILE];
    __shared__ __align__(16) bf16 Ks[2][TILE];
    __shared__ __align__(16) bf16 Vs[2][TILE];
    __shared__ float kbias[2][BC];

    const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * BR;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, tq = lane & 3;
    const int C3 = 3 * C;
    const bool masking = any_key(key_mask, b, T);
    const float scale2 = masking ? LOG2E_F / sqrtf((float)HS) : 0.0f;
    const int ntiles = (T + BC - 1) / BC;

    auto load_kv = [&](int j, int buf) {
        flash_load_tile<HS>(Ks[buf], qkv, b, T, C3, C + h * HS, j * BC);
        flash_load_tile<HS>(Vs[buf], qkv, b, T, C3, 2 * C + h * HS, j * BC);
        if (threadIdx.x < BC) {
            int t2 = j * BC + threadIdx.x;
            kbias[buf][threadIdx.x] = (t2 < T && (!masking || key_mask[(size_t)b * T + t2])) ? 0.0f : -INFINITY;
        }
    };
    flash_load_tile<HS>(Qs, qkv, b, T, C3, h * HS, q0);
    load_kv(0, 0);
    cp_async_commit();

    uint32_t qf[KS][4];
    float o[NO][4];
    #pragma unroll
    for (int n = 0; n < NO; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};   // rows g and g+8
    uint64_t drow[2];                                               // dropout rows of g and g+8
    #pragma unroll
    for (int r = 0; r < 2; r++) drow[r] = ((uint64_t)b * NH + h) * T + (q0 + warp * 16 + g + 8 * r);

    for (int j = 0; j < ntiles; j++) {
        cp_async_wait<0>();
        __syncthreads();                       // tile j visible; buffer (j+1)%2 free
        if (j + 1 < ntiles) load_kv(j + 1, (j + 1) & 1);
        cp_async_commit();
        if (j == 0) {
            #pragma unroll
            for (int ks = 0; ks < KS; ks++) ldsm_a_mk(qf[ks], Qs, ROW, warp * 16, ks * 16, lane);
        }
        const bf16 *Kt = Ks[j & 1], *Vt = Vs[j & 1];
        const float *kb = kbias[j & 1];

        // S = Q Kᵀ: 8 n8 tiles of keys
        float s[BC / 8][4];
        #pragma unroll
        for (int n = 0; n < BC / 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
        #pragma unroll
        for (int ks = 0; ks < KS; ks++) {
            #pragma unroll
            for (int np = 0; np < BC / 16; np++) {
                mma_a_b_nk(s + 2 * np, qf[ks], Kt, ROW, np * 16, ks * 16, lane);
            }
        }
        // scale, mask, online softmax (rows g: elements 0,1; row g+8: elements 2,3)
        float mx[2] = {m[0], m[1]};
        #pragma unroll
        for (int n = 0; n < BC / 8; n++) {
            float bias0 = kb[n * 8 + 2 * tq], bias1 = kb[n * 8 + 2 * tq + 1];
            s[n][0] = s[n][0] * scale2 + bias0; s[n][1] = s[n][1] * scale2 + bias1;
            s[n][2] = s[n][2] * scale2 + bias0; s[n][3] = s[n][3] * scale2 + bias1;
            mx[0] = fmaxf(mx[0], fmaxf(s[n][0], s[n][1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[n][2], s[n][3]));
        }
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        }
        float mu[2], corr[2];
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            mu[r] = mx[r] == -INFINITY ? 0.0f : mx[r];
            corr[r] = exp2f(m[r] - mu[r]);
            l[r] *= corr[r];
            m[r] = mx[r];
        }
        #pragma unroll
        for (int n = 0; n < NO; n++) {
            o[n][0] *= corr[0]; o[n][1] *= corr[0];
            o[n][2] *= corr[1]; o[n][3] *= corr[1];
        }
        // P = exp2(s - m) into l; P' = P·keep·scale packed into A fragments: k16 block kb2 = n8
        // tiles 2kb2 and 2kb2+1
        uint32_t pf[BC / 16][4];
        #pragma unroll
        for (int n = 0; n < BC / 8; n++) {
            float p0 = exp2f(s[n][0] - mu[0]), p1 = exp2f(s[n][1] - mu[0]);
            float p2 = exp2f(s[n][2] - mu[1]), p3 = exp2f(s[n][3] - mu[1]);
            l[0] += p0 + p1;
            l[1] += p2 + p3;
            int t2 = j * BC + n * 8 + 2 * tq;
            p0 *= flash_keep_scale(drop, drow[0], T, t2); p1 *= flash_keep_scale(drop, drow[0], T, t2 + 1);
            p2 *= flash_keep_scale(drop, drow[1], T, t2); p3 *= flash_keep_scale(drop, drow[1], T, t2 + 1);
            int kb2 = n / 2, hi = n % 2;
            pf[kb2][hi * 2 + 0] = pack_bf16x2(p0, p1);   // a0 / a2: row g
            pf[kb2][hi * 2 + 1] = pack_bf16x2(p2, p3);   // a1 / a3: row g+8
        }
        // O += P V: V tile stored (key, d) = (k, n): ldmatrix.trans
        #pragma unroll
        for (int kb2 = 0; kb2 < BC / 16; kb2++) {
            #pragma unroll
            for (int np = 0; np < NO / 2; np++) {
                mma_a_b_kn(o + 2 * np, pf[kb2], Vt, ROW, np * 16, kb2 * 16, lane);
            }
        }
    }
    cp_async_wait<0>();

    // finish: quad-reduce l, normalize, store rows g and g+8
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        int t = q0 + warp * 16 + g + 8 * r;
        if (t >= T) continue;
        float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        OutT *op = out + ((size_t)b * T + t) * C + h * HS;
        #pragma unroll
        for (int n = 0; n < HS / 8; n++) {
            store_value(op + n * 8 + 2 * tq, o[n][2 * r] * inv);
            store_value(op + n * 8 + 2 * tq + 1, o[n][2 * r + 1] * inv);
        }
        if (tq == 0) lse[((size_t)b * NH + h) * T + t] = (m[r] == -INFINITY ? 0.0f : m[r]) * LN2_F + logf(l[r]);
    }
}

// needs C % 8 == 0 (16-byte rows and head offsets for cp.async) and HS in {8, 16, 32, 64}
template <typename OutT>
static void flash_forward_mma(OutT *out, float *lse, const bf16 *qkv, const int *key_mask, FlashDropout drop, int B,
                              int T, int C, int NH) {
    if (C % 8 != 0) { fprintf(stderr, "flash_forward_mma: C %% 8 != 0\n"); exit(2); }
    dim3 grid((T + flash_mma::BR - 1) / flash_mma::BR, NH, B);
    bool ok = flash_mma::flash_with_head_size(C / NH, [&](auto hs) {
        flash_forward_mma_kernel<decltype(hs)::value, OutT><<<grid, flash_mma::THREADS>>>(out, lse, qkv, key_mask, drop,
                                                                                         T, C, NH);
    });
    if (!ok) { fprintf(stderr, "flash_forward_mma: head size %d not instantiated (8, 16, 32, 64)\n", C / NH); exit(2); }
}

// ------------------------------------------------------------------------------------- backward: D pre-pass

// D[b,h,t] = Σ_i dout[b,t,h*HS+i] · out[b,t,h*HS+i]   (= Σ_t2 P dP for that query row); warp per row
template <typename T_>
__global__ void attention_rowdot_kernel(float *D, const T_ *dout, const T_ *out, int B, int T, int C, int NH) {
    int row = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
    if (row >= B * NH * T) return;
    int t = row % T, h = (row / T) % NH, b = row / (T * NH), HS = C / NH;
    size_t base = ((size_t)b * T + t) * C + h * HS;
    float acc = 0.0f;
    for (int i = lane; i < HS; i += 32) acc += load_value(dout + base + i) * load_value(out + base + i);
    acc = warp_reduce_sum(acc);
    if (lane == 0) D[row] = acc;
}
template <typename T_> static void attention_rowdot(float *D, const T_ *dout, const T_ *out, int B, int T, int C, int NH) {
    attention_rowdot_kernel<T_><<<(unsigned)ceil_div((size_t)B * NH * T * 32, (size_t)256), 256>>>(D, dout, out, B, T,
                                                                                                   C, NH);
}

// ------------------------------------------------------------------------------------- backward: bf16 mma.sync

// Key-owning kernel: CTA = 4 warps x 16 keys of one (b,h); query tiles of 64 stream through smem.
// Per warp and query tile (thread rows = keys g, g+8; columns = queries):
//   Sᵀ = K Qᵀ          A = K (regs)   B(k=d, n=i) = Q[i][d]  stored (n,k): ldsm_b_nk
//   Pᵀ = exp2(Sᵀ·scale2 + keybias(row) - lse2(col)), kᵀ = keep·scale of (col, row) (dropout)
//   dV += (Pᵀ∘kᵀ) dO   A = Pᵀ∘kᵀ (regs) B(k=i, n=d) = dO[i][d] stored (k,n): ldsm_b_kn
//   dPᵀ = V dOᵀ        A = V (regs)   B(k=d, n=i) = dO[i][d] stored (n,k): ldsm_b_nk
//   dSᵀ = Pᵀ ∘ (dPᵀ∘kᵀ - D(col))
//   dK += dSᵀ Q        A = dSᵀ (regs) B(k=i, n=d) = Q[i][d]  stored (k,n): ldsm_b_kn
template <int HS>
__global__ void __launch_bounds__(flash_mma::THREADS)
attention_dkdv_mma_kernel(float *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D,
                          const int *key_mask, FlashDropout drop, int T, int C, int NH) {
    using namespace flash_mma;
    constexpr int ROW = Smem<HS>::ROW, TILE = Smem<HS>::TILE, KS = Smem<HS>::HSP / 16, NO = Smem<HS>::HSP / 8;
    __shared__ __align__(16) bf16 Qs[2][TILE], dOs[2][TILE];
    __shared__ float lse2s[2][64], Dss[2][64];
    // the key tile is read into registers once, so it borrows buffer 1 of the streamed tiles
    // (static smem stays under 48 KB at HS = 64); freed before query tile 1 is loaded there
    bf16 *Ks = Qs[1], *Vs = dOs[1];

    const int b = blockIdx.z, h = blockIdx.y, k0 = blockIdx.x * 64;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, tq = lane & 3;
    const int C3 = 3 * C;
    const bool masking = any_key(key_mask, b, T);
    const float scale = 1.0f / sqrtf((float)HS), scale2 = masking ? scale * LOG2E_F : 0.0f;
    const int ntiles = (T + 63) / 64;

    // dout rows have stride C, qkv rows 3C: a small loader for the dO tile
    auto load_q = [&](int i, int buf) {
        flash_load_tile<HS>(Qs[buf], qkv, b, T, C3, h * HS, i * 64);
        flash_load_tile<HS>(dOs[buf], dout, b, T, C, h * HS, i * 64);
        if (threadIdx.x < 64) {
            int t = i * 64 + threadIdx.x;
            size_t r = ((size_t)b * NH + h) * T + t;
            lse2s[buf][threadIdx.x] = t < T ? lse[r] * LOG2E_F : INFINITY;
            Dss[buf][threadIdx.x] = t < T ? D[r] : 0.0f;
        }
    };
    flash_load_tile<HS>(Ks, qkv, b, T, C3, C + h * HS, k0);
    flash_load_tile<HS>(Vs, qkv, b, T, C3, 2 * C + h * HS, k0);
    load_q(0, 0);
    cp_async_commit();

    float kb[2];
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        int j = k0 + warp * 16 + g + 8 * r;
        kb[r] = (j < T && (!masking || key_mask[(size_t)b * T + j])) ? 0.0f : -INFINITY;
    }
    uint32_t kf[KS][4], vf[KS][4];
    float dk[NO][4], dv[NO][4];
    #pragma unroll
    for (int n = 0; n < NO; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) dk[n][e] = dv[n][e] = 0.0f;

    for (int it = 0; it < ntiles; it++) {
        cp_async_wait<0>();
        __syncthreads();
        if (it == 0) {
            #pragma unroll
            for (int ks = 0; ks < KS; ks++) {
                ldsm_a_mk(kf[ks], Ks, ROW, warp * 16, ks * 16, lane);
                ldsm_a_mk(vf[ks], Vs, ROW, warp * 16, ks * 16, lane);
            }
            __syncthreads();   // every warp holds its K/V fragments: buffer 1 may be overwritten
        }
        if (it + 1 < ntiles) load_q(it + 1, (it + 1) & 1);
        cp_async_commit();
        const bf16 *Qt = Qs[it & 1], *dOt = dOs[it & 1];
        const float *l2 = lse2s[it & 1], *Dt = Dss[it & 1];

        float st[8][4], dpt[8][4];
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) st[n][e] = dpt[n][e] = 0.0f;
        #pragma unroll
        for (int ks = 0; ks < KS; ks++) {
            #pragma unroll
            for (int np = 0; np < 4; np++) {
                mma_a_b_nk(st + 2 * np, kf[ks], Qt, ROW, np * 16, ks * 16, lane);
                mma_a_b_nk(dpt + 2 * np, vf[ks], dOt, ROW, np * 16, ks * 16, lane);
            }
        }
        // Pᵀ∘kᵀ and dSᵀ, packed as A fragments (k = queries): k16 block kq = n8 tiles 2kq, 2kq+1
        uint32_t pf[4][4], dsf[4][4];
        #pragma unroll
        for (int n = 0; n < 8; n++) {
            int c = n * 8 + 2 * tq;
            float p[4], ds[4];
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int col = c + (e & 1), r = e >> 1;
                float pr = exp2f(st[n][e] * scale2 + kb[r] - l2[col]);
                float ks = flash_keep_scale(drop, ((uint64_t)b * NH + h) * T + (it * 64 + col), T,
                                            k0 + warp * 16 + g + 8 * r);
                p[e] = pr * ks;
                ds[e] = pr * (dpt[n][e] * ks - Dt[col]);
            }
            int kq = n / 2, hi = n % 2;
            pf[kq][hi * 2 + 0] = pack_bf16x2(p[0], p[1]);
            pf[kq][hi * 2 + 1] = pack_bf16x2(p[2], p[3]);
            dsf[kq][hi * 2 + 0] = pack_bf16x2(ds[0], ds[1]);
            dsf[kq][hi * 2 + 1] = pack_bf16x2(ds[2], ds[3]);
        }
        #pragma unroll
        for (int kq = 0; kq < 4; kq++) {
            #pragma unroll
            for (int np = 0; np < NO / 2; np++) {
                mma_a_b_kn(dv + 2 * np, pf[kq], dOt, ROW, np * 16, kq * 16, lane);
                mma_a_b_kn(dk + 2 * np, dsf[kq], Qt, ROW, np * 16, kq * 16, lane);
            }
        }
    }
    cp_async_wait<0>();
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        int j = k0 + warp * 16 + g + 8 * r;
        if (j >= T) continue;
        float *dkp = dqkv + ((size_t)b * T + j) * C3 + C + h * HS;
        #pragma unroll
        for (int n = 0; n < HS / 8; n++)
            #pragma unroll
            for (int e = 0; e < 2; e++) {
                int i = n * 8 + 2 * tq + e;
                dkp[i] += dk[n][2 * r + e] * scale;
                dkp[C + i] += dv[n][2 * r + e];
            }
    }
}

// Query-owning kernel: CTA = 4 warps x 16 queries; key tiles of 64 stream through smem.
//   S = Q Kᵀ    B(k=d, n=j) = K[j][d] stored (n,k): ldsm_b_nk
//   dP = dO Vᵀ  B(k=d, n=j) = V[j][d] stored (n,k): ldsm_b_nk
//   dS = P ∘ (dP∘k - D(row)), k = keep·scale (dropout);  dQ += dS K   B(k=j, n=d) = K[j][d] stored (k,n):
//   ldsm_b_kn
template <int HS>
__global__ void __launch_bounds__(flash_mma::THREADS)
attention_dq_mma_kernel(float *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D,
                        const int *key_mask, FlashDropout drop, int T, int C, int NH) {
    using namespace flash_mma;
    constexpr int ROW = Smem<HS>::ROW, TILE = Smem<HS>::TILE, KS = Smem<HS>::HSP / 16, NO = Smem<HS>::HSP / 8;
    __shared__ __align__(16) bf16 Ks[2][TILE], Vs[2][TILE];
    __shared__ float kbias[2][64];
    // the query tile is read into registers once: it borrows buffer 1 (as in the dK/dV kernel)
    bf16 *Qs = Ks[1], *dOs = Vs[1];

    const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * 64;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, tq = lane & 3;
    const int C3 = 3 * C;
    const bool masking = any_key(key_mask, b, T);
    const float scale = 1.0f / sqrtf((float)HS), scale2 = masking ? scale * LOG2E_F : 0.0f;
    const int ntiles = (T + 63) / 64;

    auto load_kv = [&](int j, int buf) {
        flash_load_tile<HS>(Ks[buf], qkv, b, T, C3, C + h * HS, j * 64);
        flash_load_tile<HS>(Vs[buf], qkv, b, T, C3, 2 * C + h * HS, j * 64);
        if (threadIdx.x < 64) {
            int t2 = j * 64 + threadIdx.x;
            kbias[buf][threadIdx.x] = (t2 < T && (!masking || key_mask[(size_t)b * T + t2])) ? 0.0f : -INFINITY;
        }
    };
    flash_load_tile<HS>(Qs, qkv, b, T, C3, h * HS, q0);
    flash_load_tile<HS>(dOs, dout, b, T, C, h * HS, q0);
    load_kv(0, 0);
    cp_async_commit();

    float lse2[2], Drow[2];
    uint64_t drow[2];   // dropout rows
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        int t = min(q0 + warp * 16 + g + 8 * r, T - 1);
        size_t idx = ((size_t)b * NH + h) * T + t;
        lse2[r] = lse[idx] * LOG2E_F;
        Drow[r] = D[idx];
        drow[r] = idx;
    }
    uint32_t qf[KS][4], of[KS][4];
    float dq[NO][4];
    #pragma unroll
    for (int n = 0; n < NO; n++) dq[n][0] = dq[n][1] = dq[n][2] = dq[n][3] = 0.0f;

    for (int j = 0; j < ntiles; j++) {
        cp_async_wait<0>();
        __syncthreads();
        if (j == 0) {
            #pragma unroll
            for (int ks = 0; ks < KS; ks++) {
                ldsm_a_mk(qf[ks], Qs, ROW, warp * 16, ks * 16, lane);
                ldsm_a_mk(of[ks], dOs, ROW, warp * 16, ks * 16, lane);
            }
            __syncthreads();   // buffer 1 is free for key tile 1
        }
        if (j + 1 < ntiles) load_kv(j + 1, (j + 1) & 1);
        cp_async_commit();
        const bf16 *Kt = Ks[j & 1], *Vt = Vs[j & 1];
        const float *kb = kbias[j & 1];
        float s[8][4], dp[8][4];
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) s[n][e] = dp[n][e] = 0.0f;
        #pragma unroll
        for (int ks = 0; ks < KS; ks++) {
            #pragma unroll
            for (int np = 0; np < 4; np++) {
                mma_a_b_nk(s + 2 * np, qf[ks], Kt, ROW, np * 16, ks * 16, lane);
                mma_a_b_nk(dp + 2 * np, of[ks], Vt, ROW, np * 16, ks * 16, lane);
            }
        }
        uint32_t dsf[4][4];
        #pragma unroll
        for (int n = 0; n < 8; n++) {
            float ds[4];
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int col = n * 8 + 2 * tq + (e & 1), r = e >> 1;
                float p = exp2f(s[n][e] * scale2 + kb[col] - lse2[r]);
                float ks = flash_keep_scale(drop, drow[r], T, j * 64 + col);
                ds[e] = p * (dp[n][e] * ks - Drow[r]);
            }
            dsf[n / 2][(n % 2) * 2 + 0] = pack_bf16x2(ds[0], ds[1]);
            dsf[n / 2][(n % 2) * 2 + 1] = pack_bf16x2(ds[2], ds[3]);
        }
        #pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            #pragma unroll
            for (int np = 0; np < NO / 2; np++) {
                mma_a_b_kn(dq + 2 * np, dsf[kk], Kt, ROW, np * 16, kk * 16, lane);
            }
        }
    }
    cp_async_wait<0>();
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        int t = q0 + warp * 16 + g + 8 * r;
        if (t >= T) continue;
        float *dqp = dqkv + ((size_t)b * T + t) * C3 + h * HS;
        #pragma unroll
        for (int n = 0; n < HS / 8; n++) {
            dqp[n * 8 + 2 * tq] += dq[n][2 * r] * scale;
            dqp[n * 8 + 2 * tq + 1] += dq[n][2 * r + 1] * scale;
        }
    }
}

// FlashAttention-2 backward on tensor cores: D = rowsum(dO ∘ O), then the key-owning kernel (dK, dV)
// and the query-owning kernel (dQ), each adding into its own elements of dqkv (deterministic, no
// atomics). Inputs: bf16 qkv, dO and O (the forward's output), fp32 lse; D: B·NH·T floats of scratch.
// Needs C % 8 == 0 and HS in {8, 16, 32, 64}.
static void flash_backward_mma(float *dqkv, float *D, const bf16 *dout, const bf16 *qkv, const bf16 *out,
                               const float *lse, const int *key_mask, FlashDropout drop, int B, int T, int C, int NH) {
    if (C % 8 != 0) { fprintf(stderr, "flash_backward_mma: C %% 8 != 0\n"); exit(2); }
    attention_rowdot(D, dout, out, B, T, C, NH);
    dim3 grid(ceil_div(T, 64), NH, B);
    bool ok = flash_mma::flash_with_head_size(C / NH, [&](auto hs) {
        constexpr int HS = decltype(hs)::value;
        attention_dkdv_mma_kernel<HS><<<grid, flash_mma::THREADS>>>(dqkv, qkv, dout, lse, D, key_mask, drop, T, C, NH);
        attention_dq_mma_kernel<HS><<<grid, flash_mma::THREADS>>>(dqkv, qkv, dout, lse, D, key_mask, drop, T, C, NH);
    });
    if (!ok) { fprintf(stderr, "flash_backward_mma: head size %d not instantiated (8, 16, 32, 64)\n", C / NH); exit(2); }
}
