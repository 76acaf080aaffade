package runtime

import (
	"runtime"
	"testing"
	"time"

	"nnscope/runtime/cuda"
	"nnscope/runtime/cuda/emu"
)

// collectingGPU is the emulated GPU with a garbage collection (and time
// for cleanups to run) at the start of every elementwise kernel: what the
// collector may do, at any moment, while a kernel's operands are in use.
type collectingGPU struct{ GPUBackend }

func (c collectingGPU) Binary(op cuda.BinaryOp, out, a, b cuda.Strided) error {
	runtime.GC()
	runtime.GC()
	time.Sleep(time.Millisecond) // cleanups run on their own goroutine
	return c.GPUBackend.Binary(op, out, a, b)
}

// TestQAGradGPUOperandsOutliveTheKernel: on the GPU, a parameter that
// gets two gradients in one pass has them summed by a kernel whose
// operands nothing references after the launch; the collector must not
// free their memory (the storage's cleanup) while the kernel reads it.
// The emulated GPU panicked with "Buffer ... is not allocated (freed?)",
// flakily in TestOnFakeCUDA-style runs of parameter gradients.
func TestQAGradGPUOperandsOutliveTheKernel(t *testing.T) {
	useGPU(t, collectingGPU{emu.New()})
	w := Full(1, 300, 200).To("cuda").RequiresGrad()
	c1 := Full(2, 300, 200).To("cuda")
	c2 := Full(3, 300, 200).To("cuda")
	for range 3 {
		if err := w.Mul(c1).Sum().Add(w.Mul(c2).Sum()).Backward(); err != nil {
			t.Fatal(err)
		}
	}
	g := w.Grad().Data()
	for i, v := range g {
		if v != 15 {
			t.Fatalf("grad[%d] = %g, want 15 (3 passes of 2 + 3)", i, v)
		}
	}
}
