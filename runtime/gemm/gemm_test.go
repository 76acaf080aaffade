package gemm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"nnscope/runtime/parallel"
)

// refGemm is a float64-accumulated reference.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			r := float64(alpha) * s
			if beta != 0 {
				r += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(r)
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

type shape struct {
	tA, tB  bool
	m, n, k int
	alpha   float32
	beta    float32
	pad     int // extra leading-dimension padding
}

func (s shape) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%g beta=%g pad=%d", s.tA, s.tB, s.m, s.n, s.k, s.alpha, s.beta, s.pad)
}

func dims(s shape) (lda, ldb, ldc, lenA, lenB, lenC int) {
	if s.tA {
		lda = s.m + s.pad
		lenA = max(s.k, 1) * lda
	} else {
		lda = s.k + s.pad
		lenA = max(s.m, 1) * lda
	}
	if s.tB {
		ldb = s.k + s.pad
		lenB = max(s.n, 1) * ldb
	} else {
		ldb = s.n + s.pad
		lenB = max(s.k, 1) * ldb
	}
	ldc = s.n + s.pad
	lenC = max(s.m, 1) * ldc
	if lda == 0 {
		lda = 1
	}
	if ldb == 0 {
		ldb = 1
	}
	if ldc == 0 {
		ldc = 1
	}
	return
}

func checkShape(t *testing.T, r *rand.Rand, s shape) {
	t.Helper()
	lda, ldb, ldc, lenA, lenB, lenC := dims(s)
	a := randSlice(r, lenA)
	b := randSlice(r, lenB)
	c0 := randSlice(r, lenC)
	if s.beta == 0 {
		// beta == 0 must ignore NaNs in C.
		for i := range c0 {
			if i%3 == 0 {
				c0[i] = float32(math.NaN())
			}
		}
	}
	got := append([]float32(nil), c0...)
	want := append([]float32(nil), c0...)
	Sgemm(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, got, ldc)
	refGemm(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, want, ldc)
	compare(t, s.String(), s.m, s.n, s.k, got, want, c0, ldc, s.alpha, s.beta)
}

func compare(t *testing.T, what string, m, n, k int, got, want, c0 []float32, ldc int, alpha, beta float32) {
	t.Helper()
	tol := 2e-5 * math.Sqrt(float64(k)+1) * (math.Abs(float64(alpha)) + math.Abs(float64(beta)) + 1)
	for i := range got {
		inC := m > 0 && i/ldc < m && i%ldc < n
		if !inC {
			if !(got[i] == c0[i] || (got[i] != got[i] && c0[i] != c0[i])) {
				t.Fatalf("%s: element %d outside C modified", what, i)
			}
			continue
		}
		g, w := float64(got[i]), float64(want[i])
		// Values are sums of k products of unit normals: scale ~sqrt(k).
		scale := math.Sqrt(float64(k)) + 1
		if math.IsNaN(g) || math.Abs(g-w) > tol*scale {
			t.Fatalf("%s: C[%d,%d] = %v, want %v", what, i/ldc, i%ldc, g, w)
		}
	}
}

var testShapes = func() []shape {
	var ss []shape
	sizes := [][3]int{
		{0, 5, 3}, {5, 0, 3}, {4, 5, 0}, {1, 1, 1}, {1, 7, 3}, {7, 1, 3}, {2, 3, 1},
		{12, 32, 16}, {13, 33, 17}, {11, 31, 257}, {24, 64, 300}, {5, 100, 7},
		{10, 96, 64}, {10, 70, 513}, {3, 129, 40}, {37, 45, 29}, {100, 3, 50},
		{61, 67, 260}, {130, 40, 20}, {16, 16, 16}, {17, 5, 600}, {500, 9, 33},
	}
	for _, sz := range sizes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				ss = append(ss, shape{tA, tB, sz[0], sz[1], sz[2], 1, 0, 0})
			}
		}
	}
	// alpha/beta/stride variants on a few shapes.
	for i, sz := range [][3]int{{13, 33, 17}, {10, 70, 100}, {40, 50, 300}, {3, 5, 7}} {
		for _, ab := range [][2]float32{{1, 1}, {0.5, -2}, {-1.5, 0}, {0, 0.5}, {2, 1}} {
			tA, tB := i%2 == 1, i/2 == 1
			ss = append(ss, shape{tA, tB, sz[0], sz[1], sz[2], ab[0], ab[1], 3})
			ss = append(ss, shape{!tA, !tB, sz[0], sz[1], sz[2], ab[0], ab[1], 5})
		}
	}
	return ss
}()

func forEachKernel(t *testing.T, f func(t *testing.T)) {
	old := active
	defer func() { active = old }()
	for _, id := range availableKernels() {
		active = id
		t.Run(kernels[id].name, f)
	}
}

func TestSgemmShapes(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(1))
		for _, s := range testShapes {
			checkShape(t, r, s)
		}
	})
}

// TestSgemmLarger covers multi-block k, multiple m blocks and parallel
// splits along both dimensions.
func TestSgemmLarger(t *testing.T) {
	shapes := []shape{
		{false, false, 128, 200, 700, 1, 0, 0},
		{false, true, 130, 100, 520, 1, 1, 0},
		{true, false, 600, 70, 30, 1, 0.5, 2},
		{true, true, 97, 300, 270, 0.5, 0, 1},
		{false, false, 10, 300, 4200, 1, 1, 0},  // direct path, 2 k blocks
		{false, true, 10, 301, 800, 1, 0, 0},    // dot path
		{true, true, 9, 130, 1030, 1, -1, 4},    // dot path via transposed A
		{false, false, 8, 2000, 64, 1, 0, 0},    // direct, many strips
		{true, false, 700, 40, 10, 1, 1, 0},     // split over m
		{false, false, 1000, 40, 300, -1, 0, 0}, // several m blocks
	}
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(2))
		for _, s := range shapes {
			checkShape(t, r, s)
		}
	})
}

func TestSgemmBatched(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(3))
		for _, tc := range []struct {
			batch   int
			tA, tB  bool
			m, n, k int
		}{
			{12, false, true, 10, 10, 64},  // attention scores
			{12, false, false, 10, 64, 10}, // attention x V
			{3, true, false, 33, 17, 40},
			{4, true, true, 130, 70, 64},
			{1, false, false, 5, 6, 7},
		} {
			s := shape{tc.tA, tc.tB, tc.m, tc.n, tc.k, 0.7, 0.3, 2}
			lda, ldb, ldc, lenA, lenB, lenC := dims(s)
			sa, sb, sc := lenA+3, lenB+1, lenC+5
			a := randSlice(r, sa*tc.batch)
			b := randSlice(r, sb*tc.batch)
			c0 := randSlice(r, sc*tc.batch)
			got := append([]float32(nil), c0...)
			want := append([]float32(nil), c0...)
			SgemmBatched(tc.batch, s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, lda, sa, b, ldb, sb, s.beta, got, ldc, sc)
			for i := 0; i < tc.batch; i++ {
				refGemm(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a[i*sa:], lda, b[i*sb:], ldb, s.beta, want[i*sc:], ldc)
			}
			for i := 0; i < tc.batch; i++ {
				compare(t, fmt.Sprintf("batch %d/%d %v", i, tc.batch, s), s.m, s.n, s.k,
					got[i*sc:(i+1)*sc], want[i*sc:(i+1)*sc], c0[i*sc:(i+1)*sc], ldc, s.alpha, s.beta)
			}
		}
	})
}

func TestSgemmRandom(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(4))
		for it := 0; it < 60; it++ {
			s := shape{r.Intn(2) == 1, r.Intn(2) == 1, 1 + r.Intn(40), 1 + r.Intn(80), 1 + r.Intn(300), float32(r.NormFloat64()), 0, r.Intn(3)}
			if r.Intn(2) == 1 {
				s.beta = float32(r.NormFloat64())
			}
			checkShape(t, r, s)
		}
	})
}

func TestSgemmNoAlloc(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, s := range []shape{
		{false, false, 128, 256, 300, 1, 0, 0},
		{false, false, 10, 512, 768, 1, 0, 0},
		{false, true, 10, 512, 768, 1, 0, 0},
		{true, false, 256, 128, 10, 1, 1, 0},
		{false, false, 13, 33, 17, 1, 0, 0},
	} {
		lda, ldb, ldc, lenA, lenB, lenC := dims(s)
		a, b, c := randSlice(r, lenA), randSlice(r, lenB), randSlice(r, lenC)
		f := func() { Sgemm(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, c, ldc) }
		f()
		if n := testing.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%v: %v allocs per call", s, n)
		}
	}
	pa, pbm, pc := randSlice(r, 10*768), randSlice(r, 768*512), randSlice(r, 10*512)
	pb := PackB(false, 768, 512, pbm, 512)
	fp := func() { SgemmPacked(false, 10, 1, pa, 768, pb, 0, pc, 512) }
	fp()
	if n := testing.AllocsPerRun(20, fp); n != 0 {
		t.Errorf("packed: %v allocs per call", n)
	}
	a, b, c := randSlice(r, 12*10*64), randSlice(r, 12*10*64), randSlice(r, 12*10*10)
	f := func() { SgemmBatched(12, false, true, 10, 10, 64, 1, a, 64, 640, b, 64, 640, 0, c, 10, 100) }
	f()
	if n := testing.AllocsPerRun(20, f); n != 0 {
		t.Errorf("batched: %v allocs per call", n)
	}
}

func TestSgemmPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("expected panic for short slice")
		}
	}()
	Sgemm(false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
}

func TestPeakGFLOPS(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	g := PeakGFLOPS(1)
	if !(g > 0) {
		t.Fatalf("peak %v", g)
	}
	t.Logf("%s: peak 1 thread %.1f GFLOP/s", Kernel(), g)
}

// TestSgemmConcurrent runs GEMMs from several goroutines at once and from
// inside parallel workers (nested parallelism).
func TestSgemmConcurrent(t *testing.T) {
	const m, n, k = 40, 150, 200
	r := rand.New(rand.NewSource(6))
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := make([]float32, m*n)
	refGemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
	outs := make([][]float32, 8)
	done := make(chan int)
	for g := range outs {
		outs[g] = make([]float32, m*n)
		go func(g int) {
			for it := 0; it < 20; it++ {
				Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, outs[g], n)
			}
			done <- g
		}(g)
	}
	for range outs {
		g := <-done
		compare(t, "concurrent", m, n, k, outs[g], want, make([]float32, m*n), n, 1, 0)
	}
	nested := make([][]float32, 6)
	for i := range nested {
		nested[i] = make([]float32, m*n)
	}
	parallel.For(len(nested), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, nested[i], n)
		}
	})
	for i := range nested {
		compare(t, "nested", m, n, k, nested[i], want, make([]float32, m*n), n, 1, 0)
	}
}

func TestSgemmPacked(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(7))
		for _, s := range []shape{
			{false, false, 10, 100, 70, 1, 0, 0},
			{true, false, 1, 33, 5, 1, 1, 2},
			{false, true, 3, 65, 300, -0.5, 0, 1},
			{true, true, 12, 64, 64, 1, 0.5, 0},
			{false, false, 13, 31, 17, 2, 0, 3},
			{false, true, 130, 97, 600, 1, -1, 0},
			{true, false, 200, 40, 10, 1, 0, 0},
			{false, false, 4, 7, 0, 1, 0.5, 0},
		} {
			lda, ldb, ldc, lenA, lenB, lenC := dims(s)
			a, b, c0 := randSlice(r, lenA), randSlice(r, lenB), randSlice(r, lenC)
			pb := PackB(s.tB, s.k, s.n, b, ldb)
			if pb.K() != s.k || pb.N() != s.n {
				t.Fatalf("PackedB dims %dx%d", pb.K(), pb.N())
			}
			got := append([]float32(nil), c0...)
			want := append([]float32(nil), c0...)
			SgemmPacked(s.tA, s.m, s.alpha, a, lda, pb, s.beta, got, ldc)
			refGemm(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, want, ldc)
			compare(t, "packed "+s.String(), s.m, s.n, s.k, got, want, c0, ldc, s.alpha, s.beta)
		}
	})
}
