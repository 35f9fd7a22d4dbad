package inplace

import "testing"

type pair struct {
	a uint64
	b uint8
}

func TestNext(t *testing.T) {
	var s []pair
	for i := range 100 {
		var p *pair
		s, p = Next(s)
		p.a, p.b = uint64(i), uint8(i)
	}
	for i, p := range s {
		if p.a != uint64(i) || p.b != uint8(i) {
			t.Fatalf("s[%d] = %+v", i, p)
		}
	}
	// Room left: the element is the array's old one, in place.
	s = s[:10]
	s2, p := Next(s)
	if &s2[10] != p || &s2[0] != &s[0] || p.a != 10 {
		t.Fatalf("Next with room: %p %+v", p, *p)
	}
}

func BenchmarkNext(b *testing.B) {
	s := make([]pair, 0, 1024)
	for i := range b.N {
		if len(s) == cap(s) {
			s = s[:0]
		}
		var p *pair
		s, p = Next(s)
		p.a, p.b = uint64(i), uint8(i)
	}
}
