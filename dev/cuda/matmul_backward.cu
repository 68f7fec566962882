/*
matmul_backward.cu: the linear layer backward. Forward was out = inp · Wᵀ + bias with inp (N,C),
weight (OC,C), out (N,OC); backward ADDS (kernels/kernels.h convention):
    dinp    (N,C)  += dout · W          GEMM  M=N,  N=C, K=OC
    dweight (OC,C) += doutᵀ · inp       GEMM  M=OC, N=C, K=N   (K = all tokens: split-K)
    dbias   (OC)   += Σ_rows dout       column reduction
CPU reference: linear_backward from kernels/ (linked from build/cuda/libref.a).

Build and run (from the repo root):
    make cuda                        # or: make -C dev/cuda matmul_backward
    ./build/cuda/matmul_backward     # validate every version at every size, then benchmark
    ./build/cuda/matmul_backward 2   # one version only

Version 1: naive fp32. One thread per element of dinp and of dweight (each a dot product read
from global memory, added into the gradient), one thread per column for dbias.

Version 2: tiled fp32 SIMT (matmul_simt.cuh: 128x128x8 tiles, 8x8 per thread) for both products,
taken as strided views (B = W for dinp, A = doutᵀ for dweight) instead of transposed copies. dweight
uses split-K: blockIdx.z takes a slice of the tokens and writes an fp32 partial slab, then a
second kernel sums the slabs in slice order and adds into dweight (deterministic, no atomics;
kernel-notes §3.7). dbias: 32 columns x 8 row groups per block, fixed-order reduction.

Version 3: bf16 tensor cores, mma.sync (matmul_mma.cuh) with fp32 accumulation and fp32
gradients. dinp: A = dout (k-contiguous), B = W read (k, n) and transposed on load by
ldmatrix.trans; += in the epilogue. dweight: A = doutᵀ and B = inp both m/n-contiguous (ldmatrix.trans
for both), split-K slabs + the same fixed-order reduction. dbias from the bf16 dout. Tails and
K % 8 != 0 as in matmul_forward (scalar loads when 16-byte copies are impossible).

Validation: fresh random non-zero inputs, gradients pre-filled with random values (they are added
into), at B8xT128 (768->768, 768->3072), the 2-column head at T=77, C = 37 (K = 37 in the forward,
odd widths everywhere in backward) and a MiniLM T=77 product; bf16 versions against the reference
fed the same bf16-rounded inputs. Benchmark at the FFN1 backward shapes (RESULT lines, common.h).
*/
#include <math.h>
#include "common.h"
extern "C" {
#include "kernels/kernels.h"
}
#include "kernels/cuda/matmul_simt.cuh"

// ------------------------------------------------------------------------------------- dbias

#include "kernels/cuda/matmul.cuh"

template <typename T> static void dbias_launch(float *dbias, const T *dout, int N, int OC) {
    dbias_kernel<T><<<ceil_div(OC, 32), dim3(32, 8)>>>(dbias, dout, N, OC);
}

// version 1's dbias: one thread per column
__global__ void dbias_naive_kernel(float *dbias, const float *dout, int N, int OC) {
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= OC) return;
    float acc = 0.0f;
    for (int n = 0; n < N; n++) acc += dout[(size_t)n * OC + o];
    dbias[o] += acc;
}

// ------------------------------------------------------------------------------------- dispatch

struct Problem {
    int N, C, OC;
    float *dout, *inp, *weight;             // fp32 inputs
    bf16 *dout16, *inp16, *weight16;        // bf16 copies
    float *dinp, *dweight, *dbias;          // gradients (added into)
    float *workspace;                       // split-K partial slabs
    size_t workspace_floats;
};

static const int NUM_VERSIONS = 3;
static bool version_is_bf16(int v) { return v == 3; }

// split-K factor for the dW product: enough CTAs to fill the GPU twice, slices of >= 256 tokens
static int choose_split(int M, int N, int K, size_t workspace_floats) {
    int tiles = ceil_div(M, 128) * ceil_div(N, 128);
    int split = std::max(1, std::min(ceil_div(2 * lab_device.num_sms, tiles), K / 256));
    while (split > 1 && (size_t)split * M * N > workspace_floats) split--;
    return split;
}

static void matmul_backward(int version, const Problem &p) {
    const int N = p.N, C = p.C, OC = p.OC;
    Epilogue acc = {NULL, NULL, 0, 1};   // += into the gradient
    Epilogue plain = {NULL, NULL, 0, 0}; // split-K partials
    switch (version) {
    case 1:
        // dinp (N,C) += dout (N,OC) · W: A(n,o) = dout[n*OC + o], B(o,c) = weight[o*C + c]
        gemm_naive(p.dinp, C, p.dout, OC, 1, p.weight, C, 1, N, C, OC, acc);
        // dweight (OC,C) += doutᵀ · inp: A(o,n) = dout[n*OC + o], B(n,c) = inp[n*C + c]
        gemm_naive(p.dweight, C, p.dout, 1, OC, p.inp, C, 1, OC, C, N, acc);
        dbias_naive_kernel<<<ceil_div(OC, 128), 128>>>(p.dbias, p.dout, N, OC);
        break;
    case 2: {
        gemm_simt(p.dinp, C, p.dout, OC, 1, p.weight, C, 1, N, C, OC, acc, 1);
        int split = choose_split(OC, C, N, p.workspace_floats);
        if (split == 1) {
            gemm_simt(p.dweight, C, p.dout, 1, OC, p.inp, C, 1, OC, C, N, acc, 1);
        } else {
            gemm_simt(p.workspace, C, p.dout, 1, OC, p.inp, C, 1, OC, C, N, plain, split);
            splitk_reduce(p.dweight, p.workspace, split, (size_t)OC * C, 1);
        }
        dbias_launch(p.dbias, p.dout, N, OC);
        break;
    }
    case 3: {
        // dinp: A = dout (M=N, K=OC) k-contiguous; B(k=o, n=c) = weight[o*C + c]: (K,N) layout
        gemm_mma<true, false, float>(p.dinp, C, p.dout16, OC, p.weight16, C, N, C, OC, acc, 1, 0);
        // dweight: A(m=o, k=n) = dout[n*OC + o]: (K,M) layout; B(k=n, n=c) = inp[n*C + c]: (K,N)
        int split = choose_split(OC, C, N, p.workspace_floats);
        if (split == 1) {
            gemm_mma<false, false, float>(p.dweight, C, p.dout16, OC, p.inp16, C, OC, C, N, acc, 1, 0);
        } else {
            gemm_mma<false, false, float>(p.workspace, C, p.dout16, OC, p.inp16, C, OC, C, N, plain, split, 0);
            splitk_reduce(p.dweight, p.workspace, split, (size_t)OC * C, 1);
        }
        dbias_launch(p.dbias, p.dout16, N, OC);
        break;
    }
    default:
        fprintf(stderr, "no version %d\n", version);
        exit(2);
    }
    cudaCheckLaunch();
}

static Problem problem_alloc(int N, int C, int OC) {
    Problem p;
    p.N = N; p.C = C; p.OC = OC;
    p.dout = dev_alloc<float>((size_t)N * OC);
    p.inp = dev_alloc<float>((size_t)N * C);
    p.weight = dev_alloc<float>((size_t)OC * C);
    p.dout16 = dev_alloc<bf16>((size_t)N * OC);
    p.inp16 = dev_alloc<bf16>((size_t)N * C);
    p.weight16 = dev_alloc<bf16>((size_t)OC * C);
    p.dinp = dev_alloc<float>((size_t)N * C);
    p.dweight = dev_alloc<float>((size_t)OC * C);
    p.dbias = dev_alloc<float>(OC);
    p.workspace_floats = (size_t)16 * OC * C;
    p.workspace = dev_alloc<float>(p.workspace_floats);
    return p;
}
static void problem_free(Problem &p) {
    float *f[] = {p.dout, p.inp, p.weight, p.dinp, p.dweight, p.dbias, p.workspace};
    for (float *x : f) cudaCheck(cudaFree(x));
    bf16 *h[] = {p.dout16, p.inp16, p.weight16};
    for (bf16 *x : h) cudaCheck(cudaFree(x));
}
static void upload_both(float *d32, bf16 *d16, const float *host, size_t n) {
    to_device(d32, host, n);
    std::vector<bf16> tmp(n);
    float_to_bf16(tmp.data(), host, n);
    to_device(d16, tmp.data(), n);
}

// ------------------------------------------------------------------------------------- main

struct Case { int N, C, OC; const char *label; };

// bf16 inputs (the reference sees the same rounded values), fp32 accumulation and fp32 gradients:
// only the summation order differs, but over K up to a few thousand products with split-K slabs
static const Tolerance TOL_BF16_IN_FP32_OUT = {1e-3f, 1e-2f};
static Tolerance tolerance_for(int v) { return version_is_bf16(v) ? TOL_BF16_IN_FP32_OUT : TOL_FP32; }

static void validate_case(int v, const Case &c) {
    const int N = c.N, C = c.C, OC = c.OC;
    size_t nx = (size_t)N * C, nw = (size_t)OC * C, ny = (size_t)N * OC;
    float *dout = make_random_float(ny);
    float *inp = make_random_float(nx);
    float *weight = make_random_float(nw, -0.05f, 0.05f);
    if (version_is_bf16(v)) { round_to_bf16(dout, ny); round_to_bf16(inp, nx); round_to_bf16(weight, nw); }
    // the gradients already hold something: backward adds into them
    float *dinp = make_random_float(nx), *dweight = make_random_float(nw), *dbias = make_random_float(OC);

    Problem p = problem_alloc(N, C, OC);
    upload_both(p.dout, p.dout16, dout, ny);
    upload_both(p.inp, p.inp16, inp, nx);
    upload_both(p.weight, p.weight16, weight, nw);
    to_device(p.dinp, dinp, nx);
    to_device(p.dweight, dweight, nw);
    to_device(p.dbias, dbias, OC);
    poison(p.workspace, p.workspace_floats * sizeof(float));  // every partial must be written
    matmul_backward(v, p);
    cudaCheck(cudaDeviceSynchronize());

    linear_backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
    printf("version %d  %s (N %d C %d OC %d)\n", v, c.label, N, C, OC);
    Tolerance tol = tolerance_for(v);
    validate("dinp", p.dinp, dinp, nx, tol);
    validate("dweight", p.dweight, dweight, nw, tol);
    validate("dbias", p.dbias, dbias, OC, tol);
    problem_free(p);
    free(dout); free(inp); free(weight); free(dinp); free(dweight); free(dbias);
}

int main(int argc, char **argv) {
    lab_init("matmul_backward");
    const Case cases[] = {
        {8 * 128, 768, 768, "B8xT128_C768_OC768"},
        {8 * 128, 768, 3072, "B8xT128_FFN1"},
        {8 * 77, 768, 2, "B8xT77_head_OC2"},
        {8 * 77, 37, 100, "B8xT77_C37_OC100"},
        {77, 384, 1152, "B1xT77_C384_OC1152"},
    };
    // emulated: a few million multiply-adds per product. 616 tokens (split-K for dweight), C and OC
    // past a 128-tile and OC = 136 past the 32-deep K tile of dinp (16-byte loads); the 2-column
    // head; C = 37 (scalar loads); T = 77 with M, N and K tails in both products
    const Case emulated[] = {
        {8 * 77, 72, 136, "B8xT77_C72_OC136"},
        {8 * 77, 96, 2, "B8xT77_head_OC2"},
        {8 * 77, 37, 100, "B8xT77_C37_OC100"},
        {77, 160, 200, "B1xT77_C160_OC200"},
    };
    const Case bench[] = {
        {8 * 128, 768, 3072, "B8xT128_FFN1"},
        {32 * 256, 768, 3072, "B32xT256_FFN1"},
    };
    for (int v = 1; v <= NUM_VERSIONS; v++) {
        if (!lab_want(argc, argv, v)) continue;
        lab_version = v;
        for (const Case &c : lab_cases(cases, emulated)) validate_case(v, c);
    }
    if (lab_emulated) return lab_exit();

    for (const Case &c : bench) {
        Problem p = problem_alloc(c.N, c.C, c.OC);
        size_t nx = (size_t)c.N * c.C, nw = (size_t)c.OC * c.C, ny = (size_t)c.N * c.OC;
        float *dout = make_random_float(ny), *inp = make_random_float(nx), *weight = make_random_float(nw);
        upload_both(p.dout, p.dout16, dout, ny);
        upload_both(p.inp, p.inp16, inp, nx);
        upload_both(p.weight, p.weight16, weight, nw);
        cudaCheck(cudaMemset(p.dinp, 0, nx * sizeof(float)));
        cudaCheck(cudaMemset(p.dweight, 0, nw * sizeof(float)));
        cudaCheck(cudaMemset(p.dbias, 0, c.OC * sizeof(float)));
        for (int v = 1; v <= NUM_VERSIONS; v++) {
            if (!lab_want(argc, argv, v)) continue;
            Timing t = benchmark([&] { matmul_backward(v, p); });
            double elt = version_is_bf16(v) ? 2.0 : 4.0;
            // inputs read once; fp32 gradients read and written once
            double bytes = elt * (double)(ny + nx + nw) + 8.0 * (double)(nx + nw + c.OC);
            double flops = 4.0 * c.N * c.C * c.OC;
            print_result("matmul_backward", v, t, bytes, flops,
                         version_is_bf16(v) ? PEAK_TFLOPS_BF16 : PEAK_TFLOPS_FP32, c.label);
        }
        problem_free(p);
        free(dout); free(inp); free(weight);
    }
    return lab_exit();
}
