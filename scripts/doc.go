// Package scripts holds the example intervention scripts. Each is a
// `//go:build ignore` main package, run with `nnscope run FILE.go` (or
// compiled with `go run FILE.go`); the package itself only holds the tests
// that run them through the interpreter.
package scripts
