// inspect.c: inspect_report (inspect.h).
#include "data/inspect.h"

#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void print_label_counts(FILE *out, const char *what, const Dataset *ds, const int *rows, int n) {
    int *count = calloc((size_t)ds->n_labels, sizeof(int));
    if (!count) return;
    for (int i = 0; i < n; i++) count[ds->labels[rows[i]]]++;
    fprintf(out, "  %-10s %6d rows:", what, n);
    for (int c = 0; c < ds->n_labels; c++)
        fprintf(out, " %s %d (%.1f%%)%s", ds->label_names[c], count[c], n ? 100.0 * count[c] / n : 0.0,
                c + 1 < ds->n_labels ? "," : "");
    fprintf(out, "\n");
    free(count);
}

// The token string of an id, printable (up to 40 bytes).
static void token_text(const Tokenizer *tok, int id, char *buf, size_t cap) {
    size_t len = 0;
    const char *s = tokenizer_id_to_token(tok, id, &len);
    if (!s) { snprintf(buf, cap, "?"); return; }
    snprintf(buf, cap, "%.*s", (int)(len < 40 ? len : 40), s);
}

// Batches of one epoch over `rows` as train would cut them: count, padded fraction, first shapes.
static int print_batch_plan(FILE *out, const char *what, const int *rows, int n, const TokenizedSet *set,
                            int batch_size, int shuffle, int bucket, uint64_t seed, char *err, size_t errlen) {
    BatchPlan plan;
    if (batch_plan_make(&plan, rows, n, set->lens, batch_size, shuffle, bucket, seed, err, errlen) != 0) return -1;
    long tokens = 0, cells = 0;
    for (int k = 0; k < plan.n_batches; k++) {
        int T = 0;
        for (int i = 0; i < plan.batch_len[k]; i++) {
            int len = set->lens[plan.rows[plan.batch_start[k] + i]];
            tokens += len;
            if (len > T) T = len;
        }
        cells += (long)T * plan.batch_len[k];
    }
    fprintf(out, "  %-34s %5d batches, %.1f%% of the (B,T) cells are padding; first shapes:", what,
            plan.n_batches, cells ? 100.0 * (double)(cells - tokens) / (double)cells : 0.0);
    for (int k = 0; k < plan.n_batches && k < 6; k++) {
        int T = 0;
        for (int i = 0; i < plan.batch_len[k]; i++) {
            int len = set->lens[plan.rows[plan.batch_start[k] + i]];
            if (len > T) T = len;
        }
        fprintf(out, " %dx%d", plan.batch_len[k], T);
    }
    fprintf(out, "\n");
    batch_plan_free(&plan);
    return 0;
}

int inspect_report(FILE *out, const Dataset *ds, const Split *sp, const TokenizedSet *set, const int *full_lens,
                   Tokenizer *tok, int batch_size, int max_length, int bucket, uint64_t seed, char *err,
                   size_t errlen) {
    int n = sp->n_train + sp->n_valid;
    int *rows = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1)), *lens = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!rows || !lens) { free(rows); free(lens); snprintf(err, errlen, "inspect: out of memory"); return -1; }
    memcpy(rows, sp->train, sizeof(int) * (size_t)sp->n_train);
    memcpy(rows + sp->n_train, sp->valid, sizeof(int) * (size_t)sp->n_valid);

    fprintf(out, "data: %s, %d rows, %d labels\n", ds->path, ds->n, ds->n_labels);
    print_label_counts(out, "drawn", ds, rows, n);
    print_label_counts(out, "train", ds, sp->train, sp->n_train);
    print_label_counts(out, "validation", ds, sp->valid, sp->n_valid);

    // special tokens: the template's first and last ids, from encoding a one-word text
    TokenizerEncoding enc = {0};
    char terr[256];
    int first = -1, last = -1;
    if (tokenizer_encode(tok, "a", 1, 0, &enc, terr, sizeof terr) == 0 && enc.n >= 2) {
        first = enc.ids[0];
        last = enc.ids[enc.n - 1];
    }
    tokenizer_encoding_free(&enc);
    char first_s[48], last_s[48], pad_s[48];
    token_text(tok, first, first_s, sizeof first_s);
    token_text(tok, last, last_s, sizeof last_s);
    token_text(tok, tokenizer_pad_id(tok), pad_s, sizeof pad_s);
    int bad_first = 0, bad_last = 0, pad_inside = 0;
    for (int i = 0; i < n; i++) {
        const int32_t *ids = set->ids[rows[i]];
        int len = set->lens[rows[i]];
        bad_first += ids[0] != first;
        bad_last += ids[len - 1] != last;
        for (int t = 0; t < len; t++) pad_inside += ids[t] == tokenizer_pad_id(tok);
    }
    fprintf(out, "\ntokenizer: %s, %d ids, pad %s = %d\n",
            tokenizer_kind(tok) == TOKENIZER_WORDPIECE ? "WordPiece" : "byte-level BPE", tokenizer_vocab_size(tok),
            pad_s, tokenizer_pad_id(tok));
    fprintf(out, "  special tokens: every row starts with %s (%d): %s (%d rows do not); ends with %s (%d): %s "
                 "(%d rows do not); pad id inside a text: %d\n",
            first_s, first, bad_first ? "NO" : "yes", bad_first, last_s, last, bad_last ? "NO" : "yes", bad_last,
            pad_inside);

    // lengths
    long sum = 0;
    int truncated = 0;
    for (int i = 0; i < n; i++) {
        lens[i] = full_lens[rows[i]];
        sum += lens[i];
        truncated += lens[i] > max_length;
    }
    qsort(lens, (size_t)n, sizeof(int), cmp_int);
    if (n > 0) {
        fprintf(out, "\ntoken lengths (before truncation, special tokens included): min %d, mean %.1f, median %d, "
                     "p95 %d, max %d\n", lens[0], (double)sum / n, lens[n / 2], lens[(int)(0.95 * (n - 1))], lens[n - 1]);
        fprintf(out, "  truncated to --max-length %d: %d of %d rows (%.1f%%)\n", max_length, truncated, n,
                100.0 * truncated / n);
        // histogram: 10 bins up to max_length, one for the truncated rows
        int nb = 10, width = (max_length + nb - 1) / nb, hist[11] = {0}, peak = 1;
        for (int i = 0; i < n; i++) {
            int b = lens[i] > max_length ? nb : (lens[i] - 1) / width;
            if (b > nb) b = nb;
            if (++hist[b] > peak) peak = hist[b];
        }
        fprintf(out, "  histogram:\n");
        for (int b = 0; b <= nb; b++) {
            char range[48];
            if (b < nb) snprintf(range, sizeof range, "%4d-%-4d", b * width + 1, (b + 1) * width < max_length ? (b + 1) * width : max_length);
            else snprintf(range, sizeof range, "  > %-5d", max_length);
            if (b < nb && b * width + 1 > max_length) continue;
            fprintf(out, "    %s %6d ", range, hist[b]);
            for (int k = 0; k < 50 * hist[b] / peak; k++) fputc('#', out);
            fputc('\n', out);
        }
    }

    // batches
    fprintf(out, "\nbatches (batch size %d, dynamic padding to the longest row of each batch):\n", batch_size);
    int rc = print_batch_plan(out, "train, epoch 1 (shuffled):", sp->train, sp->n_train, set, batch_size, 1, 0, seed + 1, err, errlen);
    if (rc == 0)
        rc = print_batch_plan(out, "train, epoch 1, bucketed by length:", sp->train, sp->n_train, set, batch_size, 1,
                              bucket > 0 ? bucket : 50, seed + 1, err, errlen);
    if (rc == 0)
        rc = print_batch_plan(out, "validation (in order):", sp->valid, sp->n_valid, set, batch_size, 0, 0, 0, err, errlen);
    if (rc == 0 && n > 0) {
        const int32_t *ids = set->ids[rows[0]];
        int len = set->lens[rows[0]];
        char *decoded = NULL;
        size_t dlen = 0;
        fprintf(out, "\nfirst training row (%d): label %s, %d tokens:", rows[0], ds->label_names[ds->labels[rows[0]]], len);
        for (int t = 0; t < len && t < 16; t++) {
            char s[48];
            token_text(tok, ids[t], s, sizeof s);
            fprintf(out, " %s", s);
        }
        fprintf(out, "%s\n", len > 16 ? " ..." : "");
        if (tokenizer_decode(tok, ids, len, 0, &decoded, &dlen, terr, sizeof terr) == 0)
            fprintf(out, "  decoded: %.200s%s\n", decoded, dlen > 200 ? "..." : "");
        free(decoded);
    }
    free(rows);
    free(lens);
    return rc;
}
