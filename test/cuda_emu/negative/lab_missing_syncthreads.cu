// Negative control: the matmul_forward lab, version 2 (the fp32 SIMT GEMM), built from a copy of
// kernels/cuda/matmul_simt.cuh whose second __syncthreads in gemm_simt_kernel (the one that keeps a
// tile from being overwritten while other threads still read it) has been deleted by the Makefile.
// With K = 768 there are many K tiles, so the next tile's loads race with the current tile's reads.
// ARGS: 2
// EXPECT: different device memory|VALIDATION FAILED
#include "dev/cuda/matmul_forward.cu"
