// ptx.cpp: the tensor-core and asynchronous-copy PTX of our kernels, emulated on the CPU (test tooling;
// see cuda_emu.h for the model and doc/cuda.md, "The emulator", for the sources of every layout).
//
//   cp.async            per thread: the source is read at issue into a 16-byte buffer (zero-filled past
//                       src_size), and lands in shared memory only at the cp.async.wait_group that retires
//                       its commit group. Until then the destination keeps its old bytes (poison, if
//                       nothing else wrote it), so a missing wait reads poison.
//   ldmatrix            warp collective: lanes 8i..8i+7 give the 8 row addresses of matrix i; lane l gets
//                       (row l/4, cols 2(l%4), 2(l%4)+1) of matrix i in regs[i] (.trans: rows 2(l%4),
//                       2(l%4)+1 of col l/4), the lower column (row) in the low half. PTX ISA, "Warp-level
//                       matrix load instruction: ldmatrix", Figure "ldmatrix fragment layout for one 8x8
//                       matrix with 16-bit elements".
//   mma.sync m16n8k16   warp collective: the fragments of "Matrix Fragments for mma.m16n8k16 with floating
//                       point type" (g = lane>>2, t = lane&3). D = A·B + C: each product of two 16-bit
//                       inputs is exact in fp32 and is added in k order onto C, rounding after each add.
//                       The hardware's summation order and intermediate precision are unspecified by the
//                       PTX ISA, so results may differ from a GPU in the last bits.
//   wgmma               warpgroup collectives (fence: a warp collective). wgmma.mma_async only records the
//                       operation (d pointers, a snapshot of d, or the result of an earlier in-flight op on
//                       the same d); commit_group closes a group; wait_group N performs every op of all but
//                       the newest N groups, in issue order, reading A and B from shared memory at that
//                       moment and writing d. So d read before the wait is stale and a shared-memory stage
//                       overwritten before the wait changes the result, as on the GPU (where both are
//                       undefined behaviour). Checked: every warp executed wgmma.fence before the first
//                       wgmma of its warpgroup; N, descriptors, scale-d and transposes are uniform over the
//                       warpgroup; descriptor fields (base offset 0 only: a swizzled operand must start in
//                       the first row of its pattern repeat); operands inside shared memory.
//   fence.proxy.async   nothing to emulate: generic-proxy stores are visible to the emulated async proxy
//                       at once; the wrapper keeps the asm for the GPU.
//
// All state is per block (ptx_block_begin resets it) and per thread or warpgroup; the runtime runs one
// block at a time on one OS thread, so plain statics suffice.

// the standard headers first: cuda_emu.h defines __noinline__, which libstdc++ uses as an attribute
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "cuda_emu.h"

namespace emu {
namespace {

const int MAX_THREADS = 1024;

// The runtime compares collective kinds by pointer: one object per kind.
const char K_LDM_X1[] = "ldmatrix.m8n8.x1.b16", K_LDM_X2[] = "ldmatrix.m8n8.x2.b16", K_LDM_X4[] = "ldmatrix.m8n8.x4.b16";
const char K_LDM_X1T[] = "ldmatrix.m8n8.x1.trans.b16", K_LDM_X2T[] = "ldmatrix.m8n8.x2.trans.b16",
           K_LDM_X4T[] = "ldmatrix.m8n8.x4.trans.b16";
const char K_MMA_BF16[] = "mma.sync.m16n8k16.f32.bf16.bf16.f32", K_MMA_F16[] = "mma.sync.m16n8k16.f32.f16.f16.f32";
const char K_WG_FENCE[] = "wgmma.fence", K_WG_MMA[] = "wgmma.mma_async", K_WG_COMMIT[] = "wgmma.commit_group",
           K_WG_WAIT[] = "wgmma.wait_group";

// ------------------------------------------------------------------------------------ cp.async

struct CpCopy {
    uint32_t dst;
    int size;                 // cp_size: bytes written at the wait (src bytes, then zeros)
    int group;                // commit group number of this thread, -1 while not committed
    unsigned char data[16];
    Site site;
};
std::vector<CpCopy> cp_pending[MAX_THREADS];   // in issue order
int cp_groups[MAX_THREADS];                     // groups this thread has committed

int this_thread(const char *what, Site site) {
    int t = thread_linear();
    if (t < 0 || t >= MAX_THREADS) fail("%s at %s:%d: thread %d is past the %d threads a block may have", what, site.file,
                                        site.line, t, MAX_THREADS);
    return t;
}

// ------------------------------------------------------------------------------------ wgmma

struct Desc {
    uint32_t start, lbo, sbo;   // bytes
    int row_bytes;              // swizzle width: 0 (none / interleave), 32, 64, 128
};

struct WgOp {
    int N, scale_d, tnsp_a, tnsp_b;
    Desc a, b;
    Site site;
    std::string what_a, what_b;           // for shared_ptr's messages
    float *d[128];
    std::vector<float> in;                // 128 x N/2: d at issue (threads without a chained input)
    std::shared_ptr<WgOp> chain[128];     // an earlier in-flight op on the same d: its result is the input
    std::vector<float> out;               // 128 x N/2: the result, once performed
    bool done;
};
typedef std::shared_ptr<WgOp> WgOpRef;
struct Warpgroup {
    unsigned fenced;                           // warps (bits 0-3) that have executed wgmma.fence
    std::vector<WgOpRef> uncommitted;
    std::deque<std::vector<WgOpRef>> groups;   // committed, oldest first
};
Warpgroup warpgroups[MAX_THREADS / 128];

const char *swizzle_name(int row_bytes) {
    return row_bytes == 128 ? "128B" : row_bytes == 64 ? "64B" : row_bytes == 32 ? "32B" : "none";
}

// PTX ISA "Matrix Descriptor Format" (wgmma): start address >> 4 in bits 0-13, leading dimension byte
// offset >> 4 in 16-29, stride dimension byte offset >> 4 in 32-45, base offset in 49-51, swizzle mode in
// 62-63 (0 none, 1 128B, 2 64B, 3 32B). The other bits are unused by wgmma; we reject them set.
Desc decode_desc(uint64_t desc, const char *which, Site site) {
    const uint64_t known = 0x3FFFull | (0x3FFFull << 16) | (0x3FFFull << 32) | (7ull << 49) | (3ull << 62);
    if (desc & ~known)
        fail("wgmma.mma_async at %s:%d: descriptor of %s 0x%016llx has bits set outside its fields (0x%016llx)",
             site.file, site.line, which, (unsigned long long)desc, (unsigned long long)(desc & ~known));
    Desc d;
    d.start = (uint32_t)(desc & 0x3FFF) << 4;
    d.lbo = (uint32_t)((desc >> 16) & 0x3FFF) << 4;
    d.sbo = (uint32_t)((desc >> 32) & 0x3FFF) << 4;
    int base = (int)((desc >> 49) & 7), mode = (int)(desc >> 62);
    static const int widths[4] = {0, 128, 64, 32};
    d.row_bytes = widths[mode];
    if (base != 0)
        fail("wgmma.mma_async at %s:%d: descriptor of %s has matrix base offset %d: not emulated (only patterns "
             "that start on their repeat boundary, base offset 0)", site.file, site.line, which, base);
    if (d.row_bytes) {
        // base offset 0 means the swizzle pattern (8 rows of row_bytes) starts on a multiple of its size;
        // the start address may only move inside the pattern's first row (as a k-block advance does)
        uint32_t pattern = 8u * d.row_bytes;
        if (d.start % pattern >= (uint32_t)d.row_bytes)
            fail("wgmma.mma_async at %s:%d: descriptor of %s: start address 0x%x is in row %u of a %s swizzle pattern "
                 "(%u-byte repeat) but the base offset is 0 (PTX ISA: the base offset must then be non-zero; not "
                 "emulated)", site.file, site.line, which, d.start, d.start % pattern / d.row_bytes,
                 swizzle_name(d.row_bytes), pattern);
    }
    return d;
}

// The shared address of element (mn, k) of an operand (mn: the M row of A or the N column of B, k < 16,
// bf16), from the canonical layouts of the PTX ISA ("Shared Memory Matrix Layout", "Canonical Layouts",
// in CuTe notation, T = 8 bf16 per 16 bytes; SBO and LBO in bytes here):
//   K-major  none   ((8,m),(T,2k)):((1T,SBO),(1,LBO))      MN-major none   ((T,1,m),(8,k)):((1,T,SBO),(1T,LBO))
//   K-major  32B    ((8,m),(T,2k)):((2T,SBO),(1,T))        MN-major 32B    ((T,2,m),(8,k)):((1,T,LBO),(2T,SBO))
//   K-major  64B    ((8,m),(T,2k)):((4T,SBO),(1,T))        MN-major 64B    ((T,4,m),(8,k)):((1,T,LBO),(4T,SBO))
//   K-major  128B   ((8,m),(T,2k)):((8T,SBO),(1,T))        MN-major 128B   ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO))
// then Swizzle<B,4,3> (B = 0, 1, 2, 3) on the byte address: bits [4, 4+B) ^= bits [7, 7+B).
uint32_t operand_addr(const Desc &d, bool mn_major, int mn, int k) {
    uint32_t off;
    int w = d.row_bytes;
    if (!mn_major) {
        if (!w) off = (mn % 8) * 16 + (mn / 8) * d.sbo + (k % 8) * 2 + (k / 8) * d.lbo;
        else off = (mn % 8) * w + (mn / 8) * d.sbo + k * 2;
    } else {
        if (!w) off = (mn % 8) * 2 + (mn / 8) * d.sbo + (k % 8) * 16 + (k / 8) * d.lbo;
        else {
            int e = w / 2;   // bf16 elements along MN in one swizzle row
            off = (mn % e) * 2 + (mn / e) * d.lbo + (k % 8) * w + (k / 8) * d.sbo;
        }
    }
    uint32_t a = d.start + off;
    if (w) {
        uint32_t bits = w == 128 ? 7u : w == 64 ? 3u : 1u;
        a ^= ((a >> 7) & bits) << 4;
    }
    return a;
}

void perform(WgOp &op) {
    const int N = op.N, R = N / 2;
    std::vector<float> A(64 * 16), B(16 * N);   // A[m][k], B[k][n]
    for (int m = 0; m < 64; m++)
        for (int k = 0; k < 16; k++) {
            uint32_t addr = operand_addr(op.a, op.tnsp_a != 0, m, k);
            if (addr & 1) fail("%s: odd address 0x%x", op.what_a.c_str(), addr);
            unsigned short h;
            memcpy(&h, shared_ptr(addr, 2, op.what_a.c_str()), 2);
            A[m * 16 + k] = bf16_bits_to_float(h);
        }
    for (int n = 0; n < N; n++)
        for (int k = 0; k < 16; k++) {
            uint32_t addr = operand_addr(op.b, op.tnsp_b != 0, n, k);
            if (addr & 1) fail("%s: odd address 0x%x", op.what_b.c_str(), addr);
            unsigned short h;
            memcpy(&h, shared_ptr(addr, 2, op.what_b.c_str()), 2);
            B[k * N + n] = bf16_bits_to_float(h);
        }
    op.out.assign((size_t)128 * R, 0.0f);
    // accumulator fragment (PTX ISA "Matrix Fragments for wgmma.mma_async.m64nNk16", register fragment D;
    // CuTe CLayout_64xN): warp w owns rows 16w..16w+15; lane (g = lane>>2, t = lane&3) holds
    // d[4j+e] = (16w+g, 8j+2t+e) and d[4j+2+e] = (16w+g+8, 8j+2t+e), e = 0, 1
    for (int th = 0; th < 128; th++) {
        int w = th / 32, lane = th % 32, g = lane >> 2, t = lane & 3;
        const float *input = op.chain[th] ? op.chain[th]->out.data() + (size_t)th * R : op.in.data() + (size_t)th * R;
        float *res = op.out.data() + (size_t)th * R;
        for (int i = 0; i < R; i++) {
            int j = i / 4, h = (i / 2) % 2, e = i % 2;
            int row = 16 * w + g + 8 * h, col = 8 * j + 2 * t + e;
            float acc = op.scale_d ? input[i] : 0.0f;
            for (int k = 0; k < 16; k++) {
                float p = A[row * 16 + k] * B[k * N + col];   // exact: two 8-bit significands
                acc = acc + p;
            }
            res[i] = acc;
        }
    }
    for (int th = 0; th < 128; th++) {
        memcpy(op.d[th], op.out.data() + (size_t)th * R, sizeof(float) * R);
        op.chain[th].reset();
    }
    op.in.clear();
    op.in.shrink_to_fit();
    op.done = true;
}

int warpgroup_of_current(void) { return thread_linear() / 128; }

// ------------------------------------------------------------------------------------ collective bodies

struct LdmArgs { uint32_t *regs; uint32_t addr; int num; bool trans; Site site; };

void ldmatrix_fn(void *const lane_args[32], unsigned) {
    const LdmArgs *a0 = (const LdmArgs *)lane_args[0];
    const int num = a0->num;
    const bool trans = a0->trans;
    unsigned short m[4][8][8];
    for (int i = 0; i < num; i++)
        for (int r = 0; r < 8; r++) {
            const LdmArgs *a = (const LdmArgs *)lane_args[8 * i + r];
            if (a->addr % 16)
                fail("ldmatrix at %s:%d: lane %d gives row %d of matrix %d at shared address 0x%x, not 16-byte aligned",
                     a->site.file, a->site.line, 8 * i + r, r, i, a->addr);
            memcpy(m[i][r], shared_ptr(a->addr, 16, "ldmatrix row"), 16);
        }
    for (int l = 0; l < 32; l++) {
        LdmArgs *a = (LdmArgs *)lane_args[l];
        int r = l / 4, c = 2 * (l % 4);
        for (int i = 0; i < num; i++) {
            unsigned short lo = trans ? m[i][c][r] : m[i][r][c];
            unsigned short hi = trans ? m[i][c + 1][r] : m[i][r][c + 1];
            a->regs[i] = (uint32_t)lo | (uint32_t)hi << 16;
        }
    }
}

struct MmaArgs { float *d; const uint32_t *a, *b; const float *c; bool f16; };

void mma_fn(void *const lane_args[32], unsigned) {
    const bool f16 = ((const MmaArgs *)lane_args[0])->f16;
    float A[16][16], B[16][8], C[16][8];
    auto cvt = [f16](uint32_t bits) { return f16 ? half_bits_to_float((unsigned short)bits) : bf16_bits_to_float((unsigned short)bits); };
    // gather every input before writing any output: d may alias c (and does in our wrappers)
    for (int l = 0; l < 32; l++) {
        const MmaArgs *x = (const MmaArgs *)lane_args[l];
        int g = l >> 2, t = l & 3;
        const uint32_t *a = x->a, *b = x->b;
        A[g][2 * t] = cvt(a[0] & 0xffff), A[g][2 * t + 1] = cvt(a[0] >> 16);
        A[g + 8][2 * t] = cvt(a[1] & 0xffff), A[g + 8][2 * t + 1] = cvt(a[1] >> 16);
        A[g][2 * t + 8] = cvt(a[2] & 0xffff), A[g][2 * t + 9] = cvt(a[2] >> 16);
        A[g + 8][2 * t + 8] = cvt(a[3] & 0xffff), A[g + 8][2 * t + 9] = cvt(a[3] >> 16);
        B[2 * t][g] = cvt(b[0] & 0xffff), B[2 * t + 1][g] = cvt(b[0] >> 16);
        B[2 * t + 8][g] = cvt(b[1] & 0xffff), B[2 * t + 9][g] = cvt(b[1] >> 16);
        C[g][2 * t] = x->c[0], C[g][2 * t + 1] = x->c[1];
        C[g + 8][2 * t] = x->c[2], C[g + 8][2 * t + 1] = x->c[3];
    }
    float D[16][8];
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 8; n++) {
            float acc = C[m][n];
            for (int k = 0; k < 16; k++) {
                float p = A[m][k] * B[k][n];   // exact for bf16 and f16 inputs (<= 22 significand bits)
                acc = acc + p;
            }
            D[m][n] = acc;
        }
    for (int l = 0; l < 32; l++) {
        float *d = ((MmaArgs *)lane_args[l])->d;
        int g = l >> 2, t = l & 3;
        d[0] = D[g][2 * t], d[1] = D[g][2 * t + 1], d[2] = D[g + 8][2 * t], d[3] = D[g + 8][2 * t + 1];
    }
}

struct WgArgs { int N; float *d; uint64_t da, db; int scale_d, tnsp_a, tnsp_b; Site site; };

void wgmma_fn(void *const thread_args[128]) {
    const WgArgs *a0 = (const WgArgs *)thread_args[0];
    for (int i = 1; i < 128; i++) {
        const WgArgs *x = (const WgArgs *)thread_args[i];
        if (x->N != a0->N || x->da != a0->da || x->db != a0->db || (x->scale_d != 0) != (a0->scale_d != 0) ||
            x->tnsp_a != a0->tnsp_a || x->tnsp_b != a0->tnsp_b)
            fail("wgmma.mma_async at %s:%d: thread %d of the warpgroup gives N=%d desc-a 0x%llx desc-b 0x%llx scale-d %d "
                 "trans %d,%d but thread 0 N=%d 0x%llx 0x%llx %d %d,%d (the emulator needs them uniform)",
                 a0->site.file, a0->site.line, i, x->N, (unsigned long long)x->da, (unsigned long long)x->db,
                 x->scale_d != 0, x->tnsp_a, x->tnsp_b, a0->N, (unsigned long long)a0->da,
                 (unsigned long long)a0->db, a0->scale_d != 0, a0->tnsp_a, a0->tnsp_b);
    }
    const Site site = a0->site;
    const int N = a0->N;
    if (N < 8 || N > 256 || N % 8)
        fail("wgmma.mma_async at %s:%d: m64n%dk16: N must be a multiple of 8 from 8 to 256", site.file, site.line, N);
    if ((a0->tnsp_a != 0 && a0->tnsp_a != 1) || (a0->tnsp_b != 0 && a0->tnsp_b != 1))
        fail("wgmma.mma_async at %s:%d: imm-trans-a %d / imm-trans-b %d must be 0 or 1", site.file, site.line,
             a0->tnsp_a, a0->tnsp_b);
    WgOpRef op = std::make_shared<WgOp>();
    op->N = N;
    op->scale_d = a0->scale_d != 0;
    op->tnsp_a = a0->tnsp_a;
    op->tnsp_b = a0->tnsp_b;
    op->site = site;
    op->a = decode_desc(a0->da, "A", site);
    op->b = decode_desc(a0->db, "B", site);
    char buf[600];
    snprintf(buf, sizeof buf, "wgmma.mma_async (issued at %s:%d) operand A (desc 0x%llx, %s-major, swizzle %s)", site.file,
             site.line, (unsigned long long)a0->da, op->tnsp_a ? "M" : "K", swizzle_name(op->a.row_bytes));
    op->what_a = buf;
    snprintf(buf, sizeof buf, "wgmma.mma_async (issued at %s:%d) operand B (desc 0x%llx, %s-major, swizzle %s)", site.file,
             site.line, (unsigned long long)a0->db, op->tnsp_b ? "N" : "K", swizzle_name(op->b.row_bytes));
    op->what_b = buf;
    op->done = false;
    const int R = N / 2;
    op->in.assign((size_t)128 * R, 0.0f);
    Warpgroup &wg = warpgroups[warpgroup_of_current()];
    // PTX ISA (wgmma.fence): every warp of the warpgroup must execute wgmma.fence before the first
    // wgmma.mma_async (the other rule, a fence between other accesses of the registers and a wgmma, is
    // not checked: register accesses are invisible here)
    if (wg.fenced != 0xfu)
        fail("wgmma.mma_async at %s:%d: the first wgmma of warpgroup %d, but warps 0x%x of it have not executed "
             "wgmma.fence before it", site.file, site.line, warpgroup_of_current(), ~wg.fenced & 0xfu);
    for (int th = 0; th < 128; th++) {
        float *d = ((const WgArgs *)thread_args[th])->d;
        if (!d) fail("wgmma.mma_async at %s:%d: thread %d gives a NULL accumulator", site.file, site.line, th);
        op->d[th] = d;
        // the newest in-flight op on the same accumulator feeds this one
        WgOpRef prev;
        for (auto it = wg.uncommitted.rbegin(); !prev && it != wg.uncommitted.rend(); ++it)
            if ((*it)->d[th] == d) prev = *it;
        for (auto g = wg.groups.rbegin(); !prev && g != wg.groups.rend(); ++g)
            for (auto it = g->rbegin(); !prev && it != g->rend(); ++it)
                if ((*it)->d[th] == d) prev = *it;
        if (prev) {
            if (prev->N != N)
                fail("wgmma.mma_async at %s:%d: accumulator of thread %d is also that of an in-flight m64n%dk16 issued at "
                     "%s:%d (different N)", site.file, site.line, th, prev->N, prev->site.file, prev->site.line);
            op->chain[th] = prev;
        } else {
            memcpy(op->in.data() + (size_t)th * R, d, sizeof(float) * R);
        }
    }
    wg.uncommitted.push_back(op);
}

void wgmma_commit_fn(void *const[128]) {
    Warpgroup &wg = warpgroups[warpgroup_of_current()];
    wg.groups.push_back(std::move(wg.uncommitted));
    wg.uncommitted.clear();
}

struct WaitArgs { int n; Site site; };

void wgmma_wait_fn(void *const thread_args[128]) {
    const WaitArgs *a0 = (const WaitArgs *)thread_args[0];
    for (int i = 1; i < 128; i++)
        if (((const WaitArgs *)thread_args[i])->n != a0->n)
            fail("wgmma.wait_group at %s:%d: threads 0 and %d wait for %d and %d", a0->site.file, a0->site.line, i, a0->n,
                 ((const WaitArgs *)thread_args[i])->n);
    Warpgroup &wg = warpgroups[warpgroup_of_current()];
    while ((int)wg.groups.size() > a0->n) {
        for (WgOpRef &op : wg.groups.front()) perform(*op);
        wg.groups.pop_front();
    }
}

}  // namespace

// ------------------------------------------------------------------------------------ entry points

void cp_async(uint32_t dst, const void *src, int cp_size, int src_size, Site site) {
    int t = this_thread("cp.async", site);
    if (cp_size != 4 && cp_size != 8 && cp_size != 16)
        fail("cp.async at %s:%d: cp-size %d (must be 4, 8 or 16)", site.file, site.line, cp_size);
    if (src_size < 0 || src_size > cp_size)
        fail("cp.async at %s:%d: src-size %d outside 0..cp-size %d", site.file, site.line, src_size, cp_size);
    if (dst % (uint32_t)cp_size)
        fail("cp.async at %s:%d: shared destination 0x%x is not aligned to cp-size %d", site.file, site.line, dst, cp_size);
    if ((uintptr_t)src % (uintptr_t)cp_size)
        fail("cp.async at %s:%d: global source %p is not aligned to cp-size %d", site.file, site.line, src, cp_size);
    shared_ptr(dst, (size_t)cp_size, "cp.async destination");
    CpCopy c;
    c.dst = dst;
    c.size = cp_size;
    c.group = -1;
    c.site = site;
    memset(c.data, 0, sizeof c.data);
    if (src_size > 0) {
        check_device_range(src, (size_t)src_size, "cp.async source");
        memcpy(c.data, src, (size_t)src_size);
    }
    cp_pending[t].push_back(c);
}

void cp_async_commit(Site site) {
    int t = this_thread("cp.async.commit_group", site);
    for (CpCopy &c : cp_pending[t])
        if (c.group < 0) c.group = cp_groups[t];
    cp_groups[t]++;
}

void cp_async_wait(int n, Site site) {
    int t = this_thread("cp.async.wait_group", site);
    if (n < 0) fail("cp.async.wait_group at %s:%d: N = %d", site.file, site.line, n);
    int limit = cp_groups[t] - n;   // groups numbered below this are complete
    std::vector<CpCopy> &p = cp_pending[t];
    size_t keep = 0;
    for (size_t i = 0; i < p.size(); i++) {
        const CpCopy &c = p[i];
        if (c.group >= 0 && c.group < limit) memcpy(shared_ptr(c.dst, (size_t)c.size, "cp.async destination"), c.data, (size_t)c.size);
        else p[keep++] = c;
    }
    p.resize(keep);
}

void ldmatrix(uint32_t *regs, int num, bool trans, uint32_t addr, Site site) {
    const char *kind;
    switch (num) {
    case 1: kind = trans ? K_LDM_X1T : K_LDM_X1; break;
    case 2: kind = trans ? K_LDM_X2T : K_LDM_X2; break;
    case 4: kind = trans ? K_LDM_X4T : K_LDM_X4; break;
    default: fail("ldmatrix at %s:%d: .x%d (must be .x1, .x2 or .x4)", site.file, site.line, num);
    }
    LdmArgs a = {regs, addr, num, trans, site};
    warp_collective(kind, 0xffffffffu, &a, ldmatrix_fn, site);
}

void mma_m16n8k16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], bool f16, Site site) {
    MmaArgs x = {d, a, b, c, f16};
    warp_collective(f16 ? K_MMA_F16 : K_MMA_BF16, 0xffffffffu, &x, mma_fn, site);
}

void wgmma_fence(Site site) {
    warp_collective(K_WG_FENCE, 0xffffffffu, NULL, [](void *const *, unsigned) {
        int w = thread_linear() / 32;
        if (w / 4 < MAX_THREADS / 128) warpgroups[w / 4].fenced |= 1u << (w % 4);
    }, site);
}

void wgmma(int N, float *d, uint64_t desc_a, uint64_t desc_b, int scale_d, int tnsp_a, int tnsp_b, Site site) {
    WgArgs a = {N, d, desc_a, desc_b, scale_d, tnsp_a, tnsp_b, site};
    warpgroup_collective(K_WG_MMA, &a, wgmma_fn, site);
}

void wgmma_commit(Site site) { warpgroup_collective(K_WG_COMMIT, NULL, wgmma_commit_fn, site); }

void wgmma_wait(int n, Site site) {
    if (n < 0) fail("wgmma.wait_group at %s:%d: N = %d", site.file, site.line, n);
    WaitArgs a = {n, site};
    warpgroup_collective(K_WG_WAIT, &a, wgmma_wait_fn, site);
}

void ptx_block_begin(int nthreads) {
    (void)nthreads;   // a previous block may have had more threads: clear them all
    for (int t = 0; t < MAX_THREADS; t++) {
        cp_pending[t].clear();
        cp_groups[t] = 0;
    }
    for (Warpgroup &wg : warpgroups) {
        wg.fenced = 0;
        wg.uncommitted.clear();
        wg.groups.clear();
    }
}

void ptx_thread_end(int linear) {
    if (linear < 0 || linear >= MAX_THREADS) return;
    const std::vector<CpCopy> &p = cp_pending[linear];
    if (!p.empty()) {
        int uncommitted = 0;
        for (const CpCopy &c : p) uncommitted += c.group < 0;
        fail("thread ended with %zu cp.async copies never waited for (%d of them never committed; the first issued at "
             "%s:%d)", p.size(), uncommitted, p[0].site.file, p[0].site.line);
    }
    // empty groups in flight are harmless; operations never performed are not
    const Warpgroup &wg = warpgroups[linear / 128];
    size_t ops = wg.uncommitted.size(), groups = 0;
    const WgOp *first = NULL;
    for (const auto &g : wg.groups) {
        ops += g.size();
        groups += !g.empty();
        if (!first && !g.empty()) first = g[0].get();
    }
    if (!first && !wg.uncommitted.empty()) first = wg.uncommitted[0].get();
    if (ops)
        fail("thread ended with %zu wgmma groups in flight (%zu wgmma.mma_async never performed, %zu of them not "
             "committed; the first issued at %s:%d): a wgmma.wait_group is missing", groups, ops, wg.uncommitted.size(),
             first->site.file, first->site.line);
}

}  // namespace emu
