// Package repl is nnscope's interactive session: Go-syntax input evaluated
// by a session.Session, with readline editing, history, multi-line entry,
// completion of identifiers, members and module paths, automatic display
// of expression values, REPL commands (:help, :load, :modules, :reset,
// :quit) and Ctrl-C that interrupts a running evaluation.
package repl

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/chzyer/readline"

	"nnscope"
	"nnscope/interp"
	"nnscope/session"
)

// Prompts.
const (
	Prompt             = "nnscope> "
	ContinuationPrompt = "...      "
)

// Options configure a REPL.
type Options struct {
	Stdin          io.Reader // default os.Stdin
	Stdout, Stderr io.Writer // default os.Stdout, os.Stderr
	// HistoryFile is where readline keeps the input history; "" keeps
	// none.
	HistoryFile string
	// Interactive uses readline (prompts, editing, completion, history).
	// Otherwise input is read line by line without decorations, as when
	// stdin is a pipe.
	Interactive bool
	// Banner is printed at start in interactive mode.
	Banner bool
}

// REPL is one interactive session.
type REPL struct {
	opts    Options
	out     io.Writer
	errw    io.Writer
	sess    *session.Session
	buf     inputBuffer
	history []string // inputs evaluated in this process, for :history
	failed  bool     // an input or command failed (exit status when piped)
	indent  string   // suggested indentation of the next continuation line

	mu      sync.Mutex
	cancel  context.CancelFunc // cancels the running evaluation, if any
	evalCtx context.Context    // the running evaluation's, nil between inputs
}

// New returns a REPL with a fresh session.
func New(o Options) *REPL {
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	r := &REPL{opts: o, out: o.Stdout, errw: o.Stderr}
	r.buf.isComplete = interp.IsComplete
	r.newSession()
	return r
}

func (r *REPL) newSession() {
	stdin := r.opts.Stdin
	if r.opts.Interactive {
		stdin = newTermStdin(stdin, r.runningCtx)
	}
	r.sess = session.New(session.Options{Stdin: stdin, Stdout: r.out, Stderr: r.errw})
	for _, imp := range session.PreImports {
		if _, err := r.sess.Eval(context.Background(), imp); err != nil {
			fmt.Fprintf(r.errw, "error: %s: %v\n", imp, err)
		}
	}
}

// ErrFailed is returned by Run in non-interactive mode when an input or a
// command failed (the REPL kept going).
var ErrFailed = errors.New("some inputs failed")

// Run reads and evaluates input until EOF or :quit. Ctrl-C (SIGINT)
// interrupts the running evaluation instead of ending the process. In
// interactive mode SIGINT is caught for the whole run (at the prompt
// readline reads Ctrl-C as a key and clears the line); otherwise only
// while an input is evaluated, so that Ctrl-C still ends an idle piped
// session.
func (r *REPL) Run() error {
	if r.opts.Interactive {
		defer r.catchInterrupts()()
		return r.runReadline()
	}
	return r.runPlain()
}

// catchInterrupts makes SIGINT cancel the running evaluation until the
// returned function is called.
func (r *REPL) catchInterrupts() (stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sig:
				r.interrupt()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
	}
}

// runningCtx is the context of the running evaluation, nil between inputs.
func (r *REPL) runningCtx() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.evalCtx
}

// interrupt cancels the running evaluation, if any.
func (r *REPL) interrupt() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
	}
}

func (r *REPL) runPlain() error {
	br := bufio.NewReader(r.opts.Stdin)
	for {
		line, err := br.ReadString('\n')
		if line != "" || err == nil {
			if r.line(strings.TrimRight(line, "\r\n")) {
				break
			}
		}
		if err != nil {
			if r.buf.pending() {
				r.submit(r.buf.take())
			}
			if err != io.EOF {
				return err
			}
			break
		}
	}
	if r.failed {
		return ErrFailed
	}
	return nil
}

func (r *REPL) runReadline() error {
	c := &completer{
		code:    func(src string, cursor int) []string { return r.sess.Complete(src, cursor) },
		modules: loadedModulePaths,
		pending: func() string { return strings.Join(r.buf.lines, "\n") },
	}
	// Ctrl-D on a line that holds only the suggested indentation leaves,
	// as on an empty line (readline sees text there and would delete a
	// character): the line's text is followed through the listener, and
	// such a Ctrl-D is turned into an interrupt flagged as a quit.
	var (
		lineMu  sync.Mutex
		curLine string
		quitEOF bool
	)
	cfg := &readline.Config{
		Prompt:            Prompt,
		HistoryFile:       r.opts.HistoryFile,
		HistoryLimit:      1000,
		HistorySearchFold: true,
		// Inputs are saved whole, once complete (see historyEntry).
		DisableAutoSaveHistory: true,
		AutoComplete:           c,
		InterruptPrompt:        "^C",
		EOFPrompt:              "",
		Stdout:                 r.out,
		Stderr:                 r.errw,
	}
	var rlp atomic.Pointer[readline.Instance] // set once readline runs
	cfg.Listener = readline.FuncListener(func(line []rune, pos int, key rune) ([]rune, int, bool) {
		if key == 0 {
			// Called with no line as a read starts: curLine is set to the
			// default text by hand before each read.
			return nil, 0, false
		}
		lineMu.Lock()
		curLine = string(line)
		lineMu.Unlock()
		return nil, 0, false
	})
	cfg.FuncFilterInputRune = func(c rune) (rune, bool) {
		// In reverse search or completion, readline takes the interrupt
		// as "leave this mode" and returns nothing: not a quit there.
		rl := rlp.Load()
		if c != readline.CharDelete || rl == nil || rl.Operation.IsSearchMode() || rl.Operation.IsInCompleteMode() {
			return c, true
		}
		lineMu.Lock()
		defer lineMu.Unlock()
		if curLine != "" && strings.TrimSpace(curLine) == "" {
			quitEOF = true
			// No "^C" echo for this interrupt. Written on readline's input
			// goroutine, which reads the config for the key that follows;
			// the REPL ends right after.
			cfg.InterruptPrompt = ""
			return readline.CharInterrupt, true
		}
		return c, true
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return err
	}
	rlp.Store(rl)
	defer rl.Close()
	if r.opts.Banner {
		fmt.Fprintln(r.out, "nnscope REPL: Go syntax; fmt and nnscope are imported. :help for commands, Ctrl-D or :quit to leave.")
	}
	indent := ""
	for {
		if r.buf.pending() {
			rl.SetPrompt(ContinuationPrompt)
		} else {
			rl.SetPrompt(Prompt)
		}
		keepPartialLine(r.out, readline.GetScreenWidth())
		lineMu.Lock()
		curLine, quitEOF = indent, false
		lineMu.Unlock()
		line, err := rl.ReadlineWithDefault(indent)
		indent = ""
		lineMu.Lock()
		quit := quitEOF
		lineMu.Unlock()
		switch {
		case quit && errors.Is(err, readline.ErrInterrupt):
			return nil
		case errors.Is(err, readline.ErrInterrupt):
			r.buf.reset() // Ctrl-C at the prompt drops the input
			continue
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
		typed := append(append([]string(nil), r.buf.lines...), line) // the input this line belongs to, for the history
		quitNow := r.line(line)
		if !r.buf.pending() {
			for _, h := range historyEntry(strings.Join(typed, "\n"), interp.IsComplete) {
				rl.SaveHistory(h)
			}
		}
		if quitNow {
			return nil
		}
		if r.buf.pending() {
			// Start the continuation line at the suggested indentation.
			indent = strings.ReplaceAll(r.indent, "\t", indentUnit)
		}
	}
}

// keepPartialLine moves the cursor to the start of a fresh line if output
// left it mid-line (fmt.Print without a newline, text streamed by
// nnscope.Stream), so that the prompt, which readline draws after a
// carriage return, does not overwrite that text. It is zsh's PROMPT_SP
// trick, which needs no tracking of who wrote what (the host writes
// progress bars to os.Stderr): width spaces fill the rest of the line and
// wrap to the next one only when the cursor was not at column 0; the
// carriage return then goes to column 0 of whichever line the cursor is on.
func keepPartialLine(w io.Writer, width int) {
	if width <= 0 {
		return
	}
	io.WriteString(w, strings.Repeat(" ", width)+"\r")
}

// line handles one line of input: a command, or part of Go input. It
// reports whether the REPL should end.
func (r *REPL) line(line string) (quit bool) {
	defer r.protect()
	if !r.buf.pending() {
		if c, ok := parseCommand(line); ok {
			return r.command(c)
		}
	}
	src, ready, indent := r.buf.add(line)
	r.indent = indent
	if ready {
		r.submit(src)
	}
	return false
}

// protect recovers a panic in the REPL's own code: it is reported and the
// session goes on.
func (r *REPL) protect() {
	if v := recover(); v != nil {
		r.failed = true
		fmt.Fprintf(r.errw, "error: internal error in the REPL: %v\n%s", v, debug.Stack())
	}
}

// submit evaluates one complete input and prints its value or error.
func (r *REPL) submit(src string) {
	if strings.TrimSpace(src) == "" {
		return
	}
	r.history = append(r.history, src)
	res, err := r.eval(src)
	r.report(res, err)
}

// eval runs src in the session with a context that Ctrl-C cancels.
func (r *REPL) eval(src string) (interp.Result, error) { return r.evalAs("", src) }

// evalAs is eval for input from the file name (:load).
func (r *REPL) evalAs(name, src string) (interp.Result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.cancel, r.evalCtx = cancel, ctx
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.cancel, r.evalCtx = nil, nil
		r.mu.Unlock()
		cancel()
	}()
	if !r.opts.Interactive {
		defer r.catchInterrupts()()
	}
	res, err := r.sess.EvalAs(ctx, name, src)
	if err != nil && ctx.Err() != nil {
		return res, errInterrupted
	}
	return res, err
}

var errInterrupted = errors.New("interrupted")

func (r *REPL) report(res interp.Result, err error) {
	switch {
	case errors.Is(err, errInterrupted):
		r.failed = true
		if r.opts.Interactive {
			fmt.Fprintln(r.errw) // the terminal echoed ^C without a newline
		}
		fmt.Fprintln(r.errw, "interrupted")
	case err != nil:
		r.failed = true
		fmt.Fprintf(r.errw, "error: %v\n", err)
	case res.HasValue:
		s := formatValue(res.Value)
		if !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		io.WriteString(r.out, s)
	}
}

const helpText = `Type Go statements, expressions and declarations; they run in one session
that keeps its variables, functions and types. fmt and nnscope are imported.
An expression's value is printed (tensors with their shape). Input goes on
over several lines while brackets are open (blank lines included); two
blank lines in a row submit it as it is.

  model := nnscope.LanguageModel("testdata/gpt2-tiny")
  var h *nnscope.Tensor
  model.Trace("Hello", func(tr *nnscope.Tracer) { h = model.Transformer.H.At(0).Output().Save() })
  h.Shape()

Commands:
  :help             this text
  :load FILE [ARGS] evaluate FILE in the session (ARGS are its flags): its imports and
                    declarations, and statements of a snippet; a file with
                    func main (an nnscope run script) then has main run
                    (it is renamed main_; :load the file again to rerun it
                    with fresh flags)
  :modules [PATH]   the module tree of each loaded model with the output
                    shape of every module in the last trace (under PATH)
  :reset            start a fresh session (loaded models stay cached, so
                    loading them again is instant)
  :history          the inputs evaluated so far
  :quit, :q         leave (Ctrl-D too)

Keys: Tab completes names, members, methods and module paths inside
Module("..."); Ctrl-C clears the line, or interrupts a running evaluation
(the session stays as it was); Ctrl-R searches the history.
`

// command runs a REPL command; it reports whether the REPL should end.
func (r *REPL) command(c command) bool {
	switch c.name {
	case "quit", "q", "exit":
		return true
	case "help", "h", "?":
		io.WriteString(r.out, helpText)
	case "load", "l":
		if c.arg == "" {
			r.fail(errors.New(":load needs a file name"))
			break
		}
		fields := strings.Fields(c.arg)
		r.load(fields[0], fields[1:])
	case "modules", "m":
		r.modules(c.arg)
	case "reset":
		r.newSession()
		fmt.Fprintln(r.out, "fresh session (loaded models stay cached)")
	case "history":
		for i, h := range r.history {
			fmt.Fprintf(r.out, "%4d  %s\n", i+1, strings.ReplaceAll(h, "\n", "\n      "))
		}
	default:
		r.fail(fmt.Errorf("unknown command :%s (see :help)", c.name))
	}
	return false
}

func (r *REPL) fail(err error) {
	r.failed = true
	fmt.Fprintf(r.errw, "error: %v\n", err)
}

// load evaluates a file in the session (see planLoad) with args as its
// command line (a script's flag.Parse sees them).
func (r *REPL) load(path string, args []string) {
	if strings.HasPrefix(path, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, path[2:])
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		r.fail(err)
		return
	}
	plan, err := planLoad(string(data))
	if err != nil {
		r.fail(fmt.Errorf("%s:%v", path, err))
		return
	}
	r.sess.SetArgs(append([]string{path}, args...))
	// A script declares its flags on flag.CommandLine when main runs: a
	// fresh set for each load lets it be loaded again ("flag redefined"
	// otherwise), and a bad flag is an error, not the end of the session.
	// The process's own set comes back afterwards.
	saved := flag.CommandLine
	flag.CommandLine = flag.NewFlagSet(path, flag.ContinueOnError)
	defer func() { flag.CommandLine = saved }()
	for _, imp := range plan.imports {
		if _, err := r.eval(imp); err != nil {
			r.report(interp.Result{}, withFile(err, path))
			return
		}
	}
	res, err := r.evalAs(path, plan.body)
	if err != nil {
		r.report(res, withFile(err, path))
		return
	}
	if plan.main != "" {
		res, err = r.eval(plan.main + "()")
	}
	r.report(res, withFile(err, path))
}

// withFile puts the file name in front of an error position of a loaded
// file.
func withFile(err error, path string) error {
	var ie *interp.Error
	if errors.As(err, &ie) && ie.Pos.Filename == "" && ie.Pos.Line > 0 {
		ie.Pos.Filename = path
	}
	return err
}

// loadedModulePaths lists the module paths of every loaded model.
func loadedModulePaths() []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range nnscope.LoadedModels() {
		for _, p := range m.Modules() {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// modules prints the module tree of each loaded model with the output
// shapes of the last trace.
func (r *REPL) modules(under string) {
	models := nnscope.LoadedModels()
	if len(models) == 0 {
		fmt.Fprintln(r.out, `no model loaded (model := nnscope.LanguageModel("openai-community/gpt2"))`)
		return
	}
	for _, m := range models {
		writeModules(r.out, m.Path(), m.Modules(), m.OutputShapes(), under)
	}
}

// resolveNegative rewrites negative block indices of path ("transformer.h.-1")
// as the indices they count from the end, as model.Module reads them.
func resolveNegative(path string, paths []string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		k, err := strconv.Atoi(p)
		if err != nil || k >= 0 || i == 0 {
			continue
		}
		prefix := strings.Join(parts[:i], ".") + "."
		n := 0 // the number of children numbered 0, 1, ... under prefix
		for _, q := range paths {
			if rest, ok := strings.CutPrefix(q, prefix); ok {
				if j, err := strconv.Atoi(rest); err == nil && j+1 > n {
					n = j + 1
				}
			}
		}
		if n+k >= 0 {
			parts[i] = strconv.Itoa(n + k)
		}
	}
	return strings.Join(parts, ".")
}

// writeModules prints one model's module paths, indented by depth, with
// the output shape of the last trace beside each (nothing for modules the
// trace did not run). under restricts the listing to a subtree.
func writeModules(w io.Writer, name string, paths []string, shapes map[string][]int, under string) {
	under = resolveNegative(strings.TrimSuffix(under, "."), paths)
	var rows [][2]string
	width := 0
	for _, p := range paths {
		if under != "" && p != under && !strings.HasPrefix(p, under+".") {
			continue
		}
		depth := strings.Count(p, ".")
		if under != "" {
			depth -= strings.Count(under, ".")
		}
		label := strings.Repeat("  ", depth) + p
		shape := ""
		if s, ok := shapes[p]; ok {
			shape = fmt.Sprint(s)
		}
		rows = append(rows, [2]string{label, shape})
		width = max(width, len(label))
	}
	note := "output shapes of the last trace"
	if len(shapes) == 0 {
		note = "no trace yet: shapes appear after one"
	}
	fmt.Fprintf(w, "%s (%s)\n", name, note)
	if len(rows) == 0 {
		fmt.Fprintf(w, "  no module %q\n", under)
	}
	for _, row := range rows {
		if row[1] == "" {
			fmt.Fprintf(w, "  %s\n", row[0])
		} else {
			fmt.Fprintf(w, "  %-*s  %s\n", width, row[0], row[1])
		}
	}
}
