//go:build race

package engine

// raceEnabled: the race detector is on (its slowdown starves the shards).
const raceEnabled = true
