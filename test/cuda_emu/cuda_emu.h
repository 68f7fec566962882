// cuda_emu.h: the one header of our CUDA emulator (test tooling, never shipped). It lets the host C++
// compiler build our .cu files and run them on the CPU, so kernels can be validated, sanitised and
// stepped through with gdb on a machine without a GPU. See doc/cuda.md, "The emulator".
//
// How a .cu file becomes a CPU program (test/cuda_emu/Makefile):
//   1. test/cuda_emu/rewrite.sh copies it with two textual changes that nvcc's own front end makes
//      too: `k<<<grid, block, smem, stream>>>(args)` becomes `k << emu::Launch(grid, block, smem,
//      stream)(args)` (an operator<< below that runs the launch), and `extern __shared__ T name[];`
//      gets the assembler name of the emulator's dynamic shared-memory window.
//   2. g++ compiles the copy with test/cuda_emu/include first on the include path, whose
//      cuda_runtime.h / cuda_bf16.h / cuda_fp16.h are this header; CUDA_EMU is defined, __CUDA_ARCH__
//      is not (so device-only #if blocks fall back to their host form unless they test CUDA_EMU).
//   3. It links test/cuda_emu/runtime.cpp (threads, barriers, memory, launches) and ptx.cpp
//      (ldmatrix, mma.sync, cp.async, wgmma).
//
// Execution model: the blocks of a grid run one after another; the threads of a block are fibers
// (own stacks, switched by hand) that run until they reach a barrier or a warp collective
// (__syncthreads*, __syncwarp, shuffles, votes, ldmatrix, mma, wgmma), where they wait until every
// thread that must take part has arrived. Everything a thread does between two such points runs
// without interruption, so the order in which waiting threads resume is the only freedom: each
// launch runs under several schedules (in order, reversed, seeded random) and must give
// bit-identical device memory each time, which exposes shared-memory races and missing barriers.
#ifndef CUDA_EMU_H
#define CUDA_EMU_H

#ifndef CUDA_EMU
#define CUDA_EMU 1
#endif

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tuple>
#include <type_traits>
#include <utility>

// ------------------------------------------------------------------------------------ qualifiers

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __constant__ static
// Static shared variables: one object per program (blocks run one at a time), placed in the section
// that also holds the dynamic window, so the whole shared space is one arena: poisoned before every
// block, and addressed by 32-bit offsets (__cvta_generic_to_shared) as on the GPU.
#define __shared__ __attribute__((section("emu_shared"))) static

// ------------------------------------------------------------------------------------ vector types

struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) uint2 { unsigned int x, y; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
static inline float2 make_float2(float x, float y) { return float2{x, y}; }
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
static inline int2 make_int2(int x, int y) { return int2{x, y}; }
static inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }
static inline uint2 make_uint2(unsigned x, unsigned y) { return uint2{x, y}; }
static inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }

// ------------------------------------------------------------------------------------ bf16 and half
// Bit-identical to cuda_bf16.h / cuda_fp16.h (round to nearest even; NaN becomes the canonical
// 0x7FFF / 0x7FFF; checked against the real headers by test/cuda_emu/test_convert.cpp when they exist).

namespace emu {
static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline unsigned short float_to_bf16_bits(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fff;                    // NaN
    uint32_t r = x >> 16, rem = x << 16;                                     // rem: the dropped half
    if (rem > 0x80000000u || (rem == 0x80000000u && (r & 1u))) r++;         // nearest, ties to even
    return (unsigned short)r;
}
static inline float bf16_bits_to_float(unsigned short h) { return bits_f32((uint32_t)h << 16); }
unsigned short float_to_half_bits(float f);   // runtime.cpp (IEEE binary16, nearest even)
float half_bits_to_float(unsigned short h);
}  // namespace emu

struct __nv_bfloat16 {
    unsigned short __x;
    __nv_bfloat16() = default;
    __nv_bfloat16(float f) : __x(emu::float_to_bf16_bits(f)) {}
    __nv_bfloat16(double f) : __x(emu::float_to_bf16_bits((float)f)) {}
    __nv_bfloat16(int i) : __x(emu::float_to_bf16_bits((float)i)) {}
    operator float() const { return emu::bf16_bits_to_float(__x); }
};
struct __nv_bfloat162 { __nv_bfloat16 x, y; };
typedef __nv_bfloat16 nv_bfloat16;
typedef __nv_bfloat162 nv_bfloat162;
static inline __nv_bfloat16 bf16_from_bits_(unsigned short b) { __nv_bfloat16 h; h.__x = b; return h; }
static inline __nv_bfloat16 __float2bfloat16(float f) { return bf16_from_bits_(emu::float_to_bf16_bits(f)); }
static inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
static inline float __bfloat162float(__nv_bfloat16 h) { return emu::bf16_bits_to_float(h.__x); }
static inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) {
    return __nv_bfloat162{__float2bfloat16(lo), __float2bfloat16(hi)};
}
static inline __nv_bfloat162 __float22bfloat162_rn(float2 v) { return __floats2bfloat162_rn(v.x, v.y); }
static inline float2 __bfloat1622float2(__nv_bfloat162 v) { return float2{__bfloat162float(v.x), __bfloat162float(v.y)}; }
static inline float __low2float(__nv_bfloat162 v) { return __bfloat162float(v.x); }
static inline float __high2float(__nv_bfloat162 v) { return __bfloat162float(v.y); }
static inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 lo, __nv_bfloat16 hi) { return __nv_bfloat162{lo, hi}; }
static inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short b) { return bf16_from_bits_(b); }
static inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }

struct __half {
    unsigned short __x;
    __half() = default;
    __half(float f) : __x(emu::float_to_half_bits(f)) {}
    __half(double f) : __x(emu::float_to_half_bits((float)f)) {}
    operator float() const { return emu::half_bits_to_float(__x); }
};
struct __half2 { __half x, y; };
typedef __half half;
typedef __half2 half2;
static inline __half __float2half(float f) { __half h; h.__x = emu::float_to_half_bits(f); return h; }
static inline __half __float2half_rn(float f) { return __float2half(f); }
static inline float __half2float(__half h) { return emu::half_bits_to_float(h.__x); }
static inline __half2 __floats2half2_rn(float lo, float hi) { return __half2{__float2half(lo), __float2half(hi)}; }
static inline __half __ushort_as_half(unsigned short b) { __half h; h.__x = b; return h; }
static inline unsigned short __half_as_ushort(__half h) { return h.__x; }

// ------------------------------------------------------------------------------------ runtime API

typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorLaunchOutOfResources = 701,
} cudaError_t;
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8, cudaFuncAttributePreferredSharedMemoryCarveout = 9 };
enum cudaDeviceAttr {
    cudaDevAttrMaxThreadsPerBlock = 1, cudaDevAttrMaxSharedMemoryPerBlock = 8, cudaDevAttrWarpSize = 10,
    cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMemoryClockRate = 36, cudaDevAttrGlobalMemoryBusWidth = 37,
    cudaDevAttrL2CacheSize = 38, cudaDevAttrComputeCapabilityMajor = 75, cudaDevAttrComputeCapabilityMinor = 76,
    cudaDevAttrMaxSharedMemoryPerBlockOptin = 97
};
struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem, sharedMemPerBlock, sharedMemPerBlockOptin;
    int warpSize, maxThreadsPerBlock, major, minor, multiProcessorCount, l2CacheSize, memoryClockRate,
        memoryBusWidth;
};
typedef struct emu_stream *cudaStream_t;
typedef struct emu_event *cudaEvent_t;

cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaSetDevice(int dev);
cudaError_t cudaGetDevice(int *dev);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int dev);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int dev);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaDeviceReset(void);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t bytes);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = 0);
cudaError_t cudaMemset(void *p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s = 0);
cudaError_t cudaStreamCreate(cudaStream_t *s);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t stop);
namespace emu { cudaError_t func_set_attribute(const void *func, cudaFuncAttribute attr, int value); }
template <class F> static inline cudaError_t cudaFuncSetAttribute(F *func, cudaFuncAttribute attr, int value) {
    return emu::func_set_attribute((const void *)func, attr, value);
}
template <class T> static inline cudaError_t cudaMalloc(T **p, size_t bytes) { return cudaMalloc((void **)p, bytes); }
template <class T> static inline cudaError_t cudaMallocHost(T **p, size_t bytes) { return cudaMallocHost((void **)p, bytes); }

// ------------------------------------------------------------------------------------ thread state

namespace emu {
struct Site { const char *file; int line; };
// the running thread's indices (the fiber scheduler points this at the current thread's record)
extern const uint3 *cur_thread_idx;
extern uint3 cur_block_idx;
extern dim3 cur_block_dim, cur_grid_dim;
int thread_linear(void);                 // threadIdx in row-major order (x fastest): lane = linear % 32
[[noreturn]] void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Barriers and collectives (runtime.cpp).
void syncthreads(int op, int pred, int *result, Site site);   // op: 0 plain, 1 or, 2 and, 3 count
void syncwarp(unsigned mask, Site site);
// A warp collective: every lane of `mask` calls it with its own `args`; the last lane to arrive
// runs fn(args of each lane (NULL outside the mask), mask), which reads inputs and writes outputs
// through those pointers while the other lanes wait; then all continue. Lanes must agree on kind
// and mask, the caller must be in the mask, and every lane of the mask must be alive.
typedef void (*WarpFn)(void *const lane_args[32], unsigned mask);
void warp_collective(const char *kind, unsigned mask, void *args, WarpFn fn, Site site);
// The same over the 128 threads of a warpgroup (threads 128g .. 128g+127), all of which must take part.
typedef void (*WarpgroupFn)(void *const thread_args[128]);
void warpgroup_collective(const char *kind, void *args, WarpgroupFn fn, Site site);

// The shared-memory arena: 32-bit shared addresses are offsets from its base.
unsigned char *shared_base(void);
size_t shared_bytes(void);
void *shared_ptr(uint32_t addr, size_t bytes, const char *what);   // checked translation
uint32_t shared_addr(const void *p, const char *what);              // checked __cvta_generic_to_shared
void note_float_atomic(void);
void check_device_range(const void *p, size_t bytes, const char *what);   // inside one cudaMalloc block

// Tensor-core and async PTX (ptx.cpp), called by the emulation bodies of our PTX wrappers
// (matmul_mma.cuh, matmul_forward.cu) next to their asm. Shared addresses are 32-bit arena offsets.
//   cp.async.{ca,cg}.shared.global [dst], [src], cp_size, src_size: lands at the cp.async.wait_group
//     that covers its commit group (until then dst keeps its old bytes: poison, if nothing else);
//   ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16: warp collective, PTX ISA fragment layout;
//   mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32: warp collective, d = a·b + c;
//   wgmma.mma_async.sync.aligned.m64nNk16.f32.bf16.bf16 from shared-memory matrix descriptors:
//     warpgroup collective; A and B are read and d written at the wgmma.wait_group that retires it.
void cp_async(uint32_t dst, const void *src, int cp_size, int src_size, Site site);
void cp_async_commit(Site site);
void cp_async_wait(int n, Site site);
void ldmatrix(uint32_t *regs, int num, bool trans, uint32_t addr, Site site);
void mma_m16n8k16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], bool f16, Site site);
void wgmma_fence(Site site);
void wgmma_commit(Site site);
void wgmma_wait(int n, Site site);
void wgmma(int N, float *d, uint64_t desc_a, uint64_t desc_b, int scale_d, int tnsp_a, int tnsp_b, Site site);
// hooks the scheduler calls (ptx.cpp): a block starts; a thread ends (pending async work is an error)
void ptx_block_begin(int nthreads);
void ptx_thread_end(int linear);
}  // namespace emu

#define threadIdx (*emu::cur_thread_idx)
#define blockIdx (emu::cur_block_idx)
#define blockDim (emu::cur_block_dim)
#define gridDim (emu::cur_grid_dim)
static constexpr int warpSize = 32;
#define EMU_SITE_ARGS const char *emu_file_ = __builtin_FILE(), int emu_line_ = __builtin_LINE()
#define EMU_SITE (emu::Site{emu_file_, emu_line_})

static inline void __syncthreads(EMU_SITE_ARGS) { emu::syncthreads(0, 0, NULL, EMU_SITE); }
static inline int __syncthreads_or(int p, EMU_SITE_ARGS) { int r; emu::syncthreads(1, p, &r, EMU_SITE); return r; }
static inline int __syncthreads_and(int p, EMU_SITE_ARGS) { int r; emu::syncthreads(2, p, &r, EMU_SITE); return r; }
static inline int __syncthreads_count(int p, EMU_SITE_ARGS) { int r; emu::syncthreads(3, p, &r, EMU_SITE); return r; }
static inline void __syncwarp(unsigned mask = 0xffffffffu, EMU_SITE_ARGS) { emu::syncwarp(mask, EMU_SITE); }
static inline void __threadfence(void) {}
static inline void __threadfence_block(void) {}
static inline void __threadfence_system(void) {}

// ------------------------------------------------------------------------------------ shuffles, votes

namespace emu {
struct ShuffleArgs { uint64_t value; int mode, lane_arg, width; uint64_t result; };
void shuffle_fn(void *const lane_args[32], unsigned mask);
template <class T> static inline T shuffle(unsigned mask, T v, int mode, int lane_arg, int width, Site site) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a 1-8 byte value");
    ShuffleArgs a = {0, mode, lane_arg, width, 0};
    memcpy(&a.value, &v, sizeof(T));
    static const char *const names[4] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync"};
    warp_collective(names[mode], mask, &a, shuffle_fn, site);
    T r;
    memcpy(&r, &a.result, sizeof(T));
    return r;
}
struct VoteArgs { int pred; unsigned result; };
void vote_fn(void *const lane_args[32], unsigned mask);
unsigned vote(unsigned mask, int pred, const char *kind, Site site);
}  // namespace emu

template <class T> static inline T __shfl_sync(unsigned mask, T v, int src, int width = 32, EMU_SITE_ARGS) {
    return emu::shuffle(mask, v, 0, src, width, EMU_SITE);
}
template <class T> static inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32, EMU_SITE_ARGS) {
    return emu::shuffle(mask, v, 1, (int)delta, width, EMU_SITE);
}
template <class T> static inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32, EMU_SITE_ARGS) {
    return emu::shuffle(mask, v, 2, (int)delta, width, EMU_SITE);
}
template <class T> static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32, EMU_SITE_ARGS) {
    return emu::shuffle(mask, v, 3, lane_mask, width, EMU_SITE);
}
static inline unsigned __ballot_sync(unsigned mask, int pred, EMU_SITE_ARGS) { return emu::vote(mask, pred, "__ballot_sync", EMU_SITE); }
static inline int __any_sync(unsigned mask, int pred, EMU_SITE_ARGS) { return emu::vote(mask, pred, "__any_sync", EMU_SITE) != 0; }
static inline int __all_sync(unsigned mask, int pred, EMU_SITE_ARGS) { return emu::vote(mask, pred, "__all_sync", EMU_SITE) == mask; }
static inline int __popc(unsigned x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 32; i++) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}

// ------------------------------------------------------------------------------------ atomics
// Blocks and threads never run at the same time, so a plain read-modify-write is atomic. Float adds
// are noted: their result depends on the order, so schedules are then compared within a tolerance.

static inline float atomicAdd(float *p, float v) { emu::note_float_atomic(); float o = *p; *p = o + v; return o; }
static inline double atomicAdd(double *p, double v) { emu::note_float_atomic(); double o = *p; *p = o + v; return o; }
template <class T> static inline T atomicAdd(T *p, T v) { T o = *p; *p = (T)(o + v); return o; }
template <class T> static inline T atomicSub(T *p, T v) { T o = *p; *p = (T)(o - v); return o; }
template <class T> static inline T atomicExch(T *p, T v) { T o = *p; *p = v; return o; }
template <class T> static inline T atomicMax(T *p, T v) { T o = *p; if (v > o) *p = v; return o; }
template <class T> static inline T atomicMin(T *p, T v) { T o = *p; if (v < o) *p = v; return o; }
template <class T> static inline T atomicAnd(T *p, T v) { T o = *p; *p = o & v; return o; }
template <class T> static inline T atomicOr(T *p, T v) { T o = *p; *p = o | v; return o; }
template <class T> static inline T atomicXor(T *p, T v) { T o = *p; *p = o ^ v; return o; }
template <class T> static inline T atomicCAS(T *p, T cmp, T v) { T o = *p; if (o == cmp) *p = v; return o; }
static inline unsigned atomicInc(unsigned *p, unsigned lim) { unsigned o = *p; *p = o >= lim ? 0 : o + 1; return o; }

// ------------------------------------------------------------------------------------ loads, stores
// Cache hints have no meaning here: plain accesses.

template <class T> static inline T __ldg(const T *p) { return *p; }
template <class T> static inline T __ldcg(const T *p) { return *p; }
template <class T> static inline T __ldca(const T *p) { return *p; }
template <class T> static inline T __ldcs(const T *p) { return *p; }
template <class T> static inline T __ldlu(const T *p) { return *p; }
template <class T> static inline T __ldcv(const T *p) { return *p; }
template <class T> static inline void __stcg(T *p, T v) { *p = v; }
template <class T> static inline void __stcs(T *p, T v) { *p = v; }
template <class T> static inline void __stwb(T *p, T v) { *p = v; }
template <class T> static inline void __stwt(T *p, T v) { *p = v; }
static inline size_t __cvta_generic_to_shared(const void *p) { return emu::shared_addr(p, "__cvta_generic_to_shared"); }
static inline long long clock64(void) { static long long t; return ++t; }

// ------------------------------------------------------------------------------------ math
// The CUDA math library's accurate functions are the host libm's. The intrinsics follow their PTX
// definitions: __expf(x) = ex2.approx(x · log2 e), __logf(x) = lg2.approx(x) · ln 2, __fdividef(x, y)
// = x · rcp.approx(y) (0 for 2^126 < |y| < 2^128), so their documented extra error (from the
// rounded product fed to ex2, and the reciprocal) is reproduced; ex2 / lg2 themselves are exact here.

template <class A, class B> static inline typename std::common_type<A, B>::type min(A a, B b) {
    typedef typename std::common_type<A, B>::type R;
    return (R)a < (R)b ? (R)a : (R)b;
}
template <class A, class B> static inline typename std::common_type<A, B>::type max(A a, B b) {
    typedef typename std::common_type<A, B>::type R;
    return (R)a > (R)b ? (R)a : (R)b;
}
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
namespace emu {   // (glibc declares some of these names itself, so they are macros onto emu::)
static inline float fast_expf(float x) { return exp2f(x * 1.4426950408889634f); }
static inline float fast_exp10f(float x) { return exp2f(x * 3.3219280948873622f); }
static inline float fast_logf(float x) { return log2f(x) * 0.6931471805599453f; }
static inline float fast_powf(float x, float y) { return exp2f(y * log2f(x)); }
static inline float fast_fdividef(float x, float y) {
    float ay = fabsf(y);
    if (ay > 0x1p126f && ay <= 3.40282347e38f) return 0.0f;
    return x * (1.0f / y);
}
}  // namespace emu
#define __expf(x) emu::fast_expf(x)
#define __exp10f(x) emu::fast_exp10f(x)
#define __logf(x) emu::fast_logf(x)
#define __log2f(x) log2f(x)
#define __powf(x, y) emu::fast_powf(x, y)
#define __fdividef(x, y) emu::fast_fdividef(x, y)
#define __sinf(x) sinf(x)
#define __cosf(x) cosf(x)
#define __tanf(x) tanf(x)
static inline float fdividef(float x, float y) { return x / y; }
static inline float __frcp_rn(float x) { return 1.0f / x; }
static inline float __fsqrt_rn(float x) { return sqrtf(x); }
static inline float __frsqrt_rn(float x) { return (float)(1.0 / sqrt((double)x)); }
static inline float __fdiv_rn(float x, float y) { return x / y; }
static inline float __fmul_rn(float x, float y) { return x * y; }
static inline float __fadd_rn(float x, float y) { return x + y; }
static inline float __fsub_rn(float x, float y) { return x - y; }
static inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
static inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }
static inline int __float_as_int(float x) { int i; memcpy(&i, &x, 4); return i; }
static inline unsigned __float_as_uint(float x) { unsigned i; memcpy(&i, &x, 4); return i; }
static inline float __int_as_float(int i) { float x; memcpy(&x, &i, 4); return x; }
static inline float __uint_as_float(unsigned i) { float x; memcpy(&x, &i, 4); return x; }
static inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
static inline int __float2int_rz(float x) { return (int)x; }
static inline float __int2float_rn(int i) { return (float)i; }

// ------------------------------------------------------------------------------------ launches

namespace emu {
struct LaunchConfig { dim3 grid, block; size_t smem; cudaStream_t stream; Site site; };
// Runs one launch: thread_fn(ctx) in every thread of every block (checked configuration, schedules).
// ptr_args: the kernel's raw pointer arguments, checked to point into device memory (or be NULL).
void launch(const LaunchConfig &cfg, const void *kernel, void (*thread_fn)(void *), void *ctx,
            const void *const *ptr_args, int n_ptr_args);

template <class... A> struct BoundLaunch { LaunchConfig cfg; std::tuple<A...> args; };
struct Launch {
    LaunchConfig cfg;
    Launch(dim3 grid, dim3 block, size_t smem = 0, cudaStream_t stream = 0, EMU_SITE_ARGS)
        : cfg{grid, block, smem, stream, EMU_SITE} {}
    template <class... A> BoundLaunch<typename std::decay<A>::type...> operator()(A &&...args) const {
        return BoundLaunch<typename std::decay<A>::type...>{cfg, std::tuple<typename std::decay<A>::type...>(std::forward<A>(args)...)};
    }
};
template <class T> static inline void collect_pointer(const void **list, int *n, const T &v) {
    if (std::is_pointer<T>::value) { const void *p; memcpy(&p, &v, sizeof p); list[(*n)++] = p; }
}
}  // namespace emu

// kernel << emu::Launch(grid, block, smem, stream)(args...): what `kernel<<<...>>>(args...)` becomes
template <class... P, class... A>
static inline void operator<<(void (*kernel)(P...), emu::BoundLaunch<A...> &&bound) {
    static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
    struct Ctx { void (*kernel)(P...); std::tuple<A...> *args; };
    Ctx ctx = {kernel, &bound.args};
    const void *ptrs[sizeof...(A) + 1] = {};
    int n = 0;
    std::apply([&](const A &...a) { (emu::collect_pointer(ptrs, &n, a), ...); }, bound.args);
    emu::launch(bound.cfg, (const void *)kernel,
                [](void *c) {
                    Ctx *x = (Ctx *)c;
                    std::apply([&](A &...a) { x->kernel(a...); }, *x->args);   // each thread gets copies
                },
                &ctx, ptrs, n);
}

#endif
