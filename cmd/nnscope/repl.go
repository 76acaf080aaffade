package main

import (
	"errors"
	"io"
)

// replCmd runs the interactive session (being built in repl/).
func replCmd(args []string, stdout, stderr io.Writer) error {
	return errors.New("repl: not built yet")
}
