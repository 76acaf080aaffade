package repl

import (
	"fmt"
	"reflect"
)

// formatValue renders the value of an expression typed at the prompt:
// values with a String method (tensors print their shape and values,
// models their module tree) use it, errors their message, strings are
// quoted, anything else prints like fmt's %v. It never panics: a String
// method that panics (say on a nil pointer) falls back to %v.
func formatValue(v reflect.Value) (s string) {
	if !v.IsValid() {
		return "nil"
	}
	for v.Kind() == reflect.Interface {
		if v.IsNil() {
			return "nil"
		}
		v = v.Elem()
	}
	if !v.CanInterface() {
		return fmt.Sprintf("%v", v)
	}
	x := v.Interface()
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("%v", v)
		}
	}()
	switch x := x.(type) {
	case nil:
		return "nil"
	case string:
		return fmt.Sprintf("%q", x)
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprintf("%v", x)
}
