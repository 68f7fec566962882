// convert_reference.cpp: the CUDA toolkit's host-side bf16 / half conversions, for test_convert.cu.
// Built with the real cuda_bf16.h and cuda_fp16.h (host code only, no nvcc) when CUDA_HOME has them,
// with -DHAVE_CUDA_HEADERS; otherwise it reports that no reference is available.
#ifdef HAVE_CUDA_HEADERS
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <string.h>
extern "C" int convert_reference_available(void) { return 1; }
extern "C" unsigned short reference_float2bfloat16_rn(float f) {
    __nv_bfloat16 b = __float2bfloat16_rn(f);
    unsigned short u;
    memcpy(&u, &b, 2);
    return u;
}
extern "C" float reference_bfloat162float(unsigned short u) {
    __nv_bfloat16 b;
    memcpy(&b, &u, 2);
    return __bfloat162float(b);
}
extern "C" unsigned short reference_float2half_rn(float f) {
    __half h = __float2half_rn(f);
    unsigned short u;
    memcpy(&u, &h, 2);
    return u;
}
extern "C" float reference_half2float(unsigned short u) {
    __half h;
    memcpy(&h, &u, 2);
    return __half2float(h);
}
#else
extern "C" int convert_reference_available(void) { return 0; }
extern "C" unsigned short reference_float2bfloat16_rn(float) { return 0; }
extern "C" float reference_bfloat162float(unsigned short) { return 0; }
extern "C" unsigned short reference_float2half_rn(float) { return 0; }
extern "C" float reference_half2float(unsigned short) { return 0; }
#endif
