package cuda

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
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
