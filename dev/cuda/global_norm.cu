/*
Global gradient norm and clipping over the one flat gradient buffer (torch.nn.utils.clip_grad_norm_,
norm type 2):
  norm = sqrt(Σ_all g²),  coef = max_norm / (norm + 1e-6),  g *= coef  when coef < 1
The norm is accumulated in fp32 on the GPU (torch also sums per-tensor norms in fp32); the CPU
reference accumulates in double. In training the scale pass can be skipped by handing coef to AdamW
as its grad_scale (adamw.cu); here the lab times norm + scale, the stand-alone cost.
CPU reference: model_clip_grad_norm in model/optimizer.c (on a Model holding just the gradients).

Build and run (from the repo root):
  make cuda && ./build/cuda/global_norm         (or ./build/cuda/global_norm 2: one version)

version 1: grid-stride Σg² per thread, block reduction, one fp32 atomicAdd per block into the total;
then a one-thread kernel for norm and coef, then the scale kernel. Nondeterministic in the last bits
(block order of the atomics).

version 2: deterministic two-pass: a fixed grid (2 blocks per SM) with float4 loads writes one
partial per block; a one-block kernel sums the partials in fixed order and writes norm and coef;
then the scale kernel (float4). Bit-identical from run to run on the same GPU.

version 3: version 2 in one launch for the norm: each block writes its partial, and the last block
to finish (atomic ticket after __threadfence) sums the partials in fixed order, writes norm and coef
and resets the ticket for the next call. Then the scale kernel. Deterministic as version 2.
*/
#include "dev/cuda/common.h"
extern "C" {
#include "model/model.h"
}

// ---------------------------------------------------------------------------------------------
// kernels. result: [0] = norm, [1] = clip coef (1 when no clipping)

#include "kernels/cuda/global_norm.cuh"

// g (n) -> sumsq[0] += Σ g² (atomically)
__global__ void global_norm_kernel1(float *sumsq, const float *g, size_t n) {
    float acc = 0.0f;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        acc += g[i] * g[i];
    acc = block_reduce_sum(acc);
    if (threadIdx.x == 0) atomicAdd(sumsq, acc);
}
__global__ void global_norm_finish_kernel1(float *result, const float *sumsq, float max_norm) {
    float norm = sqrtf(sumsq[0]);
    result[0] = norm;
    result[1] = clip_coef(norm, max_norm);
}

__global__ void global_norm_partials_kernel2(float *partials, const float *g, size_t n) {
    float s = block_sumsq4(g, n);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}
// one block: sums partials[0..nparts) in a fixed order (per-thread strided, then the block tree)
__global__ void global_norm_finish_kernel2(float *result, const float *partials, int nparts, float max_norm) {
    float acc = 0.0f;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) acc += partials[i];
    acc = block_reduce_sum(acc);
    if (threadIdx.x == 0) {
        float norm = sqrtf(acc);
        result[0] = norm;
        result[1] = clip_coef(norm, max_norm);
    }
}

// g *= result[1]. Always runs, even for coef == 1 (a no-op in value): the lab times the clipping
// step's full cost; in training the coef goes to AdamW instead and this pass does not exist.
__global__ void clip_scale_kernel(float *g, size_t n, const float *result) {
    float coef = result[1];
    size_t n4 = n / 4;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (size_t)gridDim.x * blockDim.x) {
        float4 v = reinterpret_cast<float4 *>(g)[i];
        reinterpret_cast<float4 *>(g)[i] = make_float4(v.x * coef, v.y * coef, v.z * coef, v.w * coef);
    }
    if (blockIdx.x == 0 && threadIdx.x < n - 4 * n4) g[4 * n4 + threadIdx.x] *= coef;
}

// ---------------------------------------------------------------------------------------------
// launchers: norm and coef into result[0..1], then clip g in place

typedef struct { float *result, *sumsq, *partials; unsigned int *ticket; int max_blocks; } NormScratch;

static void norm_scratch_free(NormScratch *s) {
    for (float *p : {s->result, s->sumsq, s->partials}) cudaCheck(cudaFree(p));
    cudaCheck(cudaFree(s->ticket));
}

static int norm_grid(size_t n, int block, int max_blocks) {
    return (int)std::max<size_t>(1, std::min<size_t>(ceil_div(n / 4 + 1, (size_t)block), (size_t)max_blocks));
}
static void clip_scale(float *g, size_t n, const float *result) {
    int grid = norm_grid(n, 256, 4 * lab_device.num_sms);
    clip_scale_kernel<<<grid, 256>>>(g, n, result);
    cudaCheckLaunch();
}
static void global_norm_clip1(float *g, size_t n, float max_norm, NormScratch *s, int block) {
    int grid = norm_grid(n * 4, block, 4 * lab_device.num_sms);   // scalar loads: n elements
    cudaCheck(cudaMemsetAsync(s->sumsq, 0, sizeof(float)));
    global_norm_kernel1<<<grid, block>>>(s->sumsq, g, n);
    cudaCheckLaunch();
    global_norm_finish_kernel1<<<1, 1>>>(s->result, s->sumsq, max_norm);
    cudaCheckLaunch();
    clip_scale(g, n, s->result);
}
static void global_norm_clip2(float *g, size_t n, float max_norm, NormScratch *s, int block) {
    int grid = norm_grid(n, block, s->max_blocks);
    global_norm_partials_kernel2<<<grid, block>>>(s->partials, g, n);
    cudaCheckLaunch();
    global_norm_finish_kernel2<<<1, 1024>>>(s->result, s->partials, grid, max_norm);
    cudaCheckLaunch();
    clip_scale(g, n, s->result);
}
static void global_norm_clip3(float *g, size_t n, float max_norm, NormScratch *s, int block) {
    int grid = norm_grid(n, block, s->max_blocks);
    global_norm_kernel3<<<grid, block>>>(s->result, s->partials, s->ticket, g, n, max_norm);
    cudaCheckLaunch();
    clip_scale(g, n, s->result);
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    lab_init("global_norm");
    // n: DistilBERT-base + 2-label head = 66,955,010 parameters (benchmarked), then awkward counts;
    // emulated: the awkward counts (the grids are a few blocks there: the loops still wrap)
    struct Size { const char *name; size_t n; };
    const Size gpu[] = {{"distilbert-NL2", 66955010}, {"n1000003", 1000003}, {"n77", 77}, {"n3", 3}};
    const Size emulated[] = {{"n1000003", 1000003}, {"n77", 77}, {"n3", 3}};
    const std::vector<Size> sizes = lab_cases(gpu, emulated);
    NormScratch s;
    s.max_blocks = 2 * lab_device.num_sms;
    s.result = dev_alloc<float>(2);
    s.sumsq = dev_alloc<float>(1);
    s.partials = dev_alloc<float>(s.max_blocks);
    s.ticket = dev_alloc<unsigned int>(1);
    cudaCheck(cudaMemset(s.ticket, 0, sizeof(unsigned int)));

    for (auto &sz : sizes) {
        size_t n = sz.n;
        float *g0 = make_random_float(n, -1e-3f, 1e-3f);
        float *g = (float *)host_malloc(n * sizeof(float));
        float *d_g = dev_alloc<float>(n);
        // max_norm: clipping (below the norm) and no clipping
        double true_norm = 0.0;
        for (size_t i = 0; i < n; i++) true_norm += (double)g0[i] * g0[i];
        true_norm = sqrt(true_norm);
        for (double max_norm : {0.5 * true_norm, 1e30}) {
            printf("-- validate %s (n=%zu, max_norm %.4g: %s)\n", sz.name, n, max_norm, max_norm < true_norm ? "clips" : "no clip");
            memcpy(g, g0, n * sizeof(float));
            Model m;
            memset(&m, 0, sizeof m);
            m.grads_memory = g;
            m.num_parameters = n;
            double ref_norm = model_clip_grad_norm(&m, max_norm);
            for (int v = 1; v <= 3; v++) {
                if (!lab_want(argc, argv, v)) continue;
                lab_version = v;
                to_device(d_g, g0, n);
                poison(s.result, 2 * sizeof(float));
                poison(s.partials, s.max_blocks * sizeof(float));
                if (v == 1) global_norm_clip1(d_g, n, (float)max_norm, &s, 256);
                if (v == 2) global_norm_clip2(d_g, n, (float)max_norm, &s, 256);
                if (v == 3) global_norm_clip3(d_g, n, (float)max_norm, &s, 256);
                cudaCheck(cudaDeviceSynchronize());
                float result[2];
                to_host(result, s.result, 2);
                validate_scalar("norm", result[0], ref_norm, 1e-4f);
                validate("clipped grads", d_g, g, n, TOL_FP32);
            }
        }
        cudaCheck(cudaFree(d_g));
        free(g0);
        free(g);
    }

    if (lab_emulated) {
        norm_scratch_free(&s);
        return lab_exit();
    }

    size_t n = sizes[0].n;
    float *d_g = dev_alloc<float>(n);
    std::vector<float> ones(n, 1.0f);   // any finite values
    to_device(d_g, ones.data(), n);
    printf("-- benchmark %s\n", sizes[0].name);
    for (int v = 1; v <= 3; v++) {
        if (!lab_want(argc, argv, v)) continue;
        Timing t = benchmark_blocks(v, {256, 512, 1024}, [&](int block) {
            if (v == 1) global_norm_clip1(d_g, n, 1.0f, &s, block);
            if (v == 2) global_norm_clip2(d_g, n, 1.0f, &s, block);
            if (v == 3) global_norm_clip3(d_g, n, 1.0f, &s, block);
        });
        double bytes = 4.0 * n * 3;   // norm: read g; scale: read + write g
        print_result("global_norm", v, t, bytes, 0, 0, sizes[0].name);
    }
    cudaCheck(cudaFree(d_g));
    norm_scratch_free(&s);
    return lab_exit();
}
