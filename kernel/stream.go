package kernel

import (
	"bytes"
	"sync"
	"time"
	"unicode/utf8"
)

// streamWriter is the io.Writer handed to the evaluator as stdout or stderr. It coalesces small
// writes: a write that ends a line is published at once unless another chunk went out less than
// interval ago; everything else waits at most interval. Flush publishes what is pending.
type streamWriter struct {
	mu       sync.Mutex
	buf      []byte
	last     time.Time
	timer    *time.Timer
	interval time.Duration
	publish  func(text string) // called with mu held, so chunks keep their order
}

// maxPending is the size at which a write is published regardless of timing.
const maxPending = 64 << 10

func newStreamWriter(interval time.Duration, publish func(string)) *streamWriter {
	return &streamWriter{interval: interval, publish: publish}
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	now := time.Now()
	switch {
	case len(w.buf) >= maxPending:
		w.flushLocked(now)
	case bytes.IndexByte(p, '\n') >= 0 && now.Sub(w.last) >= w.interval:
		w.flushLocked(now)
	case w.timer == nil:
		d := w.interval - now.Sub(w.last)
		if d <= 0 || d > w.interval {
			d = w.interval
		}
		w.timer = time.AfterFunc(d, func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.timer = nil
			w.flushLocked(time.Now())
		})
	}
	return len(p), nil
}

// flushLocked publishes the pending text. A UTF-8 sequence cut at the end of the buffer is kept
// back for the next chunk.
func (w *streamWriter) flushLocked(now time.Time) {
	if len(w.buf) == 0 {
		return
	}
	n := len(w.buf)
	// Keep back an incomplete trailing rune (at most 3 bytes).
	for k := 1; k <= 3 && k <= n; k++ {
		c := w.buf[n-k]
		if c < 0x80 { // ASCII: nothing cut
			break
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(w.buf[n-k:]) {
				n -= k
			}
			break
		}
	}
	if n == 0 {
		return
	}
	text := string(w.buf[:n])
	w.buf = append(w.buf[:0], w.buf[n:]...)
	w.last = now
	w.publish(text)
}

// Flush publishes everything pending, including an incomplete trailing rune.
func (w *streamWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.flushLocked(time.Now())
	if len(w.buf) > 0 {
		w.publish(string(w.buf))
		w.buf = w.buf[:0]
	}
}
