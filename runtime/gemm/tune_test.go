//go:build linux

package gemm

import (
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func threadCPU() float64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return float64(ts.Nano()) / 1e9
}

// TestTune prints single-thread, CPU-time based throughput (robust against
// other processes on the machine). Enabled with GEMM_TUNE=1.
func TestTune(t *testing.T) {
	if os.Getenv("GEMM_TUNE") == "" {
		t.Skip("set GEMM_TUNE=1")
	}
	if v, err := strconv.Atoi(os.Getenv("GEMM_KCD")); err == nil {
		kcDirect = v
	}
	if v, err := strconv.Atoi(os.Getenv("GEMM_PREF")); err == nil {
		prefRows = v
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := rand.New(rand.NewSource(1))
	for _, s := range benchShapes {
		sh := shape{s.tA, s.tB, s.m, s.n, s.k, 1, 0, 0}
		lda, ldb, ldc, lenA, lenB, lenC := dims(sh)
		a := randSlice(r, lenA)
		copies := max(s.copies, -s.copies)
		bs := make([][]float32, copies)
		for i := range bs {
			bs[i] = randSlice(r, lenB)
		}
		var pbs []*PackedB
		if s.copies < 0 {
			for _, bb := range bs {
				pbs = append(pbs, PackB(s.tB, s.k, s.n, bb, ldb))
			}
		}
		c := randSlice(r, lenC)
		best := 1e9
		for rep := 0; rep < 15; rep++ {
			t0 := threadCPU()
			if pbs != nil {
				sgemmPacked(s.tA, s.m, 1, a, lda, pbs[rep%copies], 0, c, ldc, false)
			} else {
				sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bs[rep%copies], ldb, 0, c, ldc, false)
			}
			best = min(best, threadCPU()-t0)
		}
		flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		t.Logf("%-28s %8.1f GFLOP/s %7.1f GB/s(B)  %.3f ms", s.name, flop/best/1e9, 4*float64(s.n)*float64(s.k)/best/1e9, best*1e3)
	}
	x := make([]float32, 64<<20)
	for i := range x {
		x[i] = 1
	}
	best := 1e9
	for rep := 0; rep < 5; rep++ {
		t0 := threadCPU()
		streamSum(x)
		best = min(best, threadCPU()-t0)
	}
	t.Logf("stream sum %.1f GB/s", 4*float64(len(x))/best/1e9)
}
