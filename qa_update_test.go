package nnscope

import (
	"math"
	"strings"
	"testing"

	"nnscope/internal/reference"
)

// A write outside a trace into a leaf that requires grad (a probe's weight,
// a parameter after SetRequiresGrad) is an optimizer update, as under
// torch.no_grad(): the tensor stays a leaf that accumulates gradients.
// Before, the write was recorded on the tape: the next backward pass
// accumulated nothing into it (a silent zero gradient) and the one after
// failed with a misleading "graph through sub was already freed".
func TestLeafUpdateOutsideTrace(t *testing.T) {
	X := NewTensor([]float64{1, 2, 3, 4, 0, 1, 0, 1, 2, 2, 1, 0}, 3, 4)
	y := []int{0, 1, 1}
	// In place, with the gradient zeroed between steps.
	W := Zeros(4, 2).RequiresGrad()
	// Fresh leaves each step: the reference.
	V := Zeros(4, 2).RequiresGrad()
	for step := range 4 {
		CrossEntropy(X.MatMul(W), y).Backward(nil)
		g := W.AccumulatedGrad()
		CrossEntropy(X.MatMul(V), y).Backward(nil)
		gv := V.AccumulatedGrad()
		if d := g.Sub(gv).Abs().Max(); d > 1e-6 || g.Norm() < 1e-3 {
			t.Fatalf("step %d: in-place grad %v, want %v", step, g, gv)
		}
		W.Copy(W.Sub(g.Mul(0.5)))
		g.Fill(0)
		V = V.Sub(gv.Mul(0.5)).Detach().RequiresGrad()
	}
	if !W.Engine().IsLeaf() {
		t.Fatal("W is no longer a leaf after in-place updates")
	}

	// A parameter, updated through a view, between traces.
	m := LanguageModel(reference.Dir())
	ref := naiveOf(t, m)
	m.SetRequiresGrad(true)
	b := m.Param("transformer.ln_f.bias")
	orig := b.Clone().Detach()
	defer func() { m.SetRequiresGrad(false); b.Copy(orig) }()
	prompt := "The Eiffel Tower is in the city of"
	ids := m.Encode(prompt)
	T := len(ids)
	tgt := m.Token(" Paris")
	const lr = 0.5
	for step := range 3 {
		var lp float64
		m.Trace(prompt, func(tr *Tracer) {
			l := m.Output().Slice("0, -1, :").LogSoftmax().Select(0, tgt)
			lp = l.Item()
			l.Neg().Backward(nil)
		})
		// The float64 model with the same bias: log p and its gradient
		// with respect to ln_f.bias, wte[tgt] - E_p[wte].
		ref.W["ln_f.bias"] = b.Data()
		logits := ref.Forward(ids, nil).Logits(T - 1)
		mx := math.Inf(-1)
		for _, v := range logits {
			mx = math.Max(mx, v)
		}
		var z float64
		for _, v := range logits {
			z += math.Exp(v - mx)
		}
		want := logits[tgt] - mx - math.Log(z)
		if math.Abs(lp-want) > 1e-4*math.Max(1, math.Abs(want)) {
			t.Fatalf("step %d: log p %v, want %v", step, lp, want)
		}
		C := ref.NEmbd
		wte := ref.W["wte.weight"]
		wantG := make([]float64, C)
		for v, l := range logits {
			p := math.Exp(l-mx) / z
			for i := range wantG {
				wantG[i] += p * wte[v*C+i]
			}
		}
		for i := range wantG {
			wantG[i] -= wte[tgt*C+i] // gradient of -log p
		}
		g := b.AccumulatedGrad()
		if g == nil {
			t.Fatalf("step %d: no gradient accumulated into ln_f.bias", step)
		}
		if e := rmsRel(g.Data(), wantG); e > tolF32*10 {
			t.Fatalf("step %d: ln_f.bias gradient off by %.3g: %v, want %v", step, e, g.Data()[:4], wantG[:4])
		}
		b.Slice(":").Copy(b.Sub(g.Mul(lr)))
		g.Fill(0)
	}
}

// TestHeadViewOfCAttnEdits: splitting a slice of c_attn's output into
// heads is a view (as torch's view), so zeroing one head's V through it
// is the same edit as zeroing its columns (the copy Reshape made lost it).
func TestHeadViewOfCAttnEdits(t *testing.T) {
	m, _ := tiny(t)
	logit := func(edit func(qkv *Tensor)) float64 {
		var out *Tensor
		m.Trace(prompt, func(tr *Tracer) {
			edit(m.Transformer.H.At(1).Attn.CAttn.Output())
			out = m.LMHead.Output().Slice("0, -1, 0").Save()
		})
		return out.Item()
	}
	clean := logit(func(*Tensor) {})
	viaHeads := logit(func(qkv *Tensor) { qkv.Narrow(2, 64, 32).Reshape(1, -1, 4, 8).Select(2, 1).Fill(0) })
	viaColumns := logit(func(qkv *Tensor) { qkv.Slice(":, :, 72:80").Fill(0) })
	if viaHeads != viaColumns || viaHeads == clean {
		t.Errorf("edit through the head view %v, through the columns %v, clean %v", viaHeads, viaColumns, clean)
	}
}

// TestModuleCall: calling modules on tensors gives what the pass computes
// (the logit lens at the last layer is the model's logits), gradients flow
// through a call inside a trace, and misuse says what the module takes.
func TestModuleCall(t *testing.T) {
	m, _ := tiny(t)
	var hs, logits, lens, mlpOut, mlpIn, blockIn, blockOut, grad *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		blockIn = m.Transformer.H.At(1).Input().Save()
		mlpIn = m.Transformer.H.At(1).MLP.Input().Save()
		mlpOut = m.Transformer.H.At(1).MLP.Output().Save()
		blockOut = m.Transformer.H.At(1).Output().Save()
		hs = m.Transformer.H.At(-1).Output()
		lens = m.LMHead.Call(m.Transformer.LnF.Call(hs)).Save()
		logits = m.LMHead.Output().Save()
		lens.Slice("0, -1, 0").Sum().Backward(func() { grad = hs.Grad().Save() })
	})
	closeAll := func(name string, a, b *Tensor) {
		t.Helper()
		x, y := a.Float32s(), b.Float32s()
		if len(x) != len(y) {
			t.Fatalf("%s: %d values, want %d", name, len(x), len(y))
		}
		for i := range x {
			if d := math.Abs(float64(x[i] - y[i])); d > 1e-4*(1+math.Abs(float64(y[i]))) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, x[i], y[i])
			}
		}
	}
	closeAll("logit lens at the last layer", lens, logits)
	closeAll("MLP.Call", m.Transformer.H.At(1).MLP.Call(mlpIn), mlpOut)
	closeAll("block.Call", m.Transformer.H.At(1).Call(blockIn), blockOut)
	if grad == nil || grad.Abs().Sum().Item() == 0 {
		t.Error("no gradient through LMHead.Call inside the trace")
	}
	for _, c := range []struct {
		fn   func()
		want string
	}{
		{func() { m.Transformer.LnF.Call(Zeros(2, 5)) }, "transformer.ln_f.Call: transformer.ln_f takes a tensor whose last dimension is 32"},
		{func() { m.Transformer.Call(Zeros(1, 2)) }, "takes token ids, run it with a trace"},
		{func() { m.Transformer.H.At(0).Call(Zeros(2, 32)) }, "takes hidden states [batch, tokens, 32]"},
	} {
		if err := expectError(t, c.fn); !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %q, want %q", err, c.want)
		}
	}
}

// TestSavedLeafUpdateOutsideTrace: a probe made inside a trace and saved
// is updated outside it as one made outside is (no history), so it stays
// a leaf and the next trace accumulates its gradient (the write was
// recorded: the probe stopped being a leaf and its gradient stayed zero).
func TestSavedLeafUpdateOutsideTrace(t *testing.T) {
	m, _ := tiny(t)
	var p, hsum *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		p = Zeros(32).RequiresGrad().Save()
		h := m.Transformer.H.At(-1).Output()
		hsum = h.Sum(0, 1).Detach().Save()
		h.MatMul(p).Sum().Backward(nil)
	})
	for step := range 2 {
		g := p.AccumulatedGrad()
		if g == nil || g.Sub(hsum).Abs().Max() > 1e-4*hsum.Abs().Max() {
			t.Fatalf("step %d: gradient %v, want %v", step, g, hsum)
		}
		p.Slice(":").Copy(p.Sub(g.Mul(0.1)))
		g.Fill(0)
		if !p.Engine().IsLeaf() {
			t.Fatalf("step %d: the probe is no longer a leaf after its update", step)
		}
		m.Trace(prompt, func(tr *Tracer) {
			m.Transformer.H.At(-1).Output().MatMul(p).Sum().Backward(nil)
		})
	}
}

// TestModuleCallMisuse: module calls that cannot run name the module and
// what it takes (the model's own name was empty; a fractional or NaN id
// was rounded or reported as a huge index; zero tokens through attention
// was a Go runtime panic).
func TestModuleCallMisuse(t *testing.T) {
	m, _ := tiny(t)
	for _, c := range []struct {
		fn   func()
		want string
	}{
		{func() { m.Module("").Call(Zeros(1, 2)) }, "model.Call: model (GPT2LMHeadModel) cannot be called"},
		{func() { m.Transformer.H.Call(Zeros(1, 2, 32)) }, "call one of its blocks"},
		{func() { m.Transformer.WTE.Call(NewTensor([]float64{1.5}, 1)) }, "whole numbers in [0, 50257), got 1.5"},
		{func() { m.Transformer.WPE.Call(NewTensor([]float64{math.NaN()}, 1)) }, "whole numbers in [0, 64), got NaN"},
		{func() { m.Transformer.H.At(0).Attn.Call(Zeros(1, 0, 32)) }, "takes at least one token"},
		{func() { m.Transformer.H.At(0).Call(Zeros(2, 0, 32)) }, "takes at least one token"},
	} {
		err := expectError(t, c.fn)
		if _, ok := err.(*Error); !ok || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %T %q, want one with %q", err, err, c.want)
		}
	}
}

// A write inside a trace into a leaf made outside it that requires grad
// is refused with advice (recorded, it silently ended the leaf's gradient
// accumulation); the same write after the trace is an update.
func TestLeafWriteInsideTraceRefused(t *testing.T) {
	m, _ := tiny(t)
	w := Zeros(32).RequiresGrad()
	err := expectError(t, func() {
		m.Trace(prompt, func(tr *Tracer) { w.Slice("0:4").Fill(1) })
	})
	if !strings.Contains(err.Error(), "in-place write inside a trace into a tensor that requires grad") {
		t.Errorf("error %v", err)
	}
	m.Trace(prompt, func(tr *Tracer) {
		m.Transformer.H.At(-1).Output().Slice("0, -1, :").MatMul(w).Backward(nil)
	})
	w.Slice("0:4").Fill(1)
	if !w.t.IsLeaf() || w.AccumulatedGrad() == nil {
		t.Error("after the trace the write is an update: w stays a leaf with its gradient")
	}
}
