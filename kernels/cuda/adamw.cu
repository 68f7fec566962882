// kernels/cuda/adamw.cu: the AdamW update (with the bf16 weight copies) and the fp32 -> bf16 copy.
#include <math.h>

#include "kernels/cuda/kernels_cuda.h"

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
