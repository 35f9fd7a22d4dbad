package promrw

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/ingest/promrw/promrwref"
	"github.com/gomad/mad/internal/sample"
)

// TestVectors: MAD's PrometheusParserTest resources with the expectations of
// MAD-SPEC §14 (each sample is one MAD record, so records = samples).
func TestVectors(t *testing.T) {
	white := []string{"container_network_transmit_packets_total"}
	for _, tc := range []struct {
		name    string
		cfg     Config
		records int
		err     bool
	}{
		{"testLivePrometheus1", Config{InterpretUnits: true}, 294, false},
		{"testLivePrometheus1", Config{InterpretUnits: true, ReservedNameWhitelist: white}, 500, false},
		{"testParseEmpty", Config{InterpretUnits: true}, 0, false},
		// rpc_durations_histogram_seconds_count: skipped by the suffix rule
		// (MAD's testParseSingleRecord is @Ignored for that reason).
		{"testSingleRecord", Config{InterpretUnits: true}, 0, false},
		{"testCorruptedSnappy", Config{InterpretUnits: true}, 0, true},
		{"testCorruptedPrometheusMessage", Config{InterpretUnits: true}, 0, true},
		{"testNoNameMetric", Config{InterpretUnits: true}, 0, true},
		{"testEmptyNameMetric", Config{InterpretUnits: true}, 0, true},
		{"testWhitespaceNameMetric", Config{InterpretUnits: true}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, st, err := decodeAll(t, tc.cfg, 1, readVector(t, tc.name))
			if tc.err {
				var pe *sample.DecodeError
				if !errors.As(err, &pe) {
					t.Fatalf("got error %v; want a *sample.DecodeError (400)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want none", err)
			}
			if st.Records != tc.records || st.Samples != tc.records || len(recs) != tc.records {
				t.Fatalf("got %d records (stats %+v); want %d", len(recs), st, tc.records)
			}
		})
	}
}

// TestLive2Record57: MAD's testParseSingleRecordWithoutUnitInterpreter.
func TestLive2Record57(t *testing.T) {
	recs, _, err := decodeAll(t, Config{}, 1, readVector(t, "testLivePrometheus2"))
	if err != nil {
		t.Fatal(err)
	}
	r := recs[57]
	if r.name != "container_spec_memory_limit_bytes" || r.v != 1.3500524544e11 || r.unit != sample.UnitNone {
		t.Fatalf("got record 57 = %v; want container_spec_memory_limit_bytes 1.3500524544e11 without unit", r)
	}
}

// TestLiveAgainstReference: every live capture, in every configuration,
// decodes exactly as the reference transliteration of MAD's parser, and
// remote write 2.0 carrying the same series decodes to the same records.
func TestLiveAgainstReference(t *testing.T) {
	for _, name := range liveVectors {
		body := readVector(t, name)
		for _, cfg := range []Config{{}, {InterpretUnits: true}, {InterpretUnits: true, ReservedNameWhitelist: []string{"container_network_transmit_packets_total", "container_cpu_usage_seconds_total"}}} {
			got, _, err := decodeAll(t, cfg, 1, body)
			want, werr := refDecode(t, body, 1, cfg)
			if err != nil || werr != nil || !sameRecs(got, want) {
				t.Fatalf("%s %+v: got %d records (%v); reference %d (%v)", name, cfg, len(got), err, len(want), werr)
			}
			v2 := snap(toV2(t, body))
			got2, _, err := decodeAll(t, cfg, 2, v2)
			if err != nil || !sameRecs(got2, want) {
				t.Fatalf("%s %+v as 2.0: got %d records (%v); want %d", name, cfg, len(got2), err, len(want))
			}
		}
	}
}

// toV2 re-encodes a 1.0 request as 2.0 through the reference parser.
func toV2(t testing.TB, body []byte) []byte {
	t.Helper()
	msg, err := snappyDecode(body)
	if err != nil {
		t.Fatal(err)
	}
	return encV2(refSeries(t, msg, 1)...)
}

// TestNameAndUnit: MAD's PrometheusToRecordParserTest unit tables.
func TestNameAndUnit(t *testing.T) {
	type want struct {
		agg  bool
		unit sample.Unit
	}
	cases := map[string]want{
		"foo_bar": {}, "foo_seconds_bar": {}, "seconds_bar": {}, "foo_seconds_total_": {}, "foo_seconds_": {},
		"_total": {agg: true}, "total": {}, "": {}, "_": {}, "celsius": {}, "foo_celsius": {},
		"foo_milliseconds": {}, "foo_seconds_total_count": {agg: true},
	}
	for tok, u := range map[string]sample.Unit{"seconds": sample.Second, "celcius": sample.Celcius, "bytes": sample.Byte, "bits": sample.Bit} {
		cases[tok] = want{unit: u}
		cases["foo_"+tok] = want{unit: u}
		for _, agg := range []string{"total", "bucket", "sum", "avg", "count"} {
			cases["foo_"+tok+"_"+agg] = want{agg: true, unit: u}
			cases[tok+"_"+agg] = want{agg: true, unit: u}
		}
		cases[tok+"_total_count"] = want{agg: true}
		cases["foo_"+tok+"_total_count"] = want{agg: true}
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			r := parseNameAndUnit([]byte(name), true)
			if r.aggregation != w.agg || r.unit != w.unit {
				t.Fatalf("got aggregation %v unit %v; want %v %v", r.aggregation, r.unit, w.agg, w.unit)
			}
			agg, unit := promrwref.NameAndUnit(name, true)
			if agg != w.agg || unit != w.unit {
				t.Fatalf("reference: got aggregation %v unit %v; want %v %v", agg, unit, w.agg, w.unit)
			}
			if r := parseNameAndUnit([]byte(name), false); r.aggregation != w.agg || r.unit != sample.UnitNone {
				t.Fatalf("without interpretUnits: got %+v", r)
			}
		})
	}
}

func n(name string, kv ...string) []lbl {
	l := []lbl{{"__name__", name}}
	for i := 0; i < len(kv); i += 2 {
		l = append(l, lbl{kv[i], kv[i+1]})
	}
	return l
}

var one = []smp{{1, 1000}}

// TestRules: MAD's series rules, one table for both protocol versions.
func TestRules(t *testing.T) {
	inf := math.Inf(1)
	type tc struct {
		name   string
		cfg    Config
		series []ts
		want   []rec
		err    string // substring of a *sample.DecodeError; "" for none
	}
	cases := []tc{
		{name: "gauge with dimensions", series: []ts{{labels: n("up", "job", "node", "instance", "a:9100"), samples: []smp{{1, 1700000000123}}}},
			want: []rec{{"up", dimString("instance", "a:9100", "job", "node"), 1, 1700000000123, 0}}},
		{name: "labels in any order give one series", series: []ts{
			{labels: []lbl{{"b", "2"}, {"__name__", "m"}, {"a", "1"}}, samples: []smp{{1, 1}}},
			{labels: []lbl{{"a", "1"}, {"b", "2"}, {"__name__", "m"}}, samples: []smp{{2, 2}}}},
			want: []rec{{"m", dimString("a", "1", "b", "2"), 1, 1, 0}, {"m", dimString("a", "1", "b", "2"), 2, 2, 0}}},
		{name: "every sample is a record at its own time", series: []ts{{labels: n("m"), samples: []smp{{1, 10}, {2, -20}, {3, 0}}}},
			want: []rec{{"m", "", 1, 10, 0}, {"m", "", 2, -20, 0}, {"m", "", 3, 0, 0}}},
		{name: "le skips the series", series: []ts{{labels: n("h_bucket", "le", "0.5"), samples: one}, {labels: n("h", "le", "+Inf"), samples: one}}},
		{name: "le skips before the name is checked", series: []ts{{labels: []lbl{{"le", "1"}}, samples: one}, {labels: []lbl{{"le", "1"}, {"a", "1"}, {"a", "2"}}, samples: one}}},
		{name: "aggregation suffixes are skipped", series: []ts{
			{labels: n("a_total"), samples: one}, {labels: n("a_bucket"), samples: one}, {labels: n("a_sum"), samples: one},
			{labels: n("a_avg"), samples: one}, {labels: n("a_count"), samples: one}, {labels: n("_count"), samples: one},
			{labels: n("a_total", "x", "1", "x", "2"), samples: one}}},
		{name: "other suffixes are kept", series: []ts{{labels: n("a_totals"), samples: one}, {labels: n("a_Total"), samples: one}, {labels: n("total"), samples: one}, {labels: n("q", "quantile", "0.99"), samples: one}},
			want: []rec{{"a_totals", "", 1, 1000, 0}, {"a_Total", "", 1, 1000, 0}, {"total", "", 1, 1000, 0}, {"q", "quantile=0.99", 1, 1000, 0}}},
		{name: "whitelist keeps full names only", cfg: Config{ReservedNameWhitelist: []string{"a_total", "b_sum"}},
			series: []ts{{labels: n("a_total"), samples: one}, {labels: n("x_a_total"), samples: one}, {labels: n(" b_sum "), samples: one}, {labels: n("b_count"), samples: one}},
			want:   []rec{{"a_total", "", 1, 1000, 0}, {"b_sum", "", 1, 1000, 0}}},
		{name: "name is trimmed as Java does", series: []ts{{labels: n("\t m \x00\x01\n"), samples: one}},
			want: []rec{{"m", "", 1, 1000, 0}}},
		{name: "non-breaking space is not trimmed", series: []ts{{labels: n("m\u00a0"), samples: one}},
			want: []rec{{"m\u00a0", "", 1, 1000, 0}}},
		{name: "non-finite values are skipped", series: []ts{{labels: n("m"), samples: []smp{{math.NaN(), 1}, {inf, 2}, {-inf, 3}, {math.Float64frombits(0x7ff0000000000002), 4}, {5, 5}}}},
			want: []rec{{"m", "", 5, 5, 0}}},
		{name: "a series without samples makes nothing", series: []ts{{labels: n("m")}}},
		{name: "last __name__ wins", series: []ts{{labels: []lbl{{"__name__", "a"}, {"__name__", "b"}}, samples: one}},
			want: []rec{{"b", "", 1, 1000, 0}}},
		{name: "empty label name and value are dimensions", series: []ts{{labels: n("m", "", "", "k", ""), samples: one}},
			want: []rec{{"m", dimString("", "", "k", ""), 1, 1000, 0}}},
		{name: "units only with interpretUnits", series: []ts{{labels: n("io_bytes"), samples: one}},
			want: []rec{{"io_bytes", "", 1, 1000, 0}}},
		{name: "units", cfg: Config{InterpretUnits: true, ReservedNameWhitelist: []string{"cpu_seconds_total"}}, series: []ts{
			{labels: n("lat_seconds"), samples: []smp{{0.25, 1}}},
			{labels: n("cpu_seconds_total"), samples: []smp{{7, 1}}},
			{labels: n("io_bytes"), samples: []smp{{1024, 1}}},
			{labels: n("link_bits"), samples: []smp{{12, 1}}},
			{labels: n("temp_celcius"), samples: []smp{{20, 1}}},
			{labels: n("temp_celsius"), samples: []smp{{20, 1}}},
			{labels: n("lat_milliseconds"), samples: []smp{{3, 1}}},
			{labels: n("seconds"), samples: []smp{{4, 1}}}},
			want: []rec{{"lat_seconds", "", 0.25, 1, sample.Second}, {"cpu_seconds_total", "", 7, 1, sample.Second},
				{"io_bytes", "", 1024, 1, sample.Byte}, {"link_bits", "", 1.5, 1, sample.Byte},
				{"temp_celcius", "", 20 + 273.15, 1, sample.Kelvin}, {"temp_celsius", "", 20, 1, 0},
				{"lat_milliseconds", "", 3, 1, 0}, {"seconds", "", 4, 1, sample.Second}}},
		{name: "missing name", series: []ts{{labels: []lbl{{"a", "1"}}, samples: one}}, err: "no metric name"},
		{name: "missing name without samples", series: []ts{{labels: []lbl{{"a", "1"}}}}, err: "no metric name"},
		{name: "empty name", series: []ts{{labels: n(""), samples: one}}, err: "empty metric name"},
		{name: "whitespace name", series: []ts{{labels: n(" \t\r\n"), samples: one}}, err: "empty metric name"},
		{name: "a bad series refuses the request after good ones", series: []ts{{labels: n("ok"), samples: one}, {labels: n(""), samples: one}}, err: "empty metric name"},
		{name: "duplicate label", series: []ts{{labels: n("m", "a", "1", "a", "1"), samples: one}}, err: `duplicate label "a"`},
		{name: "invalid UTF-8 label", series: []ts{{labels: n("m", "a", "\xff"), samples: one}}, err: "UTF-8"},
	}
	for _, c := range cases {
		for _, version := range []int{1, 2} {
			t.Run(c.name+"/v"+string(rune('0'+version)), func(t *testing.T) {
				var body []byte
				if version == 2 {
					body = snap(encV2(c.series...))
				} else {
					body = snap(encV1(c.series...))
				}
				got, st, err := decodeAll(t, c.cfg, version, body)
				if c.err != "" {
					var pe *sample.DecodeError
					if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.err) {
						t.Fatalf("got error %v; want a *sample.DecodeError containing %q", err, c.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("got error %v; want none", err)
				}
				if !sameRecs(got, c.want) {
					t.Fatalf("got %v; want %v", got, c.want)
				}
				if st.Records != len(c.want) || st.Samples != len(c.want) {
					t.Fatalf("got stats %+v; want %d records", st, len(c.want))
				}
				want, werr := refDecode(t, body, version, c.cfg)
				if werr != nil || !sameRecs(got, want) {
					t.Fatalf("reference: %v (%v)", want, werr)
				}
			})
		}
	}
}

// TestWire: protobuf details MAD's (Java's) parser has.
func TestWire(t *testing.T) {
	unknown := func(b []byte) []byte {
		b = protowire.AppendTag(b, 9, protowire.VarintType)
		b = protowire.AppendVarint(b, 5)
		b = protowire.AppendTag(b, 10, protowire.StartGroupType)
		b = protowire.AppendTag(b, 1, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, 1)
		return protowire.AppendTag(b, 10, protowire.EndGroupType)
	}
	samplesFirst := func() []byte {
		var s []byte
		s = appendMsg(s, 2, encSample(smp{3, 30}))
		s = appendMsg(s, 1, appendString(appendString(nil, 1, "__name__"), 2, "m"))
		s = appendMsg(s, 2, encSample(smp{4, 40}))
		return appendMsg(nil, 1, s)
	}
	wrongWireType := func() []byte {
		var x []byte
		x = protowire.AppendTag(x, 1, protowire.VarintType) // value as a varint: unknown
		x = protowire.AppendVarint(x, 77)
		x = protowire.AppendTag(x, 2, protowire.VarintType)
		x = protowire.AppendVarint(x, 5)
		x = protowire.AppendTag(x, 1, protowire.Fixed64Type)
		x = protowire.AppendFixed64(x, math.Float64bits(2.5))
		s := appendMsg(nil, 1, appendString(appendString(nil, 1, "__name__"), 2, "m"))
		s = appendMsg(s, 2, x)
		s = appendMsg(s, 2, nil) // all defaults: 0 at 0
		var b []byte
		b = protowire.AppendTag(b, 1, protowire.VarintType) // timeseries as a varint: unknown
		b = protowire.AppendVarint(b, 1)
		return appendMsg(b, 1, s)
	}
	// Java's corner cases (internal/pbwire): a sample with its timestamp's
	// varint ending on a tenth byte of 0x7f, its value's tag beyond 32 bits,
	// a series whose sample length is beyond 32 bits, groups in a series.
	tenthByte := append(protowire.AppendFixed64([]byte{0x09}, math.Float64bits(1)), 0x10)
	tenthByte = append(append(tenthByte, bytes.Repeat([]byte{0xff}, 9)...), 0x7f)
	longTag := append([]byte{0x89, 0x80, 0x80, 0x80, 0x10}, protowire.AppendFixed64(nil, math.Float64bits(2.5))...)
	longTag = append(longTag, 0x10, 0x05)
	longLen := protowire.AppendVarint([]byte{0x12}, uint64(len(encSample(smp{3, 7})))|1<<32)
	longLen = append(longLen, encSample(smp{3, 7})...)
	groups := func(depth int) []byte {
		return append(bytes.Repeat([]byte{0x1b}, depth), bytes.Repeat([]byte{0x1c}, depth)...)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		want []rec
		err  bool
	}{
		{"a tenth varint byte above 1: its bits are dropped", encV1(ts{labels: n("m"), extra: appendMsg(nil, 2, tenthByte)}), []rec{{"m", "", 1, -1, 0}}, false},
		{"a tag beyond 32 bits: its low 32 bits", encV1(ts{labels: n("m"), extra: appendMsg(nil, 2, longTag)}), []rec{{"m", "", 2.5, 5, 0}}, false},
		{"a length beyond 32 bits: its low 32 bits", encV1(ts{labels: n("m"), extra: longLen}), []rec{{"m", "", 3, 7, 0}}, false},
		{"groups nested 99 deep in a series", encV1(ts{labels: n("m"), samples: one, extra: groups(99)}), []rec{{"m", "", 1, 1000, 0}}, false},
		{"groups nested 100 deep in a series", encV1(ts{labels: n("m"), samples: one, extra: groups(100)}), nil, true},
		{"unknown fields and groups are skipped", unknown(encV1(ts{labels: n("m"), samples: one, extra: unknown(nil)})), []rec{{"m", "", 1, 1000, 0}}, false},
		{"labels may follow samples", samplesFirst(), []rec{{"m", "", 3, 30, 0}, {"m", "", 4, 40, 0}}, false},
		{"fields of another wire type are unknown", wrongWireType(), []rec{{"m", "", 2.5, 5, 0}, {"m", "", 0, 0, 0}}, false},
		{"negative timestamp", encV1(ts{labels: n("m"), samples: []smp{{1, -5}}}), []rec{{"m", "", 1, -5, 0}}, false},
		{"truncated", encV1(ts{labels: n("m"), samples: one})[:10], nil, true},
		{"stray end group", protowire.AppendTag(nil, 3, protowire.EndGroupType), nil, true},
		{"field number 0", []byte{0x02, 0x00}, nil, true},
		{"malformed sample in a skipped series", append(encV1(ts{labels: n("m_total")}), appendMsg(nil, 1, appendMsg(appendMsg(nil, 1, appendString(nil, 1, "__name__")), 2, []byte{0x09, 1}))...), nil, true},
		{"empty message", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := decodeAll(t, Config{}, 1, snap(tc.msg))
			if tc.err {
				var pe *sample.DecodeError
				if !errors.As(err, &pe) {
					t.Fatalf("got %v; want a *sample.DecodeError", err)
				}
				return
			}
			if err != nil || !sameRecs(got, tc.want) {
				t.Fatalf("got %v (%v); want %v", got, err, tc.want)
			}
		})
	}
}

// TestV2: what remote write 2.0 adds.
func TestV2(t *testing.T) {
	refs := func(packed bool, rs ...uint64) []byte {
		if packed {
			var p []byte
			for _, r := range rs {
				p = protowire.AppendVarint(p, r)
			}
			return appendMsg(nil, 1, p)
		}
		var b []byte
		for _, r := range rs {
			b = protowire.AppendTag(b, 1, protowire.VarintType)
			b = protowire.AppendVarint(b, r)
		}
		return b
	}
	syms := func(ss ...string) []byte {
		var b []byte
		for _, s := range ss {
			b = appendString(b, v2Symbols, s)
		}
		return b
	}
	series := func(parts ...[]byte) []byte {
		var s []byte
		for _, p := range parts {
			s = append(s, p...)
		}
		return appendMsg(nil, v2Timeseries, s)
	}
	smp1 := appendMsg(nil, 2, encSample(smp{1.5, 7}))
	hist := appendMsg(nil, v2Histograms, []byte{0x08, 0x03})
	meta := appendMsg(nil, 5, []byte{0x08, 0x02, 0x18, 0x09}) // unit_ref out of range: metadata is not read
	exemplar := appendMsg(nil, 4, []byte{0x08, 0x09})
	created := []byte{0x30, 0x05}
	for _, tc := range []struct {
		name       string
		msg        []byte
		want       []rec
		histograms int
		err        string
	}{
		{"packed refs", append(syms("", "__name__", "m", "a", "1"), series(refs(true, 1, 2, 3, 4), smp1)...), []rec{{"m", "a=1", 1.5, 7, 0}}, 0, ""},
		{"unpacked refs", append(syms("", "__name__", "m", "a", "1"), series(refs(false, 3, 4, 1, 2), smp1)...), []rec{{"m", "a=1", 1.5, 7, 0}}, 0, ""},
		{"symbols after the series", append(series(refs(true, 1, 2), smp1), syms("", "__name__", "m")...), []rec{{"m", "", 1.5, 7, 0}}, 0, ""},
		{"histograms, exemplars, metadata, created timestamp ignored",
			append(syms("", "__name__", "m"), series(refs(true, 1, 2), hist, smp1, exemplar, meta, created, hist)...), []rec{{"m", "", 1.5, 7, 0}}, 2, ""},
		{"empty-string label value from symbol 0", append(syms("", "__name__", "m", "a"), series(refs(true, 1, 2, 3, 0), smp1)...), []rec{{"m", "a=", 1.5, 7, 0}}, 0, ""},
		{"odd refs", append(syms("", "__name__", "m"), series(refs(true, 1, 2, 1), smp1)...), nil, 0, "odd number"},
		{"ref out of range", append(syms("", "__name__", "m"), series(refs(true, 1, 3), smp1)...), nil, 0, "out of range"},
		{"no symbols", series(refs(true, 0, 0), smp1), nil, 0, "out of range"},
		{"invalid UTF-8 symbol", append(syms("", "__name__", "m", "\xc3"), series(refs(true, 1, 2), smp1)...), nil, 0, "UTF-8"},
		{"v1 fields are unknown", encV1(ts{labels: n("m"), samples: one}), nil, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := decodeAll(t, Config{}, 2, snap(tc.msg))
			if tc.err != "" {
				var pe *sample.DecodeError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v; want a *sample.DecodeError containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !sameRecs(got, tc.want) || st.Histograms != tc.histograms {
				t.Fatalf("got %v %+v (%v); want %v with %d histograms", got, st, err, tc.want, tc.histograms)
			}
		})
	}
}

// TestSnappy: the block format, strictly, and the size limit.
func TestSnappy(t *testing.T) {
	msg := encV1(ts{labels: n("m"), samples: one})
	// An S2 "repeat offset" copy (a copy-1 with offset 0) is not snappy.
	s2Repeat := []byte{8, 0x00, 'a', 0x01, 0x00}
	for _, tc := range []struct {
		name string
		cfg  Config
		body []byte
		want error // sample.ErrTooLarge, or nil with bad set for a *sample.DecodeError
		bad  bool
	}{
		{"valid", Config{}, snap(msg), nil, false},
		{"empty body", Config{}, nil, nil, true},
		{"framed stream format", Config{}, append([]byte{0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}, snap(msg)...), nil, true},
		{"s2 repeat offset", Config{}, s2Repeat, nil, true},
		{"declared length too long", Config{}, append([]byte{byte(len(msg) + 1)}, snap(msg)[1:]...), nil, true},
		{"declared length too short", Config{}, append([]byte{byte(len(msg) - 1)}, snap(msg)[1:]...), nil, true},
		{"header only, too large for the limit", Config{MaxDecompressed: 1 << 20}, protowire.AppendVarint(nil, 1<<30), sample.ErrTooLarge, false},
		{"over the default limit", Config{}, protowire.AppendVarint(nil, DefaultMaxDecompressed+1), sample.ErrTooLarge, false},
		{"more than the compressed bytes can hold", Config{}, protowire.AppendVarint(nil, 1<<20), nil, true},
		{"at the limit", Config{MaxDecompressed: len(msg)}, snap(msg), nil, false},
		{"one over the limit", Config{MaxDecompressed: len(msg) - 1}, snap(msg), sample.ErrTooLarge, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b sample.Batch
			d := NewDecoder(tc.cfg)
			_, err := d.Decode(tc.body, 0, func(uint64) *sample.Batch { return &b })
			var pe *sample.DecodeError
			switch {
			case tc.bad && !errors.As(err, &pe):
				t.Fatalf("got %v; want a *sample.DecodeError", err)
			case !tc.bad && !errors.Is(err, tc.want):
				t.Fatalf("got %v; want %v", err, tc.want)
			case tc.want == sample.ErrTooLarge && cap(d.buf) != 0:
				t.Fatalf("allocated %d bytes for a refused block", cap(d.buf))
			}
		})
	}
}

func TestMaxRecords(t *testing.T) {
	body := snap(encV1(ts{labels: n("a"), samples: []smp{{1, 1}, {2, 2}}}, ts{labels: n("b"), samples: []smp{{math.NaN(), 1}, {3, 3}}}))
	for _, tc := range []struct {
		max int
		err error
	}{{0, nil}, {3, nil}, {2, sample.ErrTooLarge}, {1, sample.ErrTooLarge}} {
		var b sample.Batch
		st, err := NewDecoder(Config{MaxRecords: tc.max}).Decode(body, 0, func(uint64) *sample.Batch { return &b })
		if !errors.Is(err, tc.err) || (err == nil && st.Records != 3) {
			t.Fatalf("MaxRecords %d: got %+v, %v; want %v", tc.max, st, err, tc.err)
		}
	}
}

// TestRouting: samples go to the batch their key hash picks; a series'
// samples share one copy of the key while they land in the same batch, and
// get a new copy once route has handed out another batch in between.
func TestRouting(t *testing.T) {
	body := snap(encV1(
		ts{labels: n("a", "k", "v"), samples: []smp{{1, 1}, {2, 2}, {3, 3}, {4, 4}}},
		ts{labels: n("b"), samples: []smp{{5, 5}}},
	))
	var bs [4]sample.Batch
	calls := 0
	fresh := &sample.Batch{}
	route := func(h uint64) *sample.Batch {
		calls++
		if calls == 3 { // as if the producer had published a full batch
			return fresh
		}
		return &bs[h%4]
	}
	if _, err := NewDecoder(Config{}).Decode(body, 0, route); err != nil {
		t.Fatal(err)
	}
	total := len(recsOf(t, fresh))
	keyCopies := map[*sample.Batch]map[uint32]bool{}
	for i := range bs {
		b := &bs[i]
		recs := recsOf(t, b)
		total += len(recs)
		for j, r := range recs {
			if b.Samples[j].Hash%4 != uint64(i) {
				t.Fatalf("sample %v in batch %d has a hash for another", r, i)
			}
			if r.name == "a" {
				if keyCopies[b] == nil {
					keyCopies[b] = map[uint32]bool{}
				}
				keyCopies[b][b.Samples[j].KeyOff] = true
			}
		}
	}
	if total != 5 || len(fresh.Samples) != 1 {
		t.Fatalf("got %d samples routed, %d in the fresh batch; want 5, 1", total, len(fresh.Samples))
	}
	for _, copies := range keyCopies {
		if len(copies) != 2 {
			t.Fatalf("series a's three samples in its batch carry %d key copies; want 2 (samples 1-2 share one, 4 has its own)", len(copies))
		}
	}
}

// TestDecoderReuse: a decoder gives the same result however it was used
// before, and a failed call leaves nothing behind that changes the next.
func TestDecoderReuse(t *testing.T) {
	d := NewDecoder(Config{InterpretUnits: true})
	good := readVector(t, "testLivePrometheus1")
	first := decodeWith(t, d, good)
	for _, other := range []string{"testLivePrometheus2", "testCorruptedPrometheusMessage", "testEmptyNameMetric", "testCorruptedSnappy"} {
		decodeWith(t, d, readVector(t, other))
		if again := decodeWith(t, d, good); !sameRecs(first, again) {
			t.Fatalf("after %s: results differ", other)
		}
	}
}

func decodeWith(t *testing.T, d *Decoder, body []byte) []rec {
	t.Helper()
	var b sample.Batch
	if _, err := d.Decode(body, 0, func(uint64) *sample.Batch { return &b }); err != nil {
		return nil
	}
	return recsOf(t, &b)
}

func TestParseErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		e    error
		want string
	}{
		{(&Decoder{version: 1}).fail(3, 12, "empty metric name"),
			"cannot parse prometheus remote write 1.0 request: series 3: empty metric name (at byte 12 of the decompressed message)"},
		{(&Decoder{version: 2}).fail(-1, -1, "corrupt snappy block: x"),
			"cannot parse prometheus remote write 2.0 request: corrupt snappy block: x"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q; want %q", got, tc.want)
		}
	}
}
