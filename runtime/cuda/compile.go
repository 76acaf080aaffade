package cuda

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// nvrtcAPI holds NVRTC's entry points.
type nvrtcAPI struct {
	lib                                                      *library
	version, create, compile, logSize, log, cubinSize, cubin uintptr
	ptxSize, ptx, destroy, errString                         uintptr
	numArchs, archs                                          uintptr // 0 before CUDA 11.2
}

// nvrtcErrInvalidOption is NVRTC_ERROR_INVALID_OPTION, which an NVRTC
// returns for an architecture it does not know.
const nvrtcErrInvalidOption = 5

// loadNVRTC loads NVRTC, preferring a release the driver (of version
// driverVersion, 0 if unknown) supports, and preloads its builtins library
// of the same major version from its folder (NVRTC opens it by soname at
// the first compile).
func loadNVRTC(dirs []string, driverVersion int) (*nvrtcAPI, error) {
	lib, err := openLibrary("NVRTC (libnvrtc.so.13 or .12, the CUDA runtime compiler)",
		namesForDriver(nvrtcNames, driverVersion), dirs)
	if err != nil {
		return nil, err
	}
	builtins := "libnvrtc-builtins.so*"
	if m := sonameMajor(filepath.Base(lib.path)); m > 0 {
		builtins = fmt.Sprintf("libnvrtc-builtins.so.%d.*", m)
	}
	preloadSiblings(lib, builtins)
	return bindNVRTC(lib)
}

// bindNVRTC resolves NVRTC's entry points in lib.
func bindNVRTC(lib *library) (*nvrtcAPI, error) {
	n := &nvrtcAPI{lib: lib}
	err := lib.bind(map[string]*uintptr{
		"nvrtcVersion": &n.version, "nvrtcCreateProgram": &n.create,
		"nvrtcCompileProgram": &n.compile, "nvrtcGetProgramLogSize": &n.logSize,
		"nvrtcGetProgramLog": &n.log, "nvrtcGetCUBINSize": &n.cubinSize,
		"nvrtcGetCUBIN": &n.cubin, "nvrtcGetPTXSize": &n.ptxSize, "nvrtcGetPTX": &n.ptx,
		"nvrtcDestroyProgram": &n.destroy, "nvrtcGetErrorString": &n.errString,
	})
	if err != nil {
		return nil, err
	}
	// Optional: an NVRTC without them (before CUDA 11.2) cannot say which
	// architectures it knows.
	num, err1 := lib.sym("nvrtcGetNumSupportedArchs")
	archs, err2 := lib.sym("nvrtcGetSupportedArchs")
	if err1 == nil && err2 == nil {
		n.numArchs, n.archs = num, archs
	}
	return n, nil
}

func (n *nvrtcAPI) call(name string, fn uintptr, args ...uintptr) error {
	r, _, _ := purego.SyscallN(fn, args...)
	if code := int32(r); code != 0 {
		e := &Error{Lib: "nvrtc", Call: name, Code: int(code)}
		if s, _, _ := purego.SyscallN(n.errString, uintptr(code)); s != 0 {
			e.Name = cString(s)
		}
		return e
	}
	return nil
}

// versionString returns NVRTC's "major.minor".
func (n *nvrtcAPI) versionString() string {
	var v [2]int32
	var p pinner
	p.pin(unsafe.Pointer(&v))
	defer p.unpin()
	if err := n.call("nvrtcVersion", n.version, uintptr(unsafe.Pointer(&v[0])), uintptr(unsafe.Pointer(&v[1]))); err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", v[0], v[1])
}

// supportedArchs returns the architectures this NVRTC compiles for, in
// its order (ascending, NVRTC says), as major*10+minor (sm_90 is 90, sm_120 is 120), or nil when
// it cannot say.
func (n *nvrtcAPI) supportedArchs() []int {
	if n.numArchs == 0 || n.archs == 0 {
		return nil
	}
	var p pinner
	defer p.unpin()
	var count int32
	p.pin(unsafe.Pointer(&count))
	if n.call("nvrtcGetNumSupportedArchs", n.numArchs, uintptr(unsafe.Pointer(&count))) != nil || count <= 0 || count > 1000 {
		return nil
	}
	list := make([]int32, count)
	p.pin(unsafe.Pointer(&list[0]))
	if n.call("nvrtcGetSupportedArchs", n.archs, uintptr(unsafe.Pointer(&list[0]))) != nil {
		return nil
	}
	archs := make([]int, count)
	for i, a := range list {
		archs[i] = int(a)
	}
	return archs
}

// compileImage compiles src (named name in messages) with the given
// options to what their architecture asks for: a CUBIN for a real one
// (--gpu-architecture=sm_XY), PTX for a virtual one (compute_XY).
func (n *nvrtcAPI) compileImage(src, name string, opts []string) (image []byte, log string, err error) {
	if isVirtual(optionArch(opts)) {
		return n.compilePTX(src, name, opts)
	}
	return n.compileCUBIN(src, name, opts)
}

// compileCUBIN compiles src (named name in messages) with the given
// options; the options must name a real architecture
// (--gpu-architecture=sm_XY) for NVRTC to produce a CUBIN. log is NVRTC's
// message log (warnings, after a success).
func (n *nvrtcAPI) compileCUBIN(src, name string, opts []string) (cubin []byte, log string, err error) {
	return n.compileWith(src, name, opts, func(prog uintptr, p *pinner) ([]byte, error) {
		var size uint64
		p.pin(unsafe.Pointer(&size))
		if err := n.call("nvrtcGetCUBINSize", n.cubinSize, prog, uintptr(unsafe.Pointer(&size))); err != nil {
			return nil, err
		}
		if size == 0 {
			return nil, fmt.Errorf("cuda: NVRTC produced no CUBIN (options %v need a real sm_XY architecture)", opts)
		}
		cubin := make([]byte, size)
		if err := n.call("nvrtcGetCUBIN", n.cubin, prog, p.bytes(cubin)); err != nil {
			return nil, err
		}
		return cubin, nil
	})
}

// compilePTX compiles src as compileCUBIN does, for a virtual architecture
// (--gpu-architecture=compute_XY), and returns the PTX text with its
// terminating NUL, as cuModuleLoadData reads it.
func (n *nvrtcAPI) compilePTX(src, name string, opts []string) (ptx []byte, log string, err error) {
	return n.compileWith(src, name, opts, func(prog uintptr, p *pinner) ([]byte, error) {
		var size uint64
		p.pin(unsafe.Pointer(&size))
		if err := n.call("nvrtcGetPTXSize", n.ptxSize, prog, uintptr(unsafe.Pointer(&size))); err != nil {
			return nil, err
		}
		if size <= 1 { // the size counts the NUL
			return nil, fmt.Errorf("cuda: NVRTC produced no PTX (options %v)", opts)
		}
		ptx := make([]byte, size)
		if err := n.call("nvrtcGetPTX", n.ptx, prog, p.bytes(ptx)); err != nil {
			return nil, err
		}
		return ptx, nil // NUL-terminated by the cache (refresh), for every compiler
	})
}

// nulTerminated returns text ending in exactly one NUL.
func nulTerminated(b []byte) []byte {
	return append(bytes.TrimRight(b, "\x00"), 0)
}

// compileWith compiles src with opts and returns what output reads from
// the compiled program.
func (n *nvrtcAPI) compileWith(src, name string, opts []string, output func(prog uintptr, p *pinner) ([]byte, error)) (image []byte, log string, err error) {
	var p pinner
	defer p.unpin()
	srcC, nameC := cBytes(src), cBytes(name)
	var prog uintptr
	p.pin(unsafe.Pointer(&prog))
	if err := n.call("nvrtcCreateProgram", n.create, uintptr(unsafe.Pointer(&prog)),
		p.bytes(srcC), p.bytes(nameC), 0, 0, 0); err != nil {
		return nil, "", err
	}
	defer purego.SyscallN(n.destroy, uintptr(unsafe.Pointer(&prog)))
	optPtrs := make([]uintptr, len(opts)+1)
	for i, o := range opts {
		optPtrs[i] = p.bytes(cBytes(o))
	}
	p.pin(unsafe.Pointer(&optPtrs[0]))
	cerr := n.call("nvrtcCompileProgram", n.compile, prog, uintptr(len(opts)), uintptr(unsafe.Pointer(&optPtrs[0])))
	var size uint64
	p.pin(unsafe.Pointer(&size))
	if n.call("nvrtcGetProgramLogSize", n.logSize, prog, uintptr(unsafe.Pointer(&size))) == nil && size > 1 {
		buf := make([]byte, size)
		if n.call("nvrtcGetProgramLog", n.log, prog, p.bytes(buf)) == nil {
			log = string(bytes.TrimRight(buf, "\x00"))
		}
	}
	if cerr != nil {
		return nil, log, fmt.Errorf("%w; options %v; log:\n%s", cerr, opts, log)
	}
	image, err = output(prog, &p)
	return image, log, err
}

// compileFunc compiles CUDA source with options to a CUBIN, or to PTX when
// the options name a virtual architecture (NVRTC, or a fake in tests).
type compileFunc func(src string, opts []string) ([]byte, error)

// kernelCache compiles sources once per (source, architecture, driver
// version, NVRTC version, options) and keeps the CUBINs and PTX on disk.
type kernelCache struct {
	dir     string // "" disables the disk cache
	compile compileFunc
	driver  int    // driver version, e.g. 13000
	nvrtc   string // NVRTC version, e.g. "13.0"
}

// cacheKey is the hex SHA-256 of everything that determines a CUBIN or
// PTX.
func cacheKey(src, arch string, driver int, nvrtc string, opts []string) string {
	h := sha256.New()
	for _, s := range []string{"nnscope-cuda-v1", imageKind(arch), arch, strconv.Itoa(driver), nvrtc, strings.Join(opts, "\x01"), src} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// targetOptions returns NVRTC options for arch: "sm_XY" asks for a CUBIN,
// "compute_XY" for PTX.
func targetOptions(arch string) []string {
	return []string{"--gpu-architecture=" + arch, "--std=c++17"}
}

// optionArch returns the architecture that opts name, "" if none.
func optionArch(opts []string) string {
	for _, o := range opts {
		if a, ok := strings.CutPrefix(o, "--gpu-architecture="); ok {
			return a
		}
		if a, ok := strings.CutPrefix(o, "-arch="); ok {
			return a
		}
	}
	return ""
}

// isVirtual reports whether arch is a virtual architecture (compute_XY),
// for which NVRTC makes PTX and no CUBIN.
func isVirtual(arch string) bool { return strings.HasPrefix(arch, "compute_") }

// imageKind is what NVRTC makes for arch: "ptx" or "cubin", which is also
// the cache file's extension.
func imageKind(arch string) string {
	if isVirtual(arch) {
		return "ptx"
	}
	return "cubin"
}

// archCode is NVRTC's number for compute capability major.minor (90 for
// 9.0, 120 for 12.0).
func archCode(major, minor int) int { return major*10 + minor }

// chooseArch picks what the kernels are compiled for on a GPU of compute
// capability major.minor, given the architectures NVRTC (of version
// nvrtcVersion) supports, ascending, nil when it cannot say:
//
//   - sm_XY, the GPU's own, as a CUBIN, when NVRTC knows it (or cannot say);
//   - otherwise compute_XY, PTX for the newest architecture NVRTC knows
//     that is older than the GPU: the driver compiles PTX for the GPU when
//     it loads it, and PTX for compute_XY runs on every later GPU. This is
//     how a GPU newer than the installed NVRTC (a Blackwell under NVRTC
//     12.4) still runs the kernels;
//   - an error when NVRTC knows nothing as old as the GPU (its release
//     dropped the GPU).
func chooseArch(major, minor int, supported []int, nvrtcVersion string) (string, error) {
	dev := archCode(major, minor)
	if len(supported) == 0 || slices.Contains(supported, dev) {
		return fmt.Sprintf("sm_%d", dev), nil
	}
	best := -1
	for _, a := range supported {
		if a <= dev && a > best {
			best = a
		}
	}
	if best < 0 {
		return "", fmt.Errorf("cuda: the GPU is sm_%d (compute capability %d.%d), older than every architecture NVRTC %s supports (sm_%d to sm_%d): the kernels need an NVRTC from an older CUDA release",
			dev, major, minor, nvrtcVersion, slices.Min(supported), slices.Max(supported))
	}
	return fmt.Sprintf("compute_%d", best), nil
}

// fallbackArch is the PTX architecture to try when an NVRTC that cannot
// list its architectures rejects the GPU's own (NVRTC_ERROR_INVALID_OPTION):
// the newest one that every release of NVRTC's major version knows, when
// that is older than the GPU. ok is false when there is none to try.
func fallbackArch(major, minor int, nvrtcVersion string) (arch string, ok bool) {
	m, _, _ := strings.Cut(nvrtcVersion, ".")
	nv, err := strconv.Atoi(m)
	if err != nil {
		return "", false
	}
	// What each major release knew from its .0 on.
	base := map[int]int{10: 75, 11: 80, 12: 90, 13: 120}[min(nv, 13)]
	if base == 0 || base >= archCode(major, minor) {
		return "", false
	}
	return fmt.Sprintf("compute_%d", base), true
}

// isInvalidOption reports whether err is NVRTC's NVRTC_ERROR_INVALID_OPTION.
func isInvalidOption(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Lib == "nvrtc" && e.Code == nvrtcErrInvalidOption
}

// get returns the CUBIN or PTX for src, from the disk cache when present
// and well-formed (hit is true) or compiled (and then stored; a failed
// store is not an error).
func (c *kernelCache) get(src, arch string, opts []string) (image []byte, hit bool, err error) {
	if path := c.path(src, arch, opts); path != "" {
		if b, err := os.ReadFile(path); err == nil && validImage(arch, b) {
			return b, true, nil
		}
	}
	image, err = c.refresh(src, arch, opts)
	return image, false, err
}

// path returns the cache file of src's CUBIN or PTX ("" when the cache is
// off).
func (c *kernelCache) path(src, arch string, opts []string) string {
	if c.dir == "" {
		return ""
	}
	return filepath.Join(c.dir, arch+"-"+cacheKey(src, arch, c.driver, c.nvrtc, opts)[:32]+"."+imageKind(arch))
}

// refresh compiles src and stores the CUBIN or PTX, replacing any cached
// one (a failed store is not an error).
func (c *kernelCache) refresh(src, arch string, opts []string) (image []byte, err error) {
	path := c.path(src, arch, opts)
	image, err = c.compile(src, opts)
	if err != nil {
		return nil, err
	}
	if isVirtual(arch) {
		image = nulTerminated(image)
	}
	if path != "" {
		if err := os.MkdirAll(c.dir, 0o755); err == nil {
			tmp, err := os.CreateTemp(c.dir, ".tmp-*."+imageKind(arch))
			if err == nil {
				_, werr := tmp.Write(image)
				cerr := tmp.Close()
				if werr == nil && cerr == nil {
					os.Rename(tmp.Name(), path)
				} else {
					os.Remove(tmp.Name())
				}
			}
		}
	}
	return image, nil
}

// validImage reports whether b, read from the cache, looks like what NVRTC
// makes for arch: an ELF file for a CUBIN, PTX text for PTX.
func validImage(arch string, b []byte) bool {
	if isVirtual(arch) {
		return isPTX(b)
	}
	return isELF(b)
}

func isELF(b []byte) bool { return len(b) > 4 && string(b[:4]) == "\x7fELF" }

// isPTX reports whether b is whole PTX text as NVRTC writes it: comments,
// then a .version and a .target directive, and one NUL at the very end (a
// file cut short lacks it).
func isPTX(b []byte) bool {
	text, ok := bytes.CutSuffix(b, []byte{0})
	if !ok || bytes.IndexByte(text, 0) >= 0 {
		return false
	}
	var directives []string
	for line := range strings.Lines(string(text)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		if directives = append(directives, line); len(directives) == 2 {
			break
		}
	}
	return len(directives) == 2 && strings.HasPrefix(directives[0], ".version ") &&
		strings.HasPrefix(directives[1], ".target ")
}

// defaultCacheDir returns the kernel cache folder: NNSCOPE_CUDA_CACHE
// ("off" disables the cache), else $XDG_CACHE_HOME/nnscope/cuda, else
// $HOME/.cache/nnscope/cuda.
func defaultCacheDir(getenv func(string) string) string {
	if d := getenv("NNSCOPE_CUDA_CACHE"); d != "" {
		if d == "off" {
			return ""
		}
		return d
	}
	if x := getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "nnscope", "cuda")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "nnscope", "cuda")
	}
	return ""
}
