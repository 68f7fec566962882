// print_batch_order.c: dev helper for dev/trajectory_parity.sh — print the training batch order that
// ./train uses (batch_plan_make with shuffling, no --bucket, seeded with seed + epoch as in train.c),
// so that the PyTorch side can replay exactly the same batches.
//
//   build/print_batch_order BATCH SEED EPOCHS < train_rows.txt
//
// train_rows.txt: the "train" row indices of split.json, whitespace-separated, in split.json order.
// Output: one line per batch, "EPOCH ROW ROW ...", epochs 1..EPOCHS in training order.
// Build (from the repo root, after `make`):
//   cc -O2 -std=c11 -fopenmp -I. $(pkg-config --cflags libcjson) dev/print_batch_order.c build/libenc.a \
//      $(pkg-config --libs libcjson) -lm -o build/print_batch_order
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/batch.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s BATCH SEED EPOCHS < train_rows.txt\n", argv[0]);
        return 2;
    }
    int B = atoi(argv[1]), epochs = atoi(argv[3]);
    uint64_t seed = strtoull(argv[2], NULL, 10);
    int n = 0, cap = 1024, *rows = malloc(sizeof(int) * (size_t)cap), *lens;
    if (!rows) return 1;
    while (scanf("%d", &rows[n]) == 1)
        if (++n == cap && !(rows = realloc(rows, sizeof(int) * (size_t)(cap *= 2)))) return 1;
    int max_row = 0;
    for (int i = 0; i < n; i++) max_row = rows[i] > max_row ? rows[i] : max_row;
    lens = calloc((size_t)max_row + 1, sizeof(int));  // lengths matter only for --bucket (not used)
    if (!lens || n < 1 || B < 1 || epochs < 1) { fprintf(stderr, "print_batch_order: bad input\n"); return 1; }
    char err[256];
    for (int epoch = 1; epoch <= epochs; epoch++) {
        BatchPlan plan;
        if (batch_plan_make(&plan, rows, n, lens, B, 1, 0, seed + (uint64_t)epoch, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        for (int k = 0; k < plan.n_batches; k++) {
            printf("%d", epoch);
            for (int i = 0; i < plan.batch_len[k]; i++) printf(" %d", plan.rows[plan.batch_start[k] + i]);
            printf("\n");
        }
        batch_plan_free(&plan);
    }
    free(rows);
    free(lens);
    return 0;
}
