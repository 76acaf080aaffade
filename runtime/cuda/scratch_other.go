//go:build !unix

package cuda

func newScratch() *scratch { return newPinnedScratch() }
