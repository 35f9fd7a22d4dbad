package sample

import (
	"bytes"
	"testing"
)

// FuzzParseKey: ParseKey never panics, and whatever it accepts is exactly
// the canonical encoding of what it parsed (so one series has one key);
// SplitKey never panics, and cuts an accepted key where ParseKey does.
func FuzzParseKey(f *testing.F) {
	f.Add(must(AppendKey(nil, KindTimer, []byte("lat"), dims("a", "1", "b", "2"))))
	f.Add(must(AppendKey(nil, KindNone, nil, nil)))
	f.Add([]byte{3, 0xff})
	f.Fuzz(func(t *testing.T, key []byte) {
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
