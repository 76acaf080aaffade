package runtime

import (
	"testing"
)

// FuzzSlice: any index string either selects a view whose elements are
// readable, or fails with the engine's error (never another panic).
func FuzzSlice(f *testing.F) {
	for _, s := range []string{":, -1, :", "0", "..., ::2", "1:-1:3", "None, 0", "::-1", "-2::-2, 1", "a", ",,", "1:2:3:4"} {
		f.Add(s)
	}
	x := Arange(60).Reshape(3, 4, 5)
	f.Fuzz(func(t *testing.T, spec string) {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(*Error); !ok {
					t.Fatalf("Slice(%q) panicked with %T: %v", spec, r, r)
				}
			}
		}()
		v := x.Slice(spec)
		for _, d := range v.Data() {
			if d < 0 || d >= 60 {
				t.Fatalf("Slice(%q) read %v outside the tensor", spec, d)
			}
		}
	})
}
