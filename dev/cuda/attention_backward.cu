/*
attention_backward.cu: multi-head self-attention backward with a key padding mask. Forward was
s = q·kᵀ·scale (scale = 1/sqrt(HS)), P = masked softmax(s), out = P·V. Backward ADDS into
dqkv (B,T,3C) (kernels/kernels.h convention):
    dP = dO·Vᵀ     dV += Pᵀ·dO     dS = P ∘ (dP - rowsum(P ∘ dP))     dQ += scale·dS·K     dK += scale·dSᵀ·Q
and rowsum(P ∘ dP) = dO·O per query row (D), which the fused versions use instead of P.
CPU reference: attention_backward from kernels/ (dropout_p = 0), linked from build/cuda/libref.a.

Build and run (from the repo root):
    make cuda                           # or: make -C dev/cuda attention_backward
    ./build/cuda/attention_backward     # validate every version at every size, then benchmark
    ./build/cuda/attention_backward 3   # one version only

Version 1: unfused fp32 from the saved probabilities att (B,NH,T,T), like the CPU reference:
dP = dO·Vᵀ (one thread per (b,h,t,t2)), softmax backward in place (one warp per row), then one
kernel in which every thread owns one element of dqkv and sums its column of dS·K, dSᵀ·Q or Pᵀ·dO.
O(T²) scratch per head, no atomics.

Version 2: fused flash-style fp32 SIMT, FlashAttention-2's recompute scheme without any T x T
tensor: a pre-pass D = rowsum(dO ∘ O); a key-owning kernel (one thread per key, dK and dV in
registers, query tiles of Q, dO, lse, D in shared memory) that recomputes P = exp(s - lse) and dS per
(query, key); and a query-owning kernel (one thread per query, dQ in registers, K/V tiles in shared
memory) that recomputes them again for dQ. Two passes instead of FA2's atomicAdd on dQ: the
gradient is deterministic and each thread adds into its own elements of dqkv.

Version 3: the same three kernels on bf16 tensor cores (mma.sync m16n8k16, fp32 accumulation). The
key-owning kernel computes the transposed products directly — Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ with K and V
fragments held in registers, dV += Pᵀ·dO and dK += dSᵀ·Q with Pᵀ and dSᵀ re-packed from the
accumulators into A fragments — so no warp ever needs another warp's rows. The query-owning kernel
does S = Q·Kᵀ, dP = dO·Vᵀ, dQ += dS·K the same way. Q/dO (resp. K/V) tiles double-buffered by
cp.async. Inputs are the bf16 qkv and dO and the bf16 O and fp32 lse of attention_forward's
version 3. Head sizes 32 and 64.

Validation: fresh random non-zero qkv and dout, dqkv pre-filled with random values (it is added
into), masks with right padding plus holes, at B8xT128 C768 NH12, T = 77, heads of 32 and a case with
one batch row fully masked. The fused versions take O and lse from the matching fused forward
(attention_flash.cuh, validated by attention_forward). Benchmark at B8xT128 and B32xT256.
*/
#include <math.h>
#include "common.h"
extern "C" {
#include "kernels/kernels.h"
}
#include "kernels/cuda/attention_flash.cuh"

// ------------------------------------------------------------------------------------- version 1

#include "kernels/cuda/attention.cuh"

static void attention_backward1(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                                int B, int T, int C, int NH) {
    size_t n_att = (size_t)B * NH * T * T;
    // no dropout here: p = 0, keep scale 1
    attention_datt_kernel<<<(unsigned)ceil_div(n_att, (size_t)256), 256>>>(scratch, dout, qkv, 0.0f, 1.0f, 0, B, T, C, NH);
    int rows = B * NH * T;
    attention_softmax_backward_kernel<<<(unsigned)ceil_div((size_t)rows * 32, (size_t)256), 256>>>(
        scratch, att, rows, T, 1.0f / sqrtf((float)(C / NH)));
    attention_dqkv_kernel<<<(unsigned)ceil_div((size_t)B * T * 3 * C, (size_t)256), 256>>>(dqkv, scratch, att, dout,
                                                                                          qkv, 0.0f, 1.0f, 0, B, T, C,
                                                                                          NH);
}

// ------------------------------------------------------------------------------------- D pre-pass

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

// ------------------------------------------------------------------------------------- version 2

namespace bwd_simt {
constexpr int OWN = 64;      // keys (resp. queries) per CTA = threads per CTA
constexpr int STREAM = 16;   // queries (resp. keys) per streamed smem tile (static smem < 48 KB)
}

// one thread per key: dk, dv of that key in registers; query tiles (Q, dO, lse, D) through smem
template <int HS>
__global__ void __launch_bounds__(bwd_simt::OWN)
attention_dkdv_simt_kernel(float *dqkv, const float *qkv, const float *dout, const float *lse, const float *D,
                           const int *key_mask, int T, int C, int NH) {
    using bwd_simt::OWN;
    using bwd_simt::STREAM;
    __shared__ float Qs[STREAM][HS + 1], dOs[STREAM][HS + 1], Ks[OWN][HS + 1], Vs[OWN][HS + 1];
    __shared__ float lse2[STREAM], Ds[STREAM];
    const int b = blockIdx.z, h = blockIdx.y, j = blockIdx.x * OWN + threadIdx.x, C3 = 3 * C;
    const bool masking = any_key(key_mask, b, T);
    const float scale = 1.0f / sqrtf((float)HS), scale2 = masking ? scale * LOG2E_F : 0.0f;
    for (int e = threadIdx.x; e < OWN * HS; e += OWN) {
        int r = e / HS, i = e % HS, t2 = blockIdx.x * OWN + r;
        const float *kv = qkv + ((size_t)b * T + min(t2, T - 1)) * C3 + C + h * HS;
        Ks[r][i] = t2 < T ? kv[i] : 0.0f;
        Vs[r][i] = t2 < T ? kv[C + i] : 0.0f;
    }
    const float kbias = (j < T && (!masking || key_mask[(size_t)b * T + j])) ? 0.0f : -INFINITY;
    float dk[HS], dv[HS];
    #pragma unroll
    for (int i = 0; i < HS; i++) dk[i] = dv[i] = 0.0f;

    for (int i0 = 0; i0 < T; i0 += STREAM) {
        __syncthreads();
        for (int e = threadIdx.x; e < STREAM * HS; e += OWN) {
            int r = e / HS, i = e % HS, t = i0 + r;
            size_t row = (size_t)b * T + min(t, T - 1);
            Qs[r][i] = t < T ? qkv[row * C3 + h * HS + i] : 0.0f;
            dOs[r][i] = t < T ? dout[row * C + h * HS + i] : 0.0f;
        }
        if (threadIdx.x < STREAM) {
            int t = i0 + threadIdx.x;
            size_t r = ((size_t)b * NH + h) * T + min(t, T - 1);
            lse2[threadIdx.x] = t < T ? lse[r] * LOG2E_F : INFINITY;  // past T: P = 0
            Ds[threadIdx.x] = t < T ? D[r] : 0.0f;
        }
        __syncthreads();
        int n = min(STREAM, T - i0);
        #pragma unroll 1
        for (int r = 0; r < n; r++) {
            float s = 0.0f, dp = 0.0f;
            #pragma unroll
            for (int i = 0; i < HS; i++) { s += Ks[threadIdx.x][i] * Qs[r][i]; dp += Vs[threadIdx.x][i] * dOs[r][i]; }
            float p = exp2f(s * scale2 + kbias - lse2[r]);
            float ds = p * (dp - Ds[r]);
            #pragma unroll
            for (int i = 0; i < HS; i++) { dv[i] += p * dOs[r][i]; dk[i] += ds * Qs[r][i]; }
        }
    }
    if (j >= T) return;
    float *dkp = dqkv + ((size_t)b * T + j) * C3 + C + h * HS;
    #pragma unroll
    for (int i = 0; i < HS; i++) { dkp[i] += dk[i] * scale; dkp[C + i] += dv[i]; }
}

// one thread per query: dq in registers; K/V tiles through smem
template <int HS>
__global__ void __launch_bounds__(bwd_simt::OWN)
attention_dq_simt_kernel(float *dqkv, const float *qkv, const float *dout, const float *lse, const float *D,
                         const int *key_mask, int T, int C, int NH) {
    using bwd_simt::OWN;
    using bwd_simt::STREAM;
    __shared__ float Qs[OWN][HS + 1], dOs[OWN][HS + 1], Ks[STREAM][HS + 1], Vs[STREAM][HS + 1];
    __shared__ float kbias[STREAM];
    const int b = blockIdx.z, h = blockIdx.y, t = blockIdx.x * OWN + threadIdx.x, C3 = 3 * C;
    const bool masking = any_key(key_mask, b, T);
    const float scale = 1.0f / sqrtf((float)HS), scale2 = masking ? scale * LOG2E_F : 0.0f;
    for (int e = threadIdx.x; e < OWN * HS; e += OWN) {
        int r = e / HS, i = e % HS, tt = blockIdx.x * OWN + r;
        size_t row = (size_t)b * T + min(tt, T - 1);
        Qs[r][i] = tt < T ? qkv[row * C3 + h * HS + i] : 0.0f;
        dOs[r][i] = tt < T ? dout[row * C + h * HS + i] : 0.0f;
    }
    size_t lrow = ((size_t)b * NH + h) * T + min(t, T - 1);
    const float my_lse2 = lse[lrow] * LOG2E_F, my_D = D[lrow];
    float dq[HS];
    #pragma unroll
    for (int i = 0; i < HS; i++) dq[i] = 0.0f;

    for (int j0 = 0; j0 < T; j0 += STREAM) {
        __syncthreads();
        for (int e = threadIdx.x; e < STREAM * HS; e += OWN) {
            int r = e / HS, i = e % HS, t2 = j0 + r;
            const float *kv = qkv + ((size_t)b * T + min(t2, T - 1)) * C3 + C + h * HS;
            Ks[r][i] = t2 < T ? kv[i] : 0.0f;
            Vs[r][i] = t2 < T ? kv[C + i] : 0.0f;
        }
        if (threadIdx.x < STREAM) {
            int t2 = j0 + threadIdx.x;
            kbias[threadIdx.x] = (t2 < T && (!masking || key_mask[(size_t)b * T + t2])) ? 0.0f : -INFINITY;
        }
        __syncthreads();
        int n = min(STREAM, T - j0);
        #pragma unroll 1
        for (int r = 0; r < n; r++) {
            float s = 0.0f, dp = 0.0f;
            #pragma unroll
            for (int i = 0; i < HS; i++) { s += Qs[threadIdx.x][i] * Ks[r][i]; dp += dOs[threadIdx.x][i] * Vs[r][i]; }
            float p = exp2f(s * scale2 + kbias[r] - my_lse2);
            float ds = p * (dp - my_D);
            #pragma unroll
            for (int i = 0; i < HS; i++) dq[i] += ds * Ks[r][i];
        }
    }
    if (t >= T) return;
    float *dqp = dqkv + ((size_t)b * T + t) * C3 + h * HS;
    #pragma unroll
    for (int i = 0; i < HS; i++) dqp[i] += dq[i] * scale;
}

static void attention_backward2(float *dqkv, float *D, const float *dout, const float *qkv, const float *out,
                                const float *lse, const int *key_mask, int B, int T, int C, int NH) {
    int HS = C / NH;
    attention_rowdot(D, dout, out, B, T, C, NH);
    dim3 grid(ceil_div(T, bwd_simt::OWN), NH, B);
    const int threads = bwd_simt::OWN;
    if (HS == 64) {
        attention_dkdv_simt_kernel<64><<<grid, threads>>>(dqkv, qkv, dout, lse, D, key_mask, T, C, NH);
        attention_dq_simt_kernel<64><<<grid, threads>>>(dqkv, qkv, dout, lse, D, key_mask, T, C, NH);
    } else if (HS == 32) {
        attention_dkdv_simt_kernel<32><<<grid, threads>>>(dqkv, qkv, dout, lse, D, key_mask, T, C, NH);
        attention_dq_simt_kernel<32><<<grid, threads>>>(dqkv, qkv, dout, lse, D, key_mask, T, C, NH);
    } else {
        fprintf(stderr, "attention_backward2: head size %d not instantiated (32, 64)\n", HS);
        exit(2);
    }
}

// ------------------------------------------------------------------------------------- version 3

// Key-owning kernel: CTA = 4 warps x 16 keys of one (b,h); query tiles of 64 stream through smem.
// Per warp and query tile (thread rows = keys g, g+8; columns = queries):
//   Sᵀ = K Qᵀ          A = K (regs)   B(k=d, n=i) = Q[i][d]  stored (n,k): ldsm_b_nk
//   Pᵀ = exp2(Sᵀ·scale2 + keybias(row) - lse2(col))
//   dV += Pᵀ dO        A = Pᵀ (regs)  B(k=i, n=d) = dO[i][d] stored (k,n): ldsm_b_kn
//   dPᵀ = V dOᵀ        A = V (regs)   B(k=d, n=i) = dO[i][d] stored (n,k): ldsm_b_nk
//   dSᵀ = Pᵀ ∘ (dPᵀ - D(col))
//   dK += dSᵀ Q        A = dSᵀ (regs) B(k=i, n=d) = Q[i][d]  stored (k,n): ldsm_b_kn
template <int HS>
__global__ void __launch_bounds__(flash_mma::THREADS)
attention_dkdv_mma_kernel(float *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D,
                          const int *key_mask, int T, int C, int NH) {
    using namespace flash_mma;
    constexpr int ROW = Smem<HS>::ROW, TILE = Smem<HS>::TILE, KS = HS / 16, NO = HS / 8;
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
        // Pᵀ and dSᵀ, packed as A fragments (k = queries): k16 block kq = n8 tiles 2kq, 2kq+1
        uint32_t pf[4][4], dsf[4][4];
        #pragma unroll
        for (int n = 0; n < 8; n++) {
            int c = n * 8 + 2 * tq;
            float p[4], ds[4];
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int col = c + (e & 1), r = e >> 1;
                p[e] = exp2f(st[n][e] * scale2 + kb[r] - l2[col]);
                ds[e] = p[e] * (dpt[n][e] - Dt[col]);
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
        for (int n = 0; n < NO; n++)
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
//   dS = P ∘ (dP - D(row));  dQ += dS K   B(k=j, n=d) = K[j][d] stored (k,n): ldsm_b_kn
template <int HS>
__global__ void __launch_bounds__(flash_mma::THREADS)
attention_dq_mma_kernel(float *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D,
                        const int *key_mask, int T, int C, int NH) {
    using namespace flash_mma;
    constexpr int ROW = Smem<HS>::ROW, TILE = Smem<HS>::TILE, KS = HS / 16, NO = HS / 8;
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
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        int t = min(q0 + warp * 16 + g + 8 * r, T - 1);
        size_t idx = ((size_t)b * NH + h) * T + t;
        lse2[r] = lse[idx] * LOG2E_F;
        Drow[r] = D[idx];
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
                ds[e] = p * (dp[n][e] - Drow[r]);
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
        for (int n = 0; n < NO; n++) {
            dqp[n * 8 + 2 * tq] += dq[n][2 * r] * scale;
            dqp[n * 8 + 2 * tq + 1] += dq[n][2 * r + 1] * scale;
        }
    }
}

static void attention_backward3(float *dqkv, float *D, const bf16 *dout, const bf16 *qkv, const bf16 *out,
                                const float *lse, const int *key_mask, int B, int T, int C, int NH) {
    int HS = C / NH;
    if (C % 8 != 0) { fprintf(stderr, "attention_backward3: C %% 8 != 0\n"); exit(2); }
    attention_rowdot(D, dout, out, B, T, C, NH);
    dim3 grid(ceil_div(T, 64), NH, B);
    if (HS == 64) {
        attention_dkdv_mma_kernel<64><<<grid, flash_mma::THREADS>>>(dqkv, qkv, dout, lse, D, key_mask, T, C, NH);
        attention_dq_mma_kernel<64><<<grid, flash_mma::THREADS>>>(dqkv, qkv, dout, lse, D, key_mask, T, C, NH);
    } else if (HS == 32) {
        attention_dkdv_mma_kernel<32><<<grid, flash_mma::THREADS>>>(dqkv, qkv, dout, lse, D, key_mask, T, C, NH);
        attention_dq_mma_kernel<32><<<grid, flash_mma::THREADS>>>(dqkv, qkv, dout, lse, D, key_mask, T, C, NH);
    } else {
        fprintf(stderr, "attention_backward3: head size %d not instantiated (32, 64)\n", HS);
        exit(2);
    }
}

// ------------------------------------------------------------------------------------- dispatch

struct Problem {
    int B, T, C, NH;
    float *qkv, *dout, *att, *scratch, *out, *lse, *D, *dqkv;
    bf16 *qkv16, *dout16, *out16;
    int *mask;
};
static const int NUM_VERSIONS = 3;
static bool version_is_bf16(int v) { return v == 3; }

static void attention_backward(int v, const Problem &p) {
    switch (v) {
    case 1: attention_backward1(p.dqkv, p.scratch, p.dout, p.qkv, p.att, p.B, p.T, p.C, p.NH); break;
    case 2: attention_backward2(p.dqkv, p.D, p.dout, p.qkv, p.out, p.lse, p.mask, p.B, p.T, p.C, p.NH); break;
    case 3: attention_backward3(p.dqkv, p.D, p.dout16, p.qkv16, p.out16, p.lse, p.mask, p.B, p.T, p.C, p.NH); break;
    default: fprintf(stderr, "no version %d\n", v); exit(2);
    }
    cudaCheckLaunch();
}

// the forward outputs each version consumes: att (v1, from the CPU reference, as training would
// have saved it), O + lse from the fused forward of the same precision (v2, v3)
static void prepare_forward(int v, Problem &p, const float *att_host) {
    if (v == 1) to_device(p.att, att_host, (size_t)p.B * p.NH * p.T * p.T);
    if (v == 2) flash_forward_simt(p.out, p.lse, p.qkv, p.mask, p.B, p.T, p.C, p.NH);
    if (v == 3) flash_forward_mma<bf16>(p.out16, p.lse, p.qkv16, p.mask, p.B, p.T, p.C, p.NH);
    cudaCheckLaunch();
    cudaCheck(cudaDeviceSynchronize());
}

static Problem problem_alloc(int B, int T, int C, int NH, bool unfused) {
    Problem p;
    p.B = B; p.T = T; p.C = C; p.NH = NH;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    p.qkv = dev_alloc<float>(nqkv);
    p.dout = dev_alloc<float>(nout);
    p.att = unfused ? dev_alloc<float>(natt) : NULL;
    p.scratch = unfused ? dev_alloc<float>(natt) : NULL;
    p.out = dev_alloc<float>(nout);
    p.lse = dev_alloc<float>((size_t)B * NH * T);
    p.D = dev_alloc<float>((size_t)B * NH * T);
    p.dqkv = dev_alloc<float>(nqkv);
    p.qkv16 = dev_alloc<bf16>(nqkv);
    p.dout16 = dev_alloc<bf16>(nout);
    p.out16 = dev_alloc<bf16>(nout);
    p.mask = dev_alloc<int>((size_t)B * T);
    return p;
}
static void problem_free(Problem &p) {
    float *f[] = {p.qkv, p.dout, p.att, p.scratch, p.out, p.lse, p.D, p.dqkv};
    for (float *x : f) if (x) cudaCheck(cudaFree(x));
    bf16 *h[] = {p.qkv16, p.dout16, p.out16};
    for (bf16 *x : h) cudaCheck(cudaFree(x));
    cudaCheck(cudaFree(p.mask));
}
static void upload_both(float *d32, bf16 *d16, const float *host, size_t n) {
    to_device(d32, host, n);
    std::vector<bf16> tmp(n);
    float_to_bf16(tmp.data(), host, n);
    to_device(d16, tmp.data(), n);
}

// right padding to a random length in [T/2, T] plus random holes after position 0; batch row
// `all_masked` (or -1) gets no real key at all
static void make_mask(int *mask, int B, int T, int all_masked) {
    for (int b = 0; b < B; b++) {
        int len = b == 0 ? T : T / 2 + lab_rand_int(T - T / 2 + 1);
        for (int t = 0; t < T; t++) mask[b * T + t] = t < len && (t == 0 || lab_rand_int(100) >= 15);
        if (b == all_masked) for (int t = 0; t < T; t++) mask[b * T + t] = 0;
    }
}

// ------------------------------------------------------------------------------------- main

struct Case { int B, T, C, NH, all_masked; const char *label; };

static const Tolerance TOL_FLASH_FP32 = {1e-3f, 1e-2f};   // recomputed P (exp2f) vs the saved one
// bf16 backward: every gradient is a sum of terms carrying bf16 rounding errors: P (dV = Pᵀ·dO), dS
// (dK = dSᵀ·Q, dQ = dS·K), and through dS the error of D = rowsum(dO∘O) from the forward's bf16 O.
// Statistically (TOL_BF16_SUM's argument, three sources) the error is ~2e-3 · RMS of the gradient
// (measured 1.5-1.9e-3); but rows whose probability sits on one or two keys make a few gradient
// elements several times the RMS, each with a u = 2^-9 error per source relative to itself: the
// worst case is ~3 · u · max|g| ≈ 6e-3 · (max|g| / RMS) · RMS, up to ~5e-2 · RMS for max|g| ≈ 8 RMS.
// rel 3e-2 with the RMS as floor sits between the two; the largest seen is 0.015 (doc/cuda.md).
// The gradients are added into pre-filled dqkv, so the increments are compared (validate_added):
// the floor is the RMS of the gradient itself, not of the random prefill (the old {3e-2, 3e-2} on
// the sums allowed 3 % of the prefill's RMS, unrelated to the gradient, and failed at 0.033).
static const Tolerance TOL_FLASH_BF16 = {3e-2f, 1.0f};

static void validate_case(int v, const Case &c) {
    const int B = c.B, T = c.T, C = c.C, NH = c.NH;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    float *qkv = make_random_float(nqkv), *dout = make_random_float(nout);
    if (version_is_bf16(v)) { round_to_bf16(qkv, nqkv); round_to_bf16(dout, nout); }
    float *dqkv = make_random_float(nqkv);   // added into
    std::vector<float> dqkv_before(dqkv, dqkv + nqkv);
    std::vector<int> mask((size_t)B * T);
    make_mask(mask.data(), B, T, c.all_masked);
    float *ref_out = (float *)host_malloc(nout * sizeof(float));
    float *ref_att = (float *)host_malloc(natt * sizeof(float));
    attention_forward(ref_out, ref_att, qkv, mask.data(), 0.0f, 0, B, T, C, NH);

    Problem p = problem_alloc(B, T, C, NH, v == 1);
    upload_both(p.qkv, p.qkv16, qkv, nqkv);
    upload_both(p.dout, p.dout16, dout, nout);
    to_device(p.mask, mask.data(), mask.size());
    to_device(p.dqkv, dqkv, nqkv);
    prepare_forward(v, p, ref_att);
    poison(p.D, (size_t)B * NH * T * sizeof(float));
    if (p.scratch) poison(p.scratch, natt * sizeof(float));
    attention_backward(v, p);
    cudaCheck(cudaDeviceSynchronize());

    attention_backward(dqkv, dout, qkv, ref_att, 0.0f, 0, B, T, C, NH);
    printf("version %d  %s (B %d T %d C %d NH %d HS %d)\n", v, c.label, B, T, C, NH, C / NH);
    Tolerance tol = v == 1 ? TOL_FP32 : v == 2 ? TOL_FLASH_FP32 : TOL_FLASH_BF16;
    validate_added("dqkv", p.dqkv, dqkv, dqkv_before.data(), nqkv, tol);
    problem_free(p);
    free(qkv); free(dout); free(dqkv); free(ref_out); free(ref_att);
}

int main(int argc, char **argv) {
    lab_init("attention_backward");
    const Case cases[] = {
        {8, 128, 768, 12, -1, "B8xT128_C768_NH12"},
        {8, 77, 768, 12, -1, "B8xT77_C768_NH12"},
        {4, 77, 384, 12, -1, "B4xT77_C384_HS32"},
        {3, 50, 128, 4, 2, "B3xT50_HS32_rowmasked"},
    };
    // emulated: T = 77 (a full and a partial 64-row tile of queries and of keys) with heads of 64
    // and of 32, and the fully masked batch row
    const Case emulated[] = {
        {2, 77, 128, 2, -1, "B2xT77_C128_HS64"},
        {2, 77, 64, 2, -1, "B2xT77_C64_HS32"},
        {3, 50, 128, 4, 2, "B3xT50_HS32_rowmasked"},
    };
    const Case bench[] = {
        {8, 128, 768, 12, -1, "B8xT128_C768_NH12"},
        {32, 256, 768, 12, -1, "B32xT256_C768_NH12"},
    };
    for (int v = 1; v <= NUM_VERSIONS; v++) {
        if (!lab_want(argc, argv, v)) continue;
        lab_version = v;
        for (const Case &c : lab_cases(cases, emulated)) validate_case(v, c);
    }
    if (lab_emulated) return lab_exit();

    for (const Case &c : bench) {
        size_t nqkv = (size_t)c.B * c.T * 3 * c.C, nout = (size_t)c.B * c.T * c.C, natt = (size_t)c.B * c.NH * c.T * c.T;
        Problem p = problem_alloc(c.B, c.T, c.C, c.NH, true);
        float *qkv = make_random_float(nqkv), *dout = make_random_float(nout);
        std::vector<int> mask((size_t)c.B * c.T);
        make_mask(mask.data(), c.B, c.T, -1);
        std::vector<float> att(natt), out(nout);
        attention_forward(out.data(), att.data(), qkv, mask.data(), 0.0f, 0, c.B, c.T, c.C, c.NH);
        upload_both(p.qkv, p.qkv16, qkv, nqkv);
        upload_both(p.dout, p.dout16, dout, nout);
        to_device(p.mask, mask.data(), mask.size());
        cudaCheck(cudaMemset(p.dqkv, 0, nqkv * sizeof(float)));
        for (int v = 1; v <= NUM_VERSIONS; v++) {
            if (!lab_want(argc, argv, v)) continue;
            prepare_forward(v, p, att.data());
            Timing t = benchmark([&] { attention_backward(v, p); });
            double elt = version_is_bf16(v) ? 2.0 : 4.0;
            double BT = (double)c.B * c.T, heads = (double)c.B * c.NH;
            // qkv, dout (and O) read, dqkv read + written; v1 also reads att and round-trips its scratch
            double bytes = elt * BT * 5 * c.C + 8.0 * BT * 3 * c.C +
                           (v == 1 ? 4.0 * 4 * heads * c.T * c.T : 8.0 * heads * c.T);
            // dP, dV, dQ, dK products (v1) — the fused versions also recompute S (and S, dP twice)
            double flops = 8.0 * heads * c.T * c.T * (c.C / c.NH);
            print_result("attention_backward", v, t, bytes, flops,
                         version_is_bf16(v) ? PEAK_TFLOPS_BF16 : PEAK_TFLOPS_FP32, c.label);
        }
        problem_free(p);
        free(qkv); free(dout);
    }
    return lab_exit();
}
