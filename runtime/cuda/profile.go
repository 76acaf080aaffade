package cuda

import (
	"fmt"
	"sort"
	"unsafe"
)

// KernelTime is the GPU time that one kernel, or one shape of cuBLAS call,
// took while profiling was on.
type KernelTime struct {
	Name  string
	Calls int
	Ms    float64
}

// profiler brackets each piece of stream work with two CUDA events and
// sums the time between them by name. Events measure on the GPU's clock,
// so the numbers hold although launches return before the work runs; a
// span also counts any time the GPU sat idle waiting for that launch, so
// host-bound runs read high.
type profiler struct {
	on      bool
	label   string    // names the next launch's span in place of its kernel (label)
	idle    []uintptr // events to reuse
	pending []profSpan
	totals  map[string]*KernelTime
	err     error // from a batch read during the work, for KernelTimes
}

type profSpan struct {
	name       string
	start, end uintptr
}

// label names the spans of the launches fn makes (a kernel's shape) when
// profiling; it costs nothing otherwise.
func (d *Device) label(name func() string, fn func() error) error {
	if !d.prof.on {
		return fn()
	}
	d.prof.label = name()
	defer func() { d.prof.label = "" }()
	return fn()
}

// named is the span name of a launch of kernel name.
func (p *profiler) named(name string) string {
	if p.label != "" {
		return p.label
	}
	return name
}

// profileBatch bounds the spans waiting to be read (a sync each batch).
const profileBatch = 4096

// SetProfiling turns per-kernel timing on or off. Off, the default, costs
// each launch one branch.
func (d *Device) SetProfiling(on bool) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	d.prof.on = on
	return nil
}

// KernelTimes waits for the GPU and returns the time per kernel since
// profiling was turned on or last read, most first; the sums start again.
func (d *Device) KernelTimes() ([]KernelTime, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.exit()
	err := d.prof.err
	d.prof.err = nil
	if e := d.profCollect(); err == nil {
		err = e
	}
	if err != nil {
		return nil, err
	}
	out := make([]KernelTime, 0, len(d.prof.totals))
	for _, k := range d.prof.totals {
		out = append(out, *k)
	}
	d.prof.totals = nil
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ms != out[j].Ms {
			return out[i].Ms > out[j].Ms
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// profBegin records a start event on the stream, or returns 0 when
// profiling is off (or the event failed: profiling never fails the work).
// The context must be current.
func (d *Device) profBegin() uintptr {
	if !d.prof.on {
		return 0
	}
	return d.profRecord()
}

// profEnd closes the span that profBegin opened, named by name().
func (d *Device) profEnd(start uintptr, name func() string) {
	if start == 0 {
		return
	}
	end := d.profRecord()
	if end == 0 {
		d.prof.idle = append(d.prof.idle, start)
		return
	}
	d.prof.pending = append(d.prof.pending, profSpan{name(), start, end})
	if len(d.prof.pending) >= profileBatch {
		if err := d.profCollect(); err != nil && d.prof.err == nil {
			d.prof.err = err // profiling never fails the work: KernelTimes reports it
		}
	}
}

func (d *Device) profRecord() uintptr {
	var ev uintptr
	if n := len(d.prof.idle); n > 0 {
		ev, d.prof.idle = d.prof.idle[n-1], d.prof.idle[:n-1]
	} else {
		d.sc.out[0] = 0
		if d.drv.call("cuEventCreate", d.drv.cuEventCreate, d.outPtr(0), 0) != nil {
			return 0
		}
		ev = uintptr(d.sc.out[0])
	}
	if d.drv.call("cuEventRecord", d.drv.cuEventRecord, ev, d.stream) != nil {
		d.prof.idle = append(d.prof.idle, ev)
		return 0
	}
	return ev
}

// profCollect waits for the stream and adds the pending spans to the sums.
func (d *Device) profCollect() error {
	if len(d.prof.pending) == 0 {
		return nil
	}
	if err := d.drv.call("cuStreamSynchronize", d.drv.cuStreamSynchronize, d.stream); err != nil {
		return err
	}
	if d.prof.totals == nil {
		d.prof.totals = map[string]*KernelTime{}
	}
	ms := (*float32)(unsafe.Pointer(&d.sc.out[0]))
	var err error
	for _, s := range d.prof.pending {
		*ms = 0
		if e := d.drv.call("cuEventElapsedTime", d.drv.cuEventElapsedTime, d.outPtr(0), s.start, s.end); e != nil && err == nil {
			err = fmt.Errorf("cuda: timing %s: %w", s.name, e)
		}
		k := d.prof.totals[s.name]
		if k == nil {
			k = &KernelTime{Name: s.name}
			d.prof.totals[s.name] = k
		}
		k.Calls++
		k.Ms += float64(*ms)
		d.prof.idle = append(d.prof.idle, s.start, s.end)
	}
	d.prof.pending = d.prof.pending[:0]
	return err
}

// profDestroy frees the events (Close).
func (d *Device) profDestroy() {
	for _, s := range d.prof.pending {
		d.prof.idle = append(d.prof.idle, s.start, s.end)
	}
	for _, ev := range d.prof.idle {
		_ = d.drv.call("cuEventDestroy_v2", d.drv.cuEventDestroy, ev)
	}
	d.prof = profiler{}
}

// gemmName names a cuBLAS call for the profile: row-major m x n x k, the
// transposes, and the batch when there is more than one.
func gemmName(transA, transB bool, m, n, k, batch int) string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	s := fmt.Sprintf("sgemm %s%s %dx%dx%d", t(transA), t(transB), m, n, k)
	if batch > 1 {
		s += fmt.Sprintf(" x%d", batch)
	}
	return s
}
