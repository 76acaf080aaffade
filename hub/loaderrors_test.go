package hub

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnreachableHub: a model that is not cached and a Hub that cannot be
// reached fail fast with a message about the network and HF_HUB_OFFLINE.
func TestUnreachableHub(t *testing.T) {
	cleanEnv(t)
	// A listener that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	cases := []struct {
		name, endpoint, etag string
		want                 []string
	}{
		{"refused", "http://127.0.0.1:1", "", []string{"refused"}},
		{"silent", "http://" + ln.Addr().String(), "0.2", []string{"no answer within 200ms", "HF_HUB_ETAG_TIMEOUT"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("HF_HUB_ETAG_TIMEOUT", c.etag)
			start := time.Now()
			_, err := Resolve(context.Background(), "org/tiny", Options{Endpoint: c.endpoint, CacheDir: t.TempDir()})
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			var ne *NetworkError
			if !errors.As(err, &ne) {
				t.Fatalf("got %T %v, want a *NetworkError", err, err)
			}
			for _, s := range append(c.want, `"org/tiny"`, "not (fully) in the cache", "config.json", c.endpoint, "HF_HUB_OFFLINE=1", "local model folder") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q lacks %q", err, s)
				}
			}
		})
	}
}

func TestEtagTimeoutEnv(t *testing.T) {
	for _, c := range []struct {
		env  string
		want time.Duration
	}{{"", headTimeout}, {"2.5", 2500 * time.Millisecond}, {"x", headTimeout}, {"-1", headTimeout}, {"1e300", headTimeout}} {
		t.Setenv("HF_HUB_ETAG_TIMEOUT", c.env)
		if got := etagTimeout(); got != c.want {
			t.Errorf("%q: %v, want %v", c.env, got, c.want)
		}
	}
}

// TestOfflineCacheHints: a cache with a snapshot but a missing or corrupt
// refs/main says so and names the snapshot to use.
func TestOfflineCacheHints(t *testing.T) {
	cleanEnv(t)
	const commit = "0123456789abcdef0123456789abcdef01234567"
	cases := []struct {
		name string
		ref  *string
		want []string
	}{
		{"no ref", nil, []string{filepath.Join("refs", "main") + " (no such ref)"}},
		{"garbage ref", ptr("not-a-hash\n"), []string{`holds "not-a-hash", not a 40-hex-digit commit hash`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cache := t.TempDir()
			repo := filepath.Join(cache, "models--org--tiny")
			snap := filepath.Join(repo, "snapshots", commit)
			os.MkdirAll(snap, 0o755)
			for _, f := range DefaultFiles {
				b, _ := os.ReadFile(filepath.Join(fixtureDir, f))
				os.WriteFile(filepath.Join(snap, f), b, 0o644)
			}
			if c.ref != nil {
				os.MkdirAll(filepath.Join(repo, "refs"), 0o755)
				os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(*c.ref), 0o644)
			}
			_, err := Resolve(context.Background(), "org/tiny", Options{Offline: true, CacheDir: cache})
			var me *MissingError
			if !errors.Is(err, ErrNotCached) || !errors.As(err, &me) || len(me.Files) != 2 {
				t.Fatalf("got %v", err)
			}
			for _, s := range append(c.want, "org/tiny@"+commit) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q lacks %q", err, s)
				}
			}
			// The hint works.
			if d, err := Resolve(context.Background(), "org/tiny@"+commit, Options{Offline: true, CacheDir: cache}); err != nil || d != snap {
				t.Errorf("org/tiny@%s: %s %v", commit, d, err)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestLocalFolderMissingError: the missing files are reported as data, so
// callers can look for alternatives (a sharded checkpoint).
func TestLocalFolderMissingError(t *testing.T) {
	tmp := t.TempDir()
	os.WriteFile(filepath.Join(tmp, "config.json"), []byte("{}"), 0o644)
	_, err := Resolve(context.Background(), tmp, Options{})
	var me *MissingError
	if !errors.As(err, &me) || !errors.Is(err, ErrNotFound) || len(me.Files) != 1 || me.Files[0] != "model.safetensors" {
		t.Fatalf("got %v", err)
	}
}
