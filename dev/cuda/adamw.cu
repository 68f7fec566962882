/*
Fused AdamW over the one flat parameter buffer, fp32 master weights, an optional bf16 copy of the
updated weights (what the bf16 GEMMs read), and the gradient-clipping coefficient as an input
(grad_scale, 1 without clipping: g is read as g · grad_scale, so no separate scale pass). The
formula is model/optimizer.c's (torch.optim.AdamW, single-tensor), step t counting this one:
  p  = p · (1 - lr·wd)                      decoupled weight decay first
  m  = m + (1 - β1)·(g - m)                 torch's lerp form
  v  = β2·v + (1 - β2)·g²
  p  = p - (lr / (1 - β1^t)) · m / (sqrt(v) / sqrt(1 - β2^t) + eps)
The scalars are computed on the host in double and rounded to float, exactly as optimizer.c does
(adamw_scalars in kernels/cuda/kernels_cuda.h restates those five lines; the per-element loop is the
reference's own code).
One pass: reads p, g, m, v (16 B), writes p, m, v (12 B) and the bf16 copy (2 B): 30 B per parameter.
CPU reference: model_adamw_update (and model_clip_grad_norm for the grad_scale case) in
model/optimizer.c, on a Model holding just the four buffers.

Build and run (from the repo root):
  make cuda && ./build/cuda/adamw               (or ./build/cuda/adamw 2: one version)

version 1: one thread per parameter, scalar loads and stores.

version 2: four parameters per thread, float4 loads and stores (streaming hints for g, read once),
the bf16 copy written as one 8-byte store of four values (round to nearest: with fp32 masters no
stochastic rounding is needed, kernel-notes §6), grid-stride loop, scalar tail; the gradient scale
is read from device memory (the GPU model's kernel, kernels/cuda/adamw.cuh).
*/
#include "dev/cuda/common.h"
extern "C" {
#include "model/model.h"
}

// AdamWScalars and adamw_scalars (optimizer.c's double expressions rounded to float): kernels/cuda/kernels_cuda.h;
// adamw_one and version 2's kernel: kernels/cuda/adamw.cuh, the GPU model's
#include "kernels/cuda/adamw.cuh"

// ---------------------------------------------------------------------------------------------
// kernels

// params, grads, m, v (n) -> params, m, v updated; params_bf16 (n) = bf16(params) unless NULL
__global__ void adamw_kernel1(float *params, __nv_bfloat16 *params_bf16, const float *grads, float *mom, float *vel,
                              size_t n, AdamWScalars s, float grad_scale) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) adamw_element(params, params_bf16, grads, mom, vel, i, s, grad_scale);
}

// ---------------------------------------------------------------------------------------------
// launchers

static void adamw1(float *params, __nv_bfloat16 *params_bf16, const float *grads, float *mom, float *vel, size_t n,
                   AdamWScalars s, float grad_scale, int block) {
    adamw_kernel1<<<(unsigned)ceil_div(n, (size_t)block), block>>>(params, params_bf16, grads, mom, vel, n, s, grad_scale);
    cudaCheckLaunch();
}
// grad_scale: a device pointer (NULL: 1), as the GPU model hands over the clip coefficient
static void adamw2(float *params, __nv_bfloat16 *params_bf16, const float *grads, float *mom, float *vel, size_t n,
                   AdamWScalars s, const float *grad_scale, int block) {
    size_t grid = std::max<size_t>(1, std::min<size_t>(ceil_div(n / 4, (size_t)block), (size_t)lab_device.num_sms * 16));
    adamw_kernel2<<<(unsigned)grid, block>>>(params, params_bf16, grads, mom, vel, n, s, grad_scale);
    cudaCheckLaunch();
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    lab_init("adamw");
    // gpu[0] is benchmarked. Emulated: a count where version 2's grid-stride loop wraps (4 emulated
    // SMs), and the same odd tails
    struct Size { const char *name; size_t n; };
    const Size gpu[] = {{"distilbert-NL2", 66955010}, {"n1000003", 1000003}, {"n77", 77}, {"n3", 3}};
    const Size emulated[] = {{"n70001", 70001}, {"n77", 77}, {"n3", 3}};
    const std::vector<Size> sizes = lab_cases(gpu, emulated);
    const double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0.01;
    const int prior_steps = 4;   // m, v hold some history: this is step t = 5
    AdamWScalars sc = adamw_scalars(lr, beta1, beta2, eps, wd, prior_steps + 1);

    for (auto &sz : sizes) {
        size_t n = sz.n;
        float *p0 = make_random_float(n, -0.1f, 0.1f), *g0 = make_random_float(n, -1e-2f, 1e-2f);
        float *m0 = make_random_float(n, -1e-3f, 1e-3f), *v0 = make_random_float(n, 1e-8f, 1e-5f);
        float *p = (float *)host_malloc(n * sizeof(float)), *g = (float *)host_malloc(n * sizeof(float));
        float *m = (float *)host_malloc(n * sizeof(float)), *v = (float *)host_malloc(n * sizeof(float));
        float *d_p = dev_alloc<float>(n), *d_g = dev_alloc<float>(n), *d_m = dev_alloc<float>(n), *d_v = dev_alloc<float>(n);
        __nv_bfloat16 *d_p16 = dev_alloc<__nv_bfloat16>(n);
        // clip: no clipping, then max_norm at half the norm (grad_scale < 1, as from global_norm)
        for (int clip = 0; clip <= 1; clip++) {
            memcpy(p, p0, n * sizeof(float));
            memcpy(g, g0, n * sizeof(float));
            memcpy(m, m0, n * sizeof(float));
            memcpy(v, v0, n * sizeof(float));
            Model model;
            memset(&model, 0, sizeof model);
            model.num_parameters = n;
            model.params_memory = p;
            model.grads_memory = g;
            model.m_memory = m;
            model.v_memory = v;
            model.adamw_step = prior_steps;
            float grad_scale = 1.0f;
            if (clip) {
                double sumsq = 0.0;
                for (size_t i = 0; i < n; i++) sumsq += (double)g0[i] * g0[i];
                double max_norm = 0.5 * sqrt(sumsq);
                double total = model_clip_grad_norm(&model, max_norm);
                grad_scale = (float)(max_norm / (total + 1e-6));   // the coef optimizer.c multiplied g by
            }
            char err[256];
            if (model_adamw_update(&model, lr, beta1, beta2, eps, wd, err, sizeof err) != 0) {
                fprintf(stderr, "reference AdamW: %s\n", err);
                return 2;
            }
            printf("-- validate %s (n=%zu, step %d, grad_scale %.6g)\n", sz.name, n, model.adamw_step, grad_scale);
            float *p_bf16 = (float *)host_malloc(n * sizeof(float));
            memcpy(p_bf16, p, n * sizeof(float));
            round_to_bf16(p_bf16, n);
            float *d_scale = dev_alloc<float>(1);
            to_device(d_scale, &grad_scale, 1);
            for (int ver = 1; ver <= 2; ver++) {
                if (!lab_want(argc, argv, ver)) continue;
                lab_version = ver;
                for (int with_copy = 0; with_copy <= 1; with_copy++) {
                    to_device(d_p, p0, n);
                    to_device(d_g, g0, n);
                    to_device(d_m, m0, n);
                    to_device(d_v, v0, n);
                    poison(d_p16, n * sizeof(__nv_bfloat16));
                    __nv_bfloat16 *copy = with_copy ? d_p16 : NULL;
                    if (ver == 1) adamw1(d_p, copy, d_g, d_m, d_v, n, sc, grad_scale, 256);
                    else adamw2(d_p, copy, d_g, d_m, d_v, n, sc, d_scale, 256);
                    cudaCheck(cudaDeviceSynchronize());
                    validate(with_copy ? "params (with bf16 copy)" : "params", d_p, p, n, TOL_FP32);
                    validate("m", d_m, m, n, TOL_FP32);
                    validate("v", d_v, v, n, TOL_FP32);
                    if (with_copy) validate("params bf16 copy", d_p16, p_bf16, n, TOL_BF16);
                }
            }
            cudaCheck(cudaFree(d_scale));
            free(p_bf16);
        }
        for (float *q : {d_p, d_g, d_m, d_v}) cudaCheck(cudaFree(q));
        cudaCheck(cudaFree(d_p16));
        for (float *q : {p0, g0, m0, v0, p, g, m, v}) free(q);
    }

    if (lab_emulated) return lab_exit();

    size_t n = sizes[0].n;
    float *d_p = dev_alloc<float>(n), *d_g = dev_alloc<float>(n), *d_m = dev_alloc<float>(n), *d_v = dev_alloc<float>(n);
    __nv_bfloat16 *d_p16 = dev_alloc<__nv_bfloat16>(n);
    for (float *q : {d_p, d_g, d_m, d_v}) cudaCheck(cudaMemset(q, 0, n * sizeof(float)));
    printf("-- benchmark %s (with the bf16 copy)\n", sizes[0].name);
    for (int ver = 1; ver <= 2; ver++) {
        if (!lab_want(argc, argv, ver)) continue;
        Timing t = benchmark_blocks(ver, {128, 256, 512}, [&](int block) {
            if (ver == 1) adamw1(d_p, d_p16, d_g, d_m, d_v, n, sc, 1.0f, block);
            else adamw2(d_p, d_p16, d_g, d_m, d_v, n, sc, NULL, block);
        });
        double bytes = 30.0 * n;
        print_result("adamw", ver, t, bytes, 0, 0, sizes[0].name);
    }
    return lab_exit();
}
