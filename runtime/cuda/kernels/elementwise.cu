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

// binary_contig: out[i] = a[i*sa] op b[i*sb] with sa, sb in {0, 1} (a
// scalar operand broadcast when its stride is 0).
extern "C" __global__ void __launch_bounds__(1024) binary_contig(float* out, const float* a, const float* b, int n, int sa, int sb, int op) {
    GRID_STRIDE(i, n) out[i] = binop(op, a[i * sa], b[i * sb]);
}

// binary_strided: out (strides so) = a (strides sa) op b (strides sb) over
// shape; broadcast dimensions have stride 0.
extern "C" __global__ void __launch_bounds__(1024) binary_strided(float* out, const float* a, const float* b, int n, int rank, Dims shape,
                                          Dims so, Dims sa, Dims sb, int op) {
    GRID_STRIDE(i, n) {
        out[offsetOf(i, rank, shape, so)] = binop(op, a[offsetOf(i, rank, shape, sa)], b[offsetOf(i, rank, shape, sb)]);
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

// unary_bwd: gi[i] = g[i] * f'(x[i]); y is the forward output (used by
// exp, tanh and sqrt; may be NULL for the others).
extern "C" __global__ void __launch_bounds__(1024) unary_bwd(float* gi, const float* g, const float* x, const float* y, int n, int op, float p) {
    GRID_STRIDE(i, n) {
        float v = x ? x[i] : 0.0f, d;
        switch (op) {
        case UN_NEG: d = -1.0f; break;
        case UN_ABS: d = v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); break;
        case UN_EXP: d = y[i]; break;
        case UN_LOG: d = 1.0f / v; break;
        case UN_TANH: { float t = y[i]; d = 1.0f - t * t; } break;
        case UN_SQRT: d = 0.5f / y[i]; break;
        case UN_RELU: d = v > 0.0f ? 1.0f : 0.0f; break;
        case UN_GELU_NEW: {
            float u = GELU_SCALE * (v + 0.044715f * v * v * v);
            float th = tanhf(u);
            d = 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * GELU_SCALE * (1.0f + 3.0f * 0.044715f * v * v);
        } break;
        case UN_GELU: d = 0.5f * (1.0f + erff(v * INV_SQRT2)) + v * expf(-0.5f * v * v) * INV_SQRT_2PI; break;
        case UN_POW: d = p * powf(v, p - 1.0f); break;
        case UN_SCALE: d = p; break;
        case UN_ADD_SCALAR: d = 1.0f; break;
        case UN_RSUB_SCALAR: d = -1.0f; break;
        default: d = -p / (v * v); break; // UN_RDIV_SCALAR
        }
        gi[i] = g[i] * d;
    }
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
