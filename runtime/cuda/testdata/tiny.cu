// Source of tiny_sm90.cubin, the CUBIN that TestParseCUBIN reads
// (regenerate with NNSCOPE_REGEN_CUBIN=1 go test -run TestParseCUBIN).
struct Dims {
    int d[6];
};

extern "C" __global__ void tiny_scale(float* y, const float* x, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i];
}

extern "C" __global__ void tiny_rowsum(float* y, const float* x, Dims shape, int n) {
    __shared__ float sh[32];
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += x[blockIdx.x * shape.d[0] + i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        float t = 0.0f;
        for (int w = 0; w < (int)(blockDim.x >> 5); w++) t += sh[w];
        y[blockIdx.x] = t;
    }
}
