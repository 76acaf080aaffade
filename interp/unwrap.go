package interp

import (
	"reflect"
	"unsafe"
)

// yaegiInterp is the package of the type yaegi v0.16.1 keeps a script
// value with methods in when it is stored in an interface (its unexported
// interp.valueInterface{node *node; value reflect.Value}).
const yaegiInterp = "github.com/traefik/yaegi/interp"

// unwrapValue returns the value yaegi's interface wrapper holds, or v
// itself: host code (fmt, json) saw the wrapper's fields, so a script
// struct in an any printed as {0xc000... {0xc000... 409}}. The wrapper's
// value field is unexported: it is read through a copy's address. The
// layout is checked by TestPrintScriptValuesInInterfaces.
func unwrapValue(v any) any {
	for i := 0; i < 8; i++ {
		rv := reflect.ValueOf(v)
		if !rv.IsValid() || rv.Kind() != reflect.Struct || rv.Type().Name() != "valueInterface" || rv.Type().PkgPath() != yaegiInterp || rv.NumField() != 2 {
			return v
		}
		f := rv.Type().Field(1)
		if f.Type != reflect.TypeOf(reflect.Value{}) {
			return v
		}
		cp := reflect.New(rv.Type()).Elem()
		cp.Set(rv)
		inner := *(*reflect.Value)(unsafe.Pointer(cp.Field(1).UnsafeAddr()))
		if !inner.IsValid() || !inner.CanInterface() {
			return v
		}
		v = inner.Interface()
	}
	return v
}
