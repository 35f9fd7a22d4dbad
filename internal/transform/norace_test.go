//go:build !race

package transform

// raceEnabled: the race detector slows the randomized tests tenfold.
const raceEnabled = false
