// Command nnscope looks inside GPT-2 and changes what it computes: run
// Go-syntax intervention scripts, benchmark the engine, and more.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"

	"nnscope/bench"
	"nnscope/gpt2"
	"nnscope/hub"
	"nnscope/interp"
	rt "nnscope/runtime"
	"nnscope/session"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `nnscope: look inside GPT-2 and change what it computes.

Usage:
  nnscope run FILE.go [script flags]            run an intervention script
  nnscope [repl] [-history FILE]                interactive session (readline)
  nnscope kernel install [--user|--prefix DIR]  install the Jupyter kernelspec
  nnscope kernel -f CONNECTION_FILE             run as a Jupyter kernel
  nnscope demo [-model ID|DIR] [-prompt TEXT]   gradient at the last layer and greedy generation
  nnscope bench [-only NAMES] [-repeats N]      benchmark the engine on GPT-2 124M (random weights)
  nnscope version                               print the version
  nnscope help                                  this text

"nnscope COMMAND -h" lists a command's flags.

Models are Hugging Face ids (found in the Hugging Face cache, $HF_HUB_CACHE
or $HF_HOME/hub, or downloaded from $HF_ENDPOINT into it; HF_TOKEN,
HF_HUB_OFFLINE=1 and HF_HUB_ETAG_TIMEOUT are honoured) or local folders
holding config.json and model.safetensors (or a sharded checkpoint).
NNSCOPE_DEVICE=cuda loads models on the GPU (like nnscope.Device("cuda")).
`

func main() {
	// The standard logger is written only by yaegi's log.Panic (a compile
	// failure such as "nil type"), whose message the interpreter reports as
	// the script's error: printed too, it showed as a stray dated line.
	log.SetOutput(io.Discard)
	if dir := os.Getenv(bench.ChildLoadEnv); dir != "" {
		if err := bench.LoadChild(dir, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "nnscope:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var code exitCode
		switch {
		case errors.As(err, &code):
			os.Exit(int(code))
		case errors.Is(err, flag.ErrHelp):
			os.Exit(0) // -h asked for the usage, which was printed
		default:
			fmt.Fprintln(os.Stderr, "nnscope:", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return replCmd(nil, stdout, stderr)
	}
	switch args[0] {
	case "repl":
		return replCmd(args[1:], stdout, stderr)
	case "kernel":
		return kernelCmd(args[1:], stdout, stderr)
	case "run":
		return runScript(args[1:], stdout, stderr)
	case "demo":
		return demo(args[1:], stdout, stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "nnscope", version)
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	if strings.HasPrefix(args[0], "-") {
		return replCmd(args, stdout, stderr) // nnscope -history FILE
	}
	return fmt.Errorf("unknown command %q (see nnscope help)", args[0])
}

func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: nnscope %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a command's flags. A bad flag is exit status 2, as for
// Go programs, and the flag package has already printed the error and the
// usage: it is not printed a second time.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return exitCode(2)
	}
	return err
}

// fallbackModel is used by demo when the Hub cannot be reached and the
// model is not cached: the small GPT-2 shipped in testdata.
const fallbackModel = "testdata/gpt2-tiny"

func demo(args []string, stdout, stderr io.Writer) (err error) {
	// The engine reports what it cannot do (an out-of-memory GPU, say) by
	// panicking with a *runtime.Error: an error here, not a stack trace.
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*rt.Error)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("demo: %w", e)
		}
	}()
	fs := newFlags("demo", "demo [-model ID|DIR] [-prompt TEXT] [-tokens N]", stderr)
	model := fs.String("model", "openai-community/gpt2", "Hugging Face id or local folder")
	prompt := fs.String("prompt", "The Eiffel Tower is in the city of", "prompt")
	n := fs.Int("tokens", 10, "tokens to generate")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// Flags after it would be ignored: say so rather than run another model.
		fmt.Fprintf(stderr, "nnscope demo: unexpected argument %q (the prompt is given with -prompt TEXT, and flags come before any other argument)\n", fs.Arg(0))
		return exitCode(2)
	}
	m, err := gpt2.LoadPretrained(context.Background(), *model, hub.Options{Progress: stderr})
	if err != nil {
		if isLocal(*model) {
			return err
		}
		if _, serr := os.Stat(fallbackModel); serr != nil {
			// Not run from the repository: there is no fallback here.
			return fmt.Errorf("%w (demo -model DIR loads a local folder)", err)
		}
		fmt.Fprintf(stderr, "nnscope: %v\nnnscope: falling back to %s\n", err, fallbackModel)
		if m, err = gpt2.Load(fallbackModel); err != nil {
			return err
		}
	}
	defer m.Close()
	tok := m.Tokenizer
	ids, err := tok.Encode(*prompt)
	if err != nil {
		return err
	}
	if err := demoCheck(m.Config, *model, ids, *n); err != nil {
		return err
	}
	last := m.Blocks[len(m.Blocks)-1].Module
	var hs, grad *rt.Tensor
	logits := m.Forward(exitHook(func(mod *rt.Module, out *rt.Tensor) {
		if mod == last {
			hs = out.RequiresGrad()
		}
	}), gpt2.Input{IDs: [][]int{ids}}, nil)
	hs.RegisterHook(func(g *rt.Tensor) *rt.Tensor { grad = g; return nil })
	if err := logits.Sum().Backward(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Prompt: %q (%d tokens)\n", *prompt, len(ids))
	fmt.Fprintln(stdout, "Gradient shape:", grad.Shape())
	fmt.Fprintf(stdout, "Gradient mean: %.4f\n", grad.Abs().Mean().Item())
	out := m.Generate(gpt2.Input{IDs: [][]int{ids}}, gpt2.GenerateOptions{MaxNewTokens: *n, StopAtEOS: true, EOS: tok.EOS, MoreEOS: m.Config.EosTokenIDs})
	text, err := tok.Decode(out[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Greedy continuation: %q\n", text)
	return nil
}

// demoCheck says why the prompt's ids and the number of new tokens do not
// fit the model.
func demoCheck(c gpt2.Config, model string, ids []int, tokens int) error {
	switch {
	case len(ids) == 0:
		return fmt.Errorf("demo: the prompt has no tokens: give some text with -prompt")
	case len(ids) > c.NPositions:
		return fmt.Errorf("demo: the prompt has %d tokens, more than %s's n_positions %d: shorten it", len(ids), model, c.NPositions)
	case tokens < 0:
		return fmt.Errorf("demo: -tokens %d: want 0 or more", tokens)
	case len(ids)+tokens-1 > c.NPositions:
		return fmt.Errorf("demo: a prompt of %d tokens and -tokens %d need %d positions, more than %s's n_positions %d", len(ids), tokens, len(ids)+tokens-1, model, c.NPositions)
	}
	for _, id := range ids {
		if id >= c.VocabSize {
			return fmt.Errorf("demo: the prompt has token %d, but %s's vocab_size is %d: its folder has no tokenizer files of its own (tokenizer.json, or vocab.json and merges.txt), so GPT-2's was used", id, model, c.VocabSize)
		}
	}
	return nil
}

func isLocal(p string) bool {
	if _, err := os.Stat(p); err == nil {
		return true
	}
	return strings.HasPrefix(p, ".") || strings.HasPrefix(p, "/")
}

type exitHook func(m *rt.Module, out *rt.Tensor)

func (h exitHook) Enter(*rt.Module, []*rt.Tensor) ([]*rt.Tensor, *rt.Tensor) { return nil, nil }
func (h exitHook) Exit(m *rt.Module, out *rt.Tensor) *rt.Tensor              { h(m, out); return nil }

func benchCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench [-only seed1,seed2,...] [-repeats N] [-device cpu|cuda] [-tf32] [-profile] [-cpuprofile FILE]", stderr)
	only := fs.String("only", "", "comma-separated workloads (default all)")
	repeats := fs.Int("repeats", 10, "timed runs per workload (the median is printed)")
	device := fs.String("device", "cpu", "device to benchmark: cpu or cuda")
	tf32 := fs.Bool("tf32", false, "allow TF32 GEMMs on the GPU")
	prof := fs.Bool("profile", false, "on the GPU, also print each workload's GPU time by kernel")
	cpuprof := fs.String("cpuprofile", "", "write the host's CPU profile of the whole run to FILE (go tool pprof reads it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			return fmt.Errorf("bench -cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench -cpuprofile %s: %w", *cpuprof, err)
		}
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nnscope bench: unexpected argument %q (workloads are chosen with -only NAME,...)\n", fs.Arg(0))
		return exitCode(2)
	}
	names, err := benchNames(*only)
	if err != nil {
		return err
	}
	return bench.Run(bench.Options{Only: names, Repeats: *repeats, Out: stdout, Device: *device, TF32: *tf32, Profile: *prof})
}

// benchNames splits -only's comma-separated list (spaces and empty items
// are ignored) and checks each name: an unknown one is an error listing
// the workloads, not a run that silently benchmarks nothing.
func benchNames(only string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(only, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		names = append(names, n)
	}
	return names, nil // bench.Run checks them before it builds the model
}

// exitCode carries a script's exit status out of run.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// osExit ends the process (a variable for tests).
var osExit = os.Exit

func runScript(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		w := stdout
		if len(args) == 0 { // a mistake: the usage is the error message
			w = stderr
		}
		fmt.Fprint(w, `Usage: nnscope run FILE.go [script flags]

Runs a Go-syntax intervention script (package main, func main) with the
interpreter. Flags after the file are the script's own (its flag.Parse sees
them). Scripts may import the nnscope API, gorgonia.org/tensor and a safe
subset of the standard library (no os/exec, unsafe, syscall or net).
Ctrl-C stops a running trace or generation and ends the script.
`)
		if len(args) == 0 {
			return exitCode(2)
		}
		return nil
	}
	if args[0] == "--" {
		args = args[1:]
	}
	if len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		// Not "open -model: no such file or directory".
		fix := "nnscope run FILE.go " + strings.Join(args, " ")
		if i := slices.IndexFunc(args, func(a string) bool { return strings.HasSuffix(a, ".go") }); i > 0 {
			fix = "nnscope run " + strings.Join(slices.Concat(args[i:i+1], args[:i], args[i+1:]), " ")
		}
		fmt.Fprintf(stderr, "nnscope run: %s before the script: run has no flags of its own, and the script's flags go after its file:\n  %s\n", args[0], fix)
		return exitCode(2)
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "nnscope run: no script file (usage: nnscope run FILE.go [script flags])")
		return exitCode(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s := session.New(session.Options{Stdout: stdout, Stderr: stderr,
		// A panic in a goroutine ends a compiled Go program with status 2.
		GoroutinePanic: func(error) { osExit(2) }})
	err := s.RunFile(ctx, args[0], args[1:])
	if code, ok := interp.ExitCode(err); ok {
		return exitCode(code)
	}
	if err != nil && ctx.Err() != nil {
		// Ctrl-C: the shell's convention, 128 + SIGINT, as a Go program
		// killed by it would report.
		fmt.Fprintf(stderr, "nnscope run: %s: interrupted\n", args[0])
		return exitCode(130)
	}
	return err
}
