package otlp

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomad/mad/ingest/otlp/otlpref"
	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/testseed"
)

// The decoder against otlpref, the slow reference built on the generated
// types (and Java's wire reading): every body decodes to the same samples,
// counts and stats, or is refused by both with the same kind.

// kindOfErr is the kind of a decoding error, nil for none.
func kindOfErr(err error) error {
	for _, k := range []error{sample.ErrMalformed, sample.ErrTooLarge, sample.ErrMADFails} {
		if errors.Is(err, k) {
			return k
		}
	}
	return err
}

func checkDifferential(t testing.TB, d *Decoder, body []byte) {
	t.Helper()
	var got, want sample.Batch
	c, err := d.Decode(body, 7, func(uint64) *sample.Batch { return &got })
	wc, wst, werr := otlpref.Decode(body, 7, &want)
	if kindOfErr(err) != kindOfErr(werr) {
		t.Fatalf("body %x: the decoder says %v; the reference %v", body, err, werr)
	}
	if err != nil {
		var de *sample.DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("error %T %v is no *sample.DecodeError", err, err)
		}
		return
	}
	checkHashes(t, &got)
	st := d.Stats()
	gs := otlpref.Stats{Replaced: st.Replaced, NonFinite: st.NonFinite, Empty: st.Empty, Unsupported: st.Unsupported, TooLong: st.TooLong}
	if c != wc || gs != wst {
		t.Fatalf("body %x: the decoder counts %+v %+v; the reference %+v %+v", body, c, gs, wc, wst)
	}
	if g, w := otlpref.Render(&got), otlpref.Render(&want); !slices.Equal(g, w) {
		t.Fatalf("body %x: the decoder and the reference differ\ndecoder:\n%s\nreference:\n%s", body, strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
	if left := st.Replaced + st.Rejected(); st.Points != c.Samples+left {
		t.Fatalf("points %d ≠ samples %d + replaced and left out %d", st.Points, c.Samples, left)
	}
}

// checkHashes fails unless every sample of b carries its key's hash (the
// decoder keeps streams' hashes in its cache).
func checkHashes(t testing.TB, b *sample.Batch) {
	t.Helper()
	for i := range b.Samples {
		if s := &b.Samples[i]; s.Hash != sample.Hash(b.Key(s)) {
			t.Fatalf("sample %d: hash %x; its key %q hashes to %x", i, s.Hash, b.Key(s), sample.Hash(b.Key(s)))
		}
	}
}

func TestMADVector(t *testing.T) {
	checkDifferential(t, NewDecoder(Config{}), madVector(t))
}

// TestDifferentialRandom: requests of every rule (otlpref.Random), the
// same decoder reused across them (its caches and tables must not leak).
func TestDifferentialRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 0))
	d := NewDecoder(Config{})
	n := 3000
	if testing.Short() {
		n = 300
	}
	data := make([]byte, 512)
	for i := 0; i < n; i++ {
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		body := otlpref.Random(data[:r.IntN(len(data))])
		checkDifferential(t, d, body)
		for range 3 {
			checkDifferential(t, d, corrupt(body, r.Uint64()))
		}
	}
}

// corrupt returns a copy of a valid body with one byte changed (where and
// how drawn from x): mostly a wire failure somewhere in the request, now
// and then a field renumbered (a oneof member that another replaces) or a
// string made invalid.
func corrupt(body []byte, x uint64) []byte {
	b := slices.Clone(body)
	if len(b) > 0 {
		b[int(x%uint64(len(b)))] ^= byte(x>>32) | 1
	}
	return b
}

// FuzzDecode: raw bodies and the structured requests otlpref.Random
// builds from them.
//
//	go test ./ingest/otlp -run '^$' -fuzz '^FuzzDecode$' -fuzztime 5m -fuzzminimizetime 3s
func FuzzDecode(f *testing.F) {
	f.Add(madVector(f))
	f.Add(workload(3, "gauge"))
	f.Add(workload(3, "histogram"))
	f.Add([]byte{})
	d := NewDecoder(Config{})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDifferential(t, d, data)
		body := otlpref.Random(data)
		checkDifferential(t, d, body)
		if len(data) >= 8 {
			checkDifferential(t, d, corrupt(body, binary.LittleEndian.Uint64(data)))
		}
	})
}

// TestJavaDouble holds javanum.AppendDouble to otlpref's independent
// Double.toString.
func TestJavaDouble(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	for i := 0; i < 100000; i++ {
		var v float64
		switch i % 3 {
		case 0:
			v = r.NormFloat64() * 1e6
		case 1:
			v = float64(r.Int64N(1e9)) / 1e3
		default:
			v = mathFromBits(r.Uint64())
		}
		if got, want := string(javanum.AppendDouble(nil, v)), otlpref.JavaDouble(v); got != want {
			t.Fatalf("AppendDouble(%v) = %q; the reference %q", v, got, want)
		}
	}
}

func mathFromBits(b uint64) float64 { return math.Float64frombits(b) }
