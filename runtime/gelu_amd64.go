//go:build amd64 && !purego

package runtime

import "golang.org/x/sys/cpu"

// geluAVX512 computes o[i] = gelu_new(x[i]) for n a multiple of 16, in
// AVX-512 (gelu_amd64.s): math.Tanh per element took a quarter of a GPT-2
// forward pass on the CPU; this is ~10x faster at float32 accuracy.
//
//go:noescape
func geluAVX512(o, x *float32, n int)

// geluGradAVX512 computes gi[i] = g[i] * gelu_new'(x[i]) for n a
// multiple of 16.
//
//go:noescape
func geluGradAVX512(gi, gr, x *float32, n int)

var hasAVX512 = cpu.X86.HasAVX512F

// geluGradBlock is GELU's backward, vectorized where the CPU allows.
func geluGradBlock(gi, g, x []float32) {
	n := len(gi)
	done := 0
	if hasAVX512 && n >= 16 {
		done = n &^ 15
		geluGradAVX512(&gi[0], &g[0], &x[0], done)
	}
	geluGradScalar(gi[done:], g[done:n], x[done:n])
}

// geluBlock applies GELU to x into o, vectorized where the CPU allows.
func geluBlock(o, x []float32) {
	n := len(o)
	done := 0
	if hasAVX512 && n >= 16 {
		done = n &^ 15
		geluAVX512(&o[0], &x[0], done)
	}
	geluScalar(o[done:], x[done:n])
}
