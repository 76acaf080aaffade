// Package nnscope is the API intervention scripts use: load GPT-2, trace
// it with bodies that read and edit module inputs, outputs and gradients
// while the model runs, and generate text under interventions.
//
//	model := nnscope.LanguageModel("openai-community/gpt2")
//	var grad *nnscope.Tensor
//	model.Trace("The Eiffel Tower is in the city of", func(tr *nnscope.Tracer) {
//		hs := model.Transformer.H.At(-1).Output()
//		hs.RequiresGrad()
//		loss := model.LMHead.Output().Sum()
//		loss.Backward(func() { grad = hs.Grad().Save() })
//	})
//	fmt.Println(grad.Shape()) // [1 10 768]
package nnscope

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"nnscope/gpt2"
	"nnscope/hub"
	rt "nnscope/runtime"
)

// Model is a GPT-2 language model with its tokenizer and module envoys,
// the handles scripts use to reach modules by Hugging Face name.
type Model struct {
	Transformer *TransformerEnvoy
	LMHead      *Envoy

	g      *gpt2.Model
	tok    *gpt2.Tokenizer
	path   string
	envoys map[*rt.Module]*Envoy
	root   *Envoy
	tf32   bool // this model's passes on the GPU may use TF32 (TF32 option)

	lastShapes map[string][]int // module output shapes seen by the last trace
}

// Option configures LanguageModel.
type Option func(*modelOptions)

type modelOptions struct {
	device   string
	revision string
	progress bool
	tf32     bool
}

// Device selects where the model runs: "cpu" (default) or "cuda". The
// environment variable NNSCOPE_DEVICE sets the default.
func Device(name string) Option { return func(o *modelOptions) { o.device = name } }

// TF32 lets GPU matrix products use TF32 tensor cores: several times
// faster, about 1e-3 relative error. The default is strict FP32. It holds
// for the traces, generations and module calls (Envoy.Call) of the model
// loaded with it; other models keep their own setting.
func TF32() Option { return func(o *modelOptions) { o.tf32 = true } }

// useGEMMPrecision sets the GPU's GEMM precision to the model's (TF32
// option), not that of whichever model ran last: before each of its
// passes and module calls.
func (m *Model) useGEMMPrecision() {
	if m.g.Device() != "cuda" {
		return
	}
	if err := rt.SetTF32(m.tf32); err != nil {
		fail("device", "%v", err)
	}
}

// Revision selects a Hub branch, tag or commit (default "main").
func Revision(rev string) Option { return func(o *modelOptions) { o.revision = rev } }

var (
	modelsMu sync.Mutex
	models   = map[string]*gpt2.Model{} // loaded once per process and path
)

// LanguageModel loads GPT-2 from a local folder (config.json and
// model.safetensors) or a Hugging Face Hub id, found in the Hugging Face
// cache or downloaded into it. Loading the same model twice in a process
// (a REPL session re-running a cell) reuses the first load.
func LanguageModel(path string, opts ...Option) *Model {
	env := os.Getenv("NNSCOPE_DEVICE")
	o := modelOptions{device: env, progress: true}
	for _, f := range opts {
		f(&o)
	}
	from := "" // where the device was chosen, when not by Device(...)
	if o.device == env && env != "" {
		from = " (from NNSCOPE_DEVICE)"
	}
	dev, err := rt.DeviceName(o.device)
	if err != nil {
		fail("device", "LanguageModel(%q): %v%s", path, err, from)
	}
	if dev == "cuda" {
		if _, err := rt.GPU(); err != nil {
			fail("device", "LanguageModel(%q): device \"cuda\"%s is not available here: %v", path, from, err)
		}
	}
	key := path
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		// One folder, however it is spelled ("testdata/x", "./x/", an
		// absolute path), is one model: loaded once.
		if abs, err := filepath.Abs(path); err == nil {
			key = abs
		}
	}
	key += "@" + o.revision + "@" + dev
	if dev == "cuda" {
		key += fmt.Sprint("#", rt.GPUEpoch())
	}
	modelsMu.Lock()
	g, ok := models[key]
	modelsMu.Unlock()
	if !ok {
		var err error
		g, err = gpt2.LoadPretrained(context.Background(), path, hub.Options{Revision: o.revision, Progress: os.Stderr})
		if err != nil {
			fail("load", "LanguageModel(%q): %v", path, err)
		}
		if dev != "cpu" {
			if g, err = g.To(dev); err != nil {
				fail("device", "LanguageModel(%q): %v", path, err)
			}
		}
		modelsMu.Lock()
		models[key] = g
		modelsMu.Unlock()
	}
	m := newModel(g, path)
	m.tf32 = o.tf32 && dev == "cuda"
	modelsMu.Lock()
	// Loading the same model again (a re-run cell) replaces its entry:
	// tools list each model once, with the newest traces.
	loaded = slices.DeleteFunc(loaded, func(o *Model) bool { return o.g == g })
	loaded = append(loaded, m)
	modelsMu.Unlock()
	return m
}

// loaded lists the models scripts created, newest last, for tools (the
// REPL's :modules and completion).
var loaded []*Model

// LoadedModels returns the models created with LanguageModel in this
// process.
func LoadedModels() []*Model {
	modelsMu.Lock()
	defer modelsMu.Unlock()
	return append([]*Model(nil), loaded...)
}

// Path returns the id or folder the model was loaded from.
func (m *Model) Path() string { m.loaded("Path"); return m.path }

// OutputShapes returns the output shape of every module the last trace or
// generation ran, by path (empty before any trace).
func (m *Model) OutputShapes() map[string][]int {
	m.loaded("OutputShapes")
	out := make(map[string][]int, len(m.lastShapes))
	for k, v := range m.lastShapes {
		out[k] = append([]int(nil), v...)
	}
	return out
}

// FromGPT2 wraps an already loaded model (for Go programs and tests).
func FromGPT2(g *gpt2.Model) *Model { return newModel(g, "") }

func newModel(g *gpt2.Model, path string) *Model {
	tok := g.Tokenizer
	if tok == nil {
		var err error
		if tok, err = gpt2.NewTokenizer(); err != nil {
			fail("load", "%v", err)
		}
	}
	m := &Model{g: g, tok: tok, path: path, envoys: map[*rt.Module]*Envoy{}, lastShapes: map[string][]int{}}
	g.Root.Walk(func(mod *rt.Module) { m.envoys[mod] = &Envoy{model: m, mod: mod} })
	m.root = m.envoys[g.Root]
	t := &TransformerEnvoy{Envoy: m.envoys[g.Transformer],
		WTE: m.envoys[g.WTE], WPE: m.envoys[g.WPE], Drop: m.envoys[g.Drop], LnF: m.envoys[g.LnF]}
	t.H = &ModuleList{Envoy: m.envoys[g.H]}
	for _, b := range g.Blocks {
		t.H.blocks = append(t.H.blocks, &BlockEnvoy{
			Envoy: m.envoys[b.Module], Ln1: m.envoys[b.Ln1], Ln2: m.envoys[b.Ln2],
			Attn: &AttentionEnvoy{Envoy: m.envoys[b.Attn], CAttn: m.envoys[b.CAttn], CProj: m.envoys[b.AttnCProj],
				AttnDropout: m.envoys[b.AttnDrop], ResidDropout: m.envoys[b.ResidDrop]},
			MLP: &MLPEnvoy{Envoy: m.envoys[b.MLP], CFc: m.envoys[b.CFc], Act: m.envoys[b.Act],
				CProj: m.envoys[b.MLPCProj], Dropout: m.envoys[b.MLPDrop]},
		})
	}
	m.Transformer = t
	m.LMHead = m.envoys[g.LMHead]
	return m
}

// Output waits until the whole model has run and returns its logits
// [batch, positions, vocabulary] (nnsight's model.output.logits); edits and
// SetOutput change what the trace returns.
func (m *Model) Output() *Tensor { m.loaded("Output"); return m.root.Output() }

// Input returns the token ids the model runs on, as a float tensor
// [batch, positions] on the model's device (waits for the start of the
// forward pass). Edits in place change what the model runs on.
func (m *Model) Input() *Tensor { m.loaded("Input"); return m.root.Input() }

// Device returns where the model runs: "cpu" or "cuda".
func (m *Model) Device() string { m.loaded("Device"); return m.g.Device() }

// Config returns the model's shape.
func (m *Model) Config() gpt2.Config { m.loaded("Config"); return m.g.Config }

// Module reaches any module by its Hugging Face path, e.g.
// "transformer.h.-1.mlp" (negative indices count from the end). Paths as
// nnsight writes them are accepted too: "model.transformer.h.0" (the
// prefix of its error messages) and "transformer.h[0].mlp".
func (m *Model) Module(path string) *Envoy {
	m.loaded("Module")
	p := modulePath(path)
	mod := m.g.Root.Find(p)
	if mod == nil {
		fail("usage", "no module %q in the model%s (see model.Modules() for the tree)", path, moduleHint(m.g.Root, p, false))
	}
	return m.envoys[mod]
}

// Modules lists every module path in execution-tree order.
func (m *Model) Modules() []string {
	m.loaded("Modules")
	var out []string
	m.g.Root.Walk(func(mod *rt.Module) {
		if mod.Path != "" {
			out = append(out, mod.Path)
		}
	})
	return out
}

// String prints the module tree like PyTorch does.
func (m *Model) String() string {
	if m == nil {
		return "<nil model>"
	}
	return m.root.String()
}

// Encode tokenizes text with the model's tokenizer (its folder's, else
// GPT-2's).
func (m *Model) Encode(text string) []int {
	m.loaded("Encode")
	ids, err := m.tok.Encode(text)
	if err != nil {
		fail("usage", "Encode: %v", err)
	}
	if n := m.g.Config.VocabSize; n > 0 && m.tok.Builtin() {
		for _, id := range ids {
			if id >= n {
				fail("usage", "Encode: GPT-2's tokenizer gives token %d for this text, but the model's vocab_size is %d: its folder has no tokenizer files of its own (tokenizer.json, or vocab.json and merges.txt), so nnscope used GPT-2's; add the model's tokenizer files, or give token ids", id, n)
			}
		}
	}
	return ids
}

// Decode turns token ids into text.
func (m *Model) Decode(ids ...int) string {
	m.loaded("Decode")
	s, err := m.tok.Decode(ids)
	if err != nil {
		fail("usage", "Decode: %v", err)
	}
	return s
}

// Token returns the single token id of text (e.g. " Paris"); it fails if
// text is not exactly one token.
func (m *Model) Token(text string) int {
	m.loaded("Token")
	ids := m.Encode(text)
	if len(ids) != 1 {
		fail("usage", "Token(%q): the text is %d tokens %v, not one", text, len(ids), ids)
	}
	return ids[0]
}

// Param returns a parameter by Hugging Face name
// ("transformer.h.0.attn.c_attn.weight").
// Tied weights answer under every name the module tree gives them
// ("lm_head.weight" is "transformer.wte.weight" in GPT-2).
func (m *Model) Param(name string) *Tensor {
	m.loaded("Param")
	var found *rt.Tensor
	m.g.Root.Walk(func(mod *rt.Module) {
		for _, p := range mod.Params {
			full := p.Name
			if mod.Path != "" {
				full = mod.Path + "." + p.Name
			}
			if full == name && found == nil {
				found = p.Tensor
			}
		}
	})
	if found == nil {
		fail("usage", "no parameter %q (names look like \"transformer.h.0.attn.c_attn.weight\"; fmt.Println(model) lists each module's parameters)", name)
	}
	return wrap(found, nil)
}

// SetRequiresGrad turns gradient tracking of every parameter on or off
// (off by default, so backward passes compute only what is asked for).
func (m *Model) SetRequiresGrad(on bool) { m.loaded("SetRequiresGrad"); m.g.SetRequiresGrad(on) }

// inputRows converts a trace or generation input to token rows; every row
// must hold at least one token.
func (m *Model) inputRows(input any) [][]int {
	rows := m.rawRows(input)
	if len(rows) == 0 {
		fail("usage", "the input holds no prompts")
	}
	cfg := m.g.Config
	for i, r := range rows {
		name := fmt.Sprintf("input %d", i)
		if len(rows) == 1 {
			name = "the input"
		}
		if len(r) == 0 {
			fail("usage", "%s is empty: it has no tokens (GPT-2 needs at least one)", name)
		}
		if cfg.NPositions > 0 && len(r) > cfg.NPositions {
			fail("usage", "%s has %d tokens, more than the model's n_positions %d: shorten it", name, len(r), cfg.NPositions)
		}
		for _, id := range r {
			if cfg.VocabSize > 0 && (id < 0 || id >= cfg.VocabSize) {
				fail("usage", "%s: token id %d out of range [0, %d)", name, id, cfg.VocabSize)
			}
		}
	}
	return rows
}

func (m *Model) rawRows(input any) [][]int {
	switch v := input.(type) {
	case string:
		return [][]int{m.Encode(v)}
	case []string:
		rows := make([][]int, len(v))
		for i, s := range v {
			rows[i] = m.Encode(s)
		}
		return rows
	case []int:
		return [][]int{append([]int(nil), v...)}
	case [][]int:
		rows := make([][]int, len(v))
		for i, r := range v {
			rows[i] = append([]int(nil), r...)
		}
		return rows
	case *Tensor:
		t := v.use("input")
		if d := t.Dim(); d != 1 && d != 2 {
			break
		}
		vals := t.Float64s() // one read (a download on the GPU)
		ids := make([]int, len(vals))
		for i, f := range vals {
			if f != math.Trunc(f) || math.IsInf(f, 0) { // NaN too
				fail("usage", "a tensor input holds token ids, whole numbers, got %v", f)
			}
			ids[i] = int(f)
		}
		if t.Dim() == 1 {
			return [][]int{ids}
		}
		rows := make([][]int, t.Shape()[0])
		n := t.Shape()[1]
		for i := range rows {
			rows[i] = ids[i*n : (i+1)*n : (i+1)*n]
		}
		return rows
	}
	fail("usage", "input must be a string, []string, []int, [][]int or a tensor of ids, got %T", input)
	return nil
}

// Envoy is a handle on one module: read and replace its input and output
// inside a trace.
type Envoy struct {
	model *Model
	mod   *rt.Module
}

// Name returns the module's Hugging Face path.
func (e *Envoy) Name() string {
	if e.mod.Path == "" {
		return "model"
	}
	return e.mod.Path
}

// Type returns the module's Hugging Face class name.
func (e *Envoy) Type() string { return e.mod.Type }

// Children returns the direct submodules.
func (e *Envoy) Children() []*Envoy {
	out := make([]*Envoy, len(e.mod.Children))
	for i, c := range e.mod.Children {
		out[i] = e.model.envoys[c]
	}
	return out
}

// brackets turns nnsight's "h[0]" into our "h.0".
var brackets = strings.NewReplacer("[", ".", "]", "")

// modulePath turns nnsight's spellings of a module path into ours:
// without its "model." prefix, and "h[0]" as "h.0".
func modulePath(path string) string {
	if path == "model" {
		return ""
	}
	path = strings.TrimPrefix(path, "model.")
	if strings.Contains(path, "[") {
		path = brackets.Replace(path)
	}
	return path
}

// Module reaches a submodule by a relative path ("mlp.c_fc", "h[0]").
func (e *Envoy) Module(path string) *Envoy {
	if e.mod.Path == "" {
		path = modulePath(path) // the model's own envoy: as model.Module
	} else if strings.Contains(path, "[") {
		path = strings.TrimPrefix(brackets.Replace(path), ".")
	}
	mod := e.mod.Find(path)
	if mod == nil {
		fail("usage", "no module %q under %q%s", path, e.Name(), moduleHint(e.mod, path, false))
	}
	return e.model.envoys[mod]
}

// String prints the module and its children.
func (e *Envoy) String() string {
	var b strings.Builder
	var rec func(mod *rt.Module, depth int)
	rec = func(mod *rt.Module, depth int) {
		name := mod.Name
		if name == "" {
			name = "model"
		}
		fmt.Fprintf(&b, "%s(%s): %s", strings.Repeat("  ", depth), name, mod.Type)
		for _, p := range mod.Params {
			fmt.Fprintf(&b, " %s%v", p.Name, p.Tensor.Shape())
		}
		b.WriteString("\n")
		for _, c := range mod.Children {
			rec(c, depth+1)
		}
	}
	rec(e.mod, 0)
	return strings.TrimRight(b.String(), "\n")
}

// TransformerEnvoy is transformer (GPT2Model).
type TransformerEnvoy struct {
	*Envoy
	WTE, WPE, Drop *Envoy
	H              *ModuleList
	LnF            *Envoy
}

// ModuleList is transformer.h, the blocks.
type ModuleList struct {
	*Envoy
	blocks []*BlockEnvoy
}

// At returns block i (negative counts from the end).
func (l *ModuleList) At(i int) *BlockEnvoy {
	j := i
	if j < 0 {
		j += len(l.blocks)
	}
	if j < 0 || j >= len(l.blocks) {
		fail("usage", "transformer.h has %d blocks; index %d is out of range", len(l.blocks), i)
	}
	return l.blocks[j]
}

// Len returns the number of blocks.
func (l *ModuleList) Len() int { return len(l.blocks) }

// BlockEnvoy is one GPT2Block.
type BlockEnvoy struct {
	*Envoy
	Ln1  *Envoy
	Attn *AttentionEnvoy
	Ln2  *Envoy
	MLP  *MLPEnvoy
}

// AttentionEnvoy is GPT2Attention. AttnDropout's output is the attention
// pattern [batch, heads, query, key].
type AttentionEnvoy struct {
	*Envoy
	CAttn, CProj, AttnDropout, ResidDropout *Envoy
}

// MLPEnvoy is GPT2MLP.
type MLPEnvoy struct {
	*Envoy
	CFc, Act, CProj, Dropout *Envoy
}

// loaded fails clearly when a method is called on a nil *Model: in a REPL
// or notebook, a LanguageModel call that failed leaves its variable nil.
func (m *Model) loaded(op string) {
	if m == nil {
		fail("usage", "%s on a nil *nnscope.Model: the model is not loaded (did LanguageModel fail earlier?)", op)
	}
}
