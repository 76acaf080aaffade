package gpt2

import (
	"slices"
	"testing"

	"nnscope/internal/reference"
	rt "nnscope/runtime"
)

var prompt = "The Eiffel Tower is in the city of"

// testDevice is where loadTiny puts the model: TestReferenceOnGPU runs
// the reference tests again with "cuda".
var testDevice = "cpu"

func loadTiny(t testing.TB) (*Model, *Tokenizer, reference.Cases) {
	t.Helper()
	m, err := Load(reference.Dir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if testDevice != "cpu" {
		if m, err = m.To(testDevice); err != nil {
			t.Fatal(err)
		}
		if m.Device() != testDevice {
			t.Fatalf("model on %s, want %s", m.Device(), testDevice)
		}
	}
	tok, err := NewTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reference.Load()
	if err != nil {
		t.Fatal(err)
	}
	return m, tok, ref
}

func closeT(t *testing.T, what string, got *rt.Tensor, want reference.Tensor, slack float64) {
	t.Helper()
	if !slices.Equal(got.Shape(), want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape)
	}
	if err := reference.Close(got.Float64s(), want.Data, slack); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func TestTokenize(t *testing.T) {
	_, tok, ref := loadTiny(t)
	var cases map[string][]int
	if err := ref.Case("tokenize", &cases); err != nil {
		t.Fatal(err)
	}
	for text, want := range cases {
		got, err := tok.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %v, want %v", text, got, want)
		}
		back, err := tok.Decode(got)
		if err != nil || back != text {
			t.Errorf("Decode round trip of %q gave %q, %v", text, back, err)
		}
	}
}

// recorder is a Hooks that keeps module outputs by path.
type recorder struct{ out map[string]*rt.Tensor }

func (r *recorder) Enter(m *rt.Module, in []*rt.Tensor) ([]*rt.Tensor, *rt.Tensor) { return nil, nil }
func (r *recorder) Exit(m *rt.Module, out *rt.Tensor) *rt.Tensor {
	r.out[m.Path] = out
	return nil
}

func TestForward(t *testing.T) {
	m, tok, ref := loadTiny(t)
	var c struct {
		InputIDs   []int                       `json:"input_ids"`
		Hidden     map[string]reference.Tensor `json:"hidden"`
		Embed      reference.Tensor            `json:"embed"`
		Stats      struct{ AbsMean, Sum, Norm float64 }
		SliceIndex []int            `json:"logits_slice_index"`
		Slice      reference.Tensor `json:"logits_slice"`
		TopIDs     []int            `json:"last_top10_ids"`
		TopVals    []float64        `json:"last_top10_vals"`
	}
	if err := ref.Case("forward", &c); err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode(prompt)
	if !slices.Equal(ids, c.InputIDs) {
		t.Fatalf("ids %v, want %v", ids, c.InputIDs)
	}
	rec := &recorder{out: map[string]*rt.Tensor{}}
	logits := m.Forward(rec, Input{IDs: [][]int{ids}}, nil)
	closeT(t, "wte output", rec.out["transformer.wte"], c.Embed, 1)
	for i, want := range c.Hidden {
		closeT(t, "layer "+i+" output", rec.out["transformer.h."+i], want, 1)
	}
	// logits[0][:, ::997]
	sl := logits.Slice("0, :, ::997")
	closeT(t, "logits slice", sl, c.Slice, 1)
	vals, idx := logits.Slice("0, -1").TopK(10)
	if !slices.Equal(idx.Ints(), c.TopIDs) {
		t.Errorf("top10 ids %v, want %v", idx.Ints(), c.TopIDs)
	}
	if err := reference.Close(vals.Float64s(), c.TopVals, 1); err != nil {
		t.Errorf("top10 values: %v", err)
	}
}

// TestBufferReuseAtFullWidth runs batched generation on a model wide
// enough that intermediates go through the buffer pool (the tiny model's
// are too small), and checks it against unbatched runs.
func TestBufferReuseAtFullWidth(t *testing.T) {
	c := Config{VocabSize: 300, NPositions: 32, NEmbd: 256, NLayer: 2, NHead: 4, LayerNormEpsilon: 1e-5, ActivationFunction: "gelu_new"}
	w := Weights{}
	r := uint32(1)
	for name, shape := range WeightShapes(c) {
		tt := rt.New(shape...)
		d := tt.Data()
		for i := range d {
			r = r*1664525 + 1013904223
			d[i] = (float32(r>>8)/float32(1<<24) - 0.5) * 0.2
		}
		w[name] = tt
	}
	m := New(c, w)
	rows := [][]int{{1, 2, 3, 4, 5}, {7, 8}, {9, 10, 11, 12}, {13}}
	batch := m.Generate(Batch(rows, 0), GenerateOptions{MaxNewTokens: 6})
	for i, row := range rows {
		alone := m.Generate(Input{IDs: [][]int{row}}, GenerateOptions{MaxNewTokens: 6})
		if !slices.Equal(batch[i], alone[0]) {
			t.Errorf("row %d: batched %v, alone %v", i, batch[i], alone[0])
		}
	}
	// Forward twice through the pool gives identical logits.
	a := m.Forward(nil, Batch(rows, 0), nil).Data()
	a = append([]float32(nil), a...)
	b := m.Forward(nil, Batch(rows, 0), nil).Data()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("logit %d differs between runs: %v vs %v", i, a[i], b[i])
		}
	}
}

// TestTokenizeDEL: U+007F is token 221 wherever it stands (tiktoken-go's
// pre-tokenizer used to drop it), with GPT-2's pre-tokenization around it.
func TestTokenizeDEL(t *testing.T) {
	tok, err := NewTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]int{
		"\x7f":       {221},
		"a\x7fb":     {64, 221, 65},
		" \x7f":      {220, 221},
		"a  \x7f":    {64, 220, 220, 221},
		"\n\n\x7f":   {198, 198, 221},
		"\x7f\x7f":   {221, 221},
		"!\x7f?":     {0, 221, 30},
		"hi\x7f you": {5303, 221, 345},
	} {
		got, err := tok.Encode(text)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: %v %v, want %v", text, got, err, want)
		}
		if back, _ := tok.Decode(got); back != text {
			t.Errorf("%q decodes back as %q", text, back)
		}
	}
}
