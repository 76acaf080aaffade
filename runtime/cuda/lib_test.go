package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nnscope/runtime/cuda/fakecuda"
)

// TestOpenWithoutGPU checks that Open fails cleanly (no panic) where there
// is no driver or GPU, and succeeds where there is one.
func TestOpenWithoutGPU(t *testing.T) {
	d, err := Open()
	if err == nil {
		t.Logf("GPU present: %v", d)
		d.Close()
		return
	}
	t.Logf("Open: %v", err)
	if err.Error() == "" {
		t.Fatal("empty error")
	}
	if errors.Is(err, ErrNoDriver) && !strings.Contains(err.Error(), "libcuda.so.1") {
		t.Errorf("driver error does not name libcuda.so.1: %v", err)
	}
	if msg := skipMessage(err); !strings.Contains(msg, "no GPU") {
		t.Errorf("skip message %q", msg)
	}
}

func TestSearchDirs(t *testing.T) {
	env := map[string]string{
		"NNSCOPE_CUDA_LIB": "/opt/a:/opt/b",
		"CUDA_HOME":        "/cuda",
		"LD_LIBRARY_PATH":  "/ld1:/usr/local/cuda/lib64",
		"HOME":             "/home/u",
	}
	glob := func(p string) ([]string, error) {
		if p == "/usr/local/lib/python3*/dist-packages" {
			return []string{"/usr/local/lib/python3.11/dist-packages", "/usr/local/lib/python3.12/dist-packages"}, nil
		}
		return nil, nil
	}
	dirs := searchDirs(func(k string) string { return env[k] }, glob)
	idx := func(d string) int {
		for i, x := range dirs {
			if x == d {
				return i
			}
		}
		t.Fatalf("%s not searched: %v", d, dirs)
		return -1
	}
	order := []string{"/opt/a", "/opt/b", "/cuda/lib64", "/usr/local/cuda/lib64", "/ld1",
		"/usr/local/lib/python3.12/dist-packages/nvidia/cu13/lib",
		"/usr/local/lib/python3.12/dist-packages/nvidia/cu12/lib",
		"/usr/local/lib/python3.11/dist-packages/nvidia/cu13/lib"}
	for i := 1; i < len(order); i++ {
		if idx(order[i-1]) >= idx(order[i]) {
			t.Errorf("%s should come before %s: %v", order[i-1], order[i], dirs)
		}
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] {
			t.Errorf("duplicate %s", d)
		}
		seen[d] = true
	}
	idx("/usr/local/lib/python3.12/dist-packages/nvidia/cuda_nvrtc/lib")
	idx("/usr/local/lib/python3.12/dist-packages/nvidia/cublas/lib")
}

func TestCandidatePaths(t *testing.T) {
	have := map[string]bool{"/b/libnvrtc.so.12": true, "/a/libnvrtc.so.13": true, "/b/libnvrtc.so.13": true}
	got := candidatePaths(nvrtcNames, []string{"/a", "/b"}, func(p string) bool { return have[p] })
	want := []string{"/a/libnvrtc.so.13", "/b/libnvrtc.so.13", "libnvrtc.so.13", "/b/libnvrtc.so.12", "libnvrtc.so.12", "libnvrtc.so"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestOpenLibraryMissing(t *testing.T) {
	_, err := openLibrary("a test library", []string{"libnnscope-does-not-exist.so.7"}, []string{t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "a test library not found") ||
		!strings.Contains(err.Error(), "libnnscope-does-not-exist.so.7") {
		t.Fatalf("error %v", err)
	}
	// A file that exists but is not a library is reported with its failure.
	dir := t.TempDir()
	bad := filepath.Join(dir, "libnnscope-bad.so.1")
	if err := writeFile(bad, "not an ELF file"); err != nil {
		t.Fatal(err)
	}
	_, err = openLibrary("bad", []string{"libnnscope-bad.so.1"}, []string{dir})
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error %v does not name %s", err, bad)
	}
}

func TestErrorMessages(t *testing.T) {
	e := &Error{Lib: "cuda", Call: "cuMemAlloc_v2", Code: 2, Name: "CUDA_ERROR_OUT_OF_MEMORY"}
	if !IsOutOfMemory(e) || !IsOutOfMemory(wrapf(e)) {
		t.Error("IsOutOfMemory")
	}
	if IsOutOfMemory(&Error{Lib: "cublas", Code: 2}) || IsOutOfMemory(errors.New("x")) || IsOutOfMemory(nil) {
		t.Error("IsOutOfMemory false positive")
	}
	if !strings.Contains(e.Error(), "cuMemAlloc_v2") || !strings.Contains(e.Error(), "OUT_OF_MEMORY") {
		t.Error(e.Error())
	}
	if s := (&Error{Lib: "nvrtc", Call: "nvrtcCompileProgram", Code: 6}).Error(); !strings.Contains(s, "nvrtc status 6") {
		t.Error(s)
	}
}

func TestSonameMajor(t *testing.T) {
	for name, want := range map[string]int{"libcublas.so.13": 13, "libnvrtc.so.11.2": 11, "libcublas.so": 0,
		"libnvrtc-builtins.so.13.0.88": 13, "libcuda.so.1": 1, "libx.so.a1": 0} {
		if got := sonameMajor(name); got != want {
			t.Errorf("sonameMajor(%q) = %d, want %d", name, got, want)
		}
	}
	if got := cublasLtName("libcublas.so.12"); got != "libcublasLt.so.12" {
		t.Errorf("cublasLtName: %s", got)
	}
}

// TestNamesForDriver: a CUDA 12 driver gets the CUDA 12 libraries first
// (a CUDA 13 library needs driver 580, CUDA 13.0, or newer), a CUDA 13
// driver the newest.
func TestNamesForDriver(t *testing.T) {
	for _, c := range []struct {
		driver int
		names  []string
		want   string
	}{
		{13000, cublasNames, "libcublas.so.13,libcublas.so.12,libcublas.so"},
		{13010, nvrtcNames, "libnvrtc.so.13,libnvrtc.so.12,libnvrtc.so"},
		{12080, cublasNames, "libcublas.so.12,libcublas.so,libcublas.so.13"},
		{12040, nvrtcNames, "libnvrtc.so.12,libnvrtc.so,libnvrtc.so.13"},
		{0, nvrtcNames, "libnvrtc.so.13,libnvrtc.so.12,libnvrtc.so"},
	} {
		if got := strings.Join(namesForDriver(c.names, c.driver), ","); got != c.want {
			t.Errorf("driver %d: %s, want %s", c.driver, got, c.want)
		}
	}
}

// TestFakeCUDALibraryDependencies runs TestFakeLibraryDependenciesChild on
// fakecuda, whose libcublas.so.13 needs libcublasLt.so.13 and whose NVRTC
// opens libnvrtc-builtins.so.13.0 by soname, as the real ones do, from a
// folder that is not on the loader's path.
func TestFakeCUDALibraryDependencies(t *testing.T) {
	fakecuda.Run(t, "^TestFakeLibraryDependenciesChild$")
}

func TestFakeLibraryDependenciesChild(t *testing.T) {
	if os.Getenv(fakecuda.EnvChild) == "" {
		t.Skip("runs on fakecuda, from TestFakeCUDALibraryDependencies")
	}
	dirs := filepath.SplitList(os.Getenv("NNSCOPE_CUDA_LIB"))
	if _, err := loadDriver(dirs); err != nil {
		t.Fatal(err)
	}
	// The fake is as strict as a real installation: cuBLAS opened alone
	// fails on its cuBLASLt, NVRTC compiles fail without their builtins.
	if _, err := openLibrary("cuBLAS", cublasNames[:1], dirs); err == nil || !strings.Contains(err.Error(), "libcublasLt.so.13") {
		t.Fatalf("cuBLAS loaded without its cuBLASLt (err %v): the fake does not check what it should", err)
	}
	lib, err := openLibrary("NVRTC", nvrtcNames[:1], dirs)
	if err != nil {
		t.Fatal(err)
	}
	n, err := bindNVRTC(lib)
	if err != nil {
		t.Fatal(err)
	}
	const src = `extern "C" __global__ void k(float* x) { x[0] = 1.0f; }`
	opts := targetOptions("sm_90")
	if _, _, err := n.compileCUBIN(src, "k.cu", opts); err == nil || !strings.Contains(err.Error(), "BUILTIN") {
		t.Fatalf("NVRTC compiled without its builtins library (err %v): the fake does not check what it should", err)
	}
	// What Open does loads both.
	if _, err := loadCUBLAS(dirs, 13000); err != nil {
		t.Fatalf("loadCUBLAS: %v", err)
	}
	if n, err = loadNVRTC(dirs, 13000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.compileCUBIN(src, "k.cu", opts); err != nil {
		t.Fatalf("NVRTC with its builtins preloaded: %v", err)
	}
}
