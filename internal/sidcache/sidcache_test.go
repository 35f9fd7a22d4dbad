package sidcache

import (
	"fmt"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// key is an untagged canonical key of name, as the StatsD decoder makes
// it, and the name's offset in it.
func key(t testing.TB, kind sample.Kind, name string) ([]byte, int) {
	t.Helper()
	k, err := sample.AppendKeySpans(nil, kind, []byte(name), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k, len(k) - len(name) - 1
}

func insert(t testing.TB, c *Cache, kind sample.Kind, name string) int {
	t.Helper()
	k, at := key(t, kind, name)
	i := c.Insert(uint8(kind), []byte(name), nil, Hash(uint8(kind), []byte(name), nil), k, at, sample.Hash(k))
	if i < 0 {
		t.Fatalf("%s not cached", name)
	}
	return i
}

// TestFindIsExact: every series is found by its kind and name only, with
// its own key and hash, as the cache grows; a name of another kind, or a
// prefix of a name, is not found.
func TestFindIsExact(t *testing.T) {
	c := New()
	const n = 20_000
	for i := range n {
		insert(t, c, sample.KindCounter, fmt.Sprintf("m.%d", i))
	}
	for i := range n {
		name := []byte(fmt.Sprintf("m.%d", i))
		j := c.Find(uint8(sample.KindCounter), name, nil, Hash(uint8(sample.KindCounter), name, nil))
		if j < 0 {
			t.Fatalf("%s not found", name)
		}
		k, _ := key(t, sample.KindCounter, string(name))
		if got := c.Key(j); string(got) != string(k) || c.Record(j).Hash != sample.Hash(k) {
			t.Fatalf("%s: key %q hash %x", name, got, c.Record(j).Hash)
		}
		if c.Find(uint8(sample.KindGauge), name, nil, Hash(uint8(sample.KindGauge), name, nil)) >= 0 {
			t.Fatalf("%s found as a gauge", name)
		}
		if p := append(name, 'x'); c.Find(uint8(sample.KindCounter), p, nil, Hash(uint8(sample.KindCounter), p, nil)) >= 0 {
			t.Fatalf("%s found", p)
		}
		if p := []byte(fmt.Sprintf("m.%d", n+i)); c.Find(uint8(sample.KindCounter), p, nil, Hash(uint8(sample.KindCounter), p, nil)) >= 0 {
			t.Fatalf("%s found", p)
		}
	}
	if c.Len() != n || c.Clears != 0 {
		t.Fatalf("len %d, clears %d", c.Len(), c.Clears)
	}
}

// TestEmptyTagsAreTags: an identity with tags, even empty ones (a StatsD
// line ending in `|#`, which is refused), is never found as the same
// identity without: Find cannot tell them apart by their bytes, so their
// hashes' tags must differ, always, not only most of the time.
func TestEmptyTagsAreTags(t *testing.T) {
	c := New()
	for i := range 1000 {
		ident := []byte(fmt.Sprint("m.", i))
		for _, tags := range [][]byte{{}, []byte(fmt.Sprint("host:", i)), []byte("x")} {
			untagged, tagged := Hash(uint8(sample.KindCounter), ident, nil), Hash(uint8(sample.KindCounter), ident, tags)
			if (untagged^tagged)&1 == 0 {
				t.Fatalf("%s with tags %q: hash %x, without %x: the same lowest bit", ident, tags, tagged, untagged)
			}
		}
		insert(t, c, sample.KindCounter, string(ident))
		if c.Find(uint8(sample.KindCounter), ident, []byte{}, Hash(uint8(sample.KindCounter), ident, []byte{})) >= 0 {
			t.Fatalf("%s with empty tags found as %s", ident, ident)
		}
	}
}

// TestAnswers: an answer gives its record the handle only while the record
// still waits for that ask: not after a clear, and not twice.
func TestAnswers(t *testing.T) {
	c := New()
	a := insert(t, c, sample.KindCounter, "a")
	b := insert(t, c, sample.KindTimer, "b")
	ta, tb := c.Ticket(a), c.Ticket(b)
	if ta == tb || c.Ticket(a) != ta {
		t.Fatal("a ticket is not the record's ask outstanding")
	}
	c.Answer([]sample.Ask{{Ticket: ta, Handle: 11, Epoch: 3}, {Ticket: tb, Handle: 0, Epoch: 3}})
	if r := c.Record(a); r.Handle != 11 || r.Epoch != 3 {
		t.Fatalf("a: %+v", *r)
	}
	if r := c.Record(b); r.Handle != 0 {
		t.Fatalf("b answered without a handle: %+v", *r)
	}
	c.Answer([]sample.Ask{{Ticket: ta, Handle: 12, Epoch: 4}}) // answered already
	if r := c.Record(a); r.Handle != 11 {
		t.Fatalf("a answered twice: %+v", *r)
	}
	tb = c.Ticket(b)
	c.Clear()
	d := insert(t, c, sample.KindCounter, "d") // where b was
	_ = c.Ticket(d)
	c.Answer([]sample.Ask{{Ticket: tb, Handle: 13, Epoch: 4}, {Ticket: uint64(d) | 1<<40, Handle: 14, Epoch: 4}})
	if r := c.Record(d); r.Handle != 0 {
		t.Fatalf("an answer from before the clear, or a ticket never given, was taken: %+v", *r)
	}
	// Right after a clear no ticket is good, whatever a record's bytes
	// where an old ticket points hold (here: its own sequence number).
	td := c.Ticket(d)
	c.Clear()
	e := insert(t, c, sample.KindCounter, "e")
	if e != d {
		t.Fatalf("e at word %d, d was at %d", e, d)
	}
	c.Record(e).ticket = uint32(td >> 32)
	c.Answer([]sample.Ask{{Ticket: td, Handle: 15, Epoch: 4}})
	if r := c.Record(e); r.Handle != 0 {
		t.Fatalf("an answer from before the clear was taken right after it: %+v", *r)
	}
}

// TestBounded: a cache that meets its bounds clears itself and goes on.
func TestBounded(t *testing.T) {
	c := New()
	for i := range MaxSeries + 10 {
		insert(t, c, sample.KindCounter, fmt.Sprintf("m.%d", i))
	}
	if c.Clears != 1 || c.Len() != 10 {
		t.Fatalf("%d clears, %d series", c.Clears, c.Len())
	}
	long := make([]byte, 1000)
	for i := range long {
		long[i] = 'x'
	}
	for i := 0; c.Clears < 2; i++ {
		if i > MaxBytes/1000 {
			t.Fatal("the records' bytes are not bounded")
		}
		insert(t, c, sample.KindCounter, fmt.Sprintf("%s%d", long, i))
	}
	if len(c.words)*8 > MaxBytes || len(c.index) > 2*MaxSeries {
		t.Fatalf("%d bytes of records, %d index entries", len(c.words)*8, len(c.index))
	}
}

// TestFindAllocatesNothing: looking a series up allocates nothing.
func TestFindAllocatesNothing(t *testing.T) {
	c := New()
	insert(t, c, sample.KindCounter, "a.b")
	name := []byte("a.b")
	h := Hash(uint8(sample.KindCounter), name, nil)
	if n := testing.AllocsPerRun(100, func() {
		if c.Find(uint8(sample.KindCounter), name, nil, h) < 0 {
			t.Fatal("not found")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// TestTaggedIdentities: a tagged line's identity is its name's text and its
// tags' text, kept beside the key; identities that differ only in where
// one part ends are different.
func TestTaggedIdentities(t *testing.T) {
	c := New()
	ids := []struct{ ident, tags string }{{"a", "host:b"}, {"a,x=1", "host:b"}, {"a", "host:bc"}, {"a,x=1", ""}, {"ab", "ost:b"}}
	for n, id := range ids {
		k, _ := key(t, sample.KindTimer, fmt.Sprint("key", n))
		tags := []byte(id.tags)
		if id.tags == "" {
			tags = nil
		}
		if c.Insert(uint8(sample.KindTimer), []byte(id.ident), tags, Hash(uint8(sample.KindTimer), []byte(id.ident), tags), k, -1, sample.Hash(k)) < 0 {
			t.Fatalf("%+v not cached", id)
		}
	}
	for n, id := range ids {
		tags := []byte(id.tags)
		if id.tags == "" {
			tags = nil
		}
		i := c.Find(uint8(sample.KindTimer), []byte(id.ident), tags, Hash(uint8(sample.KindTimer), []byte(id.ident), tags))
		k, _ := key(t, sample.KindTimer, fmt.Sprint("key", n))
		if i < 0 || string(c.Key(i)) != string(k) {
			t.Fatalf("%+v: found %d", id, i)
		}
		if c.Find(uint8(sample.KindCounter), []byte(id.ident), tags, Hash(uint8(sample.KindCounter), []byte(id.ident), tags)) >= 0 {
			t.Fatalf("%+v found as a counter", id)
		}
	}
}

// TestAhead: a cache reports Ahead once its records reach AheadFrom bytes
// (lowered here), and again after a clear only when they reach it again;
// hints, at any hash, in any state, change no lookup.
func TestAhead(t *testing.T) {
	c := New()
	if c.Ahead() {
		t.Fatal("an empty cache is ahead")
	}
	c.SetAheadFrom(4096)
	hint := func() {
		for h := range uint64(300) {
			c.Hint(h*0x9E3779B97F4A7C15, h)
			c.Hint(h, h)
		}
	}
	hint()
	n := 0
	for !c.Ahead() {
		insert(t, c, sample.KindCounter, fmt.Sprintf("m.%d", n))
		n++
		hint()
	}
	if n < 4096/64 || n > 4096/(8*headerWords) {
		t.Fatalf("ahead after %d series of 4096 bytes", n)
	}
	for i := range n {
		name := []byte(fmt.Sprintf("m.%d", i))
		h := Hash(uint8(sample.KindCounter), name, nil)
		c.Hint(h^1, h)
		if c.Find(uint8(sample.KindCounter), name, nil, h) < 0 {
			t.Fatalf("%s not found after hints", name)
		}
	}
	c.Clear()
	if c.Ahead() {
		t.Fatal("a cleared cache is ahead")
	}
	hint()
	c.SetAheadFrom(0)
	if !c.Ahead() {
		t.Fatal("not ahead from 0 bytes")
	}
}
