/*
LayerNorm backward, optionally fused with the backward of the residual add before the LayerNorm.
Forward saved mean and rstd per row. With xhat = (x - mean) · rstd and g = dout · weight:
  dinp    += rstd · (g - mean(g) - xhat · mean(g · xhat))        (per row)
  dweight += Σ_rows dout · xhat,   dbias += Σ_rows dout            (column sums over all N rows)
Fused residual (forward was resid = inp1 + inp2, out = LN(resid)): the same dx goes to both inputs,
dinp1 += dx and dinp2 += dx (the residual stream and the sublayer output).
Every output is accumulated (+=), so validation pre-fills them with random values on both sides.
The column sums are deterministic in every version: fixed partition, fixed summation order.
CPU reference: layernorm_backward in kernels/layernorm.c (and residual_backward in
kernels/residual.c for the fused case).

Build and run (from the repo root):
  make cuda && ./build/cuda/layernorm_backward  (or ./build/cuda/layernorm_backward 3: one version)

version 1: two kernels. One thread per row computes dinp (two passes over the row); one thread per
column sums dout · xhat and dout over all rows for dweight and dbias. Simple and slow: the row
kernel is uncoalesced and the column kernel re-reads both tensors.

version 2: one warp per row (coalesced, shuffle reductions) for dinp; each warp also accumulates its
rows' dweight/dbias contributions into its own shared-memory slice (lanes own columns, so no
atomics), the block adds its warps' slices in fixed order into a per-block partial in global
scratch, and a second kernel sums the partials over blocks in fixed order. Any C (shared memory
limits C to 1536 at 4 warps per block).

version 3: version 2 with the row in registers: NV float4s of x, dout per lane (C % 4 == 0, C <= 1024;
other C fall back to version 2), column partials kept in registers across the rows a warp visits,
one shared-memory pass per block at the end. Takes an optional second gradient (dinp2) for the
fused residual backward.
*/
#include "dev/cuda/common.h"
extern "C" {
#include "kernels/kernels.h"
}

// ---------------------------------------------------------------------------------------------
// kernels

// dout, inp (N,C), weight (C), mean, rstd (N) -> dinp (N,C) +=
__global__ void layernorm_backward_dinp_kernel1(float *dinp, const float *dout, const float *inp, const float *weight,
                                                const float *mean, const float *rstd, int N, int C) {
    int row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N) return;
    const float *x = inp + (size_t)row * C, *dy = dout + (size_t)row * C;
    float m = mean[row], s = rstd[row];
    float mean_g = 0.0f, mean_gx = 0.0f;
    for (int i = 0; i < C; i++) {
        float g = dy[i] * weight[i];
        mean_g += g;
        mean_gx += g * ((x[i] - m) * s);
    }
    mean_g /= C;
    mean_gx /= C;
    float *dx = dinp + (size_t)row * C;
    for (int i = 0; i < C; i++) dx[i] += s * (dy[i] * weight[i] - mean_g - ((x[i] - m) * s) * mean_gx);
}
// -> dweight (C) +=, dbias (C) +=
__global__ void layernorm_backward_dparams_kernel1(float *dweight, float *dbias, const float *dout, const float *inp,
                                                   const float *mean, const float *rstd, int N, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float dw = 0.0f, db = 0.0f;
    for (int n = 0; n < N; n++) {
        float dy = dout[(size_t)n * C + c];
        dw += dy * ((inp[(size_t)n * C + c] - mean[n]) * rstd[n]);
        db += dy;
    }
    dweight[c] += dw;
    dbias[c] += db;
}

// version 2: warp per row; shared memory: [warps][2][C] column partials
__global__ void layernorm_backward_kernel2(float *dinp, float *scratch, const float *dout, const float *inp,
                                          const float *weight, const float *mean, const float *rstd, int N, int C) {
    extern __shared__ float smem[];
    int nwarps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *dw_s = smem + (size_t)warp * 2 * C, *db_s = dw_s + C;
    for (int i = lane; i < C; i += 32) { dw_s[i] = 0.0f; db_s[i] = 0.0f; }
    for (int row = blockIdx.x * nwarps + warp; row < N; row += gridDim.x * nwarps) {
        const float *x = inp + (size_t)row * C, *dy = dout + (size_t)row * C;
        float m = mean[row], s = rstd[row];
        float sg = 0.0f, sgx = 0.0f;
        for (int i = lane; i < C; i += 32) {
            float g = dy[i] * weight[i];
            sg += g;
            sgx += g * ((x[i] - m) * s);
        }
        float mean_g = warp_reduce_sum(sg) / C, mean_gx = warp_reduce_sum(sgx) / C;
        float *dx = dinp + (size_t)row * C;
        for (int i = lane; i < C; i += 32) {
            float xhat = (x[i] - m) * s, d = dy[i];
            dx[i] += s * (d * weight[i] - mean_g - xhat * mean_gx);
            dw_s[i] += d * xhat;   // lane owns column i within its warp: no race
            db_s[i] += d;
        }
    }
    __syncthreads();
    // this block's partial: warps' slices added in warp order
    float *out = scratch + (size_t)blockIdx.x * 2 * C;
    for (int i = threadIdx.x; i < 2 * C; i += blockDim.x) {
        float acc = 0.0f;
        for (int w = 0; w < nwarps; w++) acc += smem[(size_t)w * 2 * C + i];
        out[i] = acc;
    }
}
#include "kernels/cuda/layernorm.cuh"

// ---------------------------------------------------------------------------------------------
// launchers

static void layernorm_backward1(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                const float *weight, const float *mean, const float *rstd, int N, int C, int block) {
    layernorm_backward_dinp_kernel1<<<ceil_div(N, block), block>>>(dinp, dout, inp, weight, mean, rstd, N, C);
    cudaCheckLaunch();
    layernorm_backward_dparams_kernel1<<<ceil_div(C, block), block>>>(dweight, dbias, dout, inp, mean, rstd, N, C);
    cudaCheckLaunch();
}
// blocks for versions 2 and 3: two per SM, fewer for small N (the scratch holds one partial per block)
static int lnb_blocks(int N, int block) { return std::max(1, std::min(ceil_div(N, block / 32), 2 * lab_device.num_sms)); }
static size_t lnb_smem(int C, int block) { return (size_t)(block / 32) * 2 * C * sizeof(float); }

static void layernorm_backward2(float *dinp, float *dweight, float *dbias, float *scratch, const float *dout,
                                const float *inp, const float *weight, const float *mean, const float *rstd, int N,
                                int C, int block) {
    int grid = lnb_blocks(N, block);
    size_t smem = lnb_smem(C, block);
    if (smem > 48 * 1024) cudaCheck(cudaFuncSetAttribute(layernorm_backward_kernel2, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    layernorm_backward_kernel2<<<grid, block, smem>>>(dinp, scratch, dout, inp, weight, mean, rstd, N, C);
    cudaCheckLaunch();
    layernorm_backward_reduce_kernel<<<ceil_div(2 * C, 256), 256>>>(dweight, dbias, scratch, grid, C);
    cudaCheckLaunch();
}
template <int NV>
static void launch3(int grid, int block, size_t smem, float *dinp, float *dinp2, float *scratch, const float *dout,
                    const float *inp, const float *weight, const float *mean, const float *rstd, int N, int C) {
    if (smem > 48 * 1024) cudaCheck(cudaFuncSetAttribute(layernorm_backward_kernel3<NV>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    layernorm_backward_kernel3<NV><<<grid, block, smem>>>(dinp, dinp2, scratch, dout, inp, weight, mean, rstd, N, C);
}
// dinp2: the second input of a fused residual add, or NULL
static void layernorm_backward3(float *dinp, float *dinp2, float *dweight, float *dbias, float *scratch,
                                const float *dout, const float *inp, const float *weight, const float *mean,
                                const float *rstd, int N, int C, int block) {
    int nv = C % 4 == 0 && C <= 1024 ? ceil_div(C / 4, 32) : 0;
    if (nv == 0) {   // fallback: version 2, then the residual's second gradient
        layernorm_backward2(dinp, dweight, dbias, scratch, dout, inp, weight, mean, rstd, N, C, block);
        if (dinp2) { fprintf(stderr, "layernorm_backward3: fused residual needs C %% 4 == 0, C <= 1024\n"); exit(2); }
        return;
    }
    int grid = lnb_blocks(N, block);
    size_t smem = lnb_smem(C, block);
    switch (nv) {
#define CASE(NV) case NV: launch3<NV>(grid, block, smem, dinp, dinp2, scratch, dout, inp, weight, mean, rstd, N, C); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    }
    cudaCheckLaunch();
    layernorm_backward_reduce_kernel<<<ceil_div(2 * C, 256), 256>>>(dweight, dbias, scratch, grid, C);
    cudaCheckLaunch();
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    lab_init("layernorm_backward");
    // gpu[0] is benchmarked. Emulated: DistilBERT's C on a few rows and the same awkward cases
    struct Size { const char *name; int N, C; };
    const Size gpu[] = {
        {"B32T256C768", 32 * 256, 768}, {"B8T128C768", 8 * 128, 768}, {"B3T77C384", 3 * 77, 384},
        {"B1T77C66", 77, 66}, {"B1T5C1024", 5, 1024}};
    const Size emulated[] = {{"B1T40C768", 40, 768}, {"B3T77C384", 3 * 77, 384}, {"B1T77C66", 77, 66}, {"B1T5C1024", 5, 1024}};
    const std::vector<Size> sizes = lab_cases(gpu, emulated);
    const int block_validate = 128;
    const int max_scratch_blocks = 2 * lab_device.num_sms;

    for (auto &s : sizes) {
        int N = s.N, C = s.C;
        size_t NC = (size_t)N * C;
        printf("-- validate %s (N=%d C=%d)\n", s.name, N, C);
        float *inp = make_random_float(NC, -2.0f, 2.0f), *dout = make_random_float(NC);
        float *weight = make_random_float(C, 0.5f, 1.5f), *bias = make_random_float(C);
        float *out = (float *)host_malloc(NC * sizeof(float));
        float *mean = (float *)host_malloc(N * sizeof(float)), *rstd = (float *)host_malloc(N * sizeof(float));
        layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, 1e-5f);   // the saved statistics
        // initial contents of the accumulated gradients, and the reference results
        float *dinp0 = make_random_float(NC), *dinp20 = make_random_float(NC);
        float *dw0 = make_random_float(C), *db0 = make_random_float(C);
        float *dinp = (float *)host_malloc(NC * sizeof(float)), *dinp2 = (float *)host_malloc(NC * sizeof(float));
        float *dresid = (float *)calloc(NC, sizeof(float));
        float *dw = (float *)host_malloc(C * sizeof(float)), *db = (float *)host_malloc(C * sizeof(float));
        memcpy(dinp, dinp0, NC * sizeof(float));
        memcpy(dw, dw0, C * sizeof(float));
        memcpy(db, db0, C * sizeof(float));
        layernorm_backward(dinp, dw, db, dout, inp, weight, mean, rstd, N, C);

        float *d_inp = dev_alloc<float>(NC), *d_dout = dev_alloc<float>(NC), *d_dinp = dev_alloc<float>(NC);
        float *d_dinp2 = dev_alloc<float>(NC), *d_w = dev_alloc<float>(C), *d_mean = dev_alloc<float>(N);
        float *d_rstd = dev_alloc<float>(N), *d_dw = dev_alloc<float>(C), *d_db = dev_alloc<float>(C);
        float *d_scratch = dev_alloc<float>((size_t)max_scratch_blocks * 2 * C);
        to_device(d_inp, inp, NC);
        to_device(d_dout, dout, NC);
        to_device(d_w, weight, C);
        to_device(d_mean, mean, N);
        to_device(d_rstd, rstd, N);
        for (int v = 1; v <= 3; v++) {
            if (!lab_want(argc, argv, v)) continue;
            lab_version = v;
            to_device(d_dinp, dinp0, NC);
            to_device(d_dw, dw0, C);
            to_device(d_db, db0, C);
            poison(d_scratch, (size_t)max_scratch_blocks * 2 * C * sizeof(float));
            if (v == 1) layernorm_backward1(d_dinp, d_dw, d_db, d_dout, d_inp, d_w, d_mean, d_rstd, N, C, block_validate);
            if (v == 2) layernorm_backward2(d_dinp, d_dw, d_db, d_scratch, d_dout, d_inp, d_w, d_mean, d_rstd, N, C, block_validate);
            if (v == 3) layernorm_backward3(d_dinp, NULL, d_dw, d_db, d_scratch, d_dout, d_inp, d_w, d_mean, d_rstd, N, C, block_validate);
            cudaCheck(cudaDeviceSynchronize());
            validate("dinp", d_dinp, dinp, NC, TOL_FP32);
            validate("dweight", d_dw, dw, C, TOL_FP32_SUM);
            validate("dbias", d_db, db, C, TOL_FP32_SUM);
        }
        // version 3 with the fused residual: dresid = LN backward, then dinp1 += dresid, dinp2 += dresid
        if (lab_want(argc, argv, 3) && C % 4 == 0 && C <= 1024) {
            lab_version = 3;
            memcpy(dinp, dinp0, NC * sizeof(float));
            memcpy(dinp2, dinp20, NC * sizeof(float));
            memcpy(dw, dw0, C * sizeof(float));
            memcpy(db, db0, C * sizeof(float));
            layernorm_backward(dresid, dw, db, dout, inp, weight, mean, rstd, N, C);
            residual_backward(dinp, dinp2, dresid, (int)NC);
            to_device(d_dinp, dinp0, NC);
            to_device(d_dinp2, dinp20, NC);
            to_device(d_dw, dw0, C);
            to_device(d_db, db0, C);
            poison(d_scratch, (size_t)max_scratch_blocks * 2 * C * sizeof(float));
            layernorm_backward3(d_dinp, d_dinp2, d_dw, d_db, d_scratch, d_dout, d_inp, d_w, d_mean, d_rstd, N, C, 256);
            cudaCheck(cudaDeviceSynchronize());
            validate("dinp1 (fused residual)", d_dinp, dinp, NC, TOL_FP32);
            validate("dinp2 (fused residual)", d_dinp2, dinp2, NC, TOL_FP32);
            validate("dweight (fused residual)", d_dw, dw, C, TOL_FP32_SUM);
            validate("dbias (fused residual)", d_db, db, C, TOL_FP32_SUM);
        }
        for (float *p : {d_inp, d_dout, d_dinp, d_dinp2, d_w, d_mean, d_rstd, d_dw, d_db, d_scratch}) cudaCheck(cudaFree(p));
        for (float *p : {inp, dout, weight, bias, out, mean, rstd, dinp0, dinp20, dw0, db0, dinp, dinp2, dresid, dw, db}) free(p);
    }

    if (lab_emulated) return lab_exit();

    // benchmark (values: anything finite)
    int N = sizes[0].N, C = sizes[0].C;
    size_t NC = (size_t)N * C;
    float *d_inp = dev_alloc<float>(NC), *d_dout = dev_alloc<float>(NC), *d_dinp = dev_alloc<float>(NC);
    float *d_dinp2 = dev_alloc<float>(NC), *d_w = dev_alloc<float>(C), *d_mean = dev_alloc<float>(N);
    float *d_rstd = dev_alloc<float>(N), *d_dw = dev_alloc<float>(C), *d_db = dev_alloc<float>(C);
    float *d_scratch = dev_alloc<float>((size_t)max_scratch_blocks * 2 * C);
    for (float *p : {d_inp, d_dout, d_dinp, d_dinp2}) cudaCheck(cudaMemset(p, 0, NC * sizeof(float)));
    for (float *p : {d_w, d_dw, d_db}) cudaCheck(cudaMemset(p, 0, C * sizeof(float)));
    for (float *p : {d_mean, d_rstd}) cudaCheck(cudaMemset(p, 0, N * sizeof(float)));
    printf("-- benchmark %s\n", sizes[0].name);
    for (int v = 1; v <= 3; v++) {
        if (!lab_want(argc, argv, v)) continue;
        Timing t = benchmark_blocks(v, {64, 128, 256}, [&](int block) {
            if (v == 1) layernorm_backward1(d_dinp, d_dw, d_db, d_dout, d_inp, d_w, d_mean, d_rstd, N, C, block);
            if (v == 2) layernorm_backward2(d_dinp, d_dw, d_db, d_scratch, d_dout, d_inp, d_w, d_mean, d_rstd, N, C, block);
            if (v == 3) layernorm_backward3(d_dinp, NULL, d_dw, d_db, d_scratch, d_dout, d_inp, d_w, d_mean, d_rstd, N, C, block);
        });
        // read dout, inp, dinp; write dinp; small vectors
        double bytes = 4.0 * NC * 4 + 4.0 * (3 * C + 2 * N) + 2.0 * 4 * 2 * C;
        print_result("layernorm_backward", v, t, bytes, 0, 0, sizes[0].name);
    }
    return lab_exit();
}
