// test_convert.cu: the emulator's bf16 and half conversions against the CUDA toolkit's own
// cuda_bf16.h / cuda_fp16.h host code (convert_reference.cpp, built with the real headers when
// the toolkit is installed), over every 16-bit pattern and a sweep of 2^24 float bit patterns plus
// the special values; without the toolkit, against a table of known results.
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdio.h>

extern "C" int convert_reference_available(void);
extern "C" unsigned short reference_float2bfloat16_rn(float f);
extern "C" float reference_bfloat162float(unsigned short h);
extern "C" unsigned short reference_float2half_rn(float f);
extern "C" float reference_half2float(unsigned short h);

static int passed = 0, failed = 0;
static void check(const char *what, bool ok) {
    printf("convert %-52s %s\n", what, ok ? "ok" : "FAIL");
    if (ok) passed++; else failed++;
}
static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static bool same_float(float a, float b) { return bits(a) == bits(b) || (a != a && b != b); }

int main(void) {
    // known values (checked by hand against the rounding rule)
    struct { float f; unsigned short bf, h; } known[] = {
        {1.0f, 0x3f80, 0x3c00}, {-2.0f, 0xc000, 0xc000}, {0.0f, 0x0000, 0x0000}, {-0.0f, 0x8000, 0x8000},
        {from_bits(0x3f808000), 0x3f80, 0x3c04},   // bf16 tie, even stays
        {from_bits(0x3f818000), 0x3f82, 0x3c0c},   // bf16 tie, odd rounds up
        {65504.0f, 0x4780, 0x7bff}, {65520.0f, 0x4780, 0x7c00},   // half: max finite, rounds to inf
        {5.9604645e-8f, 0x3380, 0x0001},            // 2^-24: the smallest half subnormal
        {2.9802322e-8f, 0x3300, 0x0000},            // 2^-25: a tie to even (0)
        {INFINITY, 0x7f80, 0x7c00}, {NAN, 0x7fff, 0x7fff},
    };
    bool ok = true;
    for (auto &k : known) {
        ok &= __float2bfloat16_rn(k.f).__x == k.bf;
        ok &= __float2half_rn(k.f).__x == k.h;
    }
    check("known values", ok);

    if (!convert_reference_available()) {
        printf("convert: the CUDA toolkit headers were not found at build time: reference comparison skipped\n");
    } else {
        bool b2f = true, h2f = true;
        for (uint32_t u = 0; u < 65536; u++) {
            __nv_bfloat16 b; b.__x = (unsigned short)u;
            __half h; h.__x = (unsigned short)u;
            b2f &= same_float(__bfloat162float(b), reference_bfloat162float((unsigned short)u));
            h2f &= same_float(__half2float(h), reference_half2float((unsigned short)u));
        }
        check("bf16 -> float, all 65536 patterns vs cuda_bf16.h", b2f);
        check("half -> float, all 65536 patterns vs cuda_fp16.h", h2f);
        bool f2b = true, f2h = true;
        uint32_t first_bad_b = 0, first_bad_h = 0;
        for (uint64_t i = 0; i < (1u << 24); i++) {
            // every float whose low 8 bits are one of a few patterns that exercise ties and sticky bits
            static const uint32_t lows[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
            for (uint32_t lo : lows) {
                uint32_t u = (uint32_t)(i << 8) | lo;
                float f = from_bits(u);
                if (__float2bfloat16_rn(f).__x != reference_float2bfloat16_rn(f)) { if (f2b) first_bad_b = u; f2b = false; }
                if (__float2half_rn(f).__x != reference_float2half_rn(f)) { if (f2h) first_bad_h = u; f2h = false; }
            }
        }
        char what[96];
        snprintf(what, sizeof what, "float -> bf16, 2^24 x 5 patterns vs cuda_bf16.h%s", f2b ? "" : " (see below)");
        check(what, f2b);
        if (!f2b) printf("    first mismatch at float bits 0x%08x\n", first_bad_b);
        snprintf(what, sizeof what, "float -> half, 2^24 x 5 patterns vs cuda_fp16.h%s", f2h ? "" : " (see below)");
        check(what, f2h);
        if (!f2h) printf("    first mismatch at float bits 0x%08x\n", first_bad_h);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
