// gemm_threads.h: what the packed GEMMs (matmul.c in fp32, matmul_bf16.c in bf16) share: how one
// product is split over the OpenMP threads, and the per-thread pack buffers; the packs and the
// micro-kernels are each GEMM's own.
//
// Small products (or one thread, or a call inside a parallel region) run on the calling thread.
// Many rows (training: batch x tokens): the rows are split; all threads share B, packed cooperatively
// before a barrier. Few rows (small-batch inference, the head): the column slivers are split; each
// thread packs only its own slivers of B (the large operand), with no barrier. Every element of C is
// summed by one thread in ascending K blocks, so results do not depend on the thread count.
#ifndef KERNELS_GEMM_THREADS_H
#define KERNELS_GEMM_THREADS_H

#include <stddef.h>

typedef struct {
    const void *gemm;  // the product (matmul.c's Gemm, matmul_bf16.c's GemmBf16), passed to the two below
    void (*pack_b)(const void *gemm, int first, int last);             // (K block, sliver) pairs [first, last)
    void (*block)(const void *gemm, int m0, int m1, int s0, int s1);   // rows [m0,m1) x slivers [s0,s1) of C
    int M, N, K;
    int nslivers, nq;  // column slivers of the micro-kernel's width, K blocks
    int mr;            // rows of the micro-kernel's tile
    int prepacked;     // B is packed already (matmul_pack): nothing to pack, no barrier
    int threaded;      // 0: on the calling thread only (matmul_serial)
} GemmSplit;

void gemm_split_run(const GemmSplit *s);  // in matmul.c
// all npairs (K block, sliver) pairs of B packed by pack_b on the threads, one pair at a time (matmul_pack)
void gemm_pack_all(void (*pack_b)(const void *gemm, int first, int last), const void *gemm, int npairs);

// A thread's pack buffer: grown (64-byte aligned, never shrunk) to the largest request so far and reused
// by every later product on that thread; out of memory aborts (nothing sane to do inside a GEMM).
typedef struct { void *p; size_t cap; } PackBuffer;
void *pack_buffer_grow(PackBuffer *b, size_t bytes);  // in matmul.c

#endif
