// dump_compare.h: our tensors (model/dump.h) against a reference dump, with one tolerance table per
// precision (doc/parity.md, "Tolerances"). Used by ./parity and test/test_parity.c.
//
// Per tensor, over its n elements (d = ours - ref; the CPU model's last block: the token-0 slice of ref):
//   max abs error   max |d|
//   max rel error   max |d| / |ref| over the elements with |ref| > atol
//   rel L2 error    ‖d‖₂ / (‖ref‖₂ + atol·√n)      (the atol term keeps an all-noise tensor, e.g. the key
//                                                  bias gradient, whose exact value is 0, from dividing by ~0)
//   pass            every element |d| <= atol' + rtol·|ref|, and rel L2 <= l2, where atol' = atol, or for the
//                   forward activations atol·max(1, max |ref|): a sum of products rounds relative to its
//                   largest terms, so an element near 0 in a tensor whose values reach 50 (BERT's outlier
//                   channels) carries an absolute error set by the 50, not by its own size
// adamw.<param>: an element whose gradient is at noise level in both dumps (|g| < 1e-6, not 0 in both)
// moves by up to ±lr per step in a direction set by rounding (AdamW divides by √v + eps), in PyTorch as in
// any other implementation: such elements are held to |d| <= 2·steps·lr instead (counted as "loose") and
// left out of the other measures. In the bf16 table every element is held to 2.05·steps·lr (and counted in
// the L2 error).
#ifndef DUMP_COMPARE_H
#define DUMP_COMPARE_H

#include <stdio.h>

#include "model/dump.h"
#include "model/safetensors.h"

typedef enum { PRECISION_TABLE_FP32 = 0, PRECISION_TABLE_BF16 = 1 } ToleranceTable;

typedef struct {
    double atol, rtol, l2;
    int scaled;          // 1: atol is relative to the tensor's largest |ref| (never below atol itself)
    int step_bound_all;  // adamw.*: every element held to the step bound (not only noise-level ones)
    double step_factor;  // adamw.*: the step bound is step_factor·steps·lr (fp32 2, bf16 2.05)
} Tolerance;

// the tolerance of a tensor class at a precision (fp32: the CPU and the GPU fp32 path; bf16: the GPU
// bf16 mixed-precision path)
Tolerance dump_tolerance(ToleranceTable table, DumpClass cls);
const char *dump_table_name(ToleranceTable table);

typedef struct {
    const DumpTensor *ours;
    Tolerance tol;
    double max_abs, max_rel, rel_l2;
    double worst;             // max over elements of |d| / (atol + rtol·|ref|)
    size_t worst_index;       // in ours
    float worst_ours, worst_ref;
    size_t n_loose;           // adamw.*: elements held to the AdamW step bound
    int ok;
} CompareResult;

// Every tensor of the dump must be an input, an init.* tensor or one of ours: else one line naming it.
int dump_check_names(const safetensors_file *dump, const DumpList *ours, char *err, size_t errlen);
// Compare each tensor of ours present in the dump (same shape, or an error naming the tensor), in list
// order, into results (one per compared tensor; *n_results of them; free() the array). adamw: the dump's
// run (for the step bound); the noise rule reads grad.<param> from both sides.
int dump_compare(const safetensors_file *dump, const DumpList *ours, ToleranceTable table, const DumpAdamW *adamw,
                 CompareResult **results, int *n_results, char *err, size_t errlen);
// index of the first failing result, or -1
int dump_first_failure(const CompareResult *r, int n);
// the shape as "32x44x384", the token-0 axis as "[0/44]"
void dump_shape_string(const DumpTensor *t, char *buf, size_t len);
// one line per result, then the summary ("all N within tolerance" or "first failure: NAME ...")
void dump_print_report(FILE *out, const CompareResult *r, int n, ToleranceTable table);
// the same as JSON (cJSON): {"precision", "tensors": [{name, shape, class, max_abs, ...}], "first_failure"}
int dump_print_json(FILE *out, const CompareResult *r, int n, ToleranceTable table, char *err, size_t errlen);

#endif
