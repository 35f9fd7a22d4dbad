package otlp

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	colpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/ingest/otlp/otlpref"
	"github.com/gomad/mad/internal/sample"
)

// streamsRequest builds a request of resource r's streams [from, to): a
// gauge point each, with three attributes unique to the stream.
func streamsRequest(r, from, to int) []byte {
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", fmt.Sprintf("svc-%d", r)), str("host.name", "host.example.com")}}
	m := &metricspb.Metric{Name: "m"}
	var nps []*metricspb.NumberDataPoint
	for s := from; s < to; s++ {
		nps = append(nps, &metricspb.NumberDataPoint{TimeUnixNano: 1_700_000_000_000_000_000,
			Attributes: []*commonpb.KeyValue{str("route", fmt.Sprintf("/api/%d", s)), str("method", "GET"), str("pad", strings.Repeat("p", s%50))},
			Value:      &metricspb.NumberDataPoint_AsDouble{AsDouble: float64(s)}})
	}
	m.Data = &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: nps}}
	// A second name over every tenth attribute set: a section's slot keeps
	// the key of the first name only.
	n := &metricspb.Metric{Name: "n", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{}}}
	for i := 0; i < len(nps); i += 10 {
		n.GetGauge().DataPoints = append(n.GetGauge().DataPoints, nps[i])
	}
	b, err := proto.Marshal(&colpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{Resource: res,
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{m, n}}}}}})
	if err != nil {
		panic(err)
	}
	return b
}

// TestSectionCacheGrows: an exporter's 12 000 streams (6 resources of
// 2 000) evict one another from the first size of the cache; it grows until
// they fit and then finds nearly every section, and every request decodes
// exactly as with a new decoder (whose cache is empty).
func TestSectionCacheGrows(t *testing.T) {
	const resources, streams, per = 6, 2000, 500
	var reqs [][]byte
	for r := range resources {
		for s := 0; s < streams; s += per {
			reqs = append(reqs, streamsRequest(r, s, s+per))
		}
	}
	d := NewDecoder(Config{})
	decode := func(d *Decoder, body []byte) []string {
		var b sample.Batch
		if _, err := d.Decode(body, 7, func(uint64) *sample.Batch { return &b }); err != nil {
			t.Fatal(err)
		}
		checkHashes(t, &b)
		return otlpref.Render(&b)
	}
	for round := range 8 {
		hits := d.cache.hits
		for _, body := range reqs {
			if got, want := decode(d, body), decode(NewDecoder(Config{}), body); !slices.Equal(got, want) {
				t.Fatalf("round %d: the cached decoder and a new one differ", round)
			}
		}
		if round == 7 {
			points := resources * streams * 11 / 10
			t.Logf("the last round found %d of %d sections; %d slots", d.cache.hits-hits, points, len(d.cache.slots))
			if n := d.cache.hits - hits; n < uint64(points*95/100) {
				t.Errorf("the last round found %d of %d sections in the cache", n, points)
			}
		}
	}
	if n := len(d.cache.slots); n <= cacheSetsMin*cacheWays {
		t.Errorf("%d slots: the cache did not grow", n)
	}
}

// TestSectionCacheBounded: streams that never come back grow the cache to
// its bounds and no further.
func TestSectionCacheBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 300 000 points")
	}
	d := NewDecoder(Config{})
	var b sample.Batch
	for r := range 100 {
		b.Reset()
		if _, err := d.Decode(streamsRequest(r, 0, 3000), 7, func(uint64) *sample.Batch { return &b }); err != nil {
			t.Fatal(err)
		}
		if c := &d.cache; len(c.slots) > cacheSetsMax*cacheWays || len(c.hashes) != len(c.slots) || c.arenaMax > cacheArenaTop || len(c.arena) > c.arenaMax {
			t.Fatalf("request %d: %d slots, arena %d of %d", r, len(c.slots), len(c.arena), c.arenaMax)
		}
	}
	if c := &d.cache; len(c.slots) != cacheSetsMax*cacheWays || c.arenaMax != cacheArenaTop {
		t.Errorf("%d slots, arena bound %d: not grown to the bounds", len(c.slots), c.arenaMax)
	}
}

// TestSectionCacheHugeResource: a resource larger than the arena is not
// cached, and the arena keeps its bound.
func TestSectionCacheHugeResource(t *testing.T) {
	d := NewDecoder(Config{})
	req := &colpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("big", strings.Repeat("x", cacheArenaTop+1))}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{Name: "m", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{
			DataPoints: []*metricspb.NumberDataPoint{{Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 1}}}}}}}}},
	}}}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var b sample.Batch
	if _, err := d.Decode(body, 7, func(uint64) *sample.Batch { return &b }); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.TooLong != 1 {
		t.Errorf("stats %+v; want the point's key too long", st)
	}
	if c := &d.cache; len(c.arena) > c.arenaMax || d.resID != 0 {
		t.Errorf("arena %d of %d, resource id %d", len(c.arena), c.arenaMax, d.resID)
	}
}
