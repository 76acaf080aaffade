package nnscope

import (
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"nnscope/display"
	"nnscope/progress"
)

// ProgressBar shows the progress of a loop (layers, prompts, steps): a bar
// redrawn in place on a terminal, a few lines in a log, and a display
// updated in place in a notebook. A nil *ProgressBar does nothing.
type ProgressBar struct {
	mu       sync.Mutex
	label    string
	total    int
	done     int
	start    time.Time
	lastDraw time.Time
	finished bool

	id string // notebook display id ("" outside notebooks)

	w         io.Writer
	terminal  bool
	lastWidth int
	nextPct   int
}

var progressIDs atomic.Int64

// Progress starts a progress bar for total steps (0 or less: unknown),
// e.g.
//
//	bar := nnscope.Progress(12, "layers")
//	for l := 0; l < 12; l++ {
//		// ... layer l's work
//		bar.Add(1)
//	}
//	bar.Done()
func Progress(total int, label string) *ProgressBar {
	p := &ProgressBar{label: label, total: total, start: time.Now(), nextPct: 25}
	if display.Active() {
		p.id = fmt.Sprintf("nnscope-progress-%d-%d", os.Getpid(), progressIDs.Add(1))
		p.mu.Lock()
		p.notebookLocked(false)
		p.mu.Unlock()
		return p
	}
	p.w = os.Stderr
	p.terminal = progress.IsTerminal(p.w)
	return p
}

// Add records n more steps done.
func (p *ProgressBar) Add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.drawLocked(false)
}

// Set sets the steps done.
func (p *ProgressBar) Set(done int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	p.drawLocked(false)
}

// Count returns the steps done so far.
func (p *ProgressBar) Count() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Done draws the final state. Later calls do nothing.
func (p *ProgressBar) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.drawLocked(true)
	p.finished = true
}

func (p *ProgressBar) String() string {
	if p == nil {
		return "<nil progress bar>"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.render(time.Now(), true)
}

const progressInterval = 100 * time.Millisecond

func (p *ProgressBar) drawLocked(final bool) {
	if p.finished {
		return
	}
	now := time.Now()
	if p.total > 0 && p.done >= p.total {
		final = true
	}
	if p.id != "" {
		if !final && now.Sub(p.lastDraw) < progressInterval {
			return
		}
		p.lastDraw = now
		p.notebookLocked(true)
		if final {
			p.finished = true
		}
		return
	}
	if p.terminal {
		if !final && !p.lastDraw.IsZero() && now.Sub(p.lastDraw) < progressInterval {
			return
		}
		p.lastDraw = now
		line := p.render(now, true)
		pad := ""
		if n := len(line); n < p.lastWidth {
			pad = strings.Repeat(" ", p.lastWidth-n)
		}
		p.lastWidth = len(line)
		end := ""
		if final {
			end = "\n"
			p.finished = true
		}
		fmt.Fprintf(p.w, "\r%s%s%s", line, pad, end)
		return
	}
	// Not a terminal: a line at each quarter and at the end.
	if final {
		fmt.Fprintln(p.w, p.render(now, false))
		p.finished = true
		return
	}
	if p.total > 0 {
		pct := 100 * p.done / p.total
		if pct < p.nextPct {
			return
		}
		for p.nextPct <= pct {
			p.nextPct += 25
		}
		fmt.Fprintln(p.w, p.render(now, false))
	}
}

// notebookLocked publishes the bar as a display (update: replacing the
// earlier one).
func (p *ProgressBar) notebookLocked(update bool) {
	now := time.Now()
	text := p.render(now, true)
	var h strings.Builder
	h.WriteString(`<div style="font-family:monospace">`)
	if p.label != "" {
		fmt.Fprintf(&h, "%s ", html.EscapeString(p.label))
	}
	if p.total > 0 {
		fmt.Fprintf(&h, `<progress value="%d" max="%d" style="width:20em;vertical-align:middle"></progress> `, min(p.done, p.total), p.total)
	}
	fmt.Fprintf(&h, "%s</div>", html.EscapeString(p.counts(now)))
	display.Show(display.Output{
		Data:   map[string][]byte{"text/plain": []byte(text), "text/html": []byte(h.String())},
		ID:     p.id,
		Update: update,
	})
}

// render formats the bar on one line: label, bar, done/total, percent,
// elapsed time, rate and ETA.
func (p *ProgressBar) render(now time.Time, bar bool) string {
	var s strings.Builder
	s.WriteString(p.label)
	if p.total > 0 && bar {
		const width = 20
		frac := min(max(float64(p.done)/float64(p.total), 0), 1)
		n := int(frac * width)
		if s.Len() > 0 {
			s.WriteString("  ")
		}
		s.WriteString("[")
		s.WriteString(strings.Repeat("=", n))
		if n < width {
			s.WriteString(">")
			s.WriteString(strings.Repeat(" ", width-n-1))
		}
		s.WriteString("]")
	}
	if s.Len() > 0 {
		s.WriteString("  ")
	}
	s.WriteString(p.counts(now))
	return s.String()
}

func (p *ProgressBar) counts(now time.Time) string {
	elapsed := now.Sub(p.start)
	var s strings.Builder
	if p.total > 0 {
		fmt.Fprintf(&s, "%d/%d  %3d%%", p.done, p.total, 100*min(p.done, p.total)/p.total)
	} else {
		fmt.Fprintf(&s, "%d", p.done)
	}
	fmt.Fprintf(&s, "  %s", progress.Duration(elapsed))
	if secs := elapsed.Seconds(); secs > 0 && p.done > 0 {
		rate := float64(p.done) / secs
		fmt.Fprintf(&s, "  %.1f/s", rate)
		if p.total > p.done {
			eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
			fmt.Fprintf(&s, "  ETA %s", progress.Duration(eta))
		}
	}
	return s.String()
}

// ShowProgress is a GenerateOption that shows a progress bar of the
// generated tokens (in a notebook, an updating display; notebooks show one
// anyway for 32 tokens or more once the generation has run a second).
func ShowProgress() GenerateOption { return func(o *genOptions) { o.progress = true } }
