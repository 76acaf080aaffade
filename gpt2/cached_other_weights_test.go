package gpt2

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nnscope/hub"
	"nnscope/internal/reference"
)

// TestCachedOtherWeightsOffline: a model in the Hugging Face cache (as
// Python's from_pretrained leaves it) whose snapshot has only
// pytorch_model.bin, loaded offline, gets the conversion to run, not
// advice to download what the cache already has.
func TestCachedOtherWeightsOffline(t *testing.T) {
	cache := t.TempDir()
	const commit = "2222222222222222222222222222222222222222"
	repo := filepath.Join(cache, "models--org--pt")
	snap := filepath.Join(repo, "snapshots", commit)
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(repo, "refs"), 0o755)
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644)
	cfg, _ := os.ReadFile(filepath.Join(reference.Dir(), "config.json"))
	os.WriteFile(filepath.Join(snap, "config.json"), cfg, 0o644)
	os.WriteFile(filepath.Join(snap, "pytorch_model.bin"), []byte("x"), 0o644)
	_, err := LoadPretrained(context.Background(), "org/pt", hub.Options{CacheDir: cache, Offline: true})
	if !errors.Is(err, hub.ErrNotCached) {
		t.Fatalf("want ErrNotCached, got %v", err)
	}
	for _, s := range []string{"pytorch_model.bin", snap, `from_pretrained("org/pt").save_pretrained(DIR, safe_serialization=True)`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%v lacks %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "download") {
		t.Errorf("%v advises a download", err)
	}
}
