package gpt2

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nnscope/internal/naive"
	rt "nnscope/runtime"
	"nnscope/safetensors"
)

// Other GPT-2 checkpoints than the fixture use other config.json
// settings. Each variant below is a config.json that Hugging Face's
// GPT2LMHeadModel accepts; a small random model of that shape must give
// the float64 loops' logits (naiveForward), batched with left padding and
// step by step with the KV cache, on the CPU and on the (emulated) GPU,
// and must load from a model folder in both key layouts.

// variantBase is the shape every variant starts from: head dim 9, a vocab
// and widths that are no multiple of any block size.
var variantBase = map[string]any{
	"model_type": "gpt2", "vocab_size": 97, "n_positions": 16,
	"n_embd": 36, "n_layer": 3, "n_head": 4,
}

type configVariant struct {
	name string
	keys map[string]any // config.json keys over variantBase
	// wrong, when set, turns the config into what a model that ignored
	// the variant would compute; the test checks that those logits are
	// far from the right ones, so the comparison can tell them apart.
	wrong func(*Config)
	// tol overrides variantTol: exact and tanh GELU differ by at most
	// 5e-4 per activation, so their variants need a tighter comparison.
	tol float64
}

var configVariants = []configVariant{
	{name: "defaults"},
	{name: "gpt2 config.json", keys: map[string]any{
		// openai-community/gpt2's file, with its keys the model ignores.
		"activation_function": "gelu_new", "architectures": []string{"GPT2LMHeadModel"},
		"attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
		"initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "n_ctx": 1024, "resid_pdrop": 0.1,
		"summary_activation": nil, "summary_first_dropout": 0.1, "summary_proj_to_labels": true,
		"summary_type": "cls_index", "summary_use_proj": true, "n_inner": nil, "scale_attn_weights": true,
		"use_cache": true, "torch_dtype": "float32", "transformers_version": "4.46.0", "tie_word_embeddings": true,
		"task_specific_params": map[string]any{"text-generation": map[string]any{"do_sample": true, "max_length": 50}},
	}},
	{name: "n_inner 20", keys: map[string]any{"n_inner": 20}},
	{name: "n_inner 200", keys: map[string]any{"n_inner": 200}},
	{name: "gelu", keys: map[string]any{"activation_function": "gelu"},
		wrong: func(c *Config) { c.ActivationFunction = "gelu_new" }, tol: 2e-5},
	{name: "gelu_pytorch_tanh", keys: map[string]any{"activation_function": "gelu_pytorch_tanh"},
		wrong: func(c *Config) { c.ActivationFunction = "gelu" }, tol: 2e-5},
	{name: "relu", keys: map[string]any{"activation_function": "relu"},
		wrong: func(c *Config) { c.ActivationFunction = "gelu_new" }},
	{name: "gelu_fast", keys: map[string]any{"activation_function": "gelu_fast"},
		wrong: func(c *Config) { c.ActivationFunction = "gelu" }, tol: 2e-5},
	{name: "gelu_accurate", keys: map[string]any{"activation_function": "gelu_accurate"},
		wrong: func(c *Config) { c.ActivationFunction = "gelu" }, tol: 2e-5},
	{name: "silu", keys: map[string]any{"activation_function": "silu"},
		wrong: func(c *Config) { c.ActivationFunction = "gelu_new" }},
	{name: "swish", keys: map[string]any{"activation_function": "swish"},
		wrong: func(c *Config) { c.ActivationFunction = "quick_gelu" }},
	{name: "quick_gelu", keys: map[string]any{"activation_function": "quick_gelu"},
		wrong: func(c *Config) { c.ActivationFunction = "silu" }},
	{name: "gelu_python", keys: map[string]any{"activation_function": "gelu_python"},
		wrong: func(c *Config) { c.ActivationFunction = "gelu_new" }, tol: 2e-5},
	{name: "gelu_10", keys: map[string]any{"activation_function": "gelu_10"}, tol: 2e-5},
	{name: "mish", keys: map[string]any{"activation_function": "mish"},
		wrong: func(c *Config) { c.ActivationFunction = "silu" }},
	{name: "relu2", keys: map[string]any{"activation_function": "relu2"},
		wrong: func(c *Config) { c.ActivationFunction = "relu" }},
	{name: "relu6", keys: map[string]any{"activation_function": "relu6"}},
	{name: "leaky_relu", keys: map[string]any{"activation_function": "leaky_relu"},
		wrong: func(c *Config) { c.ActivationFunction = "relu" }},
	{name: "linear", keys: map[string]any{"activation_function": "linear"},
		wrong: func(c *Config) { c.ActivationFunction = "relu" }},
	{name: "tanh", keys: map[string]any{"activation_function": "tanh"},
		wrong: func(c *Config) { c.ActivationFunction = "sigmoid" }},
	{name: "sigmoid", keys: map[string]any{"activation_function": "sigmoid"},
		wrong: func(c *Config) { c.ActivationFunction = "tanh" }},
	{name: "scale_attn_weights false", keys: map[string]any{"scale_attn_weights": false},
		wrong: func(c *Config) { c.ScaleAttnWeights = nil }},
	{name: "scale_attn_by_inverse_layer_idx", keys: map[string]any{"scale_attn_by_inverse_layer_idx": true, "n_layer": 5},
		wrong: func(c *Config) { c.ScaleAttnByInverseLayerIdx = false }},
	{name: "both attention scalings off and on", keys: map[string]any{"scale_attn_weights": false, "scale_attn_by_inverse_layer_idx": true},
		wrong: func(c *Config) { c.ScaleAttnWeights = nil }},
	{name: "reorder_and_upcast_attn", keys: map[string]any{"reorder_and_upcast_attn": true, "scale_attn_by_inverse_layer_idx": true},
		wrong: func(c *Config) { c.ScaleAttnByInverseLayerIdx = false }},
	{name: "layer_norm_epsilon 1e-2", keys: map[string]any{"layer_norm_epsilon": 1e-2},
		wrong: func(c *Config) { c.LayerNormEpsilon = 1e-5 }},
	{name: "layer_norm_epsilon 1e-12", keys: map[string]any{"layer_norm_epsilon": 1e-12}},
	{name: "head dim 3", keys: map[string]any{"n_head": 12},
		wrong: func(c *Config) { c.NHead = 4 }},
	{name: "head dim 1", keys: map[string]any{"n_head": 36},
		wrong: func(c *Config) { c.NHead = 4 }},
	{name: "one head", keys: map[string]any{"n_head": 1},
		wrong: func(c *Config) { c.NHead = 4 }},
	{name: "head dim 16 wide", keys: map[string]any{"n_embd": 80, "n_head": 5, "n_inner": 100, "n_layer": 2}},
	{name: "untied lm_head", keys: map[string]any{"tie_word_embeddings": false},
		wrong: func(c *Config) { c.TieWordEmbeddings = nil }},
	{name: "n_positions tight", keys: map[string]any{"n_positions": variantMaxLen}},
	{name: "one layer vocab 5", keys: map[string]any{"n_layer": 1, "vocab_size": 5}},
	// Shapes of small checkpoints on the Hub: sshleifer/tiny-gpt2, and
	// the GPT2ModelTester shape of hf-internal-testing's random models.
	{name: "tiny-gpt2 shape", keys: map[string]any{"vocab_size": 50257, "n_embd": 2, "n_head": 2, "n_layer": 2, "n_positions": 1024}},
	{name: "GPT2ModelTester shape", keys: map[string]any{"vocab_size": 99, "n_embd": 32, "n_head": 4, "n_layer": 2, "n_inner": 37,
		"activation_function": "gelu", "n_positions": 512}},
	{name: "everything at once", keys: map[string]any{
		"vocab_size": 61, "n_embd": 30, "n_head": 6, "n_inner": 50, "n_layer": 4, "n_positions": variantMaxLen,
		"activation_function": "gelu", "layer_norm_epsilon": 1e-6, "scale_attn_weights": false,
		"scale_attn_by_inverse_layer_idx": true, "tie_word_embeddings": false,
	}},
}

// The prompts are 7 and 4 tokens, then variantSteps tokens are
// generated: the longest row reaches variantMaxLen positions.
const (
	variantSteps  = 5
	variantMaxLen = 7 + variantSteps - 1
)

func (v configVariant) json() []byte {
	m := map[string]any{}
	for k, x := range variantBase {
		m[k] = x
	}
	for k, x := range v.keys {
		m[k] = x
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// randomWeights fills every tensor the config needs with deterministic
// random values: GPT-2's initialization scaled to these widths, with
// query/key and MLP weights large enough that attention is far from
// uniform and the activations leave their linear range (as in trained
// checkpoints), LayerNorm gains near 1.
func randomWeights(c Config, seed int64) (Weights, map[string][]float64) {
	r := rand.New(rand.NewSource(seed))
	shapes := WeightShapes(c)
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	slices.Sort(names) // map order must not change the values
	w, w64 := Weights{}, map[string][]float64{}
	for _, name := range names {
		t := rt.New(shapes[name]...)
		d := t.Data()
		f := make([]float64, len(d))
		mean, std := 0.0, 0.1
		switch {
		case strings.Contains(name, "ln_") && strings.HasSuffix(name, ".weight"):
			mean, std = 1, 0.1
		case strings.HasSuffix(name, ".bias"):
			std = 0.05
		case strings.Contains(name, "c_attn.weight"):
			std = 0.3
		case strings.Contains(name, "c_fc.weight"):
			std = 0.4
		case strings.Contains(name, "mlp.c_proj.weight"):
			std = 0.2
		case name == "wpe.weight":
			std = 0.05
		}
		for i := range d {
			d[i] = float32(mean + std*r.NormFloat64())
			f[i] = float64(d[i])
		}
		w[name], w64[name] = t, f
	}
	return w, w64
}

// variantPrompts are two prompts of different lengths.
func variantPrompts(c Config) [][]int {
	r := rand.New(rand.NewSource(int64(c.VocabSize)))
	rows := [][]int{make([]int, 7), make([]int, 4)}
	for _, row := range rows {
		for i := range row {
			row[i] = r.Intn(c.VocabSize)
		}
	}
	return rows
}

// logitsGap is max |got - want| over the RMS of want.
func logitsGap(got, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var worst float64
	for i := range want {
		worst = math.Max(worst, math.Abs(got[i]-want[i]))
	}
	r := rms(want)
	if math.IsNaN(worst) || r == 0 {
		return math.Inf(1)
	}
	return worst / r
}

// variantTol is float32 against float64, relative to the logits' RMS.
const variantTol = 1e-4

// rowLogits returns logits[b, j, :] as float64.
func rowLogits(logits *rt.Tensor, b, j int) []float64 {
	return logits.Select(0, b).Select(0, j).Float64s()
}

func variantConfig(t *testing.T, v configVariant) Config {
	t.Helper()
	c, err := ParseConfig("config.json", v.json())
	if err != nil {
		t.Fatalf("config.json rejected: %v", err)
	}
	return c
}

// variantCase is one variant's config, weights and float64 oracle.
type variantCase struct {
	c      Config
	w      Weights
	tol    float64
	oracle func(ids []int) [][]float64
}

func prepareVariant(t *testing.T, i int) variantCase {
	v := configVariants[i]
	c := variantConfig(t, v)
	w, w64 := randomWeights(c, int64(100+i))
	tol := variantTol
	if v.tol != 0 {
		tol = v.tol
	}
	if v.wrong != nil {
		// The oracle must tell the variant from the default.
		wc := c
		v.wrong(&wc)
		ids := variantPrompts(c)[0]
		gap := logitsGap(slices.Concat(naiveForward(wc, w64, ids)...), slices.Concat(naiveForward(c, w64, ids)...))
		if gap < 20*tol {
			t.Fatalf("ignoring the variant moves the logits by only %.1e: the test cannot see it", gap)
		}
	}
	// The float64 loops are causal: one pass over a whole sequence gives
	// every prefix's logits. Devices usually pick the same tokens, so the
	// passes are shared between them.
	cache := map[string][][]float64{}
	oracle := func(ids []int) [][]float64 {
		k := fmt.Sprint(ids)
		if _, ok := cache[k]; !ok {
			cache[k] = naiveForward(c, w64, ids)
		}
		return cache[k]
	}
	return variantCase{c: c, w: w, tol: tol, oracle: oracle}
}

func TestConfigVariantsAgainstNaive(t *testing.T) {
	cases := make([]*variantCase, len(configVariants))
	run := func(t *testing.T, device string) {
		for i, v := range configVariants {
			t.Run(v.name, func(t *testing.T) {
				if cases[i] == nil {
					vc := prepareVariant(t, i)
					cases[i] = &vc
				}
				vc := cases[i]
				m := New(vc.c, vc.w)
				if device != "cpu" {
					var err error
					if m, err = m.To(device); err != nil {
						t.Fatal(err)
					}
				}
				checkVariant(t, m, vc.oracle, vc.tol)
			})
		}
	}
	t.Run("cpu", func(t *testing.T) { run(t, "cpu") })
	if _, err := rt.GPU(); err == nil {
		t.Run("cuda", func(t *testing.T) { run(t, "cuda") })
	}
	if !testing.Short() {
		t.Run("emulated", func(t *testing.T) {
			installEmulatedGPU(t)
			run(t, "cuda")
		})
	}
}

// checkVariant compares Generate, a batched forward and a step-by-step
// KV-cache pass with the float64 loops (oracle).
func checkVariant(t *testing.T, m *Model, oracle func([]int) [][]float64, tol float64) {
	c := m.Config
	rows := variantPrompts(c)
	pad := c.VocabSize - 1
	in := Batch(rows, pad)
	T := len(in.IDs[0])

	// Greedy generation of a left-padded batch; want[b] are the float64
	// logits at every position row b was fed.
	gen := m.Generate(in, GenerateOptions{MaxNewTokens: variantSteps})
	want := make([][][]float64, len(rows))
	for b, row := range rows {
		if len(gen[b]) != len(row)+variantSteps || !slices.Equal(gen[b][:len(row)], row) {
			t.Fatalf("Generate row %d = %v: want the prompt %v and %d new tokens", b, gen[b], row, variantSteps)
		}
		want[b] = oracle(gen[b][:len(gen[b])-1])
		for s := 0; s < variantSteps; s++ {
			at := len(row) - 1 + s
			tok, lg := gen[b][at+1], want[b][at]
			if lg[tok] < slices.Max(lg)-10*tol*rms(lg) {
				t.Errorf("Generate step %d row %d picked token %d: its float64 logit is %v, the best %v", s, b, tok, lg[tok], slices.Max(lg))
			}
		}
	}

	// Batched forward: every real position of each left-padded row is the
	// row alone.
	logits := m.Forward(nil, in, nil)
	if got, want := logits.Shape(), []int{2, T, c.VocabSize}; !slices.Equal(got, want) {
		t.Fatalf("logits shape %v, want %v", got, want)
	}
	var worst float64
	for b, row := range rows {
		off := T - len(row)
		for j := range row {
			worst = math.Max(worst, logitsGap(rowLogits(logits, b, off+j), want[b][j]))
		}
	}
	if worst > tol {
		t.Errorf("batched forward differs from the float64 loops by %.2e (relative to RMS)", worst)
	}

	// Step by step with the KV cache, feeding the generated tokens as
	// Generate does: each step's logits are the whole sequence's, from
	// the float64 loops and from a fresh forward over the full (padded)
	// batch, and their argmax is the token Generate picked.
	st := &State{}
	cur := in
	worst = 0
	worstFull := 0.0
	for s := 0; s < variantSteps; s++ {
		var out *rt.Tensor
		rt.NoGrad(func() { out = m.Forward(nil, cur, st) })
		seqs := make([][]int, len(rows))
		next := make([][]int, len(rows))
		mask := make([][]float32, len(rows))
		for b, row := range rows {
			seqs[b] = gen[b][:len(row)+s]
			next[b], mask[b] = []int{gen[b][len(row)+s]}, []float32{1}
		}
		full := m.Forward(nil, Batch(seqs, pad), nil)
		for b, row := range rows {
			got := rowLogits(out, b, out.Shape()[1]-1)
			worst = math.Max(worst, logitsGap(got, want[b][len(row)-1+s]))
			worstFull = math.Max(worstFull, logitsGap(got, rowLogits(full, b, full.Shape()[1]-1)))
			if tok := argmax(got); tok != next[b][0] {
				t.Errorf("step %d row %d: the cached pass's argmax is %d, Generate picked %d", s, b, tok, next[b][0])
			}
		}
		cur = Input{IDs: next, Mask: mask}
	}
	if got, want := st.Len(), T+variantSteps-1; got != want {
		t.Errorf("cache holds %d positions, want %d", got, want)
	}
	if worst > tol {
		t.Errorf("KV-cache steps differ from the float64 loops by %.2e (relative to RMS)", worst)
	}
	if worstFull > tol {
		t.Errorf("KV-cache steps differ from recomputing the full forward by %.2e (relative to RMS)", worstFull)
	}
}

func rms(v []float64) float64 {
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	return math.Sqrt(ss / float64(len(v)))
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestNPositionsLimit: a model with n_positions 11 takes 11 positions, in
// one forward or through the cache, and a clear error past them.
func TestNPositionsLimit(t *testing.T) {
	v := configVariant{keys: map[string]any{"n_positions": variantMaxLen, "n_layer": 1}}
	c := variantConfig(t, v)
	w, w64 := randomWeights(c, 7)
	m := New(c, w)
	ids := make([]int, variantMaxLen)
	for i := range ids {
		ids[i] = (i * 13) % c.VocabSize
	}
	// The last row of wpe is used: all positions match the float64 loops.
	logits := m.Forward(nil, Input{IDs: [][]int{ids}}, nil)
	want := naiveForward(c, w64, ids)
	for j := range ids {
		if gap := logitsGap(rowLogits(logits, 0, j), want[j]); gap > variantTol {
			t.Errorf("position %d differs from the float64 loops by %.2e", j, gap)
		}
	}
	wantErr := func(what string, fn func()) {
		t.Helper()
		var r any
		func() {
			defer func() { r = recover() }()
			fn()
		}()
		e, ok := r.(*rt.Error)
		if !ok {
			t.Errorf("%s: got %v (%T), want a *runtime.Error panic", what, r, r)
			return
		}
		if msg := e.Error(); !strings.Contains(msg, "n_positions") || !strings.Contains(msg, fmt.Sprint(variantMaxLen)) || !strings.Contains(msg, fmt.Sprint(variantMaxLen+1)) {
			t.Errorf("%s: error %q does not name n_positions %d and the %d positions asked for", what, msg, variantMaxLen, variantMaxLen+1)
		}
	}
	long := append(slices.Clone(ids), 1)
	wantErr("prompt too long", func() { m.Forward(nil, Input{IDs: [][]int{long}}, nil) })
	wantErr("batch too long", func() { m.Forward(nil, Batch([][]int{long, {1, 2}}, 0), nil) })
	st := &State{}
	m.Forward(nil, Input{IDs: [][]int{ids}}, st)
	wantErr("cache full", func() { m.Forward(nil, Input{IDs: [][]int{{1}}}, st) })
	wantErr("generate past n_positions", func() {
		m.Generate(Input{IDs: [][]int{ids[:4]}}, GenerateOptions{MaxNewTokens: variantMaxLen - 4 + 2})
	})
	// Exactly up to the limit is fine.
	out := m.Generate(Input{IDs: [][]int{ids[:4]}}, GenerateOptions{MaxNewTokens: variantMaxLen - 4 + 1})
	if len(out[0]) != variantMaxLen+1 {
		t.Errorf("Generate to the limit gave %d ids, want %d", len(out[0]), variantMaxLen+1)
	}
}

// variantTensors turns weights into safetensors in the Hub's bare layout
// or save_pretrained's, where the transformer's keys carry a
// "transformer." prefix and lm_head.weight does not.
func variantTensors(w Weights, prefixed bool) map[string]safetensors.Tensor {
	ts := map[string]safetensors.Tensor{}
	for n, x := range w {
		key := n
		if prefixed && n != "lm_head.weight" {
			key = "transformer." + n
		}
		ts[key] = safetensors.Tensor{Dtype: "F32", Shape: x.Shape(), Data: slices.Clone(x.Data())}
	}
	return ts
}

// TestConfigVariantsLoad writes each variant as a model folder and loads
// it with Load: the logits must be those of the model built in memory.
func TestConfigVariantsLoad(t *testing.T) {
	for i, v := range configVariants {
		for _, prefixed := range []bool{false, true} {
			name := v.name + "/bare keys"
			if prefixed {
				name = v.name + "/transformer. prefix"
			}
			t.Run(name, func(t *testing.T) {
				c := variantConfig(t, v)
				w, _ := randomWeights(c, int64(100+i))
				ts := variantTensors(w, prefixed)
				if !prefixed && c.NPositions <= 64 {
					// The Hub's original files also hold each layer's
					// causal-mask buffer, which the loader skips.
					P := c.NPositions
					mask := make([]float32, P*P)
					for q := 0; q < P; q++ {
						for k := 0; k <= q; k++ {
							mask[q*P+k] = 1
						}
					}
					for l := 0; l < c.NLayer; l++ {
						ts[fmt.Sprintf("h.%d.attn.bias", l)] = safetensors.Tensor{Dtype: "F32", Shape: []int{1, 1, P, P}, Data: mask}
					}
				}
				tied := c.TieWordEmbeddings == nil || *c.TieWordEmbeddings
				if tied && prefixed {
					// A tied model ignores a stale lm_head.weight, as
					// Hugging Face ties it to wte after loading.
					stale := slices.Clone(ts["transformer.wte.weight"].Data)
					for j := range stale {
						stale[j] = -stale[j]
					}
					ts["lm_head.weight"] = safetensors.Tensor{Dtype: "F32", Shape: []int{c.VocabSize, c.NEmbd}, Data: stale}
				}
				m, err := Load(writeModel(t, ts, string(v.json())))
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if !configsEqual(m.Config, c) {
					t.Errorf("loaded config %+v, want %+v", m.Config, c)
				}
				in := Batch(variantPrompts(c), 0)
				got := m.Forward(nil, in, nil).Float64s()
				want := New(c, w).Forward(nil, in, nil).Float64s()
				if !slices.Equal(got, want) {
					t.Errorf("loaded model's logits differ from the in-memory model's by %.2e", logitsGap(got, want))
				}
				act := map[string]string{"gelu_new": "NewGELUActivation", "gelu": "GELUActivation", "gelu_pytorch_tanh": "GELUTanh", "relu": "ReLU",
					"gelu_fast": "FastGELUActivation", "gelu_accurate": "AccurateGELUActivation", "silu": "SiLU", "swish": "SiLU",
					"quick_gelu": "QuickGELUActivation", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu_python": "GELUActivation",
					"gelu_10": "ClippedGELUActivation", "mish": "MishActivation", "relu2": "ReLUSquaredActivation", "relu6": "ReLU6",
					"leaky_relu": "LeakyReLU", "linear": "LinearActivation"}
				if got := m.Blocks[0].Act.Type; got != act[c.ActivationFunction] {
					t.Errorf("mlp.act is a %s, Hugging Face builds a %s for %q", got, act[c.ActivationFunction], c.ActivationFunction)
				}
				var names []string
				for _, p := range m.Parameters() {
					names = append(names, p.Name)
				}
				if has := slices.Contains(names, "lm_head.weight"); has == tied {
					t.Errorf("parameters list lm_head.weight: %v, want %v (tied %v)", has, !tied, tied)
				}
			})
		}
	}
}

func configsEqual(a, b Config) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestUntiedMissingLMHead: tie_word_embeddings false needs lm_head.weight.
func TestUntiedMissingLMHead(t *testing.T) {
	v := configVariant{keys: map[string]any{"tie_word_embeddings": false, "n_layer": 1}}
	c := variantConfig(t, v)
	w, _ := randomWeights(c, 1)
	ts := variantTensors(w, true)
	delete(ts, "lm_head.weight")
	_, err := Load(writeModel(t, ts, string(v.json())))
	if err == nil || !strings.Contains(err.Error(), `"lm_head.weight"`) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("error %v, want one naming the missing lm_head.weight", err)
	}
}

// TestVocabWithoutEOSRow: a model whose vocab_size is below GPT-2's
// <|endoftext|> (50256, config.json's default eos_token_id) and whose
// folder has no tokenizer files has no end-of-text row: padding a batch
// and padding finished rows of a generation must use ids the embedding
// has.
func TestVocabWithoutEOSRow(t *testing.T) {
	v := configVariant{keys: map[string]any{"n_layer": 1}}
	c := variantConfig(t, v)
	w, w64 := randomWeights(c, 3)
	m, err := Load(writeModel(t, variantTensors(w, false), string(v.json())))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if pad := m.Tokenizer.PadID(); pad < 0 || pad >= c.VocabSize {
		t.Fatalf("PadID %d is not a row of the %d-row embedding", pad, c.VocabSize)
	}
	if m.Tokenizer.EOS != -1 {
		t.Errorf("EOS %d with a %d-row embedding, want -1 (none)", m.Tokenizer.EOS, c.VocabSize)
	}
	rows := variantPrompts(c)
	in := Batch(rows, m.Tokenizer.PadID())
	logits := m.Forward(nil, in, nil)
	T := len(in.IDs[0])
	for b, row := range rows {
		want := naiveForward(c, w64, row)
		for j := range row {
			if gap := logitsGap(rowLogits(logits, b, T-len(row)+j), want[j]); gap > variantTol {
				t.Errorf("row %d position %d differs from the float64 loops by %.2e", b, j, gap)
			}
		}
	}
	// A row that ends at another end-of-text id of an eos_token_id list
	// is padded while the other row goes on.
	free := m.Generate(in, GenerateOptions{MaxNewTokens: 4})
	stop := free[1][len(rows[1])]
	out := m.Generate(in, GenerateOptions{MaxNewTokens: 4, StopAtEOS: true, EOS: m.Tokenizer.EOS, MoreEOS: []int{50256, stop}})
	if !slices.Equal(out[0], free[0]) && !slices.Contains(free[0][len(rows[0]):], stop) {
		t.Errorf("row 0 = %v, want %v", out[0], free[0])
	}
	for _, id := range out[1][len(rows[1]):] {
		if id != stop {
			t.Errorf("finished row 1 = %v: want it padded with its end-of-text id %d", out[1], stop)
			break
		}
	}
}

// TestToKeepsTokenizer: moving a model to the GPU keeps the tokenizer of
// its folder (its own vocabulary here), not GPT-2's.
func TestToKeepsTokenizer(t *testing.T) {
	installEmulatedGPU(t)
	v := configVariant{keys: map[string]any{"n_layer": 1, "vocab_size": 260, "eos_token_id": 257}}
	c := variantConfig(t, v)
	w, _ := randomWeights(c, 4)
	dir := writeModel(t, variantTensors(w, false), string(v.json()))
	vocab, _ := json.Marshal(smallVocab("ll"))
	writeTo := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeTo("vocab.json", string(vocab))
	writeTo("merges.txt", "#version: 0.2\nl l\n")
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	g, err := m.To("cuda")
	if err != nil {
		t.Fatal(err)
	}
	for _, model := range []*Model{m, g} {
		ids, err := model.Tokenizer.Encode("hello")
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{'h', 'e', 256, 'o'}; !slices.Equal(ids, want) {
			t.Errorf("on %s: \"hello\" is %v, want the folder's ids %v", model.Device(), ids, want)
		}
		if model.Tokenizer.EOS != 257 {
			t.Errorf("on %s: EOS %d, want config.json's 257", model.Device(), model.Tokenizer.EOS)
		}
	}
}

// TestActivationsAgainstNaive: every activation_function the config
// accepts is Hugging Face's ACT2FN function (naive.Act) over a range that
// reaches each one's kinks and clips (relu6 at 6, gelu_10 at 10), with
// the gradient of the sum against central differences.
func TestActivationsAgainstNaive(t *testing.T) {
	var xs []float32
	for v := -24.0; v <= 24; v += 0.37 {
		xs = append(xs, float32(v))
	}
	for _, name := range Activations { // every name ParseConfig accepts

		t.Run(name, func(t *testing.T) {
			c, err := ParseConfig("config.json", configVariant{keys: map[string]any{"activation_function": name}}.json())
			if err != nil {
				t.Fatal(err)
			}
			m := &Model{Config: c}
			x := rt.FromSlice(slices.Clone(xs), len(xs)).RequiresGrad()
			y := m.activation(x)
			if rt.SharesMemory(x, y) {
				t.Errorf("the output shares the input's memory (c_fc's output is freed after the activation)")
			}
			if err := y.Sum().Backward(); err != nil {
				t.Fatal(err)
			}
			got, grad := y.Float64s(), x.Grad().Float64s()
			for i, v := range xs {
				want := naive.Act(name, float64(v))
				if d := math.Abs(got[i] - want); d > 2e-6*math.Max(1, math.Abs(want)) {
					t.Errorf("act(%g) = %g, want %g", v, got[i], want)
				}
				const h = 1e-6
				dwant := (naive.Act(name, float64(v)+h) - naive.Act(name, float64(v)-h)) / (2 * h)
				if d := math.Abs(grad[i] - dwant); d > 1e-4*math.Max(1, math.Abs(dwant)) {
					t.Errorf("act'(%g) = %g, want %g", v, grad[i], dwant)
				}
			}
		})
	}
}
