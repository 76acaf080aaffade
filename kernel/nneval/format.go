package nneval

import (
	"context"
	"fmt"
	"go/scanner"
	"go/token"
	"html"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"nnscope"
	"nnscope/kernel"
)

// Format turns a cell's value into its execute_result: text/plain for every
// value, plus a text/html table for a *nnscope.Tensor and image/png for a
// *nnscope.Figure not already displayed (nil: nothing to show).
func Format(v reflect.Value) *kernel.Bundle {
	for v.IsValid() && v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	if !v.IsValid() {
		return &kernel.Bundle{"text/plain": "<nil>"}
	}
	var x any
	if v.CanInterface() {
		x = v.Interface()
	}
	switch t := x.(type) {
	case *nnscope.Figure:
		if t == nil {
			break
		}
		if t.Shown() {
			return nil
		}
		return &kernel.Bundle{"text/plain": t.String(), "image/png": t.PNG()}
	case *nnscope.Tensor:
		b := kernel.Bundle{"text/plain": safeString(t)}
		if h := TensorHTML(t); h != "" {
			b["text/html"] = h
		}
		return &b
	}
	return &kernel.Bundle{"text/plain": plainText(v, x)}
}

func safeString(s fmt.Stringer) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprint(r)
		}
	}()
	return s.String()
}

func plainText(v reflect.Value, x any) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("<%s: %v>", v.Type(), r)
		}
	}()
	switch t := x.(type) {
	case string:
		return strconv.Quote(t)
	case error:
		return t.Error()
	case fmt.Stringer:
		return t.String()
	case nil:
		if !v.CanInterface() {
			return fmt.Sprintf("<%s>", v.Type())
		}
	}
	return fmt.Sprintf("%v", x)
}

// edge is how many leading and trailing indices a summarized dimension
// shows, and threshold the element count above which tensors are
// summarized (numpy's defaults).
const (
	edge      = 3
	threshold = 1000
)

// TensorHTML renders t as HTML tables like numpy prints arrays: beyond 1000
// elements every dimension longer than 6 shows its first and last 3
// indices around an ellipsis; tensors of more than 2 dimensions are a
// sequence of 2-d tables labelled with their leading indices. It returns ""
// for a tensor that cannot be read (e.g. not saved).
func TensorHTML(t *nnscope.Tensor) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = ""
		}
	}()
	if t == nil {
		return ""
	}
	shape := t.Shape()
	size := 1
	for _, d := range shape {
		size *= d
	}
	summarize := size > threshold
	idx := func(n int) []int { // -1 marks the ellipsis
		if !summarize || n <= 2*edge {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out
		}
		out := []int{}
		for i := 0; i < edge; i++ {
			out = append(out, i)
		}
		out = append(out, -1)
		for i := n - edge; i < n; i++ {
			out = append(out, i)
		}
		return out
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="nnscope-tensor"><div style="color:#666;font-size:90%%">Tensor shape %s</div>`, html.EscapeString(fmt.Sprint(shape)))
	cell := func(pos []int) string { return html.EscapeString(htmlNumber(t.At(pos...))) }
	table := func(lead []int) {
		b.WriteString(`<table style="font-family:monospace;font-size:90%">`)
		switch len(shape) - len(lead) {
		case 0:
			fmt.Fprintf(&b, "<tr><td>%s</td></tr>", cell(lead))
		case 1:
			b.WriteString("<tr>")
			for _, j := range idx(shape[len(lead)]) {
				if j < 0 {
					b.WriteString("<td>…</td>")
					continue
				}
				fmt.Fprintf(&b, "<td>%s</td>", cell(append(append([]int{}, lead...), j)))
			}
			b.WriteString("</tr>")
		default:
			rows, cols := idx(shape[len(lead)]), idx(shape[len(lead)+1])
			b.WriteString("<tr><th></th>")
			for _, j := range cols {
				if j < 0 {
					b.WriteString("<th>…</th>")
				} else {
					fmt.Fprintf(&b, "<th>%d</th>", j)
				}
			}
			b.WriteString("</tr>")
			for _, i := range rows {
				if i < 0 {
					fmt.Fprintf(&b, "<tr><th>⋮</th>%s</tr>", strings.Repeat("<td>⋮</td>", len(cols)))
					continue
				}
				fmt.Fprintf(&b, "<tr><th>%d</th>", i)
				for _, j := range cols {
					if j < 0 {
						b.WriteString("<td>…</td>")
						continue
					}
					fmt.Fprintf(&b, "<td>%s</td>", cell(append(append([]int{}, lead...), i, j)))
				}
				b.WriteString("</tr>")
			}
		}
		b.WriteString("</table>")
	}
	if len(shape) <= 2 {
		table(nil)
	} else {
		var walk func(lead []int)
		walk = func(lead []int) {
			if len(lead) == len(shape)-2 {
				label := make([]string, 0, len(shape))
				for _, i := range lead {
					label = append(label, strconv.Itoa(i))
				}
				label = append(label, ":", ":")
				fmt.Fprintf(&b, `<div style="margin-top:4px">[%s]</div>`, strings.Join(label, ", "))
				table(lead)
				return
			}
			for _, i := range idx(shape[len(lead)]) {
				if i < 0 {
					fmt.Fprintf(&b, `<div>⋮ (%d more along dimension %d)</div>`, shape[len(lead)]-2*edge, len(lead))
					continue
				}
				walk(append(append([]int{}, lead...), i))
			}
		}
		walk(nil)
	}
	b.WriteString("</div>")
	return b.String()
}

// htmlNumber formats one element of a tensor table: 5 significant digits,
// and inf, -inf and nan spelled as in the text/plain form (Go's +Inf and
// NaN otherwise).
func htmlNumber(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	return strconv.FormatFloat(x, 'g', 5, 64)
}

// Inspect implements kernel.Evaluator: the declaration and doc comment of
// an nnscope function, type or method, or the type (and doc) of a value in
// scope, for the dotted name at cursor.
func (e *Evaluator) Inspect(code string, cursor int, detail int) (kernel.Bundle, bool) {
	if cursor < 0 || cursor > len(code) {
		cursor = len(code)
	}
	if b, ok := e.inspectAt(code, cursor); ok {
		return b, true
	}
	// Shift-Tab inside the arguments of a call (`x.Softmax(`,
	// `model.Trace("Hello", `) shows the function called, as IPython
	// does.
	if open := openCall(code[:cursor]); open > 0 {
		return e.inspectAt(code, open)
	}
	return nil, false
}

// openCall returns the offset of the innermost parenthesis of a call that
// is open at the end of code (0 if there is none): the one whose argument
// list the cursor is in. Strings, runes and comments are skipped, and the
// scan stops at a brace, so a name in a function literal's body is not
// taken for its caller's.
func openCall(code string) int {
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(code))
	var s scanner.Scanner
	s.Init(file, []byte(code), func(token.Position, string) {}, 0)
	type open struct {
		tok token.Token
		off int
	}
	var stack []open
	prev := token.ILLEGAL
	for {
		pos, tok, _ := s.Scan()
		if tok == token.EOF {
			break
		}
		switch tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			off := file.Offset(pos)
			if tok == token.LPAREN && prev != token.IDENT && prev != token.RPAREN {
				tok = token.ILLEGAL // a parenthesized expression or a func's parameters, not a call
			}
			stack = append(stack, open{tok, off})
		case token.RPAREN, token.RBRACK, token.RBRACE:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
		prev = tok
	}
	if len(stack) == 0 {
		return 0
	}
	if top := stack[len(stack)-1]; top.tok == token.LPAREN {
		return top.off
	}
	return 0
}

// inspectAt documents the (dotted) name that ends at or around cursor.
func (e *Evaluator) inspectAt(code string, cursor int) (kernel.Bundle, bool) {
	start := cursor
	for start > 0 {
		if c := code[start-1]; isIdent(c) || c == '.' {
			start--
		} else if s, ok := lookupCall(code[:start]); ok {
			start = s
		} else {
			break
		}
	}
	end := cursor
	for end < len(code) && isIdent(code[end]) {
		end++
	}
	name := strings.Trim(code[start:end], ".")
	if name == "" {
		return nil, false
	}
	chain := splitChain(name)
	for i, c := range chain {
		if c == "" || c[0] >= '0' && c[0] <= '9' {
			return nil, false
		}
		// A lookup call is evaluated only on nnscope's own types, whose
		// At and Module look a module up: a script's type may have
		// methods of those names that do anything.
		if strings.HasSuffix(c, ")") {
			recv, ok := e.peek(strings.Join(chain[:i], "."))
			if !ok || nnscopeName(recv.Type()) == "" {
				return nil, false
			}
		}
	}
	var text string
	if chain[0] == "nnscope" && len(chain) > 1 {
		text = apiDocs[strings.Join(chain[1:], ".")]
	}
	if text == "" {
		text = e.inspectValue(chain)
	}
	if text == "" {
		text = apiDocs[name]
	}
	if text == "" {
		return nil, false
	}
	return kernel.Bundle{"text/plain": text}, true
}

// lookupArg is the argument of a lookup call that Inspect may evaluate:
// an integer or a plain string literal.
var lookupArg = regexp.MustCompile(`^\s*(-?[0-9]+|"[^"\\]*")\s*$`)

// lookupCall reports whether code ends with a call of a module lookup,
// .At(N) or .Module("path"), which on nnscope's types runs no user code
// (inspectAt checks the receiver's type), so that Shift-Tab
// on model.Transformer.H.At(0).MLP can evaluate the chain; it returns
// where the method name starts.
func lookupCall(code string) (int, bool) {
	if !strings.HasSuffix(code, ")") {
		return 0, false
	}
	open := strings.LastIndexByte(code, '(')
	if open < 0 || !lookupArg.MatchString(code[open+1:len(code)-1]) {
		return 0, false
	}
	for _, m := range []string{".At", ".Module"} {
		if strings.HasSuffix(code[:open], m) {
			return open - len(m) + 1, true
		}
	}
	return 0, false
}

// splitChain splits a dotted name at the dots outside string literals.
func splitChain(name string) []string {
	var out []string
	last, quoted := 0, false
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '"':
			quoted = !quoted
		case '.':
			if !quoted {
				out = append(out, name[last:i])
				last = i + 1
			}
		}
	}
	return append(out, name[last:])
}

// inspectValue describes the value of chain (a variable, a field or a
// method of one) by evaluating the dotted name, which runs no user code.
func (e *Evaluator) inspectValue(chain []string) string {
	val, ok := e.peek(strings.Join(chain, "."))
	var parts []string
	if ok {
		s := fmt.Sprintf("%s: %s", strings.Join(chain, "."), typeName(val))
		if val.Kind() != reflect.Func {
			if v := Format(val); v != nil {
				if p, _ := (*v)["text/plain"].(string); p != "" {
					if len(p) > 600 {
						p = p[:600] + "…"
					}
					s += "\n" + p
				}
			}
		}
		parts = append(parts, s)
		if d := apiDocs[nnscopeName(val.Type())]; d != "" && val.Kind() != reflect.Func {
			parts = append(parts, d)
		}
	}
	if len(chain) > 1 {
		if recv, ok := e.peek(strings.Join(chain[:len(chain)-1], ".")); ok {
			if d := apiDocs[nnscopeName(recv.Type())+"."+chain[len(chain)-1]]; d != "" {
				parts = append(parts, d)
			}
		}
	}
	return strings.Join(parts, "\n\n")
}

// peek evaluates a dotted name in the session, output discarded; then
// the script's output goes back to the last cell (a goroutine it started
// may still print).
func (e *Evaluator) peek(expr string) (reflect.Value, bool) {
	e.s.SetOutput(io.Discard, io.Discard)
	e.mu.Lock()
	last := e.lastOut
	e.mu.Unlock()
	if last[0] == nil {
		last = [2]io.Writer{io.Discard, io.Discard}
	}
	defer e.s.SetOutput(last[0], last[1])
	res, err := e.s.Eval(context.Background(), expr)
	if err != nil || !res.HasValue || !res.Value.IsValid() {
		return reflect.Value{}, false
	}
	v := res.Value
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	return v, v.IsValid()
}

func typeName(v reflect.Value) string { return v.Type().String() }

// nnscopeName returns the name of t (or of what it points to) if it is a
// type of package nnscope, else "".
func nnscopeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() != "nnscope" {
		return ""
	}
	return t.Name()
}
