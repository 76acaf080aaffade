package cuda

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// nvrtcAPI holds NVRTC's entry points.
type nvrtcAPI struct {
	lib                                                      *library
	version, create, compile, logSize, log, cubinSize, cubin uintptr
	destroy, errString                                       uintptr
}

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
		"nvrtcGetCUBIN": &n.cubin, "nvrtcDestroyProgram": &n.destroy,
		"nvrtcGetErrorString": &n.errString,
	})
	if err != nil {
		return nil, err
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

// compileCUBIN compiles src (named name in messages) with the given
// options; the options must name a real architecture
// (--gpu-architecture=sm_XY) for NVRTC to produce a CUBIN. log is NVRTC's
// message log (warnings, after a success).
func (n *nvrtcAPI) compileCUBIN(src, name string, opts []string) (cubin []byte, log string, err error) {
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
	size = 0
	if err := n.call("nvrtcGetCUBINSize", n.cubinSize, prog, uintptr(unsafe.Pointer(&size))); err != nil {
		return nil, log, err
	}
	if size == 0 {
		return nil, log, fmt.Errorf("cuda: NVRTC produced no CUBIN (options %v need a real sm_XY architecture)", opts)
	}
	cubin = make([]byte, size)
	if err := n.call("nvrtcGetCUBIN", n.cubin, prog, p.bytes(cubin)); err != nil {
		return nil, log, err
	}
	return cubin, log, nil
}

// compileFunc compiles CUDA source with options to a CUBIN (NVRTC, or a
// fake in tests).
type compileFunc func(src string, opts []string) ([]byte, error)

// kernelCache compiles sources once per (source, architecture, driver
// version, NVRTC version, options) and keeps the CUBINs on disk.
type kernelCache struct {
	dir     string // "" disables the disk cache
	compile compileFunc
	driver  int    // driver version, e.g. 13000
	nvrtc   string // NVRTC version, e.g. "13.0"
}

// cacheKey is the hex SHA-256 of everything that determines a CUBIN.
func cacheKey(src, arch string, driver int, nvrtc string, opts []string) string {
	h := sha256.New()
	for _, s := range []string{"nnscope-cuda-v1", arch, strconv.Itoa(driver), nvrtc, strings.Join(opts, "\x01"), src} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// archOptions returns NVRTC options for compute capability major.minor.
func archOptions(major, minor int) (arch string, opts []string) {
	arch = fmt.Sprintf("sm_%d%d", major, minor)
	return arch, []string{"--gpu-architecture=" + arch, "--std=c++17"}
}

// get returns the CUBIN for src, from the disk cache when present (hit is
// true) or compiled (and then stored; a failed store is not an error).
func (c *kernelCache) get(src, arch string, opts []string) (cubin []byte, hit bool, err error) {
	if path := c.path(src, arch, opts); path != "" {
		if b, err := os.ReadFile(path); err == nil && isELF(b) {
			return b, true, nil
		}
	}
	cubin, err = c.refresh(src, arch, opts)
	return cubin, false, err
}

// path returns the cache file of src's CUBIN ("" when the cache is off).
func (c *kernelCache) path(src, arch string, opts []string) string {
	if c.dir == "" {
		return ""
	}
	return filepath.Join(c.dir, arch+"-"+cacheKey(src, arch, c.driver, c.nvrtc, opts)[:32]+".cubin")
}

// refresh compiles src and stores the CUBIN, replacing any cached one (a
// failed store is not an error).
func (c *kernelCache) refresh(src, arch string, opts []string) (cubin []byte, err error) {
	path := c.path(src, arch, opts)
	cubin, err = c.compile(src, opts)
	if err != nil {
		return nil, err
	}
	if path != "" {
		if err := os.MkdirAll(c.dir, 0o755); err == nil {
			tmp, err := os.CreateTemp(c.dir, ".tmp-*.cubin")
			if err == nil {
				_, werr := tmp.Write(cubin)
				cerr := tmp.Close()
				if werr == nil && cerr == nil {
					os.Rename(tmp.Name(), path)
				} else {
					os.Remove(tmp.Name())
				}
			}
		}
	}
	return cubin, nil
}

func isELF(b []byte) bool { return len(b) > 4 && string(b[:4]) == "\x7fELF" }

// defaultCacheDir returns the CUBIN cache folder: NNSCOPE_CUDA_CACHE
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
