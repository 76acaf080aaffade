//go:build race

package interp

// raceEnabled: the test binary runs under the race detector.
const raceEnabled = true
