// Sums over arbitrary axes: sum_to reduces g (any strides) to a broadcast
// shape (the backward of a broadcast, runtime's sumTo), and also sums over
// trailing or leading axes and everything. The host splits g's dimensions
// into kept ones (kshape, strides kg; the output is contiguous over them)
// and reduced ones (rshape, strides rg), merged where possible.
//
// out[o] = alpha * sum_r g[...] + beta * out[o]. With gridDim.y > 1 the
// reduced range is split over blocks that atomicAdd alpha*partial into out,
// which the host has set to beta*out (atomic = 1).

// sum_rows: one block per output (good when reduced elements are adjacent).
extern "C" __global__ void __launch_bounds__(1024) sum_rows(float* out, const float* g, int nout, int nred, int chunk, int krank, Dims kshape,
                                    Dims kg, int rrank, Dims rshape, Dims rg, float alpha, float beta, int atomic) {
    int lo = blockIdx.y * chunk, hi = (int)min((long long)nred, (long long)lo + chunk); // lo + chunk may pass INT_MAX
    for (int o = blockIdx.x; o < nout; o += gridDim.x) {
        const float* base = g + offsetOf(o, krank, kshape, kg);
        float s = 0.0f;
        for (int r = lo + threadIdx.x; r < hi; r += blockDim.x) s += base[offsetOf(r, rrank, rshape, rg)];
        s = blockSum(s);
        if (threadIdx.x == 0) {
            if (atomic) atomicAdd(out + o, alpha * s);
            else out[o] = alpha * s + (beta != 0.0f ? beta * out[o] : 0.0f);
        }
    }
}

// sum_cols: one thread per output (good when kept elements are adjacent,
// e.g. a bias gradient summing over leading axes: reads are coalesced).
extern "C" __global__ void __launch_bounds__(1024) sum_cols(float* out, const float* g, int nout, int nred, int chunk, int krank, Dims kshape,
                                    Dims kg, int rrank, Dims rshape, Dims rg, float alpha, float beta, int atomic) {
    int lo = blockIdx.y * chunk, hi = (int)min((long long)nred, (long long)lo + chunk); // lo + chunk may pass INT_MAX
    GRID_STRIDE(o, nout) {
        const float* base = g + offsetOf(o, krank, kshape, kg);
        float s = 0.0f;
        for (int r = lo; r < hi; r++) s += base[offsetOf(r, rrank, rshape, rg)];
        if (atomic) atomicAdd(out + o, alpha * s);
        else out[o] = alpha * s + (beta != 0.0f ? beta * out[o] : 0.0f);
    }
}

// topk_rows: vals[r, j] and idx[r, j] (the index as a float, as
// runtime.TopK gives it) are the j-th largest value of row r of x
// [rows, n] and its index, for j < k. The order is runtime.TopK's: NaN
// above every number, equal values by lower index first. It is total, so
// round j picks the best element ranking after round j-1's pick: no
// scratch memory and no sort, k passes over the row (one block a row).
__device__ __forceinline__ bool ranksBefore(float a, int ia, float b, int ib) {
    bool na = a != a, nb = b != b; // NaN tests without isnan
    if (na != nb) return na;
    if (!na && a != b) return a > b;
    return ia < ib;
}

// pickBetter makes (best, bi) the better of itself and (v, vi); an index
// of -1 is no candidate.
__device__ __forceinline__ void pickBetter(float& best, int& bi, float v, int vi) {
    if (vi >= 0 && (bi < 0 || ranksBefore(v, vi, best, bi))) {
        best = v;
        bi = vi;
    }
}

extern "C" __global__ void __launch_bounds__(1024) topk_rows(float* vals, float* idx, const float* x, int rows, int n, int k) {
    __shared__ float sv[32];
    __shared__ int si[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + (long long)r * n;
        float pv = 0.0f;
        int pi = -1; // the previous round's pick (none before round 0)
        for (int j = 0; j < k; j++) {
            float best = 0.0f;
            int bi = -1;
            for (int t = threadIdx.x; t < n; t += blockDim.x) {
                float v = xr[t];
                if (pi < 0 || ranksBefore(pv, pi, v, t)) pickBetter(best, bi, v, t); // not picked yet
            }
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                float ov = __shfl_xor_sync(0xffffffffu, best, o);
                int oi = __shfl_xor_sync(0xffffffffu, bi, o);
                pickBetter(best, bi, ov, oi);
            }
            __syncthreads(); // the previous round's readers are done with sv, si
            if (lane == 0) { sv[w] = best; si[w] = bi; }
            __syncthreads();
            best = sv[0];
            bi = si[0];
            for (int q = 1; q < nw; q++) pickBetter(best, bi, sv[q], si[q]);
            if (threadIdx.x == 0) {
                vals[(long long)r * k + j] = best;
                idx[(long long)r * k + j] = (float)bi;
            }
            pv = best;
            pi = bi;
        }
    }
}

// topk_bwd: gi [rows, n], zeroed by the host, gets g [rows, k] at the
// indices topk_rows picked (distinct within a row: each element of gi is
// written by at most one thread).
extern "C" __global__ void __launch_bounds__(1024) topk_bwd(float* gi, const float* g, const float* idx, int rows, int n, int k) {
    GRID_STRIDE(i, (long long)rows * k) {
        long long r = i / k;
        gi[r * n + (int)idx[i]] = g[i];
    }
}
