//go:build !unix

package repl

import (
	"context"
	"io"
)

func newTermStdin(in io.Reader, ctx func() context.Context) io.Reader { return in }
