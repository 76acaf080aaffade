// Linear layers over a few rows (tokens): out[m, n] = x[m, k] . op(W) (+ bias[n])
// for m <= SMALL_ROWS, in one launch with the bias added. A pass over a
// handful of tokens is bound by the host: a cuBLAS call cost it about
// three kernel launches on an H100 (17.7 us against 5.4), and the bias
// another launch. The weights' read sets the GPU's time, so both
// kernels read W once, coalesced, and keep the m sums in registers. The
// sums' order is fixed: results do not depend on scheduling.

#define SMALL_ROWS 16

// rowSums adds x[r, kk] * W(kk) to acc[r] for the m rows over kk = k0,
// k0 + 32, ... < k, where W(kk) = wp[kk * ws], in kk's order. Four loads
// of W are in flight per step: with one, the GPU waited on memory (43 us
// per GPT-2 projection on an H100, against 15-36 us with four).
__device__ __forceinline__ void rowSums(float (&acc)[SMALL_ROWS], const float* x, const float* wp, long long ws, int m, int k,
                                        int k0) {
    int kk = k0;
    for (; kk + 96 < k; kk += 128) {
        float w0 = wp[kk * ws], w1 = wp[(kk + 32) * ws], w2 = wp[(kk + 64) * ws], w3 = wp[(kk + 96) * ws];
#pragma unroll
        for (int r = 0; r < SMALL_ROWS; r++) {
            if (r < m) {
                const float* xr = x + (long long)r * k + kk;
                acc[r] = fmaf(xr[0], w0, acc[r]);
                acc[r] = fmaf(xr[32], w1, acc[r]);
                acc[r] = fmaf(xr[64], w2, acc[r]);
                acc[r] = fmaf(xr[96], w3, acc[r]);
            }
        }
    }
    for (; kk < k; kk += 32) {
        float wv = wp[kk * ws];
#pragma unroll
        for (int r = 0; r < SMALL_ROWS; r++)
            if (r < m) acc[r] = fmaf(x[(long long)r * k + kk], wv, acc[r]);
    }
}

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
    if (j < n) rowSums(acc, x, w + j, ldw, m, k, s);
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
    if (j < n) rowSums(acc, x, w + (long long)j * ldw, 1, m, k, lane);
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

// gemm_small: c[b, i, j] = sum_l A_b[i, l] B_b[l, j] over a batch of small
// row-major products (attention's over a few tokens), one thread per
// output. A_b starts sa elements after A_{b-1} and is stored [m, k]
// (lda), or [k, m] when ta; B_b likewise [k, n] or [n, k] when tb. Like
// the small Linear it saves the host a cuBLAS call (about two launches'
// worth); the host chooses it only for products too small to matter to
// the GPU.
extern "C" __global__ void __launch_bounds__(1024) gemm_small(float* c, const float* a, const float* b, int m, int n, int k, int batch,
                                                              int ta, int lda, int sa, int tb, int ldb, int sb, int ldc, int sc) {
    long long total = (long long)batch * m * n;
    GRID_STRIDE(t, total) {
        int j = (int)(t % n);
        long long r = t / n;
        int i = (int)(r % m), bb = (int)(r / m);
        const float* ab = a + (long long)bb * sa;
        const float* bp = b + (long long)bb * sb;
        float s = 0.0f;
#pragma unroll 4
        for (int l = 0; l < k; l++) {
            float x = ta ? ab[(long long)l * lda + i] : ab[(long long)i * lda + l];
            float y = tb ? bp[(long long)j * ldb + l] : bp[(long long)l * ldb + j];
            s = fmaf(x, y, s);
        }
        c[(long long)bb * sc + (long long)i * ldc + j] = s;
    }
}
