package shard

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestStringPoolModel runs random acquires and releases against a map and
// checks ids, contents, reuse and the index after every step.
func TestStringPoolModel(t *testing.T) {
	p := newStringPool()
	r := rand.New(rand.NewPCG(3, 4))
	refs := map[string]int{}   // the model: references per string
	ids := map[string]uint32{} // the id each live string got
	var held []string          // one entry per reference
	for step := 0; step < 200_000; step++ {
		if len(held) == 0 || r.IntN(3) > 0 {
			s := fmt.Sprintf("s%d", r.IntN(5000))
			if r.IntN(50) == 0 {
				s = string(bytes.Repeat([]byte{'x'}, r.IntN(300))) + s
			}
			id := p.acquire([]byte(s))
			if old, ok := ids[s]; ok && old != id {
				t.Fatalf("step %d: %q got id %d, had %d", step, s, id, old)
			}
			for other, oid := range ids {
				if oid == id && other != s {
					t.Fatalf("step %d: id %d given to %q while %q holds it", step, id, s, other)
				}
			}
			ids[s] = id
			refs[s]++
			held = append(held, s)
		} else {
			i := r.IntN(len(held))
			s := held[i]
			held[i] = held[len(held)-1]
			held = held[:len(held)-1]
			p.release(ids[s])
			if refs[s]--; refs[s] == 0 {
				delete(refs, s)
				delete(ids, s)
			}
		}
		if step%997 == 0 {
			for s, id := range ids {
				if got := string(p.bytes(id)); got != s {
					t.Fatalf("step %d: id %d reads %q; want %q", step, id, got, s)
				}
			}
			if n, _ := p.stats(); n != len(ids) || p.index.len() != len(ids) {
				t.Fatalf("step %d: %d strings, %d indexed; want %d", step, n, p.index.len(), len(ids))
			}
		}
	}
	for _, s := range held {
		p.release(ids[s])
	}
	if n, b := p.stats(); n != 0 || b != 0 || p.index.len() != 0 {
		t.Fatalf("after releasing everything: %d strings, %d bytes, %d indexed", n, b, p.index.len())
	}
	for _, e := range p.index.entries {
		if e != 0 {
			t.Fatal("index entry left behind")
		}
	}
}

// A view taken before more strings are interned (and the id table grows)
// still reads the strings it covers.
func TestStringPoolViewSurvivesGrowth(t *testing.T) {
	p := newStringPool()
	a := p.acquire([]byte("dims"))
	v := p.view()
	for i := 0; i < 100_000; i++ {
		p.acquire(fmt.Appendf(nil, "n%d", i))
	}
	if got := string(v.bytes(a)); got != "dims" {
		t.Fatalf("view reads %q", got)
	}
}

func TestStringPoolReleaseOfFreeIDPanics(t *testing.T) {
	p := newStringPool()
	id := p.acquire([]byte("a"))
	p.release(id)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	p.release(id)
}
