package testseed

import (
	"testing"
)

func TestSeedFromEnvironment(t *testing.T) {
	t.Setenv(Env, "12345")
	if got := Seed(t); got != 12345 {
		t.Fatalf("Seed = %d; want 12345 from %s", got, Env)
	}
}

func TestSeedDiffersWithout(t *testing.T) {
	t.Setenv(Env, "")
	seen := map[uint64]bool{}
	for range 4 {
		seen[Seed(t)] = true
	}
	if len(seen) < 2 {
		t.Fatalf("4 seeds drawn, %d distinct; want them to differ", len(seen))
	}
}
