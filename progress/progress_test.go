package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestBar(w *bytes.Buffer, total int64, terminal bool) (*Bar, *clock) {
	c := &clock{t: time.Unix(1000, 0)}
	b := New(w, "model.safetensors", total)
	b.now = c.now
	b.start = c.t
	b.Terminal = terminal
	return b, c
}

func TestTerminalRedrawRate(t *testing.T) {
	var buf bytes.Buffer
	b, c := newTestBar(&buf, 10_000_000, true)
	for i := 0; i < 1000; i++ { // 1 s of 10 kB every ms
		c.t = c.t.Add(time.Millisecond)
		b.Add(10_000)
	}
	b.Finish()
	out := buf.String()
	draws := strings.Count(out, "\r")
	if draws < 9 || draws > 12 {
		t.Errorf("%d redraws in 1s, want about 10", draws)
	}
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("output should end with exactly one newline: %q", out[len(out)-40:])
	}
	last := out[strings.LastIndex(out, "\r")+1:]
	for _, s := range []string{"model.safetensors", "10.0 MB / 10.0 MB", "100%", "10.0 MB/s", "[===================="} {
		if !strings.Contains(last, s) {
			t.Errorf("final line %q lacks %q", last, s)
		}
	}
	mid := strings.Split(out, "\r")[5]
	if !strings.Contains(mid, "ETA 0:0") || !strings.Contains(mid, "%") {
		t.Errorf("mid line %q lacks ETA", mid)
	}
	b.Finish()
	b.Add(1)
	if buf.String() != out {
		t.Error("output after Finish")
	}
}

func TestPlainLines(t *testing.T) {
	var buf bytes.Buffer
	b, c := newTestBar(&buf, 1000, false)
	b.Skip(100) // resumed: counts toward the percentage, not the rate
	for i := 0; i < 900; i++ {
		c.t = c.t.Add(10 * time.Millisecond)
		b.Add(1)
	}
	b.Finish()
	out := buf.String()
	if strings.Contains(out, "\r") {
		t.Errorf("\\r in plain output: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 || lines[0] != "model.safetensors: 1.0 kB" { // opening, 25%, 50%, 75%, summary
		t.Errorf("%d lines:\n%s", len(lines), out)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "1.0 kB in 0:09") || !strings.Contains(last, "100 B/s") {
		t.Errorf("summary %q", last)
	}
}

func TestUnknownTotalAndNil(t *testing.T) {
	var buf bytes.Buffer
	b, c := newTestBar(&buf, -1, true)
	c.t = c.t.Add(2 * time.Second)
	b.Write(make([]byte, 3000))
	b.Finish()
	if out := buf.String(); !strings.Contains(out, "3.0 kB  1.5 kB/s") {
		t.Errorf("%q", out)
	}
	var nb *Bar
	nb.Add(1)
	nb.Set(1)
	nb.Skip(1)
	nb.SetTotal(1)
	nb.Write([]byte("x"))
	nb.Finish()
	if IsTerminal(&buf) {
		t.Error("a buffer is not a terminal")
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 548_105_171: "548.1 MB", 999_960: "1.0 MB", 2_500_000_000: "2.5 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0:00", 65 * time.Second: "1:05", 3725 * time.Second: "1:02:05", -time.Second: "0:00"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}
