// config.h: the model configuration, read from (and written to) a Hugging Face config.json.
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#define MAX_LABELS 1024

typedef enum { ACT_GELU, ACT_RELU } Activation;

typedef struct {
    char model_type[32];           // "distilbert"
    int vocab_size;                // V
    int dim;                       // C (DistilBERT `dim`)
    int n_layers;                  // L
    int n_heads;                   // NH (dim % n_heads == 0)
    int hidden_dim;                // FFN inner size (4C for distilbert-base)
    int max_position_embeddings;   // P
    int pad_token_id;              // padding_idx of the word embedding
    Activation activation;         // FFN activation ("gelu" = exact erf form, or "relu")
    float dropout;                 // embeddings and FFN output
    float attention_dropout;       // attention probabilities
    float seq_classif_dropout;     // classification head
    float initializer_range;       // std of the normal init of new weights
    float layer_norm_eps;          // 1e-12 for DistilBERT (hard-coded by HF)
    int num_labels;                // NL
    char **id2label;               // num_labels names ("LABEL_0", ... when absent)
    char *problem_type;            // NULL or e.g. "single_label_classification"
} ModelConfig;

// Parse config.json. Unknown model_type, missing or wrongly typed fields, and values out of range
// are errors naming the file and the field. Fields absent from the file take HF's class defaults.
int config_load(ModelConfig *cfg, const char *path, char *err, size_t errlen);
// Write config.json (atomically) so that transformers' from_pretrained rebuilds the same classifier.
int config_save(const ModelConfig *cfg, const char *path, char *err, size_t errlen);
// Set num_labels and label names (copies the strings); names NULL gives LABEL_0, LABEL_1, ...
int config_set_labels(ModelConfig *cfg, int num_labels, const char *const *names);
void config_free(ModelConfig *cfg);

#endif
