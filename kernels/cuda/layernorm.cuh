// kernels/cuda/layernorm.cuh: the LayerNorm kernels the GPU model runs (dev/cuda/layernorm_forward.cu
// versions 3, 4; layernorm_backward.cu version 3).
// One definition, included by the labs and by kernels/cuda/layernorm.cu.
#pragma once
#include "kernels/cuda/common.cuh"

// the register-resident row shared by versions 3 and 4: NV float4s per lane, x[k] = float4 number
// lane + 32k of the row (zeros past the end)
template <int NV>
__device__ __forceinline__ void ln_row_stats(float &m, float &s, const float4 (&x)[NV], int lane, int C4, int C, float eps) {
    float sum = 0.0f;
    #pragma unroll
    for (int k = 0; k < NV; k++) sum += (x[k].x + x[k].y) + (x[k].z + x[k].w);
    m = warp_reduce_sum(sum) / C;
    float sq = 0.0f;
    #pragma unroll
    for (int k = 0; k < NV; k++) {
        if (lane + 32 * k < C4) {
            float a = x[k].x - m, b = x[k].y - m, c = x[k].z - m, d = x[k].w - m;
            sq += (a * a + b * b) + (c * c + d * d);
        }
    }
    s = 1.0f / sqrtf(warp_reduce_sum(sq) / C + eps);
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
            __stcs(reinterpret_cast<float4 *>(y) + j, o);
        }
    }
}

template <int NV>
__global__ void layernorm_forward_kernel3(float *out, float *mean, float *rstd, const float *inp,
                                          const float *weight, const float *bias, int N, int C, float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    int C4 = C / 4;
    const float4 *x4 = reinterpret_cast<const float4 *>(inp + (size_t)row * C);
    float4 x[NV];
    #pragma unroll
    for (int k = 0; k < NV; k++) x[k] = lane + 32 * k < C4 ? __ldcs(x4 + lane + 32 * k) : make_float4(0, 0, 0, 0);
    float m, s;
    ln_row_stats<NV>(m, s, x, lane, C4, C, eps);
    ln_row_write<NV>(out + (size_t)row * C, x, m, s, weight, bias, lane, C4);
    if (lane == 0) { mean[row] = m; rstd[row] = s; }
}

// inp1 (N,C), inp2 (N,C) -> resid = inp1 + inp2 (N,C), out = LN(resid) (N,C), mean, rstd (N)
template <int NV>
__global__ void layernorm_forward_kernel4(float *resid, float *out, float *mean, float *rstd, const float *inp1,
                                          const float *inp2, const float *weight, const float *bias, int N, int C,
                                          float eps) {
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
            float4 a = __ldcs(a4 + j), b = __ldcs(b4 + j);
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

// scratch (nblocks, 2, C) -> dweight (C) +=, dbias (C) +=, summing blocks in order
__global__ void layernorm_backward_reduce_kernel(float *dweight, float *dbias, const float *scratch, int nblocks, int C) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= 2 * C) return;
    float acc = 0.0f;
    for (int b = 0; b < nblocks; b++) acc += scratch[(size_t)b * 2 * C + i];
    if (i < C) dweight[i] += acc;
    else dbias[i - C] += acc;
}

// version 3: registers. dinp2 may be NULL.
template <int NV>
__global__ void layernorm_backward_kernel3(float *dinp, float *dinp2, float *scratch, const float *dout,
                                          const float *inp, const float *weight, const float *mean,
                                          const float *rstd, int N, int C) {
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
                float4 x = __ldcs(x4 + j);
                dy[k] = __ldcs(d4 + j);
                xh[k] = make_float4((x.x - m) * s, (x.y - m) * s, (x.z - m) * s, (x.w - m) * s);
            } else {
                dy[k] = xh[k] = make_float4(0, 0, 0, 0);
            }
            float gx = dy[k].x * w[k].x, gy = dy[k].y * w[k].y, gz = dy[k].z * w[k].z, gw = dy[k].w * w[k].w;
            sg += (gx + gy) + (gz + gw);
            sgx += (gx * xh[k].x + gy * xh[k].y) + (gz * xh[k].z + gw * xh[k].w);
        }
        float mean_g = warp_reduce_sum(sg) / C, mean_gx = warp_reduce_sum(sgx) / C;
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
    // registers -> this warp's slice -> the block's partial (warps in order)
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
