package cuda

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// CUDA result codes used by this package.
const (
	cudaSuccess          = 0
	cudaErrOutOfMemory   = 2
	cudaErrNotInitalized = 3
	cudaErrNoDevice      = 100
)

// Error is a failed CUDA driver, NVRTC or cuBLAS call.
type Error struct {
	Lib  string // "cuda", "nvrtc" or "cublas"
	Call string // the C function, e.g. "cuMemAlloc_v2"
	Code int    // the status code it returned
	Name string // the code's name, e.g. "CUDA_ERROR_OUT_OF_MEMORY"
}

func (e *Error) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("cuda: %s failed: %s (%d)", e.Call, e.Name, e.Code)
	}
	return fmt.Sprintf("cuda: %s failed with %s status %d", e.Call, e.Lib, e.Code)
}

// IsOutOfMemory reports whether err is CUDA_ERROR_OUT_OF_MEMORY (or wraps it).
func IsOutOfMemory(err error) bool {
	for err != nil {
		if e, ok := err.(*Error); ok {
			return e.Lib == "cuda" && e.Code == cudaErrOutOfMemory
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// driverAPI holds the driver entry points.
type driverAPI struct {
	lib *library

	cuInit, cuDriverGetVersion, cuDeviceGet, cuDeviceGetCount, cuDeviceGetName           uintptr
	cuDeviceGetAttribute, cuDeviceTotalMem, cuDevicePrimaryCtxRetain                     uintptr
	cuDevicePrimaryCtxRelease, cuCtxSetCurrent, cuCtxSynchronize                         uintptr
	cuStreamCreate, cuStreamDestroy, cuStreamSynchronize                                 uintptr
	cuMemAlloc, cuMemFree, cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoDAsync                 uintptr
	cuMemsetD32Async, cuMemGetInfo                                                       uintptr
	cuModuleLoadData, cuModuleUnload, cuModuleGetFunction, cuLaunchKernel                uintptr
	cuGetErrorName                                                                       uintptr
	cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime, cuEventDestroy uintptr
}

func loadDriver(dirs []string) (*driverAPI, error) {
	lib, err := openLibrary("the NVIDIA driver (libcuda.so.1)", driverNames, dirs)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoDriver, strings.TrimPrefix(err.Error(), "cuda: "))
	}
	d := &driverAPI{lib: lib}
	err = lib.bind(map[string]*uintptr{
		"cuInit": &d.cuInit, "cuDriverGetVersion": &d.cuDriverGetVersion,
		"cuDeviceGet": &d.cuDeviceGet, "cuDeviceGetCount": &d.cuDeviceGetCount,
		"cuDeviceGetName": &d.cuDeviceGetName, "cuDeviceGetAttribute": &d.cuDeviceGetAttribute,
		"cuDeviceTotalMem_v2":          &d.cuDeviceTotalMem,
		"cuDevicePrimaryCtxRetain":     &d.cuDevicePrimaryCtxRetain,
		"cuDevicePrimaryCtxRelease_v2": &d.cuDevicePrimaryCtxRelease,
		"cuCtxSetCurrent":              &d.cuCtxSetCurrent, "cuCtxSynchronize": &d.cuCtxSynchronize,
		"cuStreamCreate": &d.cuStreamCreate, "cuStreamDestroy_v2": &d.cuStreamDestroy,
		"cuStreamSynchronize": &d.cuStreamSynchronize,
		"cuMemAlloc_v2":       &d.cuMemAlloc, "cuMemFree_v2": &d.cuMemFree,
		"cuMemcpyHtoD_v2": &d.cuMemcpyHtoD, "cuMemcpyDtoH_v2": &d.cuMemcpyDtoH,
		"cuMemcpyDtoDAsync_v2": &d.cuMemcpyDtoDAsync, "cuMemsetD32Async": &d.cuMemsetD32Async,
		"cuMemGetInfo_v2":  &d.cuMemGetInfo,
		"cuModuleLoadData": &d.cuModuleLoadData, "cuModuleUnload": &d.cuModuleUnload,
		"cuModuleGetFunction": &d.cuModuleGetFunction, "cuLaunchKernel": &d.cuLaunchKernel,
		"cuGetErrorName": &d.cuGetErrorName,
		"cuEventCreate":  &d.cuEventCreate, "cuEventRecord": &d.cuEventRecord,
		"cuEventSynchronize": &d.cuEventSynchronize, "cuEventElapsedTime": &d.cuEventElapsedTime,
		"cuEventDestroy_v2": &d.cuEventDestroy,
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// call runs a driver function and turns a non-zero CUresult into *Error.
func (d *driverAPI) call(name string, fn uintptr, args ...uintptr) error {
	r, _, _ := purego.SyscallN(fn, args...)
	if code := int32(r); code != cudaSuccess {
		return d.errorFor(name, int(code))
	}
	return nil
}

func (d *driverAPI) errorFor(call string, code int) *Error {
	e := &Error{Lib: "cuda", Call: call, Code: code}
	if d.cuGetErrorName != 0 {
		var p uintptr
		var pin pinner
		pin.pin(unsafe.Pointer(&p))
		r, _, _ := purego.SyscallN(d.cuGetErrorName, uintptr(code), uintptr(unsafe.Pointer(&p)))
		pin.unpin()
		if int32(r) == cudaSuccess && p != 0 {
			e.Name = cString(p)
		}
	}
	if e.Name == "" {
		e.Name = driverErrorNames[code]
	}
	return e
}

var driverErrorNames = map[int]string{
	1: "CUDA_ERROR_INVALID_VALUE", 2: "CUDA_ERROR_OUT_OF_MEMORY", 3: "CUDA_ERROR_NOT_INITIALIZED",
	100: "CUDA_ERROR_NO_DEVICE", 101: "CUDA_ERROR_INVALID_DEVICE", 200: "CUDA_ERROR_INVALID_IMAGE",
	209: "CUDA_ERROR_NO_BINARY_FOR_GPU", 218: "CUDA_ERROR_INVALID_PTX", 500: "CUDA_ERROR_NOT_FOUND",
	700: "CUDA_ERROR_ILLEGAL_ADDRESS", 701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
	719: "CUDA_ERROR_LAUNCH_FAILED", 999: "CUDA_ERROR_UNKNOWN",
}

// cString copies a NUL-terminated C string at address p (C memory).
func cString(p uintptr) string {
	if p == 0 {
		return ""
	}
	base := *(*unsafe.Pointer)(unsafe.Pointer(&p))
	var b []byte
	for i := 0; i < 1<<16; i++ {
		c := *(*byte)(unsafe.Add(base, i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// cBytes returns s as a NUL-terminated byte slice.
func cBytes(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}
