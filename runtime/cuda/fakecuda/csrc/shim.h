// shim.h runs CUDA C kernels on the host CPU, for package fakecuda: the
// fake NVRTC compiles the kernel source with g++ and this header forced in
// front of it. It supplies the CUDA builtins the kernels use, and executes
// a launch block by block, each thread of a block a fiber (ucontext), so
// that __syncthreads and warp shuffles really wait for the other threads.
//
// Blocks run one at a time in reverse order (a kernel that depends on the
// order of blocks is wrong on a GPU too), threads round-robin, each
// running alone until its next barrier; a barrier that not every thread
// reaches is reported as a deadlock instead of hanging. Only what
// nnscope's kernels use is here.
//
// Threads switch only at barriers, so a race between two threads of a
// block (a missing __syncthreads or __syncwarp) is invisible in one order
// of running them. FAKECUDA_THREAD_ORDER=skew runs another order: warps
// one after another, last first, each as far as it gets before waiting
// at a block barrier, and within a warp the last lane first. A warp then
// reaches its next phase before the others leave the last one, and a
// kernel with such a race reads other values in one of the two orders;
// the tests run in both.
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#define __global__
#define __launch_bounds__(...)
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __shared__ static
#define __restrict__ __restrict

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
};

static uint3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;
static const int warpSize = 32;

// Integer and float min/max as CUDA's device overloads.
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline unsigned min(int a, unsigned b) { return min((unsigned)a, b); }
static inline unsigned min(unsigned a, int b) { return min(a, (unsigned)b); }
static inline unsigned max(int a, unsigned b) { return max((unsigned)a, b); }
static inline unsigned max(unsigned a, int b) { return max(a, (unsigned)b); }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline float __fdividef(float a, float b) { return a / b; }
static inline float __int_as_float(int i) {
    float f;
    memcpy(&f, &i, 4);
    return f;
}
static inline int __float_as_int(float f) {
    int i;
    memcpy(&i, &f, 4);
    return i;
}

// Threads of a block run on one OS thread and switch only at barriers, so
// read-modify-writes are atomic as they stand.
static inline float atomicAdd(float* p, float v) {
    float o = *p;
    *p = o + v;
    return o;
}
static inline int atomicAdd(int* p, int v) {
    int o = *p;
    *p = o + v;
    return o;
}
static inline unsigned atomicAdd(unsigned* p, unsigned v) {
    unsigned o = *p;
    *p = o + v;
    return o;
}
static inline int atomicMax(int* p, int v) {
    int o = *p;
    if (v > o) *p = v;
    return o;
}

namespace fk {

enum { MAX_THREADS = 1024, STACK = 64 << 10 };

// Switching fibers: on x86-64 a few instructions that swap the callee-saved
// registers and the stack pointer (swapcontext also saves the signal mask,
// a system call per switch, which made barrier-heavy kernels 10x slower);
// elsewhere ucontext.
#if defined(__x86_64__)
extern "C" void fk_switch(void** save, void* to);
asm(R"(
.text
.p2align 4
.hidden fk_switch
.globl fk_switch
.type fk_switch,@function
fk_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size fk_switch,.-fk_switch
)");
struct Context {
    void* sp;
};
static void prepare(Context& c, char* stack, void (*entry)()) {
    // Lay out what fk_switch pops: six registers, then entry as the return
    // address, then a slot standing for entry's own return address (entry
    // never returns), keeping the ABI's 16-byte alignment at entry.
    uintptr_t top = ((uintptr_t)(stack + STACK)) & ~(uintptr_t)15;
    void** sp = (void**)top;
    *--sp = nullptr;
    *--sp = (void*)entry;
    for (int i = 0; i < 6; i++) *--sp = nullptr;
    c.sp = sp;
}
static inline void jump(Context& from, Context& to) { fk_switch(&from.sp, to.sp); }
#else
struct Context {
    ucontext_t uc;
};
static void prepare(Context& c, char* stack, void (*entry)()) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = STACK;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, entry, 0);
}
static inline void jump(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#endif

struct Fiber {
    Context ctx;
    char* stack;
    int done;
};

static Fiber fib[MAX_THREADS];
static Context sched;
static int nthreads, cur, live;
static int warpLive[MAX_THREADS / 32];
static void (*body)(void**);
static void** params;

// A barrier counts arrivals among the live threads it spans; the last one
// to arrive (or to exit) opens it by bumping its generation.
struct Barrier {
    int count, gen;
};
static Barrier block, warp[MAX_THREADS / 32];
static unsigned long long progress; // barriers opened and threads finished
static unsigned long long xchg[MAX_THREADS];

static void yield() { jump(fib[cur].ctx, sched); }

static const bool skewOrder = [] {
    const char* o = getenv("FAKECUDA_THREAD_ORDER");
    return o != nullptr && strcmp(o, "skew") == 0;
}();

static void arrive(Barrier& b, int n) {
    int g = b.gen;
    if (++b.count >= n) {
        b.count = 0;
        b.gen++;
        progress++;
        return;
    }
    while (b.gen == g) yield();
}

static void open(Barrier& b, int n) {
    if (b.count > 0 && b.count >= n) {
        b.count = 0;
        b.gen++;
    }
}

// fiberMain runs one thread of the block, then hands back to the scheduler
// for good.
static void fiberMain() {
    body(params);
    fib[cur].done = 1;
    live--;
    warpLive[cur / 32]--;
    progress++;
    open(block, live);
    open(warp[cur / 32], warpLive[cur / 32]);
    jump(fib[cur].ctx, sched);
    abort();  // a finished fiber is never resumed
}

static void setThread(int t) {
    cur = t;
    threadIdx.x = t % blockDim.x;
    threadIdx.y = t / blockDim.x % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

// runBlock runs every thread of the current block to completion; it
// returns 0, or -1 on a deadlock.
static int runBlock() {
    live = nthreads;
    for (int w = 0; w * 32 < nthreads; w++) {
        warpLive[w] = min(32, nthreads - w * 32);
        warp[w].count = 0;
    }
    block.count = 0;
    for (int t = 0; t < nthreads; t++) {
        Fiber& f = fib[t];
        if (!f.stack) f.stack = (char*)malloc(STACK);
        prepare(f.ctx, f.stack, fiberMain);
        f.done = 0;
    }
    while (live > 0) {
        unsigned long long before = progress;
        if (!skewOrder) {
            for (int t = 0; t < nthreads; t++) {
                if (fib[t].done) continue;
                setThread(t);
                jump(sched, fib[t].ctx);
            }
        } else {
            for (int w = (nthreads - 1) / 32; w >= 0; w--) {
                // Run this warp's lanes, last first, until a round of them
                // opens no barrier: all wait at a block barrier or are done.
                for (unsigned long long p = progress - 1; p != progress;) {
                    p = progress;
                    for (int t = min(nthreads, (w + 1) * 32) - 1; t >= w * 32; t--) {
                        if (fib[t].done) continue;
                        setThread(t);
                        jump(sched, fib[t].ctx);
                    }
                }
            }
        }
        // Every live thread came back waiting at a barrier that none of
        // them opened: they will wait forever.
        if (live > 0 && progress == before) return -1;
    }
    return 0;
}

}  // namespace fk

static inline void __syncthreads() { fk::arrive(fk::block, fk::live); }
static inline void __syncwarp(unsigned = 0xffffffffu) {
    int w = fk::cur / 32;
    fk::arrive(fk::warp[w], fk::warpLive[w]);
}

// shfl exchanges a value among the live lanes of the warp: each lane
// publishes its value, the warp meets, each reads its source lane (its own
// value when the source is out of range), and the warp meets again before
// the slots are reused.
template <class T, class F>
static inline T fkShfl(T v, int width, F src) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    int t = fk::cur, w = t / 32, lane = t % 32;
    unsigned long long bits = 0;
    memcpy(&bits, &v, sizeof(T));
    fk::xchg[t] = bits;
    __syncwarp();
    int base = lane / width * width, s = src(lane - base);
    T r = v;
    if (s >= 0 && s < width && w * 32 + base + s < fk::nthreads) memcpy(&r, &fk::xchg[w * 32 + base + s], sizeof(T));
    __syncwarp();
    return r;
}
template <class T>
static inline T __shfl_xor_sync(unsigned, T v, int m, int width = 32) {
    return fkShfl(v, width, [m](int l) { return l ^ m; });
}
template <class T>
static inline T __shfl_down_sync(unsigned, T v, unsigned d, int width = 32) {
    return fkShfl(v, width, [d](int l) { return l + (int)d; });
}
template <class T>
static inline T __shfl_up_sync(unsigned, T v, unsigned d, int width = 32) {
    return fkShfl(v, width, [d](int l) { return l - (int)d; });
}
template <class T>
static inline T __shfl_sync(unsigned, T v, int s, int width = 32) {
    return fkShfl(v, width, [s](int) { return s; });
}

// fk_launch runs kernel (the generated wrapper that unpacks kernelParams)
// over the grid. It returns 0, or -1 on a deadlock with a message in err.
extern "C" int fk_launch(void (*kernel)(void**), unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                         unsigned bz, void** kernelParams, char* err, int errLen) {
    gridDim = dim3{gx, gy, gz};
    blockDim = dim3{bx, by, bz};
    fk::nthreads = (int)(bx * by * bz);
    if (fk::nthreads > fk::MAX_THREADS) {
        snprintf(err, errLen, "block of %d threads exceeds %d", fk::nthreads, (int)fk::MAX_THREADS);
        return -1;
    }
    fk::body = kernel;
    fk::params = kernelParams;
    long long nb = (long long)gx * gy * gz;
    for (long long b = nb - 1; b >= 0; b--) {
        blockIdx.x = (unsigned)(b % gx);
        blockIdx.y = (unsigned)(b / gx % gy);
        blockIdx.z = (unsigned)(b / ((long long)gx * gy));
        if (fk::runBlock() != 0) {
            snprintf(err, errLen, "deadlock in block (%u,%u,%u): %d of %d threads wait at a barrier the others never reach",
                     blockIdx.x, blockIdx.y, blockIdx.z, fk::live, fk::nthreads);
            return -1;
        }
    }
    return 0;
}
