// Softmax and log-softmax over the last axis of contiguous rows [rows, n],
// forward and backward. One block per row.

extern "C" __global__ void __launch_bounds__(1024) softmax_fwd(float* out, const float* x, int rows, int n) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + (long long)r * n;
        float* o = out + (long long)r * n;
        float m = NEG_INF;
        for (int j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, xr[j]);
        m = blockMax(m);
        float s = 0.0f;
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            float e = expf(xr[j] - m);
            o[j] = e;
            s += e;
        }
        float inv = 1.0f / blockSum(s);
        for (int j = threadIdx.x; j < n; j += blockDim.x) o[j] *= inv;
    }
}

// softmax_bwd: gi = y * (g - sum(g * y)).
extern "C" __global__ void __launch_bounds__(1024) softmax_bwd(float* gi, const float* g, const float* y, int rows, int n) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long base = (long long)r * n;
        float dot = 0.0f;
        for (int j = threadIdx.x; j < n; j += blockDim.x) dot += g[base + j] * y[base + j];
        dot = blockSum(dot);
        for (int j = threadIdx.x; j < n; j += blockDim.x) gi[base + j] = y[base + j] * (g[base + j] - dot);
    }
}

extern "C" __global__ void __launch_bounds__(1024) log_softmax_fwd(float* out, const float* x, int rows, int n) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + (long long)r * n;
        float* o = out + (long long)r * n;
        float m = NEG_INF;
        for (int j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, xr[j]);
        m = blockMax(m);
        float s = 0.0f;
        for (int j = threadIdx.x; j < n; j += blockDim.x) s += expf(xr[j] - m);
        float lse = m + logf(blockSum(s));
        for (int j = threadIdx.x; j < n; j += blockDim.x) o[j] = xr[j] - lse;
    }
}

// log_softmax_bwd: gi = g - exp(y) * sum(g).
extern "C" __global__ void __launch_bounds__(1024) log_softmax_bwd(float* gi, const float* g, const float* y, int rows, int n) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long base = (long long)r * n;
        float s = 0.0f;
        for (int j = threadIdx.x; j < n; j += blockDim.x) s += g[base + j];
        s = blockSum(s);
        for (int j = threadIdx.x; j < n; j += blockDim.x) gi[base + j] = g[base + j] - expf(y[base + j]) * s;
    }
}
