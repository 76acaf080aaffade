package gpt2

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"nnscope/internal/reference"
	rt "nnscope/runtime"
)

// hooks adapts functions to runtime.Hooks for tests.
type hooks struct {
	exit func(m *rt.Module, out *rt.Tensor) *rt.Tensor
}

func (h hooks) Enter(*rt.Module, []*rt.Tensor) ([]*rt.Tensor, *rt.Tensor) { return nil, nil }
func (h hooks) Exit(m *rt.Module, out *rt.Tensor) *rt.Tensor              { return h.exit(m, out) }

// tracked runs the prompt with RequiresGrad on the outputs at paths and
// returns the logits and those outputs.
func tracked(m *Model, ids []int, paths ...string) (*rt.Tensor, map[string]*rt.Tensor) {
	got := map[string]*rt.Tensor{}
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	logits := m.Forward(hooks{exit: func(mod *rt.Module, out *rt.Tensor) *rt.Tensor {
		if want[mod.Path] {
			out.RequiresGrad()
			got[mod.Path] = out
		}
		return nil
	}}, Input{IDs: [][]int{ids}}, nil)
	return logits, got
}

// gradOf registers a hook that stores the gradient flowing into t.
func gradOf(t *rt.Tensor, dst **rt.Tensor) {
	t.RegisterHook(func(g *rt.Tensor) *rt.Tensor { *dst = g; return nil })
}

func layer(i int) string { return fmt.Sprintf("transformer.h.%d", i) }

func TestGradLast(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		Grad        reference.Tensor `json:"grad"`
		GradAbsMean float64          `json:"grad_abs_mean"`
	}
	if err := ref.Case("grad_last", &c); err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode(prompt)
	logits, outs := tracked(m, ids, layer(2))
	var g *rt.Tensor
	gradOf(outs[layer(2)], &g)
	if err := logits.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	closeT(t, "grad layer -1", g, c.Grad, 1)
	if !reference.Near(g.Abs().Mean().Item(), c.GradAbsMean, 1) {
		t.Errorf("grad abs mean %v, want %v", g.Abs().Mean().Item(), c.GradAbsMean)
	}
}

func TestGradAllLayers(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		Grads     map[string]reference.Tensor `json:"grads"`
		EmbedGrad reference.Tensor            `json:"embed_grad"`
	}
	if err := ref.Case("grad_all_layers", &c); err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode(prompt)
	logits, outs := tracked(m, ids, "transformer.wte", layer(0), layer(1), layer(2))
	grads := map[string]*rt.Tensor{}
	for p, o := range outs {
		p := p
		o.RegisterHook(func(g *rt.Tensor) *rt.Tensor { grads[p] = g; return nil })
	}
	if err := logits.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	for i, want := range c.Grads {
		closeT(t, "grad layer "+i, grads["transformer.h."+i], want, 1)
	}
	closeT(t, "grad wte", grads["transformer.wte"], c.EmbedGrad, 1)
}

func TestGradZeroLast(t *testing.T) {
	m, tok, _ := loadTiny(t)
	ids, _ := tok.Encode(prompt)
	logits, outs := tracked(m, ids, layer(0), layer(2))
	var g0 *rt.Tensor
	outs[layer(2)].RegisterHook(func(g *rt.Tensor) *rt.Tensor { g.Fill(0); return g })
	gradOf(outs[layer(0)], &g0)
	if err := logits.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	if v := g0.Abs().Mean().Item(); v != 0 {
		t.Errorf("layer 0 grad abs mean after zeroing the last layer's grad = %v, want 0", v)
	}
}

func TestGradModifyMid(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		L1 reference.Tensor `json:"layer1_grad_after_edit"`
		L0 reference.Tensor `json:"layer0_grad"`
		E  reference.Tensor `json:"embed_grad"`
	}
	if err := ref.Case("grad_modify_mid", &c); err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode(prompt)
	logits, outs := tracked(m, ids, "transformer.wte", layer(0), layer(1))
	var g1, g0, ge *rt.Tensor
	outs[layer(1)].RegisterHook(func(g *rt.Tensor) *rt.Tensor {
		e := g.Mul(2)
		e.Slice(":, 2, :").Fill(0)
		g1 = e
		return e
	})
	gradOf(outs[layer(0)], &g0)
	gradOf(outs["transformer.wte"], &ge)
	if err := logits.Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	closeT(t, "edited layer 1 grad", g1, c.L1, 1)
	closeT(t, "layer 0 grad", g0, c.L0, 1)
	closeT(t, "wte grad", ge, c.E, 1)
}

func TestRetainGraph(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		First  reference.Tensor `json:"first"`
		Second reference.Tensor `json:"second"`
	}
	if err := ref.Case("retain_graph", &c); err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode(prompt)
	logits, outs := tracked(m, ids, layer(2))
	var g *rt.Tensor
	gradOf(outs[layer(2)], &g)
	if err := logits.Sum().Backward(rt.BackwardOptions{RetainGraph: true}); err != nil {
		t.Fatal(err)
	}
	closeT(t, "first pass", g, c.First, 1)
	if err := logits.Mul(2).Sum().Backward(); err != nil {
		t.Fatal(err)
	}
	closeT(t, "second pass", g, c.Second, 1)
	// The graph is freed now: a third pass must fail clearly.
	if err := logits.Sum().Backward(); err == nil {
		t.Error("third backward through a freed graph succeeded")
	}
}

func TestForwardAblate(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		Idx    []int            `json:"logits_slice_index"`
		Slice  reference.Tensor `json:"last_logits_slice"`
		Top    []int            `json:"last_top10_ids"`
		Hidden reference.Tensor `json:"hidden_last_layer"`
	}
	if err := ref.Case("forward_ablate", &c); err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode(prompt)
	var last *rt.Tensor
	logits := m.Forward(hooks{exit: func(mod *rt.Module, out *rt.Tensor) *rt.Tensor {
		switch mod.Path {
		case layer(1):
			out.Slice(":, -1, :").Fill(0)
		case layer(2):
			last = out
		}
		return nil
	}}, Input{IDs: [][]int{ids}}, nil)
	closeT(t, "last logits slice", logits.Slice("0, -1, ::997"), c.Slice, 1)
	_, top := logits.Slice("0, -1").TopK(10)
	if !slices.Equal(top.Ints(), c.Top) {
		t.Errorf("top10 %v, want %v", top.Ints(), c.Top)
	}
	closeT(t, "last layer output", last, c.Hidden, 1)
}

func TestPatching(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		Clean, Corrupt string
		A, B           int
		CleanMetric    float64     `json:"clean_metric"`
		CorruptMetric  float64     `json:"corrupt_metric"`
		Act            [][]float64 `json:"activation_patching"`
		Attr           [][]float64 `json:"attribution_patching"`
	}
	if err := ref.Case("patching", &c); err != nil {
		t.Fatal(err)
	}
	clean, _ := tok.Encode(c.Clean)
	corrupt, _ := tok.Encode(c.Corrupt)
	metric := func(logits *rt.Tensor) *rt.Tensor {
		last := logits.Select(0, 0).Select(0, -1)
		return last.Select(0, c.A).Sub(last.Select(0, c.B))
	}
	L := m.Config.NLayer
	cleanLogits, cleanActs := tracked(m, clean, layer(0), layer(1), layer(2))
	if !reference.Near(metric(cleanLogits).Item(), c.CleanMetric, 1) {
		t.Errorf("clean metric %v, want %v", metric(cleanLogits).Item(), c.CleanMetric)
	}
	for l := 0; l < L; l++ {
		got := make([]float64, len(corrupt))
		for p := range corrupt {
			src := cleanActs[layer(l)].Detach().Slice(fmt.Sprintf(":, %d, :", p))
			var logits *rt.Tensor
			rt.NoGrad(func() {
				logits = m.Forward(hooks{exit: func(mod *rt.Module, out *rt.Tensor) *rt.Tensor {
					if mod.Path == layer(l) {
						out.Slice(fmt.Sprintf(":, %d, :", p)).Copy(src)
					}
					return nil
				}}, Input{IDs: [][]int{corrupt}}, nil)
			})
			got[p] = metric(logits).Item()
		}
		if err := reference.Close(got, c.Act[l], 1); err != nil {
			t.Errorf("activation patching layer %d: %v", l, err)
		}
	}
	// Attribution patching: (clean - corrupt) . d metric / d act on the corrupt run.
	logits, acts := tracked(m, corrupt, layer(0), layer(1), layer(2))
	grads := map[string]*rt.Tensor{}
	for p, a := range acts {
		p := p
		a.RegisterHook(func(g *rt.Tensor) *rt.Tensor { grads[p] = g; return nil })
	}
	if !reference.Near(metric(logits).Item(), c.CorruptMetric, 1) {
		t.Errorf("corrupt metric %v, want %v", metric(logits).Item(), c.CorruptMetric)
	}
	if err := metric(logits).Backward(); err != nil {
		t.Fatal(err)
	}
	for l := 0; l < L; l++ {
		d := cleanActs[layer(l)].Detach().Sub(acts[layer(l)].Detach())
		attr := d.Mul(grads[layer(l)]).Sum(2).Select(0, 0)
		if err := reference.Close(attr.Float64s(), c.Attr[l], 1); err != nil {
			t.Errorf("attribution patching layer %d: %v", l, err)
		}
	}
}

func TestIntegratedGradients(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		Target   int       `json:"target_token"`
		Steps    int       `json:"steps"`
		PerToken []float64 `json:"per_token"`
	}
	if err := ref.Case("integrated_gradients", &c); err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode(prompt)
	var emb *rt.Tensor
	var total *rt.Tensor
	for k := 1; k <= c.Steps; k++ {
		alpha := float64(k) / float64(c.Steps)
		var scaled *rt.Tensor
		logits := m.Forward(hooks{exit: func(mod *rt.Module, out *rt.Tensor) *rt.Tensor {
			if mod.Path == "transformer.wte" {
				emb = out.Detach()
				scaled = out.Detach().Mul(alpha).RequiresGrad()
				return scaled
			}
			return nil
		}}, Input{IDs: [][]int{ids}}, nil)
		var g *rt.Tensor
		gradOf(scaled, &g)
		if err := logits.Select(0, 0).Select(0, -1).Select(0, c.Target).Backward(); err != nil {
			t.Fatal(err)
		}
		if total == nil {
			total = g
		} else {
			total = total.Add(g)
		}
	}
	ig := emb.Mul(total.Div(float64(c.Steps))).Sum(2).Select(0, 0)
	if err := reference.Close(ig.Float64s(), c.PerToken, 1); err != nil {
		t.Errorf("integrated gradients: %v", err)
	}
}

func TestGenerateGreedy(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		N   int   `json:"max_new_tokens"`
		IDs []int `json:"ids"`
	}
	if err := ref.Case("generate_greedy", &c); err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode(prompt)
	out := m.Generate(Input{IDs: [][]int{ids}}, GenerateOptions{MaxNewTokens: c.N})
	if !slices.Equal(out[0], c.IDs) {
		t.Errorf("greedy ids %v, want %v", out[0], c.IDs)
	}
	// Batched generation with a shorter padded row must give the same row.
	short, _ := tok.Encode("Hello")
	bo := m.Generate(Batch([][]int{ids, short}, 50256), GenerateOptions{MaxNewTokens: c.N})
	if !slices.Equal(bo[0], c.IDs) {
		t.Errorf("batched greedy ids %v, want %v", bo[0], c.IDs)
	}
	alone := m.Generate(Input{IDs: [][]int{short}}, GenerateOptions{MaxNewTokens: c.N})
	if !slices.Equal(bo[1], alone[0]) {
		t.Errorf("padded row generated %v, alone %v", bo[1], alone[0])
	}
}

func TestLMLoss(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		Loss    float64 `json:"loss"`
		WTE     float64 `json:"wte_weight_grad_norm"`
		CAttnH0 float64 `json:"h0_c_attn_weight_grad_norm"`
	}
	if err := ref.Case("lm_loss", &c); err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode(prompt)
	m.SetRequiresGrad(true)
	defer m.SetRequiresGrad(false)
	logits := m.Forward(nil, Input{IDs: [][]int{ids}}, nil)
	T := len(ids)
	loss := rt.CrossEntropy(logits.Select(0, 0).Narrow(0, 0, T-1), ids[1:])
	if !reference.Near(loss.Item(), c.Loss, 1) {
		t.Errorf("loss %v, want %v", loss.Item(), c.Loss)
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	w := m.W["wte.weight"].Grad()
	a := m.W["h.0.attn.c_attn.weight"].Grad()
	if w == nil || a == nil {
		t.Fatal("parameters got no gradient")
	}
	if !reference.Near(w.Norm(), c.WTE, 1) || !reference.Near(a.Norm(), c.CAttnH0, 1) {
		t.Errorf("grad norms wte %v h0.c_attn %v, want %v %v", w.Norm(), a.Norm(), c.WTE, c.CAttnH0)
	}
	for _, p := range m.Parameters() {
		p.Tensor.ZeroGrad()
	}
}

func TestBatch(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		Prompts []string           `json:"prompts"`
		Slices  []reference.Tensor `json:"last_logits_slice"`
	}
	if err := ref.Case("batch", &c); err != nil {
		t.Fatal(err)
	}
	var rows [][]int
	for _, p := range c.Prompts {
		ids, _ := tok.Encode(p)
		rows = append(rows, ids)
	}
	logits := m.Forward(nil, Batch(rows, 50256), nil)
	for i, want := range c.Slices {
		closeT(t, fmt.Sprintf("row %d last logits", i), logits.Slice(fmt.Sprintf("%d, -1, ::997", i)), want, 1)
	}
}

func TestNoGradBelowRequested(t *testing.T) {
	// A backward to the last layer must not touch earlier layers or weights.
	m, tok, _ := loadTiny(t)
	ids, _ := tok.Encode(prompt)
	logits, _ := tracked(m, ids, layer(2))
	n := 0
	for _, line := range strings.Split(logits.GraphString(), "\n") {
		if line != "" {
			n++
		}
	}
	// lm_head linear, ln_f, and the leaf: nothing from layers 0-1.
	if n > 4 {
		t.Errorf("graph behind logits has %d nodes, want <= 4:\n%s", n, logits.GraphString())
	}
	if math.IsNaN(logits.Sum().Item()) {
		t.Fatal("nan")
	}
}

func TestSampling(t *testing.T) {
	m, tok, _ := loadTiny(t)
	ids, _ := tok.Encode(prompt)
	in := Input{IDs: [][]int{ids}}
	gen := func(s Sampling) []int {
		return m.Generate(in, GenerateOptions{MaxNewTokens: 8, Sampling: s})[0][len(ids):]
	}
	greedy := gen(Sampling{})
	// top-k 1 is greedy whatever the temperature and seed.
	if got := gen(Sampling{Sample: true, TopK: 1, Temperature: 3, Seed: 9}); !slices.Equal(got, greedy) {
		t.Errorf("top-k 1 %v, greedy %v", got, greedy)
	}
	// A seed makes sampling reproducible; different seeds differ.
	a := gen(Sampling{Sample: true, Temperature: 1.5, Seed: 1})
	b := gen(Sampling{Sample: true, Temperature: 1.5, Seed: 1})
	c := gen(Sampling{Sample: true, Temperature: 1.5, Seed: 2})
	if !slices.Equal(a, b) {
		t.Errorf("same seed gave %v and %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 1 and 2 gave the same tokens %v", a)
	}
	// top-p keeps the smallest set of tokens reaching p: every sampled
	// token must be in the top-p set of its step.
	p := 0.3
	seq := append([]int(nil), ids...)
	out := gen(Sampling{Sample: true, TopP: p, Seed: 4})
	for _, tokID := range out {
		logits := m.Forward(nil, Input{IDs: [][]int{seq}}, nil).Slice("0, -1")
		probs := logits.Softmax().Data()
		vals, idx := logits.Softmax().TopK(len(probs))
		cum, allowed := 0.0, map[int]bool{}
		for i, v := range vals.Data() {
			allowed[idx.Ints()[i]] = true
			cum += float64(v)
			if cum >= p {
				break
			}
		}
		if !allowed[tokID] {
			t.Fatalf("token %d (p=%.4f) is outside the top-p=%.1f set", tokID, probs[tokID], p)
		}
		seq = append(seq, tokID)
	}
	// Stopping at EOS: every row ends at EOS or runs to the limit.
	eos := m.Generate(in, GenerateOptions{MaxNewTokens: 8, StopAtEOS: true, EOS: greedy[2]})
	if got := eos[0][len(ids):]; len(got) != 3 || got[2] != greedy[2] {
		t.Errorf("stop at EOS %d: generated %v", greedy[2], got)
	}
}
