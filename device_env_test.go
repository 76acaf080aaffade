package nnscope

import (
	"strings"
	"testing"

	"nnscope/internal/reference"
	rt "nnscope/runtime"
	"nnscope/runtime/cuda/emu"
)

// model.Device says where the model runs; a device that is not available
// says when it came from NNSCOPE_DEVICE, which the script does not show.
func TestModelDevice(t *testing.T) {
	if d := LanguageModel(reference.Dir(), Device("cpu")).Device(); d != "cpu" {
		t.Errorf("Device() = %q, want cpu", d)
	}
	if _, err := rt.GPU(); err != nil {
		t.Setenv("NNSCOPE_DEVICE", "cuda")
		err := expectError(t, func() { LanguageModel(reference.Dir()) })
		if !strings.Contains(err.Error(), `"cuda" (from NNSCOPE_DEVICE) is not available`) {
			t.Errorf("no GPU, NNSCOPE_DEVICE=cuda: %v", err)
		}
		t.Setenv("NNSCOPE_DEVICE", "")
	}
	rt.SetGPUBackend(emu.New())
	defer rt.SetGPUBackend(nil)
	if d := LanguageModel(reference.Dir(), Device("cuda")).Device(); d != "cuda" {
		t.Errorf("Device() = %q, want cuda", d)
	}
}
