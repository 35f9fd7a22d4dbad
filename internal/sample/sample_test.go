package sample

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func dims(kv ...string) []Dim {
	var ds []Dim
	for i := 0; i+1 < len(kv); i += 2 {
		ds = append(ds, Dim{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return ds
}

func TestKeyIsCanonical(t *testing.T) {
	a := dims("service", "s", "host", "h", "cluster", "c")
	b := dims("host", "h", "cluster", "c", "service", "s")
	if SortDims(a) >= 0 || SortDims(b) >= 0 {
		t.Fatal("unexpected duplicate")
	}
	ka, _ := AppendKey(nil, KindTimer, []byte("lat"), a)
	kb, _ := AppendKey(nil, KindTimer, []byte("lat"), b)
	if !bytes.Equal(ka, kb) || Hash(ka) != Hash(kb) {
		t.Fatalf("tag order changed the key: %q vs %q", ka, kb)
	}
	for _, other := range [][]byte{
		must(AppendKey(nil, KindCounter, []byte("lat"), a)),
		must(AppendKey(nil, KindTimer, []byte("lat2"), a)),
		must(AppendKey(nil, KindTimer, []byte("lat"), dims("cluster", "c", "host", "h"))),
		must(AppendKey(nil, KindTimer, []byte("lat"), dims("cluster", "c", "host", "h", "service", "t"))),
		// Length prefixes keep "ab"+"c" and "a"+"bc" apart.
		must(AppendKey(nil, KindTimer, []byte("la"), dims("tcluster", "c", "host", "h", "service", "s"))),
	} {
		if bytes.Equal(ka, other) {
			t.Errorf("different series share the key %q", other)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseKeyRoundTrip(t *testing.T) {
	ds := dims("b", "2", "a", "1", "", "empty-key", "c", "")
	SortDims(ds)
	key := must(AppendKey(nil, KindGauge, []byte("name with spaces"), ds))
	p, err := ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != KindGauge || string(p.Name) != "name with spaces" {
		t.Fatalf("parsed %v %q", p.Kind, p.Name)
	}
	it := p.DimIter()
	var got []string
	for d, ok := it.Next(); ok; d, ok = it.Next() {
		got = append(got, string(d.Key)+"="+string(d.Value))
	}
	if want := "=empty-key a=1 b=2 c="; strings.Join(got, " ") != want {
		t.Fatalf("dims %q; want %q", strings.Join(got, " "), want)
	}
	// Dims identifies the dimension map whatever the name and kind.
	other, _ := ParseKey(must(AppendKey(nil, KindCounter, []byte("x"), ds)))
	if !bytes.Equal(p.Dims, other.Dims) {
		t.Fatal("same dimension map, different Dims bytes")
	}
}

func TestSplitKey(t *testing.T) {
	key := must(AppendKey(nil, KindCounter, []byte("requests"), dims("host", "a", "zone", "1")))
	name, ds, ok := SplitKey(key)
	if !ok || string(name) != "\x08requests" || !bytes.Equal(ds, key[10:]) || ds[0] != 2 {
		t.Fatalf("SplitKey(%q) = %q, %q, %v", key, name, ds, ok)
	}
	// Only the name's length is read: what follows it is the dimensions,
	// whatever they hold.
	if name, ds, ok := SplitKey([]byte{byte(KindTimer), 1, 'n', 0xff}); !ok || string(name) != "\x01n" || string(ds) != "\xff" {
		t.Fatalf("SplitKey of unread dimensions = %q, %q, %v", name, ds, ok)
	}
	for _, bad := range [][]byte{{}, {byte(KindTimer)}, {byte(KindTimer), 5, 'n'}, {byte(KindTimer), 0x80, 0}, {byte(KindTimer), 0xff, 0xff, 0xff, 0x7f}} {
		if name, ds, ok := SplitKey(bad); ok || name != nil || ds != nil {
			t.Errorf("SplitKey(%q) = %q, %q, %v; want nothing", bad, name, ds, ok)
		}
	}
	// It runs in the shard's prefetch pipeline: no allocation.
	if n := testing.AllocsPerRun(100, func() { SplitKey(key) }); n != 0 {
		t.Errorf("SplitKey allocates %v times a call", n)
	}
}

// TestNameFromPart: the name parts of names of every length up to 300
// (one-byte lengths, then varints) read back as their names, the short
// reading only below 128; parts with a byte too few or too many, a
// non-minimal length, or no length do not read; neither allocates.
func TestNameFromPart(t *testing.T) {
	for n := range 300 {
		name := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		part := binary.AppendUvarint(nil, uint64(n))
		part = append(part, name...)
		checkNameFromPart(t, part)
		if got, ok := NameFromPart(part); !ok || !bytes.Equal(got, name) {
			t.Fatalf("NameFromPart of a %d-byte name = %q, %v", n, got, ok)
		}
		if _, ok := ShortNameFromPart(part); ok != (n < 128) {
			t.Fatalf("ShortNameFromPart of a %d-byte name: ok %v", n, ok)
		}
		for _, bad := range [][]byte{part[:len(part)-1], append(part[:len(part):len(part)], 'x')} {
			if len(bad) == 0 {
				continue
			}
			checkNameFromPart(t, bad)
			if _, ok := NameFromPart(bad); ok {
				t.Fatalf("NameFromPart(%q) read a name", bad)
			}
		}
	}
	for _, bad := range [][]byte{nil, {}, {0x81, 0x00}, {0x80}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		checkNameFromPart(t, bad)
		if _, ok := NameFromPart(bad); ok {
			t.Fatalf("NameFromPart(%q) read a name", bad)
		}
	}
	part := []byte("\x05hello")
	if n := testing.AllocsPerRun(100, func() { NameFromPart(part); ShortNameFromPart(part) }); n != 0 {
		t.Errorf("NameFromPart allocates %v times a call", n)
	}
}

func TestParseKeyRejects(t *testing.T) {
	good := must(AppendKey(nil, KindTimer, []byte("n"), dims("a", "1", "b", "2")))
	unsorted := must(AppendKey(nil, KindTimer, []byte("n"), dims("b", "2", "a", "1")))
	dup := must(AppendKey(nil, KindTimer, []byte("n"), dims("a", "1", "a", "2")))
	for name, key := range map[string][]byte{
		"empty":         {},
		"bad kind":      append([]byte{byte(numKinds)}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"huge length":   {byte(KindTimer), 0xff, 0xff, 0xff, 0x7f},
		"no dims count": {byte(KindTimer), 1, 'n'},
		"unsorted dims": unsorted,
		"duplicate dim": dup,
	} {
		if _, err := ParseKey(key); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: ParseKey(%q) = %v; want ErrBadKey", name, key, err)
		}
	}
}

func TestSortDimsDuplicates(t *testing.T) {
	ds := dims("z", "1", "a", "1", "m", "1", "a", "2")
	if i := SortDims(ds); i != 1 || string(ds[i].Key) != "a" {
		t.Fatalf("SortDims = %d; want the duplicate 'a' at 1", i)
	}
	if SortDims(nil) != -1 || SortDims(dims("x", "")) != -1 {
		t.Fatal("no duplicates reported as duplicates")
	}
}

func TestKeyTooLong(t *testing.T) {
	long := bytes.Repeat([]byte("x"), MaxKeyLen)
	dst := []byte("prefix")
	out, err := AppendKey(dst, KindGauge, long, nil)
	if !errors.Is(err, ErrKeyTooLong) || string(out) != "prefix" {
		t.Fatalf("AppendKey = %q…, %v; want the input back and ErrKeyTooLong", out[:6], err)
	}
}

func TestBatch(t *testing.T) {
	var b Batch
	k, err := b.PutKey(KindTimer, []byte("t"), dims("host", "h"))
	if err != nil {
		t.Fatal(err)
	}
	b.AddValue(k, 1000, 0, 0.5, Second)
	b.AddAgg(k, 1000, 900, Agg{Min: 1, Max: 2, Sum: 3, Count: 2, Has: HasMin | HasMax | HasSum | HasCount | HasHist},
		[]HistEntry{{Value: 1, Count: 1}, {Value: 2, Count: 1}}, UnitNone)
	if b.Len() != 2 || !bytes.Equal(b.Key(&b.Samples[0]), b.Key(&b.Samples[1])) {
		t.Fatal("samples do not share their key")
	}
	if Hash(b.Key(&b.Samples[0])) != b.Samples[0].Hash {
		t.Fatal("hash does not match the key")
	}
	s := &b.Samples[1]
	if s.Flags&FlagAgg == 0 || s.ReqTime != 900 || len(b.HistOf(&b.Aggs[s.Agg])) != 2 {
		t.Fatalf("aggregate sample = %+v", s)
	}
	caps := cap(b.Samples) + cap(b.Keys) + cap(b.Aggs) + cap(b.Hist)
	b.Reset()
	if b.Len() != 0 || len(b.Keys) != 0 || cap(b.Samples)+cap(b.Keys)+cap(b.Aggs)+cap(b.Hist) != caps {
		t.Fatal("Reset must empty the batch and keep its capacity")
	}
}

func TestBatchAllocs(t *testing.T) {
	var b Batch
	ds := dims("service", "s", "host", "h", "cluster", "c")
	fill := func() {
		b.Reset()
		for i := 0; i < 100; i++ {
			SortDims(ds)
			k, _ := b.PutKey(KindCounter, []byte("requests"), ds)
			b.AddValue(k, 1, 0, 1, UnitNone)
		}
	}
	fill()
	if n := testing.AllocsPerRun(100, fill); n != 0 {
		t.Fatalf("filling a reused batch allocated %v times; want 0", n)
	}
}

func TestSpansMatchDims(t *testing.T) {
	src := []byte("zone=b,app=x,host=h1,env=prod")
	spans := []Span{{0, 4, 5, 6}, {7, 10, 11, 12}, {13, 17, 18, 20}, {21, 24, 25, 29}}
	var ds []Dim
	for _, s := range spans {
		ds = append(ds, Dim{Key: src[s.K0:s.K1], Value: src[s.V0:s.V1]})
	}
	if SortSpans(src, spans) != -1 || SortDims(ds) != -1 {
		t.Fatal("unexpected duplicate")
	}
	a, _ := AppendKeySpans(nil, KindTimer, []byte("lat"), src, spans)
	b, _ := AppendKey(nil, KindTimer, []byte("lat"), ds)
	if !bytes.Equal(a, b) {
		t.Fatalf("AppendKeySpans = %q; AppendKey = %q", a, b)
	}
	dup := []Span{{0, 4, 5, 6}, {0, 4, 5, 6}}
	if SortSpans(src, dup) != 1 {
		t.Fatal("duplicate not found")
	}
}

// TestAppendKeySpansRandom: AppendKeySpans encodes what AppendKey does, for
// spans adjacent ("k:v") or not and lengths on both sides of one varint byte.
func TestAppendKeySpansRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for n := 0; n < 5000; n++ {
		var src []byte
		var spans []Span
		var ds []Dim
		for range r.IntN(5) {
			k := bytes.Repeat([]byte{byte('a' + r.IntN(26))}, 1+r.IntN(140))
			v := bytes.Repeat([]byte{'v'}, r.IntN(140))
			k0 := len(src)
			src = append(src, k...)
			k1 := len(src)
			src = append(src, bytes.Repeat([]byte{':'}, 1+r.IntN(2))...)
			v0 := len(src)
			src = append(src, v...)
			spans = append(spans, Span{uint32(k0), uint32(k1), uint32(v0), uint32(len(src))})
			ds = append(ds, Dim{Key: k, Value: v})
			src = append(src, ',')
		}
		a, errA := AppendKeySpans([]byte("prefix"), KindCounter, []byte("n"), src, spans)
		b, errB := AppendKey([]byte("prefix"), KindCounter, []byte("n"), ds)
		if !bytes.Equal(a, b) || (errA == nil) != (errB == nil) {
			t.Fatalf("AppendKeySpans = %q; AppendKey = %q", a, b)
		}
	}
}

func TestDecodeError(t *testing.T) {
	for _, tc := range []struct {
		e    DecodeError
		want string
	}{
		{DecodeError{Kind: ErrMalformed, Format: "client protocol v3 body", Unit: "record", Index: 2, Metric: "m", Field: "NumericalData.samples", Reason: "truncated", Offset: 40},
			`cannot parse client protocol v3 body: record 2: metric "m": NumericalData.samples: truncated (at byte 40)`},
		{DecodeError{Kind: ErrMalformed, Format: "prometheus remote write 1.0 request", Unit: "series", Index: 0, Reason: "empty name", Offset: 7, OffsetIn: "the decompressed message"},
			`cannot parse prometheus remote write 1.0 request: series 0: empty name (at byte 7 of the decompressed message)`},
		{DecodeError{Kind: ErrMalformed, Format: "graphite line", Line: []byte("a b"), HasLine: true, Index: -1, Reason: "no value", Offset: -1},
			`cannot parse graphite line "a b": no value`},
		{DecodeError{Kind: ErrTooLarge, Format: "collectd write_http JSON", Index: -1, Reason: "more than 10 records", Offset: -1},
			`cannot parse collectd write_http JSON: more than 10 records`},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
		var err error = &tc.e
		if !errors.Is(err, tc.e.Kind) {
			t.Errorf("%s: not its kind", tc.want)
		}
	}
}

// TestAddRun: a run of several values is one FlagRun sample whose values
// come back in order; one value is a plain sample, none adds nothing; Count
// counts every value; a run whose index or bounds are off has no values.
func TestAddRun(t *testing.T) {
	var b Batch
	k, err := b.PutKey(KindTimer, []byte("m"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b.AddRun(k, 10, 5, nil, UnitNone)
	b.AddRun(k, 10, 5, []float64{7}, Second)
	b.AddRun(k, 11, 6, []float64{1, 2, 3}, Byte)
	b.AddValue(k, 12, 0, 4, UnitNone)
	b.AddRun(k, 13, 0, []float64{5, 6}, UnitNone)
	if b.Len() != 4 || b.Count() != 7 {
		t.Fatalf("Len %d, Count %d; want 4 samples carrying 7", b.Len(), b.Count())
	}
	if s := b.Samples[0]; s.Flags != 0 || s.Value != 7 || s.Unit != Second {
		t.Errorf("one value: %+v", s)
	}
	for i, want := range map[int][]float64{1: {1, 2, 3}, 3: {5, 6}} {
		s := &b.Samples[i]
		if got := b.ValsOf(s); s.Flags != FlagRun || !slices.Equal(got, want) || cap(got) != len(want) {
			t.Errorf("sample %d: flags %#x, values %v (cap %d); want %v", i, s.Flags, got, cap(got), want)
		}
	}
	if s := b.Samples[1]; s.Time != 11 || s.ReqTime != 6 || s.Unit != Byte || s.Hash != k.Hash {
		t.Errorf("run sample %+v", s)
	}
	bad := b.Samples[1]
	bad.Agg = 9
	if v := b.ValsOf(&bad); v != nil {
		t.Errorf("run index out of range: %v", v)
	}
	b.Runs[0].Len = 99
	if v := b.ValsOf(&b.Samples[1]); v != nil {
		t.Errorf("run past the values: %v", v)
	}
	b.Reset()
	if b.Count() != 0 || len(b.Runs) != 0 || len(b.Vals) != 0 {
		t.Errorf("after Reset: %+v", b)
	}
}

// TestAddWritesEveryField: Batch.next hands out reused memory and its
// callers set every field of Sample one by one; a field added to Sample
// and not set there would carry a value from a sample of an earlier
// batch. This test fills a batch with garbage, resets it and checks that
// each Add leaves exactly the sample a literal would.
func TestAddWritesEveryField(t *testing.T) {
	if n := reflect.TypeFor[Sample]().NumField(); n != 9 {
		t.Fatalf("Sample has %d fields; Batch.AddSample, AddAgg and AddRun set 9: set the new ones there, then update this test", n)
	}
	var b Batch
	for range 4 {
		b.Samples = append(b.Samples, Sample{Hash: ^uint64(0), Value: math.NaN(), Time: -1, ReqTime: -1,
			KeyOff: ^uint32(0), KeyLen: ^uint32(0), Agg: ^uint32(0), Unit: ^Unit(0), Flags: ^uint8(0)})
	}
	b.Reset()
	k := KeyRef{Hash: 7, Off: 1, Len: 2}
	b.AddSample(k, 10, 20, 1.5, UnitNone, FlagDelta)
	b.AddValue(k, 11, 0, 2.5, UnitNone)
	b.AddAgg(k, 12, 21, Agg{Count: 1, Has: HasCount}, nil, UnitNone)
	b.AddRun(k, 13, 22, []float64{1, 2}, UnitNone)
	want := []Sample{
		{Hash: 7, Value: 1.5, Time: 10, ReqTime: 20, KeyOff: 1, KeyLen: 2, Flags: FlagDelta},
		{Hash: 7, Value: 2.5, Time: 11, KeyOff: 1, KeyLen: 2},
		{Hash: 7, Time: 12, ReqTime: 21, KeyOff: 1, KeyLen: 2, Agg: 0, Flags: FlagAgg},
		{Hash: 7, Time: 13, ReqTime: 22, KeyOff: 1, KeyLen: 2, Agg: 0, Flags: FlagRun},
	}
	if !reflect.DeepEqual(b.Samples, want) {
		t.Fatalf("got %+v\nwant %+v", b.Samples, want)
	}
}

// TestStableHash: StableHash's values are fixed (a relay in another process
// or another version must agree), every input length takes its tail into
// account, and its outputs spread.
// stableHashRef is StableHash written plainly: the bytes in eight-byte
// little-endian words, the last one zero-padded.
func stableHashRef(b []byte) uint64 {
	const p1, p2 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F
	h := uint64(len(b)) * p1
	for i := 0; i < len(b); i += 8 {
		var w uint64
		for j := i; j < len(b) && j < i+8; j++ {
			w |= uint64(b[j]) << (8 * (j - i))
		}
		h = bits.RotateLeft64(h^w*p2, 31) * p1
	}
	return Mix64(h)
}

// TestStableHashRef holds StableHash to its plain reference at every
// length and tail.
func TestStableHashRef(t *testing.T) {
	b := make([]byte, 80)
	for i := range b {
		b[i] = byte(i*131 + 7)
	}
	for n := range len(b) + 1 {
		for off := range 3 {
			if off > n {
				continue
			}
			in := b[off:n]
			if got, want := StableHash(in), stableHashRef(in); got != want {
				t.Fatalf("StableHash of %d bytes = %#x; the reference %#x", len(in), got, want)
			}
		}
	}
}

func TestStableHash(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
	}{
		{"", 0},
		{"relay", 0xf061ae5172387ff5},
		{"counter.name|host=a", 0x18ae751abd823a3a},
	} {
		if got := StableHash([]byte(c.in)); got != c.want {
			t.Errorf("StableHash(%q) = %#x; want %#x", c.in, got, c.want)
		}
	}
	seen := map[uint64]string{}
	buckets := make([]int, 16)
	for n := range 20_000 {
		b := []byte(fmt.Sprintf("s%d.metric|host=h%d", n, n%97))
		for _, k := range []int{len(b), len(b) - 1, 8, 7, 1} { // every tail length
			h := StableHash(b[:k])
			if o, ok := seen[h]; ok && o != string(b[:k]) {
				t.Fatalf("%q and %q: same hash %#x", b[:k], o, h)
			}
			seen[h] = string(b[:k])
		}
		buckets[StableHash(b)>>60]++
	}
	for i, n := range buckets {
		if n < 20_000/16*8/10 || n > 20_000/16*12/10 {
			t.Fatalf("top-nibble bucket %d holds %d of 20000: %v", i, n, buckets)
		}
	}
}

// TestAppendDims checks AppendDims against DimIter, on sections of 0 to
// 130 dimensions with keys and values around 128 bytes (one-byte and
// two-byte lengths and counts), appended after dimensions already in dst,
// and on every truncation of them (refused, dst as given). A prepared dst
// costs no allocation.
func TestAppendDims(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	text := func() []byte {
		if r.IntN(3) == 0 {
			return bytes.Repeat([]byte{'a' + byte(r.IntN(26))}, 120+r.IntN(16))
		}
		return fmt.Appendf(nil, "t%d", r.IntN(1000))
	}
	prior := []Dim{{Key: []byte("p"), Value: []byte("q")}}
	for round := range 3000 {
		n := r.IntN(5)
		if round%100 == 0 {
			n = 125 + r.IntN(6)
		}
		var ds []Dim
		for j := range n {
			ds = append(ds, Dim{Key: fmt.Appendf(text(), ".%d", j), Value: text()})
		}
		SortDims(ds)
		key, err := AppendKey(nil, KindGauge, []byte("m"), ds)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseKey(key)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := iterDims(p.Dims)
		if !ok {
			t.Fatal("DimIter failed on a parsed key")
		}
		got, ok := AppendDims(slices.Clone(prior), p.Dims)
		if !ok || !reflect.DeepEqual(got, append(slices.Clone(prior), want...)) {
			t.Fatalf("AppendDims(%q) = %q, %v; want %q", p.Dims, got, ok, want)
		}
		if round%10 == 0 {
			for cut := range len(p.Dims) {
				if len(p.Dims) > 1000 && cut%97 != 0 && cut > 8 {
					continue // long sections: some cuts
				}
				want, wantOK := iterDims(p.Dims[:cut])
				got, ok := AppendDims(slices.Clone(prior), p.Dims[:cut])
				if ok != wantOK || ok && !reflect.DeepEqual(got, append(slices.Clone(prior), want...)) || !ok && !reflect.DeepEqual(got, prior) {
					t.Fatalf("AppendDims of %d of the %d bytes of %q = %q, %v; DimIter reads %q, %v", cut, len(p.Dims), p.Dims, got, ok, want, wantOK)
				}
			}
		}
	}
	ds := []Dim{{Key: []byte("host"), Value: []byte("a")}, {Key: []byte("zone"), Value: []byte("b")}}
	key, _ := AppendKey(nil, KindCounter, []byte("m"), ds)
	p, _ := ParseKey(key)
	dst := make([]Dim, 0, 4)
	if n := testing.AllocsPerRun(100, func() { dst, _ = AppendDims(dst[:0], p.Dims) }); n != 0 {
		t.Fatalf("%v allocations per AppendDims into a prepared slice; want 0", n)
	}
}

// iterDims reads a dimension section with DimIter.
func iterDims(dims []byte) ([]Dim, bool) {
	var out []Dim
	for it := (ParsedKey{Dims: dims}).DimIter(); it.Len() > 0; {
		var d Dim
		if !it.NextInto(&d.Key, &d.Value) {
			return nil, false
		}
		out = append(out, d)
	}
	return out, true
}
