package bench

import (
	"strings"
	"testing"
)

// TestRunSmoke runs the gemm workload once so the bench command stays
// working; the full model workloads run from `nnscope bench`.
func TestRunSmoke(t *testing.T) {
	var b strings.Builder
	if err := Run(Options{Only: []string{"gemm-128x768x3072"}, Repeats: 1, Out: &b}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "BENCH gemm-128x768x3072 cpu ") {
		t.Fatalf("unexpected output:\n%s", b.String())
	}
}
