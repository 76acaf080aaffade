package runtime

import (
	"math"
	"testing"
)

// Max and Min are NaN when an element is, as torch.max and torch.min,
// also beside an infinity (math.Max(+Inf, NaN) is +Inf).
func TestMaxMinNaN(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, d := range [][]float32{{1, nan, 2}, {inf, nan}, {nan, -inf}, {-inf, 3, nan, inf}} {
		x := FromSlice(d, len(d))
		if mx, mn := x.Max(), x.Min(); !math.IsNaN(mx) || !math.IsNaN(mn) {
			t.Errorf("%v: Max %v, Min %v, want NaN", d, mx, mn)
		}
	}
	if x := FromSlice([]float32{-inf, 3, inf}, 3); x.Max() != math.Inf(1) || x.Min() != math.Inf(-1) {
		t.Errorf("Max/Min of [-Inf 3 Inf]: %v %v", x.Max(), x.Min())
	}
}
