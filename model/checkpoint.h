// checkpoint.h: Hugging Face checkpoint directories in and out (config.json + model.safetensors,
// or a sharded model.safetensors.index.json), reference-semantics.md §2.5 and §7.
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

// config.json + weights of `dir` into a new model (model_init is called here). Tensor names are
// accepted as the canonical HF name or without its "distilbert." prefix; legacy LayerNorm
// gamma/beta names are renamed; MLM-head and buffer tensors (vocab_*, position_ids) are ignored.
// Missing head tensors (pre_classifier, classifier: a base checkpoint) are initialised as HF does,
// normal(0, initializer_range) weights and zero biases, from head_seed, and a one-line notice is
// written into `notice` ("" when nothing was initialised). Missing encoder tensors, shape or dtype
// mismatches and non-finite values are errors naming the file and the tensor.
// If num_labels > 0 it replaces the config's labels (names may be NULL: LABEL_i) before loading.
int checkpoint_load(Model *m, const char *dir, int num_labels, const char *const *label_names,
                    uint64_t head_seed, char *notice, size_t noticelen, char *err, size_t errlen);

// Write `dir`/config.json and `dir`/model.safetensors (float32, HF names, {"format":"pt"}) so that
// DistilBertForSequenceClassification.from_pretrained(dir) loads it unchanged. The directory is
// created if needed; each file is written atomically (temporary + rename).
int checkpoint_save(const Model *m, const char *dir, char *err, size_t errlen);

#endif
