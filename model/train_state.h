// train_state.h: what training needs from a model beyond model.h — finding the tensor that holds a
// non-finite value (numerical faults), and the AdamW moments in and out of a safetensors file
// (resume). Kept apart from model.c and optimizer.c so the model's hot paths stay untouched.
#ifndef MODEL_TRAIN_STATE_H
#define MODEL_TRAIN_STATE_H

#include <stddef.h>

#include "model/model.h"

// How many tensors of the parameter table hold a NaN or an Inf in `buf` (params_memory,
// grads_memory, m_memory or v_memory; laid out like the parameters); *first (if non-NULL) is set to
// the first such tensor in table order, or NULL when every value is finite.
int model_count_nonfinite(const Model *m, const real *buf, const ParamEntry **first);

// optimizer.safetensors: "m.<name>" and "v.<name>" (float32, the parameter's shape) for every table
// entry, plus metadata "adamw_step". Zero moments are written if no AdamW step has been taken.
// Atomic (temporary + rename).
int optimizer_state_save(const Model *m, const char *path, char *err, size_t errlen);
// Read the moments back into m (allocating m_memory / v_memory) and set m->adamw_step. Every tensor
// must be present with the parameter's shape, finite, v >= 0, and nothing else may be in the file;
// adamw_step must equal `expect_step`. Errors name the file and the tensor.
int optimizer_state_load(Model *m, const char *path, int expect_step, char *err, size_t errlen);

#endif
