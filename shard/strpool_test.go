package shard

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/testseed"
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
			id := mustAcquire(t, p, []byte(s))
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
	a := mustAcquire(t, p, []byte("dims"))
	v := p.view()
	for i := 0; i < 100_000; i++ {
		mustAcquire(t, p, fmt.Appendf(nil, "n%d", i))
	}
	if got := string(v.bytes(a)); got != "dims" {
		t.Fatalf("view reads %q", got)
	}
}

func TestStringPoolReleaseOfFreeIDPanics(t *testing.T) {
	p := newStringPool()
	id := mustAcquire(t, p, []byte("a"))
	p.release(id)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	p.release(id)
}

func mustAcquire(t *testing.T, p *stringPool, b []byte) uint32 {
	t.Helper()
	id, ok := p.acquire(b, sample.PlainDims)
	if !ok {
		t.Fatalf("the pool refused %q", b)
	}
	return id
}

// A pool whose ids address no more chunks refuses new strings, changing
// nothing, and goes on giving the strings it has; a freed slot takes a new
// string again.
func TestStringPoolFullRefuses(t *testing.T) {
	p := newStringPool()
	p.slab.maxChunks = 2
	var ids []uint32
	var strs []string
	for i := 0; ; i++ {
		s := fmt.Sprintf("%0100d", i) // one class: 108-byte slots
		if i%2 == 1 {
			s = fmt.Sprintf("%d", i) // another: 16-byte slots
		}
		id, ok := p.acquire([]byte(s), sample.PlainDims)
		if !ok {
			if i < 100 {
				t.Fatalf("refused after %d strings", i)
			}
			n, _ := p.stats()
			if n != len(ids) || len(p.slab.chunks) != 2 {
				t.Fatalf("%d strings, %d chunks after a refusal; want %d and 2", n, len(p.slab.chunks), len(ids))
			}
			if _, ok := p.acquire([]byte(s), sample.PlainDims); ok {
				t.Fatal("a refused string was interned")
			}
			break
		}
		ids, strs = append(ids, id), append(strs, s)
	}
	for i, s := range strs {
		id := mustAcquire(t, p, []byte(s))
		if id != ids[i] || string(p.bytes(id)) != s {
			t.Fatalf("%q: id %d (%q), had %d", s, id, p.bytes(id), ids[i])
		}
		p.release(id)
	}
	// Release the last long string's two references: its slot takes a new
	// long string.
	last := len(strs) - 1
	for strs[last][0] != '0' || len(strs[last]) != 100 {
		last--
	}
	p.release(ids[last])
	n := fmt.Sprintf("%0100d", -1)
	if id := mustAcquire(t, p, []byte(n)); string(p.bytes(id)) != n {
		t.Fatalf("read %q", p.bytes(id))
	}
}

// TestPartsPlain checks what the pool is told of the parts it interns,
// namePlain and sample.PlainDims (its fast reading of one-byte lengths and
// printable ASCII, and the exact one behind it), against
// an independent reading of the texts: valid UTF-8 without a C0 control, a
// quote or a backslash. Texts are drawn from plain ASCII, bytes that need
// escaping or decoding, and lengths of 127 and 128 bytes (a length's
// second byte), in sets of up to 130 dimensions.
func TestPartsPlain(t *testing.T) {
	seed := testseed.Seed(t)
	r := rand.New(rand.NewPCG(seed, 7))
	plain := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 || c == '"' || c == '\\' {
				return false
			}
		}
		return utf8.Valid(b)
	}
	odd := []string{"\"", "\\", "\x00", "\x1f", "\x7f", "é", "\xff", "\xc3", "€", "\xef\xbf\xbd", " ", "~"}
	text := func() []byte {
		var b []byte
		switch r.IntN(4) {
		case 0:
			b = bytes.Repeat([]byte("k"), 120+r.IntN(16)) // around a two-byte length
		default:
			b = fmt.Appendf(nil, "v%d", r.IntN(1000))
		}
		if r.IntN(3) == 0 {
			at := r.IntN(len(b) + 1)
			b = append(b[:at:at], append([]byte(odd[r.IntN(len(odd))]), b[at:]...)...)
		}
		return b
	}
	var plainSeen, oddSeen int
	for i := range 20000 {
		n := r.IntN(4)
		if i%500 == 0 {
			n = 126 + r.IntN(4) // a count of one byte or two
		}
		var ds []sample.Dim
		want := true
		for j := range n {
			k := append(text(), fmt.Appendf(nil, ".%d", j)...) // keys unique
			v := text()
			want = want && plain(k) && plain(v)
			ds = append(ds, sample.Dim{Key: k, Value: v})
		}
		sample.SortDims(ds)
		name := text()
		key, err := sample.AppendKey(nil, sample.KindCounter, name, ds)
		if err != nil {
			t.Fatal(err)
		}
		pk, err := sample.ParseKey(key)
		if err != nil {
			t.Fatal(err)
		}
		if got := sample.PlainDims(pk.Dims); got != want {
			t.Fatalf("sample.PlainDims(%q) = %v; want %v (reproduce with %s=%d)", pk.Dims, got, want, testseed.Env, seed)
		}
		if got := namePlain(pk.NamePart(key)); got != plain(name) {
			t.Fatalf("namePlain(%q) = %v; want %v (reproduce with %s=%d)", pk.NamePart(key), got, plain(name), testseed.Env, seed)
		}
		if want {
			plainSeen++
		} else {
			oddSeen++
		}
	}
	if plainSeen < 1000 || oddSeen < 1000 {
		t.Fatalf("%d plain sets and %d others: the draw tests too little of one side", plainSeen, oddSeen)
	}
}
