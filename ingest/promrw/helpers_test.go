package promrw

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/internal/sample"
)

// vectorDir holds MAD's PrometheusParserTest resources (MAD-SPEC §14).
const vectorDir = "../../testdata/mad/parsers/PrometheusParserTest"

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatalf("reading vector: %v", err)
	}
	return b
}

// liveVectors are the five captured remote write requests.
var liveVectors = []string{"testLivePrometheus1", "testLivePrometheus2", "testLivePrometheus3", "testLivePrometheus4", "testLivePrometheus5"}

// A test encoder for both protocol versions.

type lbl struct{ k, v string }

type smp struct {
	v float64
	t int64
}

type ts struct {
	labels  []lbl
	samples []smp
	// hists native histograms (empty messages), extra raw fields appended
	// to the series message.
	hists int
	extra []byte
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMsg(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func encSample(s smp) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(s.v))
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(s.t))
}

// encV1 encodes a prometheus.WriteRequest (uncompressed).
func encV1(series ...ts) []byte {
	var out []byte
	for _, s := range series {
		var sb []byte
		for _, l := range s.labels {
			sb = appendMsg(sb, 1, appendString(appendString(nil, 1, l.k), 2, l.v))
		}
		for _, x := range s.samples {
			sb = appendMsg(sb, 2, encSample(x))
		}
		for range s.hists {
			sb = appendMsg(sb, v1Histograms, nil)
		}
		sb = append(sb, s.extra...)
		out = appendMsg(out, 1, sb)
	}
	return out
}

// encV2 encodes an io.prometheus.write.v2.Request (uncompressed) with a
// de-duplicated symbol table starting with "".
func encV2(series ...ts) []byte {
	syms := []string{""}
	index := map[string]uint64{"": 0}
	ref := func(s string) uint64 {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = uint64(len(syms))
		syms = append(syms, s)
		return index[s]
	}
	var body []byte
	for _, s := range series {
		var refs []byte
		for _, l := range s.labels {
			refs = protowire.AppendVarint(refs, ref(l.k))
			refs = protowire.AppendVarint(refs, ref(l.v))
		}
		sb := appendMsg(nil, 1, refs)
		for _, x := range s.samples {
			sb = appendMsg(sb, 2, encSample(x))
		}
		for range s.hists {
			sb = appendMsg(sb, v2Histograms, nil)
		}
		sb = append(sb, s.extra...)
		body = appendMsg(body, v2Timeseries, sb)
	}
	var out []byte
	for _, s := range syms {
		out = appendString(out, v2Symbols, s)
	}
	return append(out, body...)
}

func snap(b []byte) []byte { return snappy.Encode(nil, b) }

// rec is a decoded sample in MAD's terms.
type rec struct {
	name string
	dims string // "k=v,k=v" in canonical order
	v    float64
	t    int64
	unit sample.Unit
}

func (r rec) String() string {
	return fmt.Sprintf("%s{%s} %v @%d %s", r.name, r.dims, r.v, r.t, r.unit)
}

// recsOf reads every sample of b back, checking each key.
func recsOf(t testing.TB, b *sample.Batch) []rec {
	t.Helper()
	var out []rec
	for i := range b.Samples {
		s := &b.Samples[i]
		key := b.Key(s)
		pk, err := sample.ParseKey(key)
		if err != nil || sample.Hash(key) != s.Hash {
			t.Fatalf("sample %d: bad key %q (%v)", i, key, err)
		}
		if pk.Kind != sample.KindGauge || s.Flags != 0 || s.ReqTime != 0 {
			t.Fatalf("sample %d: kind %v flags %d reqTime %d; want a plain gauge", i, pk.Kind, s.Flags, s.ReqTime)
		}
		var dims []string
		it := pk.DimIter()
		for d, ok := it.Next(); ok; d, ok = it.Next() {
			dims = append(dims, string(d.Key)+"="+string(d.Value))
		}
		out = append(out, rec{string(pk.Name), strings.Join(dims, ","), s.Value, s.Time, s.Unit})
	}
	return out
}

// decodeAll decodes body into one batch.
func decodeAll(t testing.TB, cfg Config, version int, body []byte) ([]rec, Stats, error) {
	t.Helper()
	var b sample.Batch
	d := NewDecoder(cfg)
	route := func(uint64) *sample.Batch { return &b }
	var c sample.Counts
	var err error
	if version == 2 {
		c, err = d.DecodeV2(body, 0, route)
	} else {
		c, err = d.Decode(body, 0, route)
	}
	st := d.Stats()
	if c != st.Counts {
		t.Fatalf("a Decode call returned %+v; Stats says %+v", c, st.Counts)
	}
	return recsOf(t, &b), st, err
}

// dimString renders dimensions (key, value, key, value, …) as recsOf does:
// in canonical (key) order.
func dimString(kv ...string) string {
	var pairs [][2]string
	for i := 0; i < len(kv); i += 2 {
		pairs = append(pairs, [2]string{kv[i], kv[i+1]})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i][0] < pairs[j][0] })
	var out []string
	for _, p := range pairs {
		out = append(out, p[0]+"="+p[1])
	}
	return strings.Join(out, ",")
}

func sameRecs(a, b []rec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.name != y.name || x.dims != y.dims || x.t != y.t || x.unit != y.unit ||
			math.Float64bits(x.v) != math.Float64bits(y.v) {
			return false
		}
	}
	return true
}

func snappyDecode(b []byte) ([]byte, error) { return snappy.DecodeStrict(nil, b) }

// synth makes a realistic request: nSeries series of samplesPer samples each,
// with node-exporter/cAdvisor-like names and 8 to 11 labels. Every name is a
// gauge MAD keeps.
func synth(nSeries, samplesPer int) []ts {
	names := []string{
		"node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes", "node_load1", "node_network_up",
		"container_memory_working_set_bytes", "container_spec_memory_limit_bytes", "kube_pod_status_ready",
		"http_request_duration_seconds", "process_resident_memory_bytes", "go_goroutines",
		"node_hwmon_temp_celcius", "up", "scrape_duration_seconds", "kube_deployment_status_replicas_available",
	}
	out := make([]ts, 0, nSeries)
	for i := range nSeries {
		s := ts{labels: []lbl{
			{"__name__", names[i%len(names)]},
			{"cluster", "prod-eu-west-1"},
			{"container", fmt.Sprintf("app-%d", i%37)},
			{"instance", fmt.Sprintf("10.1.%d.%d:9100", i/250%250, i%250)},
			{"job", "kubernetes-pods"},
			{"namespace", fmt.Sprintf("team-%d", i%11)},
			{"node", fmt.Sprintf("ip-10-1-%d-%d.eu-west-1.compute.internal", i%7, i%13)},
			{"pod", fmt.Sprintf("app-%d-7d9f8c6b5-%05d", i%37, i)},
		}}
		for j := range i % 4 {
			s.labels = append(s.labels, lbl{fmt.Sprintf("extra_%d", j), "value"})
		}
		// Prometheus sends labels sorted by name.
		sort.Slice(s.labels, func(a, b int) bool { return s.labels[a].k < s.labels[b].k })
		for j := range samplesPer {
			s.samples = append(s.samples, smp{float64(i*7+j) * 1.25, 1700000000000 + int64(j)*15000})
		}
		out = append(out, s)
	}
	return out
}
