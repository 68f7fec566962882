// kernels/cuda/global_norm.cu: the global gradient norm and the clip coefficient, with
// dev/cuda/global_norm.cu version 3 (kernels/cuda/global_norm.cuh: float4 partials over a fixed grid,
// the last block by atomic ticket sums them in fixed order: deterministic, one launch). The clip
// coefficient is computed in double as model/optimizer.c does and handed to AdamW as its gradient scale
// instead of a scaling pass over the gradients.
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/cuda/global_norm.cuh"

int cu_global_norm_max_blocks(void) { return 2 * num_sms(); }
void cu_global_norm(float *result, float *partials, unsigned int *ticket, const float *g, size_t n, float max_norm) {
    // the float4 path needs g 16-byte aligned: the gradient buffer is a cudaMalloc base
    int grid = (int)ceil_div(n / 4 + 1, (size_t)256);
    if (grid > cu_global_norm_max_blocks()) grid = cu_global_norm_max_blocks();
    if (grid < 1) grid = 1;
    global_norm_kernel3<<<grid, 256>>>(result, partials, ticket, g, n, max_norm);
    cudaCheckLaunch();
}
