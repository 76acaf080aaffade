// Package gemm implements single-precision general matrix multiplication
// (row-major) for the CPU.
//
// The structure is the classic GotoBLAS/BLIS one: op(A) is packed into
// MR-row panels blocked by KC along k, op(B) is packed strip by strip
// (NR columns, KC rows) right before use, and an assembly micro-kernel
// (AVX-512 12x32, AVX2+FMA 6x16, or a portable Go 4x4) computes MR x NR
// tiles of C. Two memory-bound special cases avoid packing B entirely:
//
//   - small m with B not transposed: the micro-kernel reads B rows in
//     place (row stride ldb) with software prefetch, so B is streamed once;
//   - small m with B transposed (e.g. the LM head, x·Eᵀ): a 5x4 dot-product
//     kernel reads rows of B contiguously (AVX-512 only).
//
// For a B that is reused across calls (weights), PackB + SgemmPacked store
// it once in the kernel's layout; the product then streams B sequentially,
// which is markedly faster when m is small (memory-bound) and removes the
// B packing cost when m is large.
//
// Work is split across cores with runtime/parallel. Packing buffers are
// pooled, so steady-state calls do not allocate.
package gemm

import (
	"fmt"
	"sync"
	"unsafe"

	"nnscope/runtime/parallel"
)

// Tunables of the small-m direct-B path (variables so tests can tune).
var (
	kcDirect = 4096 // k block
	prefRows = 24   // software prefetch distance in B rows
	// prefetch distance in rows when B is pre-packed (sequential)
	prefRowsPacked = 64
)

const (
	kcPacked    = 256 // k block for the packed path
	mcPanels    = 40  // A panels per m block (MC = 40*MR)
	groupStrips = 4   // B strips packed together (contiguous row reads)
	dotMaxM     = 16  // transB with m <= dotMaxM uses the dot kernel
	dotMR       = 5
	dotNR       = 4
	maxParts    = 64
	// work parts per pool thread for parallel GEMMs
	partsPerThread = 3
	// GEMMs below this many flops run on the calling goroutine only.
	parallelMinFlops = 1 << 21
)

type job struct {
	kid, mr, nr    int
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int

	kc, nkb        int // k block size and count
	mpad           int // m rounded up to a multiple of mr
	panels, strips int
	parts          int
	splitN         bool
	direct         bool
	useDot         bool
	aDot           []float32 // A rows for the dot path
	pb             *PackedB  // pre-packed B, if any
	ldaDot         int

	packA []float32
	bufB  [maxParts][]float32

	fnPackA func(lo, hi int)
	fnRun   func(lo, hi int)
}

var jobPool struct {
	mu   sync.Mutex
	free []*job
}

func getJob() *job {
	jobPool.mu.Lock()
	var j *job
	if n := len(jobPool.free); n > 0 {
		j = jobPool.free[n-1]
		jobPool.free[n-1] = nil
		jobPool.free = jobPool.free[:n-1]
	}
	jobPool.mu.Unlock()
	if j == nil {
		j = &job{}
		j.fnPackA = j.packARange
		j.fnRun = j.runRange
	}
	return j
}

func putJob(j *job) {
	j.a, j.b, j.c, j.aDot, j.pb = nil, nil, nil, nil, nil
	jobPool.mu.Lock()
	jobPool.free = append(jobPool.free, j)
	jobPool.mu.Unlock()
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C where op(X) is X or X^T.
// op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are row strides
// in elements. All matrices are row-major. When beta == 0, C is
// overwritten without being read (NaNs in C are ignored).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	check(transA, transB, m, n, k, a, lda, 0, b, ldb, 0, c, ldc, 0, 1)
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true)
}

// SgemmBatched does batch independent GEMMs; the i-th one uses
// a[i*strideA:], b[i*strideB:] and c[i*strideC:] with the same shapes and
// leading dimensions as Sgemm.
func SgemmBatched(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	if batch <= 0 {
		return
	}
	check(transA, transB, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch)
	if m == 0 || n == 0 {
		return
	}
	flops := 2 * float64(m) * float64(n) * float64(k)
	if batch == 1 || flops >= 8*parallelMinFlops || parallel.Threads() == 1 {
		for i := 0; i < batch; i++ {
			sgemm(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc, true)
		}
		return
	}
	bj := getBatchJob()
	bj.transA, bj.transB = transA, transB
	bj.m, bj.n, bj.k = m, n, k
	bj.alpha, bj.beta = alpha, beta
	bj.a, bj.lda, bj.strideA = a, lda, strideA
	bj.b, bj.ldb, bj.strideB = b, ldb, strideB
	bj.c, bj.ldc, bj.strideC = c, ldc, strideC
	grain := int(parallelMinFlops/flops) + 1
	parallel.For(batch, grain, bj.fn)
	putBatchJob(bj)
}

type batchJob struct {
	transA, transB            bool
	m, n, k                   int
	alpha, beta               float32
	a, b, c                   []float32
	lda, ldb, ldc             int
	strideA, strideB, strideC int
	fn                        func(lo, hi int)
}

var batchPool struct {
	mu   sync.Mutex
	free []*batchJob
}

func getBatchJob() *batchJob {
	batchPool.mu.Lock()
	var j *batchJob
	if n := len(batchPool.free); n > 0 {
		j = batchPool.free[n-1]
		batchPool.free = batchPool.free[:n-1]
	}
	batchPool.mu.Unlock()
	if j == nil {
		j = &batchJob{}
		j.fn = j.run
	}
	return j
}

func putBatchJob(j *batchJob) {
	j.a, j.b, j.c = nil, nil, nil
	batchPool.mu.Lock()
	batchPool.free = append(batchPool.free, j)
	batchPool.mu.Unlock()
}

func (bj *batchJob) run(lo, hi int) {
	for i := lo; i < hi; i++ {
		sgemm(bj.transA, bj.transB, bj.m, bj.n, bj.k, bj.alpha,
			bj.a[i*bj.strideA:], bj.lda, bj.b[i*bj.strideB:], bj.ldb,
			bj.beta, bj.c[i*bj.strideC:], bj.ldc, false)
	}
}

func check(transA, transB bool, m, n, k int, a []float32, lda, strideA int, b []float32, ldb, strideB int, c []float32, ldc, strideC, batch int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	if transA {
		needMat("a", a, k, m, lda, strideA, batch)
	} else {
		needMat("a", a, m, k, lda, strideA, batch)
	}
	if b != nil || ldb >= 0 {
		if transB {
			needMat("b", b, n, k, ldb, strideB, batch)
		} else {
			needMat("b", b, k, n, ldb, strideB, batch)
		}
	}
	needMat("c", c, m, n, ldc, strideC, batch)
}

// needMat panics unless s holds batch rows x cols matrices with leading
// dimension ld, stride elements apart.
func needMat(name string, s []float32, rows, cols, ld, stride, batch int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("gemm: ld%s=%d < %d", name, ld, cols))
	}
	if stride < 0 {
		panic(fmt.Sprintf("gemm: negative stride for %s", name))
	}
	if want := (batch-1)*stride + (rows-1)*ld + cols; len(s) < want {
		panic(fmt.Sprintf("gemm: len(%s)=%d < %d", name, len(s), want))
	}
}

// scaleC sets C = beta*C (C = 0 when beta == 0).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, par bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	j := getJob()
	j.kid = active
	j.run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, par)
}

// run executes the job; j.kid (and j.pb) must be set.
func (j *job) run(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, par bool) {
	ki := &kernels[j.kid]
	j.mr, j.nr = ki.mr, ki.nr
	j.transA, j.transB = transA, transB
	j.m, j.n, j.k = m, n, k
	j.alpha, j.beta = alpha, beta
	j.a, j.b, j.c = a, b, c
	j.lda, j.ldb, j.ldc = lda, ldb, ldc

	// threads is really the number of work parts: a few per pool thread so
	// that the dynamic chunk claiming in parallel.For can rebalance when a
	// core is busy with something else.
	threads := 1
	if par && 2*float64(m)*float64(n)*float64(k) >= parallelMinFlops {
		if t := parallel.Threads(); t > 1 {
			threads = partsPerThread * t
		}
	}

	j.direct = false
	j.useDot = transB && ki.dot && m <= dotMaxM && j.pb == nil
	if j.useDot {
		j.setupDot(threads)
	} else {
		j.setupPacked(threads)
	}
	if j.parts == 1 {
		j.runRange(0, 1)
	} else {
		parallel.For(j.parts, 1, j.fnRun)
	}
	putJob(j)
}

func (j *job) setupDot(threads int) {
	if j.transA {
		// Materialise op(A) row-major: m x k.
		j.packA = grow(j.packA, j.m*j.k)
		for p := 0; p < j.k; p++ {
			row := j.a[p*j.lda : p*j.lda+j.m]
			for i, v := range row {
				j.packA[i*j.k+p] = v
			}
		}
		j.aDot, j.ldaDot = j.packA, j.k
	} else {
		j.aDot, j.ldaDot = j.a, j.lda
	}
	groups := (j.n + dotNR - 1) / dotNR
	j.parts = min(threads, groups, maxParts)
}

func (j *job) setupPacked(threads int) {
	j.direct = !j.transB && j.m <= j.mr
	if j.direct && j.m <= j.mr {
		for _, v := range kernels[j.kid].smallMR {
			if j.m <= v {
				j.mr = v
				break
			}
		}
	}
	mr, nr := j.mr, j.nr
	j.panels = (j.m + mr - 1) / mr
	j.strips = (j.n + nr - 1) / nr
	j.mpad = j.panels * mr
	kcMax := kcPacked
	if j.direct && j.panels == 1 {
		kcMax = kcDirect
	}
	j.nkb = (j.k + kcMax - 1) / kcMax
	j.kc = (j.k + j.nkb - 1) / j.nkb

	// Partition over strips of C columns when there are enough of them,
	// otherwise over A panels.
	if j.direct || j.strips >= 2*threads || j.strips >= j.panels {
		j.splitN = true
		j.parts = min(threads, j.strips, maxParts)
	} else {
		j.splitN = false
		j.parts = min(threads, j.panels, maxParts)
	}
	bufLen := j.kc * nr * groupStrips
	if j.direct {
		bufLen = j.kc * nr
	}
	for p := 0; p < j.parts; p++ {
		j.bufB[p] = grow(j.bufB[p], bufLen)
	}

	// Pack all of op(A), in parallel when worthwhile.
	j.packA = grow(j.packA, j.mpad*j.k)
	units := j.nkb * j.panels
	if j.parts > 1 && units > 1 {
		grain := max(1, 32768/(mr*j.kc))
		parallel.For(units, grain, j.fnPackA)
	} else {
		j.packARange(0, units)
	}
}

func (j *job) packARange(lo, hi int) {
	for u := lo; u < hi; u++ {
		kb, ip := u/j.panels, u%j.panels
		pc := kb * j.kc
		kcb := min(j.kc, j.k-pc)
		off := pc*j.mpad + ip*j.mr*kcb
		j.packAPanel(j.packA[off:off+j.mr*kcb], pc, kcb, ip*j.mr)
	}
}

// packAPanel packs rows i0..i0+mr of op(A), columns pc..pc+kcb, as kcb
// groups of mr consecutive values (rows past m are zero).
func (j *job) packAPanel(dst []float32, pc, kcb, i0 int) {
	mr := j.mr
	rows := min(mr, j.m-i0)
	if j.transA {
		for p := 0; p < kcb; p++ {
			d := dst[p*mr : p*mr+mr]
			copy(d, j.a[(pc+p)*j.lda+i0:(pc+p)*j.lda+i0+rows])
			clear(d[rows:])
		}
		return
	}
	done := 0
	if rows == mr {
		_ = j.a[(i0+mr-1)*j.lda+pc+kcb-1] // bounds for the assembly
		done = packAFast(j.kid, mr, &dst[0], &j.a[i0*j.lda+pc], j.lda, kcb)
	}
	for i := 0; i < rows && done < kcb; i++ {
		src := j.a[(i0+i)*j.lda+pc+done : (i0+i)*j.lda+pc+kcb]
		d := dst[done*mr+i:]
		for p, v := range src {
			d[p*mr] = v
		}
	}
	if rows < mr {
		for p := 0; p < kcb; p++ {
			clear(dst[p*mr+rows : p*mr+mr])
		}
	}
}

// packB packs strips s0..s1 (at most groupStrips) of op(B), rows
// pc..pc+kcb, into dst: strip q occupies dst[q*kcb*nr:], kcb rows of nr
// values (columns past n are zero).
func (j *job) packB(dst []float32, pc, kcb, s0, s1 int) {
	nr := j.nr
	if !j.transB {
		j0 := s0 * nr
		j1 := min(s1*nr, j.n)
		full := (j1 - j0) / nr // strips with all nr columns present
		for p := 0; p < kcb; p++ {
			src := j.b[(pc+p)*j.ldb+j0 : (pc+p)*j.ldb+j1]
			if nr == 32 {
				// Fixed-size copies compile to inline vector moves.
				for q := 0; q < full; q++ {
					*(*[32]float32)(dst[q*kcb*nr+p*nr:]) = *(*[32]float32)(src[q*nr:])
				}
			} else {
				full = 0
			}
			for q := full; q < s1-s0; q++ {
				d := dst[q*kcb*nr+p*nr : q*kcb*nr+p*nr+nr]
				lo := q * nr
				if lo+nr <= len(src) {
					copy(d, src[lo:lo+nr])
				} else {
					c := copy(d, src[lo:])
					clear(d[c:])
				}
			}
		}
		return
	}
	for q := 0; q < s1-s0; q++ {
		j0 := (s0 + q) * nr
		cols := min(nr, j.n-j0)
		d := dst[q*kcb*nr : (q+1)*kcb*nr]
		done := 0
		if cols == nr {
			_ = j.b[(j0+nr-1)*j.ldb+pc+kcb-1] // bounds for the assembly
			done = packBTFast(j.kid, &d[0], &j.b[j0*j.ldb+pc], j.ldb, kcb)
		}
		for jj := 0; jj < cols && done < kcb; jj++ {
			src := j.b[(j0+jj)*j.ldb+pc+done : (j0+jj)*j.ldb+pc+kcb]
			dd := d[done*nr+jj:]
			for p, v := range src {
				dd[p*nr] = v
			}
		}
		if cols < nr {
			for p := 0; p < kcb; p++ {
				clear(d[p*nr+cols : p*nr+nr])
			}
		}
	}
}

func (j *job) runRange(lo, hi int) {
	for part := lo; part < hi; part++ {
		if j.useDot {
			groups := (j.n + dotNR - 1) / dotNR
			j.runDot(part*groups/j.parts, (part+1)*groups/j.parts)
			continue
		}
		var s0, s1, q0, q1 int
		if j.splitN {
			s0, s1 = part*j.strips/j.parts, (part+1)*j.strips/j.parts
			q0, q1 = 0, j.panels
		} else {
			s0, s1 = 0, j.strips
			q0, q1 = part*j.panels/j.parts, (part+1)*j.panels/j.parts
		}
		if j.direct {
			j.runDirect(part, s0, s1)
		} else {
			j.runPacked(part, s0, s1, q0, q1)
		}
	}
}

func (j *job) runPacked(part, s0, s1, q0, q1 int) {
	buf := j.bufB[part]
	nr, mr := j.nr, j.mr
	for kb := 0; kb < j.nkb; kb++ {
		pc := kb * j.kc
		kcb := min(j.kc, j.k-pc)
		beta := j.beta
		if kb > 0 {
			beta = 1
		}
		ablk := j.packA[pc*j.mpad:]
		for ic := q0; ic < q1; ic += mcPanels {
			icEnd := min(ic+mcPanels, q1)
			for sg := s0; sg < s1; sg += groupStrips {
				sgEnd := min(sg+groupStrips, s1)
				if j.pb != nil {
					j.runPrepacked(pc, kcb, beta, ablk, ic, icEnd, sg, sgEnd)
					continue
				}
				j.packB(buf, pc, kcb, sg, sgEnd)
				// While computing this group, prefetch the B rows the
				// next group will pack (not transposed B only).
				var pfBase uintptr
				pfRow, pfCol := pc, sgEnd
				if sgEnd >= s1 {
					pfRow, pfCol = pc+kcb, s0
				}
				if !j.transB && pfRow < j.k {
					pfBase = uintptr(unsafe.Pointer(&j.b[pfRow*j.ldb])) + uintptr(pfCol*nr*4)
				}
				for s := sg; s < sgEnd; s++ {
					bp := &buf[(s-sg)*kcb*nr]
					for ip := ic; ip < icEnd; ip++ {
						pf, pfs := uintptr(unsafe.Pointer(bp)), 0
						if ip == ic && pfBase != 0 && pfCol+s-sg < j.strips {
							pf, pfs = pfBase+uintptr((s-sg)*nr*4), j.ldb*4
						}
						j.tile(ip, s, kcb, &ablk[ip*mr*kcb], bp, nr, beta, pf, pfs, 64)
					}
				}
			}
		}
	}
}

func (j *job) runDirect(part, s0, s1 int) {
	nr := j.nr
	for kb := 0; kb < j.nkb; kb++ {
		pc := kb * j.kc
		kcb := min(j.kc, j.k-pc)
		beta := j.beta
		if kb > 0 {
			beta = 1
		}
		ablk := j.packA[pc*j.mpad:]
		for s := s0; s < s1; s++ {
			j0 := s * nr
			var bp *float32
			bs, pf, pfs := nr, uintptr(0), 0
			if j.pb != nil {
				bp = &j.pb.data[(s*j.k+pc)*nr]
				pf, pfs = uintptr(unsafe.Pointer(bp))+uintptr(prefRowsPacked*nr*4), nr*4
			} else if j0+nr <= j.n {
				bp, bs = &j.b[pc*j.ldb+j0], j.ldb
				pf, pfs = uintptr(unsafe.Pointer(bp))+uintptr(prefRows*j.ldb*4), j.ldb*4
			} else {
				buf := j.bufB[part]
				j.packB(buf, pc, kcb, s, s+1)
				bp = &buf[0]
				pf = uintptr(unsafe.Pointer(bp))
			}
			for ip := 0; ip < j.panels; ip++ {
				j.tile(ip, s, kcb, &ablk[ip*j.mr*kcb], bp, bs, beta, pf, pfs, 64)
				pf, pfs = uintptr(unsafe.Pointer(bp)), 0
			}
		}
	}
}

// runPrepacked is runPacked's inner part for a pre-packed B.
func (j *job) runPrepacked(pc, kcb int, beta float32, ablk []float32, ic, icEnd, sg, sgEnd int) {
	nr, mr := j.nr, j.mr
	for s := sg; s < sgEnd; s++ {
		bp := &j.pb.data[(s*j.k+pc)*nr]
		for ip := ic; ip < icEnd; ip++ {
			pf, pfs := uintptr(unsafe.Pointer(bp)), 0
			if ip == ic {
				// Prefetch the next strip's block.
				pf, pfs = pf+uintptr(j.k*nr*4), nr*4
			}
			j.tile(ip, s, kcb, &ablk[ip*mr*kcb], bp, nr, beta, pf, pfs, 64)
		}
	}
}

// tile computes the C tile of A panel ip and B strip s.
func (j *job) tile(ip, s, kcb int, ap, bp *float32, bs int, beta float32, pf uintptr, pfs, pf2 int) {
	j.tileC(j.c, j.ldc, ip, s, kcb, ap, bp, bs, beta, pf, pfs, pf2)
}

// tileC is tile with an explicit destination matrix.
func (j *job) tileC(cm []float32, ldc int, ip, s, kcb int, ap, bp *float32, bs int, beta float32, pf uintptr, pfs, pf2 int) {
	mr, nr := j.mr, j.nr
	i0, j0 := ip*mr, s*nr
	rows, cols := min(mr, j.m-i0), min(nr, j.n-j0)
	if rows == mr && cols == nr {
		callKernel(j.kid, mr, kcb, ap, bp, bs, &cm[i0*ldc+j0], ldc, j.alpha, beta, pf, pfs, pf2)
		return
	}
	var tmp [12 * 32]float32
	callKernel(j.kid, mr, kcb, ap, bp, bs, &tmp[0], nr, 1, 0, pf, pfs, pf2)
	alpha := j.alpha
	for i := 0; i < rows; i++ {
		row := cm[(i0+i)*ldc+j0 : (i0+i)*ldc+j0+cols]
		t := tmp[i*nr : i*nr+cols]
		if beta == 0 {
			for jj, v := range t {
				row[jj] = alpha * v
			}
		} else {
			for jj, v := range t {
				row[jj] = alpha*v + beta*row[jj]
			}
		}
	}
}

func (j *job) runDot(g0, g1 int) {
	a, lda := j.aDot, j.ldaDot
	for g := g0; g < g1; g++ {
		j0 := g * dotNR
		cols := min(dotNR, j.n-j0)
		bp := &j.b[j0*j.ldb]
		for i0 := 0; i0 < j.m; i0 += dotMR {
			rows := min(dotMR, j.m-i0)
			callDot(j.k, &a[i0*lda], lda, rows, bp, j.ldb, cols, &j.c[i0*j.ldc+j0], j.ldc, j.alpha, j.beta)
		}
	}
}
