//go:build !windows

package cuda

import "github.com/ebitengine/purego"

// Library candidates, newest first.
var (
	driverNames = []string{"libcuda.so.1", "libcuda.so"}
	nvrtcNames  = []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"}
	cublasNames = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so"}
)

// dlopen loads the library at path, resolving its symbols now; global
// adds them to the scope later libraries are linked against.
func dlopen(path string, global bool) (uintptr, error) {
	mode := purego.RTLD_NOW | purego.RTLD_LOCAL
	if global {
		mode = purego.RTLD_NOW | purego.RTLD_GLOBAL
	}
	return purego.Dlopen(path, mode)
}

// dlsym returns the address of symbol name in the library handle h.
func dlsym(h uintptr, name string) (uintptr, error) { return purego.Dlsym(h, name) }
