package repl

import (
	"go/scanner"
	"go/token"
	"strings"
)

// inputBuffer accumulates the lines of one input. A line completes the
// input when the text so far is complete (IsComplete says so). A blank line
// inside an open input is part of it (pasted code has blank lines inside
// function bodies and import blocks); a second blank line in a row submits
// whatever was typed, so an unbalanced input can always be abandoned into
// an error message.
type inputBuffer struct {
	lines      []string
	isComplete func(src string) (bool, string)
}

// add appends line. It returns the whole input and true when it is ready
// to evaluate, or the indentation suggested for the next line and false.
func (b *inputBuffer) add(line string) (src string, ready bool, indent string) {
	if strings.TrimSpace(line) == "" {
		n := len(b.lines)
		if n == 0 {
			return "", false, ""
		}
		if b.lines[n-1] == "" { // the second blank line in a row (blank lines are kept as "")
			b.lines = b.lines[:n-1]
			return b.take(), true, ""
		}
		b.lines = append(b.lines, "")
		_, indent := b.isComplete(strings.Join(b.lines, "\n"))
		return "", false, indent
	}
	b.lines = append(b.lines, line)
	text := strings.Join(b.lines, "\n")
	complete, indent := b.isComplete(text)
	if complete {
		return b.take(), true, ""
	}
	return "", false, indent
}

// pending reports whether part of an input has been read.
func (b *inputBuffer) pending() bool { return len(b.lines) > 0 }

// take returns the accumulated input and empties the buffer.
func (b *inputBuffer) take() string {
	s := strings.Join(b.lines, "\n")
	b.lines = nil
	return s
}

// reset drops the accumulated input (Ctrl-C).
func (b *inputBuffer) reset() { b.lines = nil }

// command is a REPL command such as ":load file.go".
type command struct {
	name string // without the colon, lower case: "load"
	arg  string // the rest of the line, trimmed
}

// parseCommand recognizes a REPL command: a line whose first non-blank
// character is ':' followed by a letter. Go input never starts that way.
func parseCommand(line string) (command, bool) {
	s := strings.TrimSpace(line)
	if len(s) < 2 || s[0] != ':' {
		return command{}, false
	}
	c := s[1]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return command{}, false
	}
	name, arg, _ := strings.Cut(s[1:], " ")
	return command{name: strings.ToLower(name), arg: strings.TrimSpace(arg)}, true
}

// historyEntry returns how a complete input is kept in the line-editing
// history: a multi-line input as one line (Up then brings back the whole
// function or trace, not its last line "}"), its lines joined with the
// semicolons Go would insert at their ends. Inputs that cannot be written
// on one line (a // comment, a raw string over several lines) are kept
// line by line, as typed.
func historyEntry(src string, isComplete func(string) (bool, string)) []string {
	src = strings.TrimRight(src, " \t\r\n")
	if !strings.Contains(src, "\n") {
		if strings.TrimSpace(src) == "" {
			return nil
		}
		return []string{src}
	}
	if one, ok := oneLine(src); ok {
		if complete, _ := isComplete(one); complete {
			return []string{one}
		}
	}
	var lines []string
	for _, l := range strings.Split(src, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// oneLine writes src on one line: a newline where Go inserts a semicolon
// becomes "; ", any other a space, and each line's indentation is dropped.
func oneLine(src string) (string, bool) {
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	bad := false
	var s scanner.Scanner
	s.Init(file, []byte(src), func(token.Position, string) { bad = true }, scanner.ScanComments)
	semi := map[int]bool{} // offsets of the newlines that end a statement
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		switch {
		case tok == token.COMMENT, (tok == token.STRING || tok == token.CHAR) && strings.Contains(lit, "\n"):
			return "", false
		case tok == token.SEMICOLON && lit == "\n":
			semi[file.Offset(pos)] = true
		}
	}
	if bad {
		return "", false
	}
	var b strings.Builder
	off := 0
	sep := ""
	for _, l := range strings.SplitAfter(src, "\n") {
		end := off + len(l)
		text := strings.TrimSpace(l)
		if text != "" {
			b.WriteString(sep)
			b.WriteString(text)
			sep = " "
		}
		if strings.HasSuffix(l, "\n") && semi[end-1] {
			sep = "; "
		}
		off = end
	}
	return b.String(), true
}
