// Causal masked softmax for attention scores [B, H, Tq, Tk] (contiguous),
// forward and backward, as runtime.CausalSoftmax: scores are scaled, key j
// is visible to query i when j <= i + (Tk - Tq) and mask[b*Tk + j] != 0
// (mask may be NULL); a query that sees no key gets all-zero probabilities.

extern "C" __global__ void __launch_bounds__(1024) causal_softmax_fwd(float* out, const float* x, const float* mask, int rows, int H, int Tq,
                                              int Tk, float scale) {
    int past = Tk - Tq;
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        int i = r % Tq, b = (r / Tq) / H;
        const float* xr = x + (long long)r * Tk;
        float* o = out + (long long)r * Tk;
        const float* mr = mask ? mask + (long long)b * Tk : 0;
        int lim = min(Tk, i + past + 1); // keys j < lim pass the causal test
        float m = NEG_INF;
        for (int j = threadIdx.x; j < lim; j += blockDim.x)
            if (!mr || mr[j] != 0.0f) m = fmaxf(m, xr[j] * scale);
        m = blockMax(m);
        float s = 0.0f;
        for (int j = threadIdx.x; j < Tk; j += blockDim.x) {
            float e = 0.0f;
            if (j < lim && (!mr || mr[j] != 0.0f)) e = expf(xr[j] * scale - m);
            o[j] = e;
            s += e;
        }
        s = blockSum(s);
        float inv = s > 0.0f ? 1.0f / s : 0.0f;
        for (int j = threadIdx.x; j < Tk; j += blockDim.x) o[j] *= inv;
    }
}

// causal_softmax_bwd: gi = scale * y * (g - sum(g * y)) over rows [rows, Tk].
extern "C" __global__ void __launch_bounds__(1024) causal_softmax_bwd(float* gi, const float* g, const float* y, int rows, int Tk, float scale) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long base = (long long)r * Tk;
        float dot = 0.0f;
        for (int j = threadIdx.x; j < Tk; j += blockDim.x) dot += g[base + j] * y[base + j];
        dot = blockSum(dot);
        for (int j = threadIdx.x; j < Tk; j += blockDim.x) gi[base + j] = scale * y[base + j] * (g[base + j] - dot);
    }
}
