package clientpb

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A tiny protobuf writer for test payloads: each helper returns one encoded
// field; msg concatenates fields into a message body.

func msg(fields ...[]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, f...)
	}
	return b
}

func fBytes(num int, v []byte) []byte {
	b := protowire.AppendTag(nil, protowire.Number(num), protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func fStr(num int, s string) []byte { return fBytes(num, []byte(s)) }

func fVarint(num int, v uint64) []byte {
	b := protowire.AppendTag(nil, protowire.Number(num), protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func fDouble(num int, v float64) []byte {
	b := protowire.AppendTag(nil, protowire.Number(num), protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

func fPacked(num int, vs ...float64) []byte {
	var p []byte
	for _, v := range vs {
		p = protowire.AppendFixed64(p, math.Float64bits(v))
	}
	return fBytes(num, p)
}

// raw returns bytes as they are (for malformed payloads).
func raw(b ...byte) []byte { return b }

var testID = []byte{0x14, 0x29, 0x49, 0xd2, 0xc0, 0xfc, 0x46, 0x9e, 0x99, 0x58, 0x7d, 0x2b, 0xe2, 0xc4, 0x9f, 0xa5}

// V3 builders.

func v3Ident(s string) []byte { return fStr(1, s) }

func v3Dim(k, v string) []byte { return fBytes(4, msg(fBytes(1, v3Ident(k)), fBytes(2, v3Ident(v)))) }

func v3Samples(name string, vs ...float64) []byte {
	return fBytes(5, msg(fBytes(1, v3Ident(name)), fBytes(2, fPacked(1, vs...))))
}

type hentry struct {
	bucket int64
	count  uint64
}

func v3Hist(min, max, sum float64, es ...hentry) []byte {
	var f [][]byte
	for _, e := range es {
		f = append(f, fBytes(1, msg(fVarint(1, uint64(e.bucket)), fVarint(2, e.count))))
	}
	f = append(f, fVarint(2, 7), fDouble(3, min), fDouble(4, max), fDouble(5, sum))
	return msg(f...)
}

func v3Stats(name string, hist []byte) []byte {
	return fBytes(5, msg(fBytes(1, v3Ident(name)), fBytes(2, fBytes(2, hist))))
}

func v3Record(fields ...[]byte) []byte {
	return fBytes(1, msg(append([][]byte{fBytes(1, testID), fVarint(2, 1513239602974)}, fields...)...))
}

// V1/V2 builders.

func v12Pair(num int, k, v string) []byte { return fBytes(num, msg(fStr(1, k), fStr(2, v))) }

// v1Qty is a V1 DoubleQuantity with an optional unit (typ, scale < 0: unset).
func v1Qty(v float64, typ, scale int) []byte {
	f := fDouble(1, v)
	if typ >= 0 || scale >= 0 {
		f = msg(f, fBytes(2, unitMsg(typ, scale)))
	}
	return fBytes(2, f)
}

func unitMsg(typ, scale int) []byte {
	var u []byte
	if typ >= 0 {
		u = msg(u, fVarint(1, uint64(typ)))
	}
	if scale >= 0 {
		u = msg(u, fVarint(2, uint64(scale)))
	}
	return fBytes(1, u) // CompoundUnit.numerator
}

// v2Qty is a V2 Quantity with a double value and an optional unit.
func v2Qty(v float64, typ, scale int) []byte {
	f := fDouble(1, v)
	if typ >= 0 || scale >= 0 {
		f = msg(f, fBytes(3, unitMsg(typ, scale)))
	}
	return fBytes(2, f)
}

func v12Metric(num int, name string, qs ...[]byte) []byte {
	return fBytes(num, msg(append([][]byte{fStr(1, name)}, qs...)...))
}

const (
	v12Gauges   = 3
	v12Counters = 4
	v12Timers   = 5
)

func v12Record(fields ...[]byte) []byte {
	return fBytes(1, msg(append([][]byte{fBytes(6, testID), fVarint(7, 1513239602974)}, fields...)...))
}
