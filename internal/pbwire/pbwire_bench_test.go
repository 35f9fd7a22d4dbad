package pbwire

import (
	"fmt"
	"math"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Sink keeps the benchmarks' results alive.
var Sink uint64

// protowireVarint is Varint built on protowire.ConsumeVarint, wrapped
// where Java differs (a tenth byte from 2 to 0x7f): the alternative that
// BenchmarkVarint measures varintLong against.
func protowireVarint(b []byte, i int) (uint64, int) {
	if i < len(b) && b[i] < 0x80 {
		return uint64(b[i]), i + 1
	}
	return protowireVarintLong(b, i)
}

//go:noinline
func protowireVarintLong(b []byte, i int) (uint64, int) {
	v, n := protowire.ConsumeVarint(b[i:])
	if n > 0 {
		return v, i + n
	}
	if len(b)-i < 10 {
		return 0, -int(Truncated)
	}
	if c := b[i+9]; c < 0x80 {
		// protowire refuses a tenth byte above 1; Java drops its bits.
		var x uint64
		for k := 0; k < 9; k++ {
			x |= uint64(b[i+k]&0x7f) << (7 * k)
		}
		return x | uint64(c)<<63, i + 10
	}
	return 0, -int(MalformedVarint)
}

// varints returns a buffer of 4096 varints of n bytes each.
func varints(n int) []byte {
	var b []byte
	for k := range 4096 {
		v := uint64(k) & 0x7f
		if n > 1 {
			top := uint(min(7*(n-1), 63))
			v = uint64(k)%(1<<top) | 1<<top
		}
		b = protowire.AppendVarint(b, v)
	}
	if len(b) != 4096*n {
		panic("BUG: varints of the wrong size")
	}
	return b
}

// BenchmarkVarint: Varint (a hand-written slow path, unrolled when ten
// bytes are left) against the same built on protowire.ConsumeVarint, over
// varints of 1, 2, 6 (a timestamp in ms) and 10 bytes (a negative int64).
func BenchmarkVarint(b *testing.B) {
	for _, n := range []int{1, 2, 6, 10} {
		buf := varints(n)
		for _, c := range []struct {
			name string
			f    func([]byte, int) (uint64, int)
		}{{"pbwire", Varint}, {"protowire", protowireVarint}} {
			b.Run(fmt.Sprintf("%s/%dB", c.name, n), func(b *testing.B) {
				b.SetBytes(int64(len(buf)))
				var s uint64
				for range b.N {
					for i := 0; i < len(buf); {
						v, j := c.f(buf, i)
						s += v
						i = j
					}
				}
				Sink += s
			})
		}
	}
}

// benchMessage returns a message shaped like the client protocol's and
// OTLP's: records of a timestamp, a few string pairs, and metrics with a
// name, packed doubles and a sub-message of varints and doubles.
func benchMessage(records int) []byte {
	str := func(b []byte, num protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
	}
	msg := func(b []byte, num protowire.Number, m []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), m)
	}
	var out []byte
	for r := range records {
		var rec []byte
		rec = protowire.AppendVarint(protowire.AppendTag(rec, 1, protowire.VarintType), 1513239602974+uint64(r))
		for _, kv := range [][2]string{{"host", "web-007.us-east-1.example.com"}, {"service", "checkout"}, {"cluster", "prod-us-east-1"}} {
			rec = msg(rec, 2, str(str(nil, 1, kv[0]), 2, kv[1]))
		}
		for m := range 5 {
			var met []byte
			met = str(met, 1, "service/checkout/http/request_latency")
			var p []byte
			for k := range 3 {
				p = protowire.AppendFixed64(p, math.Float64bits(float64(m*k)+0.5))
			}
			met = msg(met, 2, p)
			var st []byte
			st = protowire.AppendVarint(protowire.AppendTag(st, 1, protowire.VarintType), 130944)
			st = protowire.AppendVarint(protowire.AppendTag(st, 2, protowire.VarintType), 3)
			st = protowire.AppendFixed64(protowire.AppendTag(st, 3, protowire.Fixed64Type), math.Float64bits(7.5))
			met = msg(met, 3, st)
			rec = msg(rec, 3, met)
		}
		out = msg(out, 1, rec)
	}
	return out
}

// walkReader reads benchMessage with Reader; it returns a checksum. With
// short, it takes length-delimited fields through NextShortBytes first.
func walkReader(b []byte, ds []float64, vs []uint64, short bool) uint64 {
	var sum uint64
	r := NewReader(b)
	for r.More() {
		f := r.Next()
		if f.Tag != 1<<3|BytesType {
			continue
		}
		rec := r.Message(f)
		for rec.More() {
			var f Field
			ok := false
			if short {
				f, ok = rec.NextShortBytes()
			}
			if !ok {
				f = rec.Next()
			}
			switch f.Tag {
			case 1<<3 | VarintType:
				sum += f.Uint64()
			case 2<<3 | BytesType:
				kv := rec.Message(f)
				for kv.More() {
					var f Field
					ok := false
					if short {
						f, ok = kv.NextShortBytes()
					}
					if !ok {
						f = kv.Next()
					}
					if f.Tag == 1<<3|BytesType || f.Tag == 2<<3|BytesType {
						s, _ := kv.String(f)
						sum += uint64(len(s))
					}
				}
			case 3<<3 | BytesType:
				met := rec.Message(f)
				for met.More() {
					var f Field
					ok := false
					if short {
						f, ok = met.NextShortBytes()
					}
					if !ok {
						f = met.Next()
					}
					switch f.Tag {
					case 1<<3 | BytesType:
						s, _ := met.String(f)
						sum += uint64(len(s))
					case 2<<3 | BytesType:
						ds, _ = met.AppendDoubles(ds[:0], f)
						sum += uint64(len(ds))
					case 3<<3 | BytesType:
						st := met.Message(f)
						for st.More() {
							f := st.Next()
							sum += f.Uint64()
						}
					}
				}
			}
		}
	}
	return sum
}

// walkLoop reads benchMessage as a decoder's hand-written loops do, on the
// primitives and their inlined fast paths (errors are not reported here).
func walkLoop(b []byte) uint64 {
	var sum uint64
	for i := 0; i < len(b); {
		t, j, ok := ShortTag(b, i)
		if !ok {
			return 0
		}
		s, e, ok := ShortLen(b, j)
		if !ok {
			if s, e = Len(b, j); e < 0 {
				return 0
			}
		}
		if t == 1<<3|BytesType {
			sum += walkLoopRecord(b[:e], s)
		}
		i = e
	}
	return sum
}

func walkLoopRecord(b []byte, i int) uint64 {
	var sum uint64
	for i < len(b) {
		t, j, ok := ShortTag(b, i)
		if !ok {
			if t, j = Tag(b, i); j < 0 {
				return 0
			}
		}
		switch t {
		case 1<<3 | VarintType:
			v, k := Varint(b, j)
			if k < 0 {
				return 0
			}
			sum, i = sum+v, k
			continue
		case 2<<3 | BytesType, 3<<3 | BytesType:
			s, e, ok := ShortLen(b, j)
			if !ok {
				if s, e = Len(b, j); e < 0 {
					return 0
				}
			}
			if t == 2<<3|BytesType {
				sum += walkLoopStrings(b[:e], s)
			} else {
				sum += walkLoopMetric(b[:e], s)
			}
			i = e
			continue
		}
		k, _ := Skip(b, i, j, t, 1)
		if k < 0 {
			return 0
		}
		i = k
	}
	return sum
}

func walkLoopStrings(b []byte, i int) uint64 {
	var sum uint64
	for i < len(b) {
		t, j, ok := ShortTag(b, i)
		if !ok {
			return 0
		}
		if t == 1<<3|BytesType || t == 2<<3|BytesType {
			s, e := String(b, j)
			if e < 0 {
				return 0
			}
			sum, i = sum+uint64(e-s), e
			continue
		}
		k, _ := Skip(b, i, j, t, 2)
		if k < 0 {
			return 0
		}
		i = k
	}
	return sum
}

func walkLoopMetric(b []byte, i int) uint64 {
	var sum uint64
	for i < len(b) {
		t, j, ok := ShortTag(b, i)
		if !ok {
			return 0
		}
		switch t {
		case 1<<3 | BytesType:
			s, e := String(b, j)
			if e < 0 {
				return 0
			}
			sum, i = sum+uint64(e-s), e
			continue
		case 2<<3 | BytesType, 3<<3 | BytesType:
			s, e, ok := ShortLen(b, j)
			if !ok {
				if s, e = Len(b, j); e < 0 {
					return 0
				}
			}
			if t == 2<<3|BytesType {
				if (e-s)&7 != 0 {
					return 0
				}
				sum += uint64((e - s) / 8)
			} else {
				for q := s; q < e; {
					t, j, ok := ShortTag(b, q)
					if !ok {
						return 0
					}
					var v uint64
					var k int
					if t&7 == Fixed64Type {
						v, k = Fixed64(b[:e], j)
					} else {
						v, k = Varint(b[:e], j)
					}
					if k < 0 {
						return 0
					}
					sum, q = sum+v, k
				}
			}
			i = e
			continue
		}
		k, _ := Skip(b, i, j, t, 2)
		if k < 0 {
			return 0
		}
		i = k
	}
	return sum
}

// walkProtowire reads benchMessage with protowire's Consume functions, as
// a decoder written on them would (Java's rules aside).
func walkProtowire(b []byte) uint64 {
	var sum uint64
	// kind: 0 the body, 1 a record, 2 a string pair, 3 a metric, 4 its
	// statistics.
	var walk func(b []byte, kind int) bool
	walk = func(b []byte, kind int) bool {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			switch typ {
			case protowire.VarintType:
				v, n := protowire.ConsumeVarint(b)
				if n < 0 {
					return false
				}
				sum, b = sum+v, b[n:]
			case protowire.Fixed64Type:
				v, n := protowire.ConsumeFixed64(b)
				if n < 0 {
					return false
				}
				sum, b = sum+v, b[n:]
			case protowire.BytesType:
				v, n := protowire.ConsumeBytes(b)
				if n < 0 {
					return false
				}
				b = b[n:]
				switch {
				case kind == 0 && num == 1:
					walk(v, 1)
				case kind == 1 && num == 2:
					walk(v, 2)
				case kind == 1 && num == 3:
					walk(v, 3)
				case kind == 3 && num == 3:
					walk(v, 4)
				case kind == 3 && num == 2:
					sum += uint64(len(v) / 8)
				default:
					if !utf8.Valid(v) {
						return false
					}
					sum += uint64(len(v))
				}
			default:
				n := protowire.ConsumeFieldValue(num, typ, b)
				if n < 0 {
					return false
				}
				b = b[n:]
			}
		}
		return true
	}
	walk(b, 0)
	return sum
}

// TestWalks: the benchmark's three readers read the same.
func TestWalks(t *testing.T) {
	b := benchMessage(3)
	r, rs, l, p := walkReader(b, nil, nil, false), walkReader(b, nil, nil, true), walkLoop(b), walkProtowire(b)
	if r != rs || r != l || r != p || r == 0 {
		t.Fatalf("Reader %d (with NextShortBytes %d), loop %d, protowire %d", r, rs, l, p)
	}
}

// BenchmarkRead: one body of 500 records read with Reader (Next for every
// field, or NextShortBytes first), with a decoder's loops on the
// primitives, and with protowire; fields/s counts every field at every
// level.
func BenchmarkRead(b *testing.B) {
	msg := benchMessage(500)
	fields := 0
	var count func(r Reader)
	count = func(r Reader) {
		for r.More() {
			f := r.Next()
			fields++
			if f.Type() == BytesType && len(r.Bytes(f)) > 0 && r.Bytes(f)[0] != 'w' {
				count(r.Message(f))
			}
		}
	}
	count(NewReader(msg))
	ds := make([]float64, 0, 64)
	for _, c := range []struct {
		name string
		f    func() uint64
	}{
		{"reader", func() uint64 { return walkReader(msg, ds, nil, false) }},
		{"reader-short", func() uint64 { return walkReader(msg, ds, nil, true) }},
		{"loop", func() uint64 { return walkLoop(msg) }},
		{"protowire", func() uint64 { return walkProtowire(msg) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for range b.N {
				Sink += c.f()
			}
			b.ReportMetric(float64(fields)*float64(b.N)/b.Elapsed().Seconds(), "fields/s")
		})
	}
}
