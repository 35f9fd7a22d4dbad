package sample

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzParseKey: ParseKey never panics, and whatever it accepts is exactly
// the canonical encoding of what it parsed (so one series has one key);
// SplitKey never panics, and cuts an accepted key where ParseKey does.
func FuzzParseKey(f *testing.F) {
	f.Add(must(AppendKey(nil, KindTimer, []byte("lat"), dims("a", "1", "b", "2"))))
	f.Add(must(AppendKey(nil, KindNone, nil, nil)))
	f.Add([]byte{3, 0xff})
	f.Add(append([]byte{0x80, 0x01}, bytes.Repeat([]byte("n"), 128)...)) // a name part of 128 bytes
	f.Fuzz(func(t *testing.T, key []byte) {
		// readBytes, with its one-byte fast path, against a reading that
		// knows only the varint rule.
		v, rest, ok := readBytes(key)
		n, w := binary.Uvarint(key)
		wantOK := w > 0 && !(w > 1 && key[w-1] == 0) && n <= uint64(len(key)-w)
		if ok != wantOK || ok && (!bytes.Equal(v, key[w:w+int(n)]) || !bytes.Equal(rest, key[w+int(n):])) {
			t.Fatalf("readBytes(%q) = %q, %q, %v; want ok %v", key, v, rest, ok, wantOK)
		}
		// NameFromPart and ShortNameFromPart against the same reading:
		// a name part is one length-prefixed name and nothing after it.
		checkNameFromPart(t, key)
		// AppendDims, with its one-byte fast path, against DimIter, on
		// the input read as a dimension section, after a dimension
		// already in dst.
		checkAppendDims(t, key)
		namePart, dimsPart, split := SplitKey(key)
		if split && len(namePart)+len(dimsPart) != len(key)-1 {
			t.Fatalf("SplitKey(%q) = %q, %q: not the key after its kind", key, namePart, dimsPart)
		}
		p, err := ParseKey(key)
		if err != nil {
			return
		}
		if !split || !bytes.Equal(namePart, p.NamePart(key)) || !bytes.Equal(dimsPart, p.Dims) {
			t.Fatalf("SplitKey(%q) = %q, %q, %v; ParseKey cut %q, %q", key, namePart, dimsPart, split, p.NamePart(key), p.Dims)
		}
		var ds []Dim
		it := p.DimIter()
		for d, ok := it.Next(); ok; d, ok = it.Next() {
			ds = append(ds, d)
		}
		if SortDims(ds) >= 0 {
			t.Fatalf("accepted key %q has duplicate dimensions", key)
		}
		again, err := AppendKey(nil, p.Kind, p.Name, ds)
		if err != nil || !bytes.Equal(again, key) {
			t.Fatalf("accepted key %q re-encodes as %q", key, again)
		}
	})
}

// checkNameFromPart holds NameFromPart(part) to a reading that knows only
// the varint rule (the name is the whole part after its length), and
// ShortNameFromPart to NameFromPart where the length is one byte below 128
// (and to false elsewhere).
func checkNameFromPart(t *testing.T, part []byte) {
	t.Helper()
	n, w := binary.Uvarint(part)
	wantOK := w > 0 && !(w > 1 && part[w-1] == 0) && n == uint64(len(part)-w)
	name, ok := NameFromPart(part)
	if ok != wantOK || ok && !bytes.Equal(name, part[w:]) {
		t.Fatalf("NameFromPart(%q) = %q, %v; want ok %v", part, name, ok, wantOK)
	}
	short, sok := ShortNameFromPart(part)
	if wantShort := wantOK && w == 1; sok != wantShort || sok && !bytes.Equal(short, name) {
		t.Fatalf("ShortNameFromPart(%q) = %q, %v; want ok %v (NameFromPart %q)", part, short, sok, wantShort, name)
	}
}

// checkAppendDims holds AppendDims(dst, section) to what DimIter reads of
// section: the same dimensions after dst's, or, when DimIter cannot read
// them all, dst as it was given.
func checkAppendDims(t *testing.T, section []byte) {
	first := Dim{Key: []byte("k"), Value: []byte("v")}
	got, ok := AppendDims([]Dim{first}, section)
	var want []Dim
	wantOK := true
	it := ParsedKey{Dims: section}.DimIter()
	for it.Len() > 0 {
		var k, v []byte
		if !it.NextInto(&k, &v) {
			wantOK = false
			break
		}
		want = append(want, Dim{Key: k, Value: v})
	}
	if ok != wantOK {
		t.Fatalf("AppendDims(%q) ok = %v; DimIter read it all: %v", section, ok, wantOK)
	}
	if !ok {
		want = nil
	}
	if len(got) != 1+len(want) || !bytes.Equal(got[0].Key, first.Key) || !bytes.Equal(got[0].Value, first.Value) {
		t.Fatalf("AppendDims(%q) = %q; want %q after %q", section, got, want, first)
	}
	for i, d := range want {
		if g := got[1+i]; !bytes.Equal(g.Key, d.Key) || !bytes.Equal(g.Value, d.Value) {
			t.Fatalf("AppendDims(%q) dimension %d = %q; want %q", section, i, g, d)
		}
	}
}
