package interp

import (
	"encoding"
	"errors"
	"flag"
	"io"
	"reflect"
	"time"
)

// flagTable returns the per-interpreter replacement of package flag's
// functions working on the FlagSet of the current run, so that scripts do
// not define flags on the host's flag.CommandLine and runs don't collide.
func (in *Interpreter) flagTable() map[string]reflect.Value {
	fs := func() *flag.FlagSet { return in.flagSet }
	// define is the flag set a flag named name is defined on. A flag that
	// was defined when flag.Parse ran, defined again, is a script's func
	// main run a second time in a session (main_() called again after
	// :load, or a cell that defines main and others that call it): that
	// run gets a fresh flag set with the same command line, as a new
	// process would, instead of flag's "flag redefined" panic. A flag
	// defined twice within one run still panics, as in Go.
	define := func(name string) *flag.FlagSet {
		if f := in.flagSet; f.Parsed() && in.flagsAtParse[name] {
			in.newFlagSet(in.osArgs, f.Output())
		}
		return in.flagSet
	}
	return map[string]reflect.Value{
		"CommandLine": reflect.ValueOf(&in.flagSet).Elem(),
		"Usage":       reflect.ValueOf(&in.flagUsage).Elem(),
		"Parse": reflect.ValueOf(func() {
			in.flagsAtParse = map[string]bool{}
			fs().VisitAll(func(f *flag.Flag) { in.flagsAtParse[f.Name] = true })
			err := fs().Parse(in.osArgs[1:])
			if errors.Is(err, flag.ErrHelp) {
				panic(ExitError{Code: 0})
			}
			if err != nil {
				panic(ExitError{Code: 2})
			}
		}),
		"Parsed":        reflect.ValueOf(func() bool { return fs().Parsed() }),
		"Args":          reflect.ValueOf(func() []string { return fs().Args() }),
		"Arg":           reflect.ValueOf(func(i int) string { return fs().Arg(i) }),
		"NArg":          reflect.ValueOf(func() int { return fs().NArg() }),
		"NFlag":         reflect.ValueOf(func() int { return fs().NFlag() }),
		"Set":           reflect.ValueOf(func(name, value string) error { return fs().Set(name, value) }),
		"Lookup":        reflect.ValueOf(func(name string) *flag.Flag { return fs().Lookup(name) }),
		"Visit":         reflect.ValueOf(func(f func(*flag.Flag)) { fs().Visit(f) }),
		"VisitAll":      reflect.ValueOf(func(f func(*flag.Flag)) { fs().VisitAll(f) }),
		"PrintDefaults": reflect.ValueOf(func() { fs().PrintDefaults() }),
		"Var":           reflect.ValueOf(func(v flag.Value, name, usage string) { define(name).Var(v, name, usage) }),
		"Func":          reflect.ValueOf(func(name, usage string, fn func(string) error) { define(name).Func(name, usage, fn) }),
		"BoolFunc":      reflect.ValueOf(func(name, usage string, fn func(string) error) { define(name).BoolFunc(name, usage, fn) }),
		"TextVar": reflect.ValueOf(func(p encoding.TextUnmarshaler, name string, value encoding.TextMarshaler, usage string) {
			define(name).TextVar(p, name, value, usage)
		}),
		"String":    reflect.ValueOf(func(name, value, usage string) *string { return define(name).String(name, value, usage) }),
		"StringVar": reflect.ValueOf(func(p *string, name, value, usage string) { define(name).StringVar(p, name, value, usage) }),
		"Bool":      reflect.ValueOf(func(name string, value bool, usage string) *bool { return define(name).Bool(name, value, usage) }),
		"BoolVar":   reflect.ValueOf(func(p *bool, name string, value bool, usage string) { define(name).BoolVar(p, name, value, usage) }),
		"Int":       reflect.ValueOf(func(name string, value int, usage string) *int { return define(name).Int(name, value, usage) }),
		"IntVar":    reflect.ValueOf(func(p *int, name string, value int, usage string) { define(name).IntVar(p, name, value, usage) }),
		"Int64":     reflect.ValueOf(func(name string, value int64, usage string) *int64 { return define(name).Int64(name, value, usage) }),
		"Int64Var":  reflect.ValueOf(func(p *int64, name string, value int64, usage string) { define(name).Int64Var(p, name, value, usage) }),
		"Uint":      reflect.ValueOf(func(name string, value uint, usage string) *uint { return define(name).Uint(name, value, usage) }),
		"UintVar":   reflect.ValueOf(func(p *uint, name string, value uint, usage string) { define(name).UintVar(p, name, value, usage) }),
		"Uint64":    reflect.ValueOf(func(name string, value uint64, usage string) *uint64 { return define(name).Uint64(name, value, usage) }),
		"Uint64Var": reflect.ValueOf(func(p *uint64, name string, value uint64, usage string) {
			define(name).Uint64Var(p, name, value, usage)
		}),
		"Float64": reflect.ValueOf(func(name string, value float64, usage string) *float64 {
			return define(name).Float64(name, value, usage)
		}),
		"Float64Var": reflect.ValueOf(func(p *float64, name string, value float64, usage string) {
			define(name).Float64Var(p, name, value, usage)
		}),
		"Duration": reflect.ValueOf(func(name string, value time.Duration, usage string) *time.Duration {
			return define(name).Duration(name, value, usage)
		}),
		"DurationVar": reflect.ValueOf(func(p *time.Duration, name string, value time.Duration, usage string) {
			define(name).DurationVar(p, name, value, usage)
		}),
	}
}

// newFlagSet installs a fresh flag set for a run with the given os.Args.
func (in *Interpreter) newFlagSet(args []string, out io.Writer) {
	name := "script"
	if len(args) > 0 {
		name = args[0]
	}
	in.osArgs = args
	in.flagsAtParse = nil
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	in.flagUsage = func() {
		_, _ = io.WriteString(fs.Output(), "Usage of "+fs.Name()+":\n")
		fs.PrintDefaults()
	}
	fs.Usage = func() {
		if in.flagUsage != nil {
			in.flagUsage()
		}
	}
	in.flagSet = fs
}

// SetArgs gives REPL and notebook input a new command line: os.Args and a
// fresh flag set, so a loaded script can define its flags again and parse
// these arguments.
func (in *Interpreter) SetArgs(args []string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.opts.Args = append([]string(nil), args...)
	in.newFlagSet(in.opts.Args, &in.stderr)
}
