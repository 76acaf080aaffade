package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNoDriver is wrapped by the error Open returns when the NVIDIA driver
// library (libcuda.so.1) cannot be loaded: the machine has no NVIDIA GPU
// driver. Test with errors.Is.
var ErrNoDriver = errors.New("cuda: no NVIDIA driver")

// ErrNoDevice is wrapped by the error Open returns when the driver loads but
// reports no usable GPU.
var ErrNoDevice = errors.New("cuda: no CUDA device")

// searchDirs lists the folders searched for CUDA libraries, in order:
// NNSCOPE_CUDA_LIB (a path list), $CUDA_HOME/lib64, $CUDA_PATH/lib64,
// /usr/local/cuda/lib64, the entries of LD_LIBRARY_PATH, the driver's usual
// folders, and the NVIDIA pip wheels (nvidia/cu13/lib, nvidia/cu12/lib,
// nvidia/cublas/lib, nvidia/cuda_nvrtc/lib) in Python site-packages
// folders. getenv and glob are parameters for tests.
func searchDirs(getenv func(string) string, glob func(string) ([]string, error)) []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if d == "" || seen[d] {
			return
		}
		seen[d] = true
		dirs = append(dirs, d)
	}
	for _, d := range filepath.SplitList(getenv("NNSCOPE_CUDA_LIB")) {
		add(d)
	}
	for _, v := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if h := getenv(v); h != "" {
			add(filepath.Join(h, "lib64"))
			add(filepath.Join(h, "lib"))
			add(filepath.Join(h, "bin")) // Windows keeps its DLLs there
		}
	}
	add("/usr/local/cuda/lib64")
	for _, d := range filepath.SplitList(getenv("LD_LIBRARY_PATH")) {
		add(d)
	}
	add("/usr/lib/x86_64-linux-gnu")
	add("/usr/local/nvidia/lib64")
	add("/usr/lib64")
	// pip wheels: nvidia-*-cu13 / -cu12 packages.
	var sites []string
	if v := getenv("VIRTUAL_ENV"); v != "" {
		sites = append(sites, filepath.Join(v, "lib", "python3*", "site-packages"))
	}
	if h := getenv("HOME"); h != "" {
		sites = append(sites, filepath.Join(h, ".local", "lib", "python3*", "site-packages"))
	}
	sites = append(sites,
		"/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
		"/usr/lib/python3*/dist-packages", "/usr/lib/python3/dist-packages",
		"/opt/conda/lib/python3*/site-packages")
	for _, s := range sites {
		matches, _ := glob(s)
		sort.Sort(sort.Reverse(sort.StringSlice(matches))) // newest Python first
		for _, m := range matches {
			for _, sub := range []string{"cu13/lib", "cu12/lib", "cublas/lib", "cuda_nvrtc/lib"} {
				add(filepath.Join(m, "nvidia", sub))
			}
		}
	}
	return dirs
}

// library is one loaded shared library.
type library struct {
	handle uintptr
	path   string // what was passed to dlopen
}

// candidatePaths returns the paths tried for names: for each name (newest
// first), each search folder holding that file, then the bare name (the
// dynamic loader's own search). exists is a parameter for tests.
func candidatePaths(names, dirs []string, exists func(string) bool) []string {
	var out []string
	for _, n := range names {
		for _, d := range dirs {
			if p := filepath.Join(d, n); exists(p) {
				out = append(out, p)
			}
		}
		out = append(out, n)
	}
	return out
}

// hasDir reports whether p names a folder (a path, not a bare library
// name for the loader's own search).
func hasDir(p string) bool { return filepath.Base(p) != p }

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// openLibrary dlopens the first loadable candidate. what names the library
// in errors ("NVRTC").
func openLibrary(what string, names, dirs []string) (*library, error) {
	return openLibraryWithDep(what, names, dirs, nil)
}

// openLibraryWithDep is openLibrary for a library with a direct dependency
// of its own release (libcublas.so.N needs libcublasLt.so.N): dep maps a
// candidate's file name to its dependency's, which is loaded first from
// the candidate's folder where it is there. The dynamic
// loader resolves a DT_NEEDED soname through LD_LIBRARY_PATH, its cache and
// the library's RUNPATH only, not through the folder the library itself
// was opened from, so without this a libcublas found in a folder that is
// not on the loader's path fails to load. (NVIDIA's loader, cuda-python's
// pathfinder, loads cublasLt before cublas for the same reason.)
func openLibraryWithDep(what string, names, dirs []string, dep func(name string) string) (*library, error) {
	var errs []string
	for _, p := range candidatePaths(names, dirs, fileExists) {
		if dep != nil && hasDir(p) {
			if dp := filepath.Join(filepath.Dir(p), dep(filepath.Base(p))); fileExists(dp) {
				// Local: it serves as p's dependency (matched by soname)
				// without its symbols joining the global scope. A failure
				// shows in p's.
				dlopen(dp, false)
			}
		}
		h, err := dlopen(p, true)
		if err == nil {
			return &library{handle: h, path: p}, nil
		}
		if hasDir(p) {
			errs = append(errs, fmt.Sprintf("%s: %v", p, err))
		}
	}
	msg := fmt.Sprintf("cuda: %s not found (tried %s in %d folders and the loader's path)",
		what, strings.Join(names, ", "), len(dirs))
	if len(errs) > 0 {
		msg += "; failures: " + strings.Join(errs, "; ")
	}
	return nil, errors.New(msg)
}

// sonameMajor returns the major version in a library file name
// ("libcublas.so.13" -> 13, "libnvrtc.so.11.2" -> 11), 0 when it has none.
func sonameMajor(name string) int {
	i := strings.Index(name, ".so.")
	if i < 0 {
		return 0
	}
	v := name[i+4:]
	if j := strings.IndexByte(v, '.'); j >= 0 {
		v = v[:j]
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// namesForDriver orders library names (newest first) for a driver of the
// given version (cuDriverGetVersion: 12080 is CUDA 12.8): those of a CUDA
// major release newer than the driver's go last. A CUDA 13 library needs
// driver 580 or newer (CUDA 13.0), a CUDA 12 one 525 or newer, so on a
// CUDA 12 driver libcublas.so.13 (whose runtime needs CUDA 13) fails where
// libcublas.so.12 works, and NVRTC 13's CUBINs are for a newer driver
// than the one loading them. Unversioned names keep their place.
func namesForDriver(names []string, driverVersion int) []string {
	major := driverVersion / 1000
	var fit, newer []string
	for _, n := range names {
		if major > 0 && sonameMajor(n) > major {
			newer = append(newer, n)
		} else {
			fit = append(fit, n)
		}
	}
	return append(fit, newer...)
}

// preloadSiblings loads, with RTLD_GLOBAL, the first library matching
// pattern in lib's folder (NVRTC's builtins), so that the library's own
// dlopen by soname finds it even when the folder is not on
// LD_LIBRARY_PATH. Failures are ignored: the library may still find it.
func preloadSiblings(lib *library, pattern string) {
	if !hasDir(lib.path) {
		return
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(lib.path), pattern))
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	for _, m := range matches {
		if _, err := dlopen(m, true); err == nil {
			return
		}
	}
}

// sym resolves name in lib.
func (l *library) sym(name string) (uintptr, error) {
	p, err := dlsym(l.handle, name)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("cuda: symbol %s not found in %s", name, l.path)
	}
	return p, nil
}

// bind resolves every symbol named by the keys of syms into the pointed-to
// variables.
func (l *library) bind(syms map[string]*uintptr) error {
	for name, p := range syms {
		f, err := l.sym(name)
		if err != nil {
			return err
		}
		*p = f
	}
	return nil
}
