// Layer normalization over the last axis of contiguous rows [rows, n], with
// optional gain w [n] and bias b [n] (NULL for none), forward and backward.
// The forward saves each row's mean and 1/std for the backward.

extern "C" __global__ void __launch_bounds__(1024) layernorm_fwd(float* out, float* mean, float* rstd, const float* x, const float* w,
                                         const float* b, int rows, int n, float eps) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + (long long)r * n;
        float* o = out + (long long)r * n;
        float s = 0.0f;
        for (int j = threadIdx.x; j < n; j += blockDim.x) s += xr[j];
        float mu = blockSum(s) / n;
        float v = 0.0f;
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            float d = xr[j] - mu;
            v += d * d;
        }
        float rs = rsqrtf(blockSum(v) / n + eps);
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            float y = (xr[j] - mu) * rs;
            if (w) y *= w[j];
            if (b) y += b[j];
            o[j] = y;
        }
        if (threadIdx.x == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
    }
}

// layernorm_bwd_dx: with norm = (x - mean) * rstd and dn = g * w,
// dx = rstd * (dn - mean(dn) - norm * mean(dn * norm)).
extern "C" __global__ void __launch_bounds__(1024) layernorm_bwd_dx(float* dx, const float* g, const float* x, const float* w, const float* mean,
                                            const float* rstd, int rows, int n) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long base = (long long)r * n;
        float mu = mean[r], rs = rstd[r];
        float m1 = 0.0f, m2 = 0.0f;
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            float nm = (x[base + j] - mu) * rs;
            float dn = w ? g[base + j] * w[j] : g[base + j];
            m1 += dn;
            m2 += dn * nm;
        }
        m1 = blockSum(m1) / n;
        m2 = blockSum(m2) / n;
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            float nm = (x[base + j] - mu) * rs;
            float dn = w ? g[base + j] * w[j] : g[base + j];
            dx[base + j] = rs * (dn - m1 - nm * m2);
        }
    }
}

// layernorm_bwd_dwdb: dw[c] += sum_r g[r,c] * norm[r,c], db[c] += sum_r g[r,c]
// (either may be NULL). One thread per column, blockIdx.y picks a chunk of
// rows; results are atomically added (the host zeroes dw and db first).
extern "C" __global__ void __launch_bounds__(1024) layernorm_bwd_dwdb(float* dw, float* db, const float* g, const float* x, const float* mean,
                                              const float* rstd, int rows, int n, int chunk) {
    long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x; // the grid may pass INT_MAX
    if (c >= n) return;
    int lo = blockIdx.y * chunk, hi = (int)min((long long)rows, (long long)lo + chunk); // lo + chunk may pass INT_MAX
    float sw = 0.0f, sb = 0.0f;
    for (int r = lo; r < hi; r++) {
        long long i = (long long)r * n + c;
        sw += g[i] * (x[i] - mean[r]) * rstd[r];
        sb += g[i];
    }
    if (dw) atomicAdd(dw + c, sw);
    if (db) atomicAdd(db + c, sb);
}
