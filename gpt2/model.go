package gpt2

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"

	rt "nnscope/runtime"
)

// Model is GPT2LMHeadModel. Its module tree mirrors Hugging Face's names
// and nesting, and every module call goes through runtime.Call, the one
// hook point interventions use.
type Model struct {
	Config Config
	W      Weights

	Root        *rt.Module // the GPT2LMHeadModel itself (path "")
	Transformer *rt.Module
	WTE, WPE    *rt.Module
	Drop        *rt.Module
	H           *rt.Module // the ModuleList
	Blocks      []*Block
	LnF         *rt.Module
	LMHead      *rt.Module

	// Tokenizer is the folder's (LoadTokenizer) for a loaded model, GPT-2's
	// for one built with New.
	Tokenizer *Tokenizer

	closer io.Closer
}

// Block is one transformer layer (GPT2Block) and its submodules.
type Block struct {
	Module                                *rt.Module
	Ln1, Attn, Ln2, MLP                   *rt.Module
	CAttn, AttnCProj, AttnDrop, ResidDrop *rt.Module
	CFc, Act, MLPCProj, MLPDrop           *rt.Module
	prefix                                string
}

// Load reads config.json, generation_config.json when there is one (its
// end-of-text ids and decoding defaults, Config.Generation),
// model.safetensors and the tokenizer files (see LoadTokenizer) from a
// folder.
func Load(dir string) (*Model, error) {
	c, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	if c, err = applyGenerationConfig(filepath.Join(dir, GenerationConfigFile), c); err != nil {
		return nil, err
	}
	// The weights first: they hold vocab_size rows, which bounds the
	// token ids (and so the memory) a tokenizer file can ask for.
	w, f, err := LoadWeights(filepath.Join(dir, "model.safetensors"), c)
	if err != nil {
		return nil, err
	}
	tok, err := LoadTokenizer(dir, c)
	if err != nil {
		f.Close()
		return nil, err
	}
	m := New(c, w)
	m.Tokenizer = tok
	m.closer = f
	return m, nil
}

// Close releases the weight file mapping. The model must not be used after.
func (m *Model) Close() error {
	if m.closer != nil {
		return m.closer.Close()
	}
	return nil
}

// New builds a model from a config and weights (see WeightShapes).
func New(c Config, w Weights) *Model {
	m := &Model{Config: c, W: w}
	m.Tokenizer, _ = NewTokenizer() // compiled in: fails only if the binary is broken
	if m.Tokenizer != nil {
		m.Tokenizer.fit(c)
	}
	m.Root = rt.NewModule(nil, "", "GPT2LMHeadModel")
	m.Transformer = rt.NewModule(m.Root, "transformer", "GPT2Model")
	m.WTE = rt.NewModule(m.Transformer, "wte", "Embedding")
	m.WPE = rt.NewModule(m.Transformer, "wpe", "Embedding")
	m.Drop = rt.NewModule(m.Transformer, "drop", "Dropout")
	m.H = rt.NewModule(m.Transformer, "h", "ModuleList")
	m.WTE.Params = []rt.NamedTensor{{Name: "weight", Tensor: w["wte.weight"]}}
	m.WPE.Params = []rt.NamedTensor{{Name: "weight", Tensor: w["wpe.weight"]}}
	for i := 0; i < c.NLayer; i++ {
		b := &Block{prefix: fmt.Sprintf("h.%d.", i)}
		b.Module = rt.NewModule(m.H, fmt.Sprint(i), "GPT2Block")
		b.Ln1 = rt.NewModule(b.Module, "ln_1", "LayerNorm")
		b.Attn = rt.NewModule(b.Module, "attn", "GPT2Attention")
		b.CAttn = rt.NewModule(b.Attn, "c_attn", "Conv1D")
		b.AttnCProj = rt.NewModule(b.Attn, "c_proj", "Conv1D")
		b.AttnDrop = rt.NewModule(b.Attn, "attn_dropout", "Dropout")
		b.ResidDrop = rt.NewModule(b.Attn, "resid_dropout", "Dropout")
		b.Ln2 = rt.NewModule(b.Module, "ln_2", "LayerNorm")
		b.MLP = rt.NewModule(b.Module, "mlp", "GPT2MLP")
		b.CFc = rt.NewModule(b.MLP, "c_fc", "Conv1D")
		b.MLPCProj = rt.NewModule(b.MLP, "c_proj", "Conv1D")
		b.Act = rt.NewModule(b.MLP, "act", actClass(c.ActivationFunction))
		b.MLPDrop = rt.NewModule(b.MLP, "dropout", "Dropout")
		for _, p := range []struct {
			mod  *rt.Module
			name string
		}{{b.Ln1, "ln_1"}, {b.Ln2, "ln_2"}, {b.CAttn, "attn.c_attn"}, {b.AttnCProj, "attn.c_proj"}, {b.CFc, "mlp.c_fc"}, {b.MLPCProj, "mlp.c_proj"}} {
			p.mod.Params = []rt.NamedTensor{
				{Name: "weight", Tensor: w[b.prefix+p.name+".weight"]},
				{Name: "bias", Tensor: w[b.prefix+p.name+".bias"]},
			}
		}
		m.Blocks = append(m.Blocks, b)
	}
	m.LnF = rt.NewModule(m.Transformer, "ln_f", "LayerNorm")
	m.LnF.Params = []rt.NamedTensor{{Name: "weight", Tensor: w["ln_f.weight"]}, {Name: "bias", Tensor: w["ln_f.bias"]}}
	m.LMHead = rt.NewModule(m.Root, "lm_head", "Linear")
	m.LMHead.Params = []rt.NamedTensor{{Name: "weight", Tensor: m.lmHeadWeight()}}
	return m
}

func (m *Model) lmHeadWeight() *rt.Tensor {
	if w, ok := m.W["lm_head.weight"]; ok {
		return w
	}
	return m.W["wte.weight"] // tied
}

// To moves the weights to device ("cpu" or "cuda") and returns a model
// that uses them; the original keeps its weights (the file mapping stays
// valid for the CPU copy).
func (m *Model) To(device string) (*Model, error) {
	dev, err := rt.DeviceName(device)
	if err != nil {
		return nil, err
	}
	w := Weights{}
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				e, ok := r.(*rt.Error)
				if !ok {
					panic(r)
				}
				err = e
			}
		}()
		for name, t := range m.W {
			w[name] = t.To(dev).Detach()
		}
		return nil
	}()
	if err != nil {
		return nil, fmt.Errorf("moving GPT-2 to %s: %w", dev, err)
	}
	out := New(m.Config, w)
	out.closer = m.closer
	out.Tokenizer = m.Tokenizer // the folder's, not GPT-2's that New gives
	return out, nil
}

// Device returns where the weights are.
func (m *Model) Device() string { return m.W["wte.weight"].Device() }

// Parameters lists every parameter once, by Hugging Face name.
func (m *Model) Parameters() []rt.NamedTensor {
	var out []rt.NamedTensor
	seen := map[*rt.Tensor]bool{}
	m.Root.Walk(func(mod *rt.Module) {
		for _, p := range mod.Params {
			if !seen[p.Tensor] {
				seen[p.Tensor] = true
				out = append(out, rt.NamedTensor{Name: mod.Path + "." + p.Name, Tensor: p.Tensor})
			}
		}
	})
	return out
}

// SetRequiresGrad turns gradient tracking of all parameters on or off.
func (m *Model) SetRequiresGrad(on bool) {
	for _, p := range m.Parameters() {
		p.Tensor.SetRequiresGrad(on)
	}
}

// Input is one forward pass's tokens: B rows of T ids, left padded.
type Input struct {
	IDs  [][]int
	Mask [][]float32 // 1 for real tokens, 0 for padding; nil = no padding
}

// Batch builds a left-padded input from rows of different lengths, so each
// row ends at the last position like the row alone would.
func Batch(rows [][]int, padID int) Input {
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	in := Input{IDs: make([][]int, len(rows)), Mask: make([][]float32, len(rows))}
	padded := false
	for b, r := range rows {
		ids, mask := make([]int, T), make([]float32, T)
		pad := T - len(r)
		for j := 0; j < T; j++ {
			if j < pad {
				ids[j] = padID
				padded = true
			} else {
				ids[j], mask[j] = r[j-pad], 1
			}
		}
		in.IDs[b], in.Mask[b] = ids, mask
	}
	if !padded {
		in.Mask = nil
	}
	return in
}

// positions gives each row its own position ids: real tokens count from 0
// (after any past tokens), so a padded row matches the row alone. This is
// where nnsight goes wrong for GPT-2 (it passes no position ids).
func positions(in Input, pastLen []int) [][]int {
	pos := make([][]int, len(in.IDs))
	for b, row := range in.IDs {
		p := make([]int, len(row))
		n := 0
		if pastLen != nil {
			n = pastLen[b]
		}
		for j := range row {
			if in.Mask != nil && in.Mask[b][pastOffset(in, b, j)] == 0 {
				p[j] = 1 // as Hugging Face: masked positions get 1, never used
				continue
			}
			p[j] = n
			n++
		}
		pos[b] = p
	}
	return pos
}

// pastOffset maps position j of the new tokens into the mask, which covers
// past and new tokens.
func pastOffset(in Input, b, j int) int {
	return len(in.Mask[b]) - len(in.IDs[b]) + j
}

// State carries a generation's KV cache between forward passes.
type State struct {
	keys, values []*rt.Tensor // per layer [B, H, Tpast, D]
	realPast     []int        // per row: non-padding tokens already seen
	mask         [][]float32  // per row: mask over all positions so far
}

// Len returns how many positions the cache holds.
func (s *State) Len() int {
	if s == nil || len(s.keys) == 0 || s.keys[0] == nil {
		return 0
	}
	return s.keys[0].Shape()[2]
}

// Forward runs the model and returns logits [B, T, V]. h receives every
// module call (nil for none). With st non-nil, keys and values are cached
// in it for generation.
func (m *Model) Forward(h rt.Hooks, in Input, st *State) *rt.Tensor {
	B := len(in.IDs)
	if B == 0 {
		panic(&rt.Error{Msg: "forward: empty batch"})
	}
	T := len(in.IDs[0])
	if T == 0 {
		panic(&rt.Error{Msg: "forward: empty input (no tokens)"})
	}
	for _, r := range in.IDs {
		if len(r) != T {
			panic(&rt.Error{Msg: "forward: rows of different lengths; use gpt2.Batch to pad them"})
		}
	}
	past := st.Len()
	if past+T > m.Config.NPositions {
		panic(&rt.Error{Msg: fmt.Sprintf("forward: %d positions exceed the model's n_positions %d", past+T, m.Config.NPositions)})
	}
	// The key mask spans past and new tokens.
	var mask [][]float32
	if in.Mask != nil || (st != nil && st.mask != nil) {
		mask = make([][]float32, B)
		for b := range mask {
			var prev []float32
			if st != nil && st.mask != nil {
				prev = st.mask[b]
			} else {
				prev = ones(past)
			}
			cur := ones(T)
			if in.Mask != nil {
				cur = in.Mask[b][len(in.Mask[b])-T:]
			}
			mask[b] = append(append([]float32(nil), prev...), cur...)
		}
	}
	var pastReal []int
	if st != nil && st.realPast != nil {
		pastReal = st.realPast
	} else if past > 0 {
		pastReal = make([]int, B)
		for b := range pastReal {
			pastReal[b] = past
		}
	}
	posIn := Input{IDs: in.IDs, Mask: mask}
	pos := positions(posIn, pastReal)

	ids := make([]float32, 0, B*T)
	pids := make([]float32, 0, B*T)
	for b := range in.IDs {
		for j := range in.IDs[b] {
			ids = append(ids, float32(in.IDs[b][j]))
			pids = append(pids, float32(pos[b][j]))
		}
	}
	idsT := rt.FromSlice(ids, B, T)
	posT := rt.FromSlice(pids, B, T)

	// The whole model is a module too (path ""): its input is the ids, its
	// output the logits, as nnsight's model.output.
	logits := rt.Call(h, m.Root, func(x []*rt.Tensor) *rt.Tensor {
		return m.body(h, x[0], posT, mask, st)
	}, idsT)

	if st != nil {
		st.mask = mask
		nr := make([]int, B)
		for b := range nr {
			n := 0
			if pastReal != nil {
				n = pastReal[b]
			}
			for j := 0; j < T; j++ {
				if mask == nil || mask[b][past+j] != 0 {
					n++
				}
			}
			nr[b] = n
		}
		st.realPast = nr
	}
	return logits
}

// body runs transformer and lm_head on ids (a float tensor of token ids).
func (m *Model) body(h rt.Hooks, ids, posT *rt.Tensor, mask [][]float32, st *State) *rt.Tensor {
	hidden := rt.Call(h, m.Transformer, func(x []*rt.Tensor) *rt.Tensor {
		tok := rt.Call(h, m.WTE, func(x []*rt.Tensor) *rt.Tensor {
			return embed(m.W["wte.weight"], x[0])
		}, x[0])
		pe := rt.Call(h, m.WPE, func(x []*rt.Tensor) *rt.Tensor {
			return embed(m.W["wpe.weight"], x[0])
		}, posT)
		hs := rt.Call(h, m.Drop, identity, tok.Add(pe))
		m.free(h, tok, pe)
		for i, blk := range m.Blocks {
			next := rt.Call(h, blk.Module, func(x []*rt.Tensor) *rt.Tensor {
				return m.block(h, i, blk, x[0], mask, st)
			}, hs)
			m.free(h, hs)
			hs = next
		}
		out := rt.Call(h, m.LnF, func(x []*rt.Tensor) *rt.Tensor {
			return rt.LayerNorm(x[0], m.W["ln_f.weight"], m.W["ln_f.bias"], m.Config.LayerNormEpsilon)
		}, hs)
		m.free(h, hs)
		return out
	}, ids)
	logits := rt.Call(h, m.LMHead, func(x []*rt.Tensor) *rt.Tensor {
		return rt.Linear(x[0], m.lmHeadWeight().T(), nil)
	}, hidden)
	m.free(h, hidden)
	return logits
}

func identity(x []*rt.Tensor) *rt.Tensor { return x[0] }

// free gives intermediates back to the buffer pool when nothing else can
// hold them: no autograd tape recorded them (runtime.Release checks that)
// and no hook kept them (hooks that hand values out say which, through
// runtime.Keeper; other hooks keep everything).
func (m *Model) free(h rt.Hooks, ts ...*rt.Tensor) {
	if h == nil {
		rt.Release(ts...)
		return
	}
	k, ok := h.(rt.Keeper)
	if !ok {
		return
	}
	for _, t := range ts {
		if !k.Keeps(t) {
			rt.Release(t)
		}
	}
}

func ones(n int) []float32 {
	o := make([]float32, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

// embed looks up rows of w for the ids held (as floats) in idx.
func embed(w, idx *rt.Tensor) *rt.Tensor {
	return rt.Embedding(w, idx.Ints(), idx.Shape()...)
}

// block is GPT2Block: x + attn(ln_1(x)), then + mlp(ln_2(.)).
func (m *Model) block(h rt.Hooks, layer int, b *Block, x *rt.Tensor, mask [][]float32, st *State) *rt.Tensor {
	eps := m.Config.LayerNormEpsilon
	p := b.prefix
	w := m.W
	a := rt.Call(h, b.Ln1, func(in []*rt.Tensor) *rt.Tensor {
		return rt.LayerNorm(in[0], w[p+"ln_1.weight"], w[p+"ln_1.bias"], eps)
	}, x)
	ln1 := a
	a = rt.Call(h, b.Attn, func(in []*rt.Tensor) *rt.Tensor {
		return m.attention(h, layer, b, in[0], mask, st)
	}, a)
	m.free(h, ln1)
	x2 := x.Add(a)
	m.free(h, a)
	f := rt.Call(h, b.Ln2, func(in []*rt.Tensor) *rt.Tensor {
		return rt.LayerNorm(in[0], w[p+"ln_2.weight"], w[p+"ln_2.bias"], eps)
	}, x2)
	ln2 := f
	f = rt.Call(h, b.MLP, func(in []*rt.Tensor) *rt.Tensor { return m.mlp(h, b, in[0]) }, f)
	m.free(h, ln2)
	out := x2.Add(f)
	m.free(h, x2, f)
	return out
}

// mlp is block b's MLP on x: c_fc, the activation, c_proj, dropout.
func (m *Model) mlp(h rt.Hooks, b *Block, x *rt.Tensor) *rt.Tensor {
	p, w := b.prefix, m.W
	u := rt.Call(h, b.CFc, func(in []*rt.Tensor) *rt.Tensor {
		return rt.Linear(in[0], w[p+"mlp.c_fc.weight"], w[p+"mlp.c_fc.bias"])
	}, x)
	g := rt.Call(h, b.Act, func(in []*rt.Tensor) *rt.Tensor { return m.activation(in[0]) }, u)
	m.free(h, u)
	o := rt.Call(h, b.MLPCProj, func(in []*rt.Tensor) *rt.Tensor {
		return rt.Linear(in[0], w[p+"mlp.c_proj.weight"], w[p+"mlp.c_proj.bias"])
	}, g)
	m.free(h, g)
	return rt.Call(h, b.MLPDrop, identity, o)
}

// actClass is the class Hugging Face's ACT2CLS builds for an
// activation_function.
func actClass(name string) string {
	switch name {
	case "gelu", "gelu_python":
		return "GELUActivation"
	case "gelu_10":
		return "ClippedGELUActivation"
	case "linear":
		return "LinearActivation"
	case "mish":
		return "MishActivation"
	case "relu2":
		return "ReLUSquaredActivation"
	case "relu6":
		return "ReLU6"
	case "leaky_relu":
		return "LeakyReLU"
	case "gelu_pytorch_tanh":
		return "GELUTanh"
	case "gelu_fast":
		return "FastGELUActivation"
	case "gelu_accurate":
		return "AccurateGELUActivation"
	case "relu":
		return "ReLU"
	case "silu", "swish":
		return "SiLU"
	case "quick_gelu":
		return "QuickGELUActivation"
	case "tanh":
		return "Tanh"
	case "sigmoid":
		return "Sigmoid"
	}
	return "NewGELUActivation"
}

func (m *Model) activation(x *rt.Tensor) *rt.Tensor {
	// sigmoid(a x) as (1 + tanh(a x / 2)) / 2: bounded, so neither the
	// value nor the gradient overflows where exp(-a x) would.
	sigmoid := func(a float32) *rt.Tensor { return x.Mul(a / 2).Tanh().Add(1).Mul(0.5) }
	switch m.Config.ActivationFunction {
	case "relu":
		return x.Relu()
	case "gelu", "gelu_python":
		return x.Gelu()
	case "gelu_10": // exact GELU clipped to [-10, 10]; it never goes below -0.17
		g := x.Gelu()
		return g.Sub(g.Sub(10).Relu())
	case "linear": // the identity, as a tensor of its own (c_fc's output is freed)
		return x.Clone()
	case "mish": // x tanh(softplus(x)), softplus(x) = relu(x) + log(1 + exp(-|x|))
		return x.Mul(x.Relu().Add(x.Abs().Neg().Exp().Add(1).Log()).Tanh())
	case "relu2":
		r := x.Relu()
		return r.Mul(r)
	case "relu6":
		return x.Relu().Sub(x.Sub(6).Relu())
	case "leaky_relu": // PyTorch's default negative slope 0.01
		return x.Relu().Sub(x.Neg().Relu().Mul(0.01))
	case "silu", "swish":
		return x.Mul(sigmoid(1))
	case "quick_gelu":
		return x.Mul(sigmoid(1.702))
	case "tanh":
		return x.Tanh()
	case "sigmoid":
		return sigmoid(1)
	}
	// gelu_new, gelu_pytorch_tanh, gelu_fast and gelu_accurate are one
	// function: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
	return x.GeluNew()
}

// attention is GPT2Attention with eager (unfused) softmax, so
// attn_dropout's output is the attention pattern [B, H, Tq, Tk].
func (m *Model) attention(h rt.Hooks, layer int, b *Block, x *rt.Tensor, mask [][]float32, st *State) *rt.Tensor {
	p := b.prefix
	w := m.W
	shape := x.Shape()
	B, T, C := shape[0], shape[1], shape[2]
	H := m.Config.NHead
	D := C / H
	qkv := rt.Call(h, b.CAttn, func(in []*rt.Tensor) *rt.Tensor {
		return rt.Linear(in[0], w[p+"attn.c_attn.weight"], w[p+"attn.c_attn.bias"])
	}, x)
	heads := qkv.Reshape(B, T, 3, H, D)
	q := heads.Select(2, 0).Permute(0, 2, 1, 3) // [B, H, T, D] views
	k := heads.Select(2, 1).Permute(0, 2, 1, 3)
	v := heads.Select(2, 2).Permute(0, 2, 1, 3)
	if st != nil {
		if st.keys == nil {
			st.keys = make([]*rt.Tensor, m.Config.NLayer)
			st.values = make([]*rt.Tensor, m.Config.NLayer)
		}
		if st.keys[layer] != nil {
			k = rt.Concat(2, st.keys[layer], k)
			v = rt.Concat(2, st.values[layer], v)
		} else {
			k, v = k.Contiguous(), v.Contiguous()
		}
		st.keys[layer], st.values[layer] = k, v
	}
	scores := q.MatMul(k.T())
	probs := rt.CausalSoftmax(scores, float32(m.Config.attnScale(layer)), mask)
	m.free(h, scores)
	probs = rt.Call(h, b.AttnDrop, identity, probs)
	ctx := probs.MatMul(v)
	m.free(h, probs)
	if st == nil {
		m.free(h, qkv) // k and v are views of it unless the cache copied them
	}
	y := ctx.Permute(0, 2, 1, 3).Reshape(B, T, C)
	if !rt.SharesMemory(y, ctx) { // with one query position the reshape is a view
		m.free(h, ctx)
	}
	out := rt.Call(h, b.AttnCProj, func(in []*rt.Tensor) *rt.Tensor {
		return rt.Linear(in[0], w[p+"attn.c_proj.weight"], w[p+"attn.c_proj.bias"])
	}, y)
	m.free(h, y)
	return rt.Call(h, b.ResidDrop, identity, out)
}

// OutputShape is the shape of module mod's output for an input of shape s
// (nil where it is not known): the input's shape for modules that keep it (blocks,
// attention, MLP, layer norms, dropouts, the activation), with the last
// dimension the module's width for projections, and a hidden dimension
// added to the ids for the embeddings and the transformer.
func OutputShape(mod *rt.Module, s []int) []int {
	weight := func(m *rt.Module) []int {
		if m == nil {
			return nil
		}
		for _, p := range m.Params {
			if p.Name == "weight" && p.Tensor != nil && p.Tensor.Dim() == 2 {
				return p.Tensor.Shape()
			}
		}
		return nil
	}
	with := func(last int) []int { return append(slices.Clone(s[:len(s)-1]), last) }
	switch mod.Type {
	case "Conv1D": // weight [in, out]
		if w := weight(mod); w != nil && len(s) > 0 {
			return with(w[1])
		}
	case "Linear": // weight [out, in]
		if w := weight(mod); w != nil && len(s) > 0 {
			return with(w[0])
		}
	case "Embedding":
		if w := weight(mod); w != nil {
			return append(slices.Clone(s), w[1])
		}
	case "GPT2Model":
		if w := weight(mod.Child("wte")); w != nil {
			return append(slices.Clone(s), w[1])
		}
	case "GPT2LMHeadModel", "ModuleList":
	default:
		return s
	}
	return nil
}

// Apply runs module mod's own computation on x, outside any pass and its
// hooks (nnsight's model.lm_head(h): the logit lens decodes a hidden state
// with LnF and LMHead). x is a hidden state [..., n_embd] (an MLP's
// c_proj takes [..., n_inner]; wte and wpe take token ids or positions,
// held as numbers). A block or its attention is causal over x's sequence
// axis, as in a pass without padding or cache; the model, transformer and
// module list take token ids through a trace instead.
func (m *Model) Apply(mod *rt.Module, x *rt.Tensor) (*rt.Tensor, error) {
	param := func(name string) *rt.Tensor {
		for _, p := range mod.Params {
			if p.Name == name {
				return p.Tensor
			}
		}
		return nil
	}
	last := func(n int) error {
		if s := x.Shape(); len(s) == 0 || s[len(s)-1] != n {
			return fmt.Errorf("%s takes a tensor whose last dimension is %d, got shape %v", mod.Path, n, s)
		}
		return nil
	}
	switch {
	case mod.Type == "LayerNorm":
		if err := last(m.Config.NEmbd); err != nil {
			return nil, err
		}
		return rt.LayerNorm(x, param("weight"), param("bias"), m.Config.LayerNormEpsilon), nil
	case mod.Type == "Conv1D":
		if err := last(param("weight").Shape()[0]); err != nil {
			return nil, err
		}
		return rt.Linear(x, param("weight"), param("bias")), nil
	case mod == m.LMHead:
		if err := last(m.Config.NEmbd); err != nil {
			return nil, err
		}
		return rt.Linear(x, m.lmHeadWeight().T(), nil), nil
	case mod.Type == "Dropout":
		return x, nil
	case mod == m.WTE || mod == m.WPE:
		rows := param("weight").Shape()[0]
		for _, f := range x.Data() {
			if v := float64(f); v != math.Trunc(v) || v < 0 || v >= float64(rows) { // NaN too
				return nil, fmt.Errorf("%s takes token ids or positions, whole numbers in [0, %d), got %v", mod.Path, rows, f)
			}
		}
		return embed(param("weight"), x), nil
	}
	for i, b := range m.Blocks {
		switch mod {
		case b.Act:
			return m.activation(x), nil
		case b.MLP:
			if err := last(m.Config.NEmbd); err != nil {
				return nil, err
			}
			return m.mlp(nil, b, x), nil
		case b.Attn, b.Module:
			if s := x.Shape(); len(s) != 3 || s[2] != m.Config.NEmbd {
				return nil, fmt.Errorf("%s takes hidden states [batch, tokens, %d], got shape %v", mod.Path, m.Config.NEmbd, s)
			}
			if x.Shape()[1] == 0 {
				return nil, fmt.Errorf("%s takes at least one token, got shape %v", mod.Path, x.Shape())
			}
			if mod == b.Attn {
				return m.attention(nil, i, b, x, nil, nil), nil
			}
			return m.block(nil, i, b, x, nil, nil), nil
		}
	}
	name := mod.Path
	if name == "" {
		name = "model"
	}
	if mod.Type == "ModuleList" {
		return nil, fmt.Errorf("%s (%s) cannot be called on a tensor: call one of its blocks, as %s.0 in a path or H.At(0)", name, mod.Type, name)
	}
	return nil, fmt.Errorf("%s (%s) cannot be called on a tensor: it takes token ids, run it with a trace", name, mod.Type)
}
