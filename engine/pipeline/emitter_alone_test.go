package pipeline

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
)

// onceSink fails on a dimension set recorded twice for one period and
// start (its first part twice: every group of one shard is one snapshot,
// whose rows of a set make one bucket), and sums the count of every metric
// by period.
type onceSink struct {
	seen   map[string]bool
	counts map[time.Duration]float64
	errs   []string
}

func (o *onceSink) Record(pd *sinks.PeriodicData) {
	k := fmt.Sprint(pd.Period, " ", pd.Start.UnixMilli())
	for _, d := range pd.Dimensions {
		k += " " + string(d.Key) + "=" + string(d.Value)
	}
	if pd.Part == 0 {
		if o.seen[k] && len(o.errs) < 5 {
			o.errs = append(o.errs, "bucket "+k+" recorded twice")
		}
		o.seen[k] = true
	}
	for _, m := range pd.Metrics {
		for _, st := range m.Statistics {
			if st.Stat == hist.Count {
				o.counts[pd.Period] += st.Value
			}
		}
	}
}
func (o *onceSink) Flush()       {}
func (o *onceSink) Close() error { return nil }

// TestEmitterReadsCountsWhileShardChangesThem: the emitter, polling on a
// goroutine of its own, reads whether a row is alone in its dimension set
// (the shard's pool counts, hist.SeriesKeys.Dims) while the shard's
// goroutine makes, reaps and makes again series of sets of their own, of
// two series, of six and of many. Every bucket is recorded once and every
// sample is counted once a period (run with -race: the counts are read
// and written atomically).
func TestEmitterReadsCountsWhileShardChangesThem(t *testing.T) {
	cfg := shard.Config{Periods: []time.Duration{time.Second, 2 * time.Second}, IdleTimeout: time.Second, OutputQueue: 4}
	s, err := shard.New(0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := &onceSink{seen: map[string]bool{}, counts: map[time.Duration]float64{}}
	e := NewEmitter([]*shard.Shard{s}, out)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			e.Poll()
		}
	}()
	r := rand.New(rand.NewPCG(1, 2))
	now, samples := t0, 0
	var b sample.Batch
	for range 600 {
		b.Reset()
		for range 1 + r.IntN(200) {
			series := r.IntN(3000)
			var host string
			switch r.IntN(4) {
			case 0:
				host = fmt.Sprintf("u%d", series) // a set of its own
			case 1:
				host = fmt.Sprintf("p%d", series%1500) // of two series
			case 2:
				host = fmt.Sprintf("f%d", series%500) // of six
			default:
				host = fmt.Sprintf("s%d", r.IntN(4)) // of many
			}
			// (Names by series%7: the series of a set have names of
			// their own.)
			addSample(&b, sample.KindCounter, fmt.Sprintf("m%d", series%7), now, 0, 1, sample.UnitNone, "host", host)
			samples++
		}
		s.Apply(&b, now)
		s.Tick(now)
		now += int64(50 + r.IntN(300))
	}
	stop.Store(true)
	wg.Wait()
	// The rest, as at a stop: sealed with the output full, emitted.
	for s.Flush(now); e.Poll() || s.Pending() > 0; s.Flush(now) {
	}
	for _, msg := range out.errs {
		t.Error(msg)
	}
	for _, p := range cfg.Periods {
		if out.counts[p] != float64(samples) {
			t.Errorf("%v: %v samples counted; want %d", p, out.counts[p], samples)
		}
	}
	if st := s.Stats(); st.SeriesReaped < 1000 {
		t.Errorf("%d series reaped; want at least 1000", st.SeriesReaped)
	}
}
