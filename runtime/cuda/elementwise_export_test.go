package cuda

// SetGridCap sets the most blocks a 1-d launch gets (gridFor), so that a
// test runs the kernels' grid-stride loops over several steps; the
// returned func restores the cap.
func SetGridCap(blocks int) (restore func()) {
	old := gridCap
	gridCap = blocks
	return func() { gridCap = old }
}

// BroadcastShapes is broadcastShapes, for the kernel tests' references.
func BroadcastShapes(a, b []int) ([]int, bool) { return broadcastShapes(a, b) }
