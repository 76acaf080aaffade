package repl

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTmux drives the real nnscope binary in a pseudo-terminal, as a
// person would: typing, Tab, Ctrl-C, reading the screen.
func TestTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the tmux session")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux): skipping the interactive REPL test")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nnscope")
	build := exec.Command("go", "build", "-o", bin, "./cmd/nnscope")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	hist := filepath.Join(dir, "history")
	tm := &tmux{t: t, socket: fmt.Sprintf("nnscope-test-%d", os.Getpid()), target: "repl"}
	start := time.Now()
	tm.run("new-session", "-d", "-x", "200", "-y", "50", "-s", "repl", "-c", root,
		fmt.Sprintf("env TERM=xterm %s repl -history %s", bin, hist))
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })

	tm.waitFor("nnscope>", 1)
	t.Logf("prompt after %v (build excluded)", time.Since(start))

	// A multi-line function: the continuation prompt, then a call.
	tm.typeLine("func sq(x int) int {")
	tm.waitFor("\n...", 1)
	tm.typeLine("return x * x")
	tm.typeLine("}")
	tm.typeLine("sq(12)")
	tm.waitFor("\n144\n", 1)

	// Output without a final newline (fmt.Print, text streamed by
	// nnscope.Stream) stays on the screen: the next prompt starts a new
	// line instead of overwriting it.
	tm.typeLine(`fmt.Print("partial-" + "line ✓")`)
	tm.waitFor("line ✓", 2) // its echo and its output: typed ahead, sq(3) was echoed before the output
	tm.typeLine(`sq(3)`)
	tm.waitFor("\n9\n", 1)
	tm.waitFor("\npartial-line ✓", 1)

	// A trace with a gradient on the small model.
	tm.typeLine(`model := nnscope.LanguageModel("testdata/gpt2-tiny")`)
	tm.typeLine(`var grad *nnscope.Tensor`)
	tm.typeLine(`model.Trace("The Eiffel Tower is in the city of", func(tr *nnscope.Tracer) {`)
	tm.typeLine(`hs := model.Transformer.H.At(-1).Output()`)
	tm.typeLine(`hs.RequiresGrad()`)
	tm.typeLine(`model.LMHead.Output().Sum().Backward(func() { grad = hs.Grad().Save() })`)
	tm.typeLine(`})`)
	tm.typeLine(`fmt.Printf("Gradient mean: %.4f\n", grad.Abs().Mean().Item())`)
	tm.waitFor("Gradient mean: 13.4503", 1)

	// Auto-print of a tensor expression: values and shape.
	tm.typeLine(`grad.Slice("0, -1, :3")`)
	tm.waitFor("shape=[3]", 1)

	// Completion of a method name, then Ctrl-C clears the line.
	tm.typeText("model.Transf")
	tm.keys("Tab")
	tm.waitFor("nnscope> model.Transformer", 1)
	tm.keys("C-c")
	tm.waitFor("^C", 1)

	// Completion of a module path inside Module("...").
	tm.typeText(`attn := model.Module("transformer.h.1.at`)
	tm.keys("Tab")
	tm.waitFor(`model.Module("transformer.h.1.attn`, 1)
	tm.typeLine(`")`)
	tm.typeLine(`attn.Name()`)
	tm.waitFor(`"transformer.h.1.attn"`, 2) // the input line and the value

	// An error leaves the session alive.
	tm.typeLine(`undefinedThing + 1`)
	tm.waitFor("error: 1:1: undefined: undefinedThing", 1)
	tm.typeLine(`sq(5)`)
	tm.waitFor("\n25\n", 1)

	// :modules shows the shapes of the last trace.
	tm.typeLine(`:modules transformer.h.1.attn`)
	tm.waitFor("transformer.h.1.attn.c_attn", 1)
	tm.waitFor("[1 10 96]", 1)

	// Ctrl-C interrupts a long evaluation; the state survives.
	tm.typeLine(`n := 0`)
	tm.typeLine(`for { n++ }`)
	time.Sleep(500 * time.Millisecond)
	tm.keys("C-c")
	tm.waitFor("interrupted", 1)
	tm.typeLine(`n > 1000`)
	tm.waitFor("\ntrue\n", 1)
	tm.typeLine(`sq(7)`)
	tm.waitFor("\n49\n", 1)

	t.Logf("screen before :quit:\n%s", strings.TrimRight(tm.screen(), "\n"))
	tm.typeLine(":quit")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-L", tm.socket, "has-session", "-t", "repl").Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf(":quit did not end the REPL; screen:\n%s", tm.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	data, err := os.ReadFile(hist)
	if err != nil || !strings.Contains(string(data), "sq(12)") {
		t.Errorf("history file: %v %q", err, data)
	}
	t.Logf("whole session took %v", time.Since(start))
}

// TestTmuxScanInterrupt: Ctrl-C ends an fmt.Scan that waits for the user
// at once, and the line typed next goes to the prompt, not to the
// abandoned Scan (a blocked read of the terminal kept the evaluation
// waiting after Ctrl-C, and took the next line typed).
func TestTmuxScanInterrupt(t *testing.T) {
	tm := startTmux(t, "scan")
	tm.typeLine(`var s string`)
	tm.typeLine(`fmt.Print("name? "); fmt.Scanln(&s)`)
	tm.waitFor("\nname?", 1)
	tm.typeLine("Alice")
	tm.typeLine(`s + "!"`)
	tm.waitFor(`"Alice!"`, 1)

	tm.typeLine(`fmt.Scan(&s)`)
	time.Sleep(300 * time.Millisecond)
	tm.keys("C-c")
	tm.waitFor("interrupted", 1)
	tm.typeLine(`40 + 2`)
	tm.waitFor("\n42\n", 1)
	tm.typeLine(`s + "?"`)
	tm.waitFor(`"Alice?"`, 1)
}

// TestTmuxCtrlDAtContinuation: Ctrl-D leaves also at a continuation
// prompt, whose line holds the suggested indentation (readline saw text
// there and deleted nothing), and not on a line with text.
func TestTmuxCtrlDAtContinuation(t *testing.T) {
	tm := startTmux(t, "ctrld")
	tm.typeLine(`x := 40`)
	tm.typeLine(`if x > 0 {`)
	tm.typeText(`x += 2`)
	tm.keys("C-a", "C-d") // deletes a character of the indentation: not a quit
	tm.keys("C-e", "Enter")
	tm.typeLine(`}`)
	tm.typeLine(`x`)
	tm.waitFor("\n42\n", 1)
	// In reverse search, Ctrl-D leaves the search, not the REPL, and the
	// next line is evaluated.
	tm.typeLine(`if x > 0 {`)
	time.Sleep(200 * time.Millisecond)
	tm.keys("C-r")
	time.Sleep(100 * time.Millisecond)
	tm.keys("C-d")
	time.Sleep(200 * time.Millisecond)
	tm.keys("C-g")
	tm.typeLine(`x++`)
	tm.typeLine(`}`)
	tm.typeLine(`x`)
	tm.waitFor("\n43\n", 1)
	tm.typeLine(`func f() {`)
	time.Sleep(200 * time.Millisecond)
	tm.keys("C-d")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-L", tm.socket, "has-session", "-t", tm.target).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("Ctrl-D at the continuation prompt did not end the REPL; screen:\n%s", tm.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startTmux builds nnscope and starts its REPL in a tmux session named
// name, ended with the test.
func startTmux(t *testing.T, name string) *tmux {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the tmux session")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux): skipping the interactive REPL test")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nnscope")
	build := exec.Command("go", "build", "-o", bin, "./cmd/nnscope")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tm := &tmux{t: t, socket: fmt.Sprintf("nnscope-test-%s-%d", name, os.Getpid()), target: name}
	tm.run("new-session", "-d", "-x", "200", "-y", "50", "-s", name, "-c", root,
		fmt.Sprintf("env TERM=xterm %s repl -history ''", bin))
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	tm.waitFor("nnscope>", 1)
	return tm
}

type tmux struct {
	t      *testing.T
	socket string
	target string
}

func (tm *tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (tm *tmux) typeText(s string) { tm.t.Helper(); tm.run("send-keys", "-t", tm.target, "-l", s) }
func (tm *tmux) keys(k ...string) {
	tm.t.Helper()
	tm.run(append([]string{"send-keys", "-t", tm.target}, k...)...)
}

func (tm *tmux) typeLine(s string) {
	tm.t.Helper()
	tm.typeText(s)
	tm.keys("Enter")
}

// screen is the pane with its scroll-back, trailing blanks trimmed.
func (tm *tmux) screen() string {
	tm.t.Helper()
	out := tm.run("capture-pane", "-p", "-J", "-S", "-", "-t", tm.target)
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// waitFor waits until s appears n times on the screen.
func (tm *tmux) waitFor(s string, n int) {
	tm.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		scr := tm.screen()
		if strings.Count(scr, s) >= n {
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("waiting for %q (x%d); screen:\n%s", s, n, scr)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// TestTmuxHistoryRecallsWholeInput: Up brings back a multi-line input
// whole, on one line (it brought back its last line, "}", which then
// failed), and running it again works.
func TestTmuxHistoryRecallsWholeInput(t *testing.T) {
	tm := startTmux(t, "hist")
	tm.typeLine(`n := 0`)
	tm.typeLine(`for i := 0; i < 3; i++ {`)
	tm.typeLine(`n += i`)
	tm.typeLine(`}`)
	tm.typeLine(`n`)
	tm.waitFor("\n3\n", 1)
	tm.keys("Up", "Up")
	tm.waitFor("nnscope> for i := 0; i < 3; i++ { n += i; }", 1)
	tm.keys("Enter")
	tm.typeLine(`n`)
	tm.waitFor("\n6\n", 1)
}
