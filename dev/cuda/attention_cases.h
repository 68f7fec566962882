// attention_cases.h: what the attention_forward and attention_backward labs run on — the same masks,
// cases and dropout seed for both directions, and which versions a case applies to.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "kernels/cuda/attention_flash.cuh"

// the seed of the dropout masks on the probabilities (CPU reference and GPU versions draw the same)
static const uint64_t DROPOUT_SEED = 0x5eed;

struct Case { int B, T, C, NH, all_masked; float dropout; const char *label; };

// validated on the GPU: DistilBERT's shape at T = 128 and 77 (a full and a partial 64-row tile of
// queries and of keys), heads of 32, a batch row with every key masked; with dropout 0.1 the same
// plus heads of 16 and 8 (the test models')
static const Case ATTENTION_CASES[] = {
    {8, 128, 768, 12, -1, 0.0f, "B8xT128_C768_NH12"},
    {8, 77, 768, 12, -1, 0.0f, "B8xT77_C768_NH12"},
    {4, 77, 384, 12, -1, 0.0f, "B4xT77_C384_HS32"},
    {3, 50, 128, 4, 2, 0.0f, "B3xT50_HS32_rowmasked"},
    {8, 128, 768, 12, -1, 0.1f, "B8xT128_C768_NH12_dropout"},
    {3, 50, 128, 4, 2, 0.1f, "B3xT50_HS32_rowmasked_dropout"},
    {4, 77, 64, 4, -1, 0.1f, "B4xT77_C64_HS16_dropout"},
    {4, 77, 32, 4, -1, 0.1f, "B4xT77_C32_HS8_dropout"},
};
// emulated: the same kinds at small batch and width
static const Case ATTENTION_CASES_EMULATED[] = {
    {2, 77, 128, 2, -1, 0.0f, "B2xT77_C128_HS64"},
    {2, 77, 64, 2, -1, 0.0f, "B2xT77_C64_HS32"},
    {3, 50, 128, 4, 2, 0.0f, "B3xT50_HS32_rowmasked"},
    {2, 77, 128, 2, -1, 0.1f, "B2xT77_C128_HS64_dropout"},
    {3, 50, 128, 4, 2, 0.1f, "B3xT50_HS32_rowmasked_dropout"},
    {2, 77, 32, 2, -1, 0.1f, "B2xT77_C32_HS16_dropout"},
    {2, 70, 32, 4, 1, 0.1f, "B2xT70_C32_HS8_rowmasked_dropout"},
};
// the benchmark times training's attention: dropout 0.1 (versions 1 and 3; version 2 has none)
static const Case ATTENTION_BENCH[] = {
    {8, 128, 768, 12, -1, 0.1f, "B8xT128_C768_NH12"},
    {32, 256, 768, 12, -1, 0.1f, "B32xT256_C768_NH12"},
};

// version 2 (fp32 flash) has no dropout and heads of 32 and 64 only; version 3 (bf16 flash) also
// takes heads of 8 and 16 (zero-padded to the mma's 16); version 1 (unfused) takes any
static bool case_applies(int v, const Case &c) {
    int HS = c.C / c.NH;
    const char *why = NULL;
    if (v == 2 && c.dropout > 0) why = "this version has no dropout";
    else if (v == 2 && HS != 32 && HS != 64) why = "head size not instantiated";
    else if (v == 3 && !flash_mma::flash_head_size_supported(HS)) why = "head size not instantiated";
    if (why) printf("version %d  %s: not applicable (%s)\n", v, c.label, why);
    return why == NULL;
}

// right padding to a random length in [T/2, T] plus random holes (p = 0.15) after position 0;
// batch row `all_masked` (or -1) gets no real key at all
static void make_mask(int *mask, int B, int T, int all_masked) {
    for (int b = 0; b < B; b++) {
        int len = b == 0 ? T : T / 2 + lab_rand_int(T - T / 2 + 1);
        for (int t = 0; t < T; t++) mask[b * T + t] = t < len && (t == 0 || lab_rand_int(100) >= 15);
        if (b == all_masked) for (int t = 0; t < T; t++) mask[b * T + t] = 0;
    }
}
