// kernels/cuda/dropout.cu: dropout on activations, and the first token's gather / scatter (the
// classifier heads' input, [CLS] / <s>).
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/dropout.h"

// inverted dropout with kernels/dropout.h's counter-based mask (the very function the CPU calls,
// compiled __host__ __device__): keep(seed, i) for element i, scale (float)(1 / (1 - p)) as
// kernels/dropout.c. p <= 0: copy (forward) / add (backward). No lab: one thread per element.
__global__ void dropout_forward_kernel(float *out, const float *inp, float p, float scale, uint64_t seed, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    if (p <= 0.0f) { out[i] = inp[i]; return; }
    out[i] = dropout_keep(seed, (uint64_t)i, (double)p) ? inp[i] * scale : 0.0f;
}
__global__ void dropout_backward_kernel(float *dinp, const float *dout, float p, float scale, uint64_t seed, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    if (p <= 0.0f) { dinp[i] += dout[i]; return; }
    dinp[i] += dropout_keep(seed, (uint64_t)i, (double)p) ? dout[i] * scale : 0.0f;
}
static float dropout_scale(float p) { return p > 0 ? (float)(1.0 / (1.0 - (double)p)) : 1.0f; }
void cu_dropout_forward(float *out, const float *inp, float p, uint64_t seed, int N) {
    if (p <= 0 && out == inp) return;
    dropout_forward_kernel<<<ceil_div(N, 256), 256>>>(out, inp, p, dropout_scale(p), seed, N);
    cudaCheckLaunch();
}
void cu_dropout_backward(float *dinp, const float *dout, float p, uint64_t seed, int N) {
    dropout_backward_kernel<<<ceil_div(N, 256), 256>>>(dinp, dout, p, dropout_scale(p), seed, N);
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
    gather_first_kernel<<<ceil_div(B * C, 256), 256>>>(out, inp, B, T, C);
    cudaCheckLaunch();
}
void cu_scatter_first_backward(float *dinp, const float *dout, int B, int T, int C) {
    scatter_first_kernel<<<ceil_div(B * C, 256), 256>>>(dinp, dout, B, T, C);
    cudaCheckLaunch();
}
