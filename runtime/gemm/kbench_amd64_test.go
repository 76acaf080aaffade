//go:build amd64 && !purego

package gemm

import (
	"testing"
	"unsafe"
)

func BenchmarkKernelAVX512(b *testing.B) {
	if active != kernelAVX512 {
		b.Skip()
	}
	const kc = 256
	a := make([]float32, 12*kc*11)
	bb := make([]float32, 32*kc)
	c := make([]float32, 12*32*11)
	for i := 0; i < b.N; i++ {
		for ip := 0; ip < 11; ip++ {
			kernAVX512(kc, &a[ip*12*kc], &bb[0], 32, &c[ip*12*32], 32, 1, 1, uintptr(unsafe.Pointer(&bb[0])), 0, 64)
		}
	}
	b.ReportMetric(2*12*32*kc*11*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
