// kernels/cuda/adamw.cuh: the AdamW kernel the GPU model runs (dev/cuda/adamw.cu version 2: float4,
// streaming g, 8-byte bf16x4 copy stores, grid-stride, scalar tail) and its per-parameter update.
// One definition, included by the lab and by kernels/cuda/adamw.cu.
#pragma once
#include "kernels/cuda/kernels_cuda.h"   // AdamWScalars

// one parameter, in optimizer.c's operation order
__device__ __forceinline__ float adamw_one(float &p, float &m, float &v, float g, const AdamWScalars &s) {
    p *= s.decay;
    m += s.one_minus_beta1 * (g - m);
    v = v * s.beta2 + s.one_minus_beta2 * g * g;
    float denom = sqrtf(v) / s.bc2_sqrt + s.eps;
    p += -s.step_size * (m / denom);
    return p;
}

// parameter i, scalar loads and stores (version 1's body, version 2's tail)
__device__ __forceinline__ void adamw_element(float *params, __nv_bfloat16 *params_bf16, const float *grads, float *mom,
                                              float *vel, size_t i, const AdamWScalars &s, float grad_scale) {
    float p = params[i], m = mom[i], v = vel[i];
    adamw_one(p, m, v, grads[i] * grad_scale, s);
    params[i] = p;
    mom[i] = m;
    vel[i] = v;
    if (params_bf16) params_bf16[i] = __float2bfloat16_rn(p);
}

__global__ void adamw_kernel2(float *params, __nv_bfloat16 *params_bf16, const float *grads, float *mom, float *vel,
                              size_t n, AdamWScalars s, const float *grad_scale_ptr) {
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
        adamw_element(params, params_bf16, grads, mom, vel, 4 * n4 + threadIdx.x, s, grad_scale);
    }
}
