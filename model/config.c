// config.c: config.json reader and writer for DistilBERT, BERT and RoBERTa (reference-semantics.md §1).
#include "model/config.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/json_check.h"

// caps on config.json (hostile-inputs.md §0): real ones are a few KB and nest 3-4 levels
#define CONFIG_MAX_FILE_BYTES (1u << 20)
#define CONFIG_MAX_DEPTH 32

// ---- reading helpers: each returns 0, or -1 with a message naming the file and the field

static int get_int(const cJSON *root, const char *key, int def, int min, int max, int *out,
                   const char *path, char *err, size_t errlen) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) { *out = def; return 0; }
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble)) {
        snprintf(err, errlen, "%s: field \"%s\" must be an integer", path, key);
        return -1;
    }
    if (it->valuedouble < min || it->valuedouble > max) {
        snprintf(err, errlen, "%s: field \"%s\" = %.17g is out of range [%d, %d]", path, key,
                 it->valuedouble, min, max);
        return -1;
    }
    *out = (int)it->valuedouble;
    return 0;
}

static int get_float(const cJSON *root, const char *key, float def, float min, float max, float *out,
                     const char *path, char *err, size_t errlen) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) { *out = def; return 0; }
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= min && it->valuedouble <= max)) {
        snprintf(err, errlen, "%s: field \"%s\" must be a number in [%g, %g]", path, key, min, max);
        return -1;
    }
    *out = (float)it->valuedouble;
    return 0;
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

int config_set_labels(ModelConfig *cfg, int num_labels, const char *const *names) {
    if (num_labels < 1 || num_labels > MAX_LABELS) return -1;
    for (int i = 0; names && i < num_labels; i++)  // label2id needs distinct names
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0) return -1;
    char **labels = calloc((size_t)num_labels, sizeof(char *));
    if (!labels) return -1;
    for (int i = 0; i < num_labels; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "LABEL_%d", i);
        labels[i] = dup_string(names ? names[i] : buf);
        if (!labels[i]) {
            for (int j = 0; j < i; j++) free(labels[j]);
            free(labels);
            return -1;
        }
    }
    for (int i = 0; i < cfg->num_labels; i++) free(cfg->id2label[i]);
    free(cfg->id2label);
    cfg->id2label = labels;
    cfg->num_labels = num_labels;
    return 0;
}

// id2label: {"0": "negative", "1": "positive"}; keys must be exactly 0..n-1
static int read_labels(ModelConfig *cfg, const cJSON *root, const char *path, char *err, size_t errlen) {
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    int n_from_field = -1;
    if (get_int(root, "num_labels", -1, 1, MAX_LABELS, &n_from_field, path, err, errlen) != 0) return -1;
    if (!map || cJSON_IsNull(map)) {
        int n = n_from_field > 0 ? n_from_field : 2;  // HF's default: 2 labels LABEL_0, LABEL_1
        if (config_set_labels(cfg, n, NULL) != 0) goto oom;
        return 0;
    }
    if (!cJSON_IsObject(map)) {
        snprintf(err, errlen, "%s: field \"id2label\" must be an object", path);
        return -1;
    }
    int n = cJSON_GetArraySize(map);
    if (n < 1 || n > MAX_LABELS) {
        snprintf(err, errlen, "%s: \"id2label\" has %d entries (need 1..%d)", path, n, MAX_LABELS);
        return -1;
    }
    const char **names = calloc((size_t)n, sizeof(char *));
    if (!names) goto oom;
    for (const cJSON *it = map->child; it; it = it->next) {
        char *end = NULL;
        long id = strtol(it->string, &end, 10);
        if (end == it->string || *end || id < 0 || id >= n || names[id] || !cJSON_IsString(it)) {
            snprintf(err, errlen, "%s: \"id2label\" key \"%s\" must be a distinct integer in 0..%d mapped "
                     "to a string", path, it->string, n - 1);
            free(names);
            return -1;
        }
        names[id] = it->valuestring;
    }
    int rc = config_set_labels(cfg, n, names);
    free(names);
    if (rc != 0) {
        snprintf(err, errlen, "%s: \"id2label\" names must be distinct", path);
        return -1;
    }
    return 0;
oom:
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
}

// config.json names of the fields that differ between DistilBERT and BERT/RoBERTa
typedef struct {
    const char *dim, *layers, *heads, *ffn, *act, *hidden_dropout, *att_dropout;
} FieldNames;
static const FieldNames DISTILBERT_NAMES = {"dim", "n_layers", "n_heads", "hidden_dim", "activation",
                                            "dropout", "attention_dropout"};
static const FieldNames BERT_NAMES = {"hidden_size", "num_hidden_layers", "num_attention_heads",
                                      "intermediate_size", "hidden_act", "hidden_dropout_prob",
                                      "attention_probs_dropout_prob"};

// Keys of one family's schema that the other family's config class does not have. The generic keys
// of every HF config (architectures, id2label, torch_dtype, transformers_version, ...) are in neither
// list, nor are BERT's hidden_size / num_hidden_layers / num_attention_heads, which DistilBertConfig
// accepts through its attribute_map. A config declaring one family with the other's keys (model_type
// bert with dim / n_layers) built the declared family's default size from nothing it said.
static const char *const DISTILBERT_ONLY_KEYS[] = {"dim", "n_layers", "n_heads", "hidden_dim", "activation",
                                                   "seq_classif_dropout", "sinusoidal_pos_embds", "qa_dropout"};
static const char *const BERT_ONLY_KEYS[] = {"intermediate_size", "hidden_act", "hidden_dropout_prob",
                                             "attention_probs_dropout_prob", "type_vocab_size"};

static int check_foreign_keys(const cJSON *root, int distil, const char *model_type, const char *path, char *err,
                              size_t errlen) {
    const char *const *keys = distil ? BERT_ONLY_KEYS : DISTILBERT_ONLY_KEYS;
    size_t n = distil ? sizeof BERT_ONLY_KEYS / sizeof *keys : sizeof DISTILBERT_ONLY_KEYS / sizeof *keys;
    for (size_t i = 0; i < n; i++) {
        if (!cJSON_GetObjectItemCaseSensitive(root, keys[i])) continue;
        snprintf(err, errlen, "%s: key \"%s\" belongs to %s's config, not to model_type \"%s\" (is model_type "
                 "right?)", path, keys[i], distil ? "BERT/RoBERTa" : "DistilBERT", model_type);
        return -1;
    }
    return 0;
}

// The four keys that fix the architecture's shape go together: HF fills every absent key from the
// class defaults (BERT-base: 768 / 12 layers / 12 heads / 3072), which is right for none of them and
// wrong for a config that gives some, so a config giving some but not all is an error naming the
// missing ones as missing (and not, say, as "dim 32 is not divisible by n_heads 12").
static int check_shape_keys(const cJSON *root, const FieldNames *f, const char *path, char *err, size_t errlen) {
    const char *keys[] = {f->dim, f->layers, f->heads, f->ffn};
    int given = 0;
    for (int i = 0; i < 4; i++) given += cJSON_GetObjectItemCaseSensitive(root, keys[i]) != NULL;
    if (given == 0 || given == 4) return 0;
    char missing[160] = "";
    for (int i = 0; i < 4; i++) {
        if (cJSON_GetObjectItemCaseSensitive(root, keys[i])) continue;
        size_t at = strlen(missing);
        snprintf(missing + at, sizeof missing - at, "%s\"%s\"", at ? ", " : "", keys[i]);
    }
    snprintf(err, errlen, "%s: missing required key%s %s (given: the other shape keys; a config gives all four "
             "of %s, %s, %s, %s or none)", path, given == 3 ? "" : "s", missing, keys[0], keys[1], keys[2], keys[3]);
    return -1;
}

// DistilBertConfig accepts BERT's names through its attribute_map when its own are absent
static const char *alias(const cJSON *root, const char *native, const char *other) {
    if (cJSON_GetObjectItemCaseSensitive(root, native) || !cJSON_GetObjectItemCaseSensitive(root, other)) return native;
    return other;
}

// a boolean field that must be false (or absent) for the encoders we implement
static int require_false(const cJSON *root, const char *key, const char *path, char *err, size_t errlen) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (it && !cJSON_IsNull(it) && !cJSON_IsFalse(it)) {
        snprintf(err, errlen, "%s: %s = true is not supported (encoder classifiers only)", path, key);
        return -1;
    }
    return 0;
}

int config_load(ModelConfig *cfg, const char *path, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    // the checked parse (hostile-inputs.md §3.3): size cap, strict UTF-8, no NUL / \u0000, no trailing
    // text; before this, invalid UTF-8 in id2label was accepted and written back into saved configs
    cJSON *root = json_read_file(path, CONFIG_MAX_FILE_BYTES, CONFIG_MAX_DEPTH, err, errlen);
    if (!root) { err_one_line(err, errlen); return -1; }
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "%s: not a JSON object", path);
        cJSON_Delete(root);
        return -1;
    }
    int rc = -1;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsString(mt)) {
        snprintf(err, errlen, "%s: missing string field \"model_type\"", path);
        goto done;
    }
    if (strcmp(mt->valuestring, "distilbert") == 0) cfg->arch = ARCH_DISTILBERT;
    else if (strcmp(mt->valuestring, "bert") == 0) cfg->arch = ARCH_BERT;
    else if (strcmp(mt->valuestring, "roberta") == 0) cfg->arch = ARCH_ROBERTA;
    else {
        snprintf(err, errlen, "%s: model_type \"%.40s\" is not supported (supported: distilbert, bert, roberta)",
                 path, mt->valuestring);
        goto done;
    }
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", mt->valuestring);
    int distil = cfg->arch == ARCH_DISTILBERT;
    FieldNames f = distil ? DISTILBERT_NAMES : BERT_NAMES;
    if (distil) {
        f.dim = alias(root, "dim", "hidden_size");
        f.layers = alias(root, "n_layers", "num_hidden_layers");
        f.heads = alias(root, "n_heads", "num_attention_heads");
    }
    if (check_foreign_keys(root, distil, cfg->model_type, path, err, errlen) != 0) goto done;

    // class defaults (reference-semantics.md §1.1, §1.2) for fields absent from the file
    if (get_int(root, "vocab_size", distil || cfg->arch == ARCH_BERT ? 30522 : 50265, 1, 1 << 24,
                &cfg->vocab_size, path, err, errlen) ||
        get_int(root, f.dim, 768, 1, 1 << 16, &cfg->dim, path, err, errlen) ||
        get_int(root, f.layers, distil ? 6 : 12, 1, 1024, &cfg->n_layers, path, err, errlen) ||
        get_int(root, f.heads, 12, 1, 1024, &cfg->n_heads, path, err, errlen) ||
        get_int(root, f.ffn, 3072, 1, 1 << 18, &cfg->hidden_dim, path, err, errlen) ||
        get_int(root, "max_position_embeddings", 512, 1, 1 << 16, &cfg->max_position_embeddings, path, err, errlen) ||
        get_int(root, "pad_token_id", cfg->arch == ARCH_ROBERTA ? 1 : 0, 0, 1 << 24, &cfg->pad_token_id, path, err, errlen) ||
        get_float(root, f.hidden_dropout, 0.1f, 0, 0.99f, &cfg->dropout, path, err, errlen) ||
        get_float(root, f.att_dropout, 0.1f, 0, 0.99f, &cfg->attention_dropout, path, err, errlen) ||
        get_float(root, "initializer_range", 0.02f, 0, 10, &cfg->initializer_range, path, err, errlen) ||
        check_shape_keys(root, &f, path, err, errlen))
        goto done;
    if (distil) {
        cfg->type_vocab_size = 0;
        cfg->layer_norm_eps = 1e-12f;
        if (get_float(root, "seq_classif_dropout", 0.2f, 0, 0.99f, &cfg->seq_classif_dropout, path, err, errlen))
            goto done;
        const cJSON *sin = cJSON_GetObjectItemCaseSensitive(root, "sinusoidal_pos_embds");
        if (cJSON_IsTrue(sin)) {
            snprintf(err, errlen, "%s: sinusoidal_pos_embds = true is not supported", path);
            goto done;
        }
    } else {
        if (get_int(root, "type_vocab_size", 2, 1, 1 << 16, &cfg->type_vocab_size, path, err, errlen) ||
            get_float(root, "layer_norm_eps", 1e-12f, 0, 1, &cfg->layer_norm_eps, path, err, errlen) ||
            get_float(root, "classifier_dropout", cfg->dropout, 0, 0.99f, &cfg->seq_classif_dropout, path, err, errlen) ||
            require_false(root, "is_decoder", path, err, errlen) ||
            require_false(root, "add_cross_attention", path, err, errlen))
            goto done;
        const cJSON *pet = cJSON_GetObjectItemCaseSensitive(root, "position_embedding_type");
        if (pet && !cJSON_IsNull(pet) && !(cJSON_IsString(pet) && strcmp(pet->valuestring, "absolute") == 0)) {
            snprintf(err, errlen, "%s: position_embedding_type %s is not supported (supported: \"absolute\")",
                     path, cJSON_IsString(pet) ? pet->valuestring : "(not a string)");
            goto done;
        }
        if (cfg->arch == ARCH_ROBERTA && cfg->max_position_embeddings < cfg->pad_token_id + 2) {
            snprintf(err, errlen, "%s: max_position_embeddings %d leaves no positions after padding_idx %d",
                     path, cfg->max_position_embeddings, cfg->pad_token_id);
            goto done;
        }
    }
    if (cfg->dim % cfg->n_heads != 0) {
        snprintf(err, errlen, "%s: %s %d is not divisible by %s %d", path, f.dim, cfg->dim, f.heads, cfg->n_heads);
        goto done;
    }
    if (cfg->pad_token_id >= cfg->vocab_size) {
        snprintf(err, errlen, "%s: pad_token_id %d is outside the vocabulary (%d)", path,
                 cfg->pad_token_id, cfg->vocab_size);
        goto done;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, f.act);
    if (!act || cJSON_IsNull(act) || (cJSON_IsString(act) && strcmp(act->valuestring, "gelu") == 0)) {
        cfg->activation = ACT_GELU;
    } else if (cJSON_IsString(act) && strcmp(act->valuestring, "relu") == 0) {
        cfg->activation = ACT_RELU;
    } else {
        snprintf(err, errlen, "%s: %s %s is not supported (supported: \"gelu\", \"relu\")", path, f.act,
                 cJSON_IsString(act) ? act->valuestring : "(not a string)");
        goto done;
    }
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "problem_type");
    if (pt && !cJSON_IsNull(pt)) {
        if (!cJSON_IsString(pt) || strcmp(pt->valuestring, "single_label_classification") != 0) {
            snprintf(err, errlen, "%s: problem_type %s is not supported (supported: "
                     "\"single_label_classification\")", path, cJSON_IsString(pt) ? pt->valuestring : "?");
            goto done;
        }
        cfg->problem_type = dup_string(pt->valuestring);
    }
    if (read_labels(cfg, root, path, err, errlen) != 0) goto done;
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc != 0) {
        config_free(cfg);
        err_one_line(err, errlen);  // field values quoted in messages may hold newlines
    }
    return rc;
}

int config_save(const ModelConfig *cfg, const char *path, char *err, size_t errlen) {
    static const char *ARCHITECTURES[] = {"DistilBertForSequenceClassification",
                                          "BertForSequenceClassification", "RobertaForSequenceClassification"};
    int distil = cfg->arch == ARCH_DISTILBERT;
    const FieldNames *f = distil ? &DISTILBERT_NAMES : &BERT_NAMES;
    cJSON *root = cJSON_CreateObject();
    cJSON *arch = cJSON_CreateArray();
    cJSON *id2label = cJSON_CreateObject();
    cJSON *label2id = cJSON_CreateObject();
    int ok = root && arch && id2label && label2id;
    if (ok) {
        cJSON_AddItemToArray(arch, cJSON_CreateString(ARCHITECTURES[cfg->arch]));
        cJSON_AddItemToObject(root, "architectures", arch);
        cJSON_AddStringToObject(root, "model_type", cfg->model_type);
        cJSON_AddStringToObject(root, f->act, cfg->activation == ACT_GELU ? "gelu" : "relu");
        cJSON_AddNumberToObject(root, f->att_dropout, cfg->attention_dropout);
        cJSON_AddNumberToObject(root, f->dim, cfg->dim);
        cJSON_AddNumberToObject(root, f->hidden_dropout, cfg->dropout);
        cJSON_AddNumberToObject(root, f->ffn, cfg->hidden_dim);
        cJSON_AddNumberToObject(root, "initializer_range", cfg->initializer_range);
        cJSON_AddNumberToObject(root, "max_position_embeddings", cfg->max_position_embeddings);
        cJSON_AddNumberToObject(root, f->heads, cfg->n_heads);
        cJSON_AddNumberToObject(root, f->layers, cfg->n_layers);
        cJSON_AddNumberToObject(root, "pad_token_id", cfg->pad_token_id);
        cJSON_AddNumberToObject(root, "vocab_size", cfg->vocab_size);
        if (distil) {
            cJSON_AddNumberToObject(root, "qa_dropout", 0.1);
            cJSON_AddNumberToObject(root, "seq_classif_dropout", cfg->seq_classif_dropout);
            cJSON_AddBoolToObject(root, "sinusoidal_pos_embds", 0);
        } else {
            cJSON_AddNumberToObject(root, "classifier_dropout", cfg->seq_classif_dropout);
            cJSON_AddNumberToObject(root, "layer_norm_eps", cfg->layer_norm_eps);
            cJSON_AddStringToObject(root, "position_embedding_type", "absolute");
            cJSON_AddNumberToObject(root, "type_vocab_size", cfg->type_vocab_size);
            if (cfg->arch == ARCH_ROBERTA) {
                cJSON_AddNumberToObject(root, "bos_token_id", 0);
                cJSON_AddNumberToObject(root, "eos_token_id", 2);
            }
        }
        cJSON_AddStringToObject(root, "problem_type", "single_label_classification");
        cJSON_AddStringToObject(root, "torch_dtype", "float32");
        for (int i = 0; i < cfg->num_labels; i++) {
            char key[16];
            snprintf(key, sizeof key, "%d", i);
            cJSON_AddStringToObject(id2label, key, cfg->id2label[i]);
            cJSON_AddNumberToObject(label2id, cfg->id2label[i], i);
        }
        cJSON_AddItemToObject(root, "id2label", id2label);
        cJSON_AddItemToObject(root, "label2id", label2id);
    } else {
        cJSON_Delete(arch);
        cJSON_Delete(id2label);
        cJSON_Delete(label2id);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        snprintf(err, errlen, "%s: out of memory building the config", path);
        return -1;
    }
    size_t n = strlen(text);
    text[n] = '\n';  // cJSON_Print's buffer ends in NUL; write a final newline instead
    int rc = write_file_atomic(path, text, n + 1, err, errlen);
    free(text);
    return rc;
}

void config_free(ModelConfig *cfg) {
    for (int i = 0; i < cfg->num_labels; i++) free(cfg->id2label[i]);
    free(cfg->id2label);
    free(cfg->problem_type);
    cfg->id2label = NULL;
    cfg->problem_type = NULL;
    cfg->num_labels = 0;
}
