package cuda

import "syscall"

// Library candidates on Windows, newest first: the driver is nvcuda.dll;
// the toolkit's DLLs carry their release in their names (CUDA_PATH\bin).
var (
	driverNames = []string{"nvcuda.dll"}
	nvrtcNames  = []string{"nvrtc64_130_0.dll", "nvrtc64_120_0.dll"}
	cublasNames = []string{"cublas64_13.dll", "cublas64_12.dll"}
)

// dlopen loads the DLL at path (Windows has no symbol scopes: global is
// ignored).
func dlopen(path string, global bool) (uintptr, error) {
	h, err := syscall.LoadLibrary(path)
	return uintptr(h), err
}

// dlsym returns the address of symbol name in the DLL handle h.
func dlsym(h uintptr, name string) (uintptr, error) {
	return syscall.GetProcAddress(syscall.Handle(h), name)
}
