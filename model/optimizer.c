// optimizer.c: the pieces of one training step after backward — gradient clipping, AdamW, and the
// linear warmup/decay schedule — written to match PyTorch (reference-semantics.md §5).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/model.h"

// torch.nn.utils.clip_grad_norm_(parameters, max_norm), norm type 2:
//   total = sqrt(Σ_all g²);  coef = min(1, max_norm / (total + 1e-6));  g *= coef
// (The sum of squares is accumulated in double; torch sums per-tensor norms in float32, which
// differs only in the last bits.) The sum is deterministic for any thread count: NORM_CHUNKS fixed
// chunks are each summed in order and the chunk sums added in order (an OpenMP reduction combines
// the threads' partial sums in arrival order, which changes the last bit from run to run with 3 or
// more threads, and so the clip coefficient and every later step; doc/reliability.md, Determinism).
#define NORM_CHUNKS 64
double model_clip_grad_norm(Model *m, double max_norm) {
    double partial[NORM_CHUNKS];
    const real *g = m->grads_memory;
    size_t n = m->num_parameters, per = (n + NORM_CHUNKS - 1) / NORM_CHUNKS;
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < NORM_CHUNKS; c++) {
        size_t lo = (size_t)c * per, hi = lo + per < n ? lo + per : n;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) s += (double)g[i] * (double)g[i];
        partial[c] = s;
    }
    double sumsq = 0.0;
    for (int c = 0; c < NORM_CHUNKS; c++) sumsq += partial[c];
    double total = sqrt(sumsq);
    if (max_norm > 0) {
        double coef = max_norm / (total + 1e-6);
        if (coef < 1.0) {
            real c = (real)coef;
            #pragma omp parallel for
            for (size_t i = 0; i < m->num_parameters; i++) m->grads_memory[i] *= c;
        }
    }
    return total;
}

// torch.optim.AdamW (single-tensor path), step t = number of steps including this one:
//   p  = p * (1 - lr·wd)                       decoupled weight decay, applied first
//   m  = m + (1 - β1)·(g - m)                  (torch's lerp form of β1·m + (1-β1)·g)
//   v  = β2·v + (1 - β2)·g²
//   p  = p - (lr / (1 - β1^t)) · m / (sqrt(v) / sqrt(1 - β2^t) + eps)
// The scalars are computed in double and enter the float loop rounded, as torch does. Every
// parameter is updated densely, including embedding rows that received no gradient.
int model_adamw_update(Model *m, double lr, double beta1, double beta2, double eps,
                       double weight_decay, char *err, size_t errlen) {
    if (!m->m_memory) {
        m->m_memory = calloc(m->num_parameters, sizeof(real));
        m->v_memory = calloc(m->num_parameters, sizeof(real));
        if (!m->m_memory || !m->v_memory) {
            free(m->m_memory);
            free(m->v_memory);
            m->m_memory = m->v_memory = NULL;
            snprintf(err, errlen, "out of memory allocating AdamW state (%zu parameters)", m->num_parameters);
            return -1;
        }
    }
    m->adamw_step++;
    int t = m->adamw_step;
    real decay = (real)(1.0 - lr * weight_decay);
    real one_minus_beta1 = (real)(1.0 - beta1);
    real b2 = (real)beta2, one_minus_beta2 = (real)(1.0 - beta2);
    real step_size = (real)(lr / (1.0 - pow(beta1, t)));
    real bc2_sqrt = (real)sqrt(1.0 - pow(beta2, t));
    real e = (real)eps;
    // four distinct buffers (restrict) and no dependence between elements: one vectorised pass
    real *restrict p = m->params_memory, *restrict mom = m->m_memory, *restrict vel = m->v_memory;
    const real *restrict g = m->grads_memory;
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < m->num_parameters; i++) {
        p[i] *= decay;
        mom[i] += one_minus_beta1 * (g[i] - mom[i]);
        vel[i] = vel[i] * b2 + one_minus_beta2 * g[i] * g[i];
        real denom = real_sqrt(vel[i]) / bc2_sqrt + e;
        p[i] += -step_size * (mom[i] / denom);
    }
    return 0;
}

// get_linear_schedule_with_warmup: λ(k) = k / max(1, W) while k < W, then
// max(0, (Tt - k) / max(1, Tt - W)). Optimizer step t (1-based) uses λ(t - 1).
double lr_linear_warmup(long k, long warmup_steps, long total_steps) {
    if (k < warmup_steps) return (double)k / (double)(warmup_steps > 1 ? warmup_steps : 1);
    double rest = (double)(total_steps - k) / (double)(total_steps - warmup_steps > 1 ? total_steps - warmup_steps : 1);
    return rest > 0 ? rest : 0;
}
