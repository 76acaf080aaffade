package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"nnscope/kernel"
	"nnscope/kernel/nneval"
)

const kernelUsage = `Usage:
  nnscope kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME] [--display-name TEXT]
      install a Jupyter kernelspec running this binary, as
      python -m ipykernel install does: in folder NAME (the kernel's id,
      default "nnscope") of the system's kernels
      (/usr/local/share/jupyter/kernels), the user's (--user), the active
      virtualenv's or conda env's (--sys-prefix) or DIR/share/jupyter/kernels
      (--prefix); Jupyter lists it as TEXT (default "Go (nnscope)")
  nnscope kernel -f CONNECTION_FILE
      serve a Jupyter kernel (Jupyter starts this from the kernelspec)
`

// kernelCmd installs or runs the Jupyter kernel.
func kernelCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "install" {
		return kernelInstall(args[1:], stdout, stderr)
	}
	fs := newFlags("kernel", "kernel -f CONNECTION_FILE", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, kernelUsage) }
	file := fs.String("f", "", "connection file written by Jupyter")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" && fs.NArg() == 1 {
		*file = fs.Arg(0)
	}
	if *file == "" || fs.NArg() > 1 {
		fs.Usage()
		return errors.New("kernel: need -f CONNECTION_FILE (or `nnscope kernel install`)")
	}
	return serveKernel(*file, stderr)
}

func kernelInstall(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("kernel install", "kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME] [--display-name TEXT]", stderr)
	user := fs.Bool("user", false, "install for the current user (the Jupyter data dir)")
	sysPrefix := fs.Bool("sys-prefix", false, "install into the active virtualenv or conda env ($VIRTUAL_ENV, else $CONDA_PREFIX), as --prefix would")
	prefix := fs.String("prefix", "", "install under `DIR`/share/jupyter/kernels (e.g. a virtualenv)")
	name := fs.String("name", kernel.KernelName, "the kernel's id and folder `NAME`: letters, digits, \"-\", \".\" and \"_\"")
	display := fs.String("display-name", "", "the name Jupyter shows, `TEXT` (default \"Go (nnscope)\")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("kernel install: unexpected argument %q", fs.Arg(0))
	}
	id, err := kernelName(*name)
	if err != nil {
		return err
	}
	if *user && (*prefix != "" || *sysPrefix) {
		// As jupyter_client: the user's data dir and a prefix are two places.
		return errors.New("kernel install: --user and --prefix (or --sys-prefix) both name where to install: give one")
	}
	if *sysPrefix {
		if *prefix != "" {
			return errors.New("kernel install: --sys-prefix and --prefix both name where to install: give one")
		}
		if *prefix = activeEnv(); *prefix == "" {
			return errors.New("kernel install: --sys-prefix: no virtualenv or conda env is active ($VIRTUAL_ENV and $CONDA_PREFIX are empty); give --prefix DIR")
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("kernel install: cannot find this binary: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return err
	}
	if *prefix != "" {
		if *prefix, err = filepath.Abs(*prefix); err != nil {
			return err
		}
	}
	dir, err := kernel.KernelSpecDir(id, *user, *prefix)
	if err != nil {
		return err
	}
	if err := kernel.InstallKernelSpec(dir, []string{exe, "kernel", "-f", "{connection_file}"}, *display); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Installed kernelspec %s in %s\n", id, dir)
	return nil
}

// kernelName checks a kernel's id as Jupyter does: ASCII letters, digits,
// "-", "." and "_", case-insensitive (Jupyter lowercases it, so the folder
// is lowercase). --name used to be the display name: a name with spaces or
// brackets says to use --display-name.
func kernelName(name string) (string, error) {
	if name == "" {
		return "", errors.New("kernel install: --name is empty; it is the kernel's id and folder name (default \"nnscope\")")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return "", fmt.Errorf("kernel install: --name %q is not a kernel name: --name is the kernel's id and folder name, "+
				"ASCII letters, digits, \"-\", \".\" and \"_\" only (%q is not one); for the name Jupyter shows, use --display-name %q", name, r, name)
		}
	}
	if name == "." || name == ".." {
		return "", fmt.Errorf("kernel install: --name %q is not a kernel name (a folder name is needed)", name)
	}
	return strings.ToLower(name), nil
}

// activeEnv is the prefix of the active Python environment, where its
// Jupyter looks for kernels (ipykernel's --sys-prefix is its sys.prefix).
func activeEnv() string {
	if v := os.Getenv("VIRTUAL_ENV"); v != "" {
		return v
	}
	return os.Getenv("CONDA_PREFIX")
}

// serveKernel runs the kernel until Jupyter shuts it down. The process's
// own stderr (weight-download progress, figure messages) is forwarded to
// the running cell's stderr stream; the kernel's log goes to the real
// stderr.
func serveKernel(file string, stderr io.Writer) error {
	logger := log.New(stderr, "nnscope kernel: ", log.LstdFlags)
	ev := nneval.New()
	realStderr := os.Stderr
	if r, w, err := os.Pipe(); err == nil {
		os.Stderr = w
		fwd := ev.HostStderr(realStderr)
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := r.Read(buf)
				if n > 0 {
					_, _ = fwd.Write(buf[:n])
				}
				if err != nil {
					return
				}
			}
		}()
		defer func() { os.Stderr = realStderr; w.Close() }()
	}
	k := kernel.New(ev, kernel.Options{
		Logger:                logger,
		Banner:                "nnscope " + version + ": look inside GPT-2 with Go-syntax intervention scripts",
		ImplementationVersion: version,
		OnReady:               func(kernel.ConnectionInfo) { go ev.Warm() },
	})
	return k.Serve(context.Background(), file)
}
