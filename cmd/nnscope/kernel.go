package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"nnscope/kernel"
	"nnscope/kernel/nneval"
)

const kernelUsage = `Usage:
  nnscope kernel install [--user | --prefix DIR] [--name DISPLAY_NAME]
      install the Jupyter kernelspec "nnscope" (default: system-wide,
      /usr/local/share/jupyter/kernels/nnscope) running this binary
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
	fs := newFlags("kernel install", "kernel install [--user | --prefix DIR] [--name DISPLAY_NAME]", stderr)
	user := fs.Bool("user", false, "install for the current user (the Jupyter data dir)")
	prefix := fs.String("prefix", "", "install under `DIR`/share/jupyter/kernels (e.g. a virtualenv)")
	name := fs.String("name", "", "display name (default \"Go (nnscope)\")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("kernel install: unexpected argument %q", fs.Arg(0))
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
	dir, err := kernel.KernelSpecDir(*user, *prefix)
	if err != nil {
		return err
	}
	if err := kernel.InstallKernelSpec(dir, []string{exe, "kernel", "-f", "{connection_file}"}, *name); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Installed kernelspec %s in %s\n", kernel.KernelName, dir)
	return nil
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
