// resume.c: OUTPUT/resume/ in and out (resume.h).
#include "run/resume.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/json_check.h"
#include "run/output_dir.h"
#include "run/pipeline.h"
#include "model/checkpoint.h"
#include "model/train_state.h"

static const char *const STATE_FILES[] = {"config.json", "model.safetensors", "optimizer.safetensors"};
#define N_STATE_FILES 3

int json_add_exact(cJSON *obj, const char *key, double x) {
    char buf[40];
    if (!isfinite(x)) return cJSON_AddNullToObject(obj, key) != NULL;
    snprintf(buf, sizeof buf, "%.17g", x);
    return cJSON_AddRawToObject(obj, key, buf) != NULL;
}

static char *state_json(const ResumeState *s, const char *dir, char *err, size_t errlen) {
    cJSON *o = cJSON_CreateObject(), *h = NULL, *files = NULL, *losses = NULL, *args = NULL;
    char u64[32];
    int ok = o != NULL;
    ok = ok && cJSON_AddStringToObject(o, "format", RESUME_FORMAT) && cJSON_AddNumberToObject(o, "version", RESUME_VERSION);
    ok = ok && cJSON_AddNumberToObject(o, "epoch", s->epoch) &&
         cJSON_AddNumberToObject(o, "step_in_epoch", (double)s->step_in_epoch) &&
         cJSON_AddNumberToObject(o, "step", (double)s->step) && cJSON_AddNumberToObject(o, "total_steps", (double)s->total_steps) &&
         cJSON_AddNumberToObject(o, "adamw_step", s->adamw_step);
    snprintf(u64, sizeof u64, "%" PRIu64, s->forward_count);
    ok = ok && cJSON_AddStringToObject(o, "forward_count", u64);
    snprintf(u64, sizeof u64, "%" PRIu64, s->seed);
    ok = ok && cJSON_AddStringToObject(o, "seed", u64);
    ok = ok && json_add_exact(o, "epoch_loss_sum", s->epoch_loss_sum) && json_add_exact(o, "epoch_examples", s->epoch_examples) &&
         json_add_exact(o, "epoch_seconds", s->epoch_seconds) && cJSON_AddNumberToObject(o, "best_epoch", s->best_epoch) &&
         json_add_exact(o, "best_val_loss", s->best_epoch > 0 ? s->best_val_loss : NAN);
    ok = ok && (h = cJSON_AddArrayToObject(o, "history")) != NULL;
    for (int i = 0; ok && i < s->n_history; i++) {
        const EpochRecord *r = &s->history[i];
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(h, e)) { cJSON_Delete(e); ok = 0; break; }
        ok = cJSON_AddNumberToObject(e, "epoch", r->epoch) && cJSON_AddNumberToObject(e, "step", (double)r->step) &&
             json_add_exact(e, "train_loss", r->train_loss) && json_add_exact(e, "val_loss", r->val_loss) &&
             json_add_exact(e, "val_accuracy", r->val_accuracy) && json_add_exact(e, "lr", r->lr) &&
             json_add_exact(e, "examples_per_s", r->examples_per_s);
    }
    // a float's 15-digit print reads back as the same float
    ok = ok && (losses = cJSON_AddArrayToObject(o, "step_losses")) != NULL;
    for (long i = 0; ok && i < s->step; i++) ok = cJSON_AddItemToArray(losses, cJSON_CreateNumber(s->step_losses[i]));
    ok = ok && (args = cJSON_Duplicate(s->args, 1)) != NULL && cJSON_AddItemToObject(o, "args", args);
    if (!ok && args && !cJSON_GetObjectItemCaseSensitive(o, "args")) cJSON_Delete(args);
    ok = ok && (files = cJSON_AddObjectToObject(o, "files")) != NULL;
    for (int i = 0; ok && i < N_STATE_FILES; i++) {
        char *p = path_join(dir, STATE_FILES[i]);
        size_t size;
        uint64_t hash;
        if (!p) { ok = 0; break; }
        int rc = file_fingerprint(p, &size, &hash, err, errlen);
        free(p);
        if (rc != 0) { cJSON_Delete(o); return NULL; }
        cJSON *f = cJSON_AddObjectToObject(files, STATE_FILES[i]);
        char hex[20];
        snprintf(hex, sizeof hex, "%016" PRIx64, hash);
        ok = f && cJSON_AddNumberToObject(f, "size", (double)size) && cJSON_AddStringToObject(f, "fnv1a64", hex);
    }
    char *text = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text) snprintf(err, errlen, "%s: out of memory", dir);
    return text;
}

int resume_state_save(const Model *m, const ResumeState *s, const char *dir, char *err, size_t errlen) {
    char *tmp = dir_replace_begin(dir, err, errlen);
    if (!tmp) return -1;
    char *opt = path_join(tmp, "optimizer.safetensors"), *state = path_join(tmp, "trainer_state.json"), *text = NULL;
    int rc = -1;
    if (!opt || !state) snprintf(err, errlen, "%s: out of memory", dir);
    else if (checkpoint_save(m, tmp, err, errlen) == 0 && optimizer_state_save(m, opt, err, errlen) == 0 &&
             (text = state_json(s, tmp, err, errlen)) != NULL &&
             write_file_atomic(state, text, strlen(text), err, errlen) == 0)
        rc = 0;
    if (rc == 0) rc = dir_replace_commit(tmp, dir, err, errlen);
    else {
        char ignored[256];
        remove_flat_dir(tmp, ignored, sizeof ignored);
    }
    cJSON_free(text);
    free(opt);
    free(state);
    free(tmp);
    return rc;
}

// ---------------------------------------------------------------------------------------------------
// reading: every value checked (shared/doc/hostile-inputs.md §6.3)

static cJSON *member(cJSON *obj, const char *key, const char *path, char *err, size_t errlen) {
    cJSON *found = NULL, *item;
    cJSON_ArrayForEach(item, obj) {
        if (item->string && strcmp(item->string, key) == 0) {
            if (found) { snprintf(err, errlen, "%s: key '%s' appears twice", path, key); return NULL; }
            found = item;
        }
    }
    if (!found) snprintf(err, errlen, "%s: missing key '%s'", path, key);
    return found;
}

// an integer in [lo, hi] (JSON number, integral, |x| < 2^53)
static int get_int(cJSON *obj, const char *key, double lo, double hi, double *out, const char *path, char *err,
                   size_t errlen) {
    cJSON *v = member(obj, key, path, err, errlen);
    if (!v) return -1;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= lo && d <= hi && d == floor(d))) {
        snprintf(err, errlen, "%s: '%s' must be an integer in [%.0f, %.0f]", path, key, lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

// a finite number (null allowed when allow_null: *out = NAN)
static int get_num(cJSON *obj, const char *key, int allow_null, double *out, const char *path, char *err, size_t errlen) {
    cJSON *v = member(obj, key, path, err, errlen);
    if (!v) return -1;
    if (allow_null && cJSON_IsNull(v)) { *out = NAN; return 0; }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        snprintf(err, errlen, "%s: '%s' must be a finite number", path, key);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static int get_u64(cJSON *obj, const char *key, uint64_t *out, const char *path, char *err, size_t errlen) {
    cJSON *v = member(obj, key, path, err, errlen);
    if (!v) return -1;
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
    char *end = NULL;
    errno = 0;
    unsigned long long x = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
    if (!s || errno || !end || *end || end == s) {
        snprintf(err, errlen, "%s: '%s' must be a decimal string (64-bit unsigned)", path, key);
        return -1;
    }
    *out = x;
    return 0;
}

#define MAX_STEPS_ALLOWED 4503599627370496.0  // 2^52

int resume_state_read(ResumeState *s, const char *dir, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    char *path = path_join(dir, "trainer_state.json");
    if (!path) { snprintf(err, errlen, "%s: out of memory", dir); return -1; }
    cJSON *o = json_read_file(path, RESUME_STATE_MAX_BYTES, 8, err, errlen), *v;
    double d;
    if (!o) goto fail;
    if (!cJSON_IsObject(o)) { snprintf(err, errlen, "%s: expected a JSON object", path); goto fail; }
    if (!(v = member(o, "format", path, err, errlen))) goto fail;
    if (!cJSON_IsString(v) || strcmp(v->valuestring, RESUME_FORMAT) != 0) {
        snprintf(err, errlen, "%s: 'format' is not \"%s\" (not a resume state of ./train)", path, RESUME_FORMAT);
        goto fail;
    }
    if (get_int(o, "version", 0, 1e9, &d, path, err, errlen)) goto fail;
    if (d != RESUME_VERSION) {
        snprintf(err, errlen, "%s: version %.0f, this ./train reads version %d", path, d, RESUME_VERSION);
        goto fail;
    }
    if (get_int(o, "total_steps", 1, MAX_STEPS_ALLOWED, &d, path, err, errlen)) goto fail;
    s->total_steps = (long)d;
    if (get_int(o, "step", 0, MAX_STEPS_ALLOWED, &d, path, err, errlen)) goto fail;
    s->step = (long)d;
    if (s->step > s->total_steps) {
        snprintf(err, errlen, "%s: step %ld > total_steps %ld", path, s->step, s->total_steps);
        goto fail;
    }
    if (get_int(o, "epoch", 1, 1e9, &d, path, err, errlen)) goto fail;
    s->epoch = (int)d;
    if (get_int(o, "step_in_epoch", 0, (double)s->step, &d, path, err, errlen)) goto fail;
    s->step_in_epoch = (long)d;
    if (get_int(o, "adamw_step", 0, 2147483647.0, &d, path, err, errlen)) goto fail;
    s->adamw_step = (int)d;
    if (get_u64(o, "forward_count", &s->forward_count, path, err, errlen) || get_u64(o, "seed", &s->seed, path, err, errlen))
        goto fail;
    if ((long)s->adamw_step != s->step || s->forward_count != (uint64_t)s->step) {
        snprintf(err, errlen, "%s: adamw_step %d and forward_count %" PRIu64 " must both equal step %ld", path,
                 s->adamw_step, s->forward_count, s->step);
        goto fail;
    }
    if (get_num(o, "epoch_loss_sum", 0, &s->epoch_loss_sum, path, err, errlen) ||
        get_num(o, "epoch_examples", 0, &s->epoch_examples, path, err, errlen) ||
        get_num(o, "epoch_seconds", 0, &s->epoch_seconds, path, err, errlen))
        goto fail;
    if (s->epoch_examples < 0 || s->epoch_seconds < 0 || s->epoch_loss_sum < 0) {
        snprintf(err, errlen, "%s: negative epoch_loss_sum, epoch_examples or epoch_seconds", path);
        goto fail;
    }
    // history: the completed epochs
    if (!(v = member(o, "history", path, err, errlen))) goto fail;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != s->epoch - 1) {
        snprintf(err, errlen, "%s: 'history' must list the %d completed epochs", path, s->epoch - 1);
        goto fail;
    }
    s->n_history = s->epoch - 1;
    s->history = calloc((size_t)(s->n_history ? s->n_history : 1), sizeof *s->history);
    if (!s->history) { snprintf(err, errlen, "%s: out of memory", path); goto fail; }
    cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, v) {
        EpochRecord *r = &s->history[i];
        if (!cJSON_IsObject(e) || get_int(e, "epoch", i + 1, i + 1, &d, path, err, errlen)) {
            if (!cJSON_IsObject(e)) snprintf(err, errlen, "%s: history[%d] must be an object", path, i);
            goto fail;
        }
        r->epoch = i + 1;
        if (get_int(e, "step", 0, (double)s->step, &d, path, err, errlen)) goto fail;
        r->step = (long)d;
        if (get_num(e, "train_loss", 0, &r->train_loss, path, err, errlen) ||
            get_num(e, "val_loss", 0, &r->val_loss, path, err, errlen) ||
            get_num(e, "val_accuracy", 0, &r->val_accuracy, path, err, errlen) || get_num(e, "lr", 0, &r->lr, path, err, errlen) ||
            get_num(e, "examples_per_s", 0, &r->examples_per_s, path, err, errlen))
            goto fail;
        i++;
    }
    if (get_int(o, "best_epoch", 0, s->n_history, &d, path, err, errlen)) goto fail;
    s->best_epoch = (int)d;
    if (get_num(o, "best_val_loss", s->best_epoch == 0, &s->best_val_loss, path, err, errlen)) goto fail;
    if (s->best_epoch == 0) s->best_val_loss = INFINITY;
    else if (s->best_val_loss != s->history[s->best_epoch - 1].val_loss) {
        snprintf(err, errlen, "%s: best_val_loss is not the validation loss of best_epoch %d", path, s->best_epoch);
        goto fail;
    }
    if (!(v = member(o, "step_losses", path, err, errlen))) goto fail;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != s->step) {
        snprintf(err, errlen, "%s: 'step_losses' must hold %ld numbers (one per step)", path, s->step);
        goto fail;
    }
    s->step_losses = malloc(sizeof(float) * (size_t)(s->step ? s->step : 1));
    if (!s->step_losses) { snprintf(err, errlen, "%s: out of memory", path); goto fail; }
    i = 0;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            snprintf(err, errlen, "%s: step_losses[%d] must be a finite number", path, i);
            goto fail;
        }
        s->step_losses[i++] = (float)e->valuedouble;
    }
    if (!(v = member(o, "args", path, err, errlen))) goto fail;
    if (!cJSON_IsObject(v)) { snprintf(err, errlen, "%s: 'args' must be an object", path); goto fail; }
    s->args = cJSON_DetachItemViaPointer(o, v);
    // the files, as they were written
    cJSON *files = member(o, "files", path, err, errlen);
    if (!files) goto fail;
    for (int k = 0; k < N_STATE_FILES; k++) {
        cJSON *f = member(files, STATE_FILES[k], path, err, errlen), *hash;
        if (!f || get_int(f, "size", 0, 9007199254740991.0, &d, path, err, errlen) ||
            !(hash = member(f, "fnv1a64", path, err, errlen)))
            goto fail;
        char *p = path_join(dir, STATE_FILES[k]), hex[20];
        size_t size;
        uint64_t h;
        int rc = p ? file_fingerprint(p, &size, &h, err, errlen) : -1;
        if (!p) snprintf(err, errlen, "%s: out of memory", dir);
        if (rc == 0) {
            snprintf(hex, sizeof hex, "%016" PRIx64, h);
            if ((double)size != d || !cJSON_IsString(hash) || strcmp(hash->valuestring, hex) != 0) {
                snprintf(err, errlen, "%s: size or checksum differs from trainer_state.json (the file changed after it was saved)", p);
                rc = -1;
            }
        }
        free(p);
        if (rc != 0) goto fail;
    }
    cJSON_Delete(o);
    free(path);
    return 0;
fail:
    err_one_line(err, errlen);
    cJSON_Delete(o);
    free(path);
    resume_state_free(s);
    return -1;
}

int resume_state_load_model(Model *m, const ResumeState *s, const char *dir, char *err, size_t errlen) {
    char notice[256];
    if (checkpoint_load(m, dir, 0, NULL, s->seed, notice, sizeof notice, err, errlen) != 0) return -1;
    if (notice[0]) {  // a head missing from our own state: not a state we wrote
        snprintf(err, errlen, "%s: model.safetensors lacks the classification head", dir);
        model_free(m);
        return -1;
    }
    char *opt = path_join(dir, "optimizer.safetensors");
    int rc = opt ? optimizer_state_load(m, opt, s->adamw_step, err, errlen) : -1;
    if (!opt) snprintf(err, errlen, "%s: out of memory", dir);
    free(opt);
    if (rc != 0) { model_free(m); return -1; }
    m->dropout_seed = s->seed;
    m->forward_count = s->forward_count;
    return 0;
}

void resume_state_free(ResumeState *s) {
    free(s->history);
    free(s->step_losses);
    cJSON_Delete(s->args);
    memset(s, 0, sizeof *s);
}
