package clientpb

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// errCase is a body and what MAD answers: 400 (sample.ErrMalformed), 500 (a
// short id, sample.ErrMADFails) or 200.
type errCase struct {
	name    string
	version int
	body    []byte
	want    int
	// inErr, if set, must appear in the error's text.
	inErr string
}

func nested(depth int) []byte {
	var b []byte
	for range depth {
		b = append(b, 0x1b) // start group, field 3
	}
	for range depth {
		b = append(b, 0x1c) // end group, field 3
	}
	return b
}

var (
	badUTF8  = string([]byte{'a', 0xff, 'b'})
	surrogte = string([]byte{0xed, 0xa0, 0x80}) // U+D800 encoded: invalid in Java and Go
	longVar  = raw(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)
)

func errCases() []errCase {
	rec3 := v3Record(v3Samples("m", 1))
	rec12 := v12Record(v12Metric(v12Counters, "c", v1Qty(1, -1, -1)))
	shortID3 := fBytes(1, msg(fBytes(1, testID[:15]), v3Samples("m", 1)))
	shortID12 := fBytes(1, msg(fBytes(6, testID[:8]), v12Metric(v12Counters, "c", v1Qty(1, -1, -1))))
	dupDim3 := v3Record(v3Dim("host", "a"), v3Dim("host", "a"), v3Samples("m", 1))
	return []errCase{
		// Wire format (InvalidProtocolBufferException), through every level.
		{"v3 truncated record", 3, raw(0x0a, 0x05, 0x00), 400, "truncated"},
		{"v3 truncated tag varint", 3, raw(0x80), 400, "truncated"},
		{"v3 malformed varint", 3, msg(raw(0x08), bytes.Repeat([]byte{0xff}, 10), raw(0x01)), 400, "malformed varint"},
		{"v3 field number 0", 3, raw(0x00), 400, "invalid tag"},
		{"v3 field number 0 wire type 2", 3, raw(0x02, 0x00), 400, "invalid tag"},
		{"v3 wire type 6", 3, raw(0x0e), 400, "invalid wire type"},
		{"v3 wire type 7 in record", 3, fBytes(1, raw(0x0f)), 400, "invalid wire type"},
		{"v3 negative length", 3, raw(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), 400, "negative length"},
		{"v3 end group at top level", 3, raw(0x0c), 400, "end-group"},
		{"v3 end group in record", 3, fBytes(1, msg(fBytes(1, testID), raw(0x2c))), 400, "end-group"},
		{"v3 group mismatch", 3, raw(0x13, 0x1c), 400, "end-group"},
		{"v3 group not closed", 3, raw(0x13, 0x08, 0x01), 400, "end-group"},
		{"v3 groups nested 101 deep", 3, nested(101), 400, "nested"},
		{"v3 groups nested 100 deep in record", 3, v3Record(v3Samples("m", 1), nested(100)), 400, "nested"},
		{"v3 groups nested 99 deep in record", 3, v3Record(v3Samples("m", 1), nested(99)), 200, ""},
		{"v3 groups nested 100 deep", 3, msg(nested(100), v3Record(v3Samples("m", 1))), 200, ""},
		{"v3 invalid UTF-8 metric name", 3, v3Record(v3Samples(badUTF8, 1)), 400, "UTF-8"},
		{"v3 surrogate in dimension", 3, v3Record(v3Dim("k", surrogte), v3Samples("m", 1)), 400, "UTF-8"},
		{"v3 invalid UTF-8 in unset-data entry", 3, v3Record(fBytes(5, fBytes(1, v3Ident(badUTF8)))), 400, "UTF-8"},
		{"v3 packed samples 12 bytes", 3, v3Record(fBytes(5, msg(fBytes(1, v3Ident("m")), fBytes(2, fBytes(1, make([]byte, 12)))))), 400, "multiple of 8"},
		{"v3 truncated sample", 3, v3Record(fBytes(5, msg(fBytes(1, v3Ident("m")), fBytes(2, raw(0x09, 1, 2, 3))))), 400, "truncated"},
		{"v3 truncated min", 3, v3Record(fBytes(5, msg(fBytes(1, v3Ident("m")), fBytes(2, fBytes(2, raw(0x19, 1)))))), 400, "truncated"},
		{"v3 malformed bucket", 3, v3Record(fBytes(5, msg(fBytes(1, v3Ident("m")), fBytes(2, fBytes(2, fBytes(1, msg(raw(0x08), bytes.Repeat([]byte{0x80}, 10)))))))), 400, "malformed"},
		{"v3 wire error after a good record", 3, msg(rec3, rec3, raw(0x0a, 0x05)), 400, "record 2"},
		{"v3 wire error in unknown field", 3, v3Record(fBytes(9, nil), raw(0x7a, 0x03, 0x01)), 400, "truncated"},

		// Records MAD cannot build (IllegalArgumentException → 400).
		{"v3 dimension name not set", 3, v3Record(fBytes(4, fBytes(2, v3Ident("v"))), v3Samples("m", 1)), 400, "required identifier"},
		{"v3 dimension value not set", 3, v3Record(fBytes(4, msg(fBytes(1, v3Ident("k")), fBytes(2, nil))), v3Samples("m", 1)), 400, "required identifier"},
		{"v3 dimension identifier with unknown field only", 3, v3Record(fBytes(4, msg(fBytes(1, fVarint(2, 1)), fBytes(2, v3Ident("v")))), v3Samples("m", 1)), 400, "required identifier"},
		{"v3 duplicate dimension", 3, dupDim3, 400, `duplicate dimension name "host"`},
		{"v3 duplicate dimension, other values", 3, v3Record(v3Dim("host", "a"), v3Dim("host", "b")), 400, "duplicate dimension"},
		{"v3 metric name not set", 3, v3Record(fBytes(5, fBytes(2, fPacked(1, 1)))), 400, "required identifier"},
		{"v3 metric name not set, data not set", 3, v3Record(v3Samples("m", 1), fBytes(5, nil)), 400, "required identifier"},
		{"v3 metric name empty identifier", 3, v3Record(fBytes(5, msg(fBytes(1, nil), fBytes(2, fPacked(1, 1))))), 400, "required identifier"},

		// A short id: MAD's BufferUnderflowException, a 500.
		{"v3 no id", 3, fBytes(1, v3Samples("m", 1)), 500, ""},
		{"v3 15-byte id", 3, shortID3, 500, ""},
		{"v3 id as varint is an unknown field", 3, fBytes(1, msg(fVarint(1, 5), v3Samples("m", 1))), 500, ""},
		// Which comes first: the whole body is parsed before any record is
		// built, so a wire error anywhere wins; otherwise the first record
		// that fails decides.
		{"v3 short id then wire error", 3, msg(shortID3, raw(0x0a, 0x05)), 400, "truncated"},
		{"v3 short id then bad record", 3, msg(shortID3, dupDim3), 500, ""},
		{"v3 bad record then short id", 3, msg(rec3, dupDim3, shortID3), 400, "record 1"},
		{"v3 id checked before dimensions", 3, fBytes(1, msg(v3Dim("a", "b"), v3Dim("a", "b"))), 500, ""},

		// V1/V2 wire format.
		{"v1 truncated", 1, raw(0x0a, 0x02, 0x32), 400, "truncated"},
		{"v2 wire type 7", 2, fBytes(1, raw(0x37)), 400, "invalid wire type"},
		{"v1 truncated value", 1, v12Record(fBytes(v12Counters, msg(fStr(1, "c"), fBytes(2, raw(0x09, 0, 0))))), 400, "truncated"},
		{"v2 truncated unit", 2, v12Record(fBytes(v12Counters, msg(fStr(1, "c"), fBytes(2, msg(fDouble(1, 1), raw(0x1a, 0x04, 0x0a)))))), 400, "truncated"},
		{"v2 malformed enum", 2, v12Record(v12Metric(v12Timers, "t", fBytes(2, msg(fDouble(1, 1), fBytes(3, fBytes(1, msg(raw(0x08), bytes.Repeat([]byte{0x80}, 10)))))))), 400, "malformed"},
		{"v1 invalid UTF-8 metric name", 1, v12Record(v12Metric(v12Gauges, badUTF8, v1Qty(1, -1, -1))), 400, "UTF-8"},
		{"v2 invalid UTF-8 dimension", 2, v12Record(v12Pair(2, "k", badUTF8)), 400, "UTF-8"},
		{"v1 invalid UTF-8 annotation", 1, v12Record(v12Pair(1, surrogte, "v")), 400, "UTF-8"},
		{"v1 groups nested 101 deep", 1, nested(101), 400, "nested"},
		{"v2 end group in quantity", 2, v12Record(v12Metric(v12Timers, "t", fBytes(2, raw(0x0c)))), 400, "end-group"},
		{"v2 wire error after a short id", 2, msg(shortID12, raw(0x0a, 0x05)), 400, "truncated"},

		// V1/V2 records MAD cannot build.
		{"v1 duplicate annotation", 1, v12Record(v12Pair(1, "a", "x"), v12Pair(1, "a", "x"), v12Metric(v12Counters, "c", v1Qty(1, -1, -1))), 400, "duplicate annotation"},
		{"v2 duplicate dimension", 2, v12Record(v12Pair(2, "host", "a"), v12Pair(2, "host", "b")), 400, "duplicate dimension"},
		{"v1 duplicate counter", 1, v12Record(v12Metric(v12Counters, "c", v1Qty(1, -1, -1)), v12Metric(v12Counters, "c", v1Qty(2, -1, -1))), 400, "duplicate metric"},
		{"v2 same name counter and timer", 2, v12Record(v12Metric(v12Counters, "c", v2Qty(1, -1, -1)), v12Metric(v12Timers, "c", v2Qty(1, -1, -1))), 400, "duplicate metric"},
		{"v2 duplicate metrics without samples", 2, v12Record(v12Metric(v12Gauges, "g"), v12Metric(v12Gauges, "g")), 400, "duplicate metric"},
		{"v1 duplicate empty names", 1, v12Record(v12Metric(v12Gauges, ""), fBytes(v12Timers, nil)), 400, "duplicate metric"},
		{"v1 unset scale is YOCTO", 1, v12Record(v12Metric(v12Timers, "t", v1Qty(1, 0, -1))), 400, `"YOCTOSECOND"`},
		{"v1 KILOSECOND", 1, v12Record(v12Metric(v12Timers, "t", v1Qty(1, 0, 12))), 400, `"KILOSECOND"`},
		{"v1 ROTATION", 1, v12Record(v12Metric(v12Gauges, "g", v1Qty(1, 7, 28))), 400, `"ROTATION"`},
		{"v1 CELSIUS", 1, v12Record(v12Metric(v12Gauges, "g", v1Qty(1, 10, 28))), 400, `"CELSIUS"`},
		{"v1 KIBIBYTE", 1, v12Record(v12Metric(v12Gauges, "g", v1Qty(1, 6, 20))), 400, `"KIBIBYTE"`},
		{"v2 CELSIUS", 2, v12Record(v12Metric(v12Gauges, "g", v2Qty(1, 11, 1))), 400, `"CELSIUS"`},
		{"v2 MILLICELSIUS", 2, v12Record(v12Metric(v12Gauges, "g", v2Qty(1, 11, 9))), 400, `"MILLICELSIUS"`},
		{"v2 DEGREE", 2, v12Record(v12Metric(v12Gauges, "g", v2Qty(1, 9, 0))), 400, `"DEGREE"`},
		{"v2 RADIAN", 2, v12Record(v12Metric(v12Gauges, "g", v2Qty(1, 10, 0))), 400, `"RADIAN"`},
		{"v2 KILOSECOND", 2, v12Record(v12Metric(v12Timers, "t", v2Qty(1, 1, 14))), 400, `"KILOSECOND"`},
		{"v2 MILLIMINUTE", 2, v12Record(v12Metric(v12Timers, "t", v2Qty(1, 2, 9))), 400, `"MILLIMINUTE"`},
		{"v2 MEBIBIT", 2, v12Record(v12Metric(v12Timers, "t", v2Qty(1, 6, 23))), 400, `"MEBIBIT"`},
		{"v2 unknown unit in second sample", 2, v12Record(v12Metric(v12Timers, "t", v2Qty(1, 1, 9), v2Qty(1, 1, 16))), 400, `metric "t"`},
		{"v1 no id", 1, fBytes(1, v12Metric(v12Counters, "c", v1Qty(1, -1, -1))), 500, ""},
		{"v2 8-byte id", 2, shortID12, 500, ""},
		{"v1 short id before unknown unit", 1, fBytes(1, v12Metric(v12Timers, "t", v1Qty(1, 0, -1))), 500, ""},
		{"v2 bad record then short id", 2, msg(rec12, v12Record(v12Pair(2, "a", "b"), v12Pair(2, "a", "b")), shortID12), 400, "record 1"},
	}
}

func TestErrors(t *testing.T) {
	for _, c := range errCases() {
		t.Run(c.name, func(t *testing.T) {
			got, st, err := collect(t, c.version, c.body)
			checkReference(t, c.version, c.body, got, st, err)
			var de *sample.DecodeError
			switch c.want {
			case 400:
				if !errors.As(err, &de) || !errors.Is(err, sample.ErrMalformed) {
					t.Fatalf("got %v; want a *sample.DecodeError of kind ErrMalformed", err)
				}
				if want := fmt.Sprintf("client protocol v%d body", c.version); de.Format != want {
					t.Errorf("got format %q; want %q", de.Format, want)
				}
			case 500:
				if !errors.Is(err, sample.ErrMADFails) {
					t.Fatalf("got %v; want one of kind ErrMADFails", err)
				}
			default:
				if err != nil {
					t.Fatalf("got %v; want no error", err)
				}
			}
			if c.inErr != "" && !strings.Contains(err.Error(), c.inErr) {
				t.Errorf("got %q; want it to mention %q", err, c.inErr)
			}
		})
	}
}

func TestParseErrorText(t *testing.T) {
	_, _, err := collect(t, 2, v12Record(v12Metric(v12Timers, "latency", v2Qty(1, 1, 14))))
	const want = `cannot parse client protocol v2 body: record 0: metric "latency": Quantity.unit: unknown unit "KILOSECOND" (at byte 29)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v; want %s", err, want)
	}
}

func TestTooManyRecords(t *testing.T) {
	rec := v3Record(v3Samples("m", 1))
	body := msg(rec, rec, rec)
	for _, c := range []struct {
		max  int
		want error
	}{{0, nil}, {3, nil}, {2, sample.ErrTooLarge}, {1, sample.ErrTooLarge}} {
		d := NewDecoder(Config{MaxRecords: c.max})
		var b batch1
		st, err := d.DecodeV3(body, 0, b.route)
		if !errors.Is(err, c.want) || (err == nil && st.Records != 3) {
			t.Errorf("MaxRecords %d: got %+v, %v; want %v", c.max, st, err, c.want)
		}
	}
}

func TestParseErrorWhere(t *testing.T) {
	rec := v3Record(v3Samples("m", 1))
	for _, c := range []struct {
		name   string
		body   []byte
		record int
		field  string
		offset int
	}{
		{"top level", msg(rec, raw(0x0e)), -1, "Request", len(rec)},
		{"record length", msg(rec, raw(0x0a, 0x09)), 1, "Request.records", len(rec) + 1},
		{"in record 1", msg(rec, fBytes(1, raw(0x0f))), 1, "Record", len(rec) + 2},
		{"truncated varint in record 1", msg(rec, fBytes(1, raw(0x10, 0x80))), 1, "Record.end_millis_since_epoch", len(rec) + 3},
		{"metric name", msg(rec, v3Record(v3Samples("m", 1), fBytes(5, fBytes(2, nil)))), 1, "MetricDataEntry.name", len(rec) + 2 + 18 + 7 + 19 + 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := collect(t, 3, c.body)
			var de *sample.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %v; want a *sample.DecodeError", err)
			}
			if de.Index != c.record || de.Field != c.field || de.Offset != c.offset {
				t.Fatalf("got record %d, field %q, offset %d; want %d, %q, %d (%v)", de.Index, de.Field, de.Offset, c.record, c.field, c.offset, err)
			}
		})
	}
}
