package main

import (
	"errors"
	"io"
)

// kernelCmd installs or runs the Jupyter kernel (being built).
func kernelCmd(args []string, stdout, stderr io.Writer) error {
	return errors.New("kernel: not built yet")
}
