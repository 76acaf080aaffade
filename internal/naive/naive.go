// Package naive is GPT-2 (Hugging Face's GPT2LMHeadModel semantics)
// written out in float64 loops, independent of nnscope's engine: the
// oracle tests compare the engine and the intervention API against.
//
// A Hook sees the output of every module at the same boundaries as
// nnscope's module tree (same paths, same execution order) and may edit
// or replace it, so an intervention made through the API can be replayed
// here at the same place. lm_head is not hooked: logits are computed
// lazily per position from the final hidden state (the vocabulary
// projection is most of the cost).
package naive

import (
	"fmt"
	"math"
	"strconv"
)

// Config is the part of a GPT-2 config.json the forward pass needs.
type Config struct {
	NLayer, NHead, NEmbd, NInner, VocabSize int
	Eps                                     float64
	Act                                     string // an activation_function Act knows ("" = gelu_new)
	NoScaleAttnWeights                      bool   // scale_attn_weights false: scores not divided by sqrt(head dim)
	ScaleAttnByInverseLayerIdx              bool   // scores also divided by layer index + 1
	Untied                                  bool   // lm_head.weight is its own matrix (tie_word_embeddings false)
}

// Inner is the MLP width.
func (c Config) Inner() int {
	if c.NInner > 0 {
		return c.NInner
	}
	return 4 * c.NEmbd
}

// Model is a config and float64 weights by Hugging Face name without the
// "transformer." prefix ("wte.weight", "h.0.attn.c_attn.weight", ...;
// Conv1D weights [in, out] row-major as stored).
type Model struct {
	Config
	W map[string][]float64

	colSum []float64 // sum over the vocabulary of lm_head's rows
}

// Hook receives the output of the module at path, as rows: [T][width] for
// activations, [H*T][T] (row h*T+q) for the attention pattern
// (transformer.h.i.attn.attn_dropout). It may edit x in place or return a
// replacement of the same shape; nil keeps x.
type Hook func(path string, x [][]float64) [][]float64

// Act is Hugging Face's ACT2FN[name] for the names GPT-2 configs use.
func Act(name string, v float64) float64 {
	switch name {
	case "gelu_new", "gelu_pytorch_tanh", "": // NewGELUActivation, GELU(approximate="tanh")
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	case "gelu", "gelu_python": // GELUActivation: exact, with erf
		return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	case "gelu_10": // ClippedGELUActivation(-10, 10)
		return math.Min(math.Max(0.5*v*(1+math.Erf(v/math.Sqrt2)), -10), 10)
	case "linear": // LinearActivation
		return v
	case "mish": // MishActivation: x tanh(softplus(x))
		return v * math.Tanh(math.Log1p(math.Exp(v)))
	case "relu2": // ReLUSquaredActivation
		return math.Max(v, 0) * math.Max(v, 0)
	case "relu6": // nn.ReLU6
		return math.Min(math.Max(v, 0), 6)
	case "leaky_relu": // nn.LeakyReLU(0.01)
		if v < 0 {
			return 0.01 * v
		}
		return v
	case "gelu_fast": // FastGELUActivation
		return 0.5 * v * (1 + math.Tanh(v*0.7978845608*(1+0.044715*v*v)))
	case "gelu_accurate": // AccurateGELUActivation
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*math.Pow(v, 3))))
	case "relu":
		return math.Max(v, 0)
	case "silu", "swish": // nn.SiLU
		return v / (1 + math.Exp(-v))
	case "quick_gelu": // QuickGELUActivation
		return v / (1 + math.Exp(-1.702*v))
	case "tanh":
		return math.Tanh(v)
	case "sigmoid":
		return 1 / (1 + math.Exp(-v))
	}
	panic("naive.Act: no reference for activation " + name)
}

// Paths lists the hooked module paths in execution order (the order their
// outputs are produced).
func (c Config) Paths() []string {
	out := []string{"transformer.wte", "transformer.wpe", "transformer.drop"}
	for l := 0; l < c.NLayer; l++ {
		p := "transformer.h." + strconv.Itoa(l)
		out = append(out, p+".ln_1", p+".attn.c_attn", p+".attn.attn_dropout", p+".attn.c_proj",
			p+".attn.resid_dropout", p+".attn", p+".ln_2", p+".mlp.c_fc", p+".mlp.act", p+".mlp.c_proj",
			p+".mlp.dropout", p+".mlp", p)
	}
	return append(out, "transformer.ln_f", "transformer")
}

// Result is a forward pass: the transformer's output (after ln_f and any
// hook) and logits computed on demand.
type Result struct {
	m      *Model
	Hidden [][]float64
	logits map[int][]float64
}

// Logits returns the logits at position t.
func (r *Result) Logits(t int) []float64 {
	if l, ok := r.logits[t]; ok {
		return l
	}
	C, V := r.m.NEmbd, r.m.VocabSize
	head := r.m.head()
	h := r.Hidden[t]
	l := make([]float64, V)
	for v := 0; v < V; v++ {
		row := head[v*C : (v+1)*C]
		var s float64
		for i, a := range h {
			s += a * row[i]
		}
		l[v] = s
	}
	r.logits[t] = l
	return l
}

// AllLogits returns the logits at every position, [T][V].
func (r *Result) AllLogits() [][]float64 {
	out := make([][]float64, len(r.Hidden))
	for t := range out {
		out[t] = r.Logits(t)
	}
	return out
}

// SumLogits is the sum of every logit at every position (cheap: the
// hidden states against the column sums of lm_head).
func (r *Result) SumLogits() float64 {
	m := r.m
	if m.colSum == nil {
		C, head := m.NEmbd, m.head()
		cs := make([]float64, C)
		for v := 0; v < m.VocabSize; v++ {
			for i := range cs {
				cs[i] += head[v*C+i]
			}
		}
		m.colSum = cs
	}
	var s float64
	for _, h := range r.Hidden {
		for i, a := range h {
			s += a * m.colSum[i]
		}
	}
	return s
}

func (m *Model) head() []float64 {
	if m.Untied {
		return m.W["lm_head.weight"]
	}
	return m.W["wte.weight"]
}

func (m *Model) w(name string) []float64 {
	v, ok := m.W[name]
	if !ok {
		panic(fmt.Sprintf("naive: no weight %q", name))
	}
	return v
}

func rows(T, n int) [][]float64 {
	x := make([][]float64, T)
	for t := range x {
		x[t] = make([]float64, n)
	}
	return x
}

// add returns a + b, row by row.
func add(a, b [][]float64) [][]float64 {
	out := make([][]float64, len(a))
	for t, row := range a {
		out[t] = make([]float64, len(row))
		for i, v := range row {
			out[t][i] = v + b[t][i]
		}
	}
	return out
}

// Forward runs the model on one unpadded row of token ids (positions
// 0..T-1), calling hook (may be nil) at every module boundary.
func (m *Model) Forward(ids []int, hook Hook) *Result {
	T, C, H := len(ids), m.NEmbd, m.NHead
	D := C / H
	at := func(path string, x [][]float64) [][]float64 {
		if hook == nil {
			return x
		}
		if y := hook(path, x); y != nil {
			if len(y) != len(x) || len(y) > 0 && len(y[0]) != len(x[0]) {
				panic(fmt.Sprintf("naive: hook at %s returned %dx%d for %dx%d", path, len(y), len(y[0]), len(x), len(x[0])))
			}
			return y
		}
		return x
	}
	wte, wpe := m.w("wte.weight"), m.w("wpe.weight")
	tok, pos := rows(T, C), rows(T, C)
	for t := range ids {
		copy(tok[t], wte[ids[t]*C:(ids[t]+1)*C])
		copy(pos[t], wpe[t*C:(t+1)*C])
	}
	tok = at("transformer.wte", tok)
	pos = at("transformer.wpe", pos)
	x := at("transformer.drop", add(tok, pos))
	ln := func(in [][]float64, g, b string) [][]float64 {
		gw, bw := m.w(g), m.w(b)
		out := rows(len(in), len(in[0]))
		for t, v := range in {
			var mu, vr float64
			for _, a := range v {
				mu += a
			}
			mu /= float64(len(v))
			for _, a := range v {
				vr += (a - mu) * (a - mu)
			}
			vr /= float64(len(v))
			for i, a := range v {
				out[t][i] = (a-mu)/math.Sqrt(vr+m.Eps)*gw[i] + bw[i]
			}
		}
		return out
	}
	lin := func(in [][]float64, wn, bn string, n int) [][]float64 {
		w, b := m.w(wn), m.w(bn)
		out := rows(len(in), n)
		for t, v := range in {
			res := out[t]
			copy(res, b)
			for i, a := range v {
				row := w[i*n : (i+1)*n]
				for j := range res {
					res[j] += a * row[j]
				}
			}
		}
		return out
	}
	for l := 0; l < m.NLayer; l++ {
		p := "h." + strconv.Itoa(l) + "."
		path := "transformer.h." + strconv.Itoa(l)
		a := at(path+".ln_1", ln(x, p+"ln_1.weight", p+"ln_1.bias"))
		qkv := at(path+".attn.c_attn", lin(a, p+"attn.c_attn.weight", p+"attn.c_attn.bias", 3*C))
		scale := 1.0
		if !m.NoScaleAttnWeights {
			scale /= math.Sqrt(float64(D))
		}
		if m.ScaleAttnByInverseLayerIdx {
			scale /= float64(l + 1)
		}
		probs := rows(H*T, T) // causal softmax; masked entries 0
		for h := 0; h < H; h++ {
			for q := 0; q < T; q++ {
				row := probs[h*T+q]
				mx := math.Inf(-1)
				for s := 0; s <= q; s++ {
					var d float64
					for i := 0; i < D; i++ {
						d += qkv[q][h*D+i] * qkv[s][C+h*D+i]
					}
					row[s] = d * scale
					mx = math.Max(mx, row[s])
				}
				var z float64
				for s := 0; s <= q; s++ {
					row[s] = math.Exp(row[s] - mx)
					z += row[s]
				}
				for s := 0; s <= q; s++ {
					row[s] /= z
				}
			}
		}
		probs = at(path+".attn.attn_dropout", probs)
		ctx := rows(T, C)
		for h := 0; h < H; h++ {
			for q := 0; q < T; q++ {
				// Every key: an edited pattern may put weight above the
				// diagonal, and the engine's matmul uses it too.
				for s := 0; s < T; s++ {
					pr := probs[h*T+q][s]
					if pr == 0 {
						continue
					}
					for i := 0; i < D; i++ {
						ctx[q][h*D+i] += pr * qkv[s][2*C+h*D+i]
					}
				}
			}
		}
		o := at(path+".attn.c_proj", lin(ctx, p+"attn.c_proj.weight", p+"attn.c_proj.bias", C))
		o = at(path+".attn.resid_dropout", o)
		o = at(path+".attn", o)
		x2 := add(x, o)
		f := at(path+".ln_2", ln(x2, p+"ln_2.weight", p+"ln_2.bias"))
		u := at(path+".mlp.c_fc", lin(f, p+"mlp.c_fc.weight", p+"mlp.c_fc.bias", m.Inner()))
		g := rows(T, m.Inner())
		for t := range g {
			for i, v := range u[t] {
				g[t][i] = Act(m.Act, v)
			}
		}
		g = at(path+".mlp.act", g)
		mo := at(path+".mlp.c_proj", lin(g, p+"mlp.c_proj.weight", p+"mlp.c_proj.bias", C))
		mo = at(path+".mlp.dropout", mo)
		mo = at(path+".mlp", mo)
		x = at(path, add(x2, mo))
	}
	hid := at("transformer.ln_f", ln(x, "ln_f.weight", "ln_f.bias"))
	hid = at("transformer", hid)
	return &Result{m: m, Hidden: hid, logits: map[int][]float64{}}
}

// Greedy continues ids by n tokens, each the argmax of the last position's
// logits (the first on ties), stopping after eos when eos >= 0. hook (may
// be nil) applies to every forward pass, which recomputes the whole
// sequence. It also returns, per new token, the gap between the best and
// second best logit (how safe the argmax is against rounding).
func (m *Model) Greedy(ids []int, n, eos int, hook Hook) (out []int, gaps []float64) {
	seq := append([]int(nil), ids...)
	for k := 0; k < n; k++ {
		l := m.Forward(seq, hook).Logits(len(seq) - 1)
		best, second := 0, -1
		for v := 1; v < len(l); v++ {
			if l[v] > l[best] {
				best, second = v, best
			} else if second < 0 || l[v] > l[second] {
				second = v
			}
		}
		out = append(out, best)
		gaps = append(gaps, l[best]-l[second])
		seq = append(seq, best)
		if best == eos {
			break
		}
	}
	return out, gaps
}
