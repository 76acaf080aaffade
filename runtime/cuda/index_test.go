package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// indexProgram runs the kernels' index helpers (GRID_STRIDE, offsetOf) on
// the host near the top of the C int range, where sizes still fit a C int
// (launch packs n as one) but a grid-stride step past n, or the offset of
// a strided view spanning more than 2^31-1 elements, does not. A 32-bit
// index there wraps negative (compiled with -fwrapv to make the overflow
// deterministic) and a kernel would write before its buffer.
const indexProgram = `
#include <climits>
#include <cstdio>
int main() {
    int bad = 0;
    // The last thread of a capped grid (gridFor: 65535*8 blocks of 256
    // threads) over n close to INT_MAX: one step in range, the next past n.
    gridDim.x = 65535 * 8; blockDim.x = 256;
    blockIdx.x = gridDim.x - 1; threadIdx.x = blockDim.x - 1;
    int n = INT_MAX - 1000;
    long long stride = (long long)gridDim.x * blockDim.x, start = stride - 1, want = 0;
    for (long long j = start; j < n; j += stride) want++;
    long long visits = 0;
    GRID_STRIDE(i, n) {
        if (i < 0 || i >= n || ++visits > want) {
            printf("GRID_STRIDE visited index %lld (n %d, visit %lld of %lld)\n", (long long)i, n, visits, want);
            bad = 1;
            break;
        }
    }
    if (!bad && visits != want) {
        printf("GRID_STRIDE made %lld visits, want %lld\n", visits, want);
        bad = 1;
    }
    // A [3, 1000] view with row stride 1.5e9 (every 1.5e9th row of a big
    // buffer): its last element lies 3e9+999 elements in.
    Dims shape = {}, strides = {};
    shape.d[0] = 3; shape.d[1] = 1000;
    strides.d[0] = 1500000000; strides.d[1] = 1;
    long long off = offsetOf(2999, 2, shape, strides);
    if (off != 3000000999LL) {
        printf("offsetOf(2999) = %lld, want 3000000999\n", off);
        bad = 1;
    }
    // Offsets of a transposed view: [1000, 3] with strides [1, 1.5e9].
    Dims shapeT = {}, stridesT = {};
    shapeT.d[0] = 1000; shapeT.d[1] = 3;
    stridesT.d[0] = 1; stridesT.d[1] = 1500000000;
    off = offsetOf(2999, 2, shapeT, stridesT);
    if (off != 3000000999LL) {
        printf("offsetOf(2999) transposed = %lld, want 3000000999\n", off);
        bad = 1;
    }
    return bad;
}
`

// TestKernelIndicesPastInt32 checks the index helpers of common.cuh with
// the host compiler: the grid-stride loop must not wrap when n is within a
// grid's stride of INT_MAX, and offsetOf must reach offsets past INT_MAX
// (both are reachable with a buffer of about 2^31 floats, 8.6 GB: GPT-2's
// logits for 40 rows of 1024 tokens are 2.06e9 floats).
func TestKernelIndicesPastInt32(t *testing.T) {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++ here")
	}
	common, err := kernelFS.ReadFile("kernels/common.cuh")
	if err != nil {
		t.Fatal(err)
	}
	stub, err := filepath.Abs("testdata/cuda_stub.h")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "index.cpp")
	if err := os.WriteFile(src, []byte(string(common)+indexProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "index")
	out, err := exec.Command(gxx, "-std=c++17", "-O1", "-fwrapv", "-Wall", "-Wno-unused-function", "-Wno-unknown-pragmas",
		"-include", stub, "-o", bin, src).CombinedOutput()
	if err != nil {
		t.Fatalf("g++: %v\n%s", err, out)
	}
	out, err = exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("index helpers past 2^31: %v\n%s", err, strings.TrimSpace(string(out)))
	}
}
