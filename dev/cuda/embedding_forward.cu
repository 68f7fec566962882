/*
Embedding forward: a gather of one row per table per token, summed in HF's order
  out[b,t,:] = (wte[ids[b,t],:] + wtt[type_ids[b,t],:]) + wpe[pos[b,t],:]
(wtt, the token-type table, is BERT/RoBERTa only; DistilBERT passes NULL).
CPU reference: embedding_forward in kernels/embedding.c.

Build and run (from the repo root):
  make cuda && ./build/cuda/embedding_forward   (or ./build/cuda/embedding_forward 2: one version)

version 1: one thread per output element (B·T·C threads); each reads its token's ids and one value
per table. Coalesced along C; the id loads are repeated by every thread of the row (cached).

version 2: one thread per four elements, float4 gathers of the table rows and a streaming float4
store. Needs C % 4 == 0 (other C fall back to version 1).

version 3: bf16 tables and output (the mixed-precision layout), fp32 sum, one rounding; eight
elements per 16-byte access. Needs C % 8 == 0 (other C are skipped). Validated against the
reference fed the same bf16-rounded tables, to 2 bf16 ulps.
*/
#include "dev/cuda/common.h"
extern "C" {
#include "kernels/kernels.h"
}

// ---------------------------------------------------------------------------------------------
// kernels

#include "kernels/cuda/embedding.cuh"

__global__ void embedding_forward_kernel3(__nv_bfloat16 *out, const int *ids, const int *pos, const int *type_ids,
                                          const __nv_bfloat16 *wte, const __nv_bfloat16 *wpe,
                                          const __nv_bfloat16 *wtt, int BT, int C) {
    int C8 = C / 8;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)BT * C8) return;
    int bt = (int)(idx / C8), c8 = (int)(idx % C8);
    bf16x8 w = reinterpret_cast<const bf16x8 *>(wte + (size_t)ids[bt] * C)[c8];
    bf16x8 p = reinterpret_cast<const bf16x8 *>(wpe + (size_t)pos[bt] * C)[c8];
    bf16x8 t, o;
    if (wtt) t = reinterpret_cast<const bf16x8 *>(wtt + (size_t)type_ids[bt] * C)[c8];
    #pragma unroll
    for (int h = 0; h < 4; h++) {
        float2 a = __bfloat1622float2(w.h[h]), b = __bfloat1622float2(p.h[h]);
        if (wtt) { float2 c = __bfloat1622float2(t.h[h]); a.x += c.x; a.y += c.y; }
        o.h[h] = __floats2bfloat162_rn(a.x + b.x, a.y + b.y);
    }
    reinterpret_cast<bf16x8 *>(out)[idx] = o;
}

// ---------------------------------------------------------------------------------------------
// launchers

static void embedding_forward1(float *out, const int *ids, const int *pos, const int *type_ids, const float *wte,
                               const float *wpe, const float *wtt, int BT, int C, int block) {
    size_t n = (size_t)BT * C;
    embedding_forward_kernel1<<<(unsigned)ceil_div(n, (size_t)block), block>>>(out, ids, pos, type_ids, wte, wpe, wtt, BT, C);
    cudaCheckLaunch();
}
static void embedding_forward2(float *out, const int *ids, const int *pos, const int *type_ids, const float *wte,
                               const float *wpe, const float *wtt, int BT, int C, int block) {
    if (C % 4 != 0) { embedding_forward1(out, ids, pos, type_ids, wte, wpe, wtt, BT, C, block); return; }
    size_t n = (size_t)BT * (C / 4);
    embedding_forward_kernel2<<<(unsigned)ceil_div(n, (size_t)block), block>>>(out, ids, pos, type_ids, wte, wpe, wtt, BT, C);
    cudaCheckLaunch();
}
static void embedding_forward3(__nv_bfloat16 *out, const int *ids, const int *pos, const int *type_ids,
                               const __nv_bfloat16 *wte, const __nv_bfloat16 *wpe, const __nv_bfloat16 *wtt, int BT,
                               int C, int block) {
    size_t n = (size_t)BT * (C / 8);
    embedding_forward_kernel3<<<(unsigned)ceil_div(n, (size_t)block), block>>>(out, ids, pos, type_ids, wte, wpe, wtt, BT, C);
    cudaCheckLaunch();
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    lab_init("embedding_forward");
    // NT = 0: DistilBERT (no token types). gpu[0] is benchmarked. Emulated: DistilBERT's C on a few
    // tokens with a small vocabulary, and the same awkward cases.
    struct Size { const char *name; int B, T, C, V, P, NT; };
    const Size gpu[] = {
        {"B32T256C768", 32, 256, 768, 30522, 512, 0}, {"B8T128C768-bert", 8, 128, 768, 30522, 512, 2},
        {"B3T77C384-bert", 3, 77, 384, 1000, 100, 2}, {"B2T77C66", 2, 77, 66, 50, 77, 0}};
    const Size emulated[] = {
        {"B2T16C768", 2, 16, 768, 1000, 512, 0}, {"B2T77C384-bert", 2, 77, 384, 1000, 100, 2},
        {"B2T77C66", 2, 77, 66, 50, 77, 0}};
    const std::vector<Size> sizes = lab_cases(gpu, emulated);

    for (auto &s : sizes) {
        int BT = s.B * s.T, C = s.C;
        size_t NC = (size_t)BT * C;
        printf("-- validate %s (B=%d T=%d C=%d V=%d P=%d NT=%d)\n", s.name, s.B, s.T, C, s.V, s.P, s.NT);
        int *ids = (int *)host_malloc(BT * sizeof(int)), *pos = (int *)host_malloc(BT * sizeof(int));
        int *tt = (int *)host_malloc(BT * sizeof(int));
        for (int i = 0; i < BT; i++) {
            ids[i] = lab_rand_int(s.V);
            pos[i] = i % s.T;
            tt[i] = s.NT ? lab_rand_int(s.NT) : 0;
        }
        float *wte = make_random_float((size_t)s.V * C), *wpe = make_random_float((size_t)s.P * C);
        float *wtt = s.NT ? make_random_float((size_t)s.NT * C) : NULL;
        float *ref = (float *)host_malloc(NC * sizeof(float));
        embedding_forward(ref, ids, pos, tt, wte, wpe, wtt, s.B, s.T, C);

        int *d_ids = dev_alloc<int>(BT), *d_pos = dev_alloc<int>(BT), *d_tt = dev_alloc<int>(BT);
        float *d_wte = dev_alloc<float>((size_t)s.V * C), *d_wpe = dev_alloc<float>((size_t)s.P * C);
        float *d_wtt = s.NT ? dev_alloc<float>((size_t)s.NT * C) : NULL, *d_out = dev_alloc<float>(NC);
        to_device(d_ids, ids, BT);
        to_device(d_pos, pos, BT);
        to_device(d_tt, tt, BT);
        to_device(d_wte, wte, (size_t)s.V * C);
        to_device(d_wpe, wpe, (size_t)s.P * C);
        if (s.NT) to_device(d_wtt, wtt, (size_t)s.NT * C);
        for (int v = 1; v <= 2; v++) {
            if (!lab_want(argc, argv, v)) continue;
            lab_version = v;
            poison(d_out, NC * sizeof(float));
            if (v == 1) embedding_forward1(d_out, d_ids, d_pos, d_tt, d_wte, d_wpe, d_wtt, BT, C, 256);
            else embedding_forward2(d_out, d_ids, d_pos, d_tt, d_wte, d_wpe, d_wtt, BT, C, 256);
            cudaCheck(cudaDeviceSynchronize());
            validate("out", d_out, ref, NC, TOL_FP32);
        }
        if (lab_want(argc, argv, 3) && C % 8 != 0) printf("  v3 skipped: C %% 8 != 0\n");
        if (lab_want(argc, argv, 3) && C % 8 == 0) {
            lab_version = 3;
            round_to_bf16(wte, (size_t)s.V * C);
            round_to_bf16(wpe, (size_t)s.P * C);
            if (wtt) round_to_bf16(wtt, (size_t)s.NT * C);
            embedding_forward(ref, ids, pos, tt, wte, wpe, wtt, s.B, s.T, C);
            __nv_bfloat16 *e16 = bf16_to_device(wte, (size_t)s.V * C), *p16 = bf16_to_device(wpe, (size_t)s.P * C);
            __nv_bfloat16 *t16 = wtt ? bf16_to_device(wtt, (size_t)s.NT * C) : NULL;
            __nv_bfloat16 *o16 = dev_alloc<__nv_bfloat16>(NC);
            poison(o16, NC * sizeof(__nv_bfloat16));
            embedding_forward3(o16, d_ids, d_pos, d_tt, e16, p16, t16, BT, C, 256);
            cudaCheck(cudaDeviceSynchronize());
            validate("out (bf16)", o16, ref, NC, TOL_BF16);
            for (__nv_bfloat16 *p : {e16, p16, t16, o16}) if (p) cudaCheck(cudaFree(p));
        }
        for (int *p : {d_ids, d_pos, d_tt}) cudaCheck(cudaFree(p));
        for (float *p : {d_wte, d_wpe, d_wtt, d_out}) if (p) cudaCheck(cudaFree(p));
        for (int *p : {ids, pos, tt}) free(p);
        for (float *p : {wte, wpe, wtt, ref}) free(p);
    }

    if (lab_emulated) return lab_exit();

    // benchmark: DistilBERT (word + position), random ids
    auto &s = sizes[0];
    int BT = s.B * s.T, C = s.C;
    size_t NC = (size_t)BT * C;
    std::vector<int> ids(BT), pos(BT);
    for (int i = 0; i < BT; i++) { ids[i] = lab_rand_int(s.V); pos[i] = i % s.T; }
    std::vector<char> seen(s.V, 0);
    int distinct_ids = 0;
    for (int i = 0; i < BT; i++) if (!seen[ids[i]]) { seen[ids[i]] = 1; distinct_ids++; }
    int *d_ids = dev_alloc<int>(BT), *d_pos = dev_alloc<int>(BT);
    to_device(d_ids, ids.data(), BT);
    to_device(d_pos, pos.data(), BT);
    float *d_wte = dev_alloc<float>((size_t)s.V * C), *d_wpe = dev_alloc<float>((size_t)s.P * C), *d_out = dev_alloc<float>(NC);
    __nv_bfloat16 *e16 = dev_alloc<__nv_bfloat16>((size_t)s.V * C), *p16 = dev_alloc<__nv_bfloat16>((size_t)s.P * C);
    __nv_bfloat16 *o16 = dev_alloc<__nv_bfloat16>(NC);
    cudaCheck(cudaMemset(d_wte, 0, (size_t)s.V * C * sizeof(float)));
    cudaCheck(cudaMemset(d_wpe, 0, (size_t)s.P * C * sizeof(float)));
    cudaCheck(cudaMemset(e16, 0, (size_t)s.V * C * sizeof(__nv_bfloat16)));
    cudaCheck(cudaMemset(p16, 0, (size_t)s.P * C * sizeof(__nv_bfloat16)));
    printf("-- benchmark %s\n", s.name);
    for (int v = 1; v <= 3; v++) {
        if (!lab_want(argc, argv, v)) continue;
        Timing t = benchmark_blocks(v, {128, 256, 512}, [&](int block) {
            if (v == 1) embedding_forward1(d_out, d_ids, d_pos, NULL, d_wte, d_wpe, NULL, BT, C, block);
            if (v == 2) embedding_forward2(d_out, d_ids, d_pos, NULL, d_wte, d_wpe, NULL, BT, C, block);
            if (v == 3) embedding_forward3(o16, d_ids, d_pos, NULL, e16, p16, NULL, BT, C, block);
        });
        // minimum traffic: each distinct word row and position row read once, the output written, the ids
        double elem = v == 3 ? 2 : 4;
        double bytes = ((double)distinct_ids + s.T) * C * elem + (double)NC * elem + 2.0 * BT * 4;
        print_result("embedding_forward", v, t, bytes, 0, 0, s.name);
    }
    return lab_exit();
}
