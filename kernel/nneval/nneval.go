// Package nneval is the kernel.Evaluator of the nnscope Jupyter kernel: a
// session.Session whose cells share state, with output streamed per cell,
// rich results (tensor tables, figures), completion of identifiers, members
// and module paths, inspection from nnscope's doc comments, and interrupts
// that stop a running trace or generation.
package nneval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"nnscope"
	"nnscope/display"
	"nnscope/interp"
	"nnscope/kernel"
	"nnscope/session"
)

//go:generate go run gendoc.go

// Evaluator runs notebook cells in one nnscope session.
type Evaluator struct {
	s *session.Session

	mu      sync.Mutex
	display func(kernel.Bundle) // the running cell's, nil between cells
	errOut  io.Writer           // the running cell's stderr, nil between cells
	hostErr io.Writer           // where host stderr goes between cells
	ctx     context.Context     // the running cell's, nil between cells (stdin reads)
	lastOut [2]io.Writer        // the last cell's stdout and stderr: goroutines it started write there
	stdin   []byte              // the rest of the last line of input

	imports sync.Once // the pre-imports, before the first cell
}

// preImport does session.PreImports before the first cell, as the REPL
// does: a notebook can start with nnscope.LanguageModel(...).
func (e *Evaluator) preImport() {
	e.imports.Do(func() {
		for _, imp := range session.PreImports {
			_, _ = e.s.Eval(context.Background(), imp)
		}
	})
}

// New returns an evaluator and installs it as the display hook of package
// display (figures and progress bars of the running cell become
// display_data).
func New() *Evaluator {
	e := &Evaluator{hostErr: os.Stderr}
	e.s = session.New(session.Options{Stdin: cellStdin{e}, Stdout: io.Discard, Stderr: io.Discard})
	display.SetHook(e.show)
	return e
}

// Warm starts the interpreter (yaegi's set-up takes a moment) so that the
// first cell runs at full speed. Call it in the background after the kernel
// is listening.
func (e *Evaluator) Warm() {
	e.preImport()
}

// show publishes a display.Output of the running cell.
func (e *Evaluator) show(o display.Output) {
	e.mu.Lock()
	d := e.display
	e.mu.Unlock()
	if d == nil {
		return
	}
	b := kernel.Bundle{}
	for k, v := range o.Data {
		b[k] = v
	}
	switch {
	case o.ID != "" && o.Update:
		b = b.AsUpdate(o.ID)
	case o.ID != "":
		b = b.WithDisplayID(o.ID)
	}
	d(b)
}

// HostStderr returns a writer for the process's own stderr output (weight
// downloads print their progress there): it goes to the running cell's
// stderr stream, or to w between cells.
func (e *Evaluator) HostStderr(w io.Writer) io.Writer {
	e.mu.Lock()
	e.hostErr = w
	e.mu.Unlock()
	return hostWriter{e}
}

type hostWriter struct{ e *Evaluator }

func (h hostWriter) Write(p []byte) (int, error) {
	h.e.mu.Lock()
	w := h.e.errOut
	if w == nil {
		w = h.e.hostErr
	}
	h.e.mu.Unlock()
	return w.Write(p)
}

// Execute implements kernel.Evaluator.
func (e *Evaluator) Execute(ctx context.Context, code string, out, errOut io.Writer, disp func(kernel.Bundle)) (*kernel.Bundle, error) {
	e.mu.Lock()
	e.display, e.errOut, e.ctx, e.stdin, e.lastOut = disp, errOut, ctx, nil, [2]io.Writer{out, errOut}
	e.mu.Unlock()
	e.preImport()
	// The script's output goes to this cell until the next one starts:
	// a goroutine the cell started may print (or panic) after the cell
	// ended, and ipykernel shows such output under the last cell too
	// rather than losing it.
	e.s.SetOutput(out, errOut)
	defer func() {
		e.mu.Lock()
		e.display, e.errOut, e.ctx = nil, nil, nil
		e.mu.Unlock()
	}()
	if err := commandCell(code); err != nil {
		return nil, err
	}
	res, err := e.s.Eval(ctx, code)
	if err != nil {
		return nil, cellError(ctx, code, err)
	}
	if !res.HasValue || !res.Value.IsValid() {
		return nil, nil
	}
	return Format(res.Value), nil
}

// Error is a cell's failure as the kernel reports it: ename is
// "Interrupted", "CompileError", "RuntimeError" or "Panic"; the traceback
// shows the message and the cell line it points at.
type Error struct {
	name string
	err  error
	tb   []string
}

func (e *Error) Error() string       { return e.err.Error() }
func (e *Error) Unwrap() error       { return e.err }
func (e *Error) Name() string        { return e.name }
func (e *Error) Traceback() []string { return e.tb }

func cellError(ctx context.Context, code string, err error) error {
	name := "Error"
	var ie *interp.Error
	hasPos := errors.As(err, &ie)
	if hasPos {
		switch ie.Kind {
		case interp.KindCompile:
			name = "CompileError"
		case interp.KindRuntime:
			name = "RuntimeError"
		case interp.KindPanic:
			name = "Panic"
		}
	}
	if ctx.Err() != nil {
		name = "Interrupted"
	}
	const red, bold, reset = "\x1b[0;31m", "\x1b[1m", "\x1b[0m"
	tb := []string{red + name + reset + ": " + err.Error()}
	if hasPos && ie.Pos.Filename == "" && ie.Pos.Line > 0 {
		lines := strings.Split(code, "\n")
		if l := ie.Pos.Line; l <= len(lines) {
			var b strings.Builder
			for i := max(l-2, 1); i <= min(l+1, len(lines)); i++ {
				mark := "   "
				if i == l {
					mark = "-->"
				}
				text := lines[i-1]
				if i == l {
					text = bold + text + reset
				}
				fmt.Fprintf(&b, "%s %3d  %s\n", mark, i, text)
				if i == l && ie.Pos.Column > 0 {
					pad := strings.Map(func(r rune) rune {
						if r == '\t' {
							return '\t'
						}
						return ' '
					}, prefixRunes(lines[i-1], ie.Pos.Column-1))
					fmt.Fprintf(&b, "         %s%s^%s\n", pad, red, reset)
				}
			}
			tb = append(tb, strings.TrimRight(b.String(), "\n"))
		}
	}
	return &Error{name: name, err: err, tb: tb}
}

func prefixRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if n >= len(s) {
		return s
	}
	return s[:n]
}

// IsComplete implements kernel.Evaluator.
func (e *Evaluator) IsComplete(code string) (string, string) {
	if strings.TrimSpace(code) == "" {
		return "complete", ""
	}
	ok, indent := e.s.IsComplete(code)
	if ok {
		return "complete", ""
	}
	return "incomplete", indent
}

// Info implements kernel.Evaluator.
func (e *Evaluator) Info() kernel.LanguageInfo {
	return kernel.LanguageInfo{
		Name: "go", Version: runtime.Version(), Mimetype: "text/x-go", FileExtension: ".go",
		PygmentsLexer: "go", CodemirrorMode: "go", NbconvertExporter: "script",
	}
}

// Complete implements kernel.Evaluator: module paths inside Module("..."),
// otherwise identifiers, package members and fields and methods of values.
func (e *Evaluator) Complete(code string, cursor int) ([]string, int, int) {
	if cursor < 0 || cursor > len(code) {
		cursor = len(code)
	}
	if start, prefix, ok := moduleString(code, cursor); ok {
		var out []string
		seen := map[string]bool{}
		for _, m := range nnscope.LoadedModels() {
			for _, p := range m.Modules() {
				if strings.HasPrefix(p, prefix) && !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
		end := cursor
		for end < len(code) && code[end] != '"' && code[end] != '\n' {
			end++
		}
		return out, start, end
	}
	start := cursor
	for start > 0 && isIdent(code[start-1]) {
		start--
	}
	end := cursor
	for end < len(code) && isIdent(code[end]) {
		end++
	}
	return e.s.Complete(code, cursor), start, end
}

// moduleString reports whether cursor is inside the string argument of a
// Module("...") call, and the start and text of the string before cursor.
func moduleString(code string, cursor int) (start int, prefix string, ok bool) {
	q := strings.LastIndexByte(code[:cursor], '"')
	if q < 0 || strings.ContainsAny(code[q+1:cursor], "\n") {
		return 0, "", false
	}
	before := strings.TrimRight(code[:q], " \t")
	if !strings.HasSuffix(before, "Module(") {
		return 0, "", false
	}
	// The quote must open the string: an even number of quotes before it
	// on its line.
	line := code[strings.LastIndexByte(code[:q], '\n')+1 : q]
	if strings.Count(line, `"`)%2 != 0 {
		return 0, "", false
	}
	return q + 1, code[q+1 : cursor], true
}

func isIdent(c byte) bool {
	return c == '_' || c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// replCommand matches a cell that starts like a REPL command (":modules")
// or an IPython magic ("%time"). Shell escapes are left alone: "!ok" is Go.
var replCommand = regexp.MustCompile(`^\s*([:%]+)([A-Za-z]\w*)`)

// commandCell returns a clear error for a cell that starts with a REPL
// command or magic, which Go cannot parse ("expected statement, found
// ':'" says nothing about what to write instead).
func commandCell(code string) error {
	m := replCommand.FindStringSubmatch(code)
	if m == nil {
		return nil
	}
	msg := fmt.Sprintf("%s%s: cells hold Go code only (no REPL : commands or %% magics)", m[1], m[2])
	switch strings.ToLower(m[2]) {
	case "modules", "m":
		msg += "; for the module tree write fmt.Println(model), for the paths model.Modules(), for the output shapes of the last trace model.OutputShapes()"
	case "help", "h":
		msg += "; Shift-Tab on a name shows its documentation, Tab completes"
	case "load", "l", "run":
		msg += "; paste the file's code into a cell"
	}
	return &Error{name: "CompileError", err: errors.New(msg), tb: []string{"\x1b[0;31mCompileError\x1b[0m: " + msg}}
}

// cellStdin is the script's standard input (fmt.Scan and co): each line
// is asked from the running cell's frontend with an input_request, as
// Python's input() does in ipykernel. Between cells, and when the frontend
// does not allow input, reads get io.EOF; an interrupt ends a read that
// waits for the user.
type cellStdin struct{ e *Evaluator }

func (c cellStdin) Read(p []byte) (int, error) {
	e := c.e
	e.mu.Lock()
	if len(e.stdin) == 0 {
		ctx := e.ctx
		e.mu.Unlock()
		if ctx == nil {
			return 0, io.EOF
		}
		line, err := kernel.Input(ctx, "", false)
		if errors.Is(err, kernel.ErrNoStdin) {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		e.mu.Lock()
		e.stdin = append(e.stdin, line+"\n"...)
	}
	n := copy(p, e.stdin)
	e.stdin = e.stdin[n:]
	e.mu.Unlock()
	return n, nil
}
