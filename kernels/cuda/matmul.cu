// kernels/cuda/matmul.cu: the linear layers of the GPU training path, out = inp·Wᵀ + bias
// (W (OC, C), PyTorch layout) and its backward, from the matmul labs' shared GEMM headers:
//   fp32: chosen from dev/cuda/matmul_forward.cu / matmul_backward.cu version 2 — gemm_simt
//         (kernels/cuda/matmul_simt.cuh: 128x128x8 smem tiles, 8x8 register tile per thread) on
//         strided views, split-K slabs + fixed-order reduction for dW, the 32x8 dbias kernel;
//   bf16: chosen from version 3 — gemm_mma (kernels/cuda/matmul_mma.cuh: mma.sync m16n8k16, bf16
//         operands, fp32 accumulation, 3-stage cp.async), with fp32 output (the labs store bf16 in
//         the forward; here every activation stays fp32, see doc/cuda.md "GPU training path").
// The wgmma version 4 (sm_90a) is not used yet: it has not run anywhere, and mma.sync runs on sm_80+.
// GELU of the FFN is fused into the first FFN linear through the shared Epilogue (exact erf form,
// the pre-activation saved for backward), as the labs validate it.
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/matmul_simt.cuh"

static void dbias(float *db, const float *dout, int N, int OC) {
    if (!db) return;
    dbias_kernel<float><<<ceil_div(OC, 32), dim3(32, 8)>>>(db, dout, N, OC);
    cudaCheckLaunch();
}

// split-K factor for dW (M = OC, N = C, K = tokens): fill the GPU about twice, slices of >= 256
// tokens, bounded by the workspace (matmul_backward.cu's choose_split)
static int choose_split(int M, int N, int K, size_t workspace_floats) {
    int tiles = ceil_div(M, 128) * ceil_div(N, 128);
    int split = ceil_div(2 * num_sms(), tiles);
    if (split > K / 256) split = K / 256;
    if (split < 1) split = 1;
    while (split > 1 && (size_t)split * M * N > workspace_floats) split--;
    return split;
}

void cu_linear_forward(float *out, float *gelu_pre, const float *inp, const float *weight, const float *bias, int N,
                       int C, int OC) {
    Epilogue ep = {bias, gelu_pre, gelu_pre != NULL, 0};
    // A(n,c) = inp[n*C + c]; B(c,o) = weight[o*C + c]
    gemm_simt(out, OC, inp, C, 1, weight, 1, C, N, OC, C, ep, 1);
    cudaCheckLaunch();
}

void cu_linear_forward_bf16(float *out, float *gelu_pre, const bf16 *inp16, const bf16 *weight16, const float *bias,
                            int N, int C, int OC) {
    Epilogue ep = {bias, gelu_pre, gelu_pre != NULL, 0};
    gemm_mma<true, true, float>(out, OC, inp16, C, weight16, C, N, OC, C, ep, 1, 0);
    cudaCheckLaunch();
}

void cu_linear_forward_bf16_out16(bf16 *out16, const bf16 *inp16, const bf16 *weight16, const float *bias, int N,
                                  int C, int OC) {
    Epilogue ep = {bias, NULL, 0, 0};
    gemm_mma<true, true, bf16>(out16, OC, inp16, C, weight16, C, N, OC, C, ep, 1, 0);
    cudaCheckLaunch();
}

void cu_linear_backward(float *dinp, float *dweight, float *dbias_, const float *dout, const float *inp,
                        const float *weight, int N, int C, int OC, float *workspace, size_t workspace_floats) {
    Epilogue acc = {NULL, NULL, 0, 1};
    Epilogue plain = {NULL, NULL, 0, 0};
    // dinp (N,C) += dout (N,OC) · W
    if (dinp) gemm_simt(dinp, C, dout, OC, 1, weight, C, 1, N, C, OC, acc, 1);
    // dweight (OC,C) += doutᵀ · inp
    int split = choose_split(OC, C, N, workspace_floats);
    if (split == 1) {
        gemm_simt(dweight, C, dout, 1, OC, inp, C, 1, OC, C, N, acc, 1);
    } else {
        gemm_simt(workspace, C, dout, 1, OC, inp, C, 1, OC, C, N, plain, split);
        splitk_reduce(dweight, workspace, split, (size_t)OC * C, 1);
    }
    cudaCheckLaunch();
    dbias(dbias_, dout, N, OC);
}

void cu_linear_backward_bf16(float *dinp, float *dweight, float *dbias_, const float *dout, const bf16 *dout16,
                             const bf16 *inp16, const bf16 *weight16, int N, int C, int OC, float *workspace,
                             size_t workspace_floats) {
    Epilogue acc = {NULL, NULL, 0, 1};
    Epilogue plain = {NULL, NULL, 0, 0};
    // dinp: A = dout (N, OC) k-contiguous; B(k=o, n=c) = weight[o*C + c]: the (K,N) layout
    if (dinp) gemm_mma<true, false, float>(dinp, C, dout16, OC, weight16, C, N, C, OC, acc, 1, 0);
    // dweight: A(m=o, k=n) = dout[n*OC + o]: (K,M) layout; B(k=n, n=c) = inp[n*C + c]: (K,N)
    int split = choose_split(OC, C, N, workspace_floats);
    if (split == 1) {
        gemm_mma<false, false, float>(dweight, C, dout16, OC, inp16, C, OC, C, N, acc, 1, 0);
    } else {
        gemm_mma<false, false, float>(workspace, C, dout16, OC, inp16, C, OC, C, N, plain, split, 0);
        splitk_reduce(dweight, workspace, split, (size_t)OC * C, 1);
    }
    cudaCheckLaunch();
    dbias(dbias_, dout, N, OC);
}
