// train_state.c: non-finite detection over the parameter table and the AdamW moments as safetensors
// (train_state.h).
#include "model/train_state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int model_count_nonfinite(const Model *m, const real *buf, const ParamEntry **first) {
    int bad = 0;
    if (first) *first = NULL;
    for (int i = 0; i < m->n_entries; i++) {
        const ParamEntry *e = &m->table[i];
        const real *x = buf + e->offset;
        int tensor_bad = 0;
        #pragma omp parallel for reduction(|:tensor_bad) schedule(static)
        for (size_t k = 0; k < e->numel; k++) tensor_bad |= !isfinite(x[k]);
        if (tensor_bad) {
            if (!bad && first) *first = e;
            bad++;
        }
    }
    return bad;
}

#define MOMENT_PREFIX_LEN 2  // "m." / "v."

int optimizer_state_save(const Model *m, const char *path, char *err, size_t errlen) {
    int n = m->n_entries;
    size_t P = m->num_parameters;
    st_write_tensor *t = calloc(2 * (size_t)n, sizeof *t);
    char (*names)[PARAM_NAME_LEN + MOMENT_PREFIX_LEN] = calloc(2 * (size_t)n, sizeof *names);
    float *zeros = NULL, *conv = NULL;
    int rc = -1;
    if (!t || !names) { snprintf(err, errlen, "%s: out of memory", path); goto done; }
    const float *mom, *vel;
#ifdef REAL_DOUBLE
    conv = malloc(2 * P * sizeof(float));
    if (!conv) { snprintf(err, errlen, "%s: out of memory", path); goto done; }
    for (size_t i = 0; i < P; i++) {
        conv[i] = m->m_memory ? (float)m->m_memory[i] : 0.0f;
        conv[P + i] = m->v_memory ? (float)m->v_memory[i] : 0.0f;
    }
    mom = conv;
    vel = conv + P;
#else
    if (!m->m_memory || !m->v_memory) {
        zeros = calloc(P ? P : 1, sizeof(float));
        if (!zeros) { snprintf(err, errlen, "%s: out of memory", path); goto done; }
    }
    mom = m->m_memory ? m->m_memory : zeros;
    vel = m->v_memory ? m->v_memory : zeros;
#endif
    for (int i = 0; i < n; i++) {
        const ParamEntry *e = &m->table[i];
        for (int which = 0; which < 2; which++) {
            st_write_tensor *w = &t[2 * i + which];
            snprintf(names[2 * i + which], sizeof names[0], "%c.%s", which ? 'v' : 'm', e->name);
            w->name = names[2 * i + which];
            w->ndim = e->ndim;
            w->shape[0] = e->shape[0];
            w->shape[1] = e->shape[1];
            w->data = (which ? vel : mom) + e->offset;
            w->dtype = ST_F32;
        }
    }
    char step[32];
    snprintf(step, sizeof step, "%d", m->adamw_step);
    st_meta meta[] = {{"format", "pt"}, {"adamw_step", step}};
    rc = safetensors_write_meta(path, t, 2 * n, meta, 2, err, errlen);
done:
    free(t);
    free(names);
    free(zeros);
    free(conv);
    return rc;
}

int optimizer_state_load(Model *m, const char *path, int expect_step, char *err, size_t errlen) {
    safetensors_file f;
    if (safetensors_open(&f, path, err, errlen) != 0) return -1;
    size_t P = m->num_parameters;
    real *mom = calloc(P ? P : 1, sizeof(real)), *vel = calloc(P ? P : 1, sizeof(real));
    float *tmp = NULL;
    if (!mom || !vel) { snprintf(err, errlen, "%s: out of memory", path); goto fail; }
    const char *step = safetensors_meta(&f, "adamw_step");
    char *end = NULL;
    long s = step ? strtol(step, &end, 10) : -1;
    if (!step || *end || s != expect_step) {
        snprintf(err, errlen, "%s: metadata adamw_step is %s, trainer_state.json says %d", path,
                 step ? step : "missing", expect_step);
        goto fail;
    }
    if (f.n_tensors != 2 * m->n_entries) {
        snprintf(err, errlen, "%s: holds %d tensors, expected %d (m. and v. of each of the %d parameters)", path,
                 f.n_tensors, 2 * m->n_entries, m->n_entries);
        goto fail;
    }
    for (int i = 0; i < m->n_entries; i++) {
        const ParamEntry *e = &m->table[i];
        for (int which = 0; which < 2; which++) {
            char name[PARAM_NAME_LEN + MOMENT_PREFIX_LEN];
            snprintf(name, sizeof name, "%c.%s", which ? 'v' : 'm', e->name);
            const st_tensor *t = safetensors_find(&f, name);
            if (!t) { snprintf(err, errlen, "%s: tensor '%s' is missing", path, name); goto fail; }
            if (t->ndim != e->ndim || t->shape[0] != e->shape[0] || (e->ndim > 1 && t->shape[1] != e->shape[1])) {
                snprintf(err, errlen, "%s: tensor '%s' does not have the shape of parameter '%s'", path, name, e->name);
                goto fail;
            }
            real *dst = (which ? vel : mom) + e->offset;
#ifdef REAL_DOUBLE
            free(tmp);
            tmp = malloc(sizeof(float) * (e->numel ? e->numel : 1));
            if (!tmp) { snprintf(err, errlen, "%s: out of memory", path); goto fail; }
            if (safetensors_read_f32(&f, t, tmp, e->numel, err, errlen) != 0) goto fail;
            for (size_t k = 0; k < e->numel; k++) dst[k] = tmp[k];
#else
            if (safetensors_read_f32(&f, t, dst, e->numel, err, errlen) != 0) goto fail;
#endif
            for (size_t k = 0; k < e->numel; k++) {
                if (!isfinite(dst[k]) || (which && dst[k] < 0)) {
                    snprintf(err, errlen, "%s: tensor '%s' holds %s at element %zu", path, name,
                             isfinite(dst[k]) ? "a negative second moment" : "a non-finite value", k);
                    goto fail;
                }
            }
        }
    }
    free(tmp);
    safetensors_close(&f);
    free(m->m_memory);
    free(m->v_memory);
    m->m_memory = mom;
    m->v_memory = vel;
    m->adamw_step = expect_step;
    return 0;
fail:
    free(tmp);
    free(mom);
    free(vel);
    safetensors_close(&f);
    return -1;
}
