package cuda

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"unsafe"
)

// kernelFS holds the CUDA sources: common.cuh (shared helpers) and one .cu
// file per op family, forward and backward together.
//
//go:embed kernels/common.cuh kernels/*.cu
var kernelFS embed.FS

// kernelSource returns the single translation unit compiled by NVRTC:
// common.cuh followed by every .cu file in name order.
func kernelSource() (string, error) {
	var sb strings.Builder
	common, err := kernelFS.ReadFile("kernels/common.cuh")
	if err != nil {
		return "", err
	}
	sb.Write(common)
	names, err := fs.Glob(kernelFS, "kernels/*.cu")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := kernelFS.ReadFile(n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "\n// ---- %s ----\n", n)
		sb.Write(b)
	}
	return sb.String(), nil
}

// ensureModule compiles (or loads from the disk cache) and loads the
// kernels once. The context must be current.
func (d *Device) ensureModule() error {
	if d.module != 0 || d.modErr != nil {
		return d.modErr
	}
	d.modErr = d.buildModule()
	return d.modErr
}

// buildModule compiles the kernels for the architecture Open chose (a
// CUBIN for the GPU, or PTX that the driver compiles for it) and loads
// them as d.module.
func (d *Device) buildModule() error {
	src, err := kernelSource()
	if err != nil {
		return err
	}
	if d.archErr != nil {
		return d.archErr
	}
	arch := d.arch
	image, hit, err := d.cache.get(src, arch, targetOptions(arch))
	if err != nil && d.archs == nil && !isVirtual(arch) && isInvalidOption(err) {
		// An NVRTC that cannot list its architectures does not know the
		// GPU's: try PTX for an older one, once.
		if fb, ok := fallbackArch(d.info.Major, d.info.Minor, d.nvrtcVersion); ok {
			image, hit, err = d.cache.get(src, fb, targetOptions(fb))
			if err != nil {
				return fmt.Errorf("cuda: NVRTC %s does not know %s, and compiling the kernels to PTX for %s failed: %w",
					d.nvrtcVersion, arch, fb, err)
			}
			arch = fb
		}
	}
	if err != nil {
		return fmt.Errorf("cuda: compiling kernels for %s: %w", arch, err)
	}
	err = d.loadModule(image)
	if err != nil && hit {
		// The driver rejects the cached CUBIN or PTX (damaged, or written
		// by something else under the same key): compile afresh,
		// replacing it.
		if image, err = d.cache.refresh(src, arch, targetOptions(arch)); err != nil {
			return fmt.Errorf("cuda: compiling kernels for %s: %w", arch, err)
		}
		hit = false
		err = d.loadModule(image)
	}
	gpu := fmt.Sprintf("sm_%d", archCode(d.info.Major, d.info.Minor))
	if err != nil {
		if isVirtual(arch) {
			return fmt.Errorf("cuda: loading kernels compiled to PTX for %s (the driver compiles it for the GPU, %s): %w%s",
				arch, gpu, err, ptxLoadHint(err, d.nvrtcVersion))
		}
		return fmt.Errorf("cuda: loading kernels for %s: %w", arch, err)
	}
	d.compiled = CompileInfo{Arch: arch, GPU: gpu, CacheHit: hit, CacheDir: d.cache.dir, Bytes: len(image)}
	return nil
}

// cudaErrUnsupportedPTXVersion is CUDA_ERROR_UNSUPPORTED_PTX_VERSION: the
// PTX is of an ISA version newer than the driver reads.
const cudaErrUnsupportedPTXVersion = 222

// ptxLoadHint explains the driver's usual reason for refusing PTX.
func ptxLoadHint(err error, nvrtcVersion string) string {
	var e *Error
	if errors.As(err, &e) && e.Lib == "cuda" && e.Code == cudaErrUnsupportedPTXVersion {
		return fmt.Sprintf(" (the driver is older than NVRTC %s, whose PTX it cannot read: update the driver)", nvrtcVersion)
	}
	return ""
}

// loadModule loads a CUBIN, or NUL-terminated PTX that the driver then
// compiles for the GPU, into the context (cuModuleLoadData) as d.module.
func (d *Device) loadModule(image []byte) error {
	var p pinner
	defer p.unpin()
	d.sc.out[0] = 0
	if err := d.drv.call("cuModuleLoadData", d.drv.cuModuleLoadData, d.outPtr(0), p.bytes(image)); err != nil {
		return err
	}
	d.module = uintptr(d.sc.out[0])
	return nil
}

// Compile compiles and loads the kernels now (they are otherwise compiled
// at the first launch) and says whether the disk cache served them.
func (d *Device) Compile() (CompileInfo, error) {
	if err := d.enter(); err != nil {
		return CompileInfo{}, err
	}
	defer d.exit()
	err := d.ensureModule()
	return d.compiled, err
}

// function returns the CUfunction for a kernel, cached.
func (d *Device) function(name string) (uintptr, error) {
	if f, ok := d.funcs[name]; ok {
		return f, nil
	}
	if err := d.ensureModule(); err != nil {
		return 0, err
	}
	var p pinner
	defer p.unpin()
	d.sc.out[0] = 0
	if err := d.drv.call("cuModuleGetFunction", d.drv.cuModuleGetFunction, d.outPtr(0), d.module,
		p.bytes(cBytes(name))); err != nil {
		return 0, fmt.Errorf("cuda: kernel %s: %w", name, err)
	}
	f := uintptr(d.sc.out[0])
	d.funcs[name] = f
	return f, nil
}

// launch runs kernel name on the stream with the given grid, block, dynamic
// shared memory and arguments (see packArgs). The context must be current
// (between enter and exit).
func (d *Device) launch(name string, grid, block dim3, shmem int, args ...any) error {
	f, err := d.function(name)
	if err != nil {
		return err
	}
	a := &d.sc.args
	offs, err := packArgs(a.buf[:], args)
	if err != nil {
		return fmt.Errorf("cuda: kernel %s: %w", name, err)
	}
	if len(offs) > len(a.ptrs) {
		return fmt.Errorf("cuda: kernel %s: too many arguments", name)
	}
	base := uintptr(unsafe.Pointer(&a.buf[0]))
	for i, o := range offs {
		a.ptrs[i] = base + uintptr(o)
	}
	g, b := grid, block
	g.y, g.z, b.y, b.z = max(g.y, 1), max(g.z, 1), max(b.y, 1), max(b.z, 1)
	if g.x <= 0 || b.x <= 0 {
		return nil // nothing to do
	}
	ev := d.profBegin()
	err = d.drv.call("cuLaunchKernel", d.drv.cuLaunchKernel, f,
		uintptr(g.x), uintptr(g.y), uintptr(g.z), uintptr(b.x), uintptr(b.y), uintptr(b.z),
		uintptr(shmem), d.stream, uintptr(unsafe.Pointer(&a.ptrs[0])), 0)
	d.profEnd(ev, func() string { return d.prof.named(name) }) // a failed launch's span is empty, its events reused
	if err != nil {
		return fmt.Errorf("cuda: launching %s: %w", name, err)
	}
	return nil
}
