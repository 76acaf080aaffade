//go:build amd64 && !purego

package runtime

// expShiftAVX512 computes o[i] = exp(x[i]*scale - shift) for n a multiple
// of 16 in AVX-512 (exp_amd64.s) and stores the 16 lane sums of o in acc.
// The softmaxes spent most of their time in math.Exp: a 1024-token GPT-2
// forward pass spent a quarter of its time in the causal softmax.
//
//go:noescape
func expShiftAVX512(o, x *float32, n int, scale, shift float32, acc *[16]float32)

// expShift sets o[i] = exp(x[i]*scale - shift) and returns the sum of o.
// shift must be finite and at least every x[i]*scale (a softmax's
// maximum): then no exponent is positive.
func expShift(o, x []float32, scale, shift float32) float64 {
	n := len(o)
	done := 0
	var s float64
	if hasAVX512 && n >= 16 {
		done = n &^ 15
		// Lane sums stay in float32 for at most 32 terms each, then go
		// to float64 (a 50257-wide row summed in float32 lanes would
		// lose digits).
		var acc [16]float32
		for lo := 0; lo < done; lo += expChunk {
			hi := min(lo+expChunk, done)
			expShiftAVX512(&o[lo], &x[lo], hi-lo, scale, shift, &acc)
			for _, v := range acc {
				s += float64(v)
			}
		}
	}
	return s + expShiftScalar(o[done:], x[done:n], scale, shift)
}
