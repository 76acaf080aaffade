package hub

import (
	"os"
	"path/filepath"
	"strings"
)

// DefaultEndpoint is the Hugging Face Hub.
const DefaultEndpoint = "https://huggingface.co"

// DefaultFiles are the files Resolve fetches when Options.Files is empty.
var DefaultFiles = []string{"config.json", "model.safetensors"}

// CacheDir returns the Hugging Face hub cache folder the way huggingface_hub
// finds it: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE (legacy), else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub. A leading ~ is expanded.
func CacheDir() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("HUGGINGFACE_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	return filepath.Join(hfHome(), "hub")
}

// hfHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface.
func hfHome() string {
	if d := os.Getenv("HF_HOME"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(expandHome(d), "huggingface")
	}
	return filepath.Join(expandHome("~"), ".cache", "huggingface")
}

// Endpoint returns $HF_ENDPOINT without a trailing slash, else
// DefaultEndpoint.
func Endpoint() string {
	if e := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/"); e != "" {
		return e
	}
	return DefaultEndpoint
}

// Token returns the access token as huggingface_hub finds it: $HF_TOKEN,
// else $HUGGING_FACE_HUB_TOKEN (legacy), else the file $HF_TOKEN_PATH
// (default $HF_HOME/token) written by `huggingface-cli login`. Empty when
// there is none.
func Token() string {
	for _, v := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(v)); t != "" {
			return t
		}
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path == "" {
		path = filepath.Join(hfHome(), "token")
	}
	b, err := os.ReadFile(expandHome(path))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// OfflineEnv reports whether $HF_HUB_OFFLINE is set to 1, true, yes or on
// (any case).
func OfflineEnv() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("HF_HUB_OFFLINE"))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return p
	}
	return filepath.Join(home, p[1:])
}
