// Package cuda is nnscope's GPU backend: NVIDIA's driver, NVRTC and cuBLAS
// loaded at run time with purego, so nnscope still builds with
// CGO_ENABLED=0 and runs on machines without CUDA (Open then returns an
// error that names what is missing).
//
// # Threads and the context
//
// A CUDA context is current per OS thread. Every exported method of Device
// takes the device's mutex, locks its goroutine to the OS thread
// (runtime.LockOSThread) and makes the device's primary context current
// (cuCtxSetCurrent, a cheap thread-local write in the driver) before it
// calls into CUDA, and undoes both on return. This costs well under a
// microsecond, far less than handing each call to a dedicated locked
// goroutine (a cross-thread wake-up per call), and it lets any goroutine
// use the device. Calls are serialized by the mutex.
//
// # Streams and synchronization
//
// All kernels, cuBLAS calls, device-to-device copies and memsets go to one
// stream, created blocking (it synchronizes with the legacy default
// stream), so they run in the order they were issued and the host never
// waits for them. Upload and Download use the synchronous copies on the
// legacy default stream: they are ordered after all earlier work, Upload
// returns once the host slice may be reused, and Download returns once the
// data has arrived. They and Sync are the only host synchronization
// points.
//
// # Memory
//
// Buffers come from a caching allocator (size classes with free lists, as
// PyTorch's): in steady state no op calls cuMemAlloc. Freed blocks are
// reused by later work on the same stream, which is ordered after the work
// that used them, so reuse needs no synchronization. When cuMemAlloc runs
// out of memory, the allocator releases its cache and retries once; the
// error names the bytes requested. All elements are 4 bytes (float32, or
// int32 for token ids and indices); a Buffer carries an element offset so a
// view can be passed without a copy.
//
// # Kernels
//
// The kernels are CUDA C sources embedded in the binary (kernels/*.cu, one
// op's forward and backward side by side, as in llm.c). At the first
// launch they are compiled by NVRTC for the device's architecture
// (sm_XY) to a CUBIN, cached on disk (NNSCOPE_CUDA_CACHE, else
// $XDG_CACHE_HOME/nnscope/cuda or ~/.cache/nnscope/cuda) under a hash of
// the source, architecture, driver and NVRTC versions, and loaded with
// cuModuleLoadData. A GPU newer than every architecture the installed
// NVRTC lists (nvrtcGetSupportedArchs; a Blackwell under NVRTC 12.4) gets
// PTX for the newest virtual architecture NVRTC knows (compute_XY), also
// cached, which the driver JIT-compiles for the GPU when it loads it;
// CompileInfo.JIT and the device's String say so. A GPU older than all of
// them is an error naming the GPU, the NVRTC and its range. Matrix
// products go to cuBLAS (strict FP32 by default, TF32 on request).
package cuda
