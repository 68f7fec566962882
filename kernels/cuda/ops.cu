// kernels/cuda/ops.cu: the memory-bound ops of the GPU training path, each chosen from a kernel lab
// in dev/cuda/ (named at each kernel; the lab's header comment documents the version and its
// validation). Changes against the lab code are listed where they exist; the usual one is a scalar
// fallback (the lab's version 1) when a float4 version's alignment or size condition does not hold.
// Semantics = kernels/*.c (see kernels/kernels.h); every backward adds into its gradients.
#include <math.h>

#include "kernels/cuda/ops.h"
#include "kernels/dropout.h"

int mc_num_sms(void) {
    static int sms = 0;
    if (sms == 0) {
        int dev = 0;
        cudaCheck(cudaGetDevice(&dev));
        cudaCheck(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
        if (sms <= 0) sms = 1;
    }
    return sms;
}

static bool aligned_f4(const void *p) { return ((uintptr_t)p & 15) == 0; }
// grid for grid-stride loops: enough blocks for the work, at most 8 per SM (the labs' choice)
static int grid_stride(size_t work, int block) {
    size_t g = mc_ceil_div(work, (size_t)block);
    size_t cap = (size_t)mc_num_sms() * 8;
    return (int)(g < 1 ? 1 : g > cap ? cap : g);
}

// ------------------------------------------------------------------------------------- embedding

// chosen from dev/cuda/embedding_forward.cu version 2 (float4 gathers), version 1 when C % 4 != 0
__global__ void emb_fwd_kernel1(float *out, const int *ids, const int *pos, const int *type_ids, const float *wte,
                                const float *wpe, const float *wtt, int BT, int C) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)BT * C) return;
    int bt = (int)(idx / C), c = (int)(idx % C);
    float w = wte[(size_t)ids[bt] * C + c];
    if (wtt) w += wtt[(size_t)type_ids[bt] * C + c];
    out[idx] = w + wpe[(size_t)pos[bt] * C + c];
}
__global__ void emb_fwd_kernel2(float *out, const int *ids, const int *pos, const int *type_ids, const float *wte,
                                const float *wpe, const float *wtt, int BT, int C) {
    int C4 = C / 4;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)BT * C4) return;
    int bt = (int)(idx / C4), c4 = (int)(idx % C4);
    float4 w = __ldg(reinterpret_cast<const float4 *>(wte + (size_t)ids[bt] * C) + c4);
    if (wtt) {
        float4 t = __ldg(reinterpret_cast<const float4 *>(wtt + (size_t)type_ids[bt] * C) + c4);
        w = make_float4(w.x + t.x, w.y + t.y, w.z + t.z, w.w + t.w);
    }
    float4 p = __ldg(reinterpret_cast<const float4 *>(wpe + (size_t)pos[bt] * C) + c4);
    reinterpret_cast<float4 *>(out)[idx] = make_float4(w.x + p.x, w.y + p.y, w.z + p.z, w.w + p.w);
}
void cu_embedding_forward(float *out, const int *ids, const int *pos, const int *type_ids, const float *wte,
                          const float *wpe, const float *wtt, int BT, int C) {
    bool vec = C % 4 == 0 && aligned_f4(out) && aligned_f4(wte) && aligned_f4(wpe) && (!wtt || aligned_f4(wtt));
    if (vec) {
        size_t n = (size_t)BT * (C / 4);
        emb_fwd_kernel2<<<(unsigned)mc_ceil_div(n, (size_t)256), 256>>>(out, ids, pos, type_ids, wte, wpe, wtt, BT, C);
    } else {
        size_t n = (size_t)BT * C;
        emb_fwd_kernel1<<<(unsigned)mc_ceil_div(n, (size_t)256), 256>>>(out, ids, pos, type_ids, wte, wpe, wtt, BT, C);
    }
    cudaCheckLaunch();
}

// chosen from dev/cuda/embedding_backward.cu version 2 (deterministic: one block per distinct row,
// the row's tokens summed in token order; the host builds the row lists, padding rows left out)
template <bool VEC4>
__global__ void emb_bwd_rows_kernel(float *dtable, const float *dout, const int *rows, const int *offsets,
                                    const int *tokens, int C) {
    int b = blockIdx.x;
    int r = rows[b], begin = offsets[b], end = offsets[b + 1];
    float *drow = dtable + (size_t)r * C;
    if (VEC4) {
        int C4 = C / 4;
        for (int c4 = threadIdx.x; c4 < C4; c4 += blockDim.x) {
            float4 acc = make_float4(0, 0, 0, 0);
            for (int k = begin; k < end; k++) {
                float4 d = __ldg(reinterpret_cast<const float4 *>(dout + (size_t)tokens[k] * C) + c4);
                acc.x += d.x; acc.y += d.y; acc.z += d.z; acc.w += d.w;
            }
            float4 g = reinterpret_cast<float4 *>(drow)[c4];
            reinterpret_cast<float4 *>(drow)[c4] = make_float4(g.x + acc.x, g.y + acc.y, g.z + acc.z, g.w + acc.w);
        }
    } else {
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            float acc = 0.0f;
            for (int k = begin; k < end; k++) acc += dout[(size_t)tokens[k] * C + c];
            drow[c] += acc;
        }
    }
}
void cu_embedding_backward_rows(float *dtable, const float *dout, const int *rows, const int *offsets,
                                const int *tokens, int nrows, int C) {
    if (nrows <= 0) return;
    int block = C >= 512 ? 256 : C >= 128 ? 128 : 32;
    if (C % 4 == 0 && aligned_f4(dtable) && aligned_f4(dout))
        emb_bwd_rows_kernel<true><<<nrows, block>>>(dtable, dout, rows, offsets, tokens, C);
    else
        emb_bwd_rows_kernel<false><<<nrows, block>>>(dtable, dout, rows, offsets, tokens, C);
    cudaCheckLaunch();
}

// ------------------------------------------------------------------------------------- layernorm

// chosen from dev/cuda/layernorm_forward.cu versions 3 (warp per row, row in registers, exact
// two-pass variance) and 4 (the same with the residual add fused). Needs C % 4 == 0, C <= 1024
// (model_cuda_init refuses other widths) and 16-byte aligned rows.
template <int NV>
__device__ __forceinline__ void ln_row_stats(float &m, float &s, const float4 (&x)[NV], int lane, int C4, int C,
                                             float eps) {
    float sum = 0.0f;
    #pragma unroll
    for (int k = 0; k < NV; k++) sum += (x[k].x + x[k].y) + (x[k].z + x[k].w);
    m = mc_warp_sum(sum) / C;
    float sq = 0.0f;
    #pragma unroll
    for (int k = 0; k < NV; k++) {
        if (lane + 32 * k < C4) {
            float a = x[k].x - m, b = x[k].y - m, c = x[k].z - m, d = x[k].w - m;
            sq += (a * a + b * b) + (c * c + d * d);
        }
    }
    s = 1.0f / sqrtf(mc_warp_sum(sq) / C + eps);
}
template <int NV>
__device__ __forceinline__ void ln_row_write(float *y, const float4 (&x)[NV], float m, float s, const float *weight,
                                             const float *bias, int lane, int C4) {
    #pragma unroll
    for (int k = 0; k < NV; k++) {
        int j = lane + 32 * k;
        if (j < C4) {
            float4 w = __ldg(reinterpret_cast<const float4 *>(weight) + j);
            float4 b = __ldg(reinterpret_cast<const float4 *>(bias) + j);
            float4 o;
            o.x = ((x[k].x - m) * s) * w.x + b.x;
            o.y = ((x[k].y - m) * s) * w.y + b.y;
            o.z = ((x[k].z - m) * s) * w.z + b.z;
            o.w = ((x[k].w - m) * s) * w.w + b.w;
            reinterpret_cast<float4 *>(y)[j] = o;
        }
    }
}
template <int NV>
__global__ void ln_fwd_kernel3(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                               const float *bias, int N, int C, float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    int C4 = C / 4;
    const float4 *x4 = reinterpret_cast<const float4 *>(inp + (size_t)row * C);
    float4 x[NV];
    #pragma unroll
    for (int k = 0; k < NV; k++) x[k] = lane + 32 * k < C4 ? x4[lane + 32 * k] : make_float4(0, 0, 0, 0);
    float m, s;
    ln_row_stats<NV>(m, s, x, lane, C4, C, eps);
    ln_row_write<NV>(out + (size_t)row * C, x, m, s, weight, bias, lane, C4);
    if (lane == 0) { mean[row] = m; rstd[row] = s; }
}
template <int NV>
__global__ void ln_fwd_kernel4(float *resid, float *out, float *mean, float *rstd, const float *inp1,
                               const float *inp2, const float *weight, const float *bias, int N, int C, float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    int C4 = C / 4;
    const float4 *a4 = reinterpret_cast<const float4 *>(inp1 + (size_t)row * C);
    const float4 *b4 = reinterpret_cast<const float4 *>(inp2 + (size_t)row * C);
    float4 *r4 = reinterpret_cast<float4 *>(resid + (size_t)row * C);
    float4 x[NV];
    #pragma unroll
    for (int k = 0; k < NV; k++) {
        int j = lane + 32 * k;
        if (j < C4) {
            float4 a = a4[j], b = b4[j];
            x[k] = make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
            r4[j] = x[k];
        } else {
            x[k] = make_float4(0, 0, 0, 0);
        }
    }
    float m, s;
    ln_row_stats<NV>(m, s, x, lane, C4, C, eps);
    ln_row_write<NV>(out + (size_t)row * C, x, m, s, weight, bias, lane, C4);
    if (lane == 0) { mean[row] = m; rstd[row] = s; }
}
static int ln_nv(int C) {
    if (C % 4 != 0 || C > 1024 || C < 4) {
        fprintf(stderr, "kernels/cuda layernorm: width %d unsupported (needs C %% 4 == 0, C <= 1024)\n", C);
        exit(2);
    }
    return mc_ceil_div(C / 4, 32);
}
void cu_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                          const float *bias, int N, int C, float eps) {
    const int block = 128;
    int grid = mc_ceil_div(N, block / 32);
    switch (ln_nv(C)) {
#define CASE(NV) case NV: ln_fwd_kernel3<NV><<<grid, block>>>(out, mean, rstd, inp, weight, bias, N, C, eps); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    }
    cudaCheckLaunch();
}
void cu_residual_layernorm_forward(float *resid, float *out, float *mean, float *rstd, const float *inp1,
                                   const float *inp2, const float *weight, const float *bias, int N, int C, float eps) {
    const int block = 128;
    int grid = mc_ceil_div(N, block / 32);
    switch (ln_nv(C)) {
#define CASE(NV) case NV: ln_fwd_kernel4<NV><<<grid, block>>>(resid, out, mean, rstd, inp1, inp2, weight, bias, N, C, eps); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    }
    cudaCheckLaunch();
}

// chosen from dev/cuda/layernorm_backward.cu version 3 (warp per row, row and column partials in
// registers, per-block partials reduced in fixed order: deterministic; optional second dinp for the
// fused residual)
template <int NV>
__global__ void ln_bwd_kernel3(float *dinp, float *dinp2, float *scratch, const float *dout, const float *inp,
                               const float *weight, const float *mean, const float *rstd, int N, int C) {
    extern __shared__ float smem[];   // [warps][2][C]
    int nwarps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int C4 = C / 4;
    float4 w[NV], dw[NV], db[NV];
    #pragma unroll
    for (int k = 0; k < NV; k++) {
        int j = lane + 32 * k;
        w[k] = j < C4 ? __ldg(reinterpret_cast<const float4 *>(weight) + j) : make_float4(0, 0, 0, 0);
        dw[k] = db[k] = make_float4(0, 0, 0, 0);
    }
    for (int row = blockIdx.x * nwarps + warp; row < N; row += gridDim.x * nwarps) {
        const float4 *x4 = reinterpret_cast<const float4 *>(inp + (size_t)row * C);
        const float4 *d4 = reinterpret_cast<const float4 *>(dout + (size_t)row * C);
        float m = mean[row], s = rstd[row];
        float4 xh[NV], dy[NV];
        float sg = 0.0f, sgx = 0.0f;
        #pragma unroll
        for (int k = 0; k < NV; k++) {
            int j = lane + 32 * k;
            if (j < C4) {
                float4 x = x4[j];
                dy[k] = d4[j];
                xh[k] = make_float4((x.x - m) * s, (x.y - m) * s, (x.z - m) * s, (x.w - m) * s);
            } else {
                dy[k] = xh[k] = make_float4(0, 0, 0, 0);
            }
            float gx = dy[k].x * w[k].x, gy = dy[k].y * w[k].y, gz = dy[k].z * w[k].z, gw = dy[k].w * w[k].w;
            sg += (gx + gy) + (gz + gw);
            sgx += (gx * xh[k].x + gy * xh[k].y) + (gz * xh[k].z + gw * xh[k].w);
        }
        float mean_g = mc_warp_sum(sg) / C, mean_gx = mc_warp_sum(sgx) / C;
        float4 *dx4 = reinterpret_cast<float4 *>(dinp + (size_t)row * C);
        float4 *dx24 = dinp2 ? reinterpret_cast<float4 *>(dinp2 + (size_t)row * C) : NULL;
        #pragma unroll
        for (int k = 0; k < NV; k++) {
            int j = lane + 32 * k;
            if (j < C4) {
                float4 d;
                d.x = s * (dy[k].x * w[k].x - mean_g - xh[k].x * mean_gx);
                d.y = s * (dy[k].y * w[k].y - mean_g - xh[k].y * mean_gx);
                d.z = s * (dy[k].z * w[k].z - mean_g - xh[k].z * mean_gx);
                d.w = s * (dy[k].w * w[k].w - mean_g - xh[k].w * mean_gx);
                float4 o = dx4[j];
                dx4[j] = make_float4(o.x + d.x, o.y + d.y, o.z + d.z, o.w + d.w);
                if (dx24) {
                    float4 o2 = dx24[j];
                    dx24[j] = make_float4(o2.x + d.x, o2.y + d.y, o2.z + d.z, o2.w + d.w);
                }
                dw[k].x += dy[k].x * xh[k].x; dw[k].y += dy[k].y * xh[k].y;
                dw[k].z += dy[k].z * xh[k].z; dw[k].w += dy[k].w * xh[k].w;
                db[k].x += dy[k].x; db[k].y += dy[k].y; db[k].z += dy[k].z; db[k].w += dy[k].w;
            }
        }
    }
    float *dw_s = smem + (size_t)warp * 2 * C, *db_s = dw_s + C;
    #pragma unroll
    for (int k = 0; k < NV; k++) {
        int j = lane + 32 * k;
        if (j < C4) {
            reinterpret_cast<float4 *>(dw_s)[j] = dw[k];
            reinterpret_cast<float4 *>(db_s)[j] = db[k];
        }
    }
    __syncthreads();
    float *out = scratch + (size_t)blockIdx.x * 2 * C;
    for (int i = threadIdx.x; i < 2 * C; i += blockDim.x) {
        float acc = 0.0f;
        for (int w2 = 0; w2 < nwarps; w2++) acc += smem[(size_t)w2 * 2 * C + i];
        out[i] = acc;
    }
}
__global__ void ln_bwd_reduce_kernel(float *dweight, float *dbias, const float *scratch, int nblocks, int C) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= 2 * C) return;
    float acc = 0.0f;
    for (int b = 0; b < nblocks; b++) acc += scratch[(size_t)b * 2 * C + i];
    if (i < C) dweight[i] += acc;
    else dbias[i - C] += acc;
}
void cu_layernorm_backward(float *dinp, float *dinp2, float *dweight, float *dbias, float *scratch, const float *dout,
                           const float *inp, const float *weight, const float *mean, const float *rstd, int N, int C) {
    const int block = 128;
    int grid = mc_ceil_div(N, block / 32);
    if (grid > 2 * mc_num_sms()) grid = 2 * mc_num_sms();
    size_t smem = (size_t)(block / 32) * 2 * C * sizeof(float);   // <= 32 KB for C <= 1024
    switch (ln_nv(C)) {
#define CASE(NV) case NV: ln_bwd_kernel3<NV><<<grid, block, smem>>>(dinp, dinp2, scratch, dout, inp, weight, mean, rstd, N, C); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    }
    cudaCheckLaunch();
    ln_bwd_reduce_kernel<<<mc_ceil_div(2 * C, 256), 256>>>(dweight, dbias, scratch, grid, C);
    cudaCheckLaunch();
}

// ------------------------------------------------------------------------------------- activations

#define MC_INV_SQRT2 0.70710678118654752440f
#define MC_INV_SQRT_2PI 0.39894228040143267794f
__device__ __forceinline__ float gelu_grad(float x) {
    float cdf = 0.5f * (1.0f + erff(x * MC_INV_SQRT2));
    float pdf = MC_INV_SQRT_2PI * expf(-0.5f * x * x);
    return cdf + x * pdf;
}
// chosen from dev/cuda/gelu_backward.cu version 2 (float4, grid-stride, scalar tail); version 1
// when a pointer is not 16-byte aligned. (The forward GELU is fused into the FFN1 GEMM epilogue.)
__global__ void gelu_bwd_kernel1(float *dinp, const float *inp, const float *dout, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) dinp[i] += dout[i] * gelu_grad(inp[i]);
}
__global__ void gelu_bwd_kernel2(float *dinp, const float *inp, const float *dout, int N) {
    int n4 = N / 4;
    const float4 *x4 = reinterpret_cast<const float4 *>(inp);
    const float4 *d4 = reinterpret_cast<const float4 *>(dout);
    float4 *g4 = reinterpret_cast<float4 *>(dinp);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
        float4 x = __ldcs(x4 + i), d = __ldcs(d4 + i), g = g4[i];
        g.x += d.x * gelu_grad(x.x);
        g.y += d.y * gelu_grad(x.y);
        g.z += d.z * gelu_grad(x.z);
        g.w += d.w * gelu_grad(x.w);
        g4[i] = g;
    }
    if (blockIdx.x == 0 && threadIdx.x < N - 4 * n4) {
        int i = 4 * n4 + threadIdx.x;
        dinp[i] += dout[i] * gelu_grad(inp[i]);
    }
}
void cu_gelu_backward(float *dinp, const float *inp, const float *dout, int N) {
    if (aligned_f4(dinp) && aligned_f4(inp) && aligned_f4(dout))
        gelu_bwd_kernel2<<<grid_stride((size_t)N / 4 + 1, 256), 256>>>(dinp, inp, dout, N);
    else
        gelu_bwd_kernel1<<<mc_ceil_div(N, 256), 256>>>(dinp, inp, dout, N);
    cudaCheckLaunch();
}

// ReLU / tanh (the classifier head: B·C elements, launch-bound; no lab, one thread per element,
// formulas of kernels/activations.c)
__global__ void relu_fwd_kernel(float *out, const float *inp, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) out[i] = inp[i] > 0 ? inp[i] : 0.0f;
}
__global__ void relu_bwd_kernel(float *dinp, const float *out, const float *dout, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) dinp[i] += out[i] > 0 ? dout[i] : 0.0f;
}
__global__ void tanh_fwd_kernel(float *out, const float *inp, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) out[i] = tanhf(inp[i]);
}
__global__ void tanh_bwd_kernel(float *dinp, const float *out, const float *dout, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}
void cu_relu_forward(float *out, const float *inp, int N) {
    relu_fwd_kernel<<<mc_ceil_div(N, 256), 256>>>(out, inp, N);
    cudaCheckLaunch();
}
void cu_relu_backward(float *dinp, const float *out, const float *dout, int N) {
    relu_bwd_kernel<<<mc_ceil_div(N, 256), 256>>>(dinp, out, dout, N);
    cudaCheckLaunch();
}
void cu_tanh_forward(float *out, const float *inp, int N) {
    tanh_fwd_kernel<<<mc_ceil_div(N, 256), 256>>>(out, inp, N);
    cudaCheckLaunch();
}
void cu_tanh_backward(float *dinp, const float *out, const float *dout, int N) {
    tanh_bwd_kernel<<<mc_ceil_div(N, 256), 256>>>(dinp, out, dout, N);
    cudaCheckLaunch();
}

// ------------------------------------------------------------------------------------- dropout

// inverted dropout with kernels/dropout.h's counter-based mask (the very function the CPU calls,
// compiled __host__ __device__): keep(seed, i) for element i, scale (float)(1 / (1 - p)) as
// kernels/dropout.c. p <= 0: copy (forward) / add (backward). No lab: one thread per element.
__global__ void dropout_fwd_kernel(float *out, const float *inp, float p, float scale, uint64_t seed, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    if (p <= 0.0f) { out[i] = inp[i]; return; }
    out[i] = dropout_keep(seed, (uint64_t)i, (double)p) ? inp[i] * scale : 0.0f;
}
__global__ void dropout_bwd_kernel(float *dinp, const float *dout, float p, float scale, uint64_t seed, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    if (p <= 0.0f) { dinp[i] += dout[i]; return; }
    dinp[i] += dropout_keep(seed, (uint64_t)i, (double)p) ? dout[i] * scale : 0.0f;
}
static float dropout_scale(float p) { return p > 0 ? (float)(1.0 / (1.0 - (double)p)) : 1.0f; }
void cu_dropout_forward(float *out, const float *inp, float p, uint64_t seed, int N) {
    if (p <= 0 && out == inp) return;
    dropout_fwd_kernel<<<mc_ceil_div(N, 256), 256>>>(out, inp, p, dropout_scale(p), seed, N);
    cudaCheckLaunch();
}
void cu_dropout_backward(float *dinp, const float *dout, float p, uint64_t seed, int N) {
    dropout_bwd_kernel<<<mc_ceil_div(N, 256), 256>>>(dinp, dout, p, dropout_scale(p), seed, N);
    cudaCheckLaunch();
}

// ------------------------------------------------------------------------------------- first token

__global__ void gather_first_kernel(float *out, const float *inp, int B, int T, int C) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * C) return;
    int b = i / C, c = i % C;
    out[i] = inp[(size_t)b * T * C + c];
}
__global__ void scatter_first_kernel(float *dinp, const float *dout, int B, int T, int C) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * C) return;
    int b = i / C, c = i % C;
    dinp[(size_t)b * T * C + c] += dout[i];
}
void cu_gather_first(float *out, const float *inp, int B, int T, int C) {
    gather_first_kernel<<<mc_ceil_div(B * C, 256), 256>>>(out, inp, B, T, C);
    cudaCheckLaunch();
}
void cu_scatter_first_backward(float *dinp, const float *dout, int B, int T, int C) {
    scatter_first_kernel<<<mc_ceil_div(B * C, 256), 256>>>(dinp, dout, B, T, C);
    cudaCheckLaunch();
}

// ------------------------------------------------------------------------------------- cross-entropy

#define MC_IGNORE_INDEX -100
// chosen from dev/cuda/crossentropy.cu version 2 (one block, warp per row, fixed-order mean), split
// at the dlogits line: the forward writes probs, losses and stats; the backward (version 1's
// backward kernel) reads them, because model_cuda_backward runs after the forward like the CPU model.
__global__ void ce_fwd_kernel(float *probs, float *losses, float *stats, const float *logits, const int *labels,
                              int B, int NL) {
    __shared__ float warp_loss[32];
    int nwarps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float count = 0.0f;
    for (int b = threadIdx.x; b < B; b += blockDim.x) count += labels[b] != MC_IGNORE_INDEX ? 1.0f : 0.0f;
    float n = mc_block_sum(count);
    float my_loss = 0.0f;
    for (int b = warp; b < B; b += nwarps) {
        const float *z = logits + (size_t)b * NL;
        float *p = probs + (size_t)b * NL;
        int y = labels[b];
        float m = -INFINITY;
        for (int c = lane; c < NL; c += 32) m = fmaxf(m, z[c]);
        m = mc_warp_max(m);
        float s = 0.0f;
        for (int c = lane; c < NL; c += 32) s += expf(z[c] - m);
        s = mc_warp_sum(s);
        for (int c = lane; c < NL; c += 32) p[c] = expf(z[c] - m) / s;
        float loss = y != MC_IGNORE_INDEX ? logf(s) + m - z[y] : 0.0f;
        if (lane == 0) { losses[b] = loss; my_loss += loss; }
    }
    if (lane == 0) warp_loss[warp] = my_loss;
    __syncthreads();
    if (threadIdx.x == 0) {
        float total = 0.0f;
        for (int w = 0; w < nwarps; w++) total += warp_loss[w];
        stats[0] = n > 0 ? total / n : 0.0f;
        stats[1] = n;
    }
}
__global__ void ce_bwd_kernel(float *dlogits, const float *probs, const int *labels, const float *stats, int B,
                              int NL) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * NL) return;
    int b = i / NL, c = i % NL;
    float n = stats[1];
    if (n == 0.0f || labels[b] == MC_IGNORE_INDEX) return;
    float indicator = c == labels[b] ? 1.0f : 0.0f;
    dlogits[i] += (probs[i] - indicator) * (1.0f / n);
}
void cu_crossentropy_forward(float *probs, float *losses, float *stats, const float *logits, const int *labels, int B,
                             int NL) {
    ce_fwd_kernel<<<1, 256>>>(probs, losses, stats, logits, labels, B, NL);
    cudaCheckLaunch();
}
void cu_crossentropy_backward(float *dlogits, const float *probs, const int *labels, const float *stats, int B,
                              int NL) {
    ce_bwd_kernel<<<mc_ceil_div(B * NL, 256), 256>>>(dlogits, probs, labels, stats, B, NL);
    cudaCheckLaunch();
}

// ------------------------------------------------------------------------------------- global norm

// chosen from dev/cuda/global_norm.cu version 3 (float4 partials over a fixed grid, the last block
// by atomic ticket sums them in fixed order: deterministic, one launch). The clip coefficient is
// computed in double as model/optimizer.c does and handed to AdamW as its gradient scale instead of
// a scaling pass over the gradients.
__device__ __forceinline__ float block_sumsq4(const float *g, size_t n) {
    size_t n4 = n / 4;
    float acc = 0.0f;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (size_t)gridDim.x * blockDim.x) {
        float4 v = __ldcs(reinterpret_cast<const float4 *>(g) + i);
        acc += (v.x * v.x + v.y * v.y) + (v.z * v.z + v.w * v.w);
    }
    if (blockIdx.x == 0 && threadIdx.x < n - 4 * n4) { float v = g[4 * n4 + threadIdx.x]; acc += v * v; }
    return mc_block_sum(acc);
}
__global__ void global_norm_kernel3(float *result, float *partials, unsigned int *ticket, const float *g, size_t n,
                                    float max_norm) {
    __shared__ bool last;
    float s = block_sumsq4(g, n);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = s;
        __threadfence();
        last = atomicAdd(ticket, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    float acc = 0.0f;
    for (int i = threadIdx.x; i < (int)gridDim.x; i += blockDim.x) acc += __ldcg(partials + i);
    acc = mc_block_sum(acc);
    if (threadIdx.x == 0) {
        float norm = sqrtf(acc);
        double coef = (double)max_norm / ((double)norm + 1e-6);
        result[0] = norm;
        result[1] = max_norm > 0 && coef < 1.0 ? (float)coef : 1.0f;
        *ticket = 0;
    }
}
int cu_global_norm_max_blocks(void) { return 2 * mc_num_sms(); }
void cu_global_norm(float *result, float *partials, unsigned int *ticket, const float *g, size_t n, float max_norm) {
    // the float4 path needs g 16-byte aligned: the gradient buffer is a cudaMalloc base
    int grid = (int)mc_ceil_div(n / 4 + 1, (size_t)256);
    if (grid > cu_global_norm_max_blocks()) grid = cu_global_norm_max_blocks();
    if (grid < 1) grid = 1;
    global_norm_kernel3<<<grid, 256>>>(result, partials, ticket, g, n, max_norm);
    cudaCheckLaunch();
}

// ------------------------------------------------------------------------------------- AdamW

// chosen from dev/cuda/adamw.cu version 2 (float4, streaming g, 8-byte bf16x4 copy stores,
// grid-stride, scalar tail); change: the gradient scale (clip coef) is read from device memory so
// clipping needs no host round trip. Formula and scalar rounding = model/optimizer.c.
CuAdamWScalars cu_adamw_scalars(double lr, double beta1, double beta2, double eps, double weight_decay, int t) {
    CuAdamWScalars s;
    s.decay = (float)(1.0 - lr * weight_decay);
    s.one_minus_beta1 = (float)(1.0 - beta1);
    s.beta2 = (float)beta2;
    s.one_minus_beta2 = (float)(1.0 - beta2);
    s.step_size = (float)(lr / (1.0 - pow(beta1, t)));
    s.bc2_sqrt = (float)sqrt(1.0 - pow(beta2, t));
    s.eps = (float)eps;
    return s;
}
__device__ __forceinline__ void adamw_one(float &p, float &m, float &v, float g, const CuAdamWScalars &s) {
    p *= s.decay;
    m += s.one_minus_beta1 * (g - m);
    v = v * s.beta2 + s.one_minus_beta2 * g * g;
    float denom = sqrtf(v) / s.bc2_sqrt + s.eps;
    p += -s.step_size * (m / denom);
}
__global__ void adamw_kernel2(float *params, bf16 *params_bf16, const float *grads, float *mom, float *vel, size_t n,
                              CuAdamWScalars s, const float *grad_scale_ptr) {
    float grad_scale = grad_scale_ptr ? *grad_scale_ptr : 1.0f;
    size_t n4 = n / 4;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (size_t)gridDim.x * blockDim.x) {
        float4 p = reinterpret_cast<float4 *>(params)[i];
        float4 g = __ldcs(reinterpret_cast<const float4 *>(grads) + i);
        float4 m = reinterpret_cast<float4 *>(mom)[i];
        float4 v = reinterpret_cast<float4 *>(vel)[i];
        adamw_one(p.x, m.x, v.x, g.x * grad_scale, s);
        adamw_one(p.y, m.y, v.y, g.y * grad_scale, s);
        adamw_one(p.z, m.z, v.z, g.z * grad_scale, s);
        adamw_one(p.w, m.w, v.w, g.w * grad_scale, s);
        reinterpret_cast<float4 *>(params)[i] = p;
        __stcs(reinterpret_cast<float4 *>(mom) + i, m);
        __stcs(reinterpret_cast<float4 *>(vel) + i, v);
        if (params_bf16) {
            struct alignas(8) { __nv_bfloat162 a, b; } q;
            q.a = __floats2bfloat162_rn(p.x, p.y);
            q.b = __floats2bfloat162_rn(p.z, p.w);
            reinterpret_cast<decltype(q) *>(params_bf16)[i] = q;
        }
    }
    if (blockIdx.x == 0 && threadIdx.x < n - 4 * n4) {
        size_t i = 4 * n4 + threadIdx.x;
        float p = params[i], m = mom[i], v = vel[i];
        adamw_one(p, m, v, grads[i] * grad_scale, s);
        params[i] = p;
        mom[i] = m;
        vel[i] = v;
        if (params_bf16) params_bf16[i] = __float2bfloat16_rn(p);
    }
}
void cu_adamw(float *params, bf16 *params_bf16, const float *grads, float *m, float *v, size_t n, CuAdamWScalars s,
              const float *grad_scale) {
    adamw_kernel2<<<grid_stride(n / 4 + 1, 256), 256>>>(params, params_bf16, grads, m, v, n, s, grad_scale);
    cudaCheckLaunch();
}

// ------------------------------------------------------------------------------------- fp32 -> bf16

__global__ void to_bf16_kernel(bf16 *out, const float *inp, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(inp[i]);
}
void cu_to_bf16(bf16 *out, const float *inp, size_t n) {
    if (n == 0) return;
    to_bf16_kernel<<<grid_stride(n, 256), 256>>>(out, inp, n);
    cudaCheckLaunch();
}
