// A host C++ stand-in for the CUDA builtins the kernels use, so that g++
// can syntax- and type-check kernels/*.cu on machines without CUDA
// (TestKernelsParseAsCPP). It runs no kernel: the only code run with it is
// common.cuh's index helpers (TestKernelIndicesPastInt32).
#include <cmath>
#define __global__
#define __launch_bounds__(...)
#define __device__
#define __forceinline__ inline
#define __shared__ static
struct nnscope_uint3 { unsigned x, y, z; };
static nnscope_uint3 threadIdx, blockIdx, blockDim, gridDim;
inline void __syncthreads() {}
inline float __shfl_xor_sync(unsigned, float v, int) { return v; }
inline int __shfl_xor_sync(unsigned, int v, int) { return v; }
inline float __int_as_float(int) { return 0.0f; }
inline float atomicAdd(float* p, float v) { float o = *p; *p += v; return o; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
using std::isnan; using std::min; using std::max;
using ::expf; using ::logf; using ::tanhf; using ::erff; using ::powf; using ::sqrtf; using ::fabsf; using ::fmaxf;
