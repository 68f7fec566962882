// config.h: the model configuration, read from (and written to) a Hugging Face config.json.
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#define MAX_LABELS 1024

typedef enum { ACT_GELU, ACT_RELU } Activation;

// The three architectures share one encoder (post-LN blocks) and differ in details
// (reference-semantics.md §3): BERT adds token-type embeddings, dropout on the attention output and
// a pooler (dense + tanh) head; RoBERTa has BERT's encoder, positions counted from padding_idx + 1,
// and a dropout → dense → tanh → dropout head; DistilBERT has no token types and a dense → ReLU head.
typedef enum { ARCH_DISTILBERT, ARCH_BERT, ARCH_ROBERTA } ModelArch;

// Field names are DistilBERT's; the comments give the BERT / RoBERTa config.json names.
typedef struct {
    char model_type[32];           // "distilbert", "bert" or "roberta"
    ModelArch arch;
    int vocab_size;                // V
    int dim;                       // C (hidden_size)
    int n_layers;                  // L (num_hidden_layers)
    int n_heads;                   // NH (num_attention_heads); dim % n_heads == 0
    int hidden_dim;                // FFN inner size (intermediate_size)
    int max_position_embeddings;   // P
    int type_vocab_size;           // token-type rows (BERT 2, RoBERTa 1, DistilBERT 0 = none)
    int pad_token_id;              // padding_idx of the word embedding (RoBERTa: also of positions)
    Activation activation;         // FFN activation (hidden_act): "gelu" = exact erf form, or "relu"
    float dropout;                 // embeddings and sublayer outputs (hidden_dropout_prob)
    float attention_dropout;       // attention probabilities (attention_probs_dropout_prob)
    float seq_classif_dropout;     // classification head (classifier_dropout, else hidden_dropout_prob)
    float initializer_range;       // std of the normal init of new weights
    float layer_norm_eps;          // DistilBERT 1e-12 (hard-coded by HF); BERT/RoBERTa layer_norm_eps
    int num_labels;                // NL
    char **id2label;               // num_labels names ("LABEL_0", ... when absent)
    char *problem_type;            // NULL or e.g. "single_label_classification"
} ModelConfig;

// Parse config.json (model_type distilbert, bert or roberta). Unknown model_type, missing or wrongly typed fields, and values out of range
// are errors naming the file and the field. Fields absent from the file take HF's class defaults.
int config_load(ModelConfig *cfg, const char *path, char *err, size_t errlen);
// Write config.json (atomically) so that transformers' from_pretrained rebuilds the same classifier.
int config_save(const ModelConfig *cfg, const char *path, char *err, size_t errlen);
// Set num_labels and label names (copies the strings); names NULL gives LABEL_0, LABEL_1, ...
int config_set_labels(ModelConfig *cfg, int num_labels, const char *const *names);
void config_free(ModelConfig *cfg);

#endif
