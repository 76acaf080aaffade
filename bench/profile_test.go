package bench

import (
	"os"
	"testing"
)

func TestProfileSeed(t *testing.T) {
	if os.Getenv("NNSCOPE_PROFILE") == "" {
		t.Skip("set NNSCOPE_PROFILE=1 to run")
	}
	Run(Options{Only: []string{os.Getenv("NNSCOPE_PROFILE")}, Repeats: 30, Out: os.Stdout})
}
