package cuda

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"nnscope/runtime/cuda/fakecuda"
)

func TestCacheKey(t *testing.T) {
	base := cacheKey("src", "sm_90", 13000, "13.0", []string{"--gpu-architecture=sm_90"})
	for name, k := range map[string]string{
		"source": cacheKey("src2", "sm_90", 13000, "13.0", []string{"--gpu-architecture=sm_90"}),
		"arch":   cacheKey("src", "sm_80", 13000, "13.0", []string{"--gpu-architecture=sm_90"}),
		"driver": cacheKey("src", "sm_90", 12040, "13.0", []string{"--gpu-architecture=sm_90"}),
		"nvrtc":  cacheKey("src", "sm_90", 13000, "12.4", []string{"--gpu-architecture=sm_90"}),
		"opts":   cacheKey("src", "sm_90", 13000, "13.0", []string{"--gpu-architecture=sm_90", "-G"}),
	} {
		if k == base {
			t.Errorf("key does not change with the %s", name)
		}
	}
	if base != cacheKey("src", "sm_90", 13000, "13.0", []string{"--gpu-architecture=sm_90"}) {
		t.Error("key not deterministic")
	}
	// Field boundaries matter: ("ab","c") != ("a","bc").
	if cacheKey("c", "sm_9ab", 1, "x", nil) == cacheKey("abc", "sm_9", 1, "x", nil) {
		t.Error("ambiguous key")
	}
}

func TestKernelCacheRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "cuda")
	calls := 0
	fake := func(src string, opts []string) ([]byte, error) {
		calls++
		return append([]byte("\x7fELF"), []byte(src+"|"+opts[0])...), nil
	}
	c := &kernelCache{dir: dir, compile: fake, driver: 13000, nvrtc: "13.0"}
	arch := "sm_90"
	opts := targetOptions(arch)
	if opts[0] != "--gpu-architecture=sm_90" {
		t.Fatalf("targetOptions: %v", opts)
	}
	b1, hit, err := c.get("kernel A", arch, opts)
	if err != nil || hit || calls != 1 {
		t.Fatalf("first get: %v hit=%v calls=%d", err, hit, calls)
	}
	b2, hit, err := c.get("kernel A", arch, opts)
	if err != nil || !hit || calls != 1 || string(b1) != string(b2) {
		t.Fatalf("second get: %v hit=%v calls=%d", err, hit, calls)
	}
	// A fresh cache over the same folder (a new process) hits too.
	c2 := &kernelCache{dir: dir, compile: fake, driver: 13000, nvrtc: "13.0"}
	if _, hit, _ := c2.get("kernel A", arch, opts); !hit || calls != 1 {
		t.Fatal("disk cache not shared")
	}
	// Any change of source, arch, driver misses.
	if _, hit, _ := c.get("kernel B", arch, opts); hit || calls != 2 {
		t.Fatal("new source hit")
	}
	arch8, opts8 := "sm_80", targetOptions("sm_80")
	if _, hit, _ := c.get("kernel A", arch8, opts8); hit || calls != 3 {
		t.Fatal("new arch hit")
	}
	c3 := &kernelCache{dir: dir, compile: fake, driver: 13010, nvrtc: "13.0"}
	if _, hit, _ := c3.get("kernel A", arch, opts); hit || calls != 4 {
		t.Fatal("new driver hit")
	}
	// A corrupt entry is recompiled and replaced.
	files, _ := filepath.Glob(filepath.Join(dir, "sm_90-*.cubin"))
	if len(files) != 3 {
		t.Fatalf("cache files %v", files)
	}
	for _, f := range files {
		os.WriteFile(f, []byte("garbage"), 0o644)
	}
	if _, hit, _ := c.get("kernel A", arch, opts); hit || calls != 5 {
		t.Fatal("corrupt entry used")
	}
	if _, hit, _ := c.get("kernel A", arch, opts); !hit || calls != 5 {
		t.Fatal("corrupt entry not replaced")
	}
	// No folder: compile every time, no error.
	c4 := &kernelCache{compile: fake}
	c4.get("x", arch, opts)
	if _, hit, err := c4.get("x", arch, opts); hit || err != nil || calls != 7 {
		t.Fatal("cache without folder")
	}
}

func TestDefaultCacheDir(t *testing.T) {
	env := map[string]string{"HOME": "/h"}
	get := func(k string) string { return env[k] }
	if d := defaultCacheDir(get); d != "/h/.cache/nnscope/cuda" {
		t.Error(d)
	}
	env["XDG_CACHE_HOME"] = "/x"
	if d := defaultCacheDir(get); d != "/x/nnscope/cuda" {
		t.Error(d)
	}
	env["NNSCOPE_CUDA_CACHE"] = "/c"
	if d := defaultCacheDir(get); d != "/c" {
		t.Error(d)
	}
	env["NNSCOPE_CUDA_CACHE"] = "off"
	if d := defaultCacheDir(get); d != "" {
		t.Error(d)
	}
}

// TestFakeCUDARejectedCacheEntry runs TestRejectedCacheEntryChild on
// fakecuda.
func TestFakeCUDARejectedCacheEntry(t *testing.T) {
	fakecuda.Run(t, "^TestRejectedCacheEntryChild$")
}

// TestRejectedCacheEntryChild: a cached CUBIN that the driver will not load
// (damaged, or another compiler's under the same key) is compiled afresh
// and replaced, instead of failing every kernel until the file is removed.
func TestRejectedCacheEntryChild(t *testing.T) {
	if os.Getenv(fakecuda.EnvChild) == "" {
		t.Skip("runs on fakecuda, from TestFakeCUDARejectedCacheEntry")
	}
	src, err := kernelSource()
	if err != nil {
		t.Fatal(err)
	}
	arch := "sm_90" // what fakecuda reports
	opts := targetOptions(arch)
	c := kernelCache{dir: defaultCacheDir(os.Getenv), driver: 13000, nvrtc: "13.0"}
	path := c.path(src, arch, opts)
	if path == "" {
		t.Fatal("no kernel cache folder")
	}
	// An ELF header with nothing behind it: it passes isELF, no driver loads it.
	bad := make([]byte, 64)
	copy(bad, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint64(bad[0x28:], 64) // e_shoff: no sections
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ci, err := d.Compile()
	if err != nil {
		t.Fatalf("a rejected cache entry is not recompiled: %v", err)
	}
	if ci.CacheHit {
		t.Errorf("Compile reports a cache hit: %+v", ci)
	}
	if b, err := os.ReadFile(path); err != nil || bytes.Equal(b, bad) {
		t.Errorf("the rejected cache entry was not replaced (%v)", err)
	}
}
