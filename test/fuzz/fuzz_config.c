// fuzz_config.c: config.json (model configuration) through config_load on a file. A config that loads
// is written back with config_save and must load again to the same values: the reader and writer agree.
#include "test/fuzz/fuzz_common.h"

#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[300], path2[300], err[512];
    fuzz_path("config.json", path, sizeof path);
    fuzz_path("saved.json", path2, sizeof path2);
    fuzz_write_file(path, data, size);
    ModelConfig c, c2;
    if (config_load(&c, path, err, sizeof err) != 0) {
        FUZZ_CHECK_ERR(err);
        return 0;
    }
    FUZZ_CHECK(c.dim >= 1 && c.n_heads >= 1 && c.dim % c.n_heads == 0, "dim %d heads %d", c.dim, c.n_heads);
    FUZZ_CHECK(c.num_labels >= 1 && c.num_labels <= MAX_LABELS && c.id2label, "num_labels %d", c.num_labels);
    for (int i = 0; i < c.num_labels; i++) FUZZ_CHECK(c.id2label[i] != NULL, "id2label[%d]", i);
    FUZZ_CHECK(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size, "pad %d V %d", c.pad_token_id, c.vocab_size);
    if (config_save(&c, path2, err, sizeof err) != 0) {
        FUZZ_CHECK_ERR(err);
    } else {
        FUZZ_CHECK(config_load(&c2, path2, err, sizeof err) == 0, "saved config does not load: %s", err);
        FUZZ_CHECK(c2.arch == c.arch && c2.dim == c.dim && c2.n_layers == c.n_layers && c2.n_heads == c.n_heads &&
                   c2.hidden_dim == c.hidden_dim && c2.vocab_size == c.vocab_size &&
                   c2.max_position_embeddings == c.max_position_embeddings && c2.num_labels == c.num_labels &&
                   c2.pad_token_id == c.pad_token_id && c2.activation == c.activation &&
                   c2.layer_norm_eps == c.layer_norm_eps,
                   "config changed on a save/load round trip");
        for (int i = 0; i < c.num_labels; i++)
            FUZZ_CHECK(strcmp(c.id2label[i], c2.id2label[i]) == 0, "label %d '%s' -> '%s'", i, c.id2label[i], c2.id2label[i]);
        config_free(&c2);
    }
    config_free(&c);
    return 0;
}
