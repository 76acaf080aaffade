//go:build !amd64 && !arm64

package nnscope

func goroutineID() uintptr { return uintptr(goid()) }
