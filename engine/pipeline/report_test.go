package pipeline

import (
	"errors"
	"testing"
	"time"

	sm "github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/jsonlines"
)

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// counted returns the pipeline's reported values of name, by sink label.
func counted(p *Pipeline, name string) map[string]float64 {
	out := map[string]float64{}
	p.Report(func(v sm.Value) {
		if v.Name != name {
			return
		}
		for i := 0; i+1 < len(v.Labels); i += 2 {
			if v.Labels[i] == "sink" {
				out[v.Labels[i+1]] += v.V
			}
		}
	})
	return out
}

// TestReloadKeepsRetiredCounts: what a sink counts up to its close at a
// reload (here a bucket it could not write) stays on /metrics: added to
// the sink of the same name that replaced it, and reported alone once a
// reload removes the sink; the counter never goes back. The same holds
// when the reload replaces the aggregator (another shard count).
func TestReloadKeepsRetiredCounts(t *testing.T) {
	newSink := func() *jsonlines.Sink {
		s, err := jsonlines.New(jsonlines.Config{Name: "j", Writer: failingWriter{}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	bucket := &sinks.PeriodicData{Period: time.Second, Start: time.Unix(0, 0), Metrics: []sinks.Metric{{Name: []byte("m"), Type: "counter"}}}
	s1 := newSink()
	cfg := Config{Name: "p", Shards: 1, Shard: shard.Config{Periods: []time.Duration{time.Second}}, Sinks: []sinks.Sink{s1}}
	p, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	s1.Record(bucket) // written (and failed) when the sink is flushed or closed
	// A reload that keeps the aggregator: s1 closes, dropping the bucket.
	s2 := newSink()
	cfg.Sinks = []sinks.Sink{s2}
	// The old sink's close error is reported as applied, not refused.
	var applied *AppliedError
	if err := p.Update(cfg); !errors.As(err, &applied) {
		t.Fatalf("Update = %v; want the old sink's close error as an *AppliedError", err)
	}
	if p.Sinks()[0] != s2 {
		t.Fatal("the pipeline does not run the new sink")
	}
	if _, d, _ := s1.Stats(); d != 1 {
		t.Fatalf("the old sink dropped %d buckets at its close; want 1", d)
	}
	if got := counted(p, "mad_sink_dropped_total")["j"]; got != 1 {
		t.Errorf("after the reload /metrics says %v dropped; want 1 (the old sink's)", got)
	}
	// One more drop by the new sink, then a reload that replaces the
	// aggregator (two shards).
	s2.Record(bucket)
	s3 := newSink()
	cfg.Sinks, cfg.Shards = []sinks.Sink{s3}, 2
	p.Update(cfg)
	if got := counted(p, "mad_sink_dropped_total")["j"]; got != 2 {
		t.Errorf("after the second reload /metrics says %v dropped; want 2", got)
	}
	// The sink removed: its count stays.
	s4, err := jsonlines.New(jsonlines.Config{Name: "other", Writer: failingWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sinks = []sinks.Sink{s4}
	p.Update(cfg)
	if got := counted(p, "mad_sink_dropped_total"); got["j"] != 2 || got["other"] != 0 {
		t.Errorf("after the sink was removed /metrics says %v; want j 2, other 0", got)
	}
}
