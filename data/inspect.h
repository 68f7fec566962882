// inspect.h: `./train --inspect`, the seed notebook's sanity checks on the data pipeline as a
// printed report, without a model: label balance of the split, special tokens in place, token
// length statistics and histogram, truncated and padded fractions, the shapes of the first batches.
#ifndef DATA_INSPECT_H
#define DATA_INSPECT_H

#include <stdint.h>
#include <stdio.h>

#include "data/batch.h"
#include "data/dataset.h"
#include "data/split.h"
#include "tokenizer/tokenizer.h"

// set: the train and validation rows tokenized with max_length; full_lens: their untruncated lengths
// (tokenize_texts with full_lens). bucket = batches per length bucket (0 = off), as in train.
int inspect_report(FILE *out, const Dataset *ds, const Split *sp, const TokenizedSet *set, const int *full_lens,
                   Tokenizer *tok, int batch_size, int max_length, int bucket, uint64_t seed, char *err,
                   size_t errlen);

#endif
