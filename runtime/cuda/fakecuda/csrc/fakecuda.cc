// fakecuda.cc is a host-CPU stand-in for the parts of libcuda.so.1,
// libnvrtc and libcublas that nnscope's runtime/cuda calls, built into one
// shared library that package fakecuda installs under the three sonames.
// It lets the real GPU backend (purego bindings, argument packing, the
// caching allocator, every kernel) run and be tested on machines without a
// GPU. It is strict where a GPU would fail or misbehave silently:
//
//   - every call but initialization needs the context current on the
//     calling OS thread (cuCtxSetCurrent), as the driver does;
//   - device memory is mmap'd with a PROT_NONE guard page right after each
//     allocation, so a kernel that writes past its buffer faults; a fault
//     in a kernel becomes the sticky CUDA_ERROR_ILLEGAL_ADDRESS that every
//     later call returns, as on a GPU;
//   - copies, memsets and GEMM operands must lie inside live allocations,
//     and a device-to-device copy's source and destination must not overlap;
//   - launch sizes are checked against the hardware limits;
//   - cuBLAS checks leading dimensions, and TF32 mode rounds the inputs of
//     products to TF32's 10-bit mantissa.
//
// "NVRTC" compiles the kernel source with g++ and shim.h (which runs
// threads as fibers); the "CUBIN" it returns is that shared object, ELF
// like a real CUBIN, loaded by cuModuleLoadData from memory. Its "PTX" is
// text with PTX's .version and .target header and an .entry per kernel,
// carrying the same shared object; cuModuleLoadData takes either, as the
// driver does. As with real CUDA, NVRTC knows a list of architectures
// (FAKECUDA_NVRTC_ARCHS) and rejects any other with
// NVRTC_ERROR_INVALID_OPTION, a CUBIN loads only on a GPU of its major
// version and at least its minor, and PTX only on a GPU at least as new as
// its .target. The GPU is compute capability 9.0, or FAKECUDA_CC ("12.0").
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <elf.h>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
    OK = 0,
    INVALID_VALUE = 1,
    OUT_OF_MEMORY = 2,
    NOT_INITIALIZED = 3,
    INVALID_DEVICE = 101,
    INVALID_IMAGE = 200,
    NO_BINARY_FOR_GPU = 209,
    INVALID_PTX = 218,
    UNSUPPORTED_PTX_VERSION = 222,
    INVALID_CONTEXT = 201,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    ILLEGAL_ADDRESS = 700,
    LAUNCH_OUT_OF_RESOURCES = 701,
    LAUNCH_FAILED = 719,
};

// What the fake GPU reports and allocates up to: 16 GiB, or FAKECUDA_MEMORY
// (bytes, or with a K, M or G suffix), so that out-of-memory can be tested
// part-way through a model's forward or backward pass.
static size_t totalMemory() {
    const char* s = getenv("FAKECUDA_MEMORY");
    if (!s || !*s) return 16ull << 30;
    char* end;
    unsigned long long v = strtoull(s, &end, 10);
    switch (*end) {
    case 'K': case 'k': v <<= 10; end++; break;
    case 'M': case 'm': v <<= 20; end++; break;
    case 'G': case 'g': v <<= 30; end++; break;
    }
    if (*end || v == 0) {
        fprintf(stderr, "fakecuda: FAKECUDA_MEMORY=%s: want a number of bytes (suffix K, M or G)\n", s);
        abort();
    }
    return v;
}
static const size_t kTotalMemory = totalMemory();

// The fake GPU's compute capability: 9.0, or FAKECUDA_CC ("12.0"), so that
// a GPU newer than NVRTC knows can be tested.
struct CC {
    int major, minor;
};
static CC computeCapability() {
    const char* s = getenv("FAKECUDA_CC");
    if (!s || !*s) return CC{9, 0};
    CC c;
    char end;
    if (sscanf(s, "%d.%d%c", &c.major, &c.minor, &end) != 2 || c.major < 1 || c.minor < 0 || c.minor > 9) {
        fprintf(stderr, "fakecuda: FAKECUDA_CC=%s: want a compute capability such as 12.0\n", s);
        abort();
    }
    return c;
}
static const CC kCC = computeCapability();
static const int kArch = kCC.major * 10 + kCC.minor;  // as NVRTC numbers them: 120 for sm_120
static const size_t kPage = 4096;
static void* const kContext = (void*)0x5eed;

static std::mutex mu;  // guards the tables below
static bool initialized;
static CUresult sticky;  // a kernel fault poisons the context, as on a GPU
static thread_local void* current;

struct Alloc {
    char* base;       // mmap'd region start
    size_t mapped;    // bytes mapped, guard page included
    size_t size;      // bytes asked for
};
static std::map<CUdeviceptr, Alloc> allocs;  // keyed by the address handed out
static size_t used;

// The FAKECUDA_* switches, read once (the environment is the process's own).
static const bool kQuiet = getenv("FAKECUDA_QUIET") != nullptr;
static const bool kProfile = getenv("FAKECUDA_PROFILE") != nullptr;
// FAKECUDA_NOEXEC checks and accepts launches, GEMMs, device-to-device
// copies and memsets but runs none (results are garbage): what is left of a
// pass's time is the host's own cost, the part a GPU cannot hide.
static const bool kNoExec = getenv("FAKECUDA_NOEXEC") != nullptr;

static void logf_(const char* fmt, const char* a, const char* b = "") {
    if (!kQuiet) fprintf(stderr, fmt, a, b);
}

// inside reports whether [p, p+n) lies in one live allocation.
static bool inside(CUdeviceptr p, size_t n) {
    auto it = allocs.upper_bound(p);
    if (it == allocs.begin()) return false;
    --it;
    return p >= it->first && p + n <= it->first + it->second.size;
}

// enter checks the state every call but initialization needs.
static CUresult enter() {
    if (!initialized) return NOT_INITIALIZED;
    if (current != kContext) return INVALID_CONTEXT;
    return sticky;
}

static CUresult fault(const char* what, const char* detail) {
    logf_("fakecuda: %s: %s\n", what, detail);
    sticky = ILLEGAL_ADDRESS;
    return OK;  // reported by a later call, as a GPU reports faults at the next sync
}

extern "C" {

// ---- driver: devices and contexts ----

CUresult cuInit(unsigned flags) {
    if (flags != 0) return INVALID_VALUE;
    initialized = true;
    return OK;
}
CUresult cuDriverGetVersion(int* v) {
    *v = 13000;
    return OK;
}
CUresult cuDeviceGetCount(int* n) {
    if (!initialized) return NOT_INITIALIZED;
    *n = 1;
    return OK;
}
CUresult cuDeviceGet(int* d, int ordinal) {
    if (!initialized) return NOT_INITIALIZED;
    if (ordinal != 0) return INVALID_DEVICE;
    *d = 0;
    return OK;
}
CUresult cuDeviceGetName(char* name, int len, int dev) {
    if (dev != 0) return INVALID_DEVICE;
    snprintf(name, len, "nnscope fakecuda (host CPU)");
    return OK;
}
CUresult cuDeviceGetAttribute(int* v, int attr, int dev) {
    if (dev != 0) return INVALID_DEVICE;
    switch (attr) {
    case 75: *v = kCC.major; break;  // compute capability major
    case 76: *v = kCC.minor; break;  // minor
    case 16: *v = 4; break;   // multiprocessors
    case 1: *v = 1024; break; // max threads per block
    default: *v = 0;
    }
    return OK;
}
CUresult cuDeviceTotalMem_v2(size_t* bytes, int dev) {
    if (dev != 0) return INVALID_DEVICE;
    *bytes = kTotalMemory;
    return OK;
}
CUresult cuDevicePrimaryCtxRetain(void** ctx, int dev) {
    if (!initialized) return NOT_INITIALIZED;
    if (dev != 0) return INVALID_DEVICE;
    *ctx = kContext;
    return OK;
}
CUresult cuDevicePrimaryCtxRelease_v2(int dev) { return dev == 0 ? OK : INVALID_DEVICE; }
CUresult cuCtxSetCurrent(void* ctx) {
    if (ctx != nullptr && ctx != kContext) return INVALID_CONTEXT;
    current = ctx;
    return OK;
}
CUresult cuCtxSynchronize() { return enter(); }

CUresult cuGetErrorName(CUresult code, const char** s) {
    switch (code) {
    case OK: *s = "CUDA_SUCCESS"; break;
    case INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
    case OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
    case NOT_INITIALIZED: *s = "CUDA_ERROR_NOT_INITIALIZED"; break;
    case INVALID_DEVICE: *s = "CUDA_ERROR_INVALID_DEVICE"; break;
    case INVALID_IMAGE: *s = "CUDA_ERROR_INVALID_IMAGE"; break;
    case NO_BINARY_FOR_GPU: *s = "CUDA_ERROR_NO_BINARY_FOR_GPU"; break;
    case INVALID_PTX: *s = "CUDA_ERROR_INVALID_PTX"; break;
    case UNSUPPORTED_PTX_VERSION: *s = "CUDA_ERROR_UNSUPPORTED_PTX_VERSION"; break;
    case INVALID_CONTEXT: *s = "CUDA_ERROR_INVALID_CONTEXT"; break;
    case INVALID_HANDLE: *s = "CUDA_ERROR_INVALID_HANDLE"; break;
    case NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
    case ILLEGAL_ADDRESS: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; break;
    case LAUNCH_OUT_OF_RESOURCES: *s = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"; break;
    case LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; break;
    default: return INVALID_VALUE;
    }
    return OK;
}

// ---- streams and events: work runs at once, in order ----

static int streamTag;
CUresult cuStreamCreate(void** s, unsigned flags) {
    if (CUresult r = enter()) return r;
    *s = &streamTag;
    return OK;
}
CUresult cuStreamDestroy_v2(void* s) { return s == &streamTag ? OK : INVALID_HANDLE; }
CUresult cuStreamSynchronize(void* s) {
    std::lock_guard<std::mutex> l(mu);
    if (s != &streamTag && s != nullptr) return INVALID_HANDLE;
    return enter();
}

struct Event {
    double ms;
};
CUresult cuEventCreate(void** e, unsigned) {
    if (CUresult r = enter()) return r;
    *e = new Event{0};
    return OK;
}
CUresult cuEventRecord(void* e, void*) {
    if (CUresult r = enter()) return r;
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ((Event*)e)->ms = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
    return OK;
}
CUresult cuEventSynchronize(void*) { return enter(); }
CUresult cuEventElapsedTime(float* ms, void* a, void* b) {
    *ms = (float)(((Event*)b)->ms - ((Event*)a)->ms);
    return OK;
}
CUresult cuEventDestroy_v2(void* e) {
    delete (Event*)e;
    return OK;
}

// ---- memory ----

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    std::lock_guard<std::mutex> l(mu);
    if (CUresult r = enter()) return r;
    if (bytes == 0) return INVALID_VALUE;
    if (used + bytes > kTotalMemory) return OUT_OF_MEMORY;
    size_t rounded = (bytes + 255) / 256 * 256;  // device pointers are 256-byte aligned
    size_t mapped = (rounded + kPage - 1) / kPage * kPage + kPage;
    char* base = (char*)mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return OUT_OF_MEMORY;
    mprotect(base + mapped - kPage, kPage, PROT_NONE);
    // The allocation ends where the guard page starts (up to the 256-byte
    // rounding), so running off its end faults.
    CUdeviceptr ptr = (CUdeviceptr)(base + mapped - kPage - rounded);
    // Fill with NaN-ish garbage: a kernel that reads memory nobody wrote
    // gives itself away in the results.
    memset(base, 0xff, mapped - kPage);
    allocs[ptr] = Alloc{base, mapped, bytes};
    used += bytes;
    *p = ptr;
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
    std::lock_guard<std::mutex> l(mu);
    if (CUresult r = enter(); r && r != ILLEGAL_ADDRESS) return r;
    auto it = allocs.find(p);
    if (it == allocs.end()) return INVALID_VALUE;
    munmap(it->second.base, it->second.mapped);
    used -= it->second.size;
    allocs.erase(it);
    return OK;
}
CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    std::lock_guard<std::mutex> l(mu);
    if (CUresult r = enter()) return r;
    *free = kTotalMemory - used;
    *total = kTotalMemory;
    return OK;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
    std::lock_guard<std::mutex> l(mu);
    if (CUresult r = enter()) return r;
    if (!inside(dst, n)) return INVALID_VALUE;
    memcpy((void*)dst, src, n);
    return OK;
}
CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
    std::lock_guard<std::mutex> l(mu);
    if (CUresult r = enter()) return r;
    if (!inside(src, n)) return INVALID_VALUE;
    memcpy(dst, (const void*)src, n);
    return OK;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void*) {
    std::lock_guard<std::mutex> l(mu);
    if (CUresult r = enter()) return r;
    if (!inside(dst, n) || !inside(src, n)) return INVALID_VALUE;
    // Overlapping ranges are undefined behaviour on a GPU (no memmove
    // guarantee): a fault here rather than a result that happens to work.
    if (n > 0 && dst < src + n && src < dst + n) return fault("cuMemcpyDtoDAsync", "source and destination overlap");
    if (kNoExec) return OK;
    memcpy((void*)dst, (const void*)src, n);
    return OK;
}
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned v, size_t n, void*) {
    std::lock_guard<std::mutex> l(mu);
    if (CUresult r = enter()) return r;
    if (dst % 4 != 0 || !inside(dst, 4 * n)) return INVALID_VALUE;
    if (kNoExec) return OK;
    unsigned* p = (unsigned*)dst;
    for (size_t i = 0; i < n; i++) p[i] = v;
    return OK;
}

// ---- modules and launches ----

typedef int (*LaunchFn)(void (*)(void**), unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void**, char*,
                        int);
struct Module {
    void* handle;
    LaunchFn launch;
};
struct Function {
    Module* mod;
    void (*kernel)(void**);
    std::string name;
};

// elfSize returns the size of the ELF image at p from its header (the
// section header table comes last in what g++ writes), 0 if p is no ELF.
static size_t elfSize(const void* p) {
    const Elf64_Ehdr* h = (const Elf64_Ehdr*)p;
    if (memcmp(h->e_ident, ELFMAG, SELFMAG) != 0 || h->e_ident[EI_CLASS] != ELFCLASS64) return 0;
    return h->e_shoff + (size_t)h->e_shnum * h->e_shentsize;
}

// loadObject dlopens the n-byte shared object at image as a module. It
// fails with NO_BINARY_FOR_GPU unless fk_arch, the architecture it was
// compiled for, suits the GPU: for a CUBIN (ptxTarget 0), the GPU's major
// version and a minor no later than the GPU's, as a real CUBIN; for PTX,
// the PTX's own .target, ptxTarget (the PTX's check is loadPTX's).
static CUresult loadObject(void** mod, const void* image, size_t n, int ptxTarget) {
    char path[] = "/tmp/fakecuda-module-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return INVALID_IMAGE;
    bool ok = write(fd, image, n) == (ssize_t)n;
    close(fd);
    void* h = ok ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : nullptr;
    if (!h) logf_("fakecuda: cuModuleLoadData: %s%s\n", dlerror());
    unlink(path);
    if (!h) return INVALID_IMAGE;
    LaunchFn launch = (LaunchFn)dlsym(h, "fk_launch");
    const int* arch = (const int*)dlsym(h, "fk_arch");
    if (!launch || !arch) {
        dlclose(h);
        return INVALID_IMAGE;
    }
    bool fits = ptxTarget ? *arch == ptxTarget : *arch / 10 == kCC.major && *arch % 10 <= kCC.minor;
    if (!fits) {
        dlclose(h);
        return NO_BINARY_FOR_GPU;
    }
    *mod = new Module{h, launch};
    return OK;
}

static int b64value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// loadPTX "JIT-compiles" fake PTX (see ptxText): it checks the header as
// the driver does, then loads the shared object it carries. The text must
// end in a NUL right after its last line, as the driver reads PTX up to
// its NUL.
static CUresult loadPTX(void** mod, const char* text) {
    int vmaj = -1, vmin = -1, target = -1;
    size_t objBytes = 0;
    std::vector<char> obj;
    bool inObject = false, ended = false;
    const char* p = text;
    while (*p && !ended) {
        const char* nl = strchr(p, '\n');
        if (!nl) return INVALID_PTX;  // every line ends in a newline
        std::string line(p, nl - p);
        p = nl + 1;
        if (inObject) {
            if (line == "// fakecuda-end") {
                ended = true;
            } else if (line.rfind("//@", 0) == 0) {
                unsigned bits = 0;
                int nbits = 0;
                for (size_t i = 3; i < line.size() && line[i] != '='; i++) {
                    int v = b64value(line[i]);
                    if (v < 0) return INVALID_PTX;
                    bits = bits << 6 | v;
                    if ((nbits += 6) >= 8) {
                        nbits -= 8;
                        obj.push_back((char)(bits >> nbits & 0xff));
                    }
                }
            } else {
                return INVALID_PTX;
            }
        } else if (line.rfind(".version ", 0) == 0) {
            if (sscanf(line.c_str(), ".version %d.%d", &vmaj, &vmin) != 2) return INVALID_PTX;
        } else if (line.rfind(".target ", 0) == 0) {
            if (sscanf(line.c_str(), ".target sm_%d", &target) != 1) return INVALID_PTX;
        } else if (sscanf(line.c_str(), "// fakecuda-object %zu", &objBytes) == 1) {
            inObject = true;
        }
    }
    if (!ended || *p != '\0') {
        logf_("fakecuda: cuModuleLoadData: %s%s\n", "PTX cut short, or not NUL-terminated right after its last line");
        return INVALID_PTX;
    }
    if (vmaj < 0 || target < 0) return INVALID_PTX;
    if (vmaj * 10 + vmin > 90) return UNSUPPORTED_PTX_VERSION;  // what a CUDA 13.0 driver reads
    if (target > kArch) return NO_BINARY_FOR_GPU;  // PTX runs on GPUs at least as new as its target
    if (obj.size() != objBytes || obj.size() < sizeof(Elf64_Ehdr) || elfSize(obj.data()) == 0) return INVALID_PTX;
    return loadObject(mod, obj.data(), obj.size(), target);
}

CUresult cuModuleLoadData(void** mod, const void* image) {
    std::lock_guard<std::mutex> l(mu);
    if (CUresult r = enter()) return r;
    if (!image) return INVALID_VALUE;
    if (memcmp(image, ELFMAG, SELFMAG) != 0) return loadPTX(mod, (const char*)image);
    size_t n = elfSize(image);
    if (n == 0) return INVALID_IMAGE;
    return loadObject(mod, image, n, 0);
}
CUresult cuModuleUnload(void* mod) {
    Module* m = (Module*)mod;
    if (!m) return INVALID_HANDLE;
    dlclose(m->handle);
    delete m;
    return OK;
}
CUresult cuModuleGetFunction(void** f, void* mod, const char* name) {
    std::lock_guard<std::mutex> l(mu);
    if (CUresult r = enter()) return r;
    Module* m = (Module*)mod;
    std::string sym = std::string(name) + "__fk";
    void* k = dlsym(m->handle, sym.c_str());
    if (!k) return NOT_FOUND;
    *f = new Function{m, (void (*)(void**))k, name};
    return OK;
}

static sigjmp_buf faultJump;
static volatile sig_atomic_t inKernel;
static struct sigaction oldSegv, oldBus;
static pthread_t kernelThread;  // the thread inKernel speaks for
static volatile void* faultAddr;

static void onFault(int sig, siginfo_t* info, void* uctx) {
    if (inKernel && pthread_equal(pthread_self(), kernelThread)) {
        faultAddr = info->si_addr;
        siglongjmp(faultJump, 1);
    }
    // Not ours (another thread, e.g. a Go nil dereference): pass it on.
    struct sigaction* old = sig == SIGSEGV ? &oldSegv : &oldBus;
    if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, info, uctx);
    } else if (old->sa_handler != SIG_IGN && old->sa_handler != SIG_DFL) {
        old->sa_handler(sig);
    } else {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

CUresult cuLaunchKernel(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, void* stream, void** params, void** extra) {
    std::lock_guard<std::mutex> l(mu);
    if (CUresult r = enter()) return r;
    Function* f = (Function*)fn;
    if (!f || (stream != &streamTag && stream != nullptr)) return INVALID_HANDLE;
    if (extra != nullptr || params == nullptr) return INVALID_VALUE;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) return INVALID_VALUE;
    if (gx > 0x7fffffffu || gy > 65535 || gz > 65535) return INVALID_VALUE;
    if (bx > 1024 || by > 1024 || bz > 64 || (unsigned long long)bx * by * bz > 1024) return INVALID_VALUE;
    if (shmem > 48 * 1024) return INVALID_VALUE;
    if (kNoExec) return OK;
    char err[256] = "";
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = onFault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGSEGV, &sa, &oldSegv);
    sigaction(SIGBUS, &sa, &oldBus);
    int rc;
    timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (sigsetjmp(faultJump, 1) == 0) {
        kernelThread = pthread_self();
        inKernel = 1;
        rc = f->mod->launch(f->kernel, gx, gy, gz, bx, by, bz, params, err, sizeof err);
        inKernel = 0;
    } else {
        inKernel = 0;
        snprintf(err, sizeof err, "memory fault at %p (outside every allocation, or past one's end)", (void*)faultAddr);
        rc = -2;
    }
    sigaction(SIGSEGV, &oldSegv, nullptr);
    sigaction(SIGBUS, &oldBus, nullptr);
    if (kProfile) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fprintf(stderr, "fakecuda-profile: %s grid (%u,%u,%u) block (%u,%u,%u) %.3f ms\n", f->name.c_str(), gx, gy, gz,
                bx, by, bz, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    }
    if (rc == -2) return fault(f->name.c_str(), err);
    if (rc != 0) {
        logf_("fakecuda: %s: %s\n", f->name.c_str(), err);
        sticky = LAUNCH_FAILED;
    }
    return OK;
}

// ---- NVRTC ----

struct Program {
    std::string src, log;
    std::vector<char> cubin;
    std::string ptx;  // with no NUL: nvrtcGetPTX adds it
};

// The architectures the fake NVRTC knows, ascending, as NVRTC numbers
// them (90 for sm_90 and compute_90): NVRTC 13.0's, or
// FAKECUDA_NVRTC_ARCHS ("75,80,86,89,90", an older NVRTC's). With
// FAKECUDA_NVRTC_ARCHS_UNLISTED set, nvrtcGetNumSupportedArchs fails, as
// for an NVRTC too old to have it (the list still decides what compiles).
static std::vector<int> supportedArchs() {
    const char* s = getenv("FAKECUDA_NVRTC_ARCHS");
    if (!s || !*s) s = "75,80,86,87,89,90,100,103,110,120,121";
    std::vector<int> v;
    for (const char* p = s; *p;) {
        char* end;
        long a = strtol(p, &end, 10);
        if (end == p || a < 10 || (*end != ',' && *end != 0) || (!v.empty() && a <= v.back())) {
            fprintf(stderr, "fakecuda: FAKECUDA_NVRTC_ARCHS=%s: want ascending architectures such as 75,80,90\n", s);
            abort();
        }
        v.push_back((int)a);
        p = *end ? end + 1 : end;
    }
    return v;
}
static const std::vector<int> kNVRTCArchs = supportedArchs();
static const bool kArchsUnlisted = getenv("FAKECUDA_NVRTC_ARCHS_UNLISTED") != nullptr;

int nvrtcVersion(int* major, int* minor) {
    *major = 13;
    *minor = 0;
    return 0;
}
int nvrtcGetNumSupportedArchs(int* n) {
    if (kArchsUnlisted) return 11;  // NVRTC_ERROR_INTERNAL_ERROR
    if (!n) return 3;
    *n = (int)kNVRTCArchs.size();
    return 0;
}
int nvrtcGetSupportedArchs(int* archs) {
    if (kArchsUnlisted) return 11;
    if (!archs) return 3;
    for (size_t i = 0; i < kNVRTCArchs.size(); i++) archs[i] = kNVRTCArchs[i];
    return 0;
}
const char* nvrtcGetErrorString(int code) {
    switch (code) {
    case 0: return "NVRTC_SUCCESS";
    case 3: return "NVRTC_ERROR_INVALID_INPUT";
    case 4: return "NVRTC_ERROR_INVALID_PROGRAM";
    case 5: return "NVRTC_ERROR_INVALID_OPTION";
    case 6: return "NVRTC_ERROR_COMPILATION";
    case 7: return "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE";
    }
    return "NVRTC_ERROR_INTERNAL_ERROR";
}
int nvrtcCreateProgram(void** prog, const char* src, const char* name, int numHeaders, const char* const*,
                       const char* const*) {
    if (!prog || !src || numHeaders < 0) return 3;
    *prog = new Program{src, "", {}};
    return 0;
}
int nvrtcDestroyProgram(void** prog) {
    if (!prog || !*prog) return 4;
    delete (Program*)*prog;
    *prog = nullptr;
    return 0;
}

// wrappers generates, for every `extern "C" __global__ void name(params)`,
// an exported name__fk(void** p) that calls it with *(T*)p[i] for each
// parameter: the unpacking the driver does for kernelParams.
static std::string wrappers(const std::string& src, std::vector<std::string>& names, std::string& err) {
    std::string out = "\n// ---- fakecuda launch wrappers ----\n";
    std::regex kern("extern\\s+\"C\"\\s+__global__\\s+void\\s+(?:__launch_bounds__\\s*\\([^)]*\\)\\s+)?(\\w+)\\s*\\(([^)]*)\\)");
    for (auto it = std::sregex_iterator(src.begin(), src.end(), kern); it != std::sregex_iterator(); ++it) {
        std::string name = (*it)[1], params = (*it)[2];
        names.push_back(name);
        std::string call;
        int i = 0;
        size_t pos = 0;
        while (pos <= params.size()) {
            size_t comma = params.find(',', pos);
            if (comma == std::string::npos) comma = params.size();
            std::string p = params.substr(pos, comma - pos);
            pos = comma + 1;
            p = std::regex_replace(p, std::regex("^\\s+|\\s+$"), "");
            if (p.empty() || p == "void") continue;
            std::smatch m;
            if (!std::regex_match(p, m, std::regex("(.*[\\s*&])(\\w+)"))) {
                err = "cannot parse parameter '" + p + "' of kernel " + name;
                return "";
            }
            std::string type = std::regex_replace(std::string(m[1]), std::regex("__restrict__|\\s+$"), "");
            if (type.find('&') != std::string::npos) {
                err = "kernel " + name + " takes a reference parameter '" + p + "'";
                return "";
            }
            if (i > 0) call += ", ";
            call += "*(" + type + "*)p[" + std::to_string(i) + "]";
            i++;
        }
        out += "extern \"C\" void " + name + "__fk(void** p) { " + name + "(" + call + "); }\n";
    }
    return out;
}

// ptxText is the fake's PTX for the shared object obj compiled for arch:
// the header NVRTC writes (.version, .target, .address_size), an .entry
// per kernel, and obj in base64 comment lines between a fakecuda-object
// line and a fakecuda-end line, which loadPTX reads back.
static std::string ptxText(const std::vector<char>& obj, int arch, const std::vector<std::string>& names) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string t = "//\n// Generated by fakecuda's NVRTC: the kernels as a host shared object\n"
                    "// (base64, below) that the fake driver loads.\n//\n\n"
                    ".version 9.0\n.target sm_" + std::to_string(arch) + "\n.address_size 64\n\n";
    for (const std::string& n : names) t += "\t// .globl\t" + n + "\n.visible .entry " + n + "()\n{\n\tret;\n}\n\n";
    t += "// fakecuda-object " + std::to_string(obj.size()) + "\n";
    std::string line = "//@";
    for (size_t i = 0; i < obj.size(); i += 3) {
        unsigned v = (unsigned char)obj[i] << 16;
        if (i + 1 < obj.size()) v |= (unsigned char)obj[i + 1] << 8;
        if (i + 2 < obj.size()) v |= (unsigned char)obj[i + 2];
        line += b64[v >> 18 & 63];
        line += b64[v >> 12 & 63];
        line += i + 1 < obj.size() ? b64[v >> 6 & 63] : '=';
        line += i + 2 < obj.size() ? b64[v & 63] : '=';
        if (line.size() >= 79) {
            t += line + "\n";
            line = "//@";
        }
    }
    if (line.size() > 3) t += line + "\n";
    return t + "// fakecuda-end\n";
}

static std::string shimPath() {
    Dl_info info;
    if (!dladdr((void*)&nvrtcVersion, &info) || !info.dli_fname) return "shim.h";
    std::string p = info.dli_fname;
    size_t slash = p.rfind('/');
    return (slash == std::string::npos ? std::string(".") : p.substr(0, slash)) + "/shim.h";
}

int nvrtcCompileProgram(void* prog, int numOptions, const char* const* options) {
    Program* pr = (Program*)prog;
    if (!pr) return 4;
    pr->log.clear();
    pr->cubin.clear();
    // Real NVRTC dlopens its builtins library by soname when it compiles:
    // found only if preloaded or on the loader's path.
    if (!dlopen("libnvrtc-builtins.so.13.0", RTLD_NOW | RTLD_GLOBAL)) {
        pr->log = std::string("fakecuda nvrtc: cannot load libnvrtc-builtins.so.13.0: ") + dlerror() + "\n";
        return 7;
    }
    pr->ptx.clear();
    bool real = false;
    int arch = 0;
    for (int i = 0; i < numOptions; i++) {
        std::string o = options[i];
        if (o.rfind("--gpu-architecture=", 0) == 0 || o.rfind("-arch=", 0) == 0) {
            std::string a = o.substr(o.find('=') + 1);
            real = a.rfind("sm_", 0) == 0;
            size_t digits = real ? 3 : a.rfind("compute_", 0) == 0 ? 8 : 0;
            char* end = nullptr;
            arch = digits ? (int)strtol(a.c_str() + digits, &end, 10) : 0;
            bool known = false;
            for (int k : kNVRTCArchs) known = known || k == arch;
            if (!digits || *end || !known) {
                pr->log = "nvrtc: error: invalid value for --gpu-architecture (-arch)\n";
                return 5;
            }
        } else if (o.rfind("--std=", 0) != 0 && o.rfind("-std=", 0) != 0 && o != "--use_fast_math" &&
                   o.rfind("-D", 0) != 0 && o != "-lineinfo" && o != "--device-debug" && o != "-G") {
            pr->log = "fakecuda nvrtc: unknown option " + o + "\n";
            return 5;
        }
    }
    std::string err;
    std::vector<std::string> names;
    std::string wrap = wrappers(pr->src, names, err);
    if (!err.empty()) {
        pr->log = err + "\n";
        return 6;
    }
    char dir[] = "/tmp/fakecuda-nvrtc-XXXXXX";
    if (!mkdtemp(dir)) return 6;
    std::string d = dir, srcPath = d + "/" + "kernels.cpp", soPath = d + "/kernels.so", logPath = d + "/log";
    FILE* f = fopen(srcPath.c_str(), "w");
    if (!f) return 6;
    fputs(pr->src.c_str(), f);
    fputs(wrap.c_str(), f);
    fprintf(f, "extern \"C\" const int fk_arch = %d;\n", arch);
    fclose(f);
    const char* cxx = getenv("CXX");
    std::string cmd = std::string(cxx && *cxx ? cxx : "g++") +
                      " -std=c++17 -O1 -fPIC -shared -w -fno-strict-aliasing -include '" + shimPath() + "' -o '" +
                      soPath + "' '" + srcPath + "' > '" + logPath + "' 2>&1";
    int rc = system(cmd.c_str());
    if (FILE* lf = fopen(logPath.c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, lf)) > 0) pr->log.append(buf, n);
        fclose(lf);
    }
    if (rc == 0 && arch != 0) {
        std::vector<char> obj;
        if (FILE* sf = fopen(soPath.c_str(), "rb")) {
            char buf[65536];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, sf)) > 0) obj.insert(obj.end(), buf, buf + n);
            fclose(sf);
        }
        // As NVRTC: PTX always, a CUBIN for a real architecture only.
        pr->ptx = ptxText(obj, arch, names);
        if (real) pr->cubin = obj;
    }
    unlink(srcPath.c_str());
    unlink(soPath.c_str());
    unlink(logPath.c_str());
    rmdir(dir);
    return rc == 0 ? 0 : 6;
}
int nvrtcGetProgramLogSize(void* prog, size_t* n) {
    *n = ((Program*)prog)->log.size() + 1;
    return 0;
}
int nvrtcGetProgramLog(void* prog, char* out) {
    Program* p = (Program*)prog;
    memcpy(out, p->log.c_str(), p->log.size() + 1);
    return 0;
}
int nvrtcGetPTXSize(void* prog, size_t* n) {
    Program* p = (Program*)prog;
    if (!p || !n) return 3;
    *n = p->ptx.size() + 1;  // NVRTC counts the NUL
    return 0;
}
int nvrtcGetPTX(void* prog, char* out) {
    Program* p = (Program*)prog;
    if (!p || !out) return 3;
    memcpy(out, p->ptx.c_str(), p->ptx.size() + 1);
    return 0;
}
int nvrtcGetCUBINSize(void* prog, size_t* n) {
    *n = ((Program*)prog)->cubin.size();
    return 0;
}
int nvrtcGetCUBIN(void* prog, char* out) {
    Program* p = (Program*)prog;
    if (p->cubin.empty()) return 3;
    memcpy(out, p->cubin.data(), p->cubin.size());
    return 0;
}

// ---- cuBLAS ----

enum { BLAS_OK = 0, BLAS_NOT_INITIALIZED = 1, BLAS_INVALID_VALUE = 7, BLAS_EXECUTION_FAILED = 13 };
struct Handle {
    int mathMode;
};

int cublasCreate_v2(void** h) {
    if (current != kContext) return BLAS_NOT_INITIALIZED;
    *h = new Handle{0};
    return BLAS_OK;
}
int cublasDestroy_v2(void* h) {
    delete (Handle*)h;
    return BLAS_OK;
}
int cublasSetStream_v2(void*, void* s) {  // one stream: work runs at once, in order
    return s == &streamTag || s == nullptr ? BLAS_OK : BLAS_INVALID_VALUE;
}
int cublasSetMathMode(void* h, int mode) {
    if (mode != 0 && mode != 1 && mode != 3 && mode != 16) return BLAS_INVALID_VALUE;
    ((Handle*)h)->mathMode = mode;
    return BLAS_OK;
}

// tf32 rounds x to TF32 (10 explicit mantissa bits, round to nearest).
static inline float tf32(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
    memcpy(&x, &u, 4);
    return x;
}

// gemm is column-major C = alpha*op(A)*op(B) + beta*C for one matrix
// triple; operands must lie in device memory.
static int gemm(Handle* h, int ta, int tb, int m, int n, int k, float alpha, const float* A, int lda,
                const float* B, int ldb, float beta, float* C, int ldc) {
    bool t32 = h->mathMode == 3;
    if (m > 0 && n > 0 && !inside((CUdeviceptr)C, ((size_t)(n - 1) * ldc + m) * 4)) {
        fault("cublasSgemm", "C is not inside a device allocation");
        return BLAS_OK;
    }
    if (m > 0 && n > 0 && k > 0) {
        size_t aSpan = ta ? (size_t)(m - 1) * lda + k : (size_t)(k - 1) * lda + m;
        size_t bSpan = tb ? (size_t)(k - 1) * ldb + n : (size_t)(n - 1) * ldb + k;
        if (!inside((CUdeviceptr)A, aSpan * 4) || !inside((CUdeviceptr)B, bSpan * 4)) {
            fault("cublasSgemm", "A or B is not inside a device allocation");
            return BLAS_OK;
        }
    }
    if (kNoExec) return BLAS_OK;
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int l = 0; l < k; l++) {
                float a = ta ? A[l + (size_t)i * lda] : A[i + (size_t)l * lda];
                float b = tb ? B[j + (size_t)l * ldb] : B[l + (size_t)j * ldb];
                if (t32) a = tf32(a), b = tf32(b);
                s += (double)a * b;
            }
            float* c = &C[i + (size_t)j * ldc];
            *c = beta == 0.0f ? alpha * (float)s : alpha * (float)s + beta * *c;
        }
    }
    return BLAS_OK;
}

static int checkGemm(void* h, int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc) {
    if (!h) return BLAS_NOT_INITIALIZED;
    if (CUresult r = enter()) return r == ILLEGAL_ADDRESS ? BLAS_EXECUTION_FAILED : BLAS_NOT_INITIALIZED;
    if (ta < 0 || ta > 2 || tb < 0 || tb > 2 || m < 0 || n < 0 || k < 0) return BLAS_INVALID_VALUE;
    if (lda < (ta ? k : m) || lda < 1 || ldb < (tb ? n : k) || ldb < 1 || ldc < m || ldc < 1) return BLAS_INVALID_VALUE;
    return BLAS_OK;
}

int cublasSgemm_v2(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                   const float* B, int ldb, const float* beta, float* C, int ldc) {
    std::lock_guard<std::mutex> l(mu);
    if (int r = checkGemm(h, ta, tb, m, n, k, lda, ldb, ldc)) return r;
    return gemm((Handle*)h, ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
}

int cublasSgemmStridedBatched(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A,
                              int lda, long long sA, const float* B, int ldb, long long sB, const float* beta,
                              float* C, int ldc, long long sC, int batch) {
    std::lock_guard<std::mutex> l(mu);
    if (int r = checkGemm(h, ta, tb, m, n, k, lda, ldb, ldc)) return r;
    if (batch < 0) return BLAS_INVALID_VALUE;
    for (int b = 0; b < batch && sticky == OK; b++) {
        gemm((Handle*)h, ta, tb, m, n, k, *alpha, A + b * sA, lda, B + b * sB, ldb, *beta, C + b * sC, ldc);
    }
    return BLAS_OK;
}

}  // extern "C"
