// Shared helpers for nnscope's CUDA kernels. NVRTC compiles this file
// followed by every kernels/*.cu file as one translation unit, without
// system headers: only CUDA builtins are available.
//
// Conventions: float32 data, int32 ids; sizes fit in a C int (offsets into
// views and grid-stride indices are 64-bit: they may pass INT_MAX); kernels that
// take strides use element strides and a `Dims` struct of MAX_RANK ints;
// 1-d kernels loop with a grid stride, row kernels use one block per row
// (blockDim.x a multiple of 32, at most 1024).

#define MAX_RANK 6
#define NEG_INF (__int_as_float(0xff800000))

struct Dims {
    int d[MAX_RANK];
};

// offsetOf maps a row-major linear index over shape (rank dims) to the
// element offset given by strides. The index fits a C int (launch checks
// n), so it is split in cheap 32-bit unsigned arithmetic, but the offset
// is 64-bit: a strided view may span more than 2^31-1 elements.
__device__ __forceinline__ long long offsetOf(long long i, int rank, const Dims& shape, const Dims& strides) {
    unsigned u = (unsigned)i;
    long long off = 0;
#pragma unroll
    for (int d = MAX_RANK - 1; d >= 0; d--) {
        if (d < rank) {
            unsigned s = (unsigned)shape.d[d];
            off += (long long)(u % s) * strides.d[d];
            u /= s;
        }
    }
    return off;
}

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warpMax(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// blockSum returns the sum of v over the block to every thread.
__device__ float blockSum(float v) {
    __shared__ float sh[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warpSum(v);
    __syncthreads(); // the previous call's readers are done with sh
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : 0.0f;
    return warpSum(v);
}

// blockMax returns the maximum of v over the block to every thread.
__device__ float blockMax(float v) {
    __shared__ float sh[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warpMax(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : NEG_INF;
    return warpMax(v);
}

// GRID_STRIDE loops i over [0, n) with a grid stride. i is 64-bit: n fits a
// C int, but a step from the last index in range can pass INT_MAX (n within
// a grid's worth of threads of it) and a 32-bit i would wrap negative.
#define GRID_STRIDE(i, n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)
