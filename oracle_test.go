package nnscope

// Randomized oracle tests of the intervention semantics through the public
// API, on the fixture and on a random-weights model with another shape:
// every number is checked against internal/naive, GPT-2 in float64 loops
// with a hook at each module boundary, where the same edit is replayed at
// the same place. Gradients are checked against central finite
// differences of the float64 model. All randomness is seeded.

import (
	"fmt"
	"maps"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nnscope/gpt2"
	"nnscope/internal/naive"
	"nnscope/internal/reference"
	"nnscope/safetensors"
)

// Tolerances, relative to the RMS of the reference tensor: float32 against
// float64 (forward and interventions), and the engine's gradient against
// float64 central differences with step fdEps (see fdErr).
const (
	tolF32 = 1e-4
	tolFD  = 1e-3
	fdEps  = 1e-3
)

// oracleSeed is a test's seed, shifted by $NNSCOPE_ORACLE_SEED (default
// 0) to explore other draws: NNSCOPE_ORACLE_SEED=17 go test -run Oracle.
func oracleSeed(base int64) int64 {
	var shift int64
	if v := os.Getenv("NNSCOPE_ORACLE_SEED"); v != "" {
		fmt.Sscan(v, &shift)
	}
	return base + 1000*shift
}

// oracleModel is a model under test and its float64 twin.
type oracleModel struct {
	name string
	m    *Model
	ref  *naive.Model
}

// naiveOf builds the float64 reference from the model's config and
// parameters, read through the public API.
func naiveOf(t testing.TB, m *Model) *naive.Model {
	t.Helper()
	c := m.Config()
	nc := naive.Config{NLayer: c.NLayer, NHead: c.NHead, NEmbd: c.NEmbd, NInner: c.Inner(), VocabSize: c.VocabSize,
		Eps: c.LayerNormEpsilon, Act: c.ActivationFunction,
		NoScaleAttnWeights:         c.ScaleAttnWeights != nil && !*c.ScaleAttnWeights,
		ScaleAttnByInverseLayerIdx: c.ScaleAttnByInverseLayerIdx,
		Untied:                     c.TieWordEmbeddings != nil && !*c.TieWordEmbeddings}
	w := map[string][]float64{}
	for name := range gpt2.WeightShapes(c) {
		full := "transformer." + name
		if name == "lm_head.weight" {
			full = name
		}
		w[name] = m.Param(full).Data()
	}
	return &naive.Model{Config: nc, W: w}
}

// randomConfig differs from the fixture in every dimension: 4 layers,
// n_embd 48 in 6 heads of 8, an MLP width that is not a multiple of the
// kernels' tiles, exact GELU, and the real vocabulary so the tokenizer
// works.
const randomConfig = `{
  "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
  "vocab_size": 50257, "n_positions": 96, "n_embd": 48, "n_layer": 4, "n_head": 6, "n_inner": 100,
  "layer_norm_epsilon": 1e-05, "activation_function": "gelu",
  "bos_token_id": 50256, "eos_token_id": 50256
}`

// randomModel writes a random-weights GPT-2 (config.json and
// model.safetensors) to a temporary folder and loads it like any model.
func randomModel(t testing.TB, seed int64) *Model {
	t.Helper()
	return LanguageModel(writeRandomGPT2(t, randomConfig, seed, func(name string) (std, base float64) {
		switch {
		case strings.HasSuffix(name, "ln_1.weight"), strings.HasSuffix(name, "ln_2.weight"), name == "ln_f.weight":
			return 0.1, 1
		case strings.HasSuffix(name, ".bias"), name == "wpe.weight", strings.HasSuffix(name, "mlp.c_proj.weight"):
			return 0.1, 0
		case name == "wte.weight":
			return 0.3, 0
		}
		return 0.2, 0
	}))
}

// writeRandomGPT2 writes a GPT-2 with the given config.json and random
// weights to a temporary folder and returns the folder: each weight is
// base + std*N(0, 1), std and base given by init for its name, drawn from
// seed in name order (map order must not change the draws).
func writeRandomGPT2(t testing.TB, config string, seed int64, init func(name string) (std, base float64)) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := gpt2.ParseConfig("config.json", []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(seed))
	ts := map[string]safetensors.Tensor{}
	shapes := gpt2.WeightShapes(c)
	for _, name := range slices.Sorted(maps.Keys(shapes)) {
		shape := shapes[name]
		n := 1
		for _, s := range shape {
			n *= s
		}
		std, base := init(name)
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(base + std*r.NormFloat64())
		}
		ts["transformer."+name] = safetensors.Tensor{Dtype: "F32", Shape: shape, Data: d}
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// oracleModels returns the fixture and a random model, each with its
// float64 twin.
func oracleModels(t *testing.T) []oracleModel {
	t.Helper()
	tm := LanguageModel(reference.Dir())
	rm := randomModel(t, oracleSeed(7))
	return []oracleModel{{"tiny", tm, naiveOf(t, tm)}, {"random", rm, naiveOf(t, rm)}}
}

// promptPieces mixes ASCII words, leading and repeated spaces, newlines,
// digits, accents, CJK, Cyrillic, Greek and emoji.
var promptPieces = []string{" the", "The", " Eiffel", " Tower", " is", " in", " city", " of", "héllo", " naïve", " café",
	" 日本語", "中文", " 🙂", "🚀", " Ωμέγα", " Привет", "  ", "\n", " 42", "3.14", "!", "?", " don't", "'s", " über",
	"\t", " 🤖🤖", "ß", " a", "z", " Zürich", " 🍕", " ", "ü", " x", "...", " ∑∫"}

// randomPrompt returns a string of about n tokens (1 <= tokens <= max).
func randomPrompt(m *Model, r *rand.Rand, n, maxTok int) (string, []int) {
	for {
		var b strings.Builder
		if r.Intn(3) == 0 {
			b.WriteString(" ")
		}
		for {
			b.WriteString(promptPieces[r.Intn(len(promptPieces))])
			if len(m.Encode(b.String())) >= n {
				break
			}
		}
		s := b.String()
		if ids := m.Encode(s); len(ids) >= 1 && len(ids) <= maxTok {
			return s, ids
		}
	}
}

// rmsRel returns max|got-want| / RMS(want) (absolute when want is zero).
func rmsRel(got, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var ss, worst float64
	for i := range want {
		ss += want[i] * want[i]
		worst = math.Max(worst, math.Abs(got[i]-want[i]))
	}
	if ss == 0 {
		return worst
	}
	return worst / math.Sqrt(ss/float64(len(want)))
}

func flat(x [][]float64) []float64 { return slices.Concat(x...) }

func cloneRows(x [][]float64) [][]float64 {
	out := make([][]float64, len(x))
	for i := range x {
		out[i] = slices.Clone(x[i])
	}
	return out
}

// worst tracks the largest error seen per kind, for the log.
type worst map[string]float64

func (w worst) add(kind string, e float64) { w[kind] = math.Max(w[kind], e) }

func (w worst) log(t *testing.T) {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%.2e", k, w[k])
	}
	t.Logf("worst errors (relative to RMS):%s", b.String())
}

// TestOracleForward: the logits of a trace and every module output the
// cache records equal the float64 model's, for prompts of 1..40 tokens.
func TestOracleForward(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(1)))
	w := worst{}
	for _, om := range oracleModels(t) {
		lengths := []int{1, 2 + r.Intn(8), 10 + r.Intn(20), 40}
		for k, n := range lengths {
			p, ids := randomPrompt(om.m, r, n, 40)
			var logits *Tensor
			var cache *Cache
			om.m.Trace(p, func(tr *Tracer) {
				if k%2 == 0 {
					cache = tr.Cache()
				}
				logits = om.m.Output().Save()
			})
			acts := map[string][][]float64{}
			res := om.ref.Forward(ids, func(path string, x [][]float64) [][]float64 {
				acts[path] = cloneRows(x)
				return nil
			})
			want := flat(res.AllLogits())
			if e := rmsRel(logits.Data(), want); e > tolF32 {
				t.Errorf("%s %q (%d tokens): logits differ from float64 by %.2e of RMS", om.name, p, len(ids), e)
			} else {
				w.add("logits", e)
			}
			if !slices.Equal(logits.Shape(), []int{1, len(ids), om.ref.VocabSize}) {
				t.Errorf("%s: logits shape %v", om.name, logits.Shape())
			}
			if cache == nil {
				continue
			}
			for _, path := range om.ref.Paths() {
				got := cache.Get(path)
				if got == nil {
					t.Errorf("%s: cache has no %s", om.name, path)
					continue
				}
				if e := rmsRel(got.Data(), flat(acts[path])); e > tolF32 {
					t.Errorf("%s %q: %s differs from float64 by %.2e of RMS", om.name, p, path, e)
				} else {
					w.add("activations", e)
				}
			}
		}
	}
	w.log(t)
}

// edit is one intervention, made through the API in a trace body and
// replayed by the float64 model's hook at the same module.
type edit struct {
	path string
	kind string    // zero, row, set, skip, affine, affineInPlace, setInput, skipInput
	rows []int     // oracle rows (zero, row)
	vals []float64 // replacement (set, skip), noise (affine), row (row)
	s    float64   // affine scale
}

// nnShape is the API shape of a module output with oracle rows x cols.
func nnShape(om oracleModel, path string, rows, cols int) []int {
	if strings.HasSuffix(path, "attn_dropout") {
		return []int{1, om.ref.NHead, cols, cols}
	}
	return []int{1, rows, cols}
}

// rowSpec is the Slice index of oracle row i of a module output.
func rowSpec(shape []int, i int) string {
	if len(shape) == 4 {
		return fmt.Sprintf("0, %d, %d, :", i/shape[2], i%shape[2])
	}
	return fmt.Sprintf("0, %d, :", i)
}

// apply makes the edit in a trace body.
func (e edit) apply(om oracleModel, shape []int) {
	mod := om.m.Module(e.path)
	switch e.kind {
	case "skip":
		mod.Skip(NewTensor(e.vals, shape...))
	case "skipInput": // the module is the identity: its input, the same tensor, is its output
		mod.Skip(mod.Input())
	case "setInput":
		mod.SetInput(NewTensor(e.vals, shape...))
	case "set":
		mod.SetOutput(NewTensor(e.vals, shape...))
	case "zero":
		out := mod.Output()
		for _, i := range e.rows {
			out.Slice(rowSpec(shape, i)).Fill(0)
		}
	case "row":
		out := mod.Output()
		out.Slice(rowSpec(shape, e.rows[0])).Copy(NewTensor(e.vals))
	case "affine":
		out := mod.Output()
		mod.SetOutput(out.Mul(e.s).Add(NewTensor(e.vals, shape...)))
	case "affineInPlace":
		out := mod.Output()
		out.Copy(out.Mul(e.s).Add(NewTensor(e.vals, shape...)))
	}
}

// inputOf is the module whose output is exactly the input of the module at
// path (and is read by nothing else), or "" where there is none: the
// modules SetInput and Skip(Input()) are tried on.
func inputOf(L int, path string) string {
	var l int
	var sub string
	if path == "transformer.ln_f" {
		return fmt.Sprintf("transformer.h.%d", L-1)
	}
	if n, _ := fmt.Sscanf(path, "transformer.h.%d%s", &l, &sub); n == 0 {
		return ""
	}
	switch {
	case path == fmt.Sprintf("transformer.h.%d", l) && l == 0:
		return "transformer.drop"
	case path == fmt.Sprintf("transformer.h.%d", l):
		return fmt.Sprintf("transformer.h.%d", l-1)
	case sub == ".attn":
		return fmt.Sprintf("transformer.h.%d.ln_1", l)
	case sub == ".mlp":
		return fmt.Sprintf("transformer.h.%d.ln_2", l)
	}
	return ""
}

// replayEdits is the float64 hook for edits: each at its module; a
// SetInput as a replacement of the output feeding the module; a
// Skip(Input()) as that output passed through.
func replayEdits(L int, edits []edit) naive.Hook {
	outs := map[string][][]float64{}
	return func(path string, x [][]float64) [][]float64 {
		y := x
		for _, e := range edits {
			if e.path != path {
				continue
			}
			if e.kind == "skipInput" {
				y = cloneRows(outs[inputOf(L, path)])
			} else if e.kind != "setInput" {
				y = e.replay(x)
			}
		}
		for _, e := range edits {
			if e.kind == "setInput" && inputOf(L, e.path) == path {
				cols := len(y[0])
				y = make([][]float64, len(x))
				for i := range y {
					y[i] = slices.Clone(e.vals[i*cols : (i+1)*cols])
				}
			}
		}
		outs[path] = cloneRows(y)
		return y
	}
}

// replay is the edit on the float64 rows.
func (e edit) replay(x [][]float64) [][]float64 {
	cols := len(x[0])
	switch e.kind {
	case "skip", "set":
		out := make([][]float64, len(x))
		for i := range out {
			out[i] = slices.Clone(e.vals[i*cols : (i+1)*cols])
		}
		return out
	case "zero":
		for _, i := range e.rows {
			clear(x[i])
		}
	case "row":
		copy(x[e.rows[0]], e.vals)
	case "affine", "affineInPlace":
		for i := range x {
			for j := range x[i] {
				x[i][j] = x[i][j]*e.s + e.vals[i*cols+j]
			}
		}
	}
	return x
}

func randVec(r *rand.Rand, n int, std float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = std * r.NormFloat64()
	}
	return v
}

// randomEdits draws 1..3 edits at distinct modules, in execution order,
// none inside a skipped module.
func randomEdits(om oracleModel, r *rand.Rand, sizes map[string][2]int) []edit {
	paths := om.ref.Paths()
	kinds := []string{"zero", "row", "set", "skip", "affine", "affineInPlace", "setInput", "skipInput"}
	n := 1 + r.Intn(3)
	var picked []int
	for _, i := range r.Perm(len(paths)) {
		if len(picked) == n {
			break
		}
		ok := true
		for _, j := range picked {
			a, b := paths[i], paths[j]
			if strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".") {
				ok = false // nested: a skip of one would hide the other
			}
		}
		if ok {
			picked = append(picked, i)
		}
	}
	slices.Sort(picked)
	var out []edit
	for _, i := range picked {
		p := paths[i]
		rows, cols := sizes[p][0], sizes[p][1]
		e := edit{path: p, kind: kinds[r.Intn(len(kinds))]}
		if inputOf(om.ref.NLayer, p) == "" {
			if e.kind == "setInput" || e.kind == "skipInput" {
				e.kind = "skip"
			}
		} else if r.Intn(2) == 0 {
			e.kind = []string{"setInput", "skipInput"}[r.Intn(2)]
		}
		switch e.kind {
		case "zero":
			for _, j := range r.Perm(rows)[:1+r.Intn(min(rows, 3))] {
				e.rows = append(e.rows, j)
			}
		case "row":
			e.rows = []int{r.Intn(rows)}
			e.vals = randVec(r, cols, 1)
		case "set", "skip", "setInput":
			e.vals = randVec(r, rows*cols, 1)
		case "affine", "affineInPlace":
			e.s = 0.5 + r.Float64()
			e.vals = randVec(r, rows*cols, 0.3)
		}
		out = append(out, e)
	}
	return out
}

// TestOracleInterventions: random edits (zeroing positions, writing a row,
// SetOutput, Skip, output-dependent replacement, in place or not) at random
// modules, one to three per trace, give the float64 model's numbers with
// the same edits at the same boundaries.
func TestOracleInterventions(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(2)))
	w := worst{}
	kinds := map[string]int{}
	defer func() { t.Logf("edits made: %v", kinds) }()
	for _, om := range oracleModels(t) {
		for trial := 0; trial < 40; trial++ {
			p, ids := randomPrompt(om.m, r, 1+r.Intn(40), 40)
			sizes := map[string][2]int{}
			om.ref.Forward(ids, func(path string, x [][]float64) [][]float64 {
				sizes[path] = [2]int{len(x), len(x[0])}
				return nil
			})
			edits := randomEdits(om, r, sizes)
			for _, e := range edits {
				kinds[e.kind]++
			}
			var hidden, logits *Tensor
			om.m.Trace(p, func(tr *Tracer) {
				for _, e := range edits {
					e.apply(om, nnShape(om, e.path, sizes[e.path][0], sizes[e.path][1]))
				}
				hidden = om.m.Transformer.Output().Save()
				logits = om.m.Output().Save()
			})
			res := om.ref.Forward(ids, replayEdits(om.ref.NLayer, edits))
			desc := fmt.Sprintf("%s trial %d (%d tokens, edits %s)", om.name, trial, len(ids), describeEdits(edits))
			if e := rmsRel(hidden.Data(), flat(res.Hidden)); e > tolF32 {
				t.Errorf("%s: final hidden state differs by %.2e of RMS", desc, e)
			} else {
				w.add("hidden", e)
			}
			T := len(ids)
			for _, pos := range []int{T - 1, r.Intn(T)} {
				got := logits.Slice(fmt.Sprintf("0, %d, :", pos)).Data()
				if e := rmsRel(got, res.Logits(pos)); e > tolF32 {
					t.Errorf("%s: logits at position %d differ by %.2e of RMS", desc, pos, e)
				} else {
					w.add("logits", e)
				}
			}
		}
	}
	w.log(t)
}

func describeEdits(es []edit) string {
	var s []string
	for _, e := range es {
		x := e.kind + "@" + e.path
		if e.rows != nil {
			x += fmt.Sprint(e.rows)
		}
		s = append(s, x)
	}
	return strings.Join(s, ", ")
}

// TestOraclePatching: a clean activation saved in one trace and copied
// into a corrupt run at one position (or all) gives the float64 model's
// patched logits; patching a whole block output reproduces the clean
// logits.
func TestOraclePatching(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(3)))
	w := worst{}
	for _, om := range oracleModels(t) {
		for trial := 0; trial < 6; trial++ {
			T := 1 + r.Intn(24)
			_, a := randomPrompt(om.m, r, T, 40)
			_, b := randomPrompt(om.m, r, T, 40)
			T = min(len(a), len(b))
			clean, corrupt := a[:T], b[:T]
			L := om.ref.NLayer
			layer := r.Intn(L)
			sub := []string{"", ".attn", ".mlp"}[r.Intn(3)]
			path := fmt.Sprintf("transformer.h.%d%s", layer, sub)
			pos := r.Intn(T)
			all := trial%3 == 2
			var saved, cleanLogits, logits *Tensor
			om.m.Trace(clean, func(tr *Tracer) {
				saved = om.m.Module(path).Output().Save()
				cleanLogits = om.m.Output().Save()
			})
			om.m.Trace(corrupt, func(tr *Tracer) {
				out := om.m.Module(path).Output()
				if all {
					out.Copy(saved)
				} else {
					spec := fmt.Sprintf(":, %d, :", pos)
					out.Slice(spec).Copy(saved.Slice(spec))
				}
				logits = om.m.Output().Save()
			})
			var cleanAct [][]float64
			om.ref.Forward(clean, func(p string, x [][]float64) [][]float64 {
				if p == path {
					cleanAct = cloneRows(x)
				}
				return nil
			})
			res := om.ref.Forward(corrupt, func(p string, x [][]float64) [][]float64 {
				if p != path {
					return nil
				}
				if all {
					return cloneRows(cleanAct)
				}
				copy(x[pos], cleanAct[pos])
				return x
			})
			desc := fmt.Sprintf("%s: patching %s at position %d (all %v) of %d", om.name, path, pos, all, T)
			got := logits.Slice(fmt.Sprintf("0, %d, :", T-1)).Data()
			if e := rmsRel(got, res.Logits(T-1)); e > tolF32 {
				t.Errorf("%s: last logits differ from float64 by %.2e of RMS", desc, e)
			} else {
				w.add("patched logits", e)
			}
			if all && sub == "" {
				if e := rmsRel(logits.Data(), cleanLogits.Data()); e > tolF32 {
					t.Errorf("%s: patching the whole block output does not give the clean logits (%.2e of RMS)", desc, e)
				} else {
					w.add("whole-block patch vs clean", e)
				}
			}
		}
	}
	w.log(t)
}

// metric is a scalar of the logits, in the API and on the float64 model.
type metric struct {
	name string
	api  func(logits *Tensor) *Tensor
	ref  func(res *naive.Result) float64
}

func metrics(ids []int, r *rand.Rand, vocab int) []metric {
	T := len(ids)
	a, b := r.Intn(vocab), r.Intn(vocab)
	tok := r.Intn(vocab)
	ms := []metric{
		{"logits.Sum()", func(l *Tensor) *Tensor { return l.Sum() },
			func(res *naive.Result) float64 { return res.SumLogits() }},
		{fmt.Sprintf("logit diff %d-%d", a, b), func(l *Tensor) *Tensor {
			return l.Slice(fmt.Sprintf("0, -1, %d", a)).Sub(l.Slice(fmt.Sprintf("0, -1, %d", b)))
		}, func(res *naive.Result) float64 { l := res.Logits(T - 1); return l[a] - l[b] }},
		{fmt.Sprintf("log p(%d)", tok), func(l *Tensor) *Tensor {
			return l.Slice("0, -1, :").LogSoftmax().Slice(fmt.Sprint(tok))
		}, func(res *naive.Result) float64 { return logSoftmax(res.Logits(T - 1))[tok] }},
	}
	if T >= 2 && T <= 8 {
		targets := append(slices.Clone(ids[1:]), -100)
		ms = append(ms, metric{"next-token cross-entropy", func(l *Tensor) *Tensor {
			return CrossEntropy(l.Select(0, 0), targets)
		}, func(res *naive.Result) float64 {
			var s float64
			for t := 0; t+1 < T; t++ {
				s -= logSoftmax(res.Logits(t))[ids[t+1]]
			}
			return s / float64(T-1)
		}})
	}
	return ms
}

func logSoftmax(l []float64) []float64 {
	m := slices.Max(l)
	var z float64
	for _, v := range l {
		z += math.Exp(v - m)
	}
	out := make([]float64, len(l))
	for i, v := range l {
		out[i] = v - m - math.Log(z)
	}
	return out
}

// fdGrad is the central difference of f(output of path + h*e_{row,col}),
// with edits (all after path) replayed.
func fdGrad(ref *naive.Model, ids []int, path string, row, col int, edits []edit, f func(*naive.Result) float64) float64 {
	at := func(h float64) float64 {
		replay := replayEdits(ref.NLayer, edits)
		return f(ref.Forward(ids, func(p string, x [][]float64) [][]float64 {
			if p == path {
				x[row][col] += h
			}
			return replay(p, x)
		}))
	}
	return (at(fdEps) - at(-fdEps)) / (2 * fdEps)
}

// coords picks n coordinates of a rows x cols gradient, the largest among
// them.
func coords(r *rand.Rand, g []float64, rows, cols, n int) [][2]int {
	big := 0
	for i := range g {
		if math.Abs(g[i]) > math.Abs(g[big]) {
			big = i
		}
	}
	out := [][2]int{{big / cols, big % cols}}
	for len(out) < n {
		out = append(out, [2]int{r.Intn(rows), r.Intn(cols)})
	}
	return out
}

// fdErr is the error of a gradient entry against finite differences,
// relative to the gradient's RMS, or to the entry itself where it is far
// larger (one row of lm_head's gradient, the target's, dwarfs the rest).
func fdErr(got, fd, rms float64) float64 {
	return math.Abs(got-fd) / math.Max(math.Max(rms, math.Abs(fd)), 1e-12)
}

func rms(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s / float64(max(1, len(v))))
}

// gradPaths are the module outputs gradients are taken at.
func gradPaths(L int, r *rand.Rand) string {
	l := r.Intn(L)
	subs := []string{"", "", ".attn", ".mlp", ".mlp.act", ".ln_1", ".attn.attn_dropout", ".attn.c_attn"}
	if r.Intn(8) == 0 {
		return []string{"transformer.drop", "transformer.wte", "transformer.ln_f"}[r.Intn(3)]
	}
	return fmt.Sprintf("transformer.h.%d%s", l, subs[r.Intn(len(subs))])
}

// TestOracleGradients: the gradient of a scalar of the logits with respect
// to a module output, read in a backward block, equals central differences
// of the float64 model at a few coordinates.
func TestOracleGradients(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(4)))
	w := worst{}
	cut, inPlacePattern := 0, 0
	defer func() {
		t.Logf("%d cases where edits cut the module from the loss, %d refused in-place edits of a pattern needed by the backward", cut, inPlacePattern)
	}()
	for _, om := range oracleModels(t) {
		for trial := 0; trial < 5; trial++ {
			n := []int{1, 3, 6, 12, 30}[trial]
			p, ids := randomPrompt(om.m, r, n, 40)
			sizes := map[string][2]int{}
			om.ref.Forward(ids, func(path string, x [][]float64) [][]float64 {
				sizes[path] = [2]int{len(x), len(x[0])}
				return nil
			})
			for _, mt := range metrics(ids, r, om.ref.VocabSize) {
				path := gradPaths(om.ref.NLayer, r)
				// Half the time, edits after path: the gradient flows
				// through what the edited model computes.
				var edits []edit
				if r.Intn(2) == 0 {
					at := slices.Index(om.ref.Paths(), path)
					for _, e := range randomEdits(om, r, sizes) {
						if slices.Index(om.ref.Paths(), e.path) > at && !strings.HasPrefix(e.path, path+".") && !strings.HasPrefix(path, e.path+".") {
							edits = append(edits, e)
						}
					}
				}
				var g *Tensor
				var loss float64
				grad := r.Intn(2) == 0
				var traceErr error
				func() {
					defer func() {
						if r := recover(); r != nil {
							e, ok := r.(*Error)
							if !ok {
								panic(r)
							}
							traceErr = e
						}
					}()
					om.m.Trace(p, func(tr *Tracer) {
						hs := om.m.Module(path).Output()
						if grad {
							hs.RequiresGrad() // touched activations require grad anyway
						}
						for _, e := range edits {
							e.apply(om, nnShape(om, e.path, sizes[e.path][0], sizes[e.path][1]))
						}
						l := mt.api(om.m.Output())
						loss = l.Item()
						l.Backward(func() { g = hs.Grad().Save() })
					})
				}()
				desc := fmt.Sprintf("%s %q (%d tokens): d(%s)/d(%s), edits %s", om.name, p, len(ids), mt.name, path, describeEdits(edits))
				if traceErr != nil {
					// An edit cut every path from the module to the loss
					// (a Skip or replacement downstream): the API says no
					// gradient reached it, and the float64 loss must not
					// depend on it.
					if strings.Contains(traceErr.Error(), `saved by "causal_softmax"`) && editsPatternInPlace(edits) {
						// As in PyTorch: softmax keeps its output for the
						// backward, and attn_dropout (the identity in
						// eval) hands out that very tensor.
						inPlacePattern++
						continue
					}
					if !strings.Contains(traceErr.Error(), "no gradient reached it") {
						t.Errorf("%s: %v", desc, traceErr)
						continue
					}
					rows, cols := sizes[path][0], sizes[path][1]
					for k := 0; k < 3; k++ {
						if fd := fdGrad(om.ref, ids, path, r.Intn(rows), r.Intn(cols), edits, mt.ref); fd != 0 {
							t.Errorf("%s: the API found no gradient, but the float64 loss depends on the module (%g)", desc, fd)
						}
					}
					cut++
					continue
				}
				res := om.ref.Forward(ids, replayEdits(om.ref.NLayer, edits))
				if want := mt.ref(res); math.Abs(loss-want) > tolF32*math.Max(1, math.Abs(want)) {
					t.Errorf("%s: metric %.6g, float64 %.6g", desc, loss, want)
				}
				gd := g.Data()
				shape := g.Shape()
				cols := shape[len(shape)-1]
				rows := len(gd) / cols
				scale := rms(gd)
				for _, c := range coords(r, gd, rows, cols, 4) {
					fd := fdGrad(om.ref, ids, path, c[0], c[1], edits, mt.ref)
					got := gd[c[0]*cols+c[1]]
					e := fdErr(got, fd, scale)
					if e > tolFD {
						t.Errorf("%s at %v: %.6g, finite differences %.6g (%.2e of the gradient's RMS %.3g)", desc, c, got, fd, e, scale)
					} else {
						w.add("grad vs FD", e)
						if len(edits) > 0 {
							w.add("grad with edits vs FD", e)
						}
					}
				}
			}
		}
	}
	w.log(t)
}

// editsPatternInPlace reports whether an edit writes into an attention
// pattern in place.
func editsPatternInPlace(edits []edit) bool {
	for _, e := range edits {
		if strings.HasSuffix(e.path, "attn_dropout") && (e.kind == "zero" || e.kind == "row" || e.kind == "affineInPlace") {
			return true
		}
	}
	return false
}

// TestOracleGradientEdit: editing a later layer's gradient in a backward
// block changes what reaches an earlier layer exactly as the chain rule
// says: the earlier gradient becomes the vector-Jacobian product of the
// edited gradient (checked by finite differences of <edited gradient,
// later output> on the float64 model); zeroing it everywhere leaves zero.
func TestOracleGradientEdit(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(5)))
	w := worst{}
	for _, om := range oracleModels(t) {
		for trial := 0; trial < 4; trial++ {
			p, ids := randomPrompt(om.m, r, 2+r.Intn(20), 40)
			T := len(ids)
			L := om.ref.NLayer
			i := r.Intn(L - 1)
			j := i + 1 + r.Intn(L-1-i)
			pi, pj := fmt.Sprintf("transformer.h.%d", i), fmt.Sprintf("transformer.h.%d", j)
			mode := []string{"zero positions", "SetGrad", "zero all", "scale"}[trial]
			zero := r.Perm(T)[:1+r.Intn(T)]
			C := om.ref.NEmbd
			repl := randVec(r, T*C, 1)
			var gi, gj *Tensor
			om.m.Trace(p, func(tr *Tracer) {
				hi := om.m.Module(pi).Output()
				hj := om.m.Module(pj).Output()
				loss := om.m.Output().Slice("0, -1, :").LogSoftmax().Slice(fmt.Sprint(ids[0]))
				loss.Backward(func() {
					switch mode {
					case "SetGrad":
						hj.SetGrad(NewTensor(repl, 1, T, C))
						gj = NewTensor(repl, 1, T, C).Save()
					default:
						g := hj.Grad()
						switch mode {
						case "zero all":
							g.Fill(0)
						case "scale":
							g.Copy(g.Mul(-3))
						default:
							for _, q := range zero {
								g.Slice(fmt.Sprintf(":, %d, :", q)).Fill(0)
							}
						}
						gj = g.Clone().Save()
					}
					gi = hi.Grad().Save()
				})
			})
			desc := fmt.Sprintf("%s %q: %s at %s, gradient at %s", om.name, p, mode, pj, pi)
			gd := gi.Data()
			if mode == "zero all" {
				if m := slices.Max(gd); m != 0 || slices.Min(gd) != 0 {
					t.Errorf("%s: not zero (range %g..%g)", desc, slices.Min(gd), m)
				}
				continue
			}
			mj := gj.Data()
			// F(h_i) = <m_j, h_j(h_i)> with m_j held constant.
			F := func(h float64, row, col int) float64 {
				var s float64
				om.ref.Forward(ids, func(path string, x [][]float64) [][]float64 {
					if path == pi {
						x[row][col] += h
					}
					if path == pj {
						for a := range x {
							for b := range x[a] {
								s += mj[a*C+b] * x[a][b]
							}
						}
					}
					return nil
				})
				return s
			}
			scale := rms(gd)
			for _, c := range coords(r, gd, T, C, 4) {
				fd := (F(fdEps, c[0], c[1]) - F(-fdEps, c[0], c[1])) / (2 * fdEps)
				got := gd[c[0]*C+c[1]]
				e := fdErr(got, fd, scale)
				if e > tolFD {
					t.Errorf("%s at %v: %.6g, expected %.6g (%.2e of RMS %.3g)", desc, c, got, fd, e, scale)
				} else {
					w.add("edited grad vs FD", e)
				}
			}
		}
	}
	w.log(t)
}

// TestOracleBatching: invokes of different lengths in one batched trace
// give each row what its prompt gives alone (activations, attention
// pattern, logits, gradients), with an edit in some invokes only; a
// backward pass after the trace reads every invoke's gradient.
func TestOracleBatching(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(6)))
	w := worst{}
	for _, om := range oracleModels(t) {
		L := om.ref.NLayer
		var prompts []string
		for _, n := range []int{7, 1, 23, 3} {
			p, _ := randomPrompt(om.m, r, n, 40)
			prompts = append(prompts, p)
		}
		layer := 1 + r.Intn(L-1)
		editLayer := r.Intn(layer + 1)
		type got struct{ hs, pat, logits, grad *Tensor }
		body := func(k int, g *got) {
			edit := func() {
				if k%2 == 1 {
					om.m.Transformer.H.At(editLayer).Output().Slice(":, 0, :").Fill(0)
				}
			}
			blk := om.m.Transformer.H.At(layer)
			if editLayer < layer {
				edit()
			}
			g.pat = blk.Attn.AttnDropout.Output().Save()
			if editLayer == layer {
				edit()
			}
			g.hs = blk.Output().Save()
			g.logits = om.m.Output().Save()
		}
		loss := func(k int, logits *Tensor) *Tensor {
			if k%2 == 0 {
				return logits.Sum()
			}
			return logits.Slice("0, -1, :").LogSoftmax().Slice("42")
		}
		single := make([]got, len(prompts))
		for k, p := range prompts {
			om.m.Trace(p, func(tr *Tracer) {
				body(k, &single[k])
				loss(k, single[k].logits).Backward(func() { single[k].grad = single[k].hs.Grad().Save() })
			})
		}
		batch := make([]got, len(prompts))
		om.m.Trace(nil, func(tr *Tracer) {
			for k, p := range prompts {
				tr.Invoke(p, func() { body(k, &batch[k]) })
			}
		})
		total := loss(0, batch[0].logits)
		for k := 1; k < len(prompts); k++ {
			total = total.Add(loss(k, batch[k].logits))
		}
		total.Backward(func() {
			for k := range batch {
				batch[k].grad = batch[k].hs.Grad().Save()
			}
		})
		for k := range prompts {
			for _, c := range []struct {
				what      string
				got, want *Tensor
			}{{"block output", batch[k].hs, single[k].hs}, {"attention pattern", batch[k].pat, single[k].pat},
				{"logits", batch[k].logits, single[k].logits}, {"gradient", batch[k].grad, single[k].grad}} {
				if !slices.Equal(c.got.Shape(), c.want.Shape()) {
					t.Errorf("%s invoke %d %q: %s shape %v, alone %v", om.name, k, prompts[k], c.what, c.got.Shape(), c.want.Shape())
					continue
				}
				if e := rmsRel(c.got.Data(), c.want.Data()); e > tolF32 {
					t.Errorf("%s invoke %d %q: batched %s differs from the prompt alone by %.2e of RMS", om.name, k, prompts[k], c.what, e)
				} else {
					w.add(c.what, e)
				}
			}
		}
		// The single traces themselves against float64, for the edited
		// invokes (the others are TestOracleForward's).
		for k, p := range prompts {
			ids := om.m.Encode(p)
			res := om.ref.Forward(ids, func(path string, x [][]float64) [][]float64 {
				if k%2 == 1 && path == fmt.Sprintf("transformer.h.%d", editLayer) {
					clear(x[0])
				}
				return nil
			})
			T := len(ids)
			if e := rmsRel(single[k].logits.Slice(fmt.Sprintf("0, %d, :", T-1)).Data(), res.Logits(T-1)); e > tolF32 {
				t.Errorf("%s %q: edited logits differ from float64 by %.2e", om.name, p, e)
			} else {
				w.add("single vs float64", e)
			}
		}
	}
	w.log(t)
}

// TestOracleGenerate: greedy generation equals the argmax loop of the
// float64 model, alone, batched with left padding, and under a steering
// edit applied at every step (which the float64 model replays at every
// position of each full recomputation).
func TestOracleGenerate(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(8)))
	const N = 8
	eos := 50256
	for _, om := range oracleModels(t) {
		var prompts []string
		var idss [][]int
		for _, n := range []int{1, 9, 21} {
			p, ids := randomPrompt(om.m, r, n, 30)
			prompts, idss = append(prompts, p), append(idss, ids)
		}
		check := func(desc string, got, want []int, gaps []float64) {
			t.Helper()
			for s := 0; s < len(want); s++ {
				if s >= len(got) {
					t.Errorf("%s: %d tokens, want %v", desc, len(got), want)
					return
				}
				if got[s] != want[s] {
					if gaps[s] < 1e-3 {
						t.Logf("%s: step %d: %d vs float64 %d, a near tie (gap %.2g): stop comparing", desc, s, got[s], want[s], gaps[s])
						return
					}
					t.Errorf("%s: step %d: token %d, float64 argmax %d (gap %.3g); got %v want %v", desc, s, got[s], want[s], gaps[s], got, want)
					return
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s: %v, want %v", desc, got, want)
			}
		}
		for k, p := range prompts {
			gen := om.m.Generate(p, MaxNewTokens(N))
			want, gaps := om.ref.Greedy(idss[k], N, eos, nil)
			check(fmt.Sprintf("%s %q", om.name, p), gen.NewTokens(), want, gaps)
		}
		// Batched, left padded.
		rows := om.m.Generate(prompts, MaxNewTokens(N), IgnoreEOS()).Rows()
		for k := range prompts {
			want, gaps := om.ref.Greedy(idss[k], N, -1, nil)
			if !slices.Equal(rows[k][:len(idss[k])], idss[k]) {
				t.Errorf("%s batched row %d: starts %v, want the prompt %v", om.name, k, rows[k], idss[k])
				continue
			}
			check(fmt.Sprintf("%s batched row %d", om.name, k), rows[k][len(idss[k]):], want, gaps)
		}
		// Steering: add a vector to a block's output at every step.
		layer := r.Intn(om.ref.NLayer)
		vec := randVec(r, om.ref.NEmbd, 2)
		steer := NewTensor(vec)
		gen := om.m.Generate(prompts[1], MaxNewTokens(N), func(tr *Tracer) {
			tr.Iter(func(step int) {
				out := om.m.Transformer.H.At(layer).Output()
				out.Copy(out.Add(steer))
			})
		})
		path := fmt.Sprintf("transformer.h.%d", layer)
		want, gaps := om.ref.Greedy(idss[1], N, eos, func(p string, x [][]float64) [][]float64 {
			if p == path {
				for i := range x {
					for j := range x[i] {
						x[i][j] += vec[j]
					}
				}
			}
			return nil
		})
		plain, _ := om.ref.Greedy(idss[1], N, eos, nil)
		if slices.Equal(want, plain) {
			t.Logf("%s: steering at %s did not change the float64 continuation", om.name, path)
		}
		check(fmt.Sprintf("%s steered at %s", om.name, path), gen.NewTokens(), want, gaps)
	}
}

// TestOracleParamGradients: with one parameter made to require grad
// (model.Param(name).RequiresGrad()), a backward pass accumulates its
// gradient, equal to central differences of the float64 model in that
// weight.
func TestOracleParamGradients(t *testing.T) {
	r := rand.New(rand.NewSource(oracleSeed(9)))
	w := worst{}
	for _, om := range oracleModels(t) {
		L := om.ref.NLayer
		names := []string{
			fmt.Sprintf("transformer.h.%d.mlp.c_proj.weight", r.Intn(L)),
			fmt.Sprintf("transformer.h.%d.mlp.c_fc.bias", r.Intn(L)),
			fmt.Sprintf("transformer.h.%d.attn.c_attn.weight", r.Intn(L)),
			fmt.Sprintf("transformer.h.%d.attn.c_proj.weight", r.Intn(L)),
			fmt.Sprintf("transformer.h.%d.ln_2.weight", r.Intn(L)),
			"transformer.wpe.weight", "transformer.ln_f.bias", "lm_head.weight",
		}
		for k, name := range names {
			p, ids := randomPrompt(om.m, r, 2+r.Intn(30), 40)
			T := len(ids)
			tok := r.Intn(om.ref.VocabSize)
			refName := strings.TrimPrefix(name, "transformer.")
			if refName == "lm_head.weight" && !om.ref.Untied {
				refName = "wte.weight"
			}
			param := om.m.Param(name)
			param.Engine().ZeroGrad()
			param.RequiresGrad()
			func() {
				defer func() { om.m.SetRequiresGrad(false); param.Engine().ZeroGrad() }()
				var loss *Tensor
				om.m.Trace(p, func(tr *Tracer) {
					loss = om.m.Output().Slice("0, -1, :").LogSoftmax().Slice(fmt.Sprint(tok))
					if k%2 == 0 {
						loss.Backward(nil)
					} else {
						loss.Save()
					}
				})
				if k%2 == 1 {
					loss.Backward(nil) // after the trace, on the saved graph
				}
				g := param.AccumulatedGrad()
				if g == nil {
					t.Errorf("%s %s: no accumulated gradient", om.name, name)
					return
				}
				gd := g.Data()
				f := func(res *naive.Result) float64 { return logSoftmax(res.Logits(T - 1))[tok] }
				wv := om.ref.W[refName]
				scale := rms(gd)
				cols := len(gd)
				for _, c := range coords(r, gd, 1, cols, 4) {
					i := c[1]
					orig := wv[i]
					wv[i] = orig + fdEps
					up := f(om.ref.Forward(ids, nil))
					wv[i] = orig - fdEps
					down := f(om.ref.Forward(ids, nil))
					wv[i] = orig
					fd := (up - down) / (2 * fdEps)
					e := fdErr(gd[i], fd, scale)
					if e > tolFD {
						t.Errorf("%s %q: d(log p)/d(%s)[%d] = %.6g, finite differences %.6g (%.2e of RMS %.3g)", om.name, p, name, i, gd[i], fd, e, scale)
					} else {
						w.add("param grad vs FD", e)
					}
				}
			}()
		}
	}
	w.log(t)
}
