// Package display connects what scripts show (figures, progress bars) to the
// host that runs them. A notebook kernel installs a hook with SetHook and
// gets each output as MIME data; without a hook (nnscope run, the REPL)
// Active reports false and callers fall back to files and terminal output.
package display

import "sync"

// Output is one rich output: MIME type → data (e.g. "image/png" → PNG
// bytes, "text/plain" → text). ID, when set, names the output so that a
// later Output with the same ID and Update set replaces it in place.
type Output struct {
	Data   map[string][]byte
	ID     string
	Update bool
}

var (
	mu   sync.RWMutex
	hook func(Output)
)

// SetHook installs f as the receiver of outputs (nil removes it). It
// returns the previous hook.
func SetHook(f func(Output)) func(Output) {
	mu.Lock()
	defer mu.Unlock()
	old := hook
	hook = f
	return old
}

// Active reports whether a hook is installed.
func Active() bool {
	mu.RLock()
	defer mu.RUnlock()
	return hook != nil
}

// Show hands o to the hook and reports whether there was one.
func Show(o Output) bool {
	mu.RLock()
	f := hook
	mu.RUnlock()
	if f == nil {
		return false
	}
	f(o)
	return true
}
