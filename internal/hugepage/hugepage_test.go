package hugepage

import "testing"

func TestMakeAndGrow(t *testing.T) {
	s := Make[uint64](3, 1<<20)
	if len(s) != 3 || cap(s) != 1<<20 {
		t.Fatalf("Make = len %d cap %d", len(s), cap(s))
	}
	s[2] = 7
	g := Grow(s, 1<<20)
	if len(g) != 3 || cap(g) < 3+1<<20 || g[2] != 7 {
		t.Fatalf("Grow = len %d cap %d g[2] %d", len(g), cap(g), g[2])
	}
	if h := Grow(g, 1); &h[0] != &g[0] {
		t.Fatal("Grow reallocated although there was room")
	}
	Advise(nil)
	Advise(make([]byte, 10))
}
