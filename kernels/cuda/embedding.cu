// kernels/cuda/embedding.cu: the embedding sum and its backward (launchers; the kernels are
// kernels/cuda/embedding.cuh, shared with the labs).
//   forward: dev/cuda/embedding_forward.cu version 2 (float4 gathers), version 1 when C % 4 != 0 or a
//            table is not 16-byte aligned;
//   backward: dev/cuda/embedding_backward.cu version 2 (deterministic: one block per distinct row, the
//            row's tokens summed in token order; the host builds the row lists, padding rows left out).
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/embedding.cuh"

void cu_embedding_forward(float *out, const int *ids, const int *pos, const int *type_ids, const float *wte,
                          const float *wpe, const float *wtt, int BT, int C) {
    bool vec = C % 4 == 0 && aligned_f4(out) && aligned_f4(wte) && aligned_f4(wpe) && (!wtt || aligned_f4(wtt));
    if (vec) {
        unsigned grid = (unsigned)ceil_div((size_t)BT * (C / 4), (size_t)256);
        embedding_forward_kernel2<<<grid, 256>>>(out, ids, pos, type_ids, wte, wpe, wtt, BT, C);
    } else {
        unsigned grid = (unsigned)ceil_div((size_t)BT * C, (size_t)256);
        embedding_forward_kernel1<<<grid, 256>>>(out, ids, pos, type_ids, wte, wpe, wtt, BT, C);
    }
    cudaCheckLaunch();
}

void cu_embedding_backward_rows(float *dtable, const float *dout, const int *rows, const int *offsets,
                                const int *tokens, int nrows, int C) {
    if (nrows <= 0) return;
    int block = C >= 512 ? 256 : C >= 128 ? 128 : 32;
    if (C % 4 == 0 && aligned_f4(dtable) && aligned_f4(dout))
        embedding_backward_kernel2<true><<<nrows, block>>>(dtable, dout, rows, offsets, tokens, C);
    else
        embedding_backward_kernel2<false><<<nrows, block>>>(dtable, dout, rows, offsets, tokens, C);
    cudaCheckLaunch();
}
