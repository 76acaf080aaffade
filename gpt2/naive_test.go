package gpt2

import (
	"math"
	"math/rand"
	"strconv"
	"testing"

	rt "nnscope/runtime"
)

// naiveForward is GPT-2 written out in float64 loops, independent of the
// engine: an oracle for shapes larger than the fixture's (long prompts
// take the packed GEMM paths and longer attention rows).
func naiveForward(c Config, w map[string][]float64, ids []int) [][]float64 {
	T, C, H := len(ids), c.NEmbd, c.NHead
	D := C / H
	x := make([][]float64, T)
	for t := range x {
		x[t] = make([]float64, C)
		for i := 0; i < C; i++ {
			x[t][i] = w["wte.weight"][ids[t]*C+i] + w["wpe.weight"][t*C+i]
		}
	}
	ln := func(v []float64, g, b string) []float64 {
		var mu, vr float64
		for _, a := range v {
			mu += a
		}
		mu /= float64(len(v))
		for _, a := range v {
			vr += (a - mu) * (a - mu)
		}
		vr /= float64(len(v))
		out := make([]float64, len(v))
		for i, a := range v {
			out[i] = (a-mu)/math.Sqrt(vr+c.LayerNormEpsilon)*w[g][i] + w[b][i]
		}
		return out
	}
	lin := func(v []float64, wn, bn string, out int) []float64 {
		res := make([]float64, out)
		for j := 0; j < out; j++ {
			s := w[bn][j]
			for i := range v {
				s += v[i] * w[wn][i*out+j]
			}
			res[j] = s
		}
		return res
	}
	for l := 0; l < c.NLayer; l++ {
		p := "h." + strconv.Itoa(l) + "."
		qkv := make([][]float64, T)
		for t := range x {
			qkv[t] = lin(ln(x[t], p+"ln_1.weight", p+"ln_1.bias"), p+"attn.c_attn.weight", p+"attn.c_attn.bias", 3*C)
		}
		// GPT2Attention: scores / sqrt(head dim) unless scale_attn_weights
		// is false, and also / (layer index + 1) with
		// scale_attn_by_inverse_layer_idx.
		scale := 1.0
		if c.ScaleAttnWeights == nil || *c.ScaleAttnWeights {
			scale /= math.Sqrt(float64(D))
		}
		if c.ScaleAttnByInverseLayerIdx {
			scale /= float64(l + 1)
		}
		att := make([][]float64, T)
		for t := range att {
			att[t] = make([]float64, C)
			for h := 0; h < H; h++ {
				scores := make([]float64, t+1)
				m := math.Inf(-1)
				for s := 0; s <= t; s++ {
					var d float64
					for i := 0; i < D; i++ {
						d += qkv[t][h*D+i] * qkv[s][C+h*D+i]
					}
					scores[s] = d * scale
					m = math.Max(m, scores[s])
				}
				var z float64
				for s := range scores {
					scores[s] = math.Exp(scores[s] - m)
					z += scores[s]
				}
				for s := range scores {
					for i := 0; i < D; i++ {
						att[t][h*D+i] += scores[s] / z * qkv[s][2*C+h*D+i]
					}
				}
			}
		}
		for t := range x {
			a := lin(att[t], p+"attn.c_proj.weight", p+"attn.c_proj.bias", C)
			for i := range x[t] {
				x[t][i] += a[i]
			}
			f := lin(ln(x[t], p+"ln_2.weight", p+"ln_2.bias"), p+"mlp.c_fc.weight", p+"mlp.c_fc.bias", c.Inner())
			for i, v := range f {
				f[i] = naiveAct(c.ActivationFunction, v)
			}
			o := lin(f, p+"mlp.c_proj.weight", p+"mlp.c_proj.bias", C)
			for i := range x[t] {
				x[t][i] += o[i]
			}
		}
	}
	// lm_head shares wte's matrix unless tie_word_embeddings is false.
	head := w["wte.weight"]
	if c.TieWordEmbeddings != nil && !*c.TieWordEmbeddings {
		head = w["lm_head.weight"]
	}
	logits := make([][]float64, T)
	for t := range x {
		h := ln(x[t], "ln_f.weight", "ln_f.bias")
		logits[t] = make([]float64, c.VocabSize)
		for v := 0; v < c.VocabSize; v++ {
			var s float64
			for i := 0; i < C; i++ {
				s += h[i] * head[v*C+i]
			}
			logits[t][v] = s
		}
	}
	return logits
}

// naiveAct is Hugging Face's ACT2FN[activation_function] for the names
// GPT-2 configs use.
func naiveAct(name string, v float64) float64 {
	switch name {
	case "gelu_new", "gelu_pytorch_tanh", "": // NewGELUActivation, GELU(approximate="tanh")
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	case "gelu": // GELUActivation: exact, with erf
		return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	case "relu":
		return math.Max(v, 0)
	}
	panic("naiveAct: no reference for activation " + name)
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
