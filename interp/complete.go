package interp

import (
	"go/parser"
	"go/scanner"
	"go/token"
	"reflect"
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
	depth := 0
	for {
		_, t, _ := s.Scan()
		if t == token.EOF {
			break
		}
		switch t {
		case token.LPAREN, token.LBRACE, token.LBRACK:
			depth++
		case token.RPAREN, token.RBRACE, token.RBRACK:
			depth--
		}
	}
	if rawOpen {
		return false, ""
	}
	if depth > 0 {
		return false, strings.Repeat("\t", depth)
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
		i := start - 1
		for i > 0 {
			j := i
			for j > 0 && isIdentRune(src[j-1]) {
				j--
			}
			if j == i {
				break
			}
			chain = append([]string{src[j:i]}, chain...)
			if j > 0 && src[j-1] == '.' {
				i = j - 1
				continue
			}
			break
		}
		if len(chain) == 0 {
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
		if v, ok := globals[chain[0]]; ok {
			for _, f := range chain[1:] {
				v = fieldOf(v, f)
			}
			if v.IsValid() {
				for _, n := range members(v.Type()) {
					add(n)
				}
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
