package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// Device is one GPU with its primary context, one stream, a cuBLAS handle,
// a caching allocator and the compiled kernels. Its methods are safe for
// concurrent use (they are serialized).
type Device struct {
	mu     sync.Mutex
	closed bool

	drv   *driverAPI
	nvrtc *nvrtcAPI
	blas  *cublasAPI

	ordinal      int
	dev          uintptr // CUdevice
	ctx          uintptr // primary context
	stream       uintptr
	handle       uintptr // cuBLAS handle
	info         Info
	nvrtcVersion string

	alloc *allocator
	sc    *scratch // pinned for the life of the process (newScratch)
	tf32  bool
	// poisoned: the elements asked for of each live block (poison mode),
	// for Free's check that nothing wrote past them; poisonErr: what the
	// check found, returned by every later call (as a kernel fault is).
	poisoned  map[uint64]int
	poisonErr error

	arch     string // what the kernels are compiled for (chooseArch)
	archErr  error  // why no architecture fits the GPU
	archs    []int  // the architectures NVRTC supports; nil: it cannot say
	cache    kernelCache
	module   uintptr
	modErr   error
	funcs    map[string]uintptr
	compiled CompileInfo
	prof     profiler // SetProfiling
}

// scratch is memory handed to C: launch parameters, out parameters and
// cuBLAS's alpha and beta. It holds no Go pointers.
type scratch struct {
	args        argArena
	out         [4]uint64
	alpha, beta float32
}

// Info describes the device.
type Info struct {
	Name          string // e.g. "NVIDIA H100 80GB HBM3"
	Major, Minor  int    // compute capability
	SMs           int    // multiprocessors
	TotalMemory   uint64 // bytes
	DriverVersion int    // e.g. 13000 for CUDA 13.0
	NVRTC, CUBLAS string // paths of the libraries loaded
}

// CompileInfo says how the kernels were obtained.
type CompileInfo struct {
	// Arch is what NVRTC compiled for: the GPU's own architecture
	// ("sm_90", a CUBIN), or a virtual one ("compute_90", PTX) when the
	// GPU is newer than NVRTC knows.
	Arch     string
	GPU      string // the GPU's architecture, e.g. "sm_120"
	CacheHit bool   // the CUBIN or PTX came from the disk cache
	CacheDir string // "" when the disk cache is off
	Bytes    int    // CUBIN or PTX size
}

// JIT says the kernels are PTX that the driver compiled for the GPU when
// loading them (Arch is compute_XY): they run, but the first load takes
// longer and the PTX uses nothing newer than Arch. An NVRTC that knows the
// GPU makes a CUBIN for it instead.
func (c CompileInfo) JIT() bool { return isVirtual(c.Arch) }

// String describes how the kernels were obtained in one line.
func (c CompileInfo) String() string {
	var b strings.Builder
	if c.JIT() {
		fmt.Fprintf(&b, "PTX for %s, JIT-compiled by the driver for %s (NVRTC does not know %s)", c.Arch, c.GPU, c.GPU)
	} else {
		fmt.Fprintf(&b, "CUBIN for %s", c.Arch)
	}
	fmt.Fprintf(&b, ", %d bytes", c.Bytes)
	switch {
	case c.CacheDir == "":
		b.WriteString(", compiled by NVRTC (disk cache off)")
	case c.CacheHit:
		fmt.Fprintf(&b, ", from the disk cache %s", c.CacheDir)
	default:
		fmt.Fprintf(&b, ", compiled by NVRTC into the disk cache %s", c.CacheDir)
	}
	return b.String()
}

var errClosed = errors.New("cuda: device is closed")

// Open loads the CUDA libraries and opens GPU 0 (NNSCOPE_CUDA_DEVICE picks
// another ordinal). The error wraps ErrNoDriver or ErrNoDevice on machines
// without an NVIDIA GPU, and names the missing library when NVRTC or cuBLAS
// cannot be found (set LD_LIBRARY_PATH or NNSCOPE_CUDA_LIB to their folder).
func Open() (*Device, error) {
	ord := 0
	if s := os.Getenv("NNSCOPE_CUDA_DEVICE"); s != "" {
		if _, err := fmt.Sscan(s, &ord); err != nil {
			return nil, fmt.Errorf("cuda: NNSCOPE_CUDA_DEVICE=%q is not a device ordinal", s)
		}
	}
	return OpenDevice(ord)
}

// OpenDevice is Open for the GPU with the given ordinal.
func OpenDevice(ordinal int) (*Device, error) {
	dirs := searchDirs(os.Getenv, filepath.Glob)
	drv, err := loadDriver(dirs)
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d := &Device{drv: drv, ordinal: ordinal, sc: newScratch(), funcs: map[string]uintptr{}}
	ok := false
	defer func() {
		if !ok {
			d.teardown()
		}
	}()
	if err := drv.call("cuInit", drv.cuInit, 0); err != nil {
		var ce *Error
		if errors.As(err, &ce) && (ce.Code == cudaErrNoDevice || ce.Code == cudaErrNotInitalized) {
			return nil, fmt.Errorf("%w: %v", ErrNoDevice, err)
		}
		return nil, err
	}
	out := d.outPtr(0)
	if err := drv.call("cuDeviceGetCount", drv.cuDeviceGetCount, out); err != nil {
		return nil, err
	}
	if n := int(int32(d.sc.out[0])); ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("%w: device %d requested, %d present", ErrNoDevice, ordinal, n)
	}
	d.sc.out[0] = 0
	if err := drv.call("cuDeviceGet", drv.cuDeviceGet, out, uintptr(ordinal)); err != nil {
		return nil, err
	}
	d.dev = uintptr(int32(d.sc.out[0]))
	if err := d.queryInfo(); err != nil {
		return nil, err
	}
	if d.nvrtc, err = loadNVRTC(dirs, d.info.DriverVersion); err != nil {
		return nil, err
	}
	if d.blas, err = loadCUBLAS(dirs, d.info.DriverVersion); err != nil {
		return nil, err
	}
	d.info.NVRTC, d.info.CUBLAS = d.nvrtc.lib.path, d.blas.lib.path
	d.nvrtcVersion = d.nvrtc.versionString()
	// A GPU that NVRTC does not know is no reason to fail Open: the
	// kernels fail with archErr at first use, cuBLAS and copies still work.
	d.archs = d.nvrtc.supportedArchs()
	d.arch, d.archErr = chooseArch(d.info.Major, d.info.Minor, d.archs, d.nvrtcVersion)

	d.sc.out[0] = 0
	if err := drv.call("cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain, out, d.dev); err != nil {
		return nil, err
	}
	d.ctx = uintptr(d.sc.out[0])
	if err := drv.call("cuCtxSetCurrent", drv.cuCtxSetCurrent, d.ctx); err != nil {
		return nil, err
	}
	d.sc.out[0] = 0
	if err := drv.call("cuStreamCreate", drv.cuStreamCreate, out, 0); err != nil {
		return nil, err
	}
	d.stream = uintptr(d.sc.out[0])
	d.sc.out[0] = 0
	if err := d.blas.call("cublasCreate_v2", d.blas.create, out); err != nil {
		return nil, err
	}
	d.handle = uintptr(d.sc.out[0])
	if err := d.blas.call("cublasSetStream_v2", d.blas.setStream, d.handle, d.stream); err != nil {
		return nil, err
	}
	if err := d.blas.call("cublasSetMathMode", d.blas.setMathMode, d.handle, cublasMathFP32); err != nil {
		return nil, err
	}
	d.alloc = newAllocator(driverMem{d.drv, d.stream})
	d.cache = kernelCache{dir: defaultCacheDir(os.Getenv), driver: d.info.DriverVersion, nvrtc: d.nvrtcVersion,
		compile: func(src string, opts []string) ([]byte, error) {
			image, _, err := d.nvrtc.compileImage(src, "nnscope_kernels.cu", opts)
			return image, err
		}}
	ok = true
	return d, nil
}

// scratches holds the pinner of every Device's scratch for the life of the
// process: C reads the scratch during every call, and a Pinner dropped
// still pinning (a Device dropped without Close) makes the runtime panic
// ("found leaking pinned pointer"). A few KiB per Open; a closed Device
// refuses calls before touching its scratch.
var (
	scratchMu sync.Mutex
	scratches []*pinner
)

func newScratch() *scratch {
	sc := new(scratch)
	p := new(pinner)
	p.pin(unsafe.Pointer(sc))
	scratchMu.Lock()
	scratches = append(scratches, p)
	scratchMu.Unlock()
	return sc
}

// outPtr returns the address of the pinned out-parameter slot i.
func (d *Device) outPtr(i int) uintptr { return uintptr(unsafe.Pointer(&d.sc.out[i])) }

func (d *Device) queryInfo() error {
	drv := d.drv
	attr := func(a int) (int, error) {
		d.sc.out[0] = 0
		err := drv.call("cuDeviceGetAttribute", drv.cuDeviceGetAttribute, d.outPtr(0), uintptr(a), d.dev)
		return int(int32(d.sc.out[0])), err
	}
	var err error
	if d.info.Major, err = attr(75); err != nil { // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
		return err
	}
	if d.info.Minor, err = attr(76); err != nil {
		return err
	}
	if d.info.SMs, err = attr(16); err != nil { // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
		return err
	}
	d.sc.out[0] = 0
	if err := drv.call("cuDriverGetVersion", drv.cuDriverGetVersion, d.outPtr(0)); err != nil {
		return err
	}
	d.info.DriverVersion = int(int32(d.sc.out[0]))
	d.sc.out[0] = 0
	if err := drv.call("cuDeviceTotalMem_v2", drv.cuDeviceTotalMem, d.outPtr(0), d.dev); err != nil {
		return err
	}
	d.info.TotalMemory = d.sc.out[0]
	name := make([]byte, 256)
	var p pinner
	defer p.unpin()
	if err := drv.call("cuDeviceGetName", drv.cuDeviceGetName, p.bytes(name), uintptr(len(name)), d.dev); err != nil {
		return err
	}
	d.info.Name = strings.TrimRight(string(name[:strings.IndexByte(string(name)+"\x00", 0)]), " ")
	return nil
}

// teardown releases whatever Open acquired (the OS thread must be locked).
func (d *Device) teardown() {
	if d.ctx != 0 {
		d.drv.call("cuCtxSetCurrent", d.drv.cuCtxSetCurrent, d.ctx)
		if d.stream != 0 {
			d.drv.call("cuStreamSynchronize", d.drv.cuStreamSynchronize, d.stream)
		}
		d.profDestroy()
		if d.alloc != nil {
			d.alloc.releaseAll()
		}
		if d.module != 0 {
			d.drv.call("cuModuleUnload", d.drv.cuModuleUnload, d.module)
			d.module = 0
		}
		if d.handle != 0 {
			d.blas.call("cublasDestroy_v2", d.blas.destroy, d.handle)
			d.handle = 0
		}
		if d.stream != 0 {
			d.drv.call("cuStreamDestroy_v2", d.drv.cuStreamDestroy, d.stream)
			d.stream = 0
		}
		d.drv.call("cuDevicePrimaryCtxRelease_v2", d.drv.cuDevicePrimaryCtxRelease, d.dev)
		d.ctx = 0
	}
}

// Close waits for pending work, frees all device memory (buffers still
// alive become invalid), destroys the stream and cuBLAS handle and releases
// the primary context. Calls after Close return an error.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d.teardown()
	return nil
}

// lock serializes a call that makes no CUDA call (the allocator's cache);
// d.mu.Unlock undoes it.
func (d *Device) lock() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errClosed
	}
	return nil
}

// enter serializes a call and makes the context current on this OS thread;
// exit undoes it. Every exported method brackets its CUDA calls with them.
func (d *Device) enter() error {
	if err := d.lock(); err != nil {
		return err
	}
	if d.poisonErr != nil {
		d.mu.Unlock()
		return d.poisonErr
	}
	runtime.LockOSThread()
	if err := d.drv.call("cuCtxSetCurrent", d.drv.cuCtxSetCurrent, d.ctx); err != nil {
		d.exit()
		return err
	}
	return nil
}

func (d *Device) exit() {
	runtime.UnlockOSThread()
	d.mu.Unlock()
}

// Info returns the device's description.
func (d *Device) Info() Info { return d.info }

// String describes the device in one line, saying so when NVRTC is older
// than the GPU and the kernels go to it as PTX for the driver's JIT.
func (d *Device) String() string {
	i := d.info
	s := fmt.Sprintf("%s (sm_%d, %d SMs, %.1f GiB, driver %d.%d, NVRTC %s", i.Name, archCode(i.Major, i.Minor), i.SMs,
		float64(i.TotalMemory)/(1<<30), i.DriverVersion/1000, i.DriverVersion%1000/10, d.nvrtcVersion)
	switch {
	case d.archErr != nil:
		s += ", which does not support this GPU"
	case isVirtual(d.arch):
		s += ", kernels as PTX for " + d.arch + " JIT-compiled by the driver"
	}
	return s + ")"
}

// Sync waits until all work issued so far has finished and reports any
// asynchronous error (a kernel that faulted).
func (d *Device) Sync() error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	return d.drv.call("cuStreamSynchronize", d.drv.cuStreamSynchronize, d.stream)
}

// SetTF32 switches cuBLAS between strict FP32 (false, the default; math
// mode 0) and TF32 tensor-core math (true; mode 3): about 8x faster on
// Hopper with a 10-bit mantissa in the products.
func (d *Device) SetTF32(on bool) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	mode := uintptr(cublasMathFP32)
	if on {
		mode = cublasMathTF32
	}
	if err := d.blas.call("cublasSetMathMode", d.blas.setMathMode, d.handle, mode); err != nil {
		return err
	}
	d.tf32 = on
	return nil
}

// TF32 reports whether TF32 math is on.
func (d *Device) TF32() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tf32
}

// MemInfo returns the device's free and total memory in bytes (cuMemGetInfo).
func (d *Device) MemInfo() (free, total uint64, err error) {
	if err := d.enter(); err != nil {
		return 0, 0, err
	}
	defer d.exit()
	d.sc.out[0], d.sc.out[1] = 0, 0
	err = d.drv.call("cuMemGetInfo_v2", d.drv.cuMemGetInfo, d.outPtr(0), d.outPtr(1))
	return d.sc.out[0], d.sc.out[1], err
}

// driverMem is the allocator's backend on a real device (context current).
type driverMem struct {
	drv    *driverAPI
	stream uintptr // where all device work goes
}

func (m driverMem) sync() error {
	return m.drv.call("cuStreamSynchronize", m.drv.cuStreamSynchronize, m.stream)
}

func (m driverMem) memAlloc(bytes uint64) (uint64, error) {
	var p uint64
	var pin pinner
	pin.pin(unsafe.Pointer(&p))
	defer pin.unpin()
	err := m.drv.call("cuMemAlloc_v2", m.drv.cuMemAlloc, uintptr(unsafe.Pointer(&p)), uintptr(bytes))
	return p, err
}

func (m driverMem) memFree(ptr uint64) error {
	return m.drv.call("cuMemFree_v2", m.drv.cuMemFree, uintptr(ptr))
}
