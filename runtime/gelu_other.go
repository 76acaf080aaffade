//go:build !amd64 || purego

package runtime

func geluBlock(o, x []float32) { geluScalar(o, x) }

func geluGradBlock(gi, g, x []float32) { geluGradScalar(gi, g, x) }
