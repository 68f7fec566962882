// embedding.c: token (+ token type) + position embeddings.
//
// Forward is a gather: each position copies one row of each table and sums them, in HF's order
//   out[b,t,:] = (wte[ids[b,t],:] + wtt[type_ids[b,t],:]) + wpe[pos[b,t],:]
// Backward is the matching scatter-add: every table row receives the sum of dout over the
// positions that read it. nn.Embedding(padding_idx=k) never writes a gradient into row k, so the
// rows whose index equals the padding index are skipped (word table always, position table only
// for RoBERTa, whose positions start at padding_idx + 1).
#include "kernels/kernels.h"

void embedding_forward(real *out, const int *ids, const int *pos, const int *type_ids,
                       const real *wte, const real *wpe, const real *wtt, int B, int T, int C) {
    for (int bt = 0; bt < B * T; bt++) {
        real *out_bt = out + (size_t)bt * C;
        const real *w = wte + (size_t)ids[bt] * C;
        const real *p = wpe + (size_t)pos[bt] * C;
        if (wtt) {
            const real *tt = wtt + (size_t)type_ids[bt] * C;
            for (int i = 0; i < C; i++) out_bt[i] = (w[i] + tt[i]) + p[i];
        } else {
            for (int i = 0; i < C; i++) out_bt[i] = w[i] + p[i];
        }
    }
}

void embedding_backward(real *dwte, real *dwpe, real *dwtt, const real *dout,
                        const int *ids, const int *pos, const int *type_ids,
                        int word_padding_idx, int pos_padding_idx, int B, int T, int C) {
    // sequential over positions: two positions may hit the same row, so no parallel loop here
    for (int bt = 0; bt < B * T; bt++) {
        const real *d = dout + (size_t)bt * C;
        if (ids[bt] != word_padding_idx) {
            real *dw = dwte + (size_t)ids[bt] * C;
            for (int i = 0; i < C; i++) dw[i] += d[i];
        }
        if (pos[bt] != pos_padding_idx) {
            real *dp = dwpe + (size_t)pos[bt] * C;
            for (int i = 0; i < C; i++) dp[i] += d[i];
        }
        if (dwtt) {
            real *dt = dwtt + (size_t)type_ids[bt] * C;
            for (int i = 0; i < C; i++) dt[i] += d[i];
        }
    }
}
