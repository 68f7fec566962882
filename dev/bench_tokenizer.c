// bench_tokenizer.c: time our tokenizer on a file of texts (each text followed by a NUL byte), as written
// by dev/bench_tokenizer.py, which builds and runs this driver:
//   cc -O2 -march=x86-64-v2 -std=c11 -D_POSIX_C_SOURCE=200809L -I. dev/bench_tokenizer.c build/libenc.a \
//      $(pkg-config --libs libcjson) -lm -o build/bench_tokenizer
//   build/bench_tokenizer TOKENIZER_PATH TEXTS_FILE REPEATS
// Prints one line per repetition: "tokens <n> seconds <s>" (tokens include the special tokens; the
// tokenizer is loaded once, so the BPE cache is warm after the first repetition, as HF's is).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fileio.h"
#include "tokenizer/tokenizer.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s TOKENIZER_PATH TEXTS_FILE REPEATS\n", argv[0]); return 1; }
    char err[512];
    Tokenizer *tok;
    if (tokenizer_load(&tok, argv[1], err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    char *data;
    size_t len;
    if (read_file(argv[2], &data, &len, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    int repeats = atoi(argv[3]);
    TokenizerEncoding enc = {0};
    for (int r = 0; r < repeats; r++) {
        long tokens = 0;
        double t0 = now();
        for (size_t i = 0; i < len;) {
            size_t n = strlen(data + i);
            if (tokenizer_encode(tok, data + i, n, 0, &enc, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
            tokens += enc.n;
            i += n + 1;
        }
        printf("tokens %ld seconds %.6f\n", tokens, now() - t0);
    }
    tokenizer_encoding_free(&enc);
    free(data);
    tokenizer_free(tok);
    return 0;
}
