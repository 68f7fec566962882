// runtime.cpp: the CUDA emulator's runtime (test tooling; see cuda_emu.h for the model).
//
//   fibers      each thread of a block is a fiber with its own stack; emu_fiber_switch saves the
//               callee-saved registers and swaps stacks (x86-64; ucontext elsewhere)
//   scheduler   runs the block's ready fibers one at a time until all have returned; a fiber gives
//               up the CPU only at a barrier or a collective. Three orders: in order (FIFO), reversed
//               (LIFO) and seeded random, for blocks and for threads
//   barriers    __syncthreads* completes when every live (not yet returned) thread of the block waits
//               at the same call site; warp collectives when every lane of their mask has arrived
//   memory      cudaMalloc ends each allocation at a protected page (or, under AddressSanitizer,
//               is malloc of the exact size), so an overrun faults; allocations are registered so
//               copies, memsets and kernel pointer arguments are checked against them
//   launches    each launch runs under EMU_SCHEDULES schedules (default 3) from the same device
//               memory; the results must agree bit for bit (within 1e-5 when float atomics ran)
//
// Errors (a divergent barrier, a deadlock, a shuffle naming an exited lane, a shared address out of
// range, schedules that disagree) print one `cuda-emu:` line with the kernel, block and thread, and
// exit with status 3 (EMU_ABORT=1: abort(), for a debugger).
#include "cuda_emu.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifdef EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

// ---------------------------------------------------------------------------------- shared arena
// Every `__shared__` variable of the program and the dynamic window live in section emu_shared; the
// linker defines its bounds. The window is defined here, in the first object linked, so it starts
// the section: its 32-bit shared addresses stay below 2^18, as wgmma descriptors need.

#define EMU_DYNAMIC_SHARED_MAX 232448   // bytes: the sm_90 opt-in maximum per block (227 KB)
extern "C" {
__attribute__((section("emu_shared"), aligned(1024))) unsigned char emu_dynamic_shared[EMU_DYNAMIC_SHARED_MAX];
extern unsigned char __start_emu_shared[], __stop_emu_shared[];
}

namespace emu {

const uint3 *cur_thread_idx;
uint3 cur_block_idx;
dim3 cur_block_dim, cur_grid_dim;

// ---------------------------------------------------------------------------------- fibers

#if defined(__x86_64__)
extern "C" void emu_fiber_switch(void **save_sp, void *to_sp);
asm(R"(
    .text
    .globl emu_fiber_switch
    .type emu_fiber_switch,@function
emu_fiber_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $16, %rsp
    fnstcw (%rsp)
    stmxcsr 8(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    fldcw (%rsp)
    ldmxcsr 8(%rsp)
    addq $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_fiber_switch,.-emu_fiber_switch
    .section .note.GNU-stack,"",@progbits
    .text
)");
#else
#include <ucontext.h>
#endif

enum State { READY, RUNNING, WAIT_BARRIER, WAIT_WARP, WAIT_WARPGROUP, DONE };
static const char *const state_names[] = {"ready", "running", "__syncthreads", "warp collective",
                                          "warpgroup collective", "returned"};

struct Thread {
    void *sp;                 // saved stack pointer while switched out
    unsigned char *stack;     // lowest usable byte
    size_t stack_size;
#if !defined(__x86_64__)
    ucontext_t uc;
#endif
    void *fake_stack;         // AddressSanitizer's fake stack while switched out
    uint3 idx;
    int linear;
    State state;
    const char *wait_kind;    // what it waits at, and where
    Site wait_site;
    int *barrier_result;
};

static const int MAX_THREADS = 1024;
static Thread threads[MAX_THREADS];
static int stacks_made = 0;
static void *sched_sp;
#if !defined(__x86_64__)
static ucontext_t sched_uc;
#endif
static Thread *cur;
static const void *main_stack_lo;
static size_t main_stack_size;

// the launch in progress (for messages) and its thread function
static void (*run_fn)(void *);
static void *run_ctx;
static std::string cur_kernel_name;
static LaunchConfig cur_cfg;
static int cur_policy;
static bool in_launch;
static const char *const policy_names[] = {"in-order", "reversed", "random"};

[[noreturn]] static void fail_exit(void) {
    fflush(stdout);
    fflush(stderr);
    if (getenv("EMU_ABORT")) abort();
    _exit(3);
}

void fail(const char *fmt, ...) {
    fflush(stdout);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (in_launch) {
        fprintf(stderr, "cuda-emu: %s [kernel %s launched at %s:%d, block (%u,%u,%u)", msg, cur_kernel_name.c_str(),
                cur_cfg.site.file, cur_cfg.site.line, cur_block_idx.x, cur_block_idx.y, cur_block_idx.z);
        if (cur) fprintf(stderr, ", thread (%u,%u,%u) = warp %d lane %d", cur->idx.x, cur->idx.y, cur->idx.z,
                         cur->linear / 32, cur->linear % 32);
        fprintf(stderr, ", schedule %s]\n", policy_names[cur_policy]);
    } else {
        fprintf(stderr, "cuda-emu: %s\n", msg);
    }
    fail_exit();
}

int thread_linear(void) {
    if (!cur) fail("a device function was called outside a kernel");
    return cur->linear;
}

static void asan_start_switch(void **fake_save, const void *lo, size_t size) {
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(fake_save, lo, size);
#else
    (void)fake_save; (void)lo; (void)size;
#endif
}
static void asan_finish_switch(void *fake, const void **lo_old, size_t *size_old) {
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, lo_old, size_old);
#else
    (void)fake; (void)lo_old; (void)size_old;
#endif
}

static void thread_exit(void);

extern "C" void emu_fiber_entry(void) {
    asan_finish_switch(NULL, &main_stack_lo, &main_stack_size);
    run_fn(run_ctx);
    thread_exit();
}

static size_t stack_bytes(void) {
    static size_t bytes = 0;
    if (!bytes) {
        const char *s = getenv("EMU_STACK_KB");
        bytes = (size_t)(s && atoi(s) > 0 ? atoi(s) : 512) * 1024;
    }
    return bytes;
}

// a fresh stack frame that "returns" into emu_fiber_entry
static void fiber_init(Thread *t) {
    if (!t->stack) {
        size_t page = 4096, size = stack_bytes();
        unsigned char *m = (unsigned char *)mmap(NULL, size + page, PROT_READ | PROT_WRITE,
                                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) fail("out of memory for thread stacks (%d made)", stacks_made);
        mprotect(m, page, PROT_NONE);   // guard page: a stack overflow faults instead of corrupting
        t->stack = m + page;
        t->stack_size = size;
        stacks_made++;
    }
#ifdef EMU_ASAN
    __asan_unpoison_memory_region(t->stack, t->stack_size);
#endif
    t->fake_stack = NULL;
#if defined(__x86_64__)
    uint64_t *top = (uint64_t *)(t->stack + t->stack_size);
    top[-1] = 0;                                   // fake return address of emu_fiber_entry
    top[-2] = (uint64_t)(uintptr_t)&emu_fiber_entry;
    for (int i = 3; i <= 8; i++) top[-i] = 0;      // rbp rbx r12 r13 r14 r15
    uint64_t *sp = top - 10;
    uint16_t fpu_cw = 0x037f;                      // x87 default
    uint32_t mxcsr = 0x1f80;                       // SSE default: all exceptions masked, nearest
    memcpy(&sp[0], &fpu_cw, 2);
    memcpy(&sp[1], &mxcsr, 4);
    t->sp = sp;
#else
    getcontext(&t->uc);
    t->uc.uc_stack.ss_sp = t->stack;
    t->uc.uc_stack.ss_size = t->stack_size;
    t->uc.uc_link = NULL;
    makecontext(&t->uc, (void (*)(void))emu_fiber_entry, 0);
#endif
}

// scheduler -> thread t, back when t waits or returns
static void resume(Thread *t) {
    cur = t;
    cur_thread_idx = &t->idx;
    t->state = RUNNING;
    void *fake = NULL;
    asan_start_switch(&fake, t->stack, t->stack_size);
#if defined(__x86_64__)
    emu_fiber_switch(&sched_sp, t->sp);
#else
    swapcontext(&sched_uc, &t->uc);
#endif
    asan_finish_switch(fake, NULL, NULL);
    cur = NULL;
}

// current thread -> scheduler (it has set its state); returns when resumed
static void suspend(void) {
    Thread *t = cur;
    asan_start_switch(&t->fake_stack, main_stack_lo, main_stack_size);
#if defined(__x86_64__)
    emu_fiber_switch(&t->sp, sched_sp);
#else
    swapcontext(&t->uc, &sched_uc);
#endif
    asan_finish_switch(t->fake_stack, &main_stack_lo, &main_stack_size);
}

// ---------------------------------------------------------------------------------- the block

static int block_threads, live_threads;
static std::deque<int> ready;
static uint64_t rng_state;
static uint64_t rng_next(void) {   // splitmix64
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int pick_ready(void) {
    int t;
    if (cur_policy == 0) { t = ready.front(); ready.pop_front(); }
    else if (cur_policy == 1) { t = ready.back(); ready.pop_back(); }
    else {
        size_t i = rng_next() % ready.size();
        t = ready[i];
        ready[i] = ready.back();
        ready.pop_back();
    }
    return t;
}

static void make_ready(int t) {
    threads[t].state = READY;
    ready.push_back(t);
}

// the thread that completed a barrier or collective goes on at once, except under the random
// schedule, where it queues like the others
static void after_release(void) {
    if (cur_policy == 2) {
        make_ready(cur->linear);
        suspend();
    }
}

// two call sites' file names (usually the same literal, so the pointer test decides)
static bool same_file(const char *a, const char *b) { return a == b || strcmp(a, b) == 0; }

// __syncthreads: waiters, the call site they share, and the reduction of __syncthreads_or/and/count
static std::vector<int> barrier_waiters;
static Site barrier_site;
static int barrier_op, barrier_or, barrier_and, barrier_count;

static void barrier_release(void) {
    int r = barrier_op == 1 ? barrier_or : barrier_op == 2 ? barrier_and : barrier_count;
    for (int t : barrier_waiters) {
        if (threads[t].barrier_result) *threads[t].barrier_result = r;
        if (&threads[t] != cur) make_ready(t);
    }
    barrier_waiters.clear();
}

void syncthreads(int op, int pred, int *result, Site site) {
    Thread *t = cur;
    if (!t) fail("__syncthreads outside a kernel");
    if (!barrier_waiters.empty() &&
        (barrier_site.line != site.line || !same_file(barrier_site.file, site.file) || barrier_op != op)) {
        Thread *w = &threads[barrier_waiters[0]];
        fail("divergent barrier: this thread reached the barrier at %s:%d while thread (%u,%u,%u) waits at the "
             "one at %s:%d", site.file, site.line, w->idx.x, w->idx.y, w->idx.z, barrier_site.file, barrier_site.line);
    }
    if (barrier_waiters.empty()) {
        barrier_site = site;
        barrier_op = op;
        barrier_or = 0, barrier_and = 1, barrier_count = 0;
    }
    pred = pred != 0;
    barrier_or |= pred, barrier_and &= pred, barrier_count += pred;
    t->barrier_result = result;
    t->wait_kind = "__syncthreads";
    t->wait_site = site;
    barrier_waiters.push_back(t->linear);
    if ((int)barrier_waiters.size() == live_threads) {
        barrier_release();
        after_release();
    } else {
        t->state = WAIT_BARRIER;
        suspend();
    }
}

// warp collectives in flight: per warp, one entry per distinct mask
struct WarpPending {
    const char *kind;
    Site site;
    unsigned mask, arrived;
    WarpFn fn;
    void *args[32];
};
static std::vector<WarpPending> warp_pending[MAX_THREADS / 32];
static unsigned warp_exited[MAX_THREADS / 32];   // lanes that have returned

static unsigned warp_existing(int w) {   // lanes that exist in warp w (the last warp may be partial)
    int n = block_threads - 32 * w;
    return n >= 32 ? 0xffffffffu : (1u << n) - 1;
}

void warp_collective(const char *kind, unsigned mask, void *args, WarpFn fn, Site site) {
    Thread *t = cur;
    if (!t) fail("%s outside a kernel", kind);
    int w = t->linear / 32, lane = t->linear % 32;
    if (!(mask >> lane & 1)) fail("%s at %s:%d: the calling lane %d is not in its mask 0x%08x", kind, site.file, site.line, lane, mask);
    unsigned missing = mask & ~warp_existing(w);
    if (missing) fail("%s at %s:%d: mask 0x%08x names lane %d, which does not exist (block of %d threads)", kind,
                      site.file, site.line, mask, __builtin_ctz(missing), block_threads);
    unsigned gone = mask & warp_exited[w];
    if (gone) fail("%s at %s:%d: mask 0x%08x names lane %d, which has already returned (an inactive lane)", kind,
                   site.file, site.line, mask, __builtin_ctz(gone));
    std::vector<WarpPending> &pend = warp_pending[w];
    WarpPending *p = NULL;
    for (WarpPending &q : pend) {
        if (!(q.mask & mask)) continue;
        if (q.mask != mask || q.kind != kind || q.site.line != site.line || !same_file(q.site.file, site.file))
            fail("lanes of warp %d disagree: lane %d is at %s (%s:%d, mask 0x%08x) while lanes 0x%08x wait at %s "
                 "(%s:%d, mask 0x%08x)", w, lane, kind, site.file, site.line, mask, q.arrived, q.kind, q.site.file,
                 q.site.line, q.mask);
        p = &q;
    }
    if (!p) {
        WarpPending q = {kind, site, mask, 0, fn, {}};
        pend.push_back(q);
        p = &pend.back();
    }
    p->args[lane] = args;
    p->arrived |= 1u << lane;
    if (p->arrived == mask) {
        WarpPending done = *p;
        pend.erase(pend.begin() + (p - pend.data()));
        done.fn(done.args, mask);
        for (int l = 0; l < 32; l++)
            if ((mask >> l & 1) && l != lane) make_ready(32 * w + l);
        after_release();
    } else {
        t->state = WAIT_WARP;
        t->wait_kind = kind;
        t->wait_site = site;
        suspend();
    }
}

void syncwarp(unsigned mask, Site site) {
    warp_collective("__syncwarp", mask, NULL, [](void *const *, unsigned) {}, site);
}

void shuffle_fn(void *const lane_args[32], unsigned mask) {
    for (int l = 0; l < 32; l++) {
        if (!(mask >> l & 1)) continue;
        ShuffleArgs *a = (ShuffleArgs *)lane_args[l];
        int width = a->width;
        if (width < 1 || width > 32 || (width & (width - 1)))
            fail("shuffle width %d is not a power of two from 1 to 32", width);
        int seg = l & ~(width - 1), src;
        switch (a->mode) {
        case 0: src = seg + (a->lane_arg & (width - 1)); break;                            // __shfl_sync
        case 1: src = l - a->lane_arg; if (src < seg) src = l; break;                       // up
        case 2: src = l + a->lane_arg; if (src >= seg + width) src = l; break;              // down
        default: src = l ^ a->lane_arg; if (src >= seg + width || src < 0) src = l; break;  // xor
        }
        if (src < 0 || src > 31 || !(mask >> src & 1))
            fail("%s: lane %d reads lane %d, which is not in the mask 0x%08x", a->mode == 0 ? "__shfl_sync" : "shuffle",
                 l, src, mask);
        a->result = ((ShuffleArgs *)lane_args[src])->value;
    }
}

void vote_fn(void *const lane_args[32], unsigned mask) {
    unsigned ballot = 0;
    for (int l = 0; l < 32; l++)
        if ((mask >> l & 1) && ((VoteArgs *)lane_args[l])->pred) ballot |= 1u << l;
    for (int l = 0; l < 32; l++)
        if (mask >> l & 1) ((VoteArgs *)lane_args[l])->result = ballot;
}

unsigned vote(unsigned mask, int pred, const char *kind, Site site) {
    VoteArgs a = {pred != 0, 0};
    warp_collective(kind, mask, &a, vote_fn, site);
    return a.result;
}

// warpgroup collectives: all 128 threads of warpgroup g
struct WarpgroupPending {
    const char *kind;
    Site site;
    int arrived;
    WarpgroupFn fn;
    void *args[128];
};
static WarpgroupPending warpgroup_pending[MAX_THREADS / 128];
static int warpgroup_exited[MAX_THREADS / 128];

void warpgroup_collective(const char *kind, void *args, WarpgroupFn fn, Site site) {
    Thread *t = cur;
    if (!t) fail("%s outside a kernel", kind);
    int g = t->linear / 128, i = t->linear % 128;
    if (128 * (g + 1) > block_threads)
        fail("%s at %s:%d: warpgroup %d is incomplete (block of %d threads)", kind, site.file, site.line, g, block_threads);
    if (warpgroup_exited[g])
        fail("%s at %s:%d: %d threads of warpgroup %d have already returned", kind, site.file, site.line,
             warpgroup_exited[g], g);
    WarpgroupPending &p = warpgroup_pending[g];
    if (p.arrived && (p.kind != kind || p.site.line != site.line || !same_file(p.site.file, site.file)))
        fail("threads of warpgroup %d disagree: this one is at %s (%s:%d) while %d wait at %s (%s:%d)", g, kind,
             site.file, site.line, p.arrived, p.kind, p.site.file, p.site.line);
    if (!p.arrived) { p.kind = kind; p.site = site; p.fn = fn; }
    p.args[i] = args;
    if (++p.arrived == 128) {
        p.arrived = 0;
        fn(p.args);
        for (int j = 0; j < 128; j++)
            if (j != i) make_ready(128 * g + j);
        after_release();
    } else {
        t->state = WAIT_WARPGROUP;
        t->wait_kind = kind;
        t->wait_site = site;
        suspend();
    }
}

static void thread_exit(void) {
    Thread *t = cur;
    ptx_thread_end(t->linear);
    int w = t->linear / 32, lane = t->linear % 32;
    for (WarpPending &q : warp_pending[w])
        if (q.mask >> lane & 1)
            fail("lane %d returned while lanes 0x%08x of its warp wait for it at %s (%s:%d, mask 0x%08x)", lane,
                 q.arrived, q.kind, q.site.file, q.site.line, q.mask);
    warp_exited[w] |= 1u << lane;
    int g = t->linear / 128;
    if (g < MAX_THREADS / 128) {
        if (warpgroup_pending[g].arrived)
            fail("thread returned while %d threads of its warpgroup wait at %s (%s:%d)", warpgroup_pending[g].arrived,
                 warpgroup_pending[g].kind, warpgroup_pending[g].site.file, warpgroup_pending[g].site.line);
        warpgroup_exited[g]++;
    }
    t->state = DONE;
    live_threads--;
    // the others may all be waiting at a barrier that now has every live thread
    if (!barrier_waiters.empty() && (int)barrier_waiters.size() == live_threads) barrier_release();
    asan_start_switch(NULL, main_stack_lo, main_stack_size);   // this fiber's frames are gone
#if defined(__x86_64__)
    emu_fiber_switch(&t->sp, sched_sp);
#else
    swapcontext(&t->uc, &sched_uc);
#endif
    __builtin_unreachable();
}

// no thread can run but some have not returned: say who waits where
[[noreturn]] static void report_deadlock(void) {
    std::string text;
    int shown = 0;
    for (int i = 0; i < block_threads && shown < 6;) {
        Thread *a = &threads[i];
        if (a->state == DONE) { i++; continue; }
        int j = i + 1;
        while (j < block_threads && threads[j].state == a->state && threads[j].wait_kind == a->wait_kind &&
               threads[j].wait_site.line == a->wait_site.line && threads[j].wait_site.file == a->wait_site.file)
            j++;
        char part[512];
        snprintf(part, sizeof part, "%sthreads %d-%d wait at %s (%s:%d)", shown ? "; " : "", i, j - 1,
                 a->wait_kind ? a->wait_kind : state_names[a->state], a->wait_site.file ? a->wait_site.file : "?",
                 a->wait_site.line);
        text += part;
        shown++;
        i = j;
    }
    cur = NULL;
    fail("deadlock: no thread of the block can go on (a barrier or collective that not every thread reaches): %s",
         text.c_str());
}

// ---------------------------------------------------------------------------------- memory

struct Allocation { size_t bytes; bool host; };
// (never destroyed: device memory still allocated at exit stays reachable for LeakSanitizer, as a
// program may leave freeing it to the driver)
static std::map<uintptr_t, Allocation> &allocations = *new std::map<uintptr_t, Allocation>;
static size_t allocated_bytes;
static cudaError_t last_error = cudaSuccess;
static std::map<const void *, int> max_dynamic_shared;   // cudaFuncAttributeMaxDynamicSharedMemorySize
static bool float_atomics;

static const Allocation *find_allocation(const void *p, uintptr_t *base) {
    uintptr_t a = (uintptr_t)p;
    auto it = allocations.upper_bound(a);
    if (it == allocations.begin()) return NULL;
    --it;
    if (a > it->first + it->second.bytes) return NULL;   // one past the end still belongs to it
    *base = it->first;
    return &it->second;
}

static bool device_range_ok(const void *p, size_t bytes) {
    uintptr_t base;
    const Allocation *al = find_allocation(p, &base);
    return al && (uintptr_t)p + bytes <= base + al->bytes;
}

void check_device_range(const void *p, size_t bytes, const char *what) {
    if (!device_range_ok(p, bytes)) fail("%s: %zu bytes at %p are not inside one cudaMalloc allocation", what, bytes, p);
}

void note_float_atomic(void) { float_atomics = true; }

unsigned char *shared_base(void) { return __start_emu_shared; }
size_t shared_bytes(void) { return (size_t)(__stop_emu_shared - __start_emu_shared); }

void *shared_ptr(uint32_t addr, size_t bytes, const char *what) {
    size_t dyn = (size_t)(emu_dynamic_shared - __start_emu_shared);
    if ((size_t)addr + bytes > shared_bytes())
        fail("%s: shared address 0x%x (+%zu bytes) is outside shared memory (%zu bytes)", what, addr, bytes, shared_bytes());
    if ((size_t)addr + bytes > dyn + cur_cfg.smem && addr < dyn + EMU_DYNAMIC_SHARED_MAX)
        fail("%s: shared address 0x%x (+%zu bytes) is past the %zu bytes of dynamic shared memory of this launch", what,
             addr, bytes, cur_cfg.smem);
    return __start_emu_shared + addr;
}

uint32_t shared_addr(const void *p, const char *what) {
    const unsigned char *c = (const unsigned char *)p;
    if (c < __start_emu_shared || c > __stop_emu_shared) fail("%s: %p is not a shared-memory address", what, p);
    return (uint32_t)(c - __start_emu_shared);
}

// NaN bytes in every shared byte a block can see: its static variables and its dynamic window
static void poison_shared(size_t dyn_bytes) {
    unsigned char *dyn = emu_dynamic_shared;
    memset(__start_emu_shared, 0xff, (size_t)(dyn - __start_emu_shared));
    memset(dyn, 0xff, dyn_bytes);
    memset(dyn + EMU_DYNAMIC_SHARED_MAX, 0xff, (size_t)(__stop_emu_shared - (dyn + EMU_DYNAMIC_SHARED_MAX)));
}

// ---------------------------------------------------------------------------------- launches

static std::string kernel_name(const void *kernel) {
    static std::map<const void *, std::string> names;
    auto it = names.find(kernel);
    if (it != names.end()) return it->second;
    std::string name = "?";
    Dl_info info;
    if (dladdr(kernel, &info) && info.dli_sname) {
        int status = 0;
        char *d = abi::__cxa_demangle(info.dli_sname, NULL, NULL, &status);
        name = status == 0 && d ? d : info.dli_sname;
        free(d);
        // drop the parameter list, keep template arguments
        int depth = 0;
        for (size_t i = 0; i < name.size(); i++) {
            if (name[i] == '<') depth++;
            else if (name[i] == '>') depth--;
            else if (name[i] == '(' && depth == 0) { name.resize(i); break; }
        }
    } else {
        char buf[64];
        snprintf(buf, sizeof buf, "%p", kernel);
        name = buf;
    }
    names[kernel] = name;
    return name;
}

static int env_int(const char *name, int dflt) {
    const char *s = getenv(name);
    return s && *s ? atoi(s) : dflt;
}

static void run_block(void) {
    poison_shared(cur_cfg.smem);
    ptx_block_begin(block_threads);
    ready.clear();
    barrier_waiters.clear();
    for (int w = 0; w < (block_threads + 31) / 32; w++) { warp_pending[w].clear(); warp_exited[w] = 0; }
    for (int g = 0; g < MAX_THREADS / 128; g++) { warpgroup_pending[g].arrived = 0; warpgroup_exited[g] = 0; }
    dim3 b = cur_block_dim;
    for (int i = 0; i < block_threads; i++) {
        Thread *t = &threads[i];
        t->linear = i;
        t->idx = uint3{i % b.x, (i / b.x) % b.y, i / (b.x * b.y)};
        t->wait_kind = NULL;
        t->wait_site = Site{NULL, 0};
        t->barrier_result = NULL;
        fiber_init(t);
        make_ready(i);
    }
    live_threads = block_threads;
    while (live_threads > 0) {
        if (ready.empty()) report_deadlock();
        resume(&threads[pick_ready()]);
    }
}

static void run_grid(void) {
    dim3 g = cur_grid_dim;
    size_t nblocks = (size_t)g.x * g.y * g.z;
    std::vector<size_t> order(nblocks);
    for (size_t i = 0; i < nblocks; i++) order[i] = i;
    if (cur_policy == 1) std::reverse(order.begin(), order.end());
    if (cur_policy == 2)
        for (size_t i = nblocks; i > 1; i--) std::swap(order[i - 1], order[rng_next() % i]);
    for (size_t i : order) {
        cur_block_idx = uint3{(unsigned)(i % g.x), (unsigned)((i / g.x) % g.y), (unsigned)(i / ((size_t)g.x * g.y))};
        run_block();
    }
}

// all device memory, in address order (the state a launch starts from, or a schedule's result);
// the buffers are kept from launch to launch
static void snapshot(std::vector<unsigned char> &s) {
    s.resize(allocated_bytes);
    size_t o = 0;
    for (auto &a : allocations) { memcpy(s.data() + o, (void *)a.first, a.second.bytes); o += a.second.bytes; }
}
static void restore(const std::vector<unsigned char> &s) {
    size_t o = 0;
    for (auto &a : allocations) { memcpy((void *)a.first, s.data() + o, a.second.bytes); o += a.second.bytes; }
}

// compare the device memory now with a reference schedule's (bit for bit, unless float atomics ran)
static void compare_schedules(const std::vector<unsigned char> &ref, bool tolerant) {
    size_t o = 0;
    for (auto &a : allocations) {
        const unsigned char *now = (const unsigned char *)a.first, *was = ref.data() + o;
        size_t n = a.second.bytes;
        o += n;
        if (!memcmp(now, was, n)) continue;
        // float atomics: sums in another order; allow 1e-5 of the value plus 1e-6 of the largest value
        float maxabs = 0.0f;
        if (tolerant && n % 4 == 0)
            for (size_t e = 0; e < n; e += 4) {
                float x;
                memcpy(&x, was + e, 4);
                if (isfinite(x)) maxabs = fmaxf(maxabs, fabsf(x));
            }
        for (size_t i = 0; i < n; i++) {
            if (now[i] == was[i]) continue;
            if (tolerant && n % 4 == 0) {
                size_t e = i / 4 * 4;
                float x, y;
                memcpy(&x, now + e, 4);
                memcpy(&y, was + e, 4);
                if (fabsf(x - y) <= 1e-5f * fmaxf(fabsf(x), fabsf(y)) + 1e-6f * maxabs) { i = e + 3; continue; }
            }
            fail("schedules %s and %s leave different device memory: byte %zu of the %zu-byte allocation at %p is "
                 "0x%02x, was 0x%02x (a shared-memory race: a missing __syncthreads / __syncwarp, or a read of "
                 "memory no thread wrote)", policy_names[0], policy_names[cur_policy], i, n, (void *)a.first, now[i],
                 was[i]);
        }
    }
}

void launch(const LaunchConfig &cfg, const void *kernel, void (*thread_fn)(void *), void *ctx,
            const void *const *ptr_args, int n_ptr_args) {
    dim3 g = cfg.grid, b = cfg.block;
    size_t nthreads = (size_t)b.x * b.y * b.z;
    if (!g.x || !g.y || !g.z || g.y > 65535 || g.z > 65535 || !nthreads || nthreads > 1024 || b.x > 1024 ||
        b.y > 1024 || b.z > 64) {
        last_error = cudaErrorInvalidConfiguration;
        return;
    }
    auto lim = max_dynamic_shared.find(kernel);
    size_t dyn_limit = lim != max_dynamic_shared.end() ? (size_t)lim->second : 48 * 1024;
    if (cfg.smem > dyn_limit) {   // as the driver: more than 48 KB needs cudaFuncSetAttribute first
        last_error = cudaErrorInvalidValue;
        return;
    }
    uintptr_t window = (uintptr_t)emu_dynamic_shared, arena = (uintptr_t)__start_emu_shared;
    __asm__("" : "+r"(window));   // linker symbols: the compiler may not assume two arrays differ
    if (window != arena)          // see "shared arena" above
        fail("the dynamic shared window does not start the shared arena: link runtime.o before the other objects");
    cur_kernel_name = kernel_name(kernel);
    cur_cfg = cfg;
    in_launch = true;
    cur = NULL;
    for (int i = 0; i < n_ptr_args; i++) {
        uintptr_t base;
        if (ptr_args[i] && !find_allocation(ptr_args[i], &base))
            fail("pointer argument %d of the launch (%p) is not device memory (cudaMalloc / cudaMallocHost)", i + 1,
                 ptr_args[i]);
    }
    run_fn = thread_fn;
    run_ctx = ctx;
    cur_grid_dim = g;
    cur_block_dim = b;
    block_threads = (int)nthreads;
    int nsched = std::max(1, std::min(3, env_int("EMU_SCHEDULES", 3)));
    static std::vector<unsigned char> start, first;
    if (nsched > 1) snapshot(start);
    bool tolerant = false;
    for (int s = 0; s < nsched; s++) {
        cur_policy = s;
        rng_state = (uint64_t)env_int("EMU_SEED", 1) * 0x2545f4914f6cdd1dull + 0x1234567ull;
        float_atomics = false;
        if (s > 0) restore(start);
        run_grid();
        tolerant |= float_atomics;
        if (nsched > 1 && s == 0) snapshot(first);
        if (s > 0) compare_schedules(first, tolerant);
    }
    in_launch = false;
    cur_thread_idx = NULL;
}

cudaError_t func_set_attribute(const void *func, cudaFuncAttribute attr, int value) {
    if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
        if (value < 0 || value > EMU_DYNAMIC_SHARED_MAX) return cudaErrorInvalidValue;
        max_dynamic_shared[func] = value;
    }
    return cudaSuccess;
}

// ---------------------------------------------------------------------------------- half

unsigned short float_to_half_bits(float f) {
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return 0x7fff;              // NaN
    if (ax == 0x7f800000u) return (unsigned short)(sign | 0x7c00u);
    int e = (int)(ax >> 23) - 127;
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;         // with the implicit bit (ax = 0 handled below)
    if (ax == 0) return (unsigned short)sign;
    int shift = e >= -14 ? 13 : 13 + (-14 - e);        // bits dropped from the 24-bit significand
    if (shift > 24) return (unsigned short)sign;       // below half the smallest subnormal
    uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (e >= -14) h = ((uint32_t)(e + 15) << 10) + (h & 0x3ffu);   // normal: exponent field + fraction
    if (rem > half || (rem == half && (h & 1u))) h++;               // a carry may round up to inf
    if (h >= 0x7c00u) h = 0x7c00u;
    return (unsigned short)(sign | h);
}

float half_bits_to_float(unsigned short h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 31) return bits_f32(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        float v = ldexpf((float)m, -24);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

}  // namespace emu

// ---------------------------------------------------------------------------------- the CUDA runtime API

using namespace emu;

static cudaError_t set_error(cudaError_t e) {
    if (e != cudaSuccess) last_error = e;
    return e;
}

cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
cudaError_t cudaSetDevice(int dev) { return dev == 0 ? cudaSuccess : set_error(cudaErrorInvalidDevice); }
cudaError_t cudaGetDevice(int *dev) { *dev = 0; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev) {
    if (dev != 0) return set_error(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "cuda-emu (an sm_90 device emulated on the CPU)");
    p->totalGlobalMem = (size_t)80 << 30;
    p->sharedMemPerBlock = 48 * 1024;
    p->sharedMemPerBlockOptin = EMU_DYNAMIC_SHARED_MAX;
    p->warpSize = 32;
    p->maxThreadsPerBlock = 1024;
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 132;
    p->l2CacheSize = 50 << 20;
    p->memoryClockRate = 2619000;
    p->memoryBusWidth = 5120;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr attr, int dev) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, dev) != cudaSuccess) return cudaErrorInvalidDevice;
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *v = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = (int)p.sharedMemPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = (int)p.sharedMemPerBlockOptin; break;
    case cudaDevAttrWarpSize: *v = 32; break;
    case cudaDevAttrMultiProcessorCount: *v = p.multiProcessorCount; break;
    case cudaDevAttrMemoryClockRate: *v = p.memoryClockRate; break;
    case cudaDevAttrGlobalMemoryBusWidth: *v = p.memoryBusWidth; break;
    case cudaDevAttrL2CacheSize: *v = p.l2CacheSize; break;
    case cudaDevAttrComputeCapabilityMajor: *v = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *v = p.minor; break;
    default: return set_error(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaDeviceReset(void) { return cudaSuccess; }
cudaError_t cudaGetLastError(void) { cudaError_t e = last_error; last_error = cudaSuccess; return e; }
cudaError_t cudaPeekAtLastError(void) { return last_error; }
const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    }
    return "cudaErrorUnknown";
}
const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    }
    return "unknown error";
}

// Device allocations. Under AddressSanitizer: malloc, whose redzones catch overruns exactly.
// Otherwise: the allocation ends (rounded up to 16 bytes) right below a PROT_NONE page, so a read or
// write past the end faults, and the SIGSEGV handler names the allocation (electric-fence style).
struct Mapping { void *base; size_t bytes; };
static std::map<uintptr_t, Mapping> &mappings = *new std::map<uintptr_t, Mapping>;   // user pointer -> mmap region

static void segv_handler(int, siginfo_t *info, void *) {
    uintptr_t a = (uintptr_t)info->si_addr;
    for (auto &m : mappings) {
        uintptr_t guard = (uintptr_t)m.second.base + m.second.bytes - 4096;
        if (a >= guard && a < guard + 4096) {
            const Allocation &al = allocations[m.first];
            fail("out-of-bounds access: address %p is %zu bytes past the end of the %zu-byte device allocation at %p",
                 info->si_addr, (size_t)(a - m.first - al.bytes), al.bytes, (void *)m.first);
        }
    }
    for (int i = 0; i < stacks_made; i++)
        if (a >= (uintptr_t)threads[i].stack - 4096 && a < (uintptr_t)threads[i].stack)
            fail("stack overflow in a kernel thread (raise EMU_STACK_KB, now %zu)", stack_bytes() / 1024);
    fail("segmentation fault at address %p", info->si_addr);
}

static void install_segv_handler(void) {
#ifndef EMU_ASAN
    static bool done = false;
    if (done) return;
    done = true;
    static unsigned char alt[64 * 1024];   // the handler must run even when a fiber's stack overflowed
    stack_t ss = {};
    ss.ss_sp = alt;
    ss.ss_size = sizeof alt;
    sigaltstack(&ss, NULL);
    struct sigaction sa = {};
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
#endif
}

static cudaError_t register_allocation(void **p, size_t bytes, bool host) {
    if (!p) return set_error(cudaErrorInvalidValue);
    void *m;
#ifdef EMU_ASAN
    m = malloc(bytes ? bytes : 1);
    if (!m) return set_error(cudaErrorMemoryAllocation);
#else
    install_segv_handler();
    size_t body = (bytes + 15) / 16 * 16, total = (body + 4095) / 4096 * 4096 + 4096;
    unsigned char *base = (unsigned char *)mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return set_error(cudaErrorMemoryAllocation);
    mprotect(base + total - 4096, 4096, PROT_NONE);
    m = base + total - 4096 - body;
    mappings[(uintptr_t)m] = Mapping{base, total};
#endif
    memset(m, 0xff, bytes);   // device memory starts as NaN bytes: reading it before writing shows
    allocations[(uintptr_t)m] = Allocation{bytes, host};
    allocated_bytes += bytes;
    *p = m;
    return cudaSuccess;
}
static cudaError_t release_allocation(void *p, bool host) {
    if (!p) return cudaSuccess;
    auto it = allocations.find((uintptr_t)p);
    if (it == allocations.end() || it->second.host != host) return set_error(cudaErrorInvalidValue);
    allocated_bytes -= it->second.bytes;
    allocations.erase(it);
#ifdef EMU_ASAN
    free(p);
#else
    Mapping m = mappings[(uintptr_t)p];
    mappings.erase((uintptr_t)p);
    munmap(m.base, m.bytes);
#endif
    return cudaSuccess;
}
cudaError_t cudaMalloc(void **p, size_t bytes) { return register_allocation(p, bytes, false); }
cudaError_t cudaFree(void *p) { return release_allocation(p, false); }
cudaError_t cudaMallocHost(void **p, size_t bytes) { return register_allocation(p, bytes, true); }
cudaError_t cudaFreeHost(void *p) { return release_allocation(p, true); }
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    *total_bytes = (size_t)80 << 30;
    *free_bytes = *total_bytes - allocated_bytes;
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return cudaSuccess;
    bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind > cudaMemcpyDefault) return set_error(cudaErrorInvalidMemcpyDirection);
    if ((dst_dev && !device_range_ok(dst, bytes)) || (src_dev && !device_range_ok(src, bytes)))
        return set_error(cudaErrorInvalidValue);
    memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    if (bytes == 0) return cudaSuccess;
    if (!device_range_ok(p, bytes)) return set_error(cudaErrorInvalidValue);
    memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }
cudaError_t cudaStreamCreate(cudaStream_t *s) { *s = (cudaStream_t)(uintptr_t)1; return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

struct emu_event { double ms; };
static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = (cudaEvent_t)malloc(sizeof(emu_event));
    if (!*e) return set_error(cudaErrorMemoryAllocation);
    (*e)->ms = 0;
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) { free(e); return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) { e->ms = now_ms(); return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) { *ms = (float)(b->ms - a->ms); return cudaSuccess; }
