//go:build unix

package repl

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/chzyer/readline"
	"golang.org/x/sys/unix"
)

// termStdin is the script's standard input (fmt.Scan and co) in an
// interactive session: the terminal, read only once a line is there, so
// that Ctrl-C ends a read that waits for the user. A plain read of the
// terminal cannot be abandoned: the evaluation would wait for a line after
// Ctrl-C, and that line, typed for the next prompt, would go to the
// interrupted fmt.Scan.
type termStdin struct {
	f   *os.File
	fd  int32
	ctx func() context.Context // the running evaluation's, nil between them
}

// newTermStdin returns in itself when it is not a terminal.
func newTermStdin(in io.Reader, ctx func() context.Context) io.Reader {
	f, ok := in.(*os.File)
	if !ok {
		return in
	}
	if !readline.IsTerminal(int(f.Fd())) {
		return in
	}
	return termStdin{f: f, fd: int32(f.Fd()), ctx: ctx}
}

func (s termStdin) Read(p []byte) (int, error) {
	fds := []unix.PollFd{{Fd: s.fd, Events: unix.POLLIN}}
	for {
		ctx := s.ctx()
		if ctx == nil {
			// Between inputs the terminal belongs to the prompt: a
			// goroutine of the script must not take what is typed there.
			return 0, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		fds[0].Revents = 0
		n, err := unix.Poll(fds, 50)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return 0, err
		}
		if n > 0 {
			return s.f.Read(p)
		}
	}
}
