// Package testseed gives randomized tests a seed they log and can be
// replayed from. A test that draws its own randomness takes Seed(t): a
// fresh random seed each run, or the one in MAD_TEST_SEED, so that a
// failure is replayed with
//
//	MAD_TEST_SEED=<seed> go test -run '<test>' <package>
//
// Only tests import it.
package testseed

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// Env is the environment variable that fixes the seed.
const Env = "MAD_TEST_SEED"

// Seed returns the seed of this run of t and logs it with how to replay it.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv(Env); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: not a seed: %v", Env, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay: %s=%d go test -run '^%s$')", seed, Env, seed, t.Name())
	return seed
}
