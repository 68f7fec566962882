// params.h: the parameter table builder shared by model.c and params.c (internal to model/).
#ifndef PARAMS_H
#define PARAMS_H

#include "model/model.h"

// element counts of the fields of ParameterTensors, in declaration order
void param_field_sizes(const ModelConfig *c, size_t sizes[NUM_PARAM_FIELDS]);
// point the fields of a ParameterTensors into one buffer laid out by param_field_sizes
void point_params(ParameterTensors *p, real *memory, const size_t sizes[NUM_PARAM_FIELDS]);
// fill m->table (HF name, shape, offset of every tensor) for m->config's architecture
void build_param_table(Model *m, const size_t field_offset[NUM_PARAM_FIELDS]);

#endif
