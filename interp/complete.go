package interp

import (
	"go/parser"
	"go/scanner"
	"go/token"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// IsComplete reports whether src is a complete input, or whether the REPL
// should read more lines (unclosed brackets, unterminated raw string,
// trailing operator...). indent is a suggested indentation for the next
// line (one tab per open brace or paren).
func IsComplete(src string) (complete bool, indent string) {
	if strings.TrimSpace(src) == "" {
		return true, ""
	}
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	var s scanner.Scanner
	rawOpen := false
	s.Init(file, []byte(src), func(_ token.Position, msg string) {
		if strings.Contains(msg, "raw string literal not terminated") || strings.Contains(msg, "comment not terminated") {
			rawOpen = true
		}
	}, 0)
	var open []int // the line of each open bracket
	unbalanced := false
	for {
		pos, t, _ := s.Scan()
		if t == token.EOF {
			break
		}
		switch t {
		case token.LPAREN, token.LBRACE, token.LBRACK:
			open = append(open, file.Line(pos))
		case token.RPAREN, token.RBRACE, token.RBRACK:
			if len(open) == 0 {
				unbalanced = true
			} else {
				open = open[:len(open)-1]
			}
		}
	}
	if rawOpen {
		return false, ""
	}
	if unbalanced {
		return true, "" // a stray closing bracket: more lines cannot help, let Eval report it
	}
	if len(open) > 0 {
		// One level per line that left brackets open, as gofmt indents:
		// `Trace("x", func(tr *nnscope.Tracer) {` is one level, not two.
		lines := 0
		for i, l := range open {
			if i == 0 || l != open[i-1] {
				lines++
			}
		}
		return false, strings.Repeat("\t", lines)
	}
	// Balanced: incomplete only if the parser wants more (e.g. `x := 1 +`).
	_, err1 := parser.ParseFile(token.NewFileSet(), "", "package main; func _() {"+src+"\n}", 0)
	if err1 == nil {
		return true, ""
	}
	_, err2 := parser.ParseFile(token.NewFileSet(), "", "package main;"+src, 0)
	if err2 == nil {
		return true, ""
	}
	if el, ok := err1.(scanner.ErrorList); ok && len(el) > 0 {
		if strings.HasSuffix(el[0].Msg, "found 'EOF'") || strings.HasSuffix(el[0].Msg, "found '}'") && el[0].Pos.Offset >= len("package main; func _() {")+len(src) {
			return false, ""
		}
	}
	return true, "" // a syntax error: let Eval report it
}

// IsComplete is the method form of the package function IsComplete.
func (in *Interpreter) IsComplete(src string) (bool, string) { return IsComplete(src) }

var goKeywords = []string{
	"break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough",
	"for", "func", "go", "goto", "if", "import", "interface", "map", "package", "range",
	"return", "select", "struct", "switch", "type", "var",
	"append", "cap", "clear", "close", "complex", "copy", "delete", "imag", "len", "make",
	"max", "min", "new", "panic", "print", "println", "real", "recover",
	"bool", "byte", "complex64", "complex128", "error", "float32", "float64", "int", "int8",
	"int16", "int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32", "uint64",
	"uintptr", "any", "true", "false", "nil", "iota",
}

func isIdentRune(r byte) bool {
	return r == '_' || r >= 0x80 || unicode.IsLetter(rune(r)) || unicode.IsDigit(rune(r))
}

// Complete returns completion candidates for the identifier that ends at
// byte offset cursor of src: whole identifiers that replace the word
// starting at cursor-len(prefix), where prefix is the identifier
// characters immediately before cursor. After "pkg." it lists the members
// of an imported package; after "x." or "x.f." the fields and methods of
// the value of global x (through reflection); otherwise keywords, builtins,
// globals, declarations and imported package names.
func (in *Interpreter) Complete(src string, cursor int) []string {
	if cursor < 0 || cursor > len(src) {
		cursor = len(src)
	}
	start := cursor
	for start > 0 && isIdentRune(src[start-1]) {
		start--
	}
	prefix := src[start:cursor]
	var chain []string
	if start > 0 && src[start-1] == '.' {
		if chain = parseChain(src, start-1); len(chain) == 0 {
			return nil
		}
	}

	in.mu.Lock()
	defer in.mu.Unlock()
	set := map[string]bool{}
	add := func(n string) {
		if strings.HasPrefix(n, prefix) && !strings.HasPrefix(n, "_") {
			set[n] = true
		}
	}
	var globals map[string]reflect.Value
	if in.sess != nil {
		globals = safeGlobals(in.sess)
	}
	if chain == nil {
		for _, k := range goKeywords {
			add(k)
		}
		for n := range globals {
			add(n)
		}
		for _, d := range in.sessDecls {
			for _, n := range d.names {
				add(n)
			}
		}
		for _, n := range in.sessImports {
			add(n)
		}
	} else {
		for p, n := range in.sessImports {
			if n == chain[0] && len(chain) == 1 {
				for _, t := range in.tables {
					for k, syms := range t {
						if k[:strings.LastIndex(k, "/")] != p {
							continue
						}
						for s := range syms {
							add(s)
						}
					}
				}
			}
		}
		if t := in.chainType(src[:start], chain, globals, 0); t != nil {
			for _, n := range members(t) {
				add(n)
			}
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func fieldOf(v reflect.Value, name string) reflect.Value {
	for v.IsValid() && (v.Kind() == reflect.Ptr || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.FieldByName(name)
}

func members(t reflect.Type) []string {
	var out []string
	for _, tt := range []reflect.Type{t, reflect.PointerTo(t)} {
		for i := 0; i < tt.NumMethod(); i++ {
			out = append(out, tt.Method(i).Name)
		}
	}
	st := t
	for st.Kind() == reflect.Ptr {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct {
		for i := 0; i < st.NumField(); i++ {
			if f := st.Field(i); f.IsExported() {
				out = append(out, f.Name)
			}
		}
	}
	return out
}

// parseChain reads backwards from end (just after the last element) the
// selector chain before it: "model.Transformer.H.At(0).Output()" gives
// [model Transformer H At() Output()]; call arguments are skipped.
func parseChain(src string, end int) []string {
	var chain []string
	i := end
	for i > 0 {
		call := false
		if src[i-1] == ')' {
			d := 0
			j := i - 1
			for ; j >= 0; j-- {
				if src[j] == ')' {
					d++
				} else if src[j] == '(' {
					if d--; d == 0 {
						break
					}
				}
			}
			if j < 0 {
				return nil
			}
			i, call = j, true
		}
		j := i
		for j > 0 && isIdentRune(src[j-1]) {
			j--
		}
		if j == i {
			return nil
		}
		name := src[j:i]
		if call {
			name += "()"
		}
		chain = append([]string{name}, chain...)
		if j > 0 && src[j-1] == '.' {
			i = j - 1
			continue
		}
		break
	}
	return chain
}

// chainType resolves the type of a selector chain (see parseChain) from
// types alone, running no code: its head is a global, a package member, a
// parameter or variable declared with a type in before ("tr
// *nnscope.Tracer"), or a local assigned from another chain in before
// ("h := model.Transformer.H.At(0).Output()"); fields and methods' first
// results follow. nil when unknown.
func (in *Interpreter) chainType(before string, chain []string, globals map[string]reflect.Value, depth int) reflect.Type {
	if len(chain) == 0 || depth > 4 {
		return nil
	}
	head, rest := chain[0], chain[1:]
	if !token.IsIdentifier(head) {
		return nil // also keeps bytes that are not UTF-8 out of the patterns below
	}
	var v reflect.Value // the head's value while fields are followed
	var t reflect.Type
	if g, ok := globals[head]; ok && g.IsValid() {
		v, t = g, g.Type()
	} else if p, ok := in.importPath(head); ok && len(rest) > 0 {
		sym, ok := in.symbol(p, strings.TrimSuffix(rest[0], "()"))
		if !ok || sym.Kind() != reflect.Func || sym.Type().NumOut() == 0 {
			return nil
		}
		t, rest = sym.Type().Out(0), rest[1:]
	} else if m := regexp.MustCompile(`\b`+regexp.QuoteMeta(head)+`\s+(\*?)(\w+)\.(\w+)\b`).FindAllStringSubmatch(before, -1); m != nil {
		last := m[len(m)-1]
		p, ok := in.importPath(last[2])
		if !ok {
			return nil
		}
		sym, ok := in.symbol(p, last[3])
		if !ok || sym.Kind() != reflect.Ptr || !sym.IsNil() {
			return nil // not a type
		}
		if t = sym.Type().Elem(); last[1] == "*" {
			t = reflect.PointerTo(t)
		}
	} else if locs := regexp.MustCompile(`\b`+regexp.QuoteMeta(head)+`\s*:?=\s*([^\n;]*)`).FindAllStringSubmatchIndex(before, -1); locs != nil {
		loc := locs[len(locs)-1]
		rhs := strings.TrimRight(before[loc[2]:loc[3]], " \t{")
		t = in.chainType(before[:loc[0]], parseChain(rhs, len(rhs)), globals, depth+1)
	}
	for _, f := range rest {
		if t == nil {
			return nil
		}
		if name, call := strings.CutSuffix(f, "()"); call {
			m, ok := t.MethodByName(name)
			if !ok && t.Kind() != reflect.Ptr && t.Kind() != reflect.Interface {
				m, ok = reflect.PointerTo(t).MethodByName(name)
			}
			if !ok || m.Type.NumOut() == 0 {
				return nil
			}
			t, v = m.Type.Out(0), reflect.Value{}
			continue
		}
		if fv := fieldOf(v, f); fv.IsValid() {
			v, t = fv, fv.Type()
			continue
		}
		st := t
		for st.Kind() == reflect.Ptr {
			st = st.Elem()
		}
		sf, ok := reflect.StructField{}, false
		if st.Kind() == reflect.Struct {
			sf, ok = st.FieldByName(f)
		}
		if !ok {
			return nil
		}
		t, v = sf.Type, reflect.Value{}
	}
	return t
}

// importPath returns the path of the package imported as name.
func (in *Interpreter) importPath(name string) (string, bool) {
	for p, n := range in.sessImports {
		if n == name {
			return p, true
		}
	}
	return "", false
}

// symbol looks up an exported member of the package at path.
func (in *Interpreter) symbol(path, name string) (reflect.Value, bool) {
	for _, t := range in.tables {
		for k, syms := range t {
			if k[:strings.LastIndex(k, "/")] == path {
				if v, ok := syms[name]; ok {
					return v, true
				}
			}
		}
	}
	return reflect.Value{}, false
}
