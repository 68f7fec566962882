/*
GELU backward, exact erf form: dinp += dout · (Φ(x) + x · φ(x)),  Φ(x) = 0.5 · (1 + erf(x / √2)),
φ(x) = exp(-x² / 2) / √(2π). Forward saved its input x. Like every backward in kernels/, it ADDS
into dinp, so validation pre-fills dinp with random values (on both sides) instead of NaN.
CPU reference: gelu_backward in kernels/activations.c.

Build and run (from the repo root):
  make cuda && ./build/cuda/gelu_backward       (or ./build/cuda/gelu_backward 2: one version)

version 1: one thread per element, fp32, erff and expf.

version 2: fp32, float4 loads/stores of x, dout and dinp (streaming hints for x and dout, read once),
grid-stride loop, scalar tail.

version 3: bf16 x, dout and dinp (fp32 arithmetic, one rounding of the sum), eight elements per
16-byte access, scalar tail. Validated against the reference fed the same bf16-rounded x, dout and
initial dinp, to 2 bf16 ulps.
*/
#include "dev/cuda/common.h"
extern "C" {
#include "kernels/kernels.h"
}

#include "kernels/cuda/gelu.cuh"

// ---------------------------------------------------------------------------------------------
// kernels

__global__ void gelu_backward_kernel3(__nv_bfloat16 *dinp, const __nv_bfloat16 *inp, const __nv_bfloat16 *dout, int N) {
    int n8 = N / 8;
    const bf16x8 *x8 = reinterpret_cast<const bf16x8 *>(inp);
    const bf16x8 *d8 = reinterpret_cast<const bf16x8 *>(dout);
    bf16x8 *g8 = reinterpret_cast<bf16x8 *>(dinp);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += gridDim.x * blockDim.x) {
        bf16x8 x = x8[i], d = d8[i], g = g8[i];
        #pragma unroll
        for (int k = 0; k < 4; k++) {
            float2 xf = __bfloat1622float2(x.h[k]), df = __bfloat1622float2(d.h[k]), gf = __bfloat1622float2(g.h[k]);
            g.h[k] = __floats2bfloat162_rn(gf.x + df.x * gelu_grad(xf.x), gf.y + df.y * gelu_grad(xf.y));
        }
        g8[i] = g;
    }
    if (blockIdx.x == 0 && threadIdx.x < N - 8 * n8) {
        int i = 8 * n8 + threadIdx.x;
        float g = __bfloat162float(dinp[i]) + __bfloat162float(dout[i]) * gelu_grad(__bfloat162float(inp[i]));
        dinp[i] = __float2bfloat16_rn(g);
    }
}

// ---------------------------------------------------------------------------------------------
// launchers

static int grid_stride_blocks(int work, int block) {
    return std::max(1, std::min(ceil_div(work, block), lab_device.num_sms * 8));
}
static void gelu_backward1(float *dinp, const float *inp, const float *dout, int N, int block) {
    gelu_backward_kernel1<<<ceil_div(N, block), block>>>(dinp, inp, dout, N);
    cudaCheckLaunch();
}
static void gelu_backward2(float *dinp, const float *inp, const float *dout, int N, int block) {
    gelu_backward_kernel2<<<grid_stride_blocks(N / 4, block), block>>>(dinp, inp, dout, N);
    cudaCheckLaunch();
}
static void gelu_backward3(__nv_bfloat16 *dinp, const __nv_bfloat16 *inp, const __nv_bfloat16 *dout, int N, int block) {
    gelu_backward_kernel3<<<grid_stride_blocks(N / 8, block), block>>>(dinp, inp, dout, N);
    cudaCheckLaunch();
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    lab_init("gelu_backward");
    // benchmarked: gpu[0], the GPU training shape (B=32, T=256, I=3072)
    struct Size { const char *name; int N; };
    const Size gpu[] = {
        {"B32T256I3072", 32 * 256 * 3072}, {"B8T128I3072", 8 * 128 * 3072}, {"B3T77I1536", 3 * 77 * 1536}, {"N1003", 1003}, {"N3", 3}};
    // emulated: T=77 at a size where the grid-stride loops of versions 2 and 3 wrap (4 emulated SMs)
    const Size emulated[] = {{"B1T77I1024", 77 * 1024}, {"N1003", 1003}, {"N3", 3}};
    const std::vector<Size> sizes = lab_cases(gpu, emulated);

    for (auto &s : sizes) {
        int N = s.N;
        printf("-- validate %s (N=%d)\n", s.name, N);
        float *inp = make_random_float(N, -5.0f, 5.0f);
        float *dout = make_random_float(N);
        float *dinp0 = make_random_float(N);   // what dinp holds before the call
        float *ref = (float *)host_malloc(N * sizeof(float));
        float *d_inp = dev_alloc<float>(N), *d_dout = dev_alloc<float>(N), *d_dinp = dev_alloc<float>(N);
        to_device(d_inp, inp, N);
        to_device(d_dout, dout, N);
        memcpy(ref, dinp0, N * sizeof(float));
        gelu_backward(ref, inp, dout, N);
        for (int v = 1; v <= 2; v++) {
            if (!lab_want(argc, argv, v)) continue;
            lab_version = v;
            to_device(d_dinp, dinp0, N);
            if (v == 1) gelu_backward1(d_dinp, d_inp, d_dout, N, 256);
            else gelu_backward2(d_dinp, d_inp, d_dout, N, 256);
            cudaCheck(cudaDeviceSynchronize());
            validate("dinp", d_dinp, ref, N, TOL_FP32);
        }
        if (lab_want(argc, argv, 3)) {
            lab_version = 3;
            round_to_bf16(inp, N);
            round_to_bf16(dout, N);
            round_to_bf16(dinp0, N);
            memcpy(ref, dinp0, N * sizeof(float));
            gelu_backward(ref, inp, dout, N);
            __nv_bfloat16 *x16 = bf16_to_device(inp, N), *d16 = bf16_to_device(dout, N), *g16 = bf16_to_device(dinp0, N);
            gelu_backward3(g16, x16, d16, N, 256);
            cudaCheck(cudaDeviceSynchronize());
            validate("dinp (bf16)", g16, ref, N, TOL_BF16);
            cudaCheck(cudaFree(x16));
            cudaCheck(cudaFree(d16));
            cudaCheck(cudaFree(g16));
        }
        cudaCheck(cudaFree(d_inp));
        cudaCheck(cudaFree(d_dout));
        cudaCheck(cudaFree(d_dinp));
        free(inp);
        free(dout);
        free(dinp0);
        free(ref);
    }

    if (lab_emulated) return lab_exit();

    int N = sizes[0].N;
    float *d_inp = dev_alloc<float>(N), *d_dout = dev_alloc<float>(N), *d_dinp = dev_alloc<float>(N);
    __nv_bfloat16 *x16 = dev_alloc<__nv_bfloat16>(N), *d16 = dev_alloc<__nv_bfloat16>(N), *g16 = dev_alloc<__nv_bfloat16>(N);
    cudaCheck(cudaMemset(d_inp, 0, N * sizeof(float)));
    cudaCheck(cudaMemset(d_dout, 0, N * sizeof(float)));
    cudaCheck(cudaMemset(d_dinp, 0, N * sizeof(float)));
    cudaCheck(cudaMemset(x16, 0, N * sizeof(__nv_bfloat16)));
    cudaCheck(cudaMemset(d16, 0, N * sizeof(__nv_bfloat16)));
    cudaCheck(cudaMemset(g16, 0, N * sizeof(__nv_bfloat16)));
    printf("-- benchmark %s\n", sizes[0].name);
    for (int v = 1; v <= 3; v++) {
        if (!lab_want(argc, argv, v)) continue;
        Timing t = benchmark_blocks(v, {128, 256, 512, 1024}, [&](int block) {
            if (v == 1) gelu_backward1(d_dinp, d_inp, d_dout, N, block);
            else if (v == 2) gelu_backward2(d_dinp, d_inp, d_dout, N, block);
            else gelu_backward3(g16, x16, d16, N, block);
        });
        double bytes = 4.0 * N * (v == 3 ? 2 : 4);   // read x, dout, dinp; write dinp
        print_result("gelu_backward", v, t, bytes, 0, 0, sizes[0].name);
    }
    return lab_exit();
}
