package runtime

import (
	"fmt"
	"math/rand"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"nnscope/runtime/cuda/emu"
)

// requireGPU skips a test on machines without CUDA (CI), saying why;
// NNSCOPE_REQUIRE_GPU=1 (the GPU check) turns the skip into a failure.
func requireGPU(t *testing.T) {
	t.Helper()
	if _, err := GPU(); err != nil {
		if os.Getenv("NNSCOPE_REQUIRE_GPU") != "" {
			t.Fatalf("NNSCOPE_REQUIRE_GPU is set but the GPU is not usable: %v", err)
		}
		t.Skipf("no GPU here, CUDA tests skipped: %v", err)
	}
}

// onGPUs runs fn on the real GPU when there is one, and always on the
// emulated one (package cuda/emu), which runs the engine's GPU code paths
// (dispatch, views, GEMM parameters, autograd on the device) here too.
func onGPUs(t *testing.T, fn func(t *testing.T)) {
	if _, err := GPU(); err == nil {
		t.Run("cuda", fn)
	} else if os.Getenv("NNSCOPE_REQUIRE_GPU") != "" {
		t.Fatalf("NNSCOPE_REQUIRE_GPU is set but the GPU is not usable: %v", err)
	} else {
		t.Logf("no GPU here (%v): running on the emulator only", err)
	}
	t.Run("emulated", func(t *testing.T) {
		useGPU(t, emu.New())
		fn(t)
	})
}

// TestBackendsAgree runs the op-level suite on the GPU and compares each
// op's output and input gradients with the CPU's.
func TestBackendsAgree(t *testing.T) { onGPUs(t, backendsAgree) }

func backendsAgree(t *testing.T) {
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewSource(7))
			var cpuIn, gpuIn []*Tensor
			for _, in := range c.in {
				a := in.Detach().Clone().RequiresGrad()
				cpuIn = append(cpuIn, a)
				gpuIn = append(gpuIn, in.Detach().To("cuda").Detach().RequiresGrad())
			}
			outC := c.f(cpuIn)
			w := randTensor(r, outC.shape...)
			if err := outC.Mul(w).Sum().Backward(); err != nil {
				t.Fatal(err)
			}
			outG := c.f(gpuIn)
			if outG.Device() != "cuda" {
				t.Fatalf("output on %s", outG.Device())
			}
			if err := outG.Mul(w.To("cuda")).Sum().Backward(); err != nil {
				t.Fatal(err)
			}
			if !AllClose(outG.To("cpu"), outC, 1e-4, 1e-5) {
				t.Errorf("forward differs:\ngpu %v\ncpu %v", outG.To("cpu"), outC)
			}
			for i := range cpuIn {
				gc, gg := cpuIn[i].Grad(), gpuIn[i].Grad()
				if (gc == nil) != (gg == nil) {
					t.Fatalf("input %d: cpu grad %v, gpu grad %v", i, gc, gg)
				}
				if gc != nil && !AllClose(gg.To("cpu"), gc, 1e-3, 1e-4) {
					t.Errorf("input %d gradient differs:\ngpu %v\ncpu %v", i, gg.To("cpu"), gc)
				}
			}
		})
	}
}

func TestGPUDeviceErrors(t *testing.T) {
	if _, err := GPU(); err == nil {
		a := Ones(2).To("cuda")
		b := Ones(2)
		defer func() {
			if r := recover(); r == nil {
				t.Error("adding a cuda and a cpu tensor did not fail")
			}
		}()
		a.Add(b)
		return
	}
	// Without a GPU, moving a tensor there is a clear error.
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("To(\"cuda\") succeeded without a GPU")
		}
		if e, ok := r.(*Error); !ok || len(e.Msg) == 0 {
			t.Fatalf("got %v", r)
		}
	}()
	Ones(2).To("cuda")
}

func TestNumbersWorkOnAnyDevice(t *testing.T) {
	x := Arange(4)
	if got := x.Add(1).Mul(2).Sub(1).Div(2).Data(); got[3] != 3.5 {
		t.Errorf("got %v", got)
	}
	if x.Device() != "cpu" {
		t.Error(x.Device())
	}
}

// Device memory of dropped tensors comes back through the garbage
// collector, which does not see it: running out must collect and retry.
func TestGPUMemoryOfDroppedTensorsIsReused(t *testing.T) {
	dev := emu.New()
	dev.Limit = 4 << 20 // 4 MiB
	useGPU(t, dev)
	x := Ones(256, 256).To("cuda") // 256 KiB
	for i := 0; i < 200; i++ {     // 50 MiB allocated in all, never released by hand
		x = x.Mul(1.0001).Detach()
	}
	if got := x.At(0, 0); got < 1.0199 || got > 1.0203 {
		t.Errorf("value %v", got)
	}
	if v := Ones(512, 512).To("cuda").Add(1).Sum().Item(); v != 2*512*512 {
		t.Fatalf("sum %v", v)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "out of memory") {
			t.Errorf("an allocation larger than the device: %v", r)
		}
	}()
	gpuEmpty(8 << 20) // 32 MiB
}

// TestGPUMemoryFreedByItsBackend: a tensor dropped on one GPU backend is
// freed by that backend when the collector finds it, not by whichever is
// installed then (emulated devices hand out the same addresses, so that
// freed the next device's live buffers).
func TestGPUMemoryFreedByItsBackend(t *testing.T) {
	useGPU(t, emu.New())
	func() { _ = Ones(1000).To("cuda") }()
	SetGPUBackend(emu.New())
	b := Ones(1000).To("cuda")
	for range 3 {
		goruntime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if got := b.Sum().Item(); got != 1000 {
		t.Fatalf("sum %v, want 1000", got)
	}
}

// useGPU installs b as the GPU for the rest of t and puts back what was
// there (the real device, or none) afterwards.
func useGPU(t *testing.T, b GPUBackend) {
	saved, savedErr := gpuDev, gpuErr
	SetGPUBackend(b)
	t.Cleanup(func() {
		SetGPUBackend(saved)
		gpuErr = savedErr
	})
}
