// test_inference.c: the inference forward (model/inference.h) gives exactly model_forward's eval-mode
// logits, probabilities and losses — bit for bit — on the three architectures, with padding, on
// shapes that exercise the GEMM's edges, and across batch shapes that reuse its buffers.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/checkpoint.h"
#include "model/inference.h"
#include "test/run_suite.h"

static char err[1024];

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static int rand_below(int n) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (int)(rng_state % (uint64_t)n);
}

// A batch of random token ids; row b has lens[b] real tokens then padding (pad id of the config).
static void random_batch(const ModelConfig *c, int B, int T, const int *lens, int *ids, int *mask, int *labels) {
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            int real_token = t < lens[b];
            int id = 2 + rand_below(c->vocab_size - 2);
            if (id == c->pad_token_id) id = c->pad_token_id + 1 < c->vocab_size ? c->pad_token_id + 1 : 2;
            ids[b * T + t] = real_token ? id : c->pad_token_id;
            mask[b * T + t] = real_token;
        }
        labels[b] = rand_below(c->num_labels);
    }
}

// model_forward (eval) and inference_forward on the same batch: identical outputs
static void expect_same(Model *m, Inference *inf, int B, int T, const int *lens) {
    int *ids = malloc(sizeof(int) * B * T), *mask = malloc(sizeof(int) * B * T), *labels = malloc(sizeof(int) * B);
    ck_assert(ids && mask && labels);
    random_batch(&m->config, B, T, lens, ids, mask, labels);
    int NL = m->config.num_labels;
    ck_assert_msg(model_forward(m, ids, mask, labels, B, T, 0, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(inference_forward(inf, m, ids, mask, labels, B, T, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < B * NL; i++) {
        ck_assert_msg(inf->logits[i] == m->acts.logits[i], "B=%d T=%d logit %d: inference %.9g, model_forward %.9g",
                      B, T, i, (double)inf->logits[i], (double)m->acts.logits[i]);
        ck_assert(inf->probs[i] == m->acts.probs[i]);
    }
    for (int b = 0; b < B; b++) ck_assert(inf->losses[b] == m->acts.losses[b]);
    ck_assert(inf->mean_loss == m->mean_loss);
    // without labels: the same logits, no loss
    ck_assert_msg(inference_forward(inf, m, ids, mask, NULL, B, T, err, sizeof err) == 0, "%s", err);
    ck_assert(memcmp(inf->logits, m->acts.logits, sizeof(real) * B * NL) == 0);
    ck_assert(inf->mean_loss == -1);
    free(ids); free(mask); free(labels);
}

static void check_fixture(const char *dir) {
    Model m;
    Inference inf;
    char notice[512];
    ck_assert_msg(checkpoint_load(&m, dir, 0, NULL, 1, notice, sizeof notice, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(model_alloc_activations(&m, 4, 16, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(inference_init(&inf, &m, 4, 16, err, sizeof err) == 0, "%s", err);
    int lens_a[] = {16, 3, 9, 1};
    expect_same(&m, &inf, 4, 16, lens_a);
    int lens_b[] = {5, 2};       // a smaller batch in the same buffers
    expect_same(&m, &inf, 2, 5, lens_b);
    int lens_c[] = {1};          // one token
    expect_same(&m, &inf, 1, 1, lens_c);
    int lens_d[] = {7, 7, 7};
    expect_same(&m, &inf, 3, 7, lens_d);
    // bad input: the same checks as model_forward
    int ids[2] = {1, 1}, mask[2] = {1, 1};
    ck_assert_int_eq(inference_forward(&inf, &m, ids, mask, NULL, 5, 1, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "exceeds the allocated 4 x 16"));
    ids[1] = m.config.vocab_size;
    ck_assert_int_eq(inference_forward(&inf, &m, ids, mask, NULL, 1, 2, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "outside the vocabulary"));
    inference_free(&inf);
    model_free(&m);
}

START_TEST(test_distilbert) { check_fixture("test/fixtures/distilbert-tiny"); }
END_TEST
START_TEST(test_bert) { check_fixture("test/fixtures/bert-tiny"); }
END_TEST
START_TEST(test_roberta) { check_fixture("test/fixtures/roberta-tiny"); }
END_TEST

// A random model with widths that are not multiples of the GEMM tile (32) and depths above its K
// block (384): partial slivers, two K blocks, and both thread splits (few rows: columns; many: rows).
START_TEST(test_wide_random_model) {
    const char *json = "{\"model_type\": \"bert\", \"vocab_size\": 300, \"hidden_size\": 416, \"num_hidden_layers\": 3, "
                       "\"num_attention_heads\": 13, \"intermediate_size\": 808, \"max_position_embeddings\": 80, "
                       "\"type_vocab_size\": 2, \"num_labels\": 3}";
    char path[] = "/tmp/test_inference_configXXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0 && write(fd, json, strlen(json)) == (ssize_t)strlen(json));
    close(fd);
    ModelConfig cfg;
    int rc = config_load(&cfg, path, err, sizeof err);
    unlink(path);
    ck_assert_msg(rc == 0, "%s", err);
    Model m;
    Inference inf;
    ck_assert_msg(model_init(&m, &cfg, err, sizeof err) == 0, "%s", err);
    model_init_weights(&m, 7, 0);
    for (size_t i = 0; i < m.num_parameters; i += 7) m.params_memory[i] += (real)0.01;  // non-zero biases too
    ck_assert_msg(model_alloc_activations(&m, 5, 64, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(inference_init(&inf, &m, 5, 64, err, sizeof err) == 0, "%s", err);
    int lens_a[] = {64, 50, 64, 13, 33};   // 320 rows: rows split over threads
    expect_same(&m, &inf, 5, 64, lens_a);
    int lens_b[] = {21, 9};                // 42 rows: columns split
    expect_same(&m, &inf, 2, 21, lens_b);
    inference_free(&inf);
    model_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("inference");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_distilbert);
    tcase_add_test(tc, test_bert);
    tcase_add_test(tc, test_roberta);
    tcase_add_test(tc, test_wide_random_model);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? 0 : 1;
}
