// gradcheck.h: central finite differences for tests compiled with -DREAL_DOUBLE (real = double).
//
// A test wraps "run the forward, reduce the outputs to a scalar" in a loss_fn; check_gradient then
// perturbs each element x[i] by ±h and compares (f(x+h) − f(x−h)) / 2h with the analytic gradient g[i].
// Acceptance (reference-semantics.md §4.4): |g − g_num| ≤ atol + rtol·|g_num|.
#ifndef GRADCHECK_H
#define GRADCHECK_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/real.h"

typedef double (*loss_fn)(void *ctx);

// deterministic test data: uniform in [lo, hi) from a 64-bit LCG
static inline double test_uniform(uint64_t *state, double lo, double hi) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (double)(*state >> 11) * (1.0 / 9007199254740992.0);
}

static inline void fill_uniform(real *x, size_t n, uint64_t *state, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = (real)test_uniform(state, lo, hi);
}

// Σ_i w[i] * out[i]: a scalar whose gradient w.r.t. out is w (so dout = w)
static inline double weighted_sum(const real *out, const real *w, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)out[i] * (double)w[i];
    return s;
}

// Returns the worst |g - g_num| / (atol + rtol·|g_num|) (≤ 1 passes) and fails the test with the
// first offending element.
static inline double check_gradient(const char *what, loss_fn f, void *ctx, real *x, const real *g,
                                    size_t n, double h, double atol, double rtol) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        real saved = x[i];
        x[i] = saved + h;
        double lp = f(ctx);
        x[i] = saved - h;
        double lm = f(ctx);
        x[i] = saved;
        double num = (lp - lm) / (2 * h);
        double ratio = fabs((double)g[i] - num) / (atol + rtol * fabs(num));
        if (ratio > worst) worst = ratio;
        ck_assert_msg(ratio <= 1.0, "%s[%zu]: analytic %.12g vs numeric %.12g (|diff| %.3g)",
                      what, i, (double)g[i], num, fabs((double)g[i] - num));
    }
    return worst;
}

#endif
