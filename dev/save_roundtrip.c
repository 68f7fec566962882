// save_roundtrip.c: dev driver for dev/check_hf_load.py — load a checkpoint with our loader (a missing
// head is initialised), take one AdamW step on a fixed batch so every weight moves away from the
// source, save it with checkpoint_save, and print the eval-mode logits of a fixed batch as JSON:
//   {"ids": [[...], ...], "mask": [[...], ...], "logits": [[...], ...]}
// Build (from the repo root, after `make`):
//   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -fopenmp -I. $(pkg-config --cflags libcjson) \
//      dev/save_roundtrip.c build/libenc.a $(pkg-config --libs libcjson) -lm -o build/save_roundtrip
// Usage: build/save_roundtrip SRC_DIR OUT_DIR
#include <stdio.h>
#include <stdlib.h>

#include "model/checkpoint.h"

enum { B = 3, T = 9 };

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s SRC_DIR OUT_DIR\n", argv[0]); return 2; }
    char err[1024], notice[1024];
    Model m;
    if (checkpoint_load(&m, argv[1], 0, NULL, 1, notice, sizeof notice, err, sizeof err) != 0 ||
        model_alloc_activations(&m, B, T, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (notice[0]) fprintf(stderr, "%s\n", notice);
    // rows of 9, 6 and 4 tokens (ids 3..V-1, never a pad id), padded with the model's pad id
    int ids[B * T], mask[B * T], labels[B] = {0, 1, 0}, lengths[B] = {9, 6, 4};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int real_token = t < lengths[b];
            ids[b * T + t] = real_token ? 3 + (b * 37 + t * 11) % (m.config.vocab_size - 3) : m.config.pad_token_id;
            mask[b * T + t] = real_token;
        }
    if (model_forward(&m, ids, mask, labels, B, T, 0, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    model_zero_grad(&m);
    model_backward(&m);
    model_clip_grad_norm(&m, 1.0);
    if (model_adamw_update(&m, 1e-3, 0.9, 0.999, 1e-8, 0.01, err, sizeof err) != 0 ||
        checkpoint_save(&m, argv[2], err, sizeof err) != 0 ||
        model_forward(&m, ids, mask, NULL, B, T, 0, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const int *arrays[2] = {ids, mask};
    const char *names[2] = {"ids", "mask"};
    printf("{");
    for (int k = 0; k < 2; k++) {
        printf("\"%s\": [", names[k]);
        for (int b = 0; b < B; b++) {
            printf(b ? ", [" : "[");
            for (int t = 0; t < T; t++) printf(t ? ", %d" : "%d", arrays[k][b * T + t]);
            printf("]");
        }
        printf("], ");
    }
    printf("\"logits\": [");
    for (int b = 0; b < B; b++) {
        printf(b ? ", [" : "[");
        for (int c = 0; c < m.config.num_labels; c++) printf(c ? ", %.9g" : "%.9g", m.acts.logits[b * m.config.num_labels + c]);
        printf("]");
    }
    printf("]}\n");
    model_free(&m);
    return 0;
}
