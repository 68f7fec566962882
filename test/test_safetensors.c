// test_safetensors.c: the safetensors reader/writer (model/safetensors.c).
//
// Valid files: the 104-byte example of reference-semantics.md §7.1 byte for byte, round trips
// (F32, F16, BF16, scalars, zero-size dims), hand-made bytes for every conversion, unaligned data.
// Hostile files (hostile-inputs.md §1, catalogue #1-#25, #30-#31): each must fail with -1 and a
// one-line error naming the file and, where there is one, the tensor. Hostile files are built byte by
// byte in a mkdtemp directory. The writer must leave nothing at the destination when it fails.
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "model/safetensors.h"
#include "test/run_suite.h"
#include "test/test_files.h"

static char tmpdir[256];   // created in main, inherited by the forked tests

// ----------------------------------------------------------------------------
// helpers

static char *tpath(const char *name) {
    char *p = path_join(tmpdir, name);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    if (n) ck_assert_uint_eq(fwrite(data, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

// [N as u64 LE][header text, as given: no padding][data_len bytes of data (0x11 pattern if data NULL)]
static char *make_st(const char *name, const char *header, const void *data, size_t data_len) {
    size_t hl = strlen(header), n = 8 + hl + data_len;
    unsigned char *b = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) b[8 + hl + i] = data ? ((const unsigned char *)data)[i] : 0x11;
    char *p = tpath(name);
    write_bytes(p, b, n);
    free(b);
    return p;
}

static unsigned char *slurp(const char *path, size_t *n) {
    char *d, err[512];
    ck_assert_msg(read_file(path, &d, n, err, sizeof err) == 0, "%s", err);
    return (unsigned char *)d;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int count_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

// open must fail; the message is one line, names the file, and contains each of the given strings
static void expect_open_fail(const char *path, const char *s1, const char *s2) {
    safetensors_file f;
    char err[512] = "";
    memset(&f, 0xAB, sizeof f);
    int rc = safetensors_open(&f, path, err, sizeof err);
    ck_assert_msg(rc == -1, "%s: expected failure, opened fine", path);
    ck_assert_msg(strstr(err, path), "error does not name the file: %s", err);
    ck_assert_msg(!strchr(err, '\n'), "error is not one line: %s", err);
    if (s1) ck_assert_msg(strstr(err, s1), "error lacks '%s': %s", s1, err);
    if (s2) ck_assert_msg(strstr(err, s2), "error lacks '%s': %s", s2, err);
    ck_assert_ptr_null(f.buf);        // left zeroed: close is safe
    ck_assert_int_eq(f.n_tensors, 0);
    safetensors_close(&f);
}

static void open_ok(safetensors_file *f, const char *path) {
    char err[512] = "";
    ck_assert_msg(safetensors_open(f, path, err, sizeof err) == 0, "open failed: %s", err);
}

static uint32_t fbits(float x) { uint32_t b; memcpy(&b, &x, 4); return b; }

// ----------------------------------------------------------------------------
// writer: exact layout and round trips

START_TEST(test_write_example_104_bytes) {
    // reference-semantics.md §7.1: one F32 tensor "a" of shape [2] with metadata is 104 bytes
    float a[2] = {1.0f, -2.5f};
    st_write_tensor t = {.name = "a", .ndim = 1, .shape = {2}, .data = a};
    char *p = tpath("example.safetensors"), err[512];
    ck_assert_msg(safetensors_write(p, &t, 1, err, sizeof err) == 0, "%s", err);
    size_t n;
    unsigned char *b = slurp(p, &n);
    ck_assert_uint_eq(n, 104);
    const unsigned char len[8] = {88, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_mem_eq(b, len, 8);
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   ";
    ck_assert_uint_eq(strlen(hdr), 88);
    ck_assert_mem_eq(b + 8, hdr, 88);
    const unsigned char data[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0};   // 1.0f, -2.5f LE
    ck_assert_mem_eq(b + 96, data, 8);
    free(b);

    safetensors_file f;
    open_ok(&f, p);
    ck_assert_uint_eq(f.data_start, 96);
    ck_assert_int_eq(f.n_tensors, 1);
    ck_assert_str_eq(safetensors_meta(&f, "format"), "pt");
    const st_tensor *ta = safetensors_find(&f, "a");
    ck_assert_ptr_nonnull(ta);
    ck_assert_int_eq(ta->dtype, ST_F32);
    ck_assert_int_eq(ta->ndim, 1);
    ck_assert_int_eq(ta->shape[0], 2);
    float out[2];
    ck_assert_int_eq(safetensors_read_f32(&f, ta, out, 2, err, sizeof err), 0);
    ck_assert(out[0] == 1.0f && out[1] == -2.5f);
    safetensors_close(&f);
    free(p);
}
END_TEST

START_TEST(test_round_trip_many) {
    // unsorted names, scalar, zero-size, 3-D, special values; read back bit-exact
    float w[2 * 3 * 4], s = 3.25f, e[1] = {0};
    for (int i = 0; i < 24; i++) w[i] = (float)i * 0.1f - 1.0f;
    w[0] = -0.0f; w[1] = INFINITY; w[2] = -INFINITY; w[3] = 1e-40f; /* subnormal */ w[4] = NAN;
    float bias[5] = {1, 2, 3, 4, 5};
    st_write_tensor ts[] = {
        {.name = "z.weight", .ndim = 3, .shape = {2, 3, 4}, .data = w},
        {.name = "scalar", .ndim = 0, .data = &s},
        {.name = "empty", .ndim = 2, .shape = {2, 0}, .data = NULL},
        {.name = "a.bias", .ndim = 1, .shape = {5}, .data = bias},
        {.name = "one", .ndim = 1, .shape = {1}, .data = e},
        {.name = "caf\xc3\xa9 \"quoted\" \\ \n", .ndim = 1, .shape = {1}, .data = e},
    };
    int nt = (int)(sizeof ts / sizeof ts[0]);
    char *p = tpath("many.safetensors"), err[512];
    ck_assert_msg(safetensors_write(p, ts, nt, err, sizeof err) == 0, "%s", err);
    safetensors_file f;
    open_ok(&f, p);
    ck_assert_int_eq(f.n_tensors, nt);
    ck_assert_uint_eq(f.data_start % 8, 0);   // header padded to a multiple of 8
    ck_assert_uint_eq((f.data_start - 8) % 8, 0);
    ck_assert_uint_eq(f.buf[f.data_start - 1], ' ');
    ck_assert_str_eq(safetensors_meta(&f, "format"), "pt");
    ck_assert_ptr_null(safetensors_meta(&f, "nope"));
    // all F32, so data order is name order (bytewise); zero-size "empty" sits between a.bias and
    // the next one with begin == end
    for (int i = 1; i < f.n_tensors; i++) {
        ck_assert_msg(strcmp(f.tensors[i - 1].name, f.tensors[i].name) < 0, "data order %s, %s",
                      f.tensors[i - 1].name, f.tensors[i].name);
        ck_assert_uint_eq(f.tensors[i].begin, f.tensors[i - 1].end);
    }
    for (int i = 0; i < nt; i++) {
        const st_tensor *t = safetensors_find(&f, ts[i].name);
        ck_assert_msg(t != NULL, "missing %s", ts[i].name);
        ck_assert_str_eq(t->name, ts[i].name);
        ck_assert_int_eq(t->dtype, ST_F32);
        ck_assert_int_eq(t->ndim, ts[i].ndim);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) { ck_assert_int_eq(t->shape[d], ts[i].shape[d]); numel *= (size_t)ts[i].shape[d]; }
        ck_assert_uint_eq(t->numel, numel);
        ck_assert_uint_eq(t->end - t->begin, 4 * numel);
        float out[24];
        ck_assert_msg(safetensors_read_f32(&f, t, out, numel, err, sizeof err) == 0, "%s", err);
        for (size_t k = 0; k < numel; k++) ck_assert_uint_eq(fbits(out[k]), fbits(ts[i].data[k]));
    }
    ck_assert_ptr_null(safetensors_find(&f, "absent"));
    ck_assert_ptr_null(safetensors_find(&f, ""));
    ck_assert_ptr_null(safetensors_find(&f, "a"));
    // n must equal numel
    float out[24];
    ck_assert_int_eq(safetensors_read_f32(&f, safetensors_find(&f, "a.bias"), out, 4, err, sizeof err), -1);
    ck_assert(strstr(err, p) && strstr(err, "'a.bias'"));
    safetensors_close(&f);
    safetensors_close(&f);   // closing twice is harmless
    free(p);
}
END_TEST

START_TEST(test_write_f16_bf16) {
    // exactly representable values survive; halfway cases round to even; order F32, BF16, F16
    float v[6] = {1.0f, -2.0f, 65504.0f, 5.9604644775390625e-08f /* 2^-24 */, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f};
    float vb[4] = {1.0f, -3.0f, 1.0f + 0x1p-8f /* halfway: even -> 1 */, 1.0f + 3 * 0x1p-8f /* -> 1 + 2^-6 */};
    float big[2] = {70000.0f, NAN};
    st_write_tensor ts[] = {
        {.name = "h", .ndim = 1, .shape = {6}, .data = v, .dtype = ST_F16},
        {.name = "b", .ndim = 1, .shape = {4}, .data = vb, .dtype = ST_BF16},
        {.name = "x", .ndim = 1, .shape = {2}, .data = big, .dtype = ST_F16},
        {.name = "z", .ndim = 1, .shape = {1}, .data = v},
    };
    char *p = tpath("half.safetensors"), err[512];
    ck_assert_msg(safetensors_write(p, ts, 4, err, sizeof err) == 0, "%s", err);
    safetensors_file f;
    open_ok(&f, p);
    ck_assert_str_eq(f.tensors[0].name, "z");   // F32 first
    ck_assert_str_eq(f.tensors[1].name, "b");   // then BF16 (reference enum order)
    ck_assert_str_eq(f.tensors[2].name, "h");   // then F16 by name
    ck_assert_str_eq(f.tensors[3].name, "x");
    float o[6];
    const st_tensor *h = safetensors_find(&f, "h");
    ck_assert_int_eq(h->dtype, ST_F16);
    ck_assert_uint_eq(h->end - h->begin, 12);
    ck_assert_int_eq(safetensors_read_f32(&f, h, o, 6, err, sizeof err), 0);
    float want[6] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, 1.0f, 1.0f + 0x1p-9f};
    for (int i = 0; i < 6; i++) ck_assert_msg(o[i] == want[i], "f16[%d] = %a, want %a", i, o[i], want[i]);
    const st_tensor *b = safetensors_find(&f, "b");
    ck_assert_int_eq(b->dtype, ST_BF16);
    ck_assert_int_eq(safetensors_read_f32(&f, b, o, 4, err, sizeof err), 0);
    float wantb[4] = {1.0f, -3.0f, 1.0f, 1.0f + 0x1p-6f};
    for (int i = 0; i < 4; i++) ck_assert_msg(o[i] == wantb[i], "bf16[%d] = %a, want %a", i, o[i], wantb[i]);
    ck_assert_int_eq(safetensors_read_f32(&f, safetensors_find(&f, "x"), o, 2, err, sizeof err), 0);
    ck_assert(isinf(o[0]) && o[0] > 0);   // above the half range
    ck_assert(isnan(o[1]));
    safetensors_close(&f);
    free(p);
}
END_TEST

START_TEST(test_write_extra_metadata) {
    float a[1] = {7};
    st_write_tensor t = {.name = "a", .ndim = 1, .shape = {1}, .data = a};
    st_meta m[2] = {{"step", "100"}, {"note", "h\xc3\xa9llo \"x\""}};
    char *p = tpath("meta.safetensors"), err[512];
    ck_assert_msg(safetensors_write_meta(p, &t, 1, m, 2, err, sizeof err) == 0, "%s", err);
    safetensors_file f;
    open_ok(&f, p);
    ck_assert_int_eq(f.n_meta, 3);
    ck_assert_str_eq(f.meta[0].key, "format");
    ck_assert_str_eq(safetensors_meta(&f, "step"), "100");
    ck_assert_str_eq(safetensors_meta(&f, "note"), "h\xc3\xa9llo \"x\"");
    safetensors_close(&f);
    free(p);
}
END_TEST

// I64 tensors (the parity dump's inputs) are written from int64 data, first in the file, and read back exactly
START_TEST(test_write_i64) {
    const int64_t ids[4] = {0, -100, 30521, INT64_MAX};
    float a[1] = {0.5f};
    st_write_tensor ts[2] = {{.name = "a", .ndim = 1, .shape = {1}, .data = a},
                             {.name = "ids", .ndim = 2, .shape = {2, 2}, .dtype = ST_I64, .data_i64 = ids}};
    char *p = tpath("i64.safetensors"), err[512];
    ck_assert_msg(safetensors_write(p, ts, 2, err, sizeof err) == 0, "%s", err);
    safetensors_file f;
    open_ok(&f, p);
    const st_tensor *t = safetensors_find(&f, "ids");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, ST_I64);
    ck_assert_uint_eq(t->begin, 0);
    int64_t back[4];
    ck_assert_msg(safetensors_read_i64(&f, t, back, 4, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < 4; i++) ck_assert(back[i] == ids[i]);
    safetensors_close(&f);
    free(p);
}
END_TEST

START_TEST(test_write_empty) {
    char *p = tpath("none.safetensors"), err[512];
    ck_assert_msg(safetensors_write(p, NULL, 0, err, sizeof err) == 0, "%s", err);
    safetensors_file f;
    open_ok(&f, p);
    ck_assert_int_eq(f.n_tensors, 0);
    ck_assert_uint_eq(f.size, f.data_start);
    ck_assert_ptr_null(safetensors_find(&f, "a"));
    safetensors_close(&f);
    free(p);
}
END_TEST

START_TEST(test_write_many_tensors) {
    // 5000 tensors: name order, lookup of each, and the by-name index
    enum { N = 5000 };
    st_write_tensor *ts = calloc(N, sizeof *ts);
    char (*names)[16] = calloc(N, 16);
    float *vals = malloc(N * sizeof *vals);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], 16, "t%d", (i * 7919) % N);
        vals[i] = (float)i;
        ts[i] = (st_write_tensor){.name = names[i], .ndim = 1, .shape = {1}, .data = &vals[i]};
    }
    char *p = tpath("big.safetensors"), err[512];
    ck_assert_msg(safetensors_write(p, ts, N, err, sizeof err) == 0, "%s", err);
    safetensors_file f;
    open_ok(&f, p);
    ck_assert_int_eq(f.n_tensors, N);
    for (int i = 0; i < N; i++) {
        const st_tensor *t = safetensors_find(&f, names[i]);
        ck_assert_ptr_nonnull(t);
        float o;
        ck_assert_int_eq(safetensors_read_f32(&f, t, &o, 1, err, sizeof err), 0);
        ck_assert(o == vals[i]);
    }
    safetensors_close(&f);
    free(p); free(ts); free(names); free(vals);
}
END_TEST

// ----------------------------------------------------------------------------
// writer failures leave nothing behind

START_TEST(test_write_fail_nonexistent_dir) {
    float a[1] = {1};
    st_write_tensor t = {.name = "a", .ndim = 1, .shape = {1}, .data = a};
    char *d = tpath("no_such_dir"), *p = path_join(d, "m.safetensors"), err[512] = "";
    ck_assert_int_eq(safetensors_write(p, &t, 1, err, sizeof err), -1);
    ck_assert_msg(strstr(err, p), "error does not name the file: %s", err);
    ck_assert(!file_exists(p));
    ck_assert(!file_exists(d));
    free(d); free(p);
}
END_TEST

// each bad write: -1, the message names the file (and the problem), nothing new in the directory, and
// an existing file at the destination keeps its bytes
static void expect_write_fail(const st_write_tensor *ts, int n, const char *what) {
    char *sub = tpath("wfail");
    mkdir(sub, 0700);
    char *p = path_join(sub, "out.safetensors"), err[512] = "";
    ck_assert_int_eq(count_dir_entries(sub), 0);
    ck_assert_int_eq(safetensors_write(p, ts, n, err, sizeof err), -1);
    ck_assert_msg(strstr(err, p) && strstr(err, what), "bad message: %s", err);
    ck_assert_int_eq(count_dir_entries(sub), 0);   // no file, no temporary
    // now with an existing good file at the destination: untouched
    write_bytes(p, "previous", 8);
    ck_assert_int_eq(safetensors_write(p, ts, n, err, sizeof err), -1);
    size_t len;
    unsigned char *b = slurp(p, &len);
    ck_assert_uint_eq(len, 8);
    ck_assert_mem_eq(b, "previous", 8);
    ck_assert_int_eq(count_dir_entries(sub), 1);
    free(b);
    remove(p);
    rmdir(sub);
    free(sub); free(p);
}

START_TEST(test_write_fail_duplicate) {
    float a[2] = {1, 2};
    st_write_tensor ts[3] = {
        {.name = "x", .ndim = 1, .shape = {1}, .data = a},
        {.name = "y", .ndim = 1, .shape = {1}, .data = a},
        {.name = "x", .ndim = 1, .shape = {2}, .data = a, .dtype = ST_F16},   // same name, other dtype
    };
    expect_write_fail(ts, 3, "duplicate tensor name 'x'");
}
END_TEST

START_TEST(test_write_fail_bad_inputs) {
    float a[2] = {1, 2};
    st_write_tensor reserved = {.name = "__metadata__", .ndim = 1, .shape = {1}, .data = a};
    expect_write_fail(&reserved, 1, "reserved");
    st_write_tensor badutf = {.name = "a\xff", .ndim = 1, .shape = {1}, .data = a};
    expect_write_fail(&badutf, 1, "UTF-8");
    st_write_tensor neg = {.name = "n", .ndim = 1, .shape = {-1}, .data = a};
    expect_write_fail(&neg, 1, "shape[0]");
    st_write_tensor rank = {.name = "r", .ndim = 9, .data = a};
    expect_write_fail(&rank, 1, "rank 9");
    st_write_tensor nodata = {.name = "d", .ndim = 1, .shape = {2}, .data = NULL};
    expect_write_fail(&nodata, 1, "no data");
    st_write_tensor i32 = {.name = "i", .ndim = 1, .shape = {1}, .data = a, .dtype = ST_I32};
    expect_write_fail(&i32, 1, "I32");
    st_write_tensor i64 = {.name = "i", .ndim = 1, .shape = {1}, .data = a, .dtype = ST_I64};  // float data only
    expect_write_fail(&i64, 1, "no data");
    st_write_tensor huge = {.name = "h", .ndim = 3, .shape = {1ll << 32, 1ll << 32, 16}, .data = a};
    expect_write_fail(&huge, 1, "'h'");
}
END_TEST

// ----------------------------------------------------------------------------
// conversions on hand-made bytes

START_TEST(test_read_f16_bytes) {
    const uint16_t h[] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x3555, 0x8001};
    const float want[] = {1.0f, -2.0f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f, 65504.0f, INFINITY, -INFINITY, NAN, -0.0f,
                          0x1.554p-2f, -0x1p-24f};
    enum { N = sizeof h / sizeof h[0] };
    unsigned char d[2 * N];
    for (int i = 0; i < N; i++) { d[2 * i] = (unsigned char)h[i]; d[2 * i + 1] = (unsigned char)(h[i] >> 8); }
    char hdr[200];
    snprintf(hdr, sizeof hdr, "{\"h\":{\"dtype\":\"F16\",\"shape\":[%d],\"data_offsets\":[0,%d]}}", N, 2 * N);
    char *p = make_st("f16.safetensors", hdr, d, sizeof d), err[512];
    safetensors_file f;
    open_ok(&f, p);
    ck_assert_int_eq(f.n_meta, 0);
    float o[N];
    ck_assert_msg(safetensors_read_f32(&f, safetensors_find(&f, "h"), o, N, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < N; i++) {
        if (isnan(want[i])) ck_assert_msg(isnan(o[i]), "f16 %04x", h[i]);
        else ck_assert_msg(fbits(o[i]) == fbits(want[i]), "f16 %04x -> %a, want %a", h[i], o[i], want[i]);
    }
    // every half converts exactly to the value ldexp gives it
    for (uint32_t x = 0; x < 0x10000; x++) {
        unsigned e = (x >> 10) & 31, m = x & 1023;
        if (e == 31) continue;
        double v = e ? ldexp(1024 + m, (int)e - 25) : ldexp(m, -24);
        if (x & 0x8000) v = -v;
        unsigned char b2[2] = {(unsigned char)x, (unsigned char)(x >> 8)};
        memcpy(f.buf + f.data_start, b2, 2);
        float r;
        ck_assert_int_eq(safetensors_read_f32(&f, safetensors_find(&f, "h"), o, N, err, sizeof err), 0);
        r = o[0];
        ck_assert_msg((double)r == v && !!signbit(r) == !!signbit(v), "f16 %04x -> %a, want %a", x, r, v);
    }
    safetensors_close(&f);
    free(p);
}
END_TEST

START_TEST(test_read_bf16_f64_bytes) {
    // BF16: 1, -3, inf, smallest subnormal 2^-133; F64: 1.5, -2.25, 1/3 rounded, 1e300 -> inf
    const unsigned char bf[] = {0x80, 0x3f, 0x40, 0xc0, 0x80, 0x7f, 0x01, 0x00};
    double dv[4] = {1.5, -2.25, 1.0 / 3.0, 1e300};
    unsigned char d[8 + 32];
    memcpy(d, bf, 8);
    for (int i = 0; i < 4; i++) {
        uint64_t b;
        memcpy(&b, &dv[i], 8);
        for (int k = 0; k < 8; k++) d[8 + 8 * i + k] = (unsigned char)(b >> (8 * k));
    }
    char *p = make_st("bf16.safetensors",
                      "{\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                      "\"d\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[8,40]}}", d, sizeof d), err[512];
    safetensors_file f;
    open_ok(&f, p);
    float o[4];
    ck_assert_msg(safetensors_read_f32(&f, safetensors_find(&f, "b"), o, 4, err, sizeof err) == 0, "%s", err);
    ck_assert(o[0] == 1.0f && o[1] == -3.0f && isinf(o[2]) && o[3] == 0x1p-133f);
    ck_assert_msg(safetensors_read_f32(&f, safetensors_find(&f, "d"), o, 4, err, sizeof err) == 0, "%s", err);
    ck_assert(o[0] == 1.5f && o[1] == -2.25f && o[2] == (float)(1.0 / 3.0) && isinf(o[3]));
    int64_t iv[4];
    ck_assert_int_eq(safetensors_read_i64(&f, safetensors_find(&f, "d"), iv, 4, err, sizeof err), -1);
    ck_assert_msg(strstr(err, p) && strstr(err, "'d'") && strstr(err, "F64"), "%s", err);
    safetensors_close(&f);
    free(p);
}
END_TEST

START_TEST(test_read_integers) {
    // one tensor per integer dtype, laid back to back, header deliberately unpadded (odd offsets)
    unsigned char d[128];
    size_t k = 0;
    int64_t i64v[2] = {-5, 1234567890123ll};
    for (int i = 0; i < 2; i++) for (int b = 0; b < 8; b++) d[k++] = (unsigned char)((uint64_t)i64v[i] >> (8 * b));
    int32_t i32v[2] = {-7, 2000000000};
    for (int i = 0; i < 2; i++) for (int b = 0; b < 4; b++) d[k++] = (unsigned char)((uint32_t)i32v[i] >> (8 * b));
    d[k++] = 0xfe; d[k++] = 0xff;            // I16 -2
    d[k++] = 0x80;                           // I8 -128
    d[k++] = 0xff;                           // U8 255
    d[k++] = 0x00; d[k++] = 0x02;            // BOOL 0, 1
    d[k++] = 0xff; d[k++] = 0xff;            // U16 65535
    d[k++] = 0xff; d[k++] = 0xff; d[k++] = 0xff; d[k++] = 0xff;   // U32 4294967295
    for (int b = 0; b < 8; b++) d[k++] = b == 7 ? 0x7f : 0xff;   // U64 INT64_MAX
    for (int b = 0; b < 8; b++) d[k++] = 0xff;                  // U64 2^64-1: does not fit
    ck_assert_uint_eq(k, 16 + 8 + 2 + 1 + 1 + 2 + 2 + 4 + 16);
    char *p = make_st("ints.safetensors",
                      "{\"i64\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                      "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[16,24]},"
                      "\"i16\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[24,26]},"
                      "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[26,27]},"
                      "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[27,28]},"
                      "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[28,30]},"
                      "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[30,32]},"
                      "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[32,36]},"
                      "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[36,44]},"
                      "\"u64big\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[44,52]}}", d, k), err[512];
    safetensors_file f;
    open_ok(&f, p);
    ck_assert_uint_ne(f.data_start % 8, 0);   // unaligned on purpose
    int64_t o[2];
#define RD(name, n) ck_assert_msg(safetensors_read_i64(&f, safetensors_find(&f, name), o, n, err, sizeof err) == 0, "%s", err)
    RD("i64", 2); ck_assert(o[0] == -5 && o[1] == 1234567890123ll);
    RD("i32", 2); ck_assert(o[0] == -7 && o[1] == 2000000000);
    RD("i16", 1); ck_assert(o[0] == -2);
    RD("i8", 1); ck_assert(o[0] == -128);
    RD("u8", 1); ck_assert(o[0] == 255);
    RD("bool", 2); ck_assert(o[0] == 0 && o[1] == 1);
    RD("u16", 1); ck_assert(o[0] == 65535);
    RD("u32", 1); ck_assert(o[0] == 4294967295ll);
    RD("u64", 1); ck_assert(o[0] == INT64_MAX);
#undef RD
    ck_assert_int_eq(safetensors_read_i64(&f, safetensors_find(&f, "u64big"), o, 1, err, sizeof err), -1);
    ck_assert_msg(strstr(err, p) && strstr(err, "'u64big'"), "%s", err);
    float fo[2];
    ck_assert_int_eq(safetensors_read_f32(&f, safetensors_find(&f, "i64"), fo, 2, err, sizeof err), -1);
    ck_assert_msg(strstr(err, p) && strstr(err, "'i64'") && strstr(err, "I64"), "%s", err);
    ck_assert_int_eq(safetensors_read_i64(&f, safetensors_find(&f, "i64"), o, 1, err, sizeof err), -1);
    ck_assert_int_eq(safetensors_read_f32(&f, NULL, fo, 1, err, sizeof err), -1);
    safetensors_close(&f);
    free(p);
}
END_TEST

START_TEST(test_scalar_zero_size_unaligned) {
    // unpadded header (length 117, odd), scalar first, then zero-size tensors sharing an offset, F64
    // at a data offset that is not a multiple of 8
    unsigned char d[4 + 8];
    float s = -1.75f;
    double x = 0.5;
    memcpy(d, &s, 4);   // host is little-endian (x86/arm64); checked below
    memcpy(d + 4, &x, 8);
    const uint16_t one = 1;
    ck_assert_int_eq(*(const unsigned char *)&one, 1);
    const char *hdr = "  {\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                      "\"z\":{\"dtype\":\"F32\",\"shape\":[3,0,2],\"data_offsets\":[4,4]},"
                      "\"z2\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[4,4]},"
                      "\"x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[4,12]}} \n";
    char *p = make_st("scalar.safetensors", hdr, d, sizeof d), err[512];
    safetensors_file f;
    open_ok(&f, p);
    ck_assert_uint_ne(f.data_start % 4, 0);
    const st_tensor *ts = safetensors_find(&f, "s"), *tz = safetensors_find(&f, "z"), *tx = safetensors_find(&f, "x");
    ck_assert_int_eq(ts->ndim, 0);
    ck_assert_uint_eq(ts->numel, 1);
    ck_assert_int_eq(tz->ndim, 3);
    ck_assert_uint_eq(tz->numel, 0);
    float o[1];
    ck_assert_int_eq(safetensors_read_f32(&f, ts, o, 1, err, sizeof err), 0);
    ck_assert(o[0] == -1.75f);
    ck_assert_int_eq(safetensors_read_f32(&f, tz, o, 0, err, sizeof err), 0);
    ck_assert_int_eq(safetensors_read_f32(&f, tx, o, 1, err, sizeof err), 0);
    ck_assert(o[0] == 0.5f);
    safetensors_close(&f);
    free(p);
}
END_TEST

// ----------------------------------------------------------------------------
// hostile files: raw bytes

START_TEST(test_hostile_sizes) {
    char *p = make_st("x", "", NULL, 0);   // we overwrite it below
    write_bytes(p, "", 0);
    expect_open_fail(p, "file is 0 bytes", NULL);
    write_bytes(p, "\x08\0\0\0\0\0\0", 7);
    expect_open_fail(p, "file is 7 bytes", NULL);
    // N = 2^64 - 1
    write_bytes(p, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
    expect_open_fail(p, "header length 18446744073709551615 exceeds limit", NULL);
    // N = 2^63 + 2 (would wrap 8 + N in unsigned arithmetic on 64-bit size_t: checked by subtraction)
    write_bytes(p, "\x02\0\0\0\0\0\0\x80{}", 10);
    expect_open_fail(p, "exceeds limit", NULL);
    // N past EOF
    unsigned char b[120] = {0x90, 0x01};   // N = 400
    memcpy(b + 8, "{}", 2);
    write_bytes(p, b, sizeof b);
    expect_open_fail(p, "header length 400 but only 112 bytes follow", NULL);
    // N = 100,000,001: above the format limit even when the caller raises the cap
    unsigned char c[10] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, '{', '}'};
    write_bytes(p, c, sizeof c);
    safetensors_file f;
    char err[512];
    ck_assert_int_eq(safetensors_open_ex(&f, p, (size_t)1 << 40, err, sizeof err), -1);
    ck_assert_msg(strstr(err, p) && strstr(err, "exceeds limit 100000000"), "%s", err);
    // nonexistent file; a directory
    char *q = tpath("does_not_exist.safetensors");
    expect_open_fail(q, "cannot open", NULL);
    expect_open_fail(tmpdir, "not a regular file", NULL);
    char *fifo = tpath("fifo.safetensors");   // must not block waiting for a writer
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    expect_open_fail(fifo, "not a regular file", NULL);
    free(fifo);
    // {} and nothing else is a valid empty file; {} plus one byte is trailing data
    write_bytes(p, "\x02\0\0\0\0\0\0\0{}", 10);
    open_ok(&f, p);
    ck_assert_int_eq(f.n_tensors, 0);
    safetensors_close(&f);
    write_bytes(p, "\x02\0\0\0\0\0\0\0{}!", 11);
    expect_open_fail(p, "trailing", NULL);
    free(p); free(q);
}
END_TEST

START_TEST(test_hostile_bytes_in_header) {
    char *p = tpath("bytes.safetensors");
    // invalid UTF-8 (0xFF), overlong '/', surrogate, NUL byte, all inside a tensor name
    struct { const char *name; size_t len; const char *msg; } cases[] = {
        {"a\xff", 2, "not valid UTF-8 at byte 11"},
        {"a\xc0\xaf", 3, "not valid UTF-8"},
        {"a\xed\xa0\x80", 4, "not valid UTF-8"},
        {"a\xf4\x90\x80\x80", 5, "not valid UTF-8"},   // above U+10FFFF
        {"a\0x", 3, "NUL byte at byte 11"},
        {"a\x01", 2, "control character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char b[128];
        size_t k = 8;
        b[k++] = '{'; b[k++] = '"';
        memcpy(b + k, cases[i].name, cases[i].len); k += cases[i].len;
        const char *rest = "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}";
        memcpy(b + k, rest, strlen(rest)); k += strlen(rest);
        for (int j = 0; j < 8; j++) b[j] = (unsigned char)((k - 8) >> (8 * j));
        write_bytes(p, b, k);
        expect_open_fail(p, cases[i].msg, NULL);
    }
    free(p);
}
END_TEST

// hostile files: header text (table-driven, one test per row)
typedef struct {
    const char *header;
    size_t data_len;   // data bytes after the header
    const char *msg1, *msg2;
} hostile_case;

#define T1(name, dt, shape, off) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" off "}"

static const hostile_case hostile[] = {
    {"hello", 0, "invalid JSON", NULL},
    {"{\"a\":{\"dtype\":\"F32\"", 0, "invalid JSON", NULL},                       // truncated
    {"{\"a\":1,", 0, "invalid JSON", NULL},                                       // CVE-2023-53154 shape
    {"{}{}", 0, "invalid JSON", NULL},                                            // two objects
    {"", 0, "invalid JSON", NULL},                                                // empty header
    {"[1,2]", 0, "expected a JSON object", NULL},
    {"\"x\"", 0, "expected a JSON object", NULL},
    {"{" T1("a", "F33", "[1]", "[0,4]") "}", 4, "'a'", "unknown dtype 'F33'"},
    {"{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'a'", "dtype must be a string"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'a'", "missing \"dtype\""},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "'a'", "missing \"shape\""},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "'a'", "missing \"data_offsets\""},
    {"{\"a\":5}", 0, "'a'", "must be an object"},
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'a'", "duplicate key 'dtype'"},
    {"{" T1("a", "F32", "[-1]", "[0,4]") "}", 4, "'a'", "shape[0] must be an integer"},
    {"{" T1("a", "F32", "[1,1.5]", "[0,4]") "}", 4, "'a'", "shape[1] must be an integer"},
    {"{" T1("a", "F32", "[\"2\"]", "[0,8]") "}", 8, "'a'", "shape[0]"},
    {"{" T1("a", "F32", "[true]", "[0,4]") "}", 4, "'a'", "shape[0]"},
    {"{" T1("a", "F32", "[null]", "[0,4]") "}", 4, "'a'", "shape[0]"},
    {"{" T1("a", "F32", "[1e999]", "[0,4]") "}", 4, "'a'", "shape[0]"},
    {"{" T1("a", "F32", "[18446744073709551616]", "[0,4]") "}", 4, "'a'", "shape[0]"},
    {"{" T1("a", "F32", "[9007199254740993]", "[0,4]") "}", 4, "'a'", "shape[0]"},   // > 2^53
    {"{" T1("a", "F32", "2", "[0,8]") "}", 8, "'a'", "shape must be an array"},
    {"{" T1("a", "F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, "'a'", "rank 9 exceeds 8"},
    {"{" T1("a", "F32", "[4294967296,4294967296,16]", "[0,4]") "}", 4, "'a'", "overflows"},
    {"{" T1("a", "F64", "[2147483648,2147483648]", "[0,4]") "}", 4, "'a'", "overflows"},   // numel ok, bytes not
    {"{" T1("a", "F32", "[2]", "[0,8]") "}", 4, "'a'", "ends at 8 but the data buffer has 4 bytes"},
    {"{" T1("a", "F32", "[2]", "[0,8]") "}", 0, "'a'", "ends at 8"},
    {"{" T1("a", "F32", "[2]", "[0]") "}", 8, "'a'", "data_offsets must be [begin, end]"},
    {"{" T1("a", "F32", "[2]", "[0,8,8]") "}", 8, "'a'", "data_offsets must be"},
    {"{" T1("a", "F32", "[2]", "[\"0\",8]") "}", 8, "'a'", "data_offsets must be"},
    {"{" T1("a", "F32", "[2]", "[-8,0]") "}", 8, "'a'", "data_offsets must be"},
    {"{" T1("a", "F32", "[2]", "[0,8.5]") "}", 8, "'a'", "data_offsets must be"},
    {"{" T1("a", "F32", "[2]", "{\"0\":8}") "}", 8, "'a'", "data_offsets must be"},
    {"{" T1("a", "F32", "[0]", "[9007199254740992,9007199254740992]") "}", 0, "'a'", "data_offsets must be"},
    {"{" T1("a", "F32", "[0]", "[8,4]") "}", 8, "'a'", "end 4 < begin 8"},
    {"{" T1("a", "F32", "[2,2]", "[0,12]") "}", 12, "'a'", "shape [2,2] F32 needs 16 bytes, offsets give 12"},
    {"{" T1("a", "F32", "[2]", "[0,8]") "," T1("b", "F32", "[2]", "[4,12]") "}", 12, "'b'", "overlap"},
    {"{" T1("a", "F32", "[2]", "[0,8]") "," T1("b", "F32", "[2]", "[0,8]") "}", 8, "'b'", "'a' ends at 8 (overlap)"},
    {"{" T1("a", "F32", "[2]", "[0,8]") "," T1("b", "F32", "[2]", "[12,20]") "}", 20, "'b'", "begins at 12, previous tensor 'a' ends at 8 (gap)"},
    {"{" T1("a", "F32", "[2]", "[4,12]") "}", 12, "'a'", "must begin at 0"},
    {"{" T1("a", "F32", "[2]", "[0,8]") "}", 12, "data ends at byte", "4 trailing bytes"},
    {"{" T1("a", "F32", "[2]", "[0,8]") "," T1("a", "F32", "[2]", "[8,16]") "}", 16, "duplicate tensor name 'a'", NULL},
    {"{" T1("a", "F32", "[2]", "[0,8]") "," T1("a", "F32", "[2]", "[0,8]") "}", 8, "duplicate tensor name 'a'", NULL},
    {"{\"__metadata__\":{\"n\":0}}", 0, "__metadata__ values must be strings", "'n'"},
    {"{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "__metadata__ values must be strings", NULL},
    {"{\"__metadata__\":{\"k\":null}}", 0, "__metadata__ values must be strings", NULL},
    {"{\"__metadata__\":\"pt\"}", 0, "__metadata__ must be an object", NULL},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate \"__metadata__\"", NULL},
    {"{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "duplicate __metadata__ key 'k'", NULL},
    {"{" T1("__metadata__", "F32", "[1]", "[0,4]") "}", 4, "__metadata__ values must be strings", NULL},   // reserved name
    {"{" T1("a\\u0000x", "F32", "[1]", "[0,4]") "," T1("a\\u0000y", "F32", "[1]", "[4,8]") "}", 8, "\\u0000", NULL},
    {"{" T1("x\\uZZZZy", "F32", "[1]", "[0,4]") "}", 4, "invalid \\u escape", NULL},
    {"{" T1("x\\u12", "F32", "[1]", "[0,4]") "}", 4, "invalid \\u escape", NULL},
    {"{" T1("x\\ud800", "F32", "[1]", "[0,4]") "}", 4, "invalid JSON", NULL},   // lone surrogate (cJSON)
    {"{" T1("x\\q", "F32", "[1]", "[0,4]") "}", 4, "invalid JSON", NULL},
    {"{\"a\":[[[[1]]]]}", 0, "nests deeper than 3", NULL},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", 4, "nests deeper than 3", NULL},
    {"\x01{}", 0, "control character 0x01", NULL},
    {"{\"a\":\"x\ty\"}", 0, "raw control character 0x09", NULL},
};
enum { N_HOSTILE = sizeof hostile / sizeof hostile[0] };

START_TEST(test_hostile_header) {
    const hostile_case *c = &hostile[_i];
    char name[64];
    snprintf(name, sizeof name, "hostile_%02d.safetensors", _i);
    char *p = make_st(name, c->header, NULL, c->data_len);
    expect_open_fail(p, c->msg1, c->msg2);
    free(p);
}
END_TEST

// hostile: every truncation and many single-byte corruptions of a valid file must never crash or read
// out of bounds (run under ASan/UBSan to make "never" meaningful); truncations must all fail
START_TEST(test_truncations_and_flips) {
    float a[3] = {1, 2, 3}, s = 4;
    st_write_tensor ts[2] = {{.name = "a", .ndim = 1, .shape = {3}, .data = a},
                             {.name = "s", .ndim = 0, .data = &s, .dtype = ST_F16}};
    char *p = tpath("fuzzbase.safetensors"), err[512];
    ck_assert_msg(safetensors_write(p, ts, 2, err, sizeof err) == 0, "%s", err);
    size_t n;
    unsigned char *b = slurp(p, &n);
    safetensors_file f;
    for (size_t len = 0; len < n; len++) {
        ck_assert_int_eq(safetensors_open_buffer(&f, "trunc", b, len, ST_DEFAULT_MAX_HEADER, err, sizeof err), -1);
        ck_assert(strstr(err, "trunc") == err);
    }
    const unsigned char vals[] = {0x00, 0x01, 0x20, 0x22, 0x2c, 0x30, 0x39, 0x5b, 0x5c, 0x5d, 0x7b, 0x7d, 0x7f, 0x80, 0xc3, 0xff};
    float o[3];
    for (size_t i = 0; i < n; i++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            unsigned char save = b[i];
            b[i] = vals[v];
            if (safetensors_open_buffer(&f, "flip", b, n, ST_DEFAULT_MAX_HEADER, err, sizeof err) == 0) {
                for (int t = 0; t < f.n_tensors; t++) {   // whatever parsed must be readable in bounds
                    const st_tensor *tt = &f.tensors[t];
                    ck_assert_uint_le(tt->end, f.size - f.data_start);
                    if (tt->numel <= 3) safetensors_read_f32(&f, tt, o, tt->numel, err, sizeof err);
                }
                safetensors_close(&f);
            } else {
                ck_assert(strstr(err, "flip") == err);
                ck_assert_ptr_null(f.buf);
            }
            b[i] = save;
        }
    }
    free(b);
    free(p);
}
END_TEST

// ----------------------------------------------------------------------------
// sharded checkpoints

static char *make_shards(const char *sub) {
    char *d = tpath(sub);
    ck_assert_int_eq(mkdir(d, 0700), 0);
    float a[2] = {1, 2}, b[3] = {3, 4, 5}, c[1] = {6};
    st_write_tensor s1[2] = {{.name = "enc.a", .ndim = 1, .shape = {2}, .data = a},
                             {.name = "enc.b", .ndim = 1, .shape = {3}, .data = b}};
    st_write_tensor s2[1] = {{.name = "head.c", .ndim = 1, .shape = {1}, .data = c}};
    char err[512], *p1 = path_join(d, "model-00001-of-00002.safetensors"), *p2 = path_join(d, "model-00002-of-00002.safetensors");
    ck_assert_msg(safetensors_write(p1, s1, 2, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(safetensors_write(p2, s2, 1, err, sizeof err) == 0, "%s", err);
    free(p1); free(p2);
    return d;
}

static char *write_index(const char *dir, const char *json) {
    char *p = path_join(dir, "model.safetensors.index.json");
    write_bytes(p, json, strlen(json));
    return p;
}

#define GOOD_MAP "\"enc.a\":\"model-00001-of-00002.safetensors\",\"enc.b\":\"model-00001-of-00002.safetensors\"," \
                 "\"head.c\":\"model-00002-of-00002.safetensors\""

START_TEST(test_sharded_ok) {
    char *d = make_shards("shards_ok"), err[512];
    char *ip = write_index(d, "{\"metadata\":{\"total_size\":24},\"weight_map\":{" GOOD_MAP "}}");
    safetensors_set s;
    ck_assert_msg(safetensors_set_open_dir(&s, d, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(s.n_files, 2);
    ck_assert_int_eq(s.n_entries, 3);
    ck_assert_str_eq(s.warning, "");
    const safetensors_file *f = NULL;
    const st_tensor *t = safetensors_set_find(&s, "head.c", &f);
    ck_assert_ptr_nonnull(t);
    ck_assert(strstr(f->path, "model-00002-of-00002.safetensors"));
    float o[3];
    ck_assert_int_eq(safetensors_read_f32(f, t, o, 1, err, sizeof err), 0);
    ck_assert(o[0] == 6);
    t = safetensors_set_find(&s, "enc.b", &f);
    ck_assert_int_eq(safetensors_read_f32(f, t, o, 3, err, sizeof err), 0);
    ck_assert(o[0] == 3 && o[2] == 5);
    ck_assert_ptr_null(safetensors_set_find(&s, "nope", &f));
    ck_assert_ptr_null(f);
    safetensors_set_close(&s);
    // total_size mismatch: a warning, not an error
    free(write_index(d, "{\"metadata\":{\"total_size\":25},\"weight_map\":{" GOOD_MAP "}}"));
    ck_assert_msg(safetensors_set_open_index(&s, ip, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(strstr(s.warning, "total_size 25"), "warning: %s", s.warning);
    safetensors_set_close(&s);
    // model.safetensors wins over the index
    float z[1] = {9};
    st_write_tensor one = {.name = "only", .ndim = 1, .shape = {1}, .data = z};
    char *single = path_join(d, "model.safetensors");
    ck_assert(safetensors_write(single, &one, 1, err, sizeof err) == 0);
    ck_assert_msg(safetensors_set_open_dir(&s, d, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(s.n_files, 1);
    ck_assert_ptr_nonnull(safetensors_set_find(&s, "only", NULL));
    ck_assert_ptr_null(safetensors_set_find(&s, "enc.a", NULL));
    safetensors_set_close(&s);
    free(single); free(ip); free(d);
}
END_TEST

static void expect_index_fail(const char *sub, const char *json, const char *m1, const char *m2) {
    char *d = make_shards(sub), err[512] = "";
    char *ip = write_index(d, json);
    safetensors_set s;
    ck_assert_int_eq(safetensors_set_open_dir(&s, d, err, sizeof err), -1);
    ck_assert_msg(strstr(err, ip) && !strchr(err, '\n'), "error does not name the index: %s", err);
    if (m1) ck_assert_msg(strstr(err, m1), "error lacks '%s': %s", m1, err);
    if (m2) ck_assert_msg(strstr(err, m2), "error lacks '%s': %s", m2, err);
    ck_assert_int_eq(s.n_files, 0);
    safetensors_set_close(&s);
    free(ip); free(d);
}

START_TEST(test_sharded_hostile) {
    expect_index_fail("sh1", "{\"weight_map\":{\"enc.a\":\"../model-00001-of-00002.safetensors\"}}", "plain file name", "'enc.a'");
    expect_index_fail("sh2", "{\"weight_map\":{\"enc.a\":\"/etc/passwd\"}}", "plain file name", NULL);
    expect_index_fail("sh3", "{\"weight_map\":{\"enc.a\":\"a/b.safetensors\"}}", "plain file name", NULL);
    expect_index_fail("sh4", "{\"weight_map\":{\"enc.a\":\".hidden.safetensors\"}}", "plain file name", NULL);
    expect_index_fail("sh5", "{\"weight_map\":{\"enc.a\":5}}", "must be a string", NULL);
    expect_index_fail("sh6", "{\"metadata\":{}}", "weight_map must be an object", NULL);
    expect_index_fail("sh7", "[]", "expected a JSON object", NULL);
    expect_index_fail("sh8", "{\"weight_map\":{" GOOD_MAP ",\"enc.a\":\"model-00001-of-00002.safetensors\"}}", "duplicate tensor name 'enc.a'", NULL);
    // listed for a shard that does not have it
    expect_index_fail("sh9", "{\"weight_map\":{" GOOD_MAP ",\"extra\":\"model-00002-of-00002.safetensors\"}}", "'extra' listed for shard", "not in it");
    // listed for the wrong shard
    expect_index_fail("sh10", "{\"weight_map\":{\"enc.a\":\"model-00002-of-00002.safetensors\",\"enc.b\":\"model-00001-of-00002.safetensors\","
                              "\"head.c\":\"model-00002-of-00002.safetensors\"}}", "'enc.a' listed for shard", "found in");
    // shard tensor not listed
    expect_index_fail("sh11", "{\"weight_map\":{\"enc.a\":\"model-00001-of-00002.safetensors\",\"head.c\":\"model-00002-of-00002.safetensors\"}}",
                      "'enc.b' not listed", NULL);
    expect_index_fail("sh12", "{\"weight_map\":{\"a\\u0000b\":\"x.safetensors\"}}", "\\u0000", NULL);
    expect_index_fail("sh13", "{\"weight_map\":{}", "invalid JSON", NULL);
    // missing shard file: the error names the shard
    char *d = make_shards("sh14"), err[512];
    free(write_index(d, "{\"weight_map\":{" GOOD_MAP ",\"x\":\"missing.safetensors\"}}"));
    safetensors_set s;
    ck_assert_int_eq(safetensors_set_open_dir(&s, d, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "missing.safetensors"), "%s", err);
    // neither file in the directory
    char *e = tpath("empty_dir");
    ck_assert_int_eq(mkdir(e, 0700), 0);
    ck_assert_int_eq(safetensors_set_open_dir(&s, e, err, sizeof err), -1);
    ck_assert_msg(strstr(err, e) && strstr(err, "neither"), "%s", err);
    free(d); free(e);
}
END_TEST


int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_safetensors.XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    Suite *s = suite_create("safetensors");
    TCase *w = tcase_create("write");
    tcase_add_test(w, test_write_example_104_bytes);
    tcase_add_test(w, test_round_trip_many);
    tcase_add_test(w, test_write_f16_bf16);
    tcase_add_test(w, test_write_extra_metadata);
    tcase_add_test(w, test_write_empty);
    tcase_add_test(w, test_write_i64);
    tcase_add_test(w, test_write_many_tensors);
    tcase_add_test(w, test_write_fail_nonexistent_dir);
    tcase_add_test(w, test_write_fail_duplicate);
    tcase_add_test(w, test_write_fail_bad_inputs);
    suite_add_tcase(s, w);
    TCase *r = tcase_create("read");
    tcase_add_test(r, test_read_f16_bytes);
    tcase_add_test(r, test_read_bf16_f64_bytes);
    tcase_add_test(r, test_read_integers);
    tcase_add_test(r, test_scalar_zero_size_unaligned);
    suite_add_tcase(s, r);
    TCase *h = tcase_create("hostile");
    tcase_set_timeout(h, 60);
    tcase_add_test(h, test_hostile_sizes);
    tcase_add_test(h, test_hostile_bytes_in_header);
    tcase_add_loop_test(h, test_hostile_header, 0, N_HOSTILE);
    tcase_add_test(h, test_truncations_and_flips);
    suite_add_tcase(s, h);
    TCase *sh = tcase_create("sharded");
    tcase_add_test(sh, test_sharded_ok);
    tcase_add_test(sh, test_sharded_hostile);
    suite_add_tcase(s, sh);
    int failed = run_suite(s);
    remove_tree(tmpdir);
    return failed ? 1 : 0;
}
