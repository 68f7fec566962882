// kernels/cuda/crossentropy.cu: softmax cross-entropy over the labels (rows labelled IGNORE_INDEX
// skipped), mean over the labelled rows. Kernels in kernels/cuda/crossentropy.cuh, shared with the lab:
//   forward: dev/cuda/crossentropy.cu version 2 (one block, warp per row, fixed-order mean) with
//            dlogits NULL: it writes probs, losses and stats;
//   backward: version 1's backward kernel, which reads them, because model_cuda_backward runs after
//            the forward like the CPU model.
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/crossentropy.cuh"

void cu_crossentropy_forward(float *probs, float *losses, float *stats, const float *logits, const int *labels, int B,
                             int NL) {
    crossentropy_fused_kernel2<<<1, 256>>>(probs, losses, nullptr, stats, logits, labels, B, NL);
    cudaCheckLaunch();
}
void cu_crossentropy_backward(float *dlogits, const float *probs, const int *labels, const float *stats, int B,
                              int NL) {
    crossentropy_backward_kernel1<<<ceil_div(B * NL, 256), 256>>>(dlogits, probs, labels, stats, B, NL);
    cudaCheckLaunch();
}
