// Cross-entropy: the mean over rows of logits [N, V] of -log softmax[target],
// rows with target -100 ignored (PyTorch's ignore_index), forward and
// backward. Targets must be checked on the host.
//
// ce_fwd writes per-row losses (0 for ignored rows) and log-sum-exp;
// ce_mean reduces them to loss[0] = mean and loss[1] = the number of rows
// counted; ce_bwd reads loss[1] and the upstream gradient dloss[0] on the
// device, so the whole pass needs no host synchronization.

extern "C" __global__ void __launch_bounds__(1024) ce_fwd(float* lossrow, float* lse, const float* logits, const int* targets, int N, int V) {
    for (int r = blockIdx.x; r < N; r += gridDim.x) {
        const float* xr = logits + (long long)r * V;
        float m = NEG_INF;
        for (int j = threadIdx.x; j < V; j += blockDim.x) m = fmaxf(m, xr[j]);
        m = blockMax(m);
        float s = 0.0f;
        for (int j = threadIdx.x; j < V; j += blockDim.x) s += expf(xr[j] - m);
        s = blockSum(s);
        if (threadIdx.x == 0) {
            float l = m + logf(s);
            int t = targets[r];
            lse[r] = l;
            lossrow[r] = (t >= 0 && t < V) ? l - xr[t] : 0.0f;
        }
    }
}

// ce_mean: one block.
extern "C" __global__ void __launch_bounds__(1024) ce_mean(float* loss, const float* lossrow, const int* targets, int N, int V) {
    float s = 0.0f, c = 0.0f;
    for (int r = threadIdx.x; r < N; r += blockDim.x) {
        int t = targets[r];
        if (t >= 0 && t < V) {
            s += lossrow[r];
            c += 1.0f;
        }
    }
    s = blockSum(s);
    c = blockSum(c);
    if (threadIdx.x == 0) {
        loss[0] = c > 0.0f ? s / c : __int_as_float(0x7fc00000); // no row counted: NaN, as in PyTorch
        loss[1] = c;
    }
}

// ce_bwd: dlogits[r, j] = (softmax[r, j] - [j == target]) * dloss / count.
extern "C" __global__ void __launch_bounds__(1024) ce_bwd(float* dlogits, const float* logits, const float* lse, const int* targets,
                                  const float* loss, const float* dloss, int N, int V) {
    float cnt = loss[1];
    float scale = cnt > 0.0f ? dloss[0] / cnt : 0.0f;
    for (int r = blockIdx.x; r < N; r += gridDim.x) {
        long long base = (long long)r * V;
        int t = targets[r];
        bool use = t >= 0 && t < V;
        float l = lse[r];
        for (int j = threadIdx.x; j < V; j += blockDim.x) {
            float d = 0.0f;
            if (use) d = (expf(logits[base + j] - l) - (j == t ? 1.0f : 0.0f)) * scale;
            dlogits[base + j] = d;
        }
    }
}
