//go:build amd64 || arm64

package nnscope

// getg returns the running goroutine's runtime g pointer, which identifies
// it while it runs (passes_*.s): a few instructions, where reading the id
// from runtime.Stack walks the whole stack (tens of microseconds under the
// interpreter, on every module access).
func getg() uintptr

func goroutineID() uintptr { return getg() }
