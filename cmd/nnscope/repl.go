package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chzyer/readline"

	"nnscope/repl"
)

const replUsage = `Usage: nnscope repl [-history FILE]   (or just nnscope)

An interactive session: type Go statements, expressions and declarations
(fmt and nnscope are imported); an expression's value is printed. Input
continues over several lines while brackets are open (blank lines inside are
kept; two blank lines in a row submit what was typed).
Tab completes names, methods and module paths in Module("..."). Ctrl-C
clears the line or interrupts a running evaluation; Ctrl-D or :quit leaves.
Commands: :help, :load FILE, :modules [PATH], :reset, :history, :quit.

When stdin is not a terminal, lines are read without prompts or editing
(echo '1+1' | nnscope repl prints 2) and the exit status is 1 if an input
failed.

Flags:
`

func replCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("repl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	history := fs.String("history", defaultHistory(), "history file (\"\" keeps none; default $NNSCOPE_HISTORY or ~/.nnscope_history)")
	fs.Usage = func() {
		fmt.Fprint(stderr, replUsage)
		fs.PrintDefaults()
	}
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "help" {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, replUsage)
			fs.PrintDefaults()
			return nil
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("repl: unexpected argument %q (see nnscope repl --help)", fs.Arg(0))
	}
	interactive := readline.IsTerminal(int(os.Stdin.Fd())) && readline.IsTerminal(int(os.Stdout.Fd()))
	r := repl.New(repl.Options{
		Stdout:      stdout,
		Stderr:      stderr,
		HistoryFile: *history,
		Interactive: interactive,
		Banner:      interactive,
	})
	if err := r.Run(); errors.Is(err, repl.ErrFailed) {
		return exitCode(1) // the errors were printed as they happened
	} else if err != nil {
		return err
	}
	return nil
}

// defaultHistory is $NNSCOPE_HISTORY when set (even empty: no history),
// else ~/.nnscope_history.
func defaultHistory() string {
	if h, ok := os.LookupEnv("NNSCOPE_HISTORY"); ok {
		return h
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".nnscope_history")
}
