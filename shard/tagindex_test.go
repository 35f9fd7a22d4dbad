package shard

import (
	"math/rand/v2"
	"testing"

	"github.com/gomad/mad/internal/testseed"
)

// TestTagIndexModel inserts and deletes values against a map, with tags
// drawn from a few home slots so that runs collide, spill past the homes
// into the tail (growing the index early when they would reach its last
// slot) and are broken by backward-shift deletions; after every step each
// live value must be found by probing from its home slot, before the first
// empty entry, the last slot must be empty and the load at most three
// quarters of the homes.
func TestTagIndexModel(t *testing.T) {
	seed := testseed.Seed(t)
	r := rand.New(rand.NewPCG(seed, 2))
	x := newTagIndex()
	live := map[uint32]uint32{} // value -> tag
	var values []uint32
	found := func(tag, v uint32) bool {
		for i := x.home(tag); ; i++ {
			e := x.entries[i]
			if e == 0 {
				return false
			}
			if e.tag() == tag && e.value() == v {
				return true
			}
		}
	}
	next := uint32(0)
	for step := range 20_000 {
		if len(values) > 0 && r.IntN(5) < 2 {
			i := r.IntN(len(values))
			v := values[i]
			values[i] = values[len(values)-1]
			values = values[:len(values)-1]
			x.delete(live[v], v)
			delete(live, v)
		} else {
			// The top bits pick the home slot: a handful of homes near
			// the start and the end of the table.
			home := uint32(r.IntN(4))
			if r.IntN(2) == 0 {
				home = ^home
			}
			tag := home<<22 | uint32(r.IntN(1<<22))
			x.insert(tag, next)
			live[next] = tag
			values = append(values, next)
			next++
		}
		if x.len() != len(live) {
			t.Fatalf("step %d: len %d; want %d", step, x.len(), len(live))
		}
		checkShape(t, step, &x)
		if step%97 == 0 {
			for v, tag := range live {
				if !found(tag, v) {
					t.Fatalf("step %d: value %d (tag %#x) not found", step, v, tag)
				}
			}
		}
	}
	// Every value deleted: the index shrinks as it empties, back to its
	// first size, every live value found on the way.
	peak := x.homes
	for i, v := range values {
		x.delete(live[v], v)
		delete(live, v)
		checkShape(t, i, &x)
		if i%97 == 0 {
			for v, tag := range live {
				if !found(tag, v) {
					t.Fatalf("deletion %d: value %d (tag %#x) not found", i, v, tag)
				}
			}
		}
	}
	for i, e := range x.entries {
		if e != 0 {
			t.Fatalf("entry %d left behind: %#x", i, uint64(e))
		}
	}
	if x.homes != minTagIndexHomes || peak == minTagIndexHomes {
		t.Fatalf("emptied, the index has %d homes (%d at its largest); want %d", x.homes, peak, minTagIndexHomes)
	}
}

// checkShape checks a tag index's invariants: the last slot empty, the
// tail's size, and its load at most three quarters of its homes.
func checkShape(t *testing.T, step int, x *tagIndex) {
	t.Helper()
	if x.entries[len(x.entries)-1] != 0 || uint64(x.len())*4 > x.homes*3 || len(x.entries) != int(x.homes)+tagIndexTail {
		t.Fatalf("step %d: %d entries in %d homes + %d slots, last %#x", step, x.len(), x.homes, len(x.entries)-int(x.homes), uint64(x.entries[len(x.entries)-1]))
	}
}

func TestTagIndexDeleteMissingPanics(t *testing.T) {
	x := newTagIndex()
	x.insert(1, 1)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	x.delete(1, 2)
}

// TestTagIndexShrinks: an index of hashed keys that grew with a burst and
// lost it is back under an eighth full only briefly: after every deletion
// its load is at least a sixteenth (or it is at its first size), and its
// rebuilds are few.
func TestTagIndexShrinks(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	x := newTagIndex()
	const n = 200_000
	tags := make([]uint32, n)
	for i := range tags {
		tags[i] = r.Uint32()
		x.insert(tags[i], uint32(i))
	}
	peak := x.homes
	rebuilds, last := 0, &x.entries[0]
	for i := n - 1; i >= 100; i-- {
		x.delete(tags[i], uint32(i))
		if &x.entries[0] != last {
			rebuilds++
			last = &x.entries[0]
		}
		if x.homes > minTagIndexHomes && uint64(x.len())*16 < x.homes {
			t.Fatalf("%d entries in %d homes", x.len(), x.homes)
		}
	}
	if x.homes != minTagIndexHomes || rebuilds > 16 {
		t.Fatalf("100 entries left of %d: %d homes (%d at the peak), after %d rebuilds", n, x.homes, peak, rebuilds)
	}
}
