package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOfflineErrorSaysWhatToDo: a model id that is not in the cache while
// offline gets an error saying how to get it, and, for "gpt2" when the
// cache holds "openai-community/gpt2" (the id the Hub redirects it to),
// which id the cache has.
func TestOfflineErrorSaysWhatToDo(t *testing.T) {
	home := cleanEnv(t)
	cache := filepath.Join(home, "hf", "hub")
	snap := filepath.Join(cache, "models--openai-community--gpt2", "snapshots", strings.Repeat("ab", 20))
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	_, err := Resolve(context.Background(), "gpt2", Options{})
	var me *MissingError
	if !errors.Is(err, ErrNotCached) || !errors.As(err, &me) {
		t.Fatalf("offline, not cached: %v", err)
	}
	for _, s := range []string{"unset HF_HUB_OFFLINE", "huggingface-cli download gpt2", "local model folder", "the cache has openai-community/gpt2 (did you mean that id?)"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
	_, err = Resolve(context.Background(), "someone/else", Options{})
	if err == nil || strings.Contains(err.Error(), "did you mean") || !strings.Contains(err.Error(), "huggingface-cli download someone/else") {
		t.Errorf("another id: %v", err)
	}
}
