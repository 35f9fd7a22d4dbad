package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestS1IsDeterministicAndShaped(t *testing.T) {
	w := S1(10000, 1)
	w.Messages = 512
	a, b := w.Build(), w.Build()
	if len(a.Messages) != 512 {
		t.Fatalf("%d messages; want 512", len(a.Messages))
	}
	for i := range a.Messages {
		if !bytes.Equal(a.Messages[i], b.Messages[i]) {
			t.Fatal("the same seed built different datagrams")
		}
		if len(a.Messages[i]) > 1400 || a.Lines[i] < 25 || a.Lines[i] > 43 {
			t.Fatalf("datagram %d: %d bytes, %d lines", i, len(a.Messages[i]), a.Lines[i])
		}
		if got := bytes.Count(a.Messages[i], []byte("\n")); got != a.Lines[i] {
			t.Fatalf("datagram %d: %d lines counted, %d recorded", i, got, a.Lines[i])
		}
	}
	w2 := w
	w2.Seed = 2
	if bytes.Equal(w2.Build().Messages[0], a.Messages[0]) {
		t.Fatal("another seed built the same datagram")
	}
	var types [256]int
	total := 0
	typeOf := map[string]byte{}
	for _, d := range a.Messages {
		for _, l := range bytes.Split(bytes.TrimSpace(d), []byte("\n")) {
			p := bytes.Split(l, []byte("|"))
			name := string(l[:bytes.IndexByte(l, ':')])
			typ := p[1][0]
			if len(p) > 2 && p[2][0] == '@' {
				typ = 'r'
			}
			if old, ok := typeOf[name]; ok && old != typ {
				t.Fatalf("series %s has types %c and %c", name, old, typ)
			}
			typeOf[name] = typ
			types[typ]++
			total++
		}
	}
	// 54 % c, 6 % sampled c, 20 % g, 15 % ms, 5 % s, within sampling noise.
	for c, want := range map[byte]float64{'c': 0.54, 'r': 0.06, 'g': 0.20, 'm': 0.15, 's': 0.05} {
		if got := float64(types[c]) / float64(total); got < want-0.02 || got > want+0.02 {
			t.Errorf("type %c: %.3f of lines; want %.2f", c, got, want)
		}
	}
	// Every series drawn: the default size walks all of them twice.
	full := S1(10000, 1).Build()
	names := map[string]int{}
	for _, d := range full.Messages {
		for _, l := range bytes.Split(bytes.TrimSpace(d), []byte("\n")) {
			names[string(l[:bytes.IndexByte(l, ':')])]++
		}
	}
	if len(names) != 10000 {
		t.Errorf("%d distinct names; want all 10000", len(names))
	}
}

// TestS1LongLinesFillDatagrams: when MinLines lines do not fit MaxBytes
// (tagged S1 lines of ~100 bytes), a datagram holds what fits, and a line
// longer than MaxBytes goes alone; Build used to retry such a datagram
// forever.
func TestS1LongLinesFillDatagrams(t *testing.T) {
	for _, maxBytes := range []int{1400, 10} {
		w := S1(1000, 1)
		w.MinTags, w.MaxTags, w.MaxBytes, w.Messages = 3, 6, maxBytes, 64
		p := w.Build()
		short := 0
		for i, d := range p.Messages {
			n := bytes.Count(d, []byte("\n"))
			if n != p.Lines[i] || n < 1 {
				t.Fatalf("MaxBytes %d, datagram %d: %d lines counted, %d recorded", maxBytes, i, n, p.Lines[i])
			}
			if len(d) > maxBytes && n != 1 {
				t.Fatalf("MaxBytes %d, datagram %d: %d bytes in %d lines", maxBytes, i, len(d), n)
			}
			if n < w.MinLines {
				short++
			}
		}
		if short == 0 {
			t.Fatalf("MaxBytes %d: every datagram has %d lines or more; the case is not exercised", maxBytes, w.MinLines)
		}
	}
}

func TestS2Tags(t *testing.T) {
	w := S2(1_000_000, 3)
	w.Messages = 300
	p := w.Build()
	seen := map[string]string{}
	for i, d := range p.Messages {
		if p.Lines[i] < 15 || p.Lines[i] > 25 {
			t.Fatalf("datagram %d has %d lines", i, p.Lines[i])
		}
		for _, l := range bytes.Split(bytes.TrimSpace(d), []byte("\n")) {
			name, rest, _ := strings.Cut(string(l), ":")
			_, tags, ok := strings.Cut(rest, "|#")
			if !ok {
				t.Fatalf("untagged line %q", l)
			}
			kv := strings.Split(tags, ",")
			if len(kv) < 3 || len(kv) > 6 {
				t.Fatalf("%d tags in %q", len(kv), l)
			}
			dims := map[string]string{}
			for _, e := range kv {
				k, v, _ := strings.Cut(e, ":")
				if _, dup := dims[k]; dup {
					t.Fatalf("duplicate tag in %q", l)
				}
				dims[k] = v
			}
			if dims["host"] == "" || dims["endpoint"] == "" {
				t.Fatalf("no host or endpoint in %q", l)
			}
			id := Identity(name, dims)
			typ := strings.SplitN(rest, "|", 3)[1]
			if old, ok := seen[id]; ok && old != typ {
				t.Fatalf("series %s has types %s and %s", id, old, typ)
			}
			seen[id] = typ
		}
	}
}

func TestTotals(t *testing.T) {
	w := S1(50, 7)
	w.Messages = 10
	p := w.Build()
	// Totals of n messages = the contributions of messages i%10, i < n,
	// less the refused ones, counted here the slow way.
	n, refused := 23, []int{4, 15}
	want := map[string]Expected{}
	for i := 0; i < n; i++ {
		if i == 4 || i == 15 {
			continue
		}
		for _, c := range p.Exact[i%len(p.Messages)] {
			id := p.Identity(int(c.Series))
			e := want[id]
			e.Count += float64(max(c.N, 1))
			e.Sum += c.Value
			e.Counter = c.Counter
			want[id] = e
		}
	}
	got := p.Totals(n, refused)
	if len(got) != len(want) {
		t.Fatalf("%d series; want %d", len(got), len(want))
	}
	for id, e := range want {
		if got[id] != e {
			t.Fatalf("%s: %+v; want %+v", id, got[id], e)
		}
	}
	if p.TotalLines(n) != 2*sum(p.Lines)+sum(p.Lines[:3]) {
		t.Fatalf("TotalLines = %d", p.TotalLines(n))
	}
	// Every line of the messages is either exact or a sampled counter
	// or a set member.
	for i, m := range p.Messages {
		lines := bytes.Split(bytes.TrimSpace(m), []byte("\n"))
		inexact := 0
		for _, l := range lines {
			if bytes.Contains(l, []byte("|@")) || bytes.HasSuffix(l, []byte("|s")) {
				inexact++
			}
		}
		if len(p.Exact[i])+inexact != len(lines) {
			t.Fatalf("message %d: %d exact + %d inexact of %d lines", i, len(p.Exact[i]), inexact, len(lines))
		}
	}
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func TestCompare(t *testing.T) {
	want := map[string]Expected{
		"a|": {Count: 10, Sum: 25, Counter: true},
		"b|": {Count: 5},
		"c|": {Count: 1, Sum: 2, Counter: true},
	}
	got := map[string]Got{"a|": {Count: 10, Sum: 25}, "b|": {Count: 5}, "x|": {Count: 99}}
	e := Compare(want, got, false)
	if e.Series != 3 || e.Missing != 1 || e.Wrong != 0 || e.Expected != 16 || e.Emitted != 15 || e.Exact() {
		t.Fatalf("%+v", e)
	}
	if l := e.Lost(); math.Abs(l-1.0/16) > 1e-12 {
		t.Fatalf("lost %v", l)
	}
	got["c|"] = Got{Count: 1, Sum: 2}
	if e := Compare(want, got, false); !e.Exact() {
		t.Fatalf("not exact: %+v", e)
	}
	got["a|"] = Got{Count: 10, Sum: 24}
	if e := Compare(want, got, false); e.Exact() || e.Wrong != 1 {
		t.Fatalf("a wrong sum passed: %+v", e)
	}
	// Values that are not integers, added in another order on each side:
	// the same within 1e-9, per series and in total.
	a, b, c := 0.1, 0.2, 0.3
	fw := map[string]Expected{"f|": {Count: 3, Sum: a + b + c, Counter: true}}
	fg := map[string]Got{"f|": {Count: 3, Sum: c + b + a}}
	if fw["f|"].Sum == fg["f|"].Sum {
		t.Fatal("the sums are equal: the case tests nothing")
	}
	if e := Compare(fw, fg, false); !e.Exact() {
		t.Fatalf("float sums in another order: %+v", e)
	}
	fg["f|"] = Got{Count: 3, Sum: 0.6001}
	if e := Compare(fw, fg, false); e.Exact() {
		t.Fatalf("a wrong float sum passed: %+v", e)
	}
	// Counters only: b is not compared, sums stand for samples.
	e = Compare(want, map[string]Got{"a|": {Sum: 25}, "c|": {Sum: 2}}, true)
	if !e.Exact() || e.Series != 2 || e.Expected != 27 {
		t.Fatalf("counters only: %+v", e)
	}
}

func TestOutputReadsMadRows(t *testing.T) {
	rows := `{"period":"PT1S","start":"2026-11-21T10:08:02Z","dimensions":{},"metric":"a.b","type":"counter","unit":"","populationSize":1,"statistics":{"count":1,"sum":1,"mean":1}}
{"period":"PT1S","start":"2026-11-21T10:08:03Z","dimensions":{},"metric":"a.b","type":"counter","unit":"","populationSize":2,"statistics":{"count":2,"sum":5,"mean":2.5}}
{"period":"PT1S","start":"2026-11-21T10:08:02Z","dimensions":{"host":"h1","env":"p"},"metric":"t","type":"timer","unit":"SECOND","populationSize":1,"statistics":{"count":3,"sum":0.005,"median":0.004974365234375}}
{"period":"PT1M","start":"2026-11-21T10:08:00Z","dimensions":{},"metric":"a.b","type":"counter","unit":"","populationSize":3,"statistics":{"count":3,"sum":6,"mean":2}}
{"period":"PT1S","start":"2026-11-21T10:08:02Z","dimensions":{},"metric":"probe.01","type":"timer","unit":"","populationSize":1,"statistics":{"count":3,"tp99":7}}
not json
`
	o, err := NewOutput("PT1S", "probe.")
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Read(strings.NewReader(rows), true); err != nil {
		t.Fatal(err)
	}
	got := o.Totals()
	if g := got["a.b|"]; g.Count != 3 || g.Sum != 6 || g.Rows != 2 {
		t.Fatalf("a.b: %+v", g)
	}
	if g := got["t|env=p,host=h1"]; g.Count != 3 {
		t.Fatalf("t: %+v (%v)", g, got)
	}
	if rows, bad := o.Rows(); rows != 6 || bad != 1 {
		t.Fatalf("rows %d bad %d", rows, bad)
	}
	if p := o.Probes(); len(p) != 1 || p[0].Stats["tp99"] != 7 || p[0].Metric != "probe.01" {
		t.Fatalf("probes %+v", p)
	}
	if l := o.Latencies(); len(l) != 4 || o.Periods() != 2 {
		t.Fatalf("%d latencies over %d periods", len(l), o.Periods())
	}
	for _, s := range []string{"PT1S", "PT10S", "PT1M", "PT1H", "P1D"} {
		if _, err := ParsePeriod(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParsePeriod("1s"); err == nil {
		t.Error("1s accepted")
	}
}

func TestParsePromText(t *testing.T) {
	text := `# HELP mad_source_ring_dropped_samples_total x
# TYPE mad_source_ring_dropped_samples_total counter
mad_source_ring_dropped_samples_total{pipeline="default",source="udp"} 3
mad_source_ring_dropped_samples_total{pipeline="default",source="tcp"} 4
mad_shard_refused_total{shard="0",reason="bad_key"} 1
weird{a="x\"y\\z",b="c,d"} 1.5e3 1700000000
plain 7
`
	s, err := ParsePromText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 5 {
		t.Fatalf("%d samples", len(s))
	}
	if s[3].Labels["a"] != `x"y\z` || s[3].Labels["b"] != "c,d" || s[3].Value != 1500 {
		t.Fatalf("escaped labels: %+v", s[3])
	}
	if v := SumProm(s, "mad_source_ring_dropped_samples_total", nil); v != 7 {
		t.Fatalf("sum %v", v)
	}
	if v := SumProm(s, "mad_source_ring_dropped_samples_total", map[string]string{"source": "tcp"}); v != 4 {
		t.Fatalf("filtered sum %v", v)
	}
	l := MadInternalLoss(s)
	if l.Total() != 8 || l.RingDropped != 7 || l.Refused != 1 {
		t.Fatalf("%+v", l)
	}
	if _, err := ParsePromText(strings.NewReader("x{a=\"b} 1\n")); err == nil {
		t.Fatal("an unterminated label was accepted")
	}
}

func TestParseInflux(t *testing.T) {
	name, tags, fields, ok := parseInflux(`s1.app\ 1,metric_type=counter,host=h\,1 value=12i,x="a b" 1700000000000000000`)
	if !ok || name != "s1.app 1" || tags["host"] != "h,1" || tags["metric_type"] != "counter" || fields["value"] != "12i" || fields["x"] != `"a b"` {
		t.Fatalf("%q %v %v %v", name, tags, fields, ok)
	}
}

// TestS3Encodings decodes what the S3 builders encode: V3 records carry
// the stamped time, the dimensions and every sample; remote-write series
// carry their samples one millisecond apart.
func TestS3Encodings(t *testing.T) {
	c := Cell{UnitsOfWork: 3, Names: 2, Samples: 4}
	p := BuildS3(c, V3, 1, 100)
	if len(p.Messages) != 1 || p.Lines[0] != 24 || p.Path != "/metrics/v3/application" {
		t.Fatalf("%d messages, %v lines", len(p.Messages), p.Lines)
	}
	body := append([]byte(nil), p.Messages[0]...)
	const now = int64(1_790_000_000_123)
	Stamp(body, p.Stamps[0], now)
	records, samples := 0, 0
	for b := body; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if num != 1 || typ != protowire.BytesType || n < 0 {
			t.Fatal("bad Request")
		}
		rec, m := protowire.ConsumeBytes(b[n:])
		b = b[n+m:]
		records++
		dims := 0
		for len(rec) > 0 {
			num, typ, n := protowire.ConsumeTag(rec)
			rec = rec[n:]
			switch {
			case num == 2 && typ == protowire.VarintType:
				v, m := protowire.ConsumeVarint(rec)
				if int64(v) != now {
					t.Fatalf("end time %d; want %d", v, now)
				}
				rec = rec[m:]
			case num == 4:
				dims++
				_, m := protowire.ConsumeBytes(rec)
				rec = rec[m:]
			case num == 5:
				md, m := protowire.ConsumeBytes(rec)
				rec = rec[m:]
				// name (1), numerical_data (2) { samples (1, packed) }
				for len(md) > 0 {
					fnum, _, k := protowire.ConsumeTag(md)
					v, k2 := protowire.ConsumeBytes(md[k:])
					md = md[k+k2:]
					if fnum == 2 {
						_, _, k := protowire.ConsumeTag(v)
						packed, _ := protowire.ConsumeBytes(v[k:])
						samples += len(packed) / 8
					}
				}
			default:
				m := protowire.ConsumeFieldValue(num, typ, rec)
				rec = rec[m:]
			}
		}
		if dims != 3 {
			t.Fatalf("%d dimensions", dims)
		}
	}
	if records != 3 || samples != 24 {
		t.Fatalf("%d records, %d samples", records, samples)
	}
	rw := BuildS3(c, RemoteWrite, 1, 100)
	body = append([]byte(nil), rw.Messages[0]...)
	Stamp(body, rw.Stamps[0], now)
	got, err := countWriteRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	id := Identity("s3_metric_001_value", map[string]string{"instance": "bench-host", "job": "s3"})
	if got[id].Count != 12 || len(got) != 2 {
		t.Fatalf("%v", got)
	}
	want := rw.Totals(1, nil)
	if e := Compare(want, got, false); e.Missing != 0 || e.Expected != 24 || e.Emitted != 24 {
		t.Fatalf("%+v", e)
	}
	sd := BuildS3(c, StatsDLines, 1, 10)
	if len(sd.Messages) != 10 || !bytes.HasPrefix(sd.Messages[0], []byte("s3.metric_000:")) || !bytes.HasSuffix(sd.Messages[0], []byte("|h\n")) {
		t.Fatalf("statsd S3: %d messages, first %q", len(sd.Messages), sd.Messages[0])
	}
	if n := len(Grid()); n != 27 {
		t.Fatalf("grid of %d cells", n)
	}
}

func TestStampIsAVarint(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 1 << 35, 1_790_000_000_123, 1<<42 - 1} {
		b, at := stampPlaceholder(nil)
		Stamp(b, []StampAt{{Off: at}}, v)
		got, n := protowire.ConsumeVarint(b)
		if n != 6 || int64(got) != v {
			t.Fatalf("%d: read %d in %d bytes", v, got, n)
		}
	}
}

func TestExactPercentileAndLatency(t *testing.T) {
	vals := make([]float64, 10000)
	for i := range vals {
		vals[i] = float64(i + 1)
	}
	for p, want := range map[float64]float64{50: 5000, 90: 9000, 99: 9900, 99.9: 9990, 100: 10000} {
		if got := ExactPercentile(vals, p); got != want {
			t.Errorf("p%v = %v; want %v", p, got, want)
		}
	}
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	l := Summarize(Latency{}, lat, 30)
	if l.P50 != 50*time.Millisecond || l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond || l.Periods != 30 {
		t.Fatalf("%+v", l)
	}
}

func TestSVG(t *testing.T) {
	s := SVG("t <&>", BarPanel{Title: "cpu", Unit: "lines/CPU-s", Bars: []Bar{{"mad", 5.5e6, "3x"}, {"peer", 1.7e6, ""}}},
		LinePanel{Title: "loss", XLabel: "rate", YLabel: "%", LogX: true, Lines: []Line{{Name: "mad", X: []float64{1e5, 1e6, 1e7}, Y: []float64{0, 0, 12}}}})
	for _, want := range []string{"<svg", "</svg>", "t &lt;&amp;&gt;", "5.5M lines/CPU-s (3x)", "<polyline", "mad"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if got := niceTicks(0, 5.5e6, 5); got[0] != 0 || got[len(got)-1] < 5.5e6 {
		t.Fatalf("ticks %v", got)
	}
}
