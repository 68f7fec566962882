/*
LayerNorm forward over the last dimension, optionally fused with the residual add before it
(post-LN blocks: out = LN(inp1 + inp2)). Per row x of C values:
  mean = Σ x / C,  var = Σ (x - mean)² / C,  rstd = 1 / sqrt(var + eps),  y = (x - mean) · rstd · w + b
Saved for backward: mean and rstd per row (fp32), and for the fused versions the sum inp1 + inp2.
CPU reference: layernorm_forward in kernels/layernorm.c (and residual_forward in kernels/residual.c
for the fused versions).

Build and run (from the repo root):
  make cuda && ./build/cuda/layernorm_forward   (or ./build/cuda/layernorm_forward 3: one version)

version 1: one thread per row, two passes for the statistics and a third for the output, all from
global memory. Few threads (N rows) and uncoalesced (neighbouring threads are C apart): the baseline.

version 2: one warp per row, lanes stride the row (coalesced), mean and variance by warp shuffle,
still reading the row three times (L1/L2 catch the re-reads). Any C.

version 3: one warp per row with the row held in registers: each lane loads C/128 float4s once
(C = 768: 6 per lane), computes the mean, then the exact two-pass variance from the registers, and
writes y with float4 stores. Weights through the read-only path. Needs C % 4 == 0 and C <= 1024 (a
template over the float4s per lane); other C fall back to version 2.

version 4: version 3 with the residual add fused: reads inp1 and inp2, writes resid = inp1 + inp2
(kept for backward) and LN(resid). Saves a separate residual kernel's read of two tensors, write of
one and re-read of it. Same fallback (a scalar residual kernel + version 2).

version 5: version 4 in bf16 (the mixed-precision layout): inp1, inp2, weight, bias, resid and out
are bf16, statistics and arithmetic fp32; eight elements per 16-byte access, C % 8 == 0 and
C <= 2048 (other C are skipped). The LN is computed from the bf16-rounded resid, exactly what
backward will read. Validated against the reference fed the same rounded values.
*/
#include "dev/cuda/common.h"
extern "C" {
#include "kernels/kernels.h"
}

// ---------------------------------------------------------------------------------------------
// kernels

// inp (N,C), weight (C), bias (C) -> out (N,C), mean (N), rstd (N)
__global__ void layernorm_forward_kernel1(float *out, float *mean, float *rstd, const float *inp,
                                          const float *weight, const float *bias, int N, int C, float eps) {
    int row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N) return;
    const float *x = inp + (size_t)row * C;
    float m = 0.0f;
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
    float v = 0.0f;
    for (int i = 0; i < C; i++) { float d = x[i] - m; v += d * d; }
    float s = 1.0f / sqrtf(v / C + eps);
    float *y = out + (size_t)row * C;
    for (int i = 0; i < C; i++) y[i] = ((x[i] - m) * s) * weight[i] + bias[i];
    mean[row] = m;
    rstd[row] = s;
}

__global__ void layernorm_forward_kernel2(float *out, float *mean, float *rstd, const float *inp,
                                          const float *weight, const float *bias, int N, int C, float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;   // the whole warp leaves together
    const float *x = inp + (size_t)row * C;
    float sum = 0.0f;
    for (int i = lane; i < C; i += 32) sum += x[i];
    float m = warp_reduce_sum(sum) / C;
    float sq = 0.0f;
    for (int i = lane; i < C; i += 32) { float d = x[i] - m; sq += d * d; }
    float s = 1.0f / sqrtf(warp_reduce_sum(sq) / C + eps);
    float *y = out + (size_t)row * C;
    for (int i = lane; i < C; i += 32) y[i] = ((x[i] - m) * s) * __ldg(weight + i) + __ldg(bias + i);
    if (lane == 0) { mean[row] = m; rstd[row] = s; }
}

#include "kernels/cuda/layernorm.cuh"

// bf16: NV 16-byte packs (8 values) per lane
template <int NV>
__global__ void layernorm_forward_kernel5(__nv_bfloat16 *resid, __nv_bfloat16 *out, float *mean, float *rstd,
                                          const __nv_bfloat16 *inp1, const __nv_bfloat16 *inp2,
                                          const __nv_bfloat16 *weight, const __nv_bfloat16 *bias, int N, int C,
                                          float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    int C8 = C / 8;
    const bf16x8 *a8 = reinterpret_cast<const bf16x8 *>(inp1 + (size_t)row * C);
    const bf16x8 *b8 = reinterpret_cast<const bf16x8 *>(inp2 + (size_t)row * C);
    bf16x8 *r8 = reinterpret_cast<bf16x8 *>(resid + (size_t)row * C);
    float x[NV][8];
    float sum = 0.0f;
    #pragma unroll
    for (int k = 0; k < NV; k++) {
        int j = lane + 32 * k;
        if (j < C8) {
            bf16x8 a = a8[j], b = b8[j], r;
            #pragma unroll
            for (int h = 0; h < 4; h++) {
                float2 af = __bfloat1622float2(a.h[h]), bf = __bfloat1622float2(b.h[h]);
                r.h[h] = __floats2bfloat162_rn(af.x + bf.x, af.y + bf.y);
                float2 rf = __bfloat1622float2(r.h[h]);   // normalise what backward will see
                x[k][2 * h] = rf.x;
                x[k][2 * h + 1] = rf.y;
                sum += rf.x + rf.y;
            }
            r8[j] = r;
        } else {
            #pragma unroll
            for (int e = 0; e < 8; e++) x[k][e] = 0.0f;
        }
    }
    float m = warp_reduce_sum(sum) / C;
    float sq = 0.0f;
    #pragma unroll
    for (int k = 0; k < NV; k++)
        if (lane + 32 * k < C8) {
            #pragma unroll
            for (int e = 0; e < 8; e++) { float d = x[k][e] - m; sq += d * d; }
        }
    float s = 1.0f / sqrtf(warp_reduce_sum(sq) / C + eps);
    bf16x8 *o8 = reinterpret_cast<bf16x8 *>(out + (size_t)row * C);
    #pragma unroll
    for (int k = 0; k < NV; k++) {
        int j = lane + 32 * k;
        if (j < C8) {
            bf16x8 w = reinterpret_cast<const bf16x8 *>(weight)[j], b = reinterpret_cast<const bf16x8 *>(bias)[j], o;
            #pragma unroll
            for (int h = 0; h < 4; h++) {
                float2 wf = __bfloat1622float2(w.h[h]), bf = __bfloat1622float2(b.h[h]);
                o.h[h] = __floats2bfloat162_rn(((x[k][2 * h] - m) * s) * wf.x + bf.x,
                                               ((x[k][2 * h + 1] - m) * s) * wf.y + bf.y);
            }
            o8[j] = o;
        }
    }
    if (lane == 0) { mean[row] = m; rstd[row] = s; }
}

__global__ void residual_forward_kernel(float *out, const float *inp1, const float *inp2, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = inp1[i] + inp2[i];
}

// ---------------------------------------------------------------------------------------------
// launchers

static void layernorm_forward1(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                               const float *bias, int N, int C, float eps, int block) {
    layernorm_forward_kernel1<<<ceil_div(N, block), block>>>(out, mean, rstd, inp, weight, bias, N, C, eps);
    cudaCheckLaunch();
}
static void layernorm_forward2(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                               const float *bias, int N, int C, float eps, int block) {
    layernorm_forward_kernel2<<<ceil_div(N * 32, block), block>>>(out, mean, rstd, inp, weight, bias, N, C, eps);
    cudaCheckLaunch();
}
// float4s per lane for version 3/4, 0 when the row does not fit the template
static int ln_nv4(int C) { return C % 4 == 0 && C <= 1024 ? ceil_div(C / 4, 32) : 0; }

static void layernorm_forward3(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                               const float *bias, int N, int C, float eps, int block) {
    int grid = ceil_div(N * 32, block);
    switch (ln_nv4(C)) {
#define CASE(NV) case NV: layernorm_forward_kernel3<NV><<<grid, block>>>(out, mean, rstd, inp, weight, bias, N, C, eps); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
        default: layernorm_forward2(out, mean, rstd, inp, weight, bias, N, C, eps, block); break;
    }
    cudaCheckLaunch();
}
static void layernorm_forward4(float *resid, float *out, float *mean, float *rstd, const float *inp1,
                               const float *inp2, const float *weight, const float *bias, int N, int C, float eps,
                               int block) {
    int grid = ceil_div(N * 32, block);
    switch (ln_nv4(C)) {
#define CASE(NV) case NV: layernorm_forward_kernel4<NV><<<grid, block>>>(resid, out, mean, rstd, inp1, inp2, weight, bias, N, C, eps); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
        default: {
            size_t n = (size_t)N * C;
            residual_forward_kernel<<<(unsigned)ceil_div(n, (size_t)256), 256>>>(resid, inp1, inp2, n);
            layernorm_forward2(out, mean, rstd, resid, weight, bias, N, C, eps, block);
        }
    }
    cudaCheckLaunch();
}
static bool ln5_supported(int C) { return C % 8 == 0 && C <= 2048; }
static void layernorm_forward5(__nv_bfloat16 *resid, __nv_bfloat16 *out, float *mean, float *rstd,
                               const __nv_bfloat16 *inp1, const __nv_bfloat16 *inp2, const __nv_bfloat16 *weight,
                               const __nv_bfloat16 *bias, int N, int C, float eps, int block) {
    int grid = ceil_div(N * 32, block);
    switch (ceil_div(C / 8, 32)) {
#define CASE(NV) case NV: layernorm_forward_kernel5<NV><<<grid, block>>>(resid, out, mean, rstd, inp1, inp2, weight, bias, N, C, eps); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
        default: fprintf(stderr, "layernorm_forward5: C = %d unsupported\n", C); exit(2);
    }
    cudaCheckLaunch();
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    lab_init("layernorm_forward");
    // N = B·T rows. gpu[0] (benchmarked) is the GPU training shape B=32 T=256, then DistilBERT
    // B=8 T=128 (eps 1e-12 as DistilBERT), awkward T=77 with C=384 (12 heads of 32), and a C that is
    // not a multiple of 4 or of 32 (versions 3-5 fall back or skip). Emulated: DistilBERT's C and
    // eps on a few rows, and the same awkward cases.
    struct Size { const char *name; int N, C; float eps; };
    const Size gpu[] = {
        {"B32T256C768", 32 * 256, 768, 1e-12f}, {"B8T128C768", 8 * 128, 768, 1e-12f},
        {"B3T77C384", 3 * 77, 384, 1e-5f}, {"B1T77C66", 77, 66, 1e-5f}, {"B1T5C1024", 5, 1024, 1e-5f}};
    const Size emulated[] = {
        {"B1T16C768", 16, 768, 1e-12f}, {"B3T77C384", 3 * 77, 384, 1e-5f}, {"B1T77C66", 77, 66, 1e-5f},
        {"B1T5C1024", 5, 1024, 1e-5f}};
    const std::vector<Size> sizes = lab_cases(gpu, emulated);

    for (auto &s : sizes) {
        int N = s.N, C = s.C;
        size_t NC = (size_t)N * C;
        printf("-- validate %s (N=%d C=%d)\n", s.name, N, C);
        float *inp1 = make_random_float(NC, -2.0f, 2.0f), *inp2 = make_random_float(NC);
        float *weight = make_random_float(C, 0.5f, 1.5f), *bias = make_random_float(C);
        float *resid = (float *)host_malloc(NC * sizeof(float)), *out = (float *)host_malloc(NC * sizeof(float));
        float *mean = (float *)host_malloc(N * sizeof(float)), *rstd = (float *)host_malloc(N * sizeof(float));
        float *d_inp1 = dev_alloc<float>(NC), *d_inp2 = dev_alloc<float>(NC), *d_resid = dev_alloc<float>(NC);
        float *d_out = dev_alloc<float>(NC), *d_mean = dev_alloc<float>(N), *d_rstd = dev_alloc<float>(N);
        float *d_w = dev_alloc<float>(C), *d_b = dev_alloc<float>(C);
        to_device(d_inp1, inp1, NC);
        to_device(d_inp2, inp2, NC);
        to_device(d_w, weight, C);
        to_device(d_b, bias, C);

        // plain LN of inp1 (versions 1-3)
        layernorm_forward(out, mean, rstd, inp1, weight, bias, N, C, s.eps);
        for (int v = 1; v <= 3; v++) {
            if (!lab_want(argc, argv, v)) continue;
            lab_version = v;
            poison(d_out, NC * sizeof(float));
            poison(d_mean, N * sizeof(float));
            poison(d_rstd, N * sizeof(float));
            if (v == 1) layernorm_forward1(d_out, d_mean, d_rstd, d_inp1, d_w, d_b, N, C, s.eps, 128);
            if (v == 2) layernorm_forward2(d_out, d_mean, d_rstd, d_inp1, d_w, d_b, N, C, s.eps, 256);
            if (v == 3) layernorm_forward3(d_out, d_mean, d_rstd, d_inp1, d_w, d_b, N, C, s.eps, 256);
            cudaCheck(cudaDeviceSynchronize());
            validate("out", d_out, out, NC, TOL_FP32);
            validate("mean", d_mean, mean, N, TOL_FP32_MEAN);
            validate("rstd", d_rstd, rstd, N, TOL_FP32);
        }
        // fused residual + LN (version 4)
        residual_forward(resid, inp1, inp2, (int)NC);
        layernorm_forward(out, mean, rstd, resid, weight, bias, N, C, s.eps);
        if (lab_want(argc, argv, 4)) {
            lab_version = 4;
            poison(d_resid, NC * sizeof(float));
            poison(d_out, NC * sizeof(float));
            poison(d_mean, N * sizeof(float));
            poison(d_rstd, N * sizeof(float));
            layernorm_forward4(d_resid, d_out, d_mean, d_rstd, d_inp1, d_inp2, d_w, d_b, N, C, s.eps, 256);
            cudaCheck(cudaDeviceSynchronize());
            validate("resid", d_resid, resid, NC, TOL_FP32);
            validate("out", d_out, out, NC, TOL_FP32);
            validate("mean", d_mean, mean, N, TOL_FP32_MEAN);
            validate("rstd", d_rstd, rstd, N, TOL_FP32);
        }
        // bf16 fused (version 5): the reference gets the rounded inputs and the rounded sum
        if (lab_want(argc, argv, 5) && !ln5_supported(C)) printf("  v5 skipped: C %% 8 != 0 or C > 2048\n");
        if (lab_want(argc, argv, 5) && ln5_supported(C)) {
            lab_version = 5;
            round_to_bf16(inp1, NC);
            round_to_bf16(inp2, NC);
            round_to_bf16(weight, C);
            round_to_bf16(bias, C);
            residual_forward(resid, inp1, inp2, (int)NC);
            round_to_bf16(resid, NC);
            layernorm_forward(out, mean, rstd, resid, weight, bias, N, C, s.eps);
            __nv_bfloat16 *a16 = bf16_to_device(inp1, NC), *b16 = bf16_to_device(inp2, NC);
            __nv_bfloat16 *w16 = bf16_to_device(weight, C), *bb16 = bf16_to_device(bias, C);
            __nv_bfloat16 *r16 = dev_alloc<__nv_bfloat16>(NC), *o16 = dev_alloc<__nv_bfloat16>(NC);
            poison(r16, NC * sizeof(__nv_bfloat16));
            poison(o16, NC * sizeof(__nv_bfloat16));
            poison(d_mean, N * sizeof(float));
            poison(d_rstd, N * sizeof(float));
            layernorm_forward5(r16, o16, d_mean, d_rstd, a16, b16, w16, bb16, N, C, s.eps, 256);
            cudaCheck(cudaDeviceSynchronize());
            validate("resid (bf16)", r16, resid, NC, TOL_BF16);
            validate("out (bf16)", o16, out, NC, TOL_BF16);
            validate("mean", d_mean, mean, N, TOL_FP32_MEAN);
            validate("rstd", d_rstd, rstd, N, TOL_FP32);
            for (__nv_bfloat16 *p : {a16, b16, w16, bb16, r16, o16}) cudaCheck(cudaFree(p));
        }
        for (float *p : {d_inp1, d_inp2, d_resid, d_out, d_mean, d_rstd, d_w, d_b}) cudaCheck(cudaFree(p));
        for (float *p : {inp1, inp2, weight, bias, resid, out, mean, rstd}) free(p);
    }

    if (lab_emulated) return lab_exit();

    // benchmark
    int N = sizes[0].N, C = sizes[0].C;
    size_t NC = (size_t)N * C;
    float eps = sizes[0].eps;
    float *d_inp1 = dev_alloc<float>(NC), *d_inp2 = dev_alloc<float>(NC), *d_resid = dev_alloc<float>(NC);
    float *d_out = dev_alloc<float>(NC), *d_mean = dev_alloc<float>(N), *d_rstd = dev_alloc<float>(N);
    float *d_w = dev_alloc<float>(C), *d_b = dev_alloc<float>(C);
    __nv_bfloat16 *a16 = dev_alloc<__nv_bfloat16>(NC), *b16 = dev_alloc<__nv_bfloat16>(NC);
    __nv_bfloat16 *r16 = dev_alloc<__nv_bfloat16>(NC), *o16 = dev_alloc<__nv_bfloat16>(NC);
    __nv_bfloat16 *w16 = dev_alloc<__nv_bfloat16>(C), *bb16 = dev_alloc<__nv_bfloat16>(C);
    for (float *p : {d_inp1, d_inp2}) cudaCheck(cudaMemset(p, 0, NC * sizeof(float)));
    for (float *p : {d_w, d_b}) cudaCheck(cudaMemset(p, 0, C * sizeof(float)));
    for (__nv_bfloat16 *p : {a16, b16}) cudaCheck(cudaMemset(p, 0, NC * sizeof(__nv_bfloat16)));
    for (__nv_bfloat16 *p : {w16, bb16}) cudaCheck(cudaMemset(p, 0, C * sizeof(__nv_bfloat16)));
    printf("-- benchmark %s\n", sizes[0].name);
    for (int v = 1; v <= 5; v++) {
        if (!lab_want(argc, argv, v)) continue;
        Timing t = benchmark_blocks(v, {64, 128, 256, 512}, [&](int block) {
            if (v == 1) layernorm_forward1(d_out, d_mean, d_rstd, d_inp1, d_w, d_b, N, C, eps, block);
            if (v == 2) layernorm_forward2(d_out, d_mean, d_rstd, d_inp1, d_w, d_b, N, C, eps, block);
            if (v == 3) layernorm_forward3(d_out, d_mean, d_rstd, d_inp1, d_w, d_b, N, C, eps, block);
            if (v == 4) layernorm_forward4(d_resid, d_out, d_mean, d_rstd, d_inp1, d_inp2, d_w, d_b, N, C, eps, block);
            if (v == 5) layernorm_forward5(r16, o16, d_mean, d_rstd, a16, b16, w16, bb16, N, C, eps, block);
        });
        // minimum traffic: tensors read + written once, weights once, mean/rstd
        double tensors = v <= 3 ? 2 : 4, elem = v == 5 ? 2 : 4;
        double bytes = tensors * NC * elem + 2.0 * C * elem + 2.0 * N * 4;
        print_result("layernorm_forward", v, t, bytes, 0, 0, sizes[0].name);
    }
    return lab_exit();
}
