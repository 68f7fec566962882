// kernels/cuda/embedding.cuh: the embedding kernels the GPU model runs (dev/cuda/embedding_forward.cu
// versions 1, 2; embedding_backward.cu version 2).
// One definition, included by the labs and by kernels/cuda/embedding.cu.
#pragma once
#include "kernels/cuda/common.cuh"

// ids, pos, type_ids (B·T); wte (V,C), wpe (P,C), wtt (NT,C) or NULL -> out (B·T, C)
__global__ void embedding_forward_kernel1(float *out, const int *ids, const int *pos, const int *type_ids,
                                          const float *wte, const float *wpe, const float *wtt, int BT, int C) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)BT * C) return;
    int bt = (int)(idx / C), c = (int)(idx % C);
    float w = wte[(size_t)ids[bt] * C + c];
    if (wtt) w += wtt[(size_t)type_ids[bt] * C + c];
    out[idx] = w + wpe[(size_t)pos[bt] * C + c];
}

__global__ void embedding_forward_kernel2(float *out, const int *ids, const int *pos, const int *type_ids,
                                          const float *wte, const float *wpe, const float *wtt, int BT, int C) {
    int C4 = C / 4;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)BT * C4) return;
    int bt = (int)(idx / C4), c4 = (int)(idx % C4);
    float4 w = __ldg(reinterpret_cast<const float4 *>(wte + (size_t)ids[bt] * C) + c4);
    if (wtt) {
        float4 t = __ldg(reinterpret_cast<const float4 *>(wtt + (size_t)type_ids[bt] * C) + c4);
        w = make_float4(w.x + t.x, w.y + t.y, w.z + t.z, w.w + t.w);
    }
    float4 p = __ldg(reinterpret_cast<const float4 *>(wpe + (size_t)pos[bt] * C) + c4);
    __stcs(reinterpret_cast<float4 *>(out) + idx, make_float4(w.x + p.x, w.y + p.y, w.z + p.z, w.w + p.w));
}

// one block per distinct row r = rows[blockIdx.x]; its tokens are tokens[offsets[b] .. offsets[b+1])
template <bool VEC4>
__global__ void embedding_backward_kernel2(float *dtable, const float *dout, const int *rows, const int *offsets,
                                           const int *tokens, int C) {
    int b = blockIdx.x;
    int r = rows[b], begin = offsets[b], end = offsets[b + 1];
    float *drow = dtable + (size_t)r * C;
    if (VEC4) {
        int C4 = C / 4;
        for (int c4 = threadIdx.x; c4 < C4; c4 += blockDim.x) {
            float4 acc = make_float4(0, 0, 0, 0);
            for (int k = begin; k < end; k++) {
                float4 d = __ldg(reinterpret_cast<const float4 *>(dout + (size_t)tokens[k] * C) + c4);
                acc.x += d.x; acc.y += d.y; acc.z += d.z; acc.w += d.w;
            }
            float4 g = reinterpret_cast<float4 *>(drow)[c4];
            reinterpret_cast<float4 *>(drow)[c4] = make_float4(g.x + acc.x, g.y + acc.y, g.z + acc.z, g.w + acc.w);
        }
    } else {
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            float acc = 0.0f;
            for (int k = begin; k < end; k++) acc += dout[(size_t)tokens[k] * C + c];
            drow[c] += acc;
        }
    }
}
