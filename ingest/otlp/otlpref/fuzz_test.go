package otlpref

import (
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// FuzzDecode: any body decodes or is refused with a DecodeError, without
// panicking, the same way twice; a batch holds what Counts says; a request
// Random builds is never malformed.
func FuzzDecode(f *testing.F) {
	raw, err := os.ReadFile("testdata/grpcrequest1.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw[5:])
	f.Add([]byte{})
	f.Add([]byte("\x03\x80\x41\x00\xff\x10\x07\x02\x09\x01\x44\x90\x03\x05\x06\x01"))
	f.Add(gaugeOf(at5, v2p5))
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, body := range [][]byte{data, Random(data)} {
			var b1, b2 sample.Batch
			c1, st1, err1 := Decode(body, 3, &b1)
			c2, st2, err2 := Decode(body, 3, &b2)
			if c1 != c2 || st1 != st2 || (err1 == nil) != (err2 == nil) {
				t.Fatalf("two decodings differ: %v %v %v; %v %v %v", c1, st1, err1, c2, st2, err2)
			}
			if err1 != nil {
				var de *sample.DecodeError
				if !errors.As(err1, &de) || !errors.Is(err1, sample.ErrMalformed) && !errors.Is(err1, sample.ErrMADFails) {
					t.Fatalf("got error %T %v", err1, err1)
				}
				if i == 1 && errors.Is(err1, sample.ErrMalformed) {
					t.Fatalf("Random built a malformed request: %v", err1)
				}
				continue
			}
			r1, r2 := Render(&b1), Render(&b2)
			if !slices.Equal(r1, r2) || len(r1) != c1.Samples || c1.Records > c1.Samples {
				t.Fatalf("got %d lines, %d lines the second time, counts %+v", len(r1), len(r2), c1)
			}
		}
	})
}

// FuzzJavaDouble: JavaDouble reads back to its double and has strconv's
// shortest digits, or (when those are one digit) the closest of one or two.
func FuzzJavaDouble(f *testing.F) {
	for _, v := range []float64{0, 1, 1e7, 0.001, 4.9e-324, math.MaxFloat64, 1e23, 0.1} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		s := JavaDouble(v)
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(back) != bits && !(math.IsNaN(v) && math.IsNaN(back)) {
			t.Fatalf("JavaDouble(%v) = %q reads back as %v, %v", v, s, back, err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
			return
		}
		gd, jd := sigDigits(strconv.FormatFloat(v, 'e', -1, 64)), sigDigits(s)
		if len(gd) >= 2 && jd != gd || len(gd) == 1 && len(jd) > 2 {
			t.Fatalf("JavaDouble(%v) = %q; strconv's shortest digits are %s", v, s, gd)
		}
	})
}
