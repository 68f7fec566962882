/*
Embedding backward: the scatter-add matching the forward gather. Every table row receives the sum
of dout over the tokens that read it:
  dwte[ids[bt]] += dout[bt],  dwpe[pos[bt]] += dout[bt],  dwtt[type_ids[bt]] += dout[bt]
except rows equal to the padding index (nn.Embedding(padding_idx) never writes its gradient):
word_padding_idx for the word table, pos_padding_idx for positions (RoBERTa; -1 = none).
Accumulates (+=) like every backward, so validation pre-fills the gradients with random values
(which also checks that untouched rows and padding rows keep their contents).
CPU reference: embedding_backward in kernels/embedding.c.

Build and run (from the repo root):
  make cuda && ./build/cuda/embedding_backward  (or ./build/cuda/embedding_backward 2: one version)

version 1: one thread per dout element, fp32 atomicAdd into each table. Simple and fast when ids are
spread out, but the summation order (and so the result's last bits) changes from run to run, and
heavily shared rows (positions: B tokens each; token types: up to B·T tokens) serialize on atomics.

version 2: deterministic. The host already holds the ids (batch preparation), so it builds, per
table, the list of distinct rows and for each row the tokens that read it in increasing token order
(a CSR built by counting sort; padding rows are left out). One block per distinct row sums its
tokens' dout rows in that fixed order, float4 across C when C % 4 == 0, and adds the sum into the
gradient row once. The run-to-run result is bit-identical. A row read by very many tokens (the
token-type table) is summed by one block: fine for B·T = 8192, the place to split if it ever shows.
The CSR build is host work, not timed here.
*/
#include "dev/cuda/common.h"
extern "C" {
#include "kernels/kernels.h"
}

// ---------------------------------------------------------------------------------------------
// kernels

// dout (B·T, C), ids, pos, type_ids (B·T) -> dwte (V,C) +=, dwpe (P,C) +=, dwtt (NT,C) += (dwtt may be NULL)
__global__ void embedding_backward_kernel1(float *dwte, float *dwpe, float *dwtt, const float *dout, const int *ids,
                                           const int *pos, const int *type_ids, int word_padding_idx,
                                           int pos_padding_idx, int BT, int C) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)BT * C) return;
    int bt = (int)(idx / C), c = (int)(idx % C);
    float d = dout[idx];
    if (ids[bt] != word_padding_idx) atomicAdd(dwte + (size_t)ids[bt] * C + c, d);
    if (pos[bt] != pos_padding_idx) atomicAdd(dwpe + (size_t)pos[bt] * C + c, d);
    if (dwtt) atomicAdd(dwtt + (size_t)type_ids[bt] * C + c, d);
}

#include "kernels/cuda/embedding.cuh"

// ---------------------------------------------------------------------------------------------
// the host-side bucketing for version 2

typedef struct {
    int nrows;                  // distinct rows (padding excluded)
    int *d_rows, *d_offsets, *d_tokens;   // (nrows), (nrows + 1), (tokens listed)
} RowLists;

// counting sort of tokens by row index; tokens of one row stay in increasing order
static RowLists build_row_lists(const int *idx, int BT, int table_rows, int padding_idx) {
    std::vector<int> count(table_rows + 1, 0);
    for (int i = 0; i < BT; i++) if (idx[i] != padding_idx) count[idx[i]]++;
    std::vector<int> rows, offsets(1, 0), start(table_rows, 0);
    for (int r = 0; r < table_rows; r++) {
        if (count[r] == 0) continue;
        start[r] = offsets.back();
        rows.push_back(r);
        offsets.push_back(offsets.back() + count[r]);
    }
    std::vector<int> tokens(offsets.back() ? offsets.back() : 1);
    for (int i = 0; i < BT; i++) if (idx[i] != padding_idx) tokens[start[idx[i]]++] = i;
    RowLists l;
    l.nrows = (int)rows.size();
    l.d_rows = dev_alloc<int>(rows.size());
    l.d_offsets = dev_alloc<int>(offsets.size());
    l.d_tokens = dev_alloc<int>(tokens.size());
    to_device(l.d_rows, rows.data(), rows.size());
    to_device(l.d_offsets, offsets.data(), offsets.size());
    to_device(l.d_tokens, tokens.data(), tokens.size());
    return l;
}
static void free_row_lists(RowLists *l) {
    cudaCheck(cudaFree(l->d_rows));
    cudaCheck(cudaFree(l->d_offsets));
    cudaCheck(cudaFree(l->d_tokens));
}

// ---------------------------------------------------------------------------------------------
// launchers

static void embedding_backward1(float *dwte, float *dwpe, float *dwtt, const float *dout, const int *ids,
                                const int *pos, const int *type_ids, int word_padding_idx, int pos_padding_idx,
                                int BT, int C, int block) {
    size_t n = (size_t)BT * C;
    embedding_backward_kernel1<<<(unsigned)ceil_div(n, (size_t)block), block>>>(
        dwte, dwpe, dwtt, dout, ids, pos, type_ids, word_padding_idx, pos_padding_idx, BT, C);
    cudaCheckLaunch();
}
static void scatter_rows2(float *dtable, const float *dout, const RowLists *l, int C, int block) {
    if (l->nrows == 0) return;
    if (C % 4 == 0) embedding_backward_kernel2<true><<<l->nrows, block>>>(dtable, dout, l->d_rows, l->d_offsets, l->d_tokens, C);
    else embedding_backward_kernel2<false><<<l->nrows, block>>>(dtable, dout, l->d_rows, l->d_offsets, l->d_tokens, C);
    cudaCheckLaunch();
}
// lists for wte, wpe and (if dwtt) wtt, built by build_row_lists with each table's padding index
static void embedding_backward2(float *dwte, float *dwpe, float *dwtt, const float *dout, const RowLists *word,
                                const RowLists *posl, const RowLists *typel, int C, int block) {
    scatter_rows2(dwte, dout, word, C, block);
    scatter_rows2(dwpe, dout, posl, C, block);
    if (dwtt) scatter_rows2(dwtt, dout, typel, C, block);
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    lab_init("embedding_backward");
    // word_pad: BERT/DistilBERT pad id 0; RoBERTa pads id 1 and position 1. gpu[0] is benchmarked.
    // Emulated: BERT's C on a few tokens with a small vocabulary, and the same awkward cases.
    struct Size { const char *name; int B, T, C, V, P, NT, word_pad, pos_pad; };
    const Size gpu[] = {
        {"B32T256C768", 32, 256, 768, 30522, 512, 0, 0, -1},
        {"B8T128C768-bert", 8, 128, 768, 30522, 512, 2, 0, -1},
        {"B3T77C384-roberta", 3, 77, 384, 1000, 100, 1, 1, 1},
        {"B2T77C66", 2, 77, 66, 50, 80, 2, 0, -1}};
    const Size emulated[] = {
        {"B2T16C768-bert", 2, 16, 768, 1000, 512, 2, 0, -1},
        {"B2T77C384-roberta", 2, 77, 384, 1000, 100, 1, 1, 1},
        {"B2T77C66", 2, 77, 66, 50, 80, 2, 0, -1}};
    const std::vector<Size> sizes = lab_cases(gpu, emulated);

    for (auto &s : sizes) {
        int BT = s.B * s.T, C = s.C;
        size_t NC = (size_t)BT * C, VC = (size_t)s.V * C, PC = (size_t)s.P * C, TC = (size_t)s.NT * C;
        printf("-- validate %s (B=%d T=%d C=%d V=%d P=%d NT=%d pad %d/%d)\n", s.name, s.B, s.T, C, s.V, s.P, s.NT,
               s.word_pad, s.pos_pad);
        std::vector<int> ids(BT), pos(BT), tt(BT);
        for (int i = 0; i < BT; i++) {
            // a skewed id distribution (repeated ids), padding at the end of each sequence
            int t = i % s.T;
            ids[i] = t >= s.T - s.T / 8 ? s.word_pad : (lab_rand_int(4) == 0 ? lab_rand_int(s.V) : lab_rand_int(std::min(s.V, 64)));
            pos[i] = s.pos_pad >= 0 ? (t >= s.T - s.T / 8 ? s.pos_pad : s.pos_pad + 1 + t) : t;
            tt[i] = s.NT ? lab_rand_int(s.NT) : 0;
        }
        float *dout = make_random_float(NC);
        float *dwte0 = make_random_float(VC), *dwpe0 = make_random_float(PC), *dwtt0 = s.NT ? make_random_float(TC) : NULL;
        float *dwte = (float *)host_malloc(VC * sizeof(float)), *dwpe = (float *)host_malloc(PC * sizeof(float));
        float *dwtt = s.NT ? (float *)host_malloc(TC * sizeof(float)) : NULL;
        memcpy(dwte, dwte0, VC * sizeof(float));
        memcpy(dwpe, dwpe0, PC * sizeof(float));
        if (s.NT) memcpy(dwtt, dwtt0, TC * sizeof(float));
        embedding_backward(dwte, dwpe, dwtt, dout, ids.data(), pos.data(), tt.data(), s.word_pad, s.pos_pad, s.B, s.T, C);

        int *d_ids = dev_alloc<int>(BT), *d_pos = dev_alloc<int>(BT), *d_tt = dev_alloc<int>(BT);
        float *d_dout = dev_alloc<float>(NC), *d_dwte = dev_alloc<float>(VC), *d_dwpe = dev_alloc<float>(PC);
        float *d_dwtt = s.NT ? dev_alloc<float>(TC) : NULL;
        to_device(d_ids, ids.data(), BT);
        to_device(d_pos, pos.data(), BT);
        to_device(d_tt, tt.data(), BT);
        to_device(d_dout, dout, NC);
        RowLists lw = build_row_lists(ids.data(), BT, s.V, s.word_pad);
        RowLists lp = build_row_lists(pos.data(), BT, s.P, s.pos_pad);
        RowLists lt = build_row_lists(tt.data(), BT, std::max(s.NT, 1), -1);
        for (int v = 1; v <= 2; v++) {
            if (!lab_want(argc, argv, v)) continue;
            lab_version = v;
            to_device(d_dwte, dwte0, VC);
            to_device(d_dwpe, dwpe0, PC);
            if (s.NT) to_device(d_dwtt, dwtt0, TC);
            if (v == 1) embedding_backward1(d_dwte, d_dwpe, d_dwtt, d_dout, d_ids, d_pos, d_tt, s.word_pad, s.pos_pad, BT, C, 256);
            else embedding_backward2(d_dwte, d_dwpe, d_dwtt, d_dout, &lw, &lp, &lt, C, 256);
            cudaCheck(cudaDeviceSynchronize());
            validate("dwte", d_dwte, dwte, VC, TOL_FP32_SUM);
            validate("dwpe", d_dwpe, dwpe, PC, TOL_FP32_SUM);
            if (s.NT) validate("dwtt", d_dwtt, dwtt, TC, TOL_FP32_SUM);
            if (v == 2) {   // determinism: a second run from the same start gives the same bits
                std::vector<float> first(VC), second(VC);
                to_host(first.data(), d_dwte, VC);
                to_device(d_dwte, dwte0, VC);
                to_device(d_dwpe, dwpe0, PC);
                if (s.NT) to_device(d_dwtt, dwtt0, TC);
                embedding_backward2(d_dwte, d_dwpe, d_dwtt, d_dout, &lw, &lp, &lt, C, 256);
                to_host(second.data(), d_dwte, VC);
                bool same = memcmp(first.data(), second.data(), VC * sizeof(float)) == 0;
                printf("  v2 %-24s %s\n", "dwte bitwise repeatable", same ? "ok" : "FAIL");
                if (!same) { lab_failures++; lab_record(INFINITY, 1); }
            }
        }
        free_row_lists(&lw);
        free_row_lists(&lp);
        free_row_lists(&lt);
        for (int *p : {d_ids, d_pos, d_tt}) cudaCheck(cudaFree(p));
        for (float *p : {d_dout, d_dwte, d_dwpe, d_dwtt}) if (p) cudaCheck(cudaFree(p));
        for (float *p : {dout, dwte0, dwpe0, dwtt0, dwte, dwpe, dwtt}) free(p);
    }

    if (lab_emulated) return lab_exit();

    // benchmark: DistilBERT (word + position tables), uniformly random ids, no padding
    auto &s = sizes[0];
    int BT = s.B * s.T, C = s.C;
    size_t NC = (size_t)BT * C, VC = (size_t)s.V * C, PC = (size_t)s.P * C;
    std::vector<int> ids(BT), pos(BT);
    for (int i = 0; i < BT; i++) { ids[i] = lab_rand_int(s.V); pos[i] = i % s.T; }
    std::vector<char> seen(s.V, 0);
    int distinct_ids = 0;
    for (int i = 0; i < BT; i++) if (!seen[ids[i]]) { seen[ids[i]] = 1; distinct_ids++; }
    int *d_ids = dev_alloc<int>(BT), *d_pos = dev_alloc<int>(BT);
    to_device(d_ids, ids.data(), BT);
    to_device(d_pos, pos.data(), BT);
    float *d_dout = dev_alloc<float>(NC), *d_dwte = dev_alloc<float>(VC), *d_dwpe = dev_alloc<float>(PC);
    cudaCheck(cudaMemset(d_dout, 0, NC * sizeof(float)));
    cudaCheck(cudaMemset(d_dwte, 0, VC * sizeof(float)));
    cudaCheck(cudaMemset(d_dwpe, 0, PC * sizeof(float)));
    RowLists lw = build_row_lists(ids.data(), BT, s.V, -1), lp = build_row_lists(pos.data(), BT, s.P, -1);
    printf("-- benchmark %s (%d distinct ids)\n", s.name, distinct_ids);
    for (int v = 1; v <= 2; v++) {
        if (!lab_want(argc, argv, v)) continue;
        Timing t = benchmark_blocks(v, {64, 128, 256}, [&](int block) {
            if (v == 1) embedding_backward1(d_dwte, d_dwpe, NULL, d_dout, d_ids, d_pos, NULL, -1, -1, BT, C, block);
            else embedding_backward2(d_dwte, d_dwpe, NULL, d_dout, &lw, &lp, NULL, C, block);
        });
        // minimum: dout read once, each touched gradient row read and written once
        double bytes = 4.0 * NC + 8.0 * ((double)distinct_ids + s.T) * C + 4.0 * 2 * BT;
        print_result("embedding_backward", v, t, bytes, 0, 0, s.name);
    }
    return lab_exit();
}
