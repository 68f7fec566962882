/*
model_check.cu: the GPU training path (model/model_cuda.h) against transformers and against the
CPU reference model, on the parity fixtures test/fixtures/{distilbert,distilbert-fp16,bert,roberta}-tiny,
in both precisions. Not a kernel lab: it links build/cuda/libmodel_cuda.a and the CPU library.

Build and run (from the repo root; dev/gpu_check.sh runs it with the labs):
    make cuda && ./build/cuda/model_check            # every fixture, fp32 and bf16
    ./build/cuda/model_check fp32                    # one precision

Per fixture and precision (the batch of the fixture's dump.safetensors, see test/test_parity.c):
  1. eval forward + backward on the GPU and on the CPU: logits, loss and every parameter gradient
     against the transformers dump and against the CPU model;
  2. one AdamW step (lr 1e-3, wd 0.01) and two clipped steps (max norm 0.05) against the adamw.*
     parameters of dump.safetensors / dump-clip2.safetensors (fp32 only), with test_parity.c's rule for
     noise-level gradients;
  3. 50 training steps with dropout on, CPU and GPU from the same checkpoint, the same batch and the
     same dropout seed (so the same masks): the two loss curves must track;
  4. the GPU-trained parameters downloaded, saved with checkpoint_save, reloaded on the CPU: the
     reloaded CPU logits against the GPU's logits of the same weights.
Tolerances (doc/cuda.md, "GPU training path"; estimates until the first GPU run):
  fp32: logits, loss, gradients |gpu - ref| <= 1e-5 + 1e-4 |ref| (test_parity's, against both);
        parameters after AdamW 1e-6 + 1e-5 |ref|; loss curve |gpu - cpu| <= 2e-3 + 1e-3 |cpu| per step;
        reloaded logits 1e-5 + 1e-4 |ref|.
  bf16: logits |diff| <= 2e-2 + 2e-2 |ref|; loss relative 2e-2; each gradient tensor's relative L2
        error <= 5e-2 (cosine similarity > 0.99, kernel-notes §6.4), a tensor whose exact gradient is 0
        (the key biases) elementwise within 5e-2 x the RMS of the whole gradient; loss curve |gpu - cpu| <= 5e-2 +
        5e-2 |cpu| per step; reloaded logits as bf16 logits.
Output: one RESULT line per check (dev/cuda/common.h format; maxrel = worst error / tolerance, <= 1
passes; time fields 0), exit status 1 when any check fails.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vector>

extern "C" {
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/safetensors.h"
}
#include "model/model_cuda.h"

#define LR 1e-3
#define WD 0.01
#define MAX_NORM 0.05
#define NOISE_GRAD 1e-6
// 50 steps on a GPU; 20 under the emulator (each step is a few hundred emulated launches)
#ifdef CUDA_EMU
#define TRAIN_STEPS 20
#define CKPT_PARENT "build/cuda_emu"
#else
#define TRAIN_STEPS 50
#define CKPT_PARENT "build/cuda"
#endif

static int failures = 0;

static void result(const char *fixture, const char *check, int prec, double worst, const char *detail) {
    bool ok = worst <= 1.0;
    if (!ok) failures++;
    printf("RESULT op=model_%s version=%d status=%s maxrel=%.3g time_us=0 hot_us=0 gbps=0 tflops=0 floor_us=0 "
           "pct=0 size=%s\n", check, prec == PRECISION_BF16 ? 2 : 1, ok ? "ok" : "FAIL", worst, fixture);
    printf("  %-14s %-5s %-24s %s (worst %.3g of tolerance)%s\n", fixture, prec == PRECISION_BF16 ? "bf16" : "fp32",
           check, ok ? "ok  " : "FAIL", worst, detail ? detail : "");
    fflush(stdout);
}

// elementwise: worst |a - b| / (atol + rtol |b|)
static double elementwise(const float *a, const float *b, size_t n, double atol, double rtol, size_t *at) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(r <= worst)) { worst = r; if (at) *at = i; }
    }
    return worst;
}
// relative L2 error ||a - b|| / ||b|| (0 when both are 0)
static double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}

typedef struct {
    safetensors_file dump;
    int B, T;
    std::vector<int> ids, mask, labels;
} Ref;

// one of the fixture's parity dumps (doc/parity.md): dump.safetensors or dump-clip2.safetensors
static bool ref_open(Ref *r, const char *dir, const char *file) {
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (safetensors_open(&r->dump, path, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return false; }
    const st_tensor *ids = safetensors_find(&r->dump, "input_ids");
    const st_tensor *mask = safetensors_find(&r->dump, "attention_mask");
    const st_tensor *labels = safetensors_find(&r->dump, "labels");
    if (!ids || !mask || !labels || ids->ndim != 2) { fprintf(stderr, "%s: batch tensors missing\n", path); return false; }
    r->B = (int)ids->shape[0];
    r->T = (int)ids->shape[1];
    std::vector<int64_t> buf(ids->numel);
    safetensors_read_i64(&r->dump, ids, buf.data(), ids->numel, err, sizeof err);
    r->ids.assign(buf.begin(), buf.end());
    safetensors_read_i64(&r->dump, mask, buf.data(), mask->numel, err, sizeof err);
    r->mask.assign(buf.begin(), buf.begin() + mask->numel);
    std::vector<int64_t> lb(labels->numel);
    safetensors_read_i64(&r->dump, labels, lb.data(), labels->numel, err, sizeof err);
    r->labels.assign(lb.begin(), lb.end());
    return true;
}
static std::vector<float> ref_tensor(const Ref *r, const char *name, size_t n) {
    const st_tensor *t = safetensors_find(&r->dump, name);
    std::vector<float> v;
    char err[512];
    if (!t || t->numel != n) return v;
    v.resize(n);
    if (safetensors_read_f32(&r->dump, t, v.data(), n, err, sizeof err) != 0) v.clear();
    return v;
}

static bool load_cpu(Model *m, const char *dir, int B, int T) {
    char err[512], notice[512];
    if (checkpoint_load(m, dir, 0, NULL, 0, notice, sizeof notice, err, sizeof err) != 0 ||
        model_alloc_activations(m, B, T, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", dir, err);
        return false;
    }
    return true;
}

// parameters after AdamW steps against the dump's `prefix`*, test_parity.c's noise rule
static double check_params(const Model *m, const Ref *r, const char *prefix, const float *params,
                           const float *grads, int steps) {
    double worst = 0;
    char name[200], gname[200];
    for (int i = 0; i < m->n_entries; i++) {
        const ParamEntry *e = &m->table[i];
        snprintf(name, sizeof name, "%s%s", prefix, e->name);
        snprintf(gname, sizeof gname, "grad.%s", e->name);
        std::vector<float> theirs = ref_tensor(r, name, e->numel), g = ref_tensor(r, gname, e->numel);
        if (theirs.empty() || g.empty()) return INFINITY;
        for (size_t k = 0; k < e->numel; k++) {
            double diff = fabs((double)params[e->offset + k] - theirs[k]);
            float og = grads[e->offset + k];
            double ratio;
            if ((g[k] != 0 || og != 0) && fabs(g[k]) < NOISE_GRAD && fabs(og) < NOISE_GRAD) ratio = diff / (2 * steps * LR);
            else ratio = diff / (1e-6 + 1e-5 * fabs((double)theirs[k]));
            if (ratio > worst) worst = ratio;
        }
    }
    return worst;
}

static void check_fixture(const char *dir, Precision prec) {
    const char *fx = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    const bool bf = prec == PRECISION_BF16;
    char err[512], detail[640];
    Ref r;
    if (!ref_open(&r, dir, "dump.safetensors")) { result(fx, "load", prec, INFINITY, " cannot open the dump"); return; }
    const int B = r.B, T = r.T;

    // ---- 1. forward + backward (eval mode, as the dump)
    Model cpu;
    if (!load_cpu(&cpu, dir, B, T)) { result(fx, "load", prec, INFINITY, NULL); safetensors_close(&r.dump); return; }
    const int NL = cpu.config.num_labels;
    const size_t np = cpu.num_parameters;
    model_forward(&cpu, r.ids.data(), r.mask.data(), r.labels.data(), B, T, 0, err, sizeof err);
    model_zero_grad(&cpu);
    model_backward(&cpu);

    ModelCuda g;
    if (model_cuda_init(&g, &cpu, B, T, prec, err, sizeof err) != 0) {
        snprintf(detail, sizeof detail, " %s", err);
        result(fx, "init", prec, INFINITY, detail);
        model_free(&cpu);
        safetensors_close(&r.dump);
        return;
    }
    if (model_cuda_forward(&g, r.ids.data(), r.mask.data(), r.labels.data(), B, T, 0, err, sizeof err) != 0) {
        snprintf(detail, sizeof detail, " %s", err);
        result(fx, "forward", prec, INFINITY, detail);
    }
    model_cuda_zero_grad(&g);
    model_cuda_backward(&g);
    std::vector<float> logits((size_t)B * NL), grads(np);
    model_cuda_read_logits(&g, logits.data());
    float loss = model_cuda_mean_loss(&g);
    model_cuda_download_grads(&g, grads.data());

    std::vector<float> hf_logits = ref_tensor(&r, "logits", (size_t)B * NL), hf_loss = ref_tensor(&r, "loss", 1);
    double la = bf ? 2e-2 : 1e-5, lr_ = bf ? 2e-2 : 1e-4;
    result(fx, "logits_vs_hf", prec, hf_logits.empty() ? INFINITY : elementwise(logits.data(), hf_logits.data(), logits.size(), la, lr_, NULL), NULL);
    result(fx, "logits_vs_cpu", prec, elementwise(logits.data(), cpu.acts.logits, logits.size(), la, lr_, NULL), NULL);
    float cpu_loss = cpu.mean_loss;
    result(fx, "loss_vs_hf", prec, hf_loss.empty() ? INFINITY : elementwise(&loss, hf_loss.data(), 1, bf ? 0 : 1e-5, bf ? 2e-2 : 1e-4, NULL), NULL);
    result(fx, "loss_vs_cpu", prec, elementwise(&loss, &cpu_loss, 1, bf ? 0 : 1e-5, bf ? 2e-2 : 1e-4, NULL), NULL);

    // every gradient tensor, against transformers and against the CPU
    double worst_hf = 0, worst_cpu = 0;
    double grad_rms = 0;   // of the CPU's whole gradient: the scale of the zero-gradient tensors' bf16 noise
    for (size_t i = 0; i < cpu.num_parameters; i++) grad_rms += (double)cpu.grads_memory[i] * cpu.grads_memory[i];
    grad_rms = sqrt(grad_rms / (double)cpu.num_parameters);
    const char *worst_name = "";
    char name[200];
    for (int i = 0; i < cpu.n_entries; i++) {
        const ParamEntry *e = &cpu.table[i];
        snprintf(name, sizeof name, "grad.%s", e->name);
        std::vector<float> theirs = ref_tensor(&r, name, e->numel);
        const float *ours = grads.data() + e->offset, *c = cpu.grads_memory + e->offset;
        double wh, wc;
        if (bf) {
            wh = theirs.empty() ? INFINITY : rel_l2(ours, theirs.data(), e->numel) / 5e-2;
            wc = rel_l2(ours, c, e->numel) / 5e-2;
            // tensors whose exact gradient is 0 (key biases: softmax is invariant to a shift of every
            // score of a row): what both implementations hold is rounding noise, bf16's here (dK sums
            // dS rounded to bf16, whose rows sum to 0 only in exact arithmetic); judged absolutely, at
            // 5 % of the RMS of the whole gradient, the relative criterion above with the typical
            // gradient element as the scale
            if (theirs.size() && rel_l2(c, theirs.data(), e->numel) > 0.5) {
                wh = wc = elementwise(ours, c, e->numel, 5e-2 * grad_rms, 0, NULL);
            }
        } else {
            wh = theirs.empty() ? INFINITY : elementwise(ours, theirs.data(), e->numel, 1e-5, 1e-4, NULL);
            wc = elementwise(ours, c, e->numel, 1e-5, 1e-4, NULL);
        }
        if (!(wh <= worst_hf)) { worst_hf = wh; worst_name = e->name; }
        if (!(wc <= worst_cpu)) worst_cpu = wc;
    }
    snprintf(detail, sizeof detail, " worst tensor %s", worst_name);
    result(fx, "grads_vs_hf", prec, worst_hf, detail);
    result(fx, "grads_vs_cpu", prec, worst_cpu, NULL);

    // ---- 2. AdamW against the dump (fp32)
    if (!bf) {
        model_cuda_adamw_update(&g, LR, 0.9, 0.999, 1e-8, WD, err, sizeof err);
        std::vector<float> p1(np);
        cudaMemcpy(p1.data(), g.params_memory, np * sizeof(float), cudaMemcpyDeviceToHost);
        result(fx, "adamw_step1_vs_hf", prec, check_params(&cpu, &r, "adamw.", p1.data(), grads.data(), 1), NULL);
        model_cuda_upload_params(&g, &cpu);   // back to the checkpoint's weights, fresh moments
        g.adamw_step = 0;
        float norms[2];
        for (int s = 0; s < 2; s++) {
            model_cuda_forward(&g, r.ids.data(), r.mask.data(), r.labels.data(), B, T, 0, err, sizeof err);
            model_cuda_zero_grad(&g);
            model_cuda_backward(&g);
            norms[s] = (float)model_cuda_clip_grad_norm(&g, MAX_NORM);
            model_cuda_adamw_update(&g, LR, 0.9, 0.999, 1e-8, WD, err, sizeof err);
        }
        Ref r2;  // the two clipped steps are in the fixture's second dump
        if (!ref_open(&r2, dir, "dump-clip2.safetensors")) {
            result(fx, "clip_norm_vs_hf", prec, INFINITY, " cannot open dump-clip2.safetensors");
        } else {
            std::vector<float> hf_norms = ref_tensor(&r2, "adamw.grad_norm", 2);
            result(fx, "clip_norm_vs_hf", prec, hf_norms.empty() ? INFINITY : elementwise(norms, hf_norms.data(), 2, 1e-5, 1e-4, NULL), NULL);
            cudaMemcpy(p1.data(), g.params_memory, np * sizeof(float), cudaMemcpyDeviceToHost);
            result(fx, "adamw_clip2_vs_hf", prec, check_params(&cpu, &r2, "adamw.", p1.data(), grads.data(), 2), NULL);
            safetensors_close(&r2.dump);
        }
    }
    model_cuda_free(&g);
    model_free(&cpu);

    // ---- 3. 50 training steps, dropout on, same seed: CPU and GPU loss curves
    Model ct, gt_host;
    if (!load_cpu(&ct, dir, B, T) || !load_cpu(&gt_host, dir, B, T)) { result(fx, "train_load", prec, INFINITY, NULL); safetensors_close(&r.dump); return; }
    ct.dropout_seed = gt_host.dropout_seed = 1234;
    ModelCuda gt;
    model_cuda_init(&gt, &gt_host, B, T, prec, err, sizeof err);
    double worst_curve = 0;
    float first_gpu = 0, last_gpu = 0, last_cpu = 0;
    int worst_step = -1;
    for (int s = 0; s < TRAIN_STEPS; s++) {
        double lr = 5e-4 * lr_linear_warmup(s, 5, TRAIN_STEPS);
        model_forward(&ct, r.ids.data(), r.mask.data(), r.labels.data(), B, T, 1, err, sizeof err);
        float lc = ct.mean_loss;
        model_zero_grad(&ct);
        model_backward(&ct);
        model_clip_grad_norm(&ct, 1.0);
        model_adamw_update(&ct, lr, 0.9, 0.999, 1e-8, WD, err, sizeof err);

        model_cuda_forward(&gt, r.ids.data(), r.mask.data(), r.labels.data(), B, T, 1, err, sizeof err);
        float lg = model_cuda_mean_loss(&gt);
        model_cuda_zero_grad(&gt);
        model_cuda_backward(&gt);
        model_cuda_clip_grad_norm(&gt, 1.0);
        model_cuda_adamw_update(&gt, lr, 0.9, 0.999, 1e-8, WD, err, sizeof err);
        if (s == 0) first_gpu = lg;
        last_gpu = lg;
        last_cpu = lc;
        double tol = bf ? 5e-2 + 5e-2 * fabs(lc) : 2e-3 + 1e-3 * fabs(lc);
        double w = isfinite(lg) ? fabs((double)lg - lc) / tol : INFINITY;
        if (!(w <= worst_curve)) { worst_curve = w; worst_step = s; }
        if (s % 10 == 0 || s == TRAIN_STEPS - 1) printf("    step %2d  loss cpu %.6f  gpu %.6f\n", s, lc, lg);
    }
    snprintf(detail, sizeof detail, " (worst at step %d; last loss cpu %.5f gpu %.5f, first gpu %.5f)", worst_step,
             last_cpu, last_gpu, first_gpu);
    char train_check[32];
    snprintf(train_check, sizeof train_check, "train%d_vs_cpu", TRAIN_STEPS);
    result(fx, train_check, prec, worst_curve, detail);

    // ---- 4. GPU-trained weights -> checkpoint -> CPU reload: same logits
    model_cuda_forward(&gt, r.ids.data(), r.mask.data(), NULL, B, T, 0, err, sizeof err);
    std::vector<float> glog((size_t)B * NL);
    model_cuda_read_logits(&gt, glog.data());
    model_cuda_download_params(&gt, &gt_host);
    char out[600];
    mkdir("build", 0755);   // each level: a checkout where nothing else made build/ yet
    mkdir(CKPT_PARENT, 0755);
    mkdir(CKPT_PARENT "/model_check_ckpt", 0755);
    snprintf(out, sizeof out, CKPT_PARENT "/model_check_ckpt/%s-%s", fx, bf ? "bf16" : "fp32");
    double wsave = INFINITY;
    if (checkpoint_save(&gt_host, out, err, sizeof err) != 0) {
        fprintf(stderr, "checkpoint_save: %s\n", err);
    } else {
        Model back;
        if (load_cpu(&back, out, B, T)) {
            model_forward(&back, r.ids.data(), r.mask.data(), NULL, B, T, 0, err, sizeof err);
            wsave = elementwise(glog.data(), back.acts.logits, glog.size(), la, lr_, NULL);
            // the reload itself is exact: the downloaded CPU model's logits equal the reloaded model's
            model_forward(&gt_host, r.ids.data(), r.mask.data(), NULL, B, T, 0, err, sizeof err);
            if (memcmp(gt_host.acts.logits, back.acts.logits, glog.size() * sizeof(float)) != 0) wsave = fmax(wsave, 2.0);
            model_free(&back);
        }
    }
    result(fx, "checkpoint_reload_cpu", prec, wsave, NULL);
    model_cuda_free(&gt);
    model_free(&ct);
    model_free(&gt_host);
    safetensors_close(&r.dump);
}

int main(int argc, char **argv) {
    char why[256];
    if (!model_cuda_available(why, sizeof why)) {
        printf("model_check: no GPU (%s)\n", why);
        return 1;
    }
    const char *dirs[] = {"test/fixtures/distilbert-tiny", "test/fixtures/distilbert-tiny-fp16", "test/fixtures/bert-tiny",
                          "test/fixtures/roberta-tiny"};
    bool want32 = argc < 2 || strcmp(argv[1], "fp32") == 0, want16 = argc < 2 || strcmp(argv[1], "bf16") == 0;
    for (const char *d : dirs) {
        if (want32) check_fixture(d, PRECISION_FP32);
        if (want16) check_fixture(d, PRECISION_BF16);
    }
    if (failures) { printf("model_check: %d check(s) FAILED\n", failures); return 1; }
    printf("model_check: all checks passed\n");
    return 0;
}
