// real.h: the scalar type of the CPU reference.
//
// Every op in kernels/ and the model in model/ are written once against `real`.
// The shipped build uses real = float. The finite-difference gradient checks (test/gradcheck_*.c)
// compile the very same sources with -DREAL_DOUBLE, so the oracle of a backward is the forward of
// the same code evaluated in double precision (reference-semantics.md §4.4).
#ifndef REAL_H
#define REAL_H

#include <math.h>

#ifdef REAL_DOUBLE
typedef double real;
#define real_exp  exp
#define real_log  log
#define real_sqrt sqrt
#define real_erf  erf
#define real_tanh tanh
#define real_fabs fabs
#else
typedef float real;
#define real_exp  expf
#define real_log  logf
#define real_sqrt sqrtf
#define real_erf  erff
#define real_tanh tanhf
#define real_fabs fabsf
#endif

#endif
