// Linear layers over a few rows (tokens): out[m, n] = x[m, k] . op(W) (+ bias[n])
// for m <= SMALL_ROWS, in one launch with the bias added. A pass over a
// handful of tokens is bound by the host: a cuBLAS call costs it about
// three kernel launches (its heuristics, a split-k reduction), and the
// bias another launch. The weights' read sets the GPU's time, so both
// kernels read W once, coalesced, and keep the m sums in registers. The
// sums' order is fixed: results do not depend on scheduling.

#define SMALL_ROWS 16

// linear_small_nn: W stored [k, n] (leading dimension ldw). A block is 8
// columns x 32 slices of k (a warp reads 8 consecutive columns of 4 rows:
// whole 32-byte sectors); the slices' sums are added in shared memory.
extern "C" __global__ void __launch_bounds__(1024) linear_small_nn(float* out, const float* x, const float* w,
                                                                  const float* bias, int m, int n, int k, int ldw) {
    __shared__ float part[32][SMALL_ROWS][8];
    int c = threadIdx.x & 7, s = threadIdx.x >> 3;
    int j = blockIdx.x * 8 + c;
    float acc[SMALL_ROWS];
#pragma unroll
    for (int r = 0; r < SMALL_ROWS; r++) acc[r] = 0.0f;
    if (j < n) {
        for (int kk = s; kk < k; kk += 32) {
            float wv = w[(long long)kk * ldw + j];
#pragma unroll
            for (int r = 0; r < SMALL_ROWS; r++)
                if (r < m) acc[r] = fmaf(x[(long long)r * k + kk], wv, acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < SMALL_ROWS; r++)
        if (r < m) part[s][r][c] = acc[r];
    __syncthreads();
    for (int t = threadIdx.x; t < m * 8; t += blockDim.x) {
        int r = t >> 3, cc = t & 7, jj = blockIdx.x * 8 + cc;
        if (jj >= n) continue;
        float v = 0.0f;
        for (int q = 0; q < 32; q++) v += part[q][r][cc];
        if (bias) v += bias[jj];
        out[(long long)r * n + jj] = v;
    }
}

// linear_small_nt: W stored [n, k] (the tied embedding as lm_head, and the
// backward's dx = g . W^T). A warp per output column reads its row of W
// along k, coalesced; the lanes' sums are added in shared memory (one
// barrier, where shuffles would take five steps per row).
extern "C" __global__ void __launch_bounds__(1024) linear_small_nt(float* out, const float* x, const float* w,
                                                                  const float* bias, int m, int n, int k, int ldw) {
    __shared__ float part[8][SMALL_ROWS][33];
    int lane = threadIdx.x & 31, wp = threadIdx.x >> 5;
    int j = blockIdx.x * 8 + wp;
    float acc[SMALL_ROWS];
#pragma unroll
    for (int r = 0; r < SMALL_ROWS; r++) acc[r] = 0.0f;
    if (j < n) {
        const float* wr = w + (long long)j * ldw;
        for (int kk = lane; kk < k; kk += 32) {
            float wv = wr[kk];
#pragma unroll
            for (int r = 0; r < SMALL_ROWS; r++)
                if (r < m) acc[r] = fmaf(x[(long long)r * k + kk], wv, acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < SMALL_ROWS; r++)
        if (r < m) part[wp][r][lane] = acc[r];
    __syncthreads();
    for (int t = threadIdx.x; t < m * 8; t += blockDim.x) {
        int r = t >> 3, q = t & 7, jj = blockIdx.x * 8 + q;
        if (jj >= n) continue;
        float v = 0.0f;
        for (int l = 0; l < 32; l++) v += part[q][r][l];
        if (bias) v += bias[jj];
        out[(long long)r * n + jj] = v;
    }
}
