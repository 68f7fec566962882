// inference.h: the forward of a classifier for prediction and evaluation (eval mode: no dropout, no
// backward to follow). It computes what model_forward computes with training = 0, the same sums in
// the same order (test_inference checks the logits bit for bit), with less memory and less work:
//   - no activation is kept for a backward: one layer's buffers (B,T,·) serve every layer in turn;
//   - each weight matrix is packed once for the GEMM (inference_init), not at every product;
//   - in the last layer only token 0 continues past the keys and values, since the head reads only
//     the first token: Q, attention, out_lin, both LayerNorms and the FFN run on B rows, not B·T.
// The packs are copies of the weights made by inference_init: after the model's parameters change
// (an optimizer step, a reload), make a new Inference (train.c does, once per evaluation).
#ifndef INFERENCE_H
#define INFERENCE_H

#include "kernels/kernels.h"
#include "model/model.h"

typedef struct {
    int max_B, max_T, n_layers;
    // the weights, packed: per layer Q|K|V (3C,C) (all but the last), out_lin (C,C), lin1 (I,C),
    // lin2 (C,I); the last layer's Q (C,C) and K|V (2C,C) apart (Q runs on token 0 only); the head
    PackedB *wqkv, *wo, *w1, *w2;
    PackedB wq_last, wkv_last, wpre, wcls;
    real *memory;         // all the buffers below
    real *x;              // (B,T,C)  the block input, replaced by the block output
    real *qkv;            // (B,T,3C)
    real *atty;           // (B,T,C)  attention output, heads concatenated
    real *sum;            // (B,T,C)  the residual sums: out_lin(atty) + x, then lin2(...) + ln1
    real *ln1;            // (B,T,C)
    real *fch;            // (B,T,I)  lin1(ln1), then gelu/relu in place
    real *mean, *rstd;    // (B,T)    LayerNorm statistics (written by the kernel, not needed after)
    real *cls;            // (B,C)    token 0 in the last layer: its input, then the encoder's output
    real *pre;            // (B,C)    head dense, then relu/tanh in place
    real *logits, *probs; // (B,NL)
    real *losses;         // (B)
    int *positions, *token_types;  // (B,T); token types all 0
    real mean_loss;       // of the last forward with labels, else -1
} Inference;

// Buffers for batches up to max_B x max_T and the packed weights of m (m must outlive inf).
int inference_init(Inference *inf, const Model *m, int max_B, int max_T, char *err, size_t errlen);
// ids, key_mask (B,T); labels (B) or NULL -> inf->logits, inf->probs (B,NL), inf->losses, mean_loss.
int inference_forward(Inference *inf, const Model *m, const int *ids, const int *key_mask, const int *labels,
                      int B, int T, char *err, size_t errlen);
void inference_free(Inference *inf);

#endif
