// attention_flash.cuh: the fused (FlashAttention-2 style) attention forwards, shared by the
// attention_forward lab (which validates and times them) and the attention_backward lab (which needs
// their O and logsumexp as inputs, exactly as training would produce them).
//
// Semantics = kernels/attention.c without dropout: qkv (B,T,3C) = [Q | K | V] per token,
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
#pragma once
#include "matmul_mma.cuh"

#define LOG2E_F 1.4426950408889634f
#define LN2_F 0.6931471805599453f

// does batch row b have at least one real key? (block-wide; every thread gets the answer)
__device__ __forceinline__ bool any_key(const int *key_mask, int b, int T) {
    int found = 0;
    for (int t = threadIdx.x; t < T; t += blockDim.x) found |= key_mask[(size_t)b * T + t] != 0;
    return __syncthreads_or(found) != 0;
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
template <int HS> struct Smem {
    static constexpr int ROW = HS + 8;                     // padded row: conflict-free ldmatrix
    static constexpr int TILE = 64 * ROW;                  // one 64 x HS tile (bf16 elements)
};
}  // namespace flash_mma

// one 64-row x HS tile of the q, k or v columns of qkv (rows r0.., zero-filled past T)
template <int HS>
__device__ __forceinline__ void flash_load_tile(bf16 *tile, const bf16 *qkv, int b, int T, int C3, int col0, int r0) {
    constexpr int ROW = flash_mma::Smem<HS>::ROW, CPR = HS / 8;  // 16-byte chunks per row
    for (int c = threadIdx.x; c < 64 * CPR; c += flash_mma::THREADS) {
        int r = c / CPR, ch = c % CPR, t = r0 + r;
        bool ok = t < T;
        const bf16 *src = qkv + ((size_t)b * T + (ok ? t : 0)) * C3 + col0 + ch * 8;
        cp_async16(tile + r * ROW + ch * 8, src, ok);
    }
}

template <int HS, typename OutT>
__global__ void __launch_bounds__(flash_mma::THREADS)
flash_forward_mma_kernel(OutT *out, float *lse, const bf16 *qkv, const int *key_mask, int T, int C, int NH) {
    using namespace flash_mma;
    constexpr int ROW = Smem<HS>::ROW, TILE = Smem<HS>::TILE;
    constexpr int KS = HS / 16;     // k16 steps over the head dimension
    constexpr int NO = HS / 8;      // n8 tiles of the output
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
        // P = exp2(s - m), packed into A fragments: k16 block kb2 = n8 tiles 2kb2 and 2kb2+1
        uint32_t pf[BC / 16][4];
        #pragma unroll
        for (int n = 0; n < BC / 8; n++) {
            float p0 = exp2f(s[n][0] - mu[0]), p1 = exp2f(s[n][1] - mu[0]);
            float p2 = exp2f(s[n][2] - mu[1]), p3 = exp2f(s[n][3] - mu[1]);
            l[0] += p0 + p1;
            l[1] += p2 + p3;
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
        for (int n = 0; n < NO; n++) {
            store_value(op + n * 8 + 2 * tq, o[n][2 * r] * inv);
            store_value(op + n * 8 + 2 * tq + 1, o[n][2 * r + 1] * inv);
        }
        if (tq == 0) lse[((size_t)b * NH + h) * T + t] = (m[r] == -INFINITY ? 0.0f : m[r]) * LN2_F + logf(l[r]);
    }
}

// needs C % 8 == 0 (16-byte rows and head offsets for cp.async) and HS in {32, 64}
template <typename OutT>
static void flash_forward_mma(OutT *out, float *lse, const bf16 *qkv, const int *key_mask, int B, int T, int C,
                              int NH) {
    int HS = C / NH;
    if (C % 8 != 0) { fprintf(stderr, "flash_forward_mma: C %% 8 != 0\n"); exit(2); }
    dim3 grid((T + flash_mma::BR - 1) / flash_mma::BR, NH, B);
    if (HS == 64) flash_forward_mma_kernel<64, OutT><<<grid, flash_mma::THREADS>>>(out, lse, qkv, key_mask, T, C, NH);
    else if (HS == 32) flash_forward_mma_kernel<32, OutT><<<grid, flash_mma::THREADS>>>(out, lse, qkv, key_mask, T, C, NH);
    else { fprintf(stderr, "flash_forward_mma: head size %d not instantiated (32, 64)\n", HS); exit(2); }
}
