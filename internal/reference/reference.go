// Package reference loads testdata/gpt2-tiny/reference.json, the numbers
// PyTorch + transformers computed in float64: the oracle for tests.
package reference

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
)

// Tensor is a reference tensor.
type Tensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

// Cases holds reference.json's cases, decoded lazily by name.
type Cases map[string]json.RawMessage

// Dir returns the path of testdata/gpt2-tiny in this repository: found
// from this source file's location when it exists (go test), else from the
// working directory upwards, so a test binary built with -trimpath or run
// in a copy of the tree elsewhere (the GPU machine) still finds it.
func Dir() string {
	const rel = "testdata/gpt2-tiny"
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Join(filepath.Dir(file), "..", "..", rel)
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, rel, "config.json")); err == nil {
				return filepath.Join(d, rel)
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return rel
}

// Load reads the reference cases.
func Load() (Cases, error) {
	data, err := os.ReadFile(filepath.Join(Dir(), "reference.json"))
	if err != nil {
		return nil, err
	}
	var top struct {
		Cases Cases `json:"cases"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("reference.json: %w", err)
	}
	return top.Cases, nil
}

// Case decodes one case into v.
func (c Cases) Case(name string, v any) error {
	raw, ok := c[name]
	if !ok {
		return fmt.Errorf("reference.json: no case %q", name)
	}
	return json.Unmarshal(raw, v)
}

// Close reports the first element where got differs from want beyond the
// fixture's tolerance: relative 1e-4 for |want| >= 1e-3, absolute 1e-5
// below, scaled by slack (1 = the README's tolerance). The absolute floor
// grows with the tensor's RMS: an element that is small only because of
// cancellation between large terms (a logit of 0.008 among logits of 7)
// carries the float32 rounding of those terms, about 1e-7 of their size.
func Close(got []float64, want []float64, slack float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("length %d, want %d", len(got), len(want))
	}
	var ss float64
	for _, w := range want {
		ss += w * w
	}
	floor := 1e-5 * slack * math.Max(1, math.Sqrt(ss/math.Max(1, float64(len(want)))))
	for i := range got {
		if !Near(got[i], want[i], slack) && math.Abs(got[i]-want[i]) > floor {
			return fmt.Errorf("element %d: got %.8g, want %.8g (rel err %.2e)", i, got[i], want[i], math.Abs(got[i]-want[i])/math.Max(math.Abs(want[i]), 1e-30))
		}
	}
	return nil
}

// Near applies the tolerance to one value.
func Near(got, want, slack float64) bool {
	d := math.Abs(got - want)
	if math.Abs(want) >= 1e-3 {
		return d <= 1e-4*slack*math.Abs(want)
	}
	return d <= 1e-5*slack
}
