//go:build !amd64 || purego

package runtime

// expShift sets o[i] = exp(x[i]*scale - shift) and returns the sum of o.
func expShift(o, x []float32, scale, shift float32) float64 {
	return expShiftScalar(o, x[:len(o)], scale, shift)
}
