// resume.h: the state ./train needs to continue an interrupted run bit for bit (doc/reliability.md,
// "Resume"). OUTPUT/resume/ holds
//   config.json, model.safetensors   the parameters (checkpoint_save: float32, exact)
//   optimizer.safetensors            AdamW moments "m.<name>", "v.<name>" + metadata adamw_step
//   trainer_state.json               where the run stands (below), the run's arguments, and the size
//                                    and FNV-1a 64 of each of the three files above
// and is replaced as a whole (dir_replace_commit: a temporary sibling, then one atomic swap).
// Random state needs no file: the batch order of epoch e is batch_plan_make(seed + e) and the dropout
// masks derive from (seed, forward_count, site), so (seed, epoch, step_in_epoch, forward_count) is
// the whole RNG state. Doubles are written with 17 significant digits, so they read back exactly.
#ifndef RUN_RESUME_H
#define RUN_RESUME_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "data/history.h"
#include "model/model.h"

#define RESUME_FORMAT "enc-train-resume"
#define RESUME_VERSION 1
#define RESUME_STATE_MAX_BYTES (256u << 20)

typedef struct {
    int epoch;                // the epoch in progress, 1-based (epochs + 1 once every epoch is done)
    long step_in_epoch;       // optimizer steps done in it
    long step;                // optimizer steps done in all (= adamw_step = forward_count)
    long total_steps;         // the schedule's length
    uint64_t seed;
    uint64_t forward_count;   // training forwards so far (dropout seeds derive from it)
    int adamw_step;
    double epoch_loss_sum;    // sum of the training losses of the epoch's steps so far
    double epoch_examples;    // examples of the epoch's steps so far
    double epoch_seconds;     // training time of the epoch so far (for examples_per_s only)
    int best_epoch;           // 0: no best checkpoint yet
    double best_val_loss;     // valid when best_epoch > 0
    EpochRecord *history;     // the completed epochs (epoch - 1 of them)
    int n_history;
    float *step_losses;       // (step) training loss of every step so far
    cJSON *args;              // the run's arguments (an object; train.c decides the keys)
} ResumeState;

// Write `dir` (normally OUTPUT/resume) atomically from the model and s (s->args is copied, not taken).
int resume_state_save(const Model *m, const ResumeState *s, const char *dir, char *err, size_t errlen);
// Read and check dir/trainer_state.json and the checksums of the other files (nothing else is
// loaded). Every field is range-checked (step = adamw_step = forward_count, step_in_epoch <= step,
// n_history = epoch - 1, best_epoch <= n_history, finite losses, ...). The caller owns *s.
int resume_state_read(ResumeState *s, const char *dir, char *err, size_t errlen);
// The model from dir/config.json + model.safetensors (checkpoint_load: shapes and finiteness checked),
// its AdamW moments, adamw_step, forward_count and dropout_seed from s.
int resume_state_load_model(Model *m, const ResumeState *s, const char *dir, char *err, size_t errlen);
void resume_state_free(ResumeState *s);

// cJSON helpers for exact numbers: a double written with %.17g (a JSON number that strtod reads back
// bit for bit; cJSON's own printer may round to 15 digits), and read back from a number.
int json_add_exact(cJSON *obj, const char *key, double x);

#endif
