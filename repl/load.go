package repl

import (
	"go/parser"
	"go/scanner"
	"go/token"
	"strconv"
	"strings"
)

// loadPlan is how :load evaluates a file in the session.
type loadPlan struct {
	imports []string // one `import name "path"` input per import spec
	body    string   // the rest, with the package clause and imports blanked
	main    string   // the name main was renamed to ("" if no func main)
}

// loadMainName is what a loaded file's func main is renamed to: a session
// that declares main itself gets main run after every input (yaegi's
// program semantics), so the loaded main is called once under this name
// and can be called again by the user.
const loadMainName = "main_"

// planLoad prepares the source of a file for :load. It accepts a whole Go
// file (package clause, imports, declarations: `nnscope run` scripts) as
// well as a snippet of REPL input (imports, declarations and statements
// without a package clause). The package clause and the import
// declarations are replaced by blanks, keeping line and column numbers, and
// the imports are returned one per input. A top-level `func main()` is
// renamed to main_ (columns after it on that line move by one) and
// reported, so the caller can run it after the declarations.
func planLoad(src string) (loadPlan, error) {
	var p loadPlan
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	var s scanner.Scanner
	var scanErr error
	s.Init(file, []byte(src), func(pos token.Position, msg string) {
		if scanErr == nil {
			scanErr = scanner.Error{Pos: pos, Msg: msg}
		}
	}, 0)
	type tok struct {
		off int
		t   token.Token
		lit string
	}
	var toks []tok
	for {
		pos, t, lit := s.Scan()
		if t == token.EOF {
			break
		}
		toks = append(toks, tok{file.Offset(pos), t, lit})
	}
	if scanErr != nil {
		return p, scanErr
	}
	blank := make([]bool, len(src))
	blankRange := func(from, to int) {
		for i := from; i < to && i < len(src); i++ {
			blank[i] = true
		}
	}
	end := func(i int) int { // offset just past token i
		if toks[i].t == token.SEMICOLON && toks[i].lit == "\n" {
			return toks[i].off
		}
		if toks[i].lit != "" {
			return toks[i].off + len(toks[i].lit)
		}
		return toks[i].off + len(toks[i].t.String())
	}
	i := 0
	if i+1 < len(toks) && toks[i].t == token.PACKAGE && toks[i+1].t == token.IDENT {
		j := i + 2
		if j < len(toks) && toks[j].t == token.SEMICOLON {
			j++
		}
		blankRange(toks[i].off, end(j-1))
		i = j
	}
	for i < len(toks) && toks[i].t == token.IMPORT {
		j := i + 1
		if j < len(toks) && toks[j].t == token.LPAREN {
			for j < len(toks) && toks[j].t != token.RPAREN {
				j++
			}
		} else {
			for j < len(toks) && toks[j].t != token.SEMICOLON {
				j++
			}
			j--
		}
		if j >= len(toks) {
			j = len(toks) - 1
		}
		text := src[toks[i].off:end(j)]
		f, err := parser.ParseFile(token.NewFileSet(), "", "package p;"+text, parser.ImportsOnly)
		if err != nil {
			break // leave it to Eval to report
		}
		for _, spec := range f.Imports {
			in := "import "
			if spec.Name != nil {
				in += spec.Name.Name + " "
			}
			path, _ := strconv.Unquote(spec.Path.Value)
			p.imports = append(p.imports, in+strconv.Quote(path))
		}
		j++
		if j < len(toks) && toks[j].t == token.SEMICOLON {
			j++
		}
		blankRange(toks[i].off, end(j-1))
		i = j
	}
	// A top-level func main (not a method).
	depth := 0
	mainAt := -1
	for k := i; k < len(toks); k++ {
		switch toks[k].t {
		case token.LBRACE, token.LPAREN, token.LBRACK:
			depth++
		case token.RBRACE, token.RPAREN, token.RBRACK:
			depth--
		case token.FUNC:
			if depth == 0 && k+2 < len(toks) && toks[k+1].t == token.IDENT && toks[k+1].lit == "main" && toks[k+2].t == token.LPAREN {
				mainAt = toks[k+1].off
			}
		}
	}
	var b strings.Builder
	for k := 0; k < len(src); k++ {
		switch {
		case k == mainAt:
			b.WriteString(loadMainName)
			k += len("main") - 1
		case blank[k] && src[k] != '\n':
			b.WriteByte(' ')
		default:
			b.WriteByte(src[k])
		}
	}
	p.body = b.String()
	if mainAt >= 0 {
		p.main = loadMainName
	}
	return p, nil
}
