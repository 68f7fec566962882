// print_logits.c: dev driver for reference checks — load an HF checkpoint directory (model + tokenizer
// files) with our loaders, and for each JSON line {"text": "..."} on stdin print
// {"ids": [...], "logits": [...]} computed by our CPU model in eval mode, one text at a time.
//
// Build (from the repo root, after `make`):
//   cc -O2 -std=c11 -fopenmp -I. $(pkg-config --cflags libcjson) dev/print_logits.c build/libenc.a \
//      $(pkg-config --libs libcjson) -lm -o build/print_logits
// Used by dev/check_minilm.py.
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/checkpoint.h"
#include "tokenizer/tokenizer.h"

int main(int argc, char **argv) {
    const char *dir = NULL;
    int max_length = 128;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--max-length") == 0 && i + 1 < argc) max_length = atoi(argv[++i]);
        else { fprintf(stderr, "usage: %s --model DIR [--max-length N] < texts.jsonl\n", argv[0]); return 2; }
    }
    if (!dir) { fprintf(stderr, "usage: %s --model DIR [--max-length N] < texts.jsonl\n", argv[0]); return 2; }
    char err[1024], notice[1024];
    Model m;
    if (checkpoint_load(&m, dir, 0, NULL, 0, notice, sizeof notice, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (notice[0]) fprintf(stderr, "%s\n", notice);
    Tokenizer *tok;
    if (tokenizer_load(&tok, dir, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    if (model_alloc_activations(&m, 1, max_length, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    TokenizerEncoding enc = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        cJSON *obj = cJSON_Parse(line);
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(obj, "text");
        if (!cJSON_IsString(text)) { fprintf(stderr, "stdin:%d: expected {\"text\": \"...\"}\n", lineno); return 1; }
        if (tokenizer_encode(tok, text->valuestring, strlen(text->valuestring), max_length, &enc, err, sizeof err) != 0 ||
            model_forward(&m, enc.ids, enc.attention_mask, NULL, 1, enc.n, 0, err, sizeof err) != 0) {
            fprintf(stderr, "stdin:%d: %s\n", lineno, err);
            return 1;
        }
        printf("{\"ids\": [");
        for (int i = 0; i < enc.n; i++) printf(i ? ", %d" : "%d", enc.ids[i]);
        printf("], \"logits\": [");
        for (int c = 0; c < m.config.num_labels; c++) printf(c ? ", %.9g" : "%.9g", m.acts.logits[c]);
        printf("]}\n");
        cJSON_Delete(obj);
    }
    free(line);
    tokenizer_encoding_free(&enc);
    tokenizer_free(tok);
    model_free(&m);
    return 0;
}
