package runtime

import "sync"

// parallelRange splits [0,n) over the cores. (temporary until runtime/parallel lands)
func parallelRange(n, grain int, fn func(lo, hi int)) {
	if n <= grain {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	mid := n / 2
	wg.Add(1)
	go func() { fn(mid, n); wg.Done() }()
	fn(0, mid)
	wg.Wait()
}
