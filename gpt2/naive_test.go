package gpt2

import (
	"math"
	"math/rand"
	"testing"

	"nnscope/internal/naive"
	rt "nnscope/runtime"
)

// naiveForward is GPT-2 written out in float64 loops (internal/naive),
// independent of the engine: an oracle for shapes larger than the
// fixture's (long prompts take the packed GEMM paths and longer attention
// rows).
func naiveForward(c Config, w map[string][]float64, ids []int) [][]float64 {
	return naiveModel(c, w).Forward(ids, nil).AllLogits()
}

// naiveModel is the float64 reference for a config and weights.
func naiveModel(c Config, w map[string][]float64) *naive.Model {
	nc := naive.Config{NLayer: c.NLayer, NHead: c.NHead, NEmbd: c.NEmbd, NInner: c.Inner(), VocabSize: c.VocabSize,
		Eps: c.LayerNormEpsilon, Act: c.ActivationFunction,
		NoScaleAttnWeights:         c.ScaleAttnWeights != nil && !*c.ScaleAttnWeights,
		ScaleAttnByInverseLayerIdx: c.ScaleAttnByInverseLayerIdx,
		Untied:                     c.TieWordEmbeddings != nil && !*c.TieWordEmbeddings}
	return &naive.Model{Config: nc, W: w}
}

func TestLongPromptAgainstNaive(t *testing.T) {
	c := Config{VocabSize: 500, NPositions: 80, NEmbd: 64, NLayer: 2, NHead: 4, LayerNormEpsilon: 1e-5, ActivationFunction: "gelu_new"}
	r := rand.New(rand.NewSource(5))
	w := Weights{}
	w64 := map[string][]float64{}
	for name, shape := range WeightShapes(c) {
		tt := rt.New(shape...)
		d := tt.Data()
		f := make([]float64, len(d))
		for i := range d {
			d[i] = float32(r.NormFloat64() * 0.3)
			if name == "ln_f.weight" || len(name) > 11 && (name[len(name)-11:] == "ln_1.weight" || name[len(name)-11:] == "ln_2.weight") {
				d[i] = 1 + d[i]*0.1
			}
			f[i] = float64(d[i])
		}
		w[name], w64[name] = tt, f
	}
	m := New(c, w)
	ids := make([]int, 70)
	for i := range ids {
		ids[i] = r.Intn(c.VocabSize)
	}
	want := naiveForward(c, w64, ids)
	got := m.Forward(nil, Input{IDs: [][]int{ids}}, nil)
	var worst float64
	for tpos := range ids {
		row := got.Select(0, 0).Select(0, tpos).Data()
		for v := range row {
			d := math.Abs(float64(row[v]) - want[tpos][v])
			worst = math.Max(worst, d/math.Max(1, math.Abs(want[tpos][v])))
		}
	}
	if worst > 1e-4 {
		t.Errorf("70-token forward differs from the float64 loops by %.2e (relative)", worst)
	}
	t.Logf("worst relative difference %.2e", worst)
}
