// Elementwise ops: binary with broadcasting (strides), unary forward and
// backward, fill and strided copy. Op codes match ops.go.

#define BIN_ADD 0
#define BIN_SUB 1
#define BIN_MUL 2
#define BIN_DIV 3

__device__ __forceinline__ float binop(int op, float x, float y) {
    switch (op) {
    case BIN_ADD: return x + y;
    case BIN_SUB: return x - y;
    case BIN_MUL: return x * y;
    default: return x / y;
    }
}

// vec4f is four floats loaded or stored as one 16-byte access (as CUDA's
// float4, declared here so that the sources use no vector builtins the
// host stand-ins for CUDA lack).
struct alignas(16) vec4f {
    float x, y, z, w;
};

__device__ __forceinline__ vec4f make_vec4f(float x, float y, float z, float w) {
    vec4f v;
    v.x = x;
    v.y = y;
    v.z = z;
    v.w = w;
    return v;
}

__device__ __forceinline__ vec4f binop4(int op, vec4f x, vec4f y) {
    switch (op) {
    case BIN_ADD: return make_vec4f(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
    case BIN_SUB: return make_vec4f(x.x - y.x, x.y - y.y, x.z - y.z, x.w - y.w);
    case BIN_MUL: return make_vec4f(x.x * y.x, x.y * y.y, x.z * y.z, x.w * y.w);
    default: return make_vec4f(x.x / y.x, x.y / y.y, x.z / y.z, x.w / y.w);
    }
}

__device__ __forceinline__ vec4f splat4(float v) { return make_vec4f(v, v, v, v); }

// The vec4f kernels below are chosen (ops.go, elementwise_fast.go) only
// when every operand they load or store as vec4f is 16-byte aligned; the
// index of the first thread of the grid fits 32 bits (gridFor caps it).
__device__ __forceinline__ unsigned globalThread() { return blockIdx.x * blockDim.x + threadIdx.x; }

// binary_contig: out[i] = a[i*sa] op b[i*sb] with sa, sb in {0, 1} (a
// scalar operand broadcast when its stride is 0).
extern "C" __global__ void __launch_bounds__(1024) binary_contig(float* out, const float* a, const float* b, int n, int sa, int sb, int op) {
    GRID_STRIDE(i, n) out[i] = binop(op, a[i * sa], b[i * sb]);
}

// binary_contig4: binary_contig for sa = sb = 1 a vec4f at a time (4x
// fewer, wider memory transactions), the last n % 4 elements one per
// thread of the first n % 4.
extern "C" __global__ void __launch_bounds__(1024) binary_contig4(float* out, const float* a, const float* b, int n, int op) {
    const int n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        reinterpret_cast<vec4f*>(out)[i] = binop4(op, reinterpret_cast<const vec4f*>(a)[i], reinterpret_cast<const vec4f*>(b)[i]);
    }
    long long t = 4LL * n4 + globalThread();
    if (t < n) out[t] = binop(op, a[t], b[t]);
}

// binary_row: out = x op row (row op x when rowIsA) over [rows, ncol]
// with out and x contiguous and row a [ncol] vector broadcast down the
// rows (Linear's bias add): binary_strided's per-element div/mod per
// dimension replaced by a column tracked across the grid stride.
extern "C" __global__ void __launch_bounds__(1024) binary_row(float* out, const float* x, const float* row, int n, int ncol, int rowIsA, int op) {
    int c = (int)(globalThread() % (unsigned)ncol);
    const int dc = (int)(gridDim.x * blockDim.x % (unsigned)ncol);
    GRID_STRIDE(i, n) {
        float v = x[i], r = row[c];
        out[i] = binop(op, rowIsA ? r : v, rowIsA ? v : r);
        c += dc;
        if (c >= ncol) c -= ncol;
    }
}

// binary_row4: binary_row a vec4f at a time (ncol4 = ncol / 4 vec4fs a
// row, n4 in all): the bias add at full memory bandwidth.
extern "C" __global__ void __launch_bounds__(1024) binary_row4(float* out, const float* x, const float* row, int n4, int ncol4, int rowIsA,
                                                               int op) {
    const vec4f* x4 = reinterpret_cast<const vec4f*>(x);
    const vec4f* r4 = reinterpret_cast<const vec4f*>(row);
    int c = (int)(globalThread() % (unsigned)ncol4);
    const int dc = (int)(gridDim.x * blockDim.x % (unsigned)ncol4);
    GRID_STRIDE(i, n4) {
        vec4f v = x4[i], r = r4[c];
        reinterpret_cast<vec4f*>(out)[i] = binop4(op, rowIsA ? r : v, rowIsA ? v : r);
        c += dc;
        if (c >= ncol4) c -= ncol4;
    }
}

// binary_strided: out (strides so) = a (strides sa) op b (strides sb) over
// shape; broadcast dimensions have stride 0.
extern "C" __global__ void __launch_bounds__(1024) binary_strided(float* out, const float* a, const float* b, int n, int rank, Dims shape,
                                          Dims so, Dims sa, Dims sb, int op) {
    GRID_STRIDE(i, n) {
        out[offsetOf(i, rank, shape, so)] = binop(op, a[offsetOf(i, rank, shape, sa)], b[offsetOf(i, rank, shape, sb)]);
    }
}

// binary_strided4: binary_strided a vec4f at a time, for a quarter of
// the index math: shape's last dimension counts vec4fs, out's last
// stride is 4 and each operand's 4 (va, vb: loaded as vec4fs from
// 16-byte aligned offsets) or 0 (one element splat); strides in elements.
extern "C" __global__ void __launch_bounds__(1024) binary_strided4(float* out, const float* a, const float* b, int n, int rank, Dims shape,
                                                                   Dims so, Dims sa, Dims sb, int va, int vb, int op) {
    GRID_STRIDE(i, n) {
        const float* pa = a + offsetOf(i, rank, shape, sa);
        const float* pb = b + offsetOf(i, rank, shape, sb);
        vec4f x = va ? *reinterpret_cast<const vec4f*>(pa) : splat4(*pa);
        vec4f y = vb ? *reinterpret_cast<const vec4f*>(pb) : splat4(*pb);
        *reinterpret_cast<vec4f*>(out + offsetOf(i, rank, shape, so)) = binop4(op, x, y);
    }
}

#define UN_NEG 0
#define UN_ABS 1
#define UN_EXP 2
#define UN_LOG 3
#define UN_TANH 4
#define UN_SQRT 5
#define UN_RELU 6
#define UN_GELU_NEW 7
#define UN_GELU 8
#define UN_POW 9
#define UN_SCALE 10
#define UN_ADD_SCALAR 11
#define UN_RSUB_SCALAR 12
#define UN_RDIV_SCALAR 13

#define GELU_SCALE 0.7978845608028654f  // sqrt(2/pi)
#define INV_SQRT2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

__device__ __forceinline__ float unary_f(int op, float x, float p) {
    switch (op) {
    case UN_NEG: return -x;
    case UN_ABS: return fabsf(x);
    case UN_EXP: return expf(x);
    case UN_LOG: return logf(x);
    case UN_TANH: return tanhf(x);
    case UN_SQRT: return sqrtf(x);
    case UN_RELU: return fmaxf(x, 0.0f);
    case UN_GELU_NEW: return 0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + 0.044715f * x * x * x)));
    case UN_GELU: return 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    case UN_POW: return powf(x, p);
    case UN_SCALE: return p * x;
    case UN_ADD_SCALAR: return x + p;
    case UN_RSUB_SCALAR: return p - x;
    default: return p / x; // UN_RDIV_SCALAR
    }
}

// unary_fwd: out[i] = f(x[i]) (p is the exponent or scalar where used).
extern "C" __global__ void __launch_bounds__(1024) unary_fwd(float* out, const float* x, int n, int op, float p) {
    GRID_STRIDE(i, n) out[i] = unary_f(op, x[i], p);
}

// unary_fwd4: unary_fwd a vec4f at a time (16-byte aligned buffers),
// the last n % 4 elements one per thread of the first n % 4.
extern "C" __global__ void __launch_bounds__(1024) unary_fwd4(float* out, const float* x, int n, int op, float p) {
    const int n4 = n >> 2;
    GRID_STRIDE(i, n4) {
        vec4f v = reinterpret_cast<const vec4f*>(x)[i];
        reinterpret_cast<vec4f*>(out)[i] = make_vec4f(unary_f(op, v.x, p), unary_f(op, v.y, p), unary_f(op, v.z, p), unary_f(op, v.w, p));
    }
    long long t = 4LL * n4 + globalThread();
    if (t < n) out[t] = unary_f(op, x[t], p);
}

// unary_d is f'(v) for input v and output yv (exp, tanh and sqrt use yv).
__device__ __forceinline__ float unary_d(int op, float v, float yv, float p) {
    switch (op) {
    case UN_NEG: return -1.0f;
    case UN_ABS: return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
    case UN_EXP: return yv;
    case UN_LOG: return 1.0f / v;
    case UN_TANH: return 1.0f - yv * yv;
    case UN_SQRT: return 0.5f / yv;
    case UN_RELU: return v > 0.0f ? 1.0f : 0.0f;
    case UN_GELU_NEW: {
        float u = GELU_SCALE * (v + 0.044715f * v * v * v);
        float th = tanhf(u);
        return 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * GELU_SCALE * (1.0f + 3.0f * 0.044715f * v * v);
    }
    case UN_GELU: return 0.5f * (1.0f + erff(v * INV_SQRT2)) + v * expf(-0.5f * v * v) * INV_SQRT_2PI;
    case UN_POW: return p * powf(v, p - 1.0f);
    case UN_SCALE: return p;
    case UN_ADD_SCALAR: return 1.0f;
    case UN_RSUB_SCALAR: return -1.0f;
    default: return -p / (v * v); // UN_RDIV_SCALAR
    }
}

// unary_bwd: gi[i] = g[i] * f'(x[i]); y is the forward output (used by
// exp, tanh and sqrt); x or y is NULL where the op does not read it.
extern "C" __global__ void __launch_bounds__(1024) unary_bwd(float* gi, const float* g, const float* x, const float* y, int n, int op, float p) {
    GRID_STRIDE(i, n) gi[i] = g[i] * unary_d(op, x ? x[i] : 0.0f, y ? y[i] : 0.0f, p);
}

// unary_bwd4: unary_bwd a vec4f at a time (16-byte aligned buffers), the
// last n % 4 elements one per thread of the first n % 4.
extern "C" __global__ void __launch_bounds__(1024) unary_bwd4(float* gi, const float* g, const float* x, const float* y, int n, int op, float p) {
    const int n4 = n >> 2;
    const vec4f zero = splat4(0.0f);
    GRID_STRIDE(i, n4) {
        vec4f gv = reinterpret_cast<const vec4f*>(g)[i];
        vec4f v = x ? reinterpret_cast<const vec4f*>(x)[i] : zero;
        vec4f yv = y ? reinterpret_cast<const vec4f*>(y)[i] : zero;
        reinterpret_cast<vec4f*>(gi)[i] = make_vec4f(gv.x * unary_d(op, v.x, yv.x, p), gv.y * unary_d(op, v.y, yv.y, p),
                                                       gv.z * unary_d(op, v.z, yv.z, p), gv.w * unary_d(op, v.w, yv.w, p));
    }
    long long t = 4LL * n4 + globalThread();
    if (t < n) gi[t] = g[t] * unary_d(op, x ? x[t] : 0.0f, y ? y[t] : 0.0f, p);
}

// fill_strided: out (strides so, over shape) = v; writes through a view.
extern "C" __global__ void __launch_bounds__(1024) fill_strided(float* out, int n, int rank, Dims shape, Dims so, float v) {
    GRID_STRIDE(i, n) out[offsetOf(i, rank, shape, so)] = v;
}

// copy_strided: out (strides so) = x (strides sx) over shape: a view made
// contiguous, or an in-place write through a view.
extern "C" __global__ void __launch_bounds__(1024) copy_strided(float* out, const float* x, int n, int rank, Dims shape, Dims so, Dims sx) {
    GRID_STRIDE(i, n) out[offsetOf(i, rank, shape, so)] = x[offsetOf(i, rank, shape, sx)];
}

// copy_strided4: copy_strided a vec4f at a time, for a quarter of the
// index math (permutes of attention heads keep the head dimension
// contiguous): as binary_strided4, out's and x's last strides are 4, or
// x's 0 (vx 0: one element splat), strides in elements.
extern "C" __global__ void __launch_bounds__(1024) copy_strided4(float* out, const float* x, int n, int rank, Dims shape, Dims so, Dims sx, int vx) {
    GRID_STRIDE(i, n) {
        const float* px = x + offsetOf(i, rank, shape, sx);
        *reinterpret_cast<vec4f*>(out + offsetOf(i, rank, shape, so)) = vx ? *reinterpret_cast<const vec4f*>(px) : splat4(*px);
    }
}

// where_strided: out (strides so) = c != 0 ? a : b over shape, each operand
// broadcast (stride 0) to it; a NULL a or b stands for the scalar av or
// bv. It picks without arithmetic, so an inf or NaN on the side not
// picked does not leak into the result (a NaN in c picks a, as c != 0).
extern "C" __global__ void __launch_bounds__(1024) where_strided(float* out, const float* c, const float* a, const float* b, float av,
                                         float bv, int n, int rank, Dims shape, Dims so, Dims sc, Dims sa, Dims sb) {
    GRID_STRIDE(i, n) {
        float v;
        if (c[offsetOf(i, rank, shape, sc)] != 0.0f) v = a ? a[offsetOf(i, rank, shape, sa)] : av;
        else v = b ? b[offsetOf(i, rank, shape, sb)] : bv;
        out[offsetOf(i, rank, shape, so)] = v;
    }
}
