// Embedding lookup: out[i, :] = w[ids[i], :] for w [V, C]; backward scatters
// gradient rows into gw with atomicAdd (repeated ids accumulate). Ids must
// be checked on the host; an id outside [0, V) reads zeros and is skipped.

extern "C" __global__ void __launch_bounds__(1024) embedding_fwd(float* out, const float* w, const int* ids, int n, int C, int V) {
    long long total = (long long)n * C;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < total; k += (long long)gridDim.x * blockDim.x) {
        int i = (int)(k / C), c = (int)(k % C);
        int id = ids[i];
        out[k] = (id >= 0 && id < V) ? w[(long long)id * C + c] : 0.0f;
    }
}

extern "C" __global__ void __launch_bounds__(1024) embedding_bwd(float* gw, const float* g, const int* ids, int n, int C, int V) {
    long long total = (long long)n * C;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < total; k += (long long)gridDim.x * blockDim.x) {
        int i = (int)(k / C), c = (int)(k % C);
        int id = ids[i];
        if (id >= 0 && id < V) atomicAdd(gw + (long long)id * C + c, g[k]);
    }
}
