// Package fakecuda builds a host-CPU stand-in for the NVIDIA driver, NVRTC
// and cuBLAS (fakecuda.cc, shim.h) so that the real GPU backend,
// runtime/cuda, can be tested end to end on machines without a GPU: the
// purego bindings, argument packing, the allocator, and every kernel
// compiled from kernels/*.cu and run with real barriers and warp shuffles.
// It needs g++ at build time and when the kernels are "compiled".
//
// The fake GPU is compute capability 9.0, or FAKECUDA_CC ("12.0"), and
// its NVRTC knows NVRTC 13.0's architectures, or FAKECUDA_NVRTC_ARCHS
// ("75,80,86,89,90"), so that a GPU newer than NVRTC (kernels as PTX for
// the driver's JIT) and one older than it can be tested (fakecuda.cc).
//
// Tests use Run: it re-runs the chosen tests of the current test binary in
// a child process whose library search finds the fake first. It skips where
// a real GPU is under test (NNSCOPE_REQUIRE_GPU set).
package fakecuda

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed csrc/fakecuda.cc
var driverSource []byte

//go:embed csrc/shim.h
var shimSource []byte

// EnvChild is set in the child process Run starts.
const EnvChild = "NNSCOPE_FAKECUDA"

// Build compiles the fake libraries into dir: libfakecuda.so (soname
// libcuda.so.1) under the names runtime/cuda looks for the driver and
// NVRTC (libcuda.so.1, libnvrtc.so.13), and shim.h beside them. As in a
// real CUDA 13 installation, libcublas.so.13 is a library of its own that
// needs (DT_NEEDED, no RUNPATH) libcublasLt.so.13, and NVRTC opens
// libnvrtc-builtins.so.13.0 by soname at each compile; both are in dir,
// which the tests keep off the loader's path, so runtime/cuda must load
// them from there first as it must on a GPU machine. The cuBLAS entry
// points live in libfakecuda.so (libcublas.so.13's other dependency),
// which shares the driver's state; dlsym on libcublas.so.13 finds them
// there.
func Build(dir string) error {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		return fmt.Errorf("fakecuda: no g++ to build the fake CUDA libraries: %w", err)
	}
	src := filepath.Join(dir, "fakecuda.cc")
	if err := os.WriteFile(src, driverSource, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "shim.h"), shimSource, 0o644); err != nil {
		return err
	}
	stub := filepath.Join(dir, "stub.cc")
	if err := os.WriteFile(stub, []byte("extern \"C\" int fakecuda_stub(void) { return 1; }\n"), 0o644); err != nil {
		return err
	}
	lib := filepath.Join(dir, "libfakecuda.so")
	gcc := func(args ...string) error {
		out, err := exec.Command(gxx, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("fakecuda: g++ %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := gcc("-std=c++17", "-O2", "-fPIC", "-shared", "-Wall", "-Wl,-soname,libcuda.so.1", "-o", lib, src, "-ldl"); err != nil {
		return err
	}
	for _, so := range []string{"libcublasLt.so.13", "libnvrtc-builtins.so.13.0"} {
		if err := gcc("-fPIC", "-shared", "-Wl,-soname,"+so, "-o", filepath.Join(dir, so), stub); err != nil {
			return err
		}
	}
	if err := gcc("-fPIC", "-shared", "-Wl,-soname,libcublas.so.13", "-o", filepath.Join(dir, "libcublas.so.13"), stub,
		"-Wl,--no-as-needed", filepath.Join(dir, "libcublasLt.so.13"), lib); err != nil {
		return err
	}
	for _, name := range []string{"libcuda.so.1", "libnvrtc.so.13"} {
		if err := os.Symlink("libfakecuda.so", filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

var (
	buildOnce sync.Once
	libDir    string
	buildErr  error
)

// Run re-runs the tests matching pattern in a child process of the test
// binary, with the fake CUDA libraries first in runtime/cuda's library
// search, NNSCOPE_REQUIRE_GPU=1 (a test that cannot open the device fails),
// NNSCOPE_CUDA_POISON=1 (every allocation starts as NaNs, so a kernel that
// reads memory nobody wrote is caught even when the allocator reuses a
// block) and a fresh kernel cache. It skips without g++, and inside the child.
// env entries ("NAME=value") are added last and win.
func Run(t *testing.T, pattern string, env ...string) {
	t.Helper()
	if os.Getenv(EnvChild) != "" {
		t.Skip("already running on fakecuda")
	}
	if testing.Short() {
		t.Skip("short: the fake GPU compiles kernels with g++")
	}
	if os.Getenv("NNSCOPE_REQUIRE_GPU") != "" {
		t.Skip("NNSCOPE_REQUIRE_GPU is set: the real GPU is under test")
	}
	buildOnce.Do(func() {
		libDir, buildErr = os.MkdirTemp("", "fakecuda-lib-")
		if buildErr == nil {
			buildErr = Build(libDir)
		}
	})
	if errors.Is(buildErr, exec.ErrNotFound) {
		t.Skipf("no g++ here: the GPU backend is not run on the fake GPU (%v)", buildErr)
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	cache := t.TempDir()
	// The child stops before this test's deadline: when go test's timeout
	// panics the parent, a child still running would be left behind,
	// burning CPU, and its output lost.
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-10*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", pattern, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), EnvChild+"=1", "NNSCOPE_REQUIRE_GPU=1", "NNSCOPE_CUDA_POISON=1", "NNSCOPE_CUDA_LIB="+libDir,
		"NNSCOPE_CUDA_CACHE="+cache, "NNSCOPE_CUDA_DEVICE=")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	var summary []string
	for _, l := range strings.Split(out.String(), "\n") {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "--- ") || strings.HasPrefix(s, "fakecuda:") {
			summary = append(summary, l)
		}
	}
	t.Logf("on fakecuda (%.1fs):\n%s", time.Since(start).Seconds(), strings.Join(summary, "\n"))
	if ctx.Err() != nil {
		t.Fatalf("tests %s on fakecuda stopped at the test's deadline after %.0fs (go test -timeout):\n%s", pattern, time.Since(start).Seconds(), out.String())
	}
	if err != nil {
		t.Fatalf("tests %s failed on fakecuda: %v\n%s", pattern, err, out.String())
	}
	if !strings.Contains(out.String(), "--- PASS") {
		t.Fatalf("no test matching %s ran on fakecuda:\n%s", pattern, out.String())
	}
}
