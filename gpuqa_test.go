package nnscope

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"nnscope/internal/reference"
	rt "nnscope/runtime"
	"nnscope/runtime/cuda/emu"
)

// TestSelectionInterventionsOnGPU: interventions built on TopK, Argmax,
// MaskedFill and Where (a logit lens's top tokens, masking attention,
// zeroing chosen features, a gradient through the mask) give on the GPU
// what they give on the CPU, with results on the GPU. On the CUDA backend
// the selections run as kernels, without host copies. And a gradient set
// from the wrong device is a clear error, after which the session lives on
// (it was a nil pointer dereference in the next backward kernel).
func TestSelectionInterventionsOnGPU(t *testing.T) { onGPUs(t, selectionInterventionsOnGPU) }

func selectionInterventionsOnGPU(t *testing.T) {
	onCUDA := strings.HasSuffix(t.Name(), "/cuda")
	run := func(m *Model) (string, rt.GPUCounts) {
		dev := m.g.Device()
		var top, mask, grad, lensTop *Tensor
		var picked []int
		var calls rt.GPUCounts
		m.Trace(prompt, func(tr *Tracer) {
			// Keep the 8 largest features of the last block's input at
			// the last position, zero the rest (Where on a TopK mask).
			h := m.Transformer.H.At(-1).Input()
			before := rt.GPUCallCounts()
			_, idx := h.Slice("0, -1").Abs().TopK(8)
			calls = rt.GPUCallCounts().Sub(before)
			keep := Zeros(32).To(dev)
			for _, i := range idx.Ints() {
				keep.Slice(fmt.Sprint(i)).Fill(1)
			}
			last := h.Slice(":, -1, :")
			last.Copy(Where(keep, last, Zeros(1).To(dev)))
			// Hide the first key from every query of the attention pattern.
			att := m.Transformer.H.At(-1).Attn.AttnDropout.Output()
			mask = Zeros(att.Shape()[3]).To(dev)
			mask.Slice(":1").Fill(1)
			m.Transformer.H.At(-1).Attn.AttnDropout.SetOutput(att.MaskedFill(mask, 0))
			logits := m.LMHead.Output()
			top, _ = logits.Slice("0, -1").Softmax().TopK(5)
			top.Save()
			picked = logits.Slice("0").Argmax().Ints()
			lensTop = m.LMHead.Call(m.Transformer.LnF.Call(h)).Slice("0, -1").Argmax().Save()
			vocab := Zeros(logits.Shape()[2]).To(dev)
			vocab.Slice(":100").Fill(1)
			loss := logits.Slice("0, -1").LogSoftmax().MaskedFill(vocab, 0).Sum()
			loss.Backward(func() { grad = att.Grad().Save() })
		})
		if top.Device() != dev || grad.Device() != dev || lensTop.Device() != dev {
			t.Errorf("results on %s, %s, %s, want %s", top.Device(), grad.Device(), lensTop.Device(), dev)
		}
		return fmt.Sprintf("top %.5f\nargmax %v\nlens %v\ngrad %.4f", top.Data(), picked, lensTop.Ints(), grad.Slice("0, :, -1, :").Data()), calls
	}
	want, _ := run(LanguageModel(reference.Dir()))
	got, calls := run(LanguageModel(reference.Dir(), Device("cuda")))
	if !closeLines(got, want, 1e-3) {
		t.Errorf("on the GPU:\n%s\non the CPU:\n%s", got, want)
	}
	if onCUDA && calls.Uploads+calls.Downloads != 0 {
		t.Errorf("TopK of an activation: %v, want no copy between host and device (it ran on host copies)", calls)
	}

	m := LanguageModel(reference.Dir(), Device("cuda"))
	err := expectError(t, func() {
		m.Trace(prompt, func(tr *Tracer) {
			h := m.Transformer.H.At(-1).Output()
			m.LMHead.Output().Sum().Backward(func() { h.SetGrad(Zeros(h.Shape()...)) })
		})
	})
	if !strings.Contains(err.Error(), `SetGrad: the gradient is on cpu, transformer.h.2.output on cuda (move it with .To("cuda"))`) {
		t.Errorf("SetGrad with a cpu gradient for a cuda activation: %v", err)
	}
	var g *Tensor
	m.Trace(prompt, func(tr *Tracer) {
		h := m.Transformer.H.At(-1).Output()
		m.LMHead.Output().Sum().Backward(func() { g = h.Grad().Save() })
	})
	if g.Device() != "cuda" || !slices.Equal(g.Shape(), []int{1, 10, 32}) {
		t.Errorf("the trace after the error: gradient %v on %s", g.Shape(), g.Device())
	}
}

// closeLines compares two outputs number by number (relative tolerance
// tol, absolute below 1e-3) and word by word otherwise.
func closeLines(a, b string, tol float64) bool {
	fa, fb := strings.Fields(strings.NewReplacer("[", " ", "]", " ").Replace(a)), strings.Fields(strings.NewReplacer("[", " ", "]", " ").Replace(b))
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		var x, y float64
		_, ex := fmt.Sscan(fa[i], &x)
		_, ey := fmt.Sscan(fb[i], &y)
		if ex != nil || ey != nil {
			if fa[i] != fb[i] {
				return false
			}
			continue
		}
		if math.Abs(x-y) > tol*math.Max(math.Abs(y), 1) {
			return false
		}
	}
	return true
}

// TestGPUValuesErrorIsAnNnscopeError: reading a GPU tensor's values can
// fail (a transposed view is made contiguous on the device first, which
// can run out of memory); the error is an nnscope error naming the call,
// like every other tensor method's.
func TestGPUValuesErrorIsAnNnscopeError(t *testing.T) {
	dev := emu.New()
	dev.Limit = 300 << 10
	rt.SetGPUBackend(dev)
	defer rt.SetGPUBackend(nil)
	x := Zeros(256, 256).To("cuda") // 256 KiB of the 300
	for name, f := range map[string]func(){
		"Data": func() { x.T().Data() }, "Float32s": func() { x.T().Float32s() },
		"Ints": func() { x.T().Ints() }, "Norm": func() { x.T().Norm() },
	} {
		err := expectError(t, f)
		if e, ok := err.(*Error); !ok || e.Kind != "tensor" || !strings.HasPrefix(e.Msg, name+": out of GPU memory") {
			t.Errorf("%s: %T %v", name, err, err)
		}
	}
}
