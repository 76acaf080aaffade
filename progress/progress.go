// Package progress draws a byte-count progress bar on an io.Writer: label,
// bytes done/total, percent, rate and ETA. On a terminal the line is redrawn
// in place with \r at most 10 times a second; on anything else (a log file,
// a notebook cell, a pipe) it prints a few plain lines instead.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Bar is a progress bar for a byte count. It is safe for concurrent use and
// is itself an io.Writer that counts what is written to it, for use with
// io.TeeReader or io.MultiWriter. A nil *Bar does nothing.
type Bar struct {
	// Terminal selects in-place redrawing; New sets it by probing the
	// writer. Change it before the first update if needed.
	Terminal bool
	// Interval is the minimum time between redraws (default 100ms).
	Interval time.Duration

	mu        sync.Mutex
	w         io.Writer
	label     string
	total     int64 // < 0: unknown
	done      int64
	base      int64 // bytes done before this session (not counted in the rate)
	start     time.Time
	lastDraw  time.Time
	lastWidth int
	nextPct   int // plain mode: next percentage that earns a line
	lastPlain time.Time
	announced bool // plain mode: the opening line was printed
	finished  bool
	now       func() time.Time
}

// New returns a bar writing to w for total bytes (negative when unknown).
// It draws nothing until the first update.
func New(w io.Writer, label string, total int64) *Bar {
	b := &Bar{w: w, label: label, total: total, Terminal: IsTerminal(w), Interval: 100 * time.Millisecond, now: time.Now, nextPct: 25}
	b.start = b.now()
	return b
}

// SetTotal changes the total (negative: unknown).
func (b *Bar) SetTotal(total int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.total = total
	b.mu.Unlock()
}

// Skip records n bytes done earlier (a resumed download): they count toward
// the percentage but not the rate.
func (b *Bar) Skip(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.done += n
	b.base += n
	b.mu.Unlock()
}

// Add records n more bytes and redraws if enough time has passed.
func (b *Bar) Add(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.update(false)
}

// Write counts len(p) bytes; it never fails.
func (b *Bar) Write(p []byte) (int, error) {
	b.Add(int64(len(p)))
	return len(p), nil
}

// Done returns the bytes counted so far.
func (b *Bar) Done() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done
}

// Finish draws the final state and ends the line. Later calls do nothing.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.update(true)
	b.finished = true
}

func (b *Bar) update(final bool) {
	if b.finished || b.w == nil {
		return
	}
	now := b.now()
	if b.Terminal {
		interval := b.Interval
		if interval <= 0 {
			interval = 100 * time.Millisecond
		}
		if !final && !b.lastDraw.IsZero() && now.Sub(b.lastDraw) < interval {
			return
		}
		b.lastDraw = now
		line := b.render(now, true)
		pad := ""
		if n := len(line); n < b.lastWidth {
			pad = strings.Repeat(" ", b.lastWidth-n)
		}
		b.lastWidth = len(line)
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(b.w, "\r%s%s%s", line, pad, end)
		return
	}
	// Plain mode: an opening line, a line at each quarter (or every 30s
	// when the total is unknown) and a final summary.
	if !b.announced {
		b.announced = true
		if b.total >= 0 {
			fmt.Fprintf(b.w, "%s: %s\n", b.label, Bytes(b.total))
		} else {
			fmt.Fprintf(b.w, "%s: size unknown\n", b.label)
		}
	}
	if final {
		elapsed := now.Sub(b.start)
		fmt.Fprintf(b.w, "%s: %s in %s (%s/s)\n", b.label, Bytes(b.done), Duration(elapsed), Bytes(b.rate(now)))
		return
	}
	if b.total > 0 {
		pct := int(100 * b.done / b.total)
		if pct < b.nextPct || pct >= 100 {
			return
		}
		for b.nextPct <= pct {
			b.nextPct += 25
		}
	} else {
		if !b.lastPlain.IsZero() && now.Sub(b.lastPlain) < 30*time.Second {
			return
		}
		if b.lastPlain.IsZero() && now.Sub(b.start) < 30*time.Second {
			return
		}
	}
	b.lastPlain = now
	fmt.Fprintln(b.w, b.render(now, false))
}

func (b *Bar) rate(now time.Time) int64 {
	secs := now.Sub(b.start).Seconds()
	if secs <= 0 {
		return 0
	}
	return int64(float64(b.done-b.base) / secs)
}

// render formats the current state on one line.
func (b *Bar) render(now time.Time, bar bool) string {
	var s strings.Builder
	s.WriteString(b.label)
	rate := b.rate(now)
	if b.total > 0 {
		frac := float64(b.done) / float64(b.total)
		frac = min(max(frac, 0), 1)
		if bar {
			const width = 20
			n := int(frac * width)
			s.WriteString("  [")
			s.WriteString(strings.Repeat("=", n))
			if n < width {
				s.WriteString(">")
				s.WriteString(strings.Repeat(" ", width-n-1))
			}
			s.WriteString("]")
		}
		fmt.Fprintf(&s, "  %s / %s  %3d%%  %s/s", Bytes(b.done), Bytes(b.total), int(frac*100), Bytes(rate))
		if rate > 0 && b.done < b.total {
			fmt.Fprintf(&s, "  ETA %s", Duration(time.Duration(float64(b.total-b.done)/float64(rate)*float64(time.Second))))
		}
	} else {
		fmt.Fprintf(&s, "  %s  %s/s", Bytes(b.done), Bytes(rate))
	}
	return s.String()
}

// Bytes formats n with decimal units: "512 B", "1.5 kB", "548.1 MB".
func Bytes(n int64) string {
	const units = "kMGTPE"
	if n < 1000 && n > -1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	i := -1
	for (v >= 999.95 || v <= -999.95) && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %cB", v, units[i])
}

// Duration formats d as m:ss or h:mm:ss.
func Duration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s < 0 {
		s = 0
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// Set sets the bytes done (a restarted download starts again from 0) and
// redraws if enough time has passed.
func (b *Bar) Set(done int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if done < b.base {
		b.base = done
	}
	b.done = done
	b.update(false)
}
