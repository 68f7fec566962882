// the emulator stands in for the CUDA toolkit header (test/cuda_emu/cuda_emu.h)
#include "../cuda_emu.h"
