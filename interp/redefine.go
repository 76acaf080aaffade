package interp

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"sort"
	"strings"
)

// ---- redefining a function in a session ----
//
// yaegi binds a call of a global function to the function's declaration
// when the caller is compiled: after `func f() int { return 2 }` replaced
// f, a g declared in an earlier input still called the previous f, and
// nothing said so (a notebook helper fixed and run again gave stale
// numbers). The session keeps every function declaration as it was
// evaluated (rewritten, with its statement markers), and when an input
// defines a function again, the session functions that use it, directly
// or through other session functions, are compiled again, together and in
// their original order, so that they call the new definitions. Function
// values stored in variables keep the code they had, as in Python.
//
// yaegi keeps the first definition of a method (a method typed again is
// ignored), so a method that uses a redefined function keeps calling the
// previous one: a note on stderr names it.

// sessFunc is a function or method declared by a session input.
type sessFunc struct {
	key    string          // the name; "(T).M" or "(*T).M" for a method
	method bool            // a method (yaegi cannot redefine it)
	refs   map[string]bool // names the declaration uses without declaring them
	// The declaration as it was evaluated: text is input[base:...] with the
	// rewriter's edits applied (m maps it back).
	text     string
	m        *srcMap
	base     int
	input    string
	inputNo  int
	filename string
	// baseline: the type checker's complaints about the declaration when
	// it was evaluated ("offset:message", offsets from base), which yaegi
	// accepted then: only new ones stop a re-evaluation.
	baseline map[string]bool
}

func (sf *sessFunc) display() string {
	if !sf.method {
		return sf.key
	}
	if strings.HasPrefix(sf.key, "(*") {
		return sf.key
	}
	return strings.Replace(strings.TrimPrefix(sf.key, "("), ").", ".", 1)
}

// freeNames returns the identifiers the declaration text uses that it does
// not declare itself (parameters, locals, its own name excluded): the
// parser's resolution of the declaration alone leaves exactly those
// unresolved, shadowing included.
func freeNames(text string) map[string]bool {
	refs := map[string]bool{}
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p;"+text, 0)
	if f == nil {
		return refs
	}
	_ = err // a partial tree still names what it uses
	for _, id := range f.Unresolved {
		refs[id.Name] = true
	}
	return refs
}

// recordFunc keeps the function declaration fd of the current input (at
// src[a:b]), with the rewriter's edits inside it, for later
// re-evaluation. A method is kept at its first definition only, the one
// yaegi keeps.
func (in *Interpreter) recordFunc(fd *ast.FuncDecl, src string, a, b int, edits []edit, terrs []types.Error, toInput func(token.Pos) int) {
	name := fd.Name.Name
	if name == "_" || name == "init" || fd.Body == nil {
		return
	}
	sf := &sessFunc{key: name, input: src, base: a, inputNo: in.inputNo, filename: in.inputName}
	if fd.Recv != nil && len(fd.Recv.List) > 0 {
		sf.key = "(" + exprString(fd.Recv.List[0].Type) + ")." + name
		sf.method = true
		for _, old := range in.sessFuncs {
			if old.key == sf.key {
				return
			}
		}
	}
	var own []edit
	for _, e := range edits {
		if e.off >= a && e.end <= b {
			own = append(own, edit{off: e.off - a, end: e.end - a, text: e.text})
		}
	}
	sf.text, sf.m = applyEdits(src[a:b], own)
	sf.refs = freeNames(src[a:b])
	for _, t := range terrs {
		if o := toInput(t.Pos); o >= a && o <= b {
			if sf.baseline == nil {
				sf.baseline = map[string]bool{}
			}
			sf.baseline[fmt.Sprint(o-a, ":", t.Msg)] = true
		}
	}
	out := in.sessFuncs[:0]
	for _, old := range in.sessFuncs {
		if old.key != sf.key {
			out = append(out, old)
		}
	}
	in.sessFuncs = append(out, sf)
}

// refreshCallers re-evaluates the session functions of earlier inputs
// that use the functions just (re)defined by the current input (changed),
// directly or through each other, so that they call the new definitions.
// later are names the current input declares in a later part: their old
// declarations are about to be replaced and are left alone.
//
// When one of them does not type-check with the new definitions, none is
// re-evaluated: the error names it, and all of them keep calling the
// previous definitions (the new ones are defined all the same).
func (in *Interpreter) refreshCallers(ctx context.Context, changed, later map[string]bool) error {
	if len(changed) == 0 {
		return nil
	}
	uses := func(sf *sessFunc, names map[string]bool) bool {
		for n := range sf.refs {
			if names[n] && n != sf.key {
				return true
			}
		}
		return false
	}
	// redo: functions to compile again. A function of the current input is
	// compiled again only when it uses one of them (mutual recursion with
	// an earlier function): compiled alone, it bound their old versions.
	redo := map[string]bool{}
	for grew := true; grew; {
		grew = false
		for _, sf := range in.sessFuncs {
			if sf.method || redo[sf.key] || later[sf.key] {
				continue
			}
			if (sf.inputNo != in.inputNo && uses(sf, changed)) || uses(sf, redo) {
				redo[sf.key] = true
				grew = true
			}
		}
	}
	var stale []string // methods still calling an old definition
	all := map[string]bool{}
	for n := range changed {
		all[n] = true
	}
	for n := range redo {
		all[n] = true
	}
	for _, sf := range in.sessFuncs {
		if sf.method && sf.inputNo != in.inputNo && uses(sf, all) {
			stale = append(stale, sf.display())
		}
	}
	defer func() {
		if len(stale) > 0 {
			fmt.Fprintf(&in.stderr, "note: method %s still calls the previous %s: the interpreter cannot redefine a method (a new session, :reset in the REPL or a kernel restart, can)\n",
				strings.Join(stale, ", "), sortedNames(changed))
		}
	}()
	if len(redo) == 0 {
		return nil
	}
	var list []*sessFunc
	for _, sf := range in.sessFuncs {
		if redo[sf.key] {
			list = append(list, sf)
		}
	}
	if err := in.checkCallers(list, changed); err != nil {
		return err
	}
	parts := make([]string, len(list))
	for i, sf := range list {
		parts[i] = in.addChunk(&chunk{text: sf.text, m: sf.m, input: sf.input, base: sf.base, inputNo: sf.inputNo, filename: sf.filename})
	}
	if _, err := in.exec(ctx, in.sess, strings.Join(parts, "\n")); err != nil {
		if ctx.Err() != nil {
			return err // interrupted
		}
		names := make([]string, len(list))
		for i, sf := range list {
			names[i] = sf.key
		}
		e, ok := err.(*Error)
		if !ok {
			e = &Error{Msg: err.Error(), Kind: KindCompile}
		}
		e.Msg = fmt.Sprintf("%s was defined, but the functions that call it could not be compiled again: %s; %s may be unusable now: run their declarations again", sortedNames(changed), e.Msg, strings.Join(names, ", "))
		return e
	}
	return nil
}

// checkCallers type-checks the session's declarations as they are now and
// returns an error for the first function of list that the checker finds
// a new fault with (one it had not when it was evaluated).
func (in *Interpreter) checkCallers(list []*sessFunc, changed map[string]bool) error {
	byKey := map[string]*sessFunc{}
	for _, sf := range list {
		byKey[sf.key] = sf
	}
	var b strings.Builder
	b.WriteString("package main;")
	for p, n := range in.sessImports {
		b.WriteString("import " + n + " \"" + p + "\";")
	}
	b.WriteString("\n")
	type span struct {
		start, end int
		sf         *sessFunc
	}
	var spans []span
	declared := map[string]bool{}
	for _, d := range in.sessDecls {
		for _, n := range d.names {
			declared[n] = true
		}
		start := b.Len()
		b.WriteString(d.text)
		if len(d.names) == 1 && byKey[d.names[0]] != nil {
			spans = append(spans, span{start, b.Len(), byKey[d.names[0]]})
		}
		b.WriteString("\n")
	}
	globals := safeGlobals(in.sess)
	for name, text := range in.globalTypes {
		if g, ok := globals[name]; declared[name] || !ok || !g.IsValid() {
			continue
		}
		declared[name] = true
		b.WriteString("var " + name + " " + text + "\n")
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", b.String(), 0)
	if err != nil {
		return nil // the session's declarations parsed before: leave it to yaegi
	}
	pkg := types.NewPackage("main", "main")
	for name, v := range globals {
		if declared[name] || !v.IsValid() || strings.HasPrefix(name, "_nns") {
			continue
		}
		pkg.Scope().Insert(types.NewVar(token.NoPos, pkg, name, in.importer().typ(v.Type())))
	}
	_, terrs := in.typeCheck(fset, pkg, []*ast.File{f})
	tf := fset.File(f.Pos())
	for _, t := range terrs {
		if !t.Pos.IsValid() || tf == nil {
			continue
		}
		o := tf.Offset(t.Pos)
		for _, s := range spans {
			if o < s.start || o > s.end {
				continue
			}
			sf := s.sf
			if sf.baseline[fmt.Sprint(o-s.start, ":", t.Msg)] {
				continue
			}
			l, c := lineCol(sf.input, sf.base+o-s.start)
			var which []string
			for n := range changed {
				if sf.refs[n] {
					which = append(which, n)
				}
			}
			sort.Strings(which)
			if len(which) == 0 {
				which = []string{sortedNames(changed)}
			}
			var callers []string
			for _, other := range list {
				callers = append(callers, other.key)
			}
			pos := Position{Filename: sf.filename, Line: l, Column: c, Input: sf.inputNo}
			at := ""
			if sf.inputNo != in.inputNo && sf.filename == "" {
				// Labelled here (see markEarlier), the line's text before
				// the explanation.
				pos.Filename = "earlier input"
				if line := in.inputLine(sf.inputNo, l); line != "" {
					at = " (at: " + line + ")"
				}
			}
			return &Error{Pos: pos, Kind: KindCompile,
				Msg: fmt.Sprintf("%s, which calls %s, does not compile with the new %s: %s%s. The new %s is defined, but %s still use%s the previous one: change %s and run it again",
					sf.key, strings.Join(which, ", "), strings.Join(which, ", "), oneLine(t.Msg), at,
					sortedNames(changed), strings.Join(callers, ", "), map[bool]string{true: "s"}[len(callers) == 1], sf.key)}
		}
	}
	return nil
}

func sortedNames(m map[string]bool) string {
	var s []string
	for n := range m {
		s = append(s, n)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// oneLine puts the checker's indented detail lines ("\thave ()\n\twant
// (int)") in parentheses after its first line.
func oneLine(msg string) string {
	lines := strings.Split(msg, "\n")
	if len(lines) == 1 {
		return msg
	}
	for i := range lines[1:] {
		lines[i+1] = strings.TrimSpace(lines[i+1])
	}
	return lines[0] + " (" + strings.Join(lines[1:], ", ") + ")"
}
