/*
Softmax + cross-entropy over NL classes, forward and backward together (PyTorch CrossEntropyLoss:
mean over the rows whose label is not -100). Per row b with logits z:
  p = softmax(z) (max subtracted),  loss_b = log Σ exp(z - max) + max - z[y]  (0 for ignored rows)
  mean loss = Σ_counted loss_b / B'   (B' = rows with a label; 0 when B' = 0)
  dlogits[b,c] += (p[b,c] - [c == y_b]) / B'   (ignored rows get nothing)
For sequence classification NL is 2-3 and B 8-32: a few hundred bytes, so launch latency, not
bandwidth, is the cost (the floor_us in the RESULT line, bytes / peak bandwidth, is far below any
kernel launch; compare versions by time). All arithmetic fp32 (logits, log-softmax and loss stay
fp32 in mixed precision).
CPU reference: crossentropy_forward and crossentropy_backward in kernels/crossentropy.c.

Build and run (from the repo root):
  make cuda && ./build/cuda/crossentropy        (or ./build/cuda/crossentropy 2: one version)

version 1: three kernels: one thread per row for probs and loss; one block that counts the labelled
rows and sums their losses in fixed order (mean loss and B' to device memory); one thread per logit
for dlogits.

version 2: one kernel, one block: the block counts B', then each warp takes rows (lanes stride the
classes: max and sum by shuffle, so large NL works too), writes probs, loss and dlogits, and the
warps' loss sums are combined in fixed order into the mean. One launch instead of three;
deterministic.
*/
#include "dev/cuda/common.h"
extern "C" {
#include "kernels/kernels.h"
}

#include "kernels/cuda/crossentropy.cuh"

// ---------------------------------------------------------------------------------------------
// kernels

// logits (B,NL), labels (B) -> probs (B,NL), losses (B)
__global__ void crossentropy_forward_kernel1(float *probs, float *losses, const float *logits, const int *labels,
                                             int B, int NL) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const float *z = logits + (size_t)b * NL;
    float *p = probs + (size_t)b * NL;
    float maxval = z[0];
    for (int c = 1; c < NL; c++) maxval = fmaxf(maxval, z[c]);
    float sum = 0.0f;
    for (int c = 0; c < NL; c++) { p[c] = expf(z[c] - maxval); sum += p[c]; }
    for (int c = 0; c < NL; c++) p[c] /= sum;
    losses[b] = labels[b] != IGNORE_INDEX ? logf(sum) + maxval - z[labels[b]] : 0.0f;
}
// one block: stats[0] = mean loss, stats[1] = B' (as float)
__global__ void crossentropy_mean_kernel1(float *stats, const float *losses, const int *labels, int B) {
    float total = 0.0f, count = 0.0f;
    for (int b = threadIdx.x; b < B; b += blockDim.x) {
        if (labels[b] != IGNORE_INDEX) { total += losses[b]; count += 1.0f; }
    }
    total = block_reduce_sum(total);
    count = block_reduce_sum(count);
    if (threadIdx.x == 0) { stats[0] = count > 0 ? total / count : 0.0f; stats[1] = count; }
}

// ---------------------------------------------------------------------------------------------
// launchers

static void crossentropy1(float *probs, float *losses, float *dlogits, float *stats, const float *logits,
                          const int *labels, int B, int NL, int block) {
    crossentropy_forward_kernel1<<<ceil_div(B, block), block>>>(probs, losses, logits, labels, B, NL);
    cudaCheckLaunch();
    crossentropy_mean_kernel1<<<1, 256>>>(stats, losses, labels, B);
    cudaCheckLaunch();
    crossentropy_backward_kernel1<<<ceil_div(B * NL, block), block>>>(dlogits, probs, labels, stats, B, NL);
    cudaCheckLaunch();
}
static void crossentropy2(float *probs, float *losses, float *dlogits, float *stats, const float *logits,
                          const int *labels, int B, int NL, int block) {
    crossentropy_fused_kernel2<<<1, block>>>(probs, losses, dlogits, stats, logits, labels, B, NL);
    cudaCheckLaunch();
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    lab_init("crossentropy");
    // ignored: every k-th label is -100 (0 = none; 1 = all rows ignored). sizes[0] is benchmarked.
    // Small enough for the emulator as they are (one list for both).
    struct { const char *name; int B, NL, ignore_every; } sizes[] = {
        {"B32NL2", 32, 2, 0}, {"B8NL2", 8, 2, 0}, {"B77NL3-ign", 77, 3, 5}, {"B5NL1000", 5, 1000, 0},
        {"B2000NL7-ign", 2000, 7, 3}, {"B4NL2-allign", 4, 2, 1}};

    for (auto &s : sizes) {
        int B = s.B, NL = s.NL;
        size_t n = (size_t)B * NL;
        printf("-- validate %s (B=%d NL=%d)\n", s.name, B, NL);
        float *logits = make_random_float(n, -8.0f, 8.0f);
        std::vector<int> labels(B);
        for (int b = 0; b < B; b++) labels[b] = s.ignore_every && b % s.ignore_every == 0 ? IGNORE_INDEX : lab_rand_int(NL);
        float *probs = (float *)host_malloc(n * sizeof(float)), *losses = (float *)host_malloc(B * sizeof(float));
        float *dlogits0 = make_random_float(n), *dlogits = (float *)host_malloc(n * sizeof(float));
        float mean = crossentropy_forward(probs, losses, logits, labels.data(), B, NL);
        memcpy(dlogits, dlogits0, n * sizeof(float));
        crossentropy_backward(dlogits, probs, labels.data(), B, NL);

        float *d_logits = dev_alloc<float>(n), *d_probs = dev_alloc<float>(n), *d_losses = dev_alloc<float>(B);
        float *d_dlogits = dev_alloc<float>(n), *d_stats = dev_alloc<float>(2);
        int *d_labels = dev_alloc<int>(B);
        to_device(d_logits, logits, n);
        to_device(d_labels, labels.data(), B);
        for (int v = 1; v <= 2; v++) {
            if (!lab_want(argc, argv, v)) continue;
            lab_version = v;
            poison(d_probs, n * sizeof(float));
            poison(d_losses, B * sizeof(float));
            poison(d_stats, 2 * sizeof(float));
            to_device(d_dlogits, dlogits0, n);
            if (v == 1) crossentropy1(d_probs, d_losses, d_dlogits, d_stats, d_logits, d_labels, B, NL, 128);
            else crossentropy2(d_probs, d_losses, d_dlogits, d_stats, d_logits, d_labels, B, NL, 256);
            cudaCheck(cudaDeviceSynchronize());
            float stats[2];
            to_host(stats, d_stats, 2);
            validate("probs", d_probs, probs, n, TOL_FP32);
            validate("losses", d_losses, losses, B, TOL_FP32);
            validate_scalar("mean loss", stats[0], mean, 1e-5f);
            validate("dlogits", d_dlogits, dlogits, n, TOL_FP32);
        }
        for (float *p : {d_logits, d_probs, d_losses, d_dlogits, d_stats}) cudaCheck(cudaFree(p));
        cudaCheck(cudaFree(d_labels));
        for (float *p : {logits, probs, losses, dlogits0, dlogits}) free(p);
    }

    if (lab_emulated) return lab_exit();

    auto &s = sizes[0];
    int B = s.B, NL = s.NL;
    size_t n = (size_t)B * NL;
    float *d_logits = dev_alloc<float>(n), *d_probs = dev_alloc<float>(n), *d_losses = dev_alloc<float>(B);
    float *d_dlogits = dev_alloc<float>(n), *d_stats = dev_alloc<float>(2);
    int *d_labels = dev_alloc<int>(B);
    cudaCheck(cudaMemset(d_logits, 0, n * sizeof(float)));
    cudaCheck(cudaMemset(d_dlogits, 0, n * sizeof(float)));
    cudaCheck(cudaMemset(d_labels, 0, B * sizeof(int)));
    printf("-- benchmark %s\n", s.name);
    for (int v = 1; v <= 2; v++) {
        if (!lab_want(argc, argv, v)) continue;
        Timing t = benchmark_blocks(v, {32, 128, 256}, [&](int block) {
            if (v == 1) crossentropy1(d_probs, d_losses, d_dlogits, d_stats, d_logits, d_labels, B, NL, block);
            else crossentropy2(d_probs, d_losses, d_dlogits, d_stats, d_logits, d_labels, B, NL, block);
        });
        // logits read, probs written, dlogits read + written, labels and losses
        double bytes = 4.0 * n * 4 + 8.0 * B;
        print_result("crossentropy", v, t, bytes, 0, 0, s.name);
    }
    return lab_exit();
}
