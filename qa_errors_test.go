package nnscope

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nnscope/internal/reference"
)

// Misuse found by a QA pass: each gives an error that names what is wrong.
func TestMisuseMessages(t *testing.T) {
	m, _ := tiny(t)
	var nilT *Tensor
	x := Zeros(2)
	cases := []struct {
		name string
		fn   func()
		want string
	}{
		// Module access in a Trace(nil, ...) body, outside the invokes:
		// it is inside a trace, not "outside a trace".
		{"module in Trace(nil) body", func() {
			m.Trace(nil, func(tr *Tracer) {
				m.Transformer.H.At(0).Output()
				tr.Invoke("Hi", func() {})
			})
		}, "transformer.h.0.Output() called in the body of Trace(nil, ...) outside tr.Invoke"},
		{"module in Generate(nil) body", func() {
			m.Generate(nil, MaxNewTokens(2), func(tr *Tracer) { m.Transformer.H.At(0).Output() })
		}, "in the body of Generate(nil, ...) outside tr.Invoke"},
		// A nil argument is the argument, not the receiver.
		{"nil operand", func() { x.Add(nilT) }, "Add: the operand is a nil tensor"},
		{"nil MatMul argument", func() { x.MatMul(nilT) }, "MatMul: the argument is a nil tensor"},
		{"nil Copy source", func() { x.Copy(nilT) }, "Copy: the source is a nil tensor"},
		{"nil Stack element", func() { Stack(0, x, nilT) }, "Stack: tensor 1 is a nil tensor"},
		{"nil receiver", func() { nilT.Add(x) }, "Add on a nil tensor"},
		// Constructors report a bad shape as an nnscope error.
		{"Zeros negative", func() { Zeros(-1, 2) }, "Zeros: negative dimension in shape [-1 2]"},
		{"Arange negative", func() { Arange(-3) }, "Arange: negative dimension"},
		// Sampling options out of range were silently ignored.
		{"negative temperature", func() { m.Generate("Hi", MaxNewTokens(2), Temperature(-1)) }, "Temperature(-1): the temperature must be a positive number"},
		{"TopP above 1", func() { m.Generate("Hi", MaxNewTokens(2), TopP(2)) }, "TopP(2): p must be in (0, 1]"},
		{"negative TopK", func() { m.Generate("Hi", MaxNewTokens(2), TopK(-1)) }, "TopK(-1): k must be at least 0"},
		// The runtime's Copy is an implementation detail of SetOutput.
		{"SetOutput shape in a padded batch", func() {
			m.Trace(nil, func(tr *Tracer) {
				tr.Invoke("Hello there my friend", func() { m.Transformer.H.At(0).SetOutput(Zeros(1, 2, 5)) })
				tr.Invoke("Hi", func() {})
			})
		}, "SetOutput on transformer.h.0: the value has shape [1 2 5], this invoke's output has shape [1 4 32]"},
		{"Iter inside Iter", func() {
			m.Generate("Hi", MaxNewTokens(2), func(tr *Tracer) { tr.Iter(func(int) { tr.Iter(func(int) {}) }) })
		}, "Iter called inside an Iter function"},
		{"Decode out of range", func() { m.Decode(99999999) }, "Decode: token id 99999999 outside"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := expectError(t, c.fn)
			e, ok := err.(*Error)
			if !ok || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %T %q does not mention %q", err, err, c.want)
			}
			if ok && e.Kind != "usage" && e.Kind != "tensor" {
				t.Errorf("kind %q", e.Kind)
			}
		})
	}
}

// Temperature(0) is greedy decoding; it sampled at temperature 1.
func TestTemperatureZeroIsGreedy(t *testing.T) {
	m, _ := tiny(t)
	greedy := m.Generate("Hello", MaxNewTokens(5)).NewTokens()
	zero := m.Generate("Hello", MaxNewTokens(5), Temperature(0), Seed(1)).NewTokens()
	if !slices.Equal(greedy, zero) {
		t.Errorf("Temperature(0) gave %v, greedy %v", zero, greedy)
	}
}

// One folder spelled two ways is one model, loaded once.
func TestSameFolderLoadedOnce(t *testing.T) {
	dir := reference.Dir()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	other := abs + string(os.PathSeparator) + "." + string(os.PathSeparator)
	a := LanguageModel(dir)
	b := LanguageModel(other)
	if a.g != b.g {
		t.Errorf("%q and %q loaded the weights twice", dir, other)
	}
}

// tr.Cache() first called after the trace returned an empty cache
// silently; one made inside stays usable after.
func TestCacheAfterTrace(t *testing.T) {
	m, _ := tiny(t)
	var keep *Tracer
	var c *Cache
	m.Trace("Hello", func(tr *Tracer) { keep = tr })
	err := expectError(t, func() { keep.Cache() })
	if !strings.Contains(err.Error(), "Cache called after the trace ended") {
		t.Errorf("got %q", err)
	}
	m.Trace("Hello", func(tr *Tracer) { c = tr.Cache(); keep = tr })
	if keep.Cache() != c || c.Len() == 0 {
		t.Errorf("the cache made inside: %v", c)
	}
}

// Backward inside a backward block ended in a nil pointer dereference in
// the outer block's next Grad(); it is a usage error now.
func TestBackwardInsideBackwardBlock(t *testing.T) {
	m, _ := tiny(t)
	err := expectError(t, func() {
		m.Trace("Hello world", func(tr *Tracer) {
			h := m.Transformer.H.At(0).Output()
			h1 := m.Transformer.H.At(1).Output()
			loss := m.LMHead.Output().Sum()
			loss.Backward(func() {
				h1.Grad()
				loss.Backward(func() { h.Grad() })
				h.Grad().Sum()
			})
		})
	})
	if !strings.Contains(err.Error(), "Backward called inside a backward block") {
		t.Errorf("got %T %q", err, err)
	}
	// The model and the session are fine afterwards.
	m.Trace("Hello", func(tr *Tracer) { m.Transformer.H.At(0).Output() })
}

// A generation that ends inside a multi-byte character streams what it
// held back at the end (as a replacement rune): the pieces add up to
// NewText.
func TestStreamFlushesAtTheEnd(t *testing.T) {
	m, _ := tiny(t)
	ids := m.Encode("東") // three bytes; GPT-2 spells it with byte tokens
	if len(ids) < 2 {
		t.Fatalf("東 is %v: want a character split over tokens", ids)
	}
	var streamed strings.Builder
	gen := m.Generate("Hello", MaxNewTokens(3), IgnoreEOS(), Stream(func(s string) { streamed.WriteString(s) }), func(tr *Tracer) {
		tr.Iter(func(int) {
			// Always predict the character's first token: no step
			// completes it.
			m.LMHead.Output().Fill(0).Slice(fmt.Sprintf(":, -1, %d", ids[0])).Fill(100)
		})
	})
	if got := gen.NewTokens(); len(got) != 3 || got[0] != ids[0] {
		t.Fatalf("new tokens %v, want three of %d", got, ids[0])
	}
	if streamed.String() != gen.NewText() || !strings.Contains(streamed.String(), "\uFFFD") {
		t.Errorf("streamed %q, NewText %q", streamed.String(), gen.NewText())
	}
}

// With Stream and ShowProgress outside a notebook, the bar is drawn once,
// when the generation ends, on its own line: redrawn as it goes, it wrote
// over the streamed text in a terminal.
func TestProgressWithStreamDrawsAtTheEnd(t *testing.T) {
	m, _ := tiny(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	var streamed strings.Builder
	m.Generate("Hello", MaxNewTokens(8), IgnoreEOS(), ShowProgress(), Stream(func(s string) { streamed.WriteString(s) }))
	os.Stderr = old
	w.Close()
	b, _ := io.ReadAll(r)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "generating") || !strings.Contains(lines[0], "8/8") {
		t.Errorf("stderr %q: want one final bar line", b)
	}
	if streamed.Len() == 0 {
		t.Error("nothing streamed")
	}
}
