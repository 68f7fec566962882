// model/model_cuda.cu: the GPU model (model/model_cuda.h). The forward and backward are
// model/model.c's, op for op, with the CUDA launchers of kernels/cuda/kernels_cuda.h; comments mark where the
// GPU path fuses or reorders (each fusion is exact in real arithmetic, only rounding order differs):
//   - residual add + LayerNorm in one kernel (layernorm_forward lab version 4), and in backward the
//     LayerNorm's dinp added into both residual inputs (layernorm_backward lab version 3);
//   - GELU in the epilogue of the first FFN linear (matmul labs' Epilogue), the pre-activation saved;
//   - the clip factor applied inside AdamW instead of a scaling pass.
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_cuda.h"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/dropout.h"
extern "C" {
#include "kernels/kernels.h"   // the CPU attention: model_cuda_download_activations' bf16 probabilities
}
#include <vector>

static_assert(sizeof(ParameterTensors) == NUM_PARAM_FIELDS * sizeof(real *), "ParameterTensors: pointers only");
static_assert(sizeof(ActivationTensors) == NUM_ACTIVATION_TENSORS * sizeof(real *), "ActivationTensors: pointers only");
static_assert(sizeof(real) == sizeof(float), "the GPU path needs the float build (real = float)");

#define MC_ALIGN 64   // floats: every activation field starts on a 256-byte boundary

// ------------------------------------------------------------------------------------- sizes

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
static void point_activations(ActivationTensors *a, float *memory, const size_t s[NUM_ACTIVATION_TENSORS]) {
    real **p = reinterpret_cast<real **>(a);
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) {
        p[i] = memory;
        memory += round_up(s[i], MC_ALIGN);
    }
}
// index of the att field (its gradient slot is the attention backward's scratch, never zeroed)
#define ACT_INDEX_ATT 6
static_assert(offsetof(ActivationTensors, att) == ACT_INDEX_ATT * sizeof(real *), "ACT_INDEX_ATT is the att field");

// ------------------------------------------------------------------------------------- helpers

static float *dev_floats(size_t n, size_t *total) {
    float *p = NULL;
    cudaCheck(cudaMalloc((void **)&p, (n ? n : 1) * sizeof(float)));
    *total += (n ? n : 1) * sizeof(float);
    return p;
}
static void *dev_bytes(size_t n, size_t *total) {
    void *p = NULL;
    cudaCheck(cudaMalloc(&p, n ? n : 1));
    *total += n ? n : 1;
    return p;
}
static size_t g_bytes_total = 0;   // of the most recent init (model_cuda_bytes recomputes per model)

extern "C" int model_cuda_available(char *why, size_t whylen) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        if (why) snprintf(why, whylen, "%s", e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device");
        cudaGetLastError();   // clear the sticky-free error
        return 0;
    }
    if (why && whylen) why[0] = '\0';
    return 1;
}

extern "C" void model_cuda_device_name(char *name, size_t len) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) snprintf(name, len, "%s", prop.name);
    else snprintf(name, len, "CUDA device 0");
}

extern "C" void model_cuda_synchronize(void) { cudaCheck(cudaDeviceSynchronize()); }

// ------------------------------------------------------------------------------------- init

extern "C" int model_cuda_init(ModelCuda *g, const Model *cpu, int max_B, int max_T, Precision precision, char *err,
                               size_t errlen) {
    memset(g, 0, sizeof *g);
    const ModelConfig *c = &cpu->config;
    if (!model_cuda_available(err, errlen)) return -1;
    if (c->dim % 4 != 0 || c->dim > 1024 || c->hidden_dim % 4 != 0 || c->dim % c->n_heads != 0) {
        snprintf(err, errlen, "GPU path: hidden size %d / FFN size %d unsupported (needs hidden %% 4 == 0, "
                 "hidden <= 1024, FFN %% 4 == 0)", c->dim, c->hidden_dim);
        return -1;
    }
    if (precision == PRECISION_BF16 && !cu_attention_bf16_supported(c->dim, c->n_heads)) {
        snprintf(err, errlen, "--precision bf16: the fused attention needs a head size of 8, 16, 32 or 64 and a "
                 "hidden size divisible by 8 (this model: hidden %d, %d heads); use --precision fp32", c->dim,
                 c->n_heads);
        return -1;
    }
    if (max_B < 1 || max_T < 1 || max_T > model_max_sequence_length(c)) {
        snprintf(err, errlen, "batch shape %d x %d is invalid (sequence length must be 1..%d)", max_B, max_T,
                 model_max_sequence_length(c));
        return -1;
    }
    g->arch = c->arch;
    g->activation = c->activation;
    g->V = c->vocab_size; g->C = c->dim; g->L = c->n_layers; g->NH = c->n_heads; g->I = c->hidden_dim;
    g->P = c->max_position_embeddings; g->NT = c->type_vocab_size; g->NL = c->num_labels;
    g->pad_token_id = c->pad_token_id;
    g->eps = c->layer_norm_eps;
    g->config = *c;                   // its strings stay with the CPU model
    g->config.id2label = NULL;
    g->config.problem_type = NULL;
    g->precision = precision;
    g->num_sms = num_sms();
    g->max_B = max_B; g->max_T = max_T;
    g->dropout_seed = cpu->dropout_seed;
    g->forward_count = cpu->forward_count;
    g->adamw_step = cpu->adamw_step;
    size_t total = 0;

    // parameters: the CPU buffer's layout, field pointers at the CPU offsets
    size_t np = cpu->num_parameters;
    g->num_parameters = np;
    g->params_memory = dev_floats(np, &total);
    g->grads_memory = dev_floats(np, &total);
    g->m_memory = dev_floats(np, &total);
    g->v_memory = dev_floats(np, &total);
    cudaCheck(cudaMemset(g->grads_memory, 0, np * sizeof(float)));
    const real *const *cp = reinterpret_cast<const real *const *>(&cpu->params);
    real **gp = reinterpret_cast<real **>(&g->params), **gg = reinterpret_cast<real **>(&g->grads);
    for (int i = 0; i < NUM_PARAM_FIELDS; i++) {
        size_t off = (size_t)(cp[i] - cpu->params_memory);
        gp[i] = g->params_memory + off;
        gg[i] = g->grads_memory + off;
    }
    if (precision == PRECISION_BF16) g->params_bf16 = dev_bytes(np * sizeof(bf16), &total);

    // activations
    size_t sizes[NUM_ACTIVATION_TENSORS], na = 0;
    model_activation_sizes(&g->config, max_B, max_T, sizes);  // x_cls unused here: the GPU runs the full last block
    // bf16: the fused attention saves the logsumexp (L, B, NH, T) in the att slot instead of the
    // probabilities (L, B, NH, T, T); the slot's gradient is its scratch D (B, NH, T)
    if (precision == PRECISION_BF16) sizes[ACT_INDEX_ATT] = (size_t)c->n_layers * max_B * c->n_heads * max_T;
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) na += round_up(sizes[i], MC_ALIGN);
    g->num_activations = na;
    g->acts_memory = dev_floats(na, &total);
    g->grads_acts_memory = dev_floats(na, &total);
    cudaCheck(cudaMemset(g->acts_memory, 0, na * sizeof(float)));
    cudaCheck(cudaMemset(g->grads_acts_memory, 0, na * sizeof(float)));
    point_activations(&g->acts, g->acts_memory, sizes);
    point_activations(&g->grads_acts, g->grads_acts_memory, sizes);

    size_t BT = (size_t)max_B * max_T, C = g->C, I = g->I, L = g->L;
    if (precision == PRECISION_BF16) {
        g->qkv16 = dev_bytes(L * BT * 3 * C * sizeof(bf16), &total);
        g->in16_qkv = dev_bytes(L * BT * C * sizeof(bf16), &total);
        g->in16_atty = dev_bytes(L * BT * C * sizeof(bf16), &total);
        g->in16_ln1 = dev_bytes(L * BT * C * sizeof(bf16), &total);
        g->in16_fch_act = dev_bytes(L * BT * I * sizeof(bf16), &total);
        size_t nd = BT * (3 * C > I ? 3 * C : I);
        g->dout16 = dev_bytes(nd * sizeof(bf16), &total);
    }

    // per-forward ints: ids, mask, pos, types (BT each), labels (B), 3 x (rows BT, offsets BT+1, tokens BT)
    size_t n_ints = 4 * BT + (size_t)max_B + 3 * (3 * BT + 1);
    g->n_ints = n_ints;
    g->dev_ints = (int *)dev_bytes(n_ints * sizeof(int), &total);
    cudaCheck(cudaMallocHost((void **)&g->host_ints, n_ints * sizeof(int)));
    int *p = g->dev_ints;
    g->d_ids = p; p += BT;
    g->d_mask = p; p += BT;
    g->d_pos = p; p += BT;
    g->d_types = p; p += BT;
    g->d_labels = p; p += max_B;
    for (int t = 0; t < 3; t++) {
        g->d_rows[t] = p; p += BT;
        g->d_offsets[t] = p; p += BT + 1;
        g->d_tokens[t] = p; p += BT;
    }
    int maxrows = g->V > g->P ? g->V : g->P;
    if (g->NT > maxrows) maxrows = g->NT;
    g->host_count = (int *)calloc((size_t)maxrows + 1, sizeof(int));
    if (!g->host_count) {
        snprintf(err, errlen, "out of host memory");
        model_cuda_free(g);
        return -1;
    }

    // scratch
    size_t maxw = 3 * C * C > I * C ? 3 * C * C : I * C;
    g->workspace_floats = 4 * maxw;
    g->workspace = dev_floats(g->workspace_floats, &total);
    g->ln_scratch = dev_floats((size_t)2 * g->num_sms * 2 * C, &total);
    g->norm_result = dev_floats(2, &total);
    g->norm_partials = dev_floats((size_t)cu_global_norm_max_blocks(), &total);
    g->norm_ticket = (unsigned int *)dev_bytes(sizeof(unsigned int), &total);
    cudaCheck(cudaMemset(g->norm_ticket, 0, sizeof(unsigned int)));
    g->ce_stats = dev_floats(2, &total);
    g_bytes_total = total;

    model_cuda_upload_params(g, cpu);
    return 0;
}

extern "C" size_t model_cuda_bytes(const ModelCuda *g) {
    (void)g;
    return g_bytes_total;
}

extern "C" void model_cuda_free(ModelCuda *g) {
    void *ptrs[] = {g->params_memory, g->grads_memory, g->m_memory, g->v_memory, g->params_bf16, g->acts_memory,
                    g->grads_acts_memory, g->qkv16, g->in16_qkv, g->in16_atty, g->in16_ln1, g->in16_fch_act, g->dout16,
                    g->dev_ints, g->workspace, g->ln_scratch, g->norm_result, g->norm_partials, g->norm_ticket,
                    g->ce_stats};
    for (void *q : ptrs)
        if (q) cudaCheck(cudaFree(q));
    if (g->host_ints) cudaCheck(cudaFreeHost(g->host_ints));
    free(g->host_count);
    memset(g, 0, sizeof *g);
}

extern "C" void model_cuda_upload_params(ModelCuda *g, const Model *cpu) {
    size_t np = g->num_parameters;
    cudaCheck(cudaMemcpy(g->params_memory, cpu->params_memory, np * sizeof(float), cudaMemcpyHostToDevice));
    if (cpu->m_memory && cpu->v_memory) {
        cudaCheck(cudaMemcpy(g->m_memory, cpu->m_memory, np * sizeof(float), cudaMemcpyHostToDevice));
        cudaCheck(cudaMemcpy(g->v_memory, cpu->v_memory, np * sizeof(float), cudaMemcpyHostToDevice));
    } else {
        cudaCheck(cudaMemset(g->m_memory, 0, np * sizeof(float)));
        cudaCheck(cudaMemset(g->v_memory, 0, np * sizeof(float)));
    }
    g->adamw_step = cpu->adamw_step;
    if (g->params_bf16) cu_to_bf16((bf16 *)g->params_bf16, g->params_memory, np);
    cudaCheck(cudaDeviceSynchronize());
}

extern "C" void model_cuda_download_params(const ModelCuda *g, Model *cpu) {
    size_t np = g->num_parameters;
    cudaCheck(cudaMemcpy(cpu->params_memory, g->params_memory, np * sizeof(float), cudaMemcpyDeviceToHost));
    if (g->adamw_step > 0) {
        if (!cpu->m_memory) cpu->m_memory = (real *)calloc(np, sizeof(real));
        if (!cpu->v_memory) cpu->v_memory = (real *)calloc(np, sizeof(real));
        if (cpu->m_memory && cpu->v_memory) {
            cudaCheck(cudaMemcpy(cpu->m_memory, g->m_memory, np * sizeof(float), cudaMemcpyDeviceToHost));
            cudaCheck(cudaMemcpy(cpu->v_memory, g->v_memory, np * sizeof(float), cudaMemcpyDeviceToHost));
        }
    }
    cpu->adamw_step = g->adamw_step;
    cpu->forward_count = g->forward_count;
}

extern "C" void model_cuda_download_grads(const ModelCuda *g, float *host) {
    cudaCheck(cudaMemcpy(host, g->grads_memory, g->num_parameters * sizeof(float), cudaMemcpyDeviceToHost));
}

extern "C" void model_cuda_download_activations(const ModelCuda *g, ActivationTensors *acts, ActivationTensors *grads) {
    size_t sizes[NUM_ACTIVATION_TENSORS];
    model_activation_sizes(&g->config, g->B, g->T, sizes);
    const real *const *da = reinterpret_cast<const real *const *>(&g->acts);
    const real *const *dg = reinterpret_cast<const real *const *>(&g->grads_acts);
    real **ha = reinterpret_cast<real **>(acts), **hg = reinterpret_cast<real **>(grads);
    const bool bf = g->precision == PRECISION_BF16;
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++) {
        // bf16: the att slot holds the logsumexp, not probabilities (filled below)
        if (!(bf && i == ACT_INDEX_ATT))
            cudaCheck(cudaMemcpy(ha[i], da[i], sizes[i] * sizeof(float), cudaMemcpyDeviceToHost));
        if (i != ACT_INDEX_ATT) cudaCheck(cudaMemcpy(hg[i], dg[i], sizes[i] * sizeof(float), cudaMemcpyDeviceToHost));
    }
    if (!bf) return;
    // bf16: qkv and the attention output live only in bf16 (qkv16, in16_atty): widen them into the fp32
    // fields; the flash kernels never store the probabilities, so they are recomputed here on the host
    // from the same bf16 q and k (fp32 softmax, as the kernels compute them; dropout is off in a dump)
    const int B = g->B, T = g->T, C = g->C, NH = g->NH;
    const size_t BT = (size_t)B * T, maxBT = (size_t)g->max_B * g->max_T;
    auto widen = [](float *dst, const void *src16, size_t n) {
        std::vector<uint16_t> bits(n);
        cudaCheck(cudaMemcpy(bits.data(), src16, n * sizeof(uint16_t), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)bits[i] << 16;
            memcpy(dst + i, &u, sizeof u);
        }
    };
    std::vector<float> out(BT * C);
    const int *mask = g->host_ints + maxBT;   // the forward's staged key mask (model_cuda_forward)
    for (int l = 0; l < g->L; l++) {
        float *qkv = acts->qkv + (size_t)l * BT * 3 * C;
        widen(qkv, (const bf16 *)g->qkv16 + (size_t)l * BT * 3 * C, BT * 3 * C);
        widen(acts->atty + (size_t)l * BT * C, (const bf16 *)g->in16_atty + (size_t)l * BT * C, BT * C);
        attention_forward(out.data(), acts->att + (size_t)l * B * NH * T * T, qkv, mask, 0, 0, B, T, C, NH);
    }
}

// ------------------------------------------------------------------------------------- forward

// what layer l's attention saved for backward, in the att slot: the probabilities (B,NH,T,T) in fp32,
// the logsumexp (B,NH,T) of the fused bf16 attention
static float *saved_attention(const ModelCuda *g, int l) {
    size_t per_query = g->precision == PRECISION_BF16 ? 1 : (size_t)g->T;
    return g->acts.att + (size_t)l * g->B * g->NH * g->T * per_query;
}

// the seed of a dropout site (model/model.h) in this forward
static uint64_t site_seed(const ModelCuda *g, int site) {
    return dropout_site_seed(g->dropout_seed, g->forward_count, (uint64_t)site);
}

// rows of one table read by idx (BT), padding row left out: rows (distinct), offsets, tokens in order
static int build_rows(ModelCuda *g, const int *idx, int BT, int table_rows, int padding_idx, int *rows, int *offsets,
                      int *tokens) {
    int *count = g->host_count;
    memset(count, 0, sizeof(int) * ((size_t)table_rows + 1));
    for (int i = 0; i < BT; i++)
        if (idx[i] != padding_idx) count[idx[i]]++;
    int nrows = 0, pos = 0;
    offsets[0] = 0;
    // pass over the tokens to list rows in first-use order, converting count to each row's start
    for (int i = 0; i < BT; i++) {
        int r = idx[i];
        if (r == padding_idx || count[r] <= 0) continue;
        int n = count[r];
        count[r] = -(pos + 1);       // start, encoded negative: row listed
        rows[nrows++] = r;
        pos += n;
        offsets[nrows] = pos;
    }
    for (int i = 0; i < BT; i++) {
        int r = idx[i];
        if (r == padding_idx) continue;
        int start = -count[r] - 1;
        tokens[start] = i;
        count[r]--;                  // next slot of the row (start + 1, encoded)
    }
    return nrows;
}

extern "C" int model_cuda_forward(ModelCuda *g, const int *ids, const int *key_mask, const int *labels, int B,
                                  int T, int training, char *err, size_t errlen) {
    if (model_check_inputs(&g->config, ids, key_mask, labels, B, T, g->max_B, g->max_T, err, errlen) != 0) return -1;
    g->B = B;
    g->T = T;
    g->training = training;
    g->has_labels = labels != NULL;
    if (training) g->forward_count++;

    // stage the inputs (layout of model_cuda_init) and upload them in one copy
    size_t maxBT = (size_t)g->max_B * g->max_T;
    int BT = B * T;
    int *h = g->host_ints;
    int *h_ids = h, *h_mask = h + maxBT, *h_pos = h + 2 * maxBT, *h_types = h + 3 * maxBT, *h_labels = h + 4 * maxBT;
    memcpy(h_ids, ids, sizeof(int) * BT);
    memcpy(h_mask, key_mask, sizeof(int) * BT);
    for (int b = 0; b < B; b++) {   // model.c's fill_positions
        int count = 0;
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            if (g->arch != ARCH_ROBERTA) h_pos[i] = t;
            else h_pos[i] = ids[i] != g->pad_token_id ? g->pad_token_id + (++count) : g->pad_token_id;
        }
    }
    memset(h_types, 0, sizeof(int) * BT);
    for (int b = 0; b < B; b++) h_labels[b] = labels ? labels[b] : -100;
    int *lists = h_labels + g->max_B;
    const int *idx_of[3] = {h_ids, h_pos, h_types};
    int rows_of[3] = {g->V, g->P, g->NT > 0 ? g->NT : 1};
    int pad_of[3] = {g->pad_token_id, g->arch == ARCH_ROBERTA ? g->pad_token_id : -1, -1};
    for (int t = 0; t < 3; t++) {
        int *rows = lists + t * (3 * maxBT + 1), *offsets = rows + maxBT, *tokens = offsets + maxBT + 1;
        g->nrows[t] = (t == 2 && g->NT == 0) ? 0 : build_rows(g, idx_of[t], BT, rows_of[t], pad_of[t], rows, offsets,
                                                              tokens);
    }
    cudaCheck(cudaMemcpy(g->dev_ints, g->host_ints, g->n_ints * sizeof(int), cudaMemcpyHostToDevice));

    const int C = g->C, NH = g->NH, I = g->I, L = g->L, NL = g->NL;
    const bool bf = g->precision == PRECISION_BF16;
    DropoutRates p = model_dropout_rates(&g->config, training);
    ParameterTensors *w = &g->params;
    ActivationTensors *a = &g->acts;
    const bf16 *w16 = (const bf16 *)g->params_bf16;
    auto W16 = [&](const float *wp) { return w16 + (wp - g->params_memory); };
    // a linear's forward in the model's precision; inp16: where the bf16 copy of inp is kept for the
    // weight gradient (bf16 only; inp NULL: inp16 already holds the input)
    auto linear_fwd = [&](float *out, float *gelu_pre, const float *inp, bf16 *inp16, const float *weight,
                          const float *bias, int N, int Cin, int OC) {
        if (bf) {
            if (inp) cu_to_bf16(inp16, inp, (size_t)N * Cin);
            cu_linear_forward_bf16(out, gelu_pre, inp16, W16(weight), bias, N, Cin, OC);
        } else {
            cu_linear_forward(out, gelu_pre, inp, weight, bias, N, Cin, OC);
        }
    };

    cu_embedding_forward(a->emb, g->d_ids, g->d_pos, g->d_types, w->wte, w->wpe, g->NT > 0 ? w->wtt : NULL, BT, C);
    cu_layernorm_forward(a->ln_emb, a->ln_emb_mean, a->ln_emb_rstd, a->emb, w->ln_emb_w, w->ln_emb_b, BT, C, g->eps);
    cu_dropout_forward(a->x0, a->ln_emb, p.hidden, site_seed(g, SITE_EMB), BT * C);

    for (int l = 0; l < L; l++) {
        size_t oC = (size_t)l * BT * C, oI = (size_t)l * BT * I, oN = (size_t)l * BT;
        const float *x = l == 0 ? a->x0 : a->ln2 + oC - (size_t)BT * C;
        float *qkv = a->qkv + 3 * oC, *att = saved_attention(g, l);
        LayerParams lw = model_layer_params(w, &g->config, l);
        bool gelu = g->activation == ACT_GELU;
        // the FFN's first linear: out = fch_act with the GELU fused (fch = its input), or fch then ReLU
        float *fc_out = gelu ? a->fch_act + oI : a->fch + oI;
        float *fc_pre = gelu ? a->fch + oI : NULL;

        bf16 *x16 = bf ? (bf16 *)g->in16_qkv + oC : NULL, *y16 = bf ? (bf16 *)g->in16_atty + oC : NULL;
        bf16 *h16 = bf ? (bf16 *)g->in16_ln1 + oC : NULL, *f16 = bf ? (bf16 *)g->in16_fch_act + oI : NULL;

        if (bf) {
            // qkv in bf16 straight from the GEMM; the fused attention writes its output in bf16 where
            // the projection's GEMM reads it (atty's fp32 slot stays unused); lse in the att slot
            bf16 *qkv16 = (bf16 *)g->qkv16 + 3 * oC;
            cu_to_bf16(x16, x, (size_t)BT * C);
            cu_linear_forward_bf16_out16(qkv16, x16, W16(lw.qkvw), lw.qkvb, BT, C, 3 * C);
            cu_attention_forward_bf16(y16, att, qkv16, g->d_mask, p.att,
                                      site_seed(g, SITE_ATT(l)), B, T, C, NH);
            linear_fwd(a->attproj + oC, NULL, NULL, y16, lw.attprojw, lw.attprojb, BT, C, C);
        } else {
            linear_fwd(qkv, NULL, x, NULL, lw.qkvw, lw.qkvb, BT, C, 3 * C);
            cu_attention_forward(a->atty + oC, att, qkv, g->d_mask, p.att, site_seed(g, SITE_ATT(l)), B, T, C, NH);
            linear_fwd(a->attproj + oC, NULL, a->atty + oC, NULL, lw.attprojw, lw.attprojb, BT, C, C);
        }
        cu_dropout_forward(a->attproj_drop + oC, a->attproj + oC, p.attproj, site_seed(g, SITE_ATTPROJ(l)), BT * C);
        cu_residual_layernorm_forward(a->resid1 + oC, a->ln1 + oC, a->ln1_mean + oN, a->ln1_rstd + oN,
                                      a->attproj_drop + oC, x, lw.ln1w, lw.ln1b, BT, C, g->eps);
        linear_fwd(fc_out, fc_pre, a->ln1 + oC, h16, lw.fcw, lw.fcb, BT, C, I);
        if (!gelu) cu_relu_forward(a->fch_act + oI, a->fch + oI, BT * I);
        linear_fwd(a->fcproj + oC, NULL, a->fch_act + oI, f16, lw.fcprojw, lw.fcprojb, BT, I, C);
        cu_dropout_forward(a->fcproj_drop + oC, a->fcproj + oC, p.hidden, site_seed(g, SITE_FFN(l)), BT * C);
        cu_residual_layernorm_forward(a->resid2 + oC, a->ln2 + oC, a->ln2_mean + oN, a->ln2_rstd + oN,
                                      a->fcproj_drop + oC, a->ln1 + oC, lw.ln2w, lw.ln2b, BT, C, g->eps);
    }

    // head on the first token (fp32 in both precisions: B rows, launch-bound)
    const float *last = a->ln2 + (size_t)(L - 1) * BT * C;
    cu_gather_first(a->cls, last, B, T, C);
    cu_dropout_forward(a->cls_drop, a->cls, p.head_in, site_seed(g, SITE_HEAD_IN(L)), B * C);
    cu_linear_forward(a->pre, NULL, a->cls_drop, w->prew, w->preb, B, C, C);
    if (g->arch == ARCH_DISTILBERT) cu_relu_forward(a->pre_act, a->pre, B * C);
    else cu_tanh_forward(a->pre_act, a->pre, B * C);
    cu_dropout_forward(a->pre_drop, a->pre_act, p.head_out, site_seed(g, SITE_HEAD_OUT(L)), B * C);
    cu_linear_forward(a->logits, NULL, a->pre_drop, w->clsw, w->clsb, B, C, NL);
    cu_crossentropy_forward(a->probs, a->losses, g->ce_stats, a->logits, g->d_labels, B, NL);
    return 0;
}

extern "C" float model_cuda_mean_loss(ModelCuda *g) {
    if (!g->has_labels) return -1.0f;
    float stats[2];
    cudaCheck(cudaMemcpy(stats, g->ce_stats, sizeof stats, cudaMemcpyDeviceToHost));
    return stats[0];
}
extern "C" void model_cuda_read_logits(ModelCuda *g, float *host) {
    cudaCheck(cudaMemcpy(host, g->acts.logits, sizeof(float) * g->B * g->NL, cudaMemcpyDeviceToHost));
}
extern "C" void model_cuda_read_probs(ModelCuda *g, float *host) {
    cudaCheck(cudaMemcpy(host, g->acts.probs, sizeof(float) * g->B * g->NL, cudaMemcpyDeviceToHost));
}

// ------------------------------------------------------------------------------------- backward

extern "C" void model_cuda_zero_grad(ModelCuda *g) {
    cudaCheck(cudaMemsetAsync(g->grads_memory, 0, g->num_parameters * sizeof(float)));
}

extern "C" void model_cuda_backward(ModelCuda *g) {
    const int B = g->B, T = g->T, C = g->C, NH = g->NH, I = g->I, L = g->L, NL = g->NL;
    const int BT = B * T;
    const bool bf = g->precision == PRECISION_BF16;
    DropoutRates p = model_dropout_rates(&g->config, g->training);
    ParameterTensors *w = &g->params, *gr = &g->grads;
    ActivationTensors *a = &g->acts, *d = &g->grads_acts;
    const bf16 *w16 = (const bf16 *)g->params_bf16;
    auto W16 = [&](const float *wp) { return w16 + (wp - g->params_memory); };
    bf16 *dout16 = (bf16 *)g->dout16;

    // activation gradients are accumulated: clear the part this batch shape uses (not the att slot,
    // which is the attention backward's scratch and fully written before it is read)
    size_t sizes[NUM_ACTIVATION_TENSORS];
    model_activation_sizes(&g->config, B, T, sizes);
    real **fields = reinterpret_cast<real **>(d);
    for (int i = 0; i < NUM_ACTIVATION_TENSORS; i++)
        if (i != ACT_INDEX_ATT) cudaCheck(cudaMemsetAsync(fields[i], 0, sizes[i] * sizeof(float)));

    // head, in reverse (fp32)
    cu_crossentropy_backward(d->logits, a->probs, g->d_labels, g->ce_stats, B, NL);
    cu_linear_backward(d->pre_drop, gr->clsw, gr->clsb, d->logits, a->pre_drop, w->clsw, B, C, NL, g->workspace,
                       g->workspace_floats);
    cu_dropout_backward(d->pre_act, d->pre_drop, p.head_out, site_seed(g, SITE_HEAD_OUT(L)), B * C);
    if (g->arch == ARCH_DISTILBERT) cu_relu_backward(d->pre, a->pre_act, d->pre_act, B * C);
    else cu_tanh_backward(d->pre, a->pre_act, d->pre_act, B * C);
    cu_linear_backward(d->cls_drop, gr->prew, gr->preb, d->pre, a->cls_drop, w->prew, B, C, C, g->workspace,
                       g->workspace_floats);
    cu_dropout_backward(d->cls, d->cls_drop, p.head_in, site_seed(g, SITE_HEAD_IN(L)), B * C);
    cu_scatter_first_backward(d->ln2 + (size_t)(L - 1) * BT * C, d->cls, B, T, C);

    // a linear's backward in the model's precision; inp16: the bf16 copy the forward made
    auto linear_bwd = [&](float *dinp, float *dw, float *db, const float *dout, const float *inp, const bf16 *inp16,
                          const float *weight, int N, int Cin, int OC) {
        if (bf) {
            cu_to_bf16(dout16, dout, (size_t)N * OC);
            cu_linear_backward_bf16(dinp, dw, db, dout, dout16, inp16, W16(weight), N, Cin, OC, g->workspace,
                                    g->workspace_floats);
        } else {
            cu_linear_backward(dinp, dw, db, dout, inp, weight, N, Cin, OC, g->workspace, g->workspace_floats);
        }
    };

    for (int l = L - 1; l >= 0; l--) {
        size_t oC = (size_t)l * BT * C, oI = (size_t)l * BT * I, oN = (size_t)l * BT;
        LayerParams lw = model_layer_params(w, &g->config, l), lg = model_layer_params(gr, &g->config, l);
        const float *x = l == 0 ? a->x0 : a->ln2 + oC - (size_t)BT * C;
        float *dx = l == 0 ? d->x0 : d->ln2 + oC - (size_t)BT * C;
        const bf16 *x16 = bf ? (const bf16 *)g->in16_qkv + oC : NULL;
        const bf16 *y16 = bf ? (const bf16 *)g->in16_atty + oC : NULL;
        const bf16 *h16 = bf ? (const bf16 *)g->in16_ln1 + oC : NULL;
        const bf16 *f16 = bf ? (const bf16 *)g->in16_fch_act + oI : NULL;

        // LayerNorm 2 backward, its dinp added into both residual inputs (fcproj_drop and ln1)
        cu_layernorm_backward(d->fcproj_drop + oC, d->ln1 + oC, lg.ln2w, lg.ln2b, g->ln_scratch, d->ln2 + oC,
                              a->resid2 + oC, lw.ln2w, a->ln2_mean + oN, a->ln2_rstd + oN, BT, C);
        cu_dropout_backward(d->fcproj + oC, d->fcproj_drop + oC, p.hidden, site_seed(g, SITE_FFN(l)), BT * C);
        linear_bwd(d->fch_act + oI, lg.fcprojw, lg.fcprojb, d->fcproj + oC, a->fch_act + oI, f16, lw.fcprojw, BT, I,
                   C);
        if (g->activation == ACT_GELU) cu_gelu_backward(d->fch + oI, a->fch + oI, d->fch_act + oI, BT * I);
        else cu_relu_backward(d->fch + oI, a->fch_act + oI, d->fch_act + oI, BT * I);
        linear_bwd(d->ln1 + oC, lg.fcw, lg.fcb, d->fch + oI, a->ln1 + oC, h16, lw.fcw, BT, C, I);
        // LayerNorm 1 backward into attproj_drop and the block input
        cu_layernorm_backward(d->attproj_drop + oC, dx, lg.ln1w, lg.ln1b, g->ln_scratch, d->ln1 + oC, a->resid1 + oC,
                              lw.ln1w, a->ln1_mean + oN, a->ln1_rstd + oN, BT, C);
        cu_dropout_backward(d->attproj + oC, d->attproj_drop + oC, p.attproj, site_seed(g, SITE_ATTPROJ(l)), BT * C);
        linear_bwd(d->atty + oC, lg.attprojw, lg.attprojb, d->attproj + oC, a->atty + oC, y16, lw.attprojw, BT, C, C);
        if (bf) {
            // the fused backward from bf16 dO, qkv and O; D (B,NH,T) in the att gradient slot
            cu_to_bf16(dout16, d->atty + oC, (size_t)BT * C);
            cu_attention_backward_bf16(d->qkv + 3 * oC, d->att, dout16, (const bf16 *)g->qkv16 + 3 * oC, y16,
                                       saved_attention(g, l), g->d_mask, p.att, site_seed(g, SITE_ATT(l)),
                                       B, T, C, NH);
        } else {
            cu_attention_backward(d->qkv + 3 * oC, d->att, d->atty + oC, a->qkv + 3 * oC,
                                  saved_attention(g, l), p.att, site_seed(g, SITE_ATT(l)), B, T, C, NH);
        }
        linear_bwd(dx, lg.qkvw, lg.qkvb, d->qkv + 3 * oC, x, x16, lw.qkvw, BT, C, 3 * C);
    }

    cu_dropout_backward(d->ln_emb, d->x0, p.hidden, site_seed(g, SITE_EMB), BT * C);
    cu_layernorm_backward(d->emb, NULL, gr->ln_emb_w, gr->ln_emb_b, g->ln_scratch, d->ln_emb, a->emb, w->ln_emb_w,
                          a->ln_emb_mean, a->ln_emb_rstd, BT, C);
    // nn.Embedding(padding_idx): the row lists leave the pad rows out (word table; RoBERTa's positions)
    cu_embedding_backward_rows(gr->wte, d->emb, g->d_rows[0], g->d_offsets[0], g->d_tokens[0], g->nrows[0], C);
    cu_embedding_backward_rows(gr->wpe, d->emb, g->d_rows[1], g->d_offsets[1], g->d_tokens[1], g->nrows[1], C);
    if (g->NT > 0)
        cu_embedding_backward_rows(gr->wtt, d->emb, g->d_rows[2], g->d_offsets[2], g->d_tokens[2], g->nrows[2], C);
}

// ------------------------------------------------------------------------------------- optimizer

extern "C" double model_cuda_clip_grad_norm(ModelCuda *g, double max_norm) {
    cu_global_norm(g->norm_result, g->norm_partials, g->norm_ticket, g->grads_memory, g->num_parameters,
                   (float)max_norm);
    g->clip_pending = max_norm > 0;
    float r[2];
    cudaCheck(cudaMemcpy(r, g->norm_result, sizeof r, cudaMemcpyDeviceToHost));
    return r[0];
}

extern "C" int model_cuda_adamw_update(ModelCuda *g, double lr, double beta1, double beta2, double eps,
                                       double weight_decay, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    g->adamw_step++;
    AdamWScalars s = adamw_scalars(lr, beta1, beta2, eps, weight_decay, g->adamw_step);
    cu_adamw(g->params_memory, (bf16 *)g->params_bf16, g->grads_memory, g->m_memory, g->v_memory, g->num_parameters,
             s, g->clip_pending ? g->norm_result + 1 : NULL);
    g->clip_pending = 0;
    return 0;
}
