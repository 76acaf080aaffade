package interp

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"reflect"
	"regexp"
	"strings"

	yaegi "github.com/traefik/yaegi/interp"
)

// segment is one top-level statement or declaration of REPL input.
type segment struct {
	start, end int
	decl       bool
}

// splitInput cuts src into top-level segments using the Go scanner:
// import/const/type/var/func declarations (methods included) versus
// statements.
func splitInput(src string) ([]segment, error) {
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	var errs scanner.ErrorList
	var s scanner.Scanner
	s.Init(file, []byte(src), func(pos token.Position, msg string) { errs.Add(pos, msg) }, 0)
	type tok struct {
		t   token.Token
		off int
		end int
	}
	var segs []segment
	var cur []tok
	var open []token.Pos // brackets not closed yet
	depth := 0
	inFor := false // in a for clause's header: its semicolons do not end the statement
	flush := func() {
		if len(cur) == 0 {
			return
		}
		sg := segment{start: cur[0].off, end: cur[len(cur)-1].end}
		switch cur[0].t {
		case token.IMPORT, token.CONST, token.TYPE, token.VAR:
			sg.decl = true
		case token.FUNC:
			if len(cur) > 1 && cur[1].t == token.IDENT {
				sg.decl = true
			} else if len(cur) > 1 && cur[1].t == token.LPAREN {
				// method declaration: func (recv) Name( or Name[
				d := 0
				for i := 1; i < len(cur); i++ {
					if cur[i].t == token.LPAREN {
						d++
					} else if cur[i].t == token.RPAREN {
						d--
						if d == 0 {
							if i+2 < len(cur) && cur[i+1].t == token.IDENT && (cur[i+2].t == token.LPAREN || cur[i+2].t == token.LBRACK) {
								sg.decl = true
							}
							break
						}
					}
				}
			}
		}
		segs = append(segs, sg)
		cur = nil
	}
	for {
		pos, t, lit := s.Scan()
		if t == token.EOF {
			break
		}
		off := file.Offset(pos)
		if depth == 0 {
			switch t {
			case token.FOR:
				inFor = true
			case token.LBRACE:
				inFor = false
			}
		}
		if t == token.SEMICOLON && depth == 0 && !inFor {
			if lit == ";" && len(cur) > 0 {
				cur[len(cur)-1].end = off + 1 // keep explicit semicolons
			}
			flush()
			continue
		}
		n := len(lit)
		if n == 0 {
			n = len(t.String())
		}
		switch t {
		case token.LPAREN, token.LBRACE, token.LBRACK:
			depth++
			open = append(open, pos)
		case token.RPAREN, token.RBRACE, token.RBRACK:
			depth--
			if len(open) > 0 {
				open = open[:len(open)-1]
			} else if len(errs) == 0 {
				// A closing bracket with none open: parsed inside the
				// session's wrapper, it closed the wrapper instead and
				// read "expected declaration, found '}'" without a
				// position.
				errs.Add(file.Position(pos), fmt.Sprintf("unexpected '%s': there is no %q open for it to close", t, map[token.Token]string{token.RPAREN: "(", token.RBRACE: "{", token.RBRACK: "["}[t]))
			}
		}
		cur = append(cur, tok{t, off, off + n})
	}
	flush()
	if len(errs) > 0 {
		return nil, errs
	}
	if len(open) > 0 {
		// Input that ends inside a block (a REPL line forced through with
		// blank lines, a piped file): parsed with the session's wrapper
		// after it, it read "expected '(', found _" without a position.
		p := file.Position(open[len(open)-1])
		closing := map[byte]string{'(': ")", '{': "}", '[': "]"}[src[p.Offset]]
		errs.Add(p, fmt.Sprintf("unexpected end of input: the %q here is never closed (missing %q)", src[p.Offset:p.Offset+1], closing))
		return nil, errs
	}
	return segs, nil
}

// Eval evaluates REPL or notebook input incrementally: declarations
// (import, const, type, var, func) and statements may be mixed; imports
// done earlier are skipped; state persists between calls.
//
// Display rule: Result.HasValue is true when the input ends with an
// expression statement that yields exactly one value: a bare expression
// (`x`, `a+b`, `t.Field`) or a call of a function with a single result.
// Calls with no result or with several results (such as fmt.Println's
// (n int, err error)) show nothing; assign them to see them.
var (
	mainDecl      = regexp.MustCompile(`(?m)^(func\s+)main\s*\(`)
	packageClause = regexp.MustCompile(`^(\s|//[^\n]*\n|/\*(?s:.*?)\*/)*package\s+\w+`)
)

func (in *Interpreter) Eval(ctx context.Context, src string) (Result, error) {
	return in.EvalAs(ctx, "", src)
}

// EvalAs is Eval for input read from a file (the REPL's :load): positions
// in it carry name as their Filename, also when an error of a later input
// happens in a function it declared.
func (in *Interpreter) EvalAs(ctx context.Context, name, src string) (Result, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	resetStmt()
	// yaegi runs a session's func main after every later input; a main
	// typed or pasted into the session is kept as main_ instead. Only a
	// top-level declaration starts a line with "func main(".
	// A whole program pasted in (package clause, func main) runs: the
	// package clause is blanked (positions stay) and main_ is called.
	program := false
	if loc := packageClause.FindStringIndex(src); loc != nil {
		src = src[:loc[0]] + strings.Repeat(" ", loc[1]-loc[0]) + src[loc[1]:]
		program = true
	}
	if mainDecl.MatchString(src) {
		src = mainDecl.ReplaceAllString(src, "${1}main_(")
		if program {
			src += "\nmain_()"
		} else {
			fmt.Fprintln(&in.stderr, "note: func main is kept as main_ in a session (call main_() to run it)")
		}
	}
	if err := in.ensureSession(ctx); err != nil {
		return Result{}, err
	}
	if program {
		// A pasted program is a run of its own, as a script is: a fresh
		// flag set, so a cell that defines flags runs again.
		in.newFlagSet(in.opts.Args, &in.stderr)
	}
	in.inputNo++
	in.inputName = name
	res, err := in.eval(ctx, src)
	if err != nil {
		in.markEarlier(err, in.inputNo, 0)
	}
	return res, err
}

// markEarlier relabels the positions of err (and of the body errors it
// carries) that lie in an earlier session input than cur: a panic in a
// function defined in an earlier cell has that cell's line and column,
// which are not the current input's. The line's text is added so that the
// user can find it.
func (in *Interpreter) markEarlier(err error, cur, depth int) {
	e, ok := err.(*Error)
	if !ok || depth > 8 {
		return
	}
	if e.Pos.Input != 0 && e.Pos.Input != cur && e.Pos.Filename == "" {
		e.Pos.Filename = "earlier input"
		if line := in.inputLine(e.Pos.Input, e.Pos.Line); line != "" {
			e.Msg += " (at: " + line + ")"
		}
	}
	if v, ok := e.Value.(error); ok {
		in.markEarlier(v, cur, depth+1)
	}
}

// inputLine returns the text of line (1-based) of session input n.
func (in *Interpreter) inputLine(n, line int) string {
	in.chunkMu.Lock()
	defer in.chunkMu.Unlock()
	for _, c := range in.chunks {
		if c.inputNo == n {
			lines := strings.Split(c.input, "\n")
			if line >= 1 && line <= len(lines) {
				return strings.TrimSpace(lines[line-1])
			}
			return ""
		}
	}
	return ""
}

func (in *Interpreter) eval(ctx context.Context, src string) (Result, error) {
	if strings.TrimSpace(src) == "" {
		return Result{}, nil
	}
	segs, err := splitInput(src)
	if err != nil {
		el := err.(scanner.ErrorList)
		return Result{}, &Error{Pos: Position{Line: el[0].Pos.Line, Column: el[0].Pos.Column}, Msg: el[0].Msg, Kind: KindCompile}
	}
	if len(segs) == 0 {
		return Result{}, nil
	}

	// Build the type-check file: prior imports, the declarations at their
	// offsets, and the statements inside a function, at their offsets.
	var declR, stmtR [][2]int
	for _, s := range segs {
		if s.decl {
			declR = append(declR, [2]int{s.start, s.end})
		} else {
			stmtR = append(stmtR, [2]int{s.start, s.end})
		}
	}
	declText := blankExcept(src, declR)
	stmtText := blankExcept(src, stmtR)
	var hdr strings.Builder
	hdr.WriteString("package main;")
	for p, n := range in.sessImports {
		if !strings.Contains(declText, `"`+p+`"`) {
			hdr.WriteString("import " + n + " \"" + p + "\";")
		}
	}
	hdr.WriteString("\n")
	header := hdr.String()
	declBase := len(header)
	mid := "\nfunc _() {"
	stmtBase := declBase + len(src) + len(mid)
	fileText := header + declText + mid + stmtText + "\n}"

	fset := token.NewFileSet()
	f, perr := parser.ParseFile(fset, "", fileText, parser.AllErrors)
	tf := fset.File(f.Pos())
	toInput := func(p token.Pos) int {
		if !p.IsValid() || tf == nil {
			return -1
		}
		o := tf.Offset(p)
		switch {
		case o >= stmtBase && o <= stmtBase+len(src):
			return o - stmtBase
		case o >= declBase && o <= declBase+len(src):
			return o - declBase
		}
		return -1
	}
	toPos := func(p token.Pos) Position {
		o := toInput(p)
		if o < 0 {
			return Position{}
		}
		l, c := lineCol(src, o)
		return Position{Filename: in.inputName, Line: l, Column: c, Input: in.inputNo}
	}
	if perr != nil {
		if el, ok := perr.(scanner.ErrorList); ok && len(el) > 0 {
			o := tf.Offset(tf.Pos(0)) // keep vet quiet about unused tf
			_ = o
			e := el[0]
			pos := Position{}
			msg := e.Msg
			if e.Pos.IsValid() {
				pos = toPos(tf.Pos(e.Pos.Offset))
				if e.Pos.Offset >= stmtBase+len(src) {
					// The error is in the wrapper's closing brace: the
					// input ended too early ("1 +" read "expected
					// operand, found '}'" without a position).
					end := len(strings.TrimRight(src, " \t\r\n"))
					l, c := lineCol(src, end)
					pos = Position{Filename: in.inputName, Line: l, Column: c, Input: in.inputNo}
					msg = strings.Replace(msg, "found '}'", "found the end of the input", 1)
				}
			}
			return Result{}, &Error{Pos: pos, Msg: msg, Kind: KindCompile}
		}
		return Result{}, &Error{Msg: perr.Error(), Kind: KindCompile}
	}

	// Names declared by this input.
	declared := map[string]bool{}
	newTypes := map[string]string{} // type name -> its definition's text
	var inputDecls []ctxDecl
	for _, d := range f.Decls {
		if toInput(d.Pos()) < 0 {
			continue
		}
		var names []string
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Name.Name == "_" {
				continue
			}
			name := d.Name.Name
			if d.Recv != nil && len(d.Recv.List) > 0 {
				name = "(" + exprString(d.Recv.List[0].Type) + ")." + name
			}
			names = []string{name}
		case *ast.GenDecl:
			if d.Tok == token.IMPORT {
				continue
			}
			for _, sp := range d.Specs {
				switch sp := sp.(type) {
				case *ast.ValueSpec:
					for _, n := range sp.Names {
						names = append(names, n.Name)
					}
				case *ast.TypeSpec:
					names = append(names, sp.Name.Name)
					a, b := toInput(sp.Pos()), toInput(sp.End())
					if a < 0 || b < a {
						continue
					}
					text := strings.Join(strings.Fields(src[a:b]), " ")
					if old, ok := in.typeTexts[sp.Name.Name]; ok && old != text {
						// yaegi keeps the first definition and takes the
						// new one silently: P{B: 2} then failed with
						// "unknown field B".
						return Result{}, &Error{Pos: toPos(sp.Name.Pos()), Kind: KindCompile,
							Msg: fmt.Sprintf("type %s is already declared in this session as `type %s`, and the interpreter cannot change a type's definition: give the new type another name, or start a new session (:reset in the REPL, restart the kernel in a notebook)", sp.Name.Name, old)}
					}
					newTypes[sp.Name.Name] = text
				}
			}
		}
		for _, n := range names {
			declared[n] = true
		}
		a, b := toInput(d.Pos()), toInput(d.End())
		inputDecls = append(inputDecls, ctxDecl{names: names, text: src[a:b]})
	}
	// A name a ':=' defines again stays visible as the global it is: the
	// statement's right side may read it (x := x + 1), and its new type
	// decides below whether the definition becomes an assignment.
	globals := safeGlobals(in.sess)
	root := wrapperBody(f) // the input's top-level statements (nil: declarations only)
	if root != nil {
		for _, st := range root.List {
			if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
				for _, l := range as.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						if g, ok := globals[id.Name]; !ok || !g.IsValid() {
							declared[id.Name] = true
						}
					}
				}
			}
		}
	}

	// Context: previous declarations and globals.
	pkg := types.NewPackage("main", "main")
	var ctxText strings.Builder
	ctxText.WriteString("package main;")
	for p, n := range in.sessImports {
		ctxText.WriteString("import " + n + " \"" + p + "\";")
	}
	ctxText.WriteString("\n")
	ctxNames := map[string]bool{}
	for _, d := range in.sessDecls {
		skip := false
		for _, n := range d.names {
			if declared[n] {
				skip = true
			}
		}
		if skip {
			continue
		}
		for _, n := range d.names {
			ctxNames[n] = true
		}
		ctxText.WriteString(d.text + "\n")
	}
	// Globals of types the script declared are declared with that type:
	// their reflect type (below) is yaegi's unnamed stand-in, without the
	// methods (fmt.Println(p) then missed p's String method, see fmtCall).
	for name, text := range in.globalTypes {
		if g, ok := globals[name]; declared[name] || ctxNames[name] || !ok || !g.IsValid() {
			continue
		}
		ctxNames[name] = true
		ctxText.WriteString("var " + name + " " + text + "\n")
	}
	files := []*ast.File{f}
	if cf, err := parser.ParseFile(fset, "ctx", ctxText.String(), 0); err == nil {
		files = append(files, cf)
	}
	for name, v := range globals {
		if declared[name] || ctxNames[name] || !v.IsValid() || strings.HasPrefix(name, "_nns") {
			continue
		}
		pkg.Scope().Insert(types.NewVar(token.NoPos, pkg, name, in.importer().typ(v.Type())))
	}
	info, terrs := in.typeCheck(fset, pkg, files)

	imports := map[string]string{}
	for p, n := range in.sessImports {
		imports[p] = n
	}
	for p, n := range fileImports(f) {
		imports[p] = n
	}
	rw := &rewriter{src: src, fset: fset, toInput: toInput, info: info, imports: imports,
		stmtPos: func(off, fnOff int) int {
			l, c := lineCol(src, off)
			var fn Position
			if fnOff >= 0 {
				fl, fc := lineCol(src, fnOff)
				fn = Position{Filename: in.inputName, Line: fl, Column: fc, Input: in.inputNo}
			}
			return registerStmt(Position{Filename: in.inputName, Line: l, Column: c, Input: in.inputNo}, fn)
		}, rootBody: root, session: true}
	rw.run(f)
	for _, off := range rw.varStmts {
		for k := range segs {
			if segs[k].start == off {
				segs[k].decl = false
			}
		}
	}
	in.rootIDs = rw.rootIDs
	if len(rw.errs) > 0 {
		return Result{}, rw.errs[0]
	}
	// A variable defined again with the same type (a notebook cell run
	// again: h := ...) is assigned instead: yaegi gives every definition a
	// new global slot and keeps the old value alive for good (for a saved
	// tensor, its memory and graph, on the GPU too). Functions from earlier
	// inputs then see the new value, as in Python.
	reassigned := map[ast.Stmt]bool{}
	if root != nil {
		for _, st := range root.List {
			as, ok := st.(*ast.AssignStmt)
			if !ok || as.Tok != token.DEFINE || !redefinesSameTypes(as, globals, info, in.importer()) {
				continue
			}
			if o := toInput(as.TokPos); o >= 0 {
				rw.add(o, o+2, "= ")
				reassigned[st] = true
			}
		}
	}
	// yaegi keeps every ':=' of top-level REPL statements global, also in
	// nested blocks: `for k := ...; { k := k }` then never terminates.
	// Compound statements run inside a closure instead.
	//
	// Statements that declare nothing run inside a closure too: at the top
	// level, yaegi gives every temporary of a statement (call results,
	// operands) a slot of the session's global frame that is never freed,
	// so each input kept its intermediate values (tensors) alive, and a
	// function literal there (a trace body) cloned the whole global frame,
	// which grew with every input: a session's memory grew with the square
	// of its inputs. In a closure, temporaries live in its own frame.
	if root != nil {
		for k, st := range root.List {
			switch st := st.(type) {
			case *ast.ForStmt, *ast.RangeStmt, *ast.IfStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt,
				*ast.SelectStmt, *ast.BlockStmt, *ast.LabeledStmt:
				if !declaresInBlocks(st) && !rw.rfRoot[st] {
					continue // keep loops without inner declarations cancellable
				}
			case *ast.AssignStmt:
				if st.Tok == token.DEFINE && !reassigned[st] {
					continue
				}
			case *ast.ExprStmt:
				if k == len(root.List)-1 && shown(st, info) {
					rw.showByMethod(st.X) // displayed by its String or Error method
					continue              // the value to display
				}
			case *ast.IncDecStmt, *ast.SendStmt:
			default:
				continue
			}
			a, b := toInput(st.Pos()), toInput(st.End())
			rw.add(a, a, "func() { ")
			rw.add(b, b, " }()")
		}
	}

	// Imports already done are blanked out.
	var skipR [][2]int
	var newImports []*ast.ImportSpec
	for _, is := range f.Imports {
		a, b := toInput(is.Pos()), toInput(is.End())
		if a < 0 {
			continue
		}
		p := strings.Trim(is.Path.Value, "\"`")
		name := fileImports(&ast.File{Imports: []*ast.ImportSpec{is}})[p]
		if old, ok := in.sessImports[p]; ok && old == name {
			// An unparenthesized `import "fmt"` loses its keyword too:
			// a bare `import` left behind is a syntax error.
			for _, d := range f.Decls {
				if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT && !gd.Lparen.IsValid() && len(gd.Specs) == 1 && gd.Specs[0] == is {
					if ga := toInput(gd.Pos()); ga >= 0 {
						a = ga
					}
				}
			}
			skipR = append(skipR, [2]int{a, b})
			continue
		}
		newImports = append(newImports, is)
	}

	if !in.sessGeneric && importsGeneric(f) {
		if err := compileGeneric(in.sess); err != nil {
			return Result{}, err
		}
		in.sessGeneric = true
	}
	// Evaluate groups of consecutive segments of the same kind, in order.
	var res Result
	for i := 0; i < len(segs); {
		j := i
		var ranges [][2]int
		for j < len(segs) && segs[j].decl == segs[i].decl {
			ranges = append(ranges, [2]int{segs[j].start, segs[j].end})
			j++
		}
		isDecl := segs[i].decl
		last := j == len(segs)
		text := blankExcept(src, ranges)
		if len(skipR) > 0 {
			b := []byte(text)
			for _, r := range skipR {
				for k := r[0]; k < r[1]; k++ {
					if b[k] != '\n' {
						b[k] = ' '
					}
				}
			}
			text = string(b)
		}
		i = j
		if strings.TrimSpace(text) == "" || onlyEmptyImports(text) {
			continue
		}
		var edits []edit
		for _, e := range rw.edits {
			for _, r := range ranges {
				if e.off >= r[0] && e.end <= r[1] {
					edits = append(edits, e)
					break
				}
			}
		}
		rtext, m := applyEdits(text, edits)
		padded := in.addChunk(&chunk{text: rtext, m: m, input: src, inputNo: in.inputNo, filename: in.inputName})
		v, err := in.exec(ctx, in.sess, padded)
		if err != nil {
			return Result{}, in.finish(err, terrs, toPos)
		}
		if isDecl {
			for _, is := range newImports {
				a := toInput(is.Pos())
				for _, r := range ranges {
					if a >= r[0] && a < r[1] {
						p := strings.Trim(is.Path.Value, "\"`")
						in.sessImports[p] = fileImports(&ast.File{Imports: []*ast.ImportSpec{is}})[p]
					}
				}
			}
			for _, d := range inputDecls {
				in.addDecl(d)
			}
			// Functions of earlier inputs that call a function this part
			// defined again are compiled again (see refreshCallers).
			changed := map[string]bool{}
			later := map[string]bool{}
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				a, b := toInput(d.Pos()), toInput(d.End())
				if !ok || a < 0 {
					continue
				}
				inGroup := false
				for _, r := range ranges {
					if a >= r[0] && b <= r[1] {
						inGroup = true
					}
				}
				switch {
				case inGroup:
					in.recordFunc(fd, src, a, b, rw.edits, terrs, toInput)
					if fd.Recv == nil && fd.Name.Name != "_" && fd.Name.Name != "init" {
						changed[fd.Name.Name] = true
					}
				case a >= ranges[len(ranges)-1][1] && fd.Recv == nil:
					later[fd.Name.Name] = true
				}
			}
			if err := in.refreshCallers(ctx, changed, later); err != nil {
				return Result{}, err
			}
		}
		if last && !isDecl {
			res = in.display(v, f, info)
		}
	}
	in.recordGlobalTypes(root, f, info, rw)
	if in.typeTexts == nil {
		in.typeTexts = map[string]string{}
	}
	for n, t := range newTypes {
		in.typeTexts[n] = t
	}
	return res, nil
}

// recordGlobalTypes remembers the type, as the session writes it, of each
// global the input defined with ':=' (or with a `var x = v` the rewriter
// turned into one, see varAsDefine) whose type involves a type the script
// declared.
func (in *Interpreter) recordGlobalTypes(root *ast.BlockStmt, f *ast.File, info *types.Info, rw *rewriter) {
	if info == nil {
		return
	}
	if in.globalTypes == nil {
		in.globalTypes = map[string]string{}
	}
	var ids []*ast.Ident
	if root != nil {
		for _, st := range root.List {
			if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
				for _, l := range as.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						ids = append(ids, id)
					}
				}
			}
		}
	}
	// `var s = stats[0]` runs as `s := stats[0]`: it is neither a
	// declaration kept for later inputs' type checks nor a ':=' of the
	// statements, and later inputs saw s with yaegi's type, without its
	// String method.
	rewritten := map[int]bool{}
	for _, off := range rw.varStmts {
		rewritten[off] = true
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR || !rewritten[rw.off(gd.Pos())] {
			continue
		}
		for _, sp := range gd.Specs {
			if vs, ok := sp.(*ast.ValueSpec); ok {
				ids = append(ids, vs.Names...)
			}
		}
	}
	for _, id := range ids {
		if id.Name == "_" {
			continue
		}
		obj := info.Defs[id]
		if obj == nil {
			obj = info.Uses[id] // defined before: ':=' assigns it
		}
		delete(in.globalTypes, id.Name)
		if obj == nil || !declaredByScript(obj.Type()) {
			continue
		}
		if text, ok := rw.typeString(obj.Type()); ok {
			in.globalTypes[id.Name] = text
		}
	}
}

// declaredByScript reports whether t involves a named type of package main.
func declaredByScript(t types.Type) bool {
	switch t := t.(type) {
	case *types.Named:
		return t.Obj().Pkg() != nil && t.Obj().Pkg().Path() == "main"
	case *types.Pointer:
		return declaredByScript(t.Elem())
	case *types.Slice:
		return declaredByScript(t.Elem())
	case *types.Array:
		return declaredByScript(t.Elem())
	case *types.Map:
		return declaredByScript(t.Key()) || declaredByScript(t.Elem())
	}
	return false
}

// declaresInBlocks reports whether a compound statement declares variables
// in its nested blocks (function literals excluded): in a block, a case or
// select clause, an if's or switch's init; a type switch counts as one.
// (A for loop's own variables are not counted.)
func declaresInBlocks(st ast.Stmt) bool {
	found := false
	check := func(list []ast.Stmt) {
		for _, s := range list {
			switch s := s.(type) {
			case *ast.AssignStmt:
				if s.Tok == token.DEFINE {
					found = true
				}
			case *ast.DeclStmt:
				found = true
			}
		}
	}
	ast.Inspect(st, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.BlockStmt:
			check(n.List)
		case *ast.CaseClause:
			// `switch v := x.(type) { case T: y := v }` and the like at the
			// top level of an input: yaegi failed with `"nnscope" imported
			// and not used` (case bodies are no BlockStmt).
			check(n.Body)
		case *ast.CommClause:
			check(n.Body)
		case *ast.IfStmt:
			check([]ast.Stmt{n.Init})
		case *ast.SwitchStmt:
			check([]ast.Stmt{n.Init})
		case *ast.TypeSwitchStmt:
			// Always run in a closure: a binding type switch at the top
			// level (`switch v := x.(type)`) failed in yaegi, and the
			// rewriter's form of type switches with interface cases (see
			// rewriter.typeSwitch) needs a function's frame; left as
			// written, `case error:` never matched.
			found = true
		}
		return !found
	})
	return found
}

func onlyEmptyImports(text string) bool {
	t := strings.TrimSpace(text)
	for _, s := range []string{"import", "(", ")", ";", " ", "\n", "\t"} {
		t = strings.ReplaceAll(t, s, "")
	}
	return t == ""
}

func (in *Interpreter) addDecl(d ctxDecl) {
	out := in.sessDecls[:0]
	for _, old := range in.sessDecls {
		keep := true
		for _, n := range old.names {
			for _, m := range d.names {
				if n == m {
					keep = false
				}
			}
		}
		if keep {
			out = append(out, old)
		}
	}
	in.sessDecls = append(out, d)
}

func wrapperBody(f *ast.File) *ast.BlockStmt {
	if len(f.Decls) == 0 {
		return nil
	}
	if fd, ok := f.Decls[len(f.Decls)-1].(*ast.FuncDecl); ok && fd.Name.Name == "_" && fd.Recv == nil {
		return fd.Body
	}
	return nil
}

// shown reports whether an input ending with st may display its value:
// anything but a call with no result or several.
func shown(st *ast.ExprStmt, info *types.Info) bool {
	call, ok := ast.Unparen(st.X).(*ast.CallExpr)
	if !ok || info == nil {
		return true
	}
	tv, ok := info.Types[call]
	if !ok || tv.Type == nil {
		return true
	}
	if tv.IsVoid() {
		return false
	}
	if t, ok := tv.Type.(*types.Tuple); ok && t.Len() != 1 {
		return false
	}
	return true
}

// display applies the display rule to the value of the last statement.
func (in *Interpreter) display(v reflect.Value, f *ast.File, info *types.Info) Result {
	body := wrapperBody(f)
	if body == nil || len(body.List) == 0 {
		return Result{}
	}
	es, ok := body.List[len(body.List)-1].(*ast.ExprStmt)
	if !ok {
		return Result{}
	}
	if !shown(es, info) {
		return Result{}
	}
	if call, ok := ast.Unparen(es.X).(*ast.CallExpr); ok {
		if tv, ok := info.Types[call]; !ok || tv.Type == nil {
			// Unknown type: never show the byte counts of fmt's printers.
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "fmt" && !strings.HasPrefix(sel.Sel.Name, "S") && !strings.HasPrefix(sel.Sel.Name, "Errorf") && !strings.HasPrefix(sel.Sel.Name, "Append") {
					return Result{}
				}
			}
		}
	}
	if !v.IsValid() {
		return Result{}
	}
	return Result{Value: v, HasValue: true}
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return "*" + exprString(e.X)
	case *ast.IndexExpr:
		return exprString(e.X)
	}
	return "?"
}

// ensureSession creates the REPL's yaegi interpreter on first use.
func (in *Interpreter) ensureSession(ctx context.Context) error {
	if in.sess != nil {
		return nil
	}
	yi, err := in.newYaegi()
	if err != nil {
		return err
	}
	in.newFlagSet(in.opts.Args, &in.stderr)
	in.sess, in.sessGeneric = yi, false
	in.sessImports = map[string]string{}
	for _, s := range []string{"import " + rtPkgName + " \"" + rtPkgPath + "\"", helperSource} {
		padded := in.addChunk(&chunk{text: s, input: ""})
		if _, err := in.exec(ctx, yi, padded); err != nil {
			in.sess = nil
			return err
		}
	}
	return nil
}

// safeGlobals returns yaegi's globals (Globals can panic after a failed
// evaluation left a symbol without storage).
func safeGlobals(yi *yaegi.Interpreter) (g map[string]reflect.Value) {
	defer func() {
		if recover() != nil {
			g = nil
		}
	}()
	return yi.Globals()
}

// redefinesSameTypes reports whether every name as defines is a session
// global of the identical type already (so the definition can be an
// assignment).
func redefinesSameTypes(as *ast.AssignStmt, globals map[string]reflect.Value, info *types.Info, imp *symImporter) bool {
	if info == nil {
		return false
	}
	n := 0
	for _, l := range as.Lhs {
		id, ok := l.(*ast.Ident)
		if !ok {
			return false
		}
		if id.Name == "_" {
			continue
		}
		g, ok := globals[id.Name]
		obj := info.Defs[id]
		if !ok || !g.IsValid() || obj == nil {
			return false
		}
		prev := imp.typ(g.Type())
		if prev == nil || !types.Identical(prev, obj.Type()) {
			return false
		}
		n++
	}
	return n > 0
}
