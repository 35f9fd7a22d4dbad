package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/shard/shardref"
)

// The harness: one input is a payload in a wire format, cut into rounds at
// empty lines ("\n\n"); round i is decoded at the fixed wall time
// baseNow + i × roundStep, which is also the record time of what carries
// none. The real side decodes a round into a batch (one shard: every hash
// routes to it) and applies it to a shard; the reference side decodes it
// with the format's reference decoder and adds it to shardref. After each
// round the shard ticks and the reference closes what expired; at the end
// both flush. Every closed bucket is rendered to a line (shardref), and the
// lines must be equal, round after round; so must the samples each side
// refused, and the decoders' accounting (checked by each target). A binary
// payload is cut into rounds at bodySep instead.

const (
	baseNow   = 1_700_000_000_123
	roundStep = 700 // ms: rounds cross the buckets of the shorter periods
)

// rounds cuts a payload at its empty lines.
func rounds(data []byte) [][]byte { return bytes.Split(data, []byte("\n\n")) }

// bodySep cuts a payload of a binary format (protobuf, snappy), which has
// no lines, into rounds: one body each. None of the seeds holds it.
const bodySep = "\n--\n"

// bodies cuts a payload of a binary format at bodySep.
func bodies(data []byte) [][]byte { return bytes.Split(data, []byte(bodySep)) }

// lines cuts a round into lines as a TCP line source does: on '\n', empty
// lines left out.
func lines(round []byte) [][]byte {
	return slices.DeleteFunc(bytes.Split(round, []byte("\n")), func(l []byte) bool { return len(l) == 0 })
}

// fuzzWith adds seeds, in variant, to f's corpus and fuzzes check.
func fuzzWith(f *testing.F, seeds []seed, variant uint8, check func(t testing.TB, data []byte, variant uint8) int) {
	for _, s := range seeds {
		f.Add(s.data, variant)
	}
	f.Fuzz(func(t *testing.T, data []byte, variant uint8) { check(t, data, variant) })
}

// checkLines runs a payload of a line format through p, round by round,
// line by line: decode decodes a line on both sides (into p.got and
// p.want), and both must refuse it or accept it, with the same counts.
func checkLines(t testing.TB, p *pipeline, data []byte, decode func(line []byte) (c, wc sample.Counts, err, werr error)) int {
	t.Helper()
	for _, r := range rounds(data) {
		for _, line := range lines(r) {
			c, wc, err, werr := decode(line)
			if (err != nil) != (werr != nil) || c != wc {
				t.Fatalf("line %q: the decoder gave %+v, %v; the reference %+v, %v", line, c, err, wc, werr)
			}
		}
		p.endRound()
	}
	p.finish()
	return p.closed
}

// checkBodies runs a payload of a binary format through p, a request a
// round: decode decodes a body on both sides (into p.got and p.want), and
// both must refuse it or accept it alike (checkBody). A refused body
// routes nothing: MAD refuses the whole request, and the HTTP source
// discards what was decoded.
func checkBodies(t testing.TB, p *pipeline, data []byte, decode func(body []byte) (c, wc sample.Counts, err, werr error)) int {
	t.Helper()
	for _, body := range bodies(data) {
		c, wc, err, werr := decode(body)
		if err != nil {
			p.got.Reset()
		}
		checkBody(t, body, c, wc, err, werr)
		p.endRound()
	}
	p.finish()
	return p.closed
}

// refusal is the kind of a decoding error (sample.ErrMalformed,
// ErrTooLarge or ErrMADFails: MAD's 400, 413 or 500), nil for none; an
// error of no kind is itself.
func refusal(err error) error {
	for _, k := range []error{sample.ErrMalformed, sample.ErrTooLarge, sample.ErrMADFails} {
		if errors.Is(err, k) {
			return k
		}
	}
	return err
}

// checkBody fails unless the decoder and the reference both accept a body
// with the same counts, or both refuse it with the same kind (the
// decoder's refusal being a *sample.DecodeError, as every decoder's is).
func checkBody(t testing.TB, body []byte, c, wc sample.Counts, err, werr error) {
	t.Helper()
	var de *sample.DecodeError
	if err != nil && !errors.As(err, &de) {
		t.Fatalf("body %q: the decoder refused it with %v; want a *sample.DecodeError", body, err)
	}
	if refusal(err) != refusal(werr) || err == nil && c != wc {
		t.Fatalf("body %q: the decoder gave %+v, %v; the reference %+v, %v", body, c, err, wc, werr)
	}
}

// aggConfig is one pipeline configuration, for both aggregators.
type aggConfig struct {
	periods               []int64 // ms
	granularity           int64   // ms
	counter, gauge, timer hist.Set
	overrides             []shard.Override
}

var allStats = hist.SetOf(hist.Count, hist.Sum, hist.Min, hist.Max, hist.Mean, hist.Median,
	hist.TP75, hist.TP90, hist.TP95, hist.TP99, hist.TP99p9, hist.Histogram)

// aggConfigs are the configurations a target's variant picks from: every
// statistic for every type; MAD's defaults; and shorter periods, a fine
// granularity and overrides that take metrics by name across types.
var aggConfigs = []aggConfig{
	{periods: []int64{1000, 60000}, granularity: 100, counter: allStats, gauge: allStats, timer: allStats},
	{periods: []int64{1000, 60000}, granularity: 100,
		counter: shard.DefaultCounterStatistics, gauge: shard.DefaultGaugeStatistics, timer: shard.DefaultTimerStatistics},
	{periods: []int64{500, 2000}, granularity: 1,
		counter: shard.DefaultCounterStatistics, gauge: shard.DefaultGaugeStatistics, timer: shard.DefaultTimerStatistics,
		overrides: []shard.Override{
			{Pattern: `[^.]*\.[^.]*`, Stats: hist.SetOf(hist.Median, hist.Max, hist.Count)},
			{Pattern: `.*a.*`, Stats: hist.SetOf(hist.Sum, hist.Min, hist.TP99p9)},
		}},
}

func statNames(s hist.Set) []string {
	var out []string
	for _, st := range s.All() {
		out = append(out, st.String())
	}
	return out
}

// pipeline is a shard and the reference aggregator with one configuration,
// and the batch each side's decoder fills for the current round.
type pipeline struct {
	t         testing.TB
	sh        *shard.Shard
	ref       *shardref.Aggregator
	got, want sample.Batch
	// answer, if set, takes the answers the shard gave to the asks of
	// got (a decoder's series cache, as its producer's).
	answer func([]sample.Ask)
	round  int
	// closed counts the buckets compared, for the seed tests' report.
	closed int
}

func newPipeline(t testing.TB, variant int) *pipeline {
	t.Helper()
	c := aggConfigs[variant%len(aggConfigs)]
	cfg := shard.Config{
		Granularity:       time.Duration(c.granularity) * time.Millisecond,
		CounterStatistics: c.counter, GaugeStatistics: c.gauge, TimerStatistics: c.timer,
		Overrides: c.overrides,
		// Longer than any run: the reference never forgets a series (nor
		// the last value of a gauge, which deltas add to).
		IdleTimeout: 24 * time.Hour,
	}
	rc := shardref.Config{Periods: c.periods, Granularity: c.granularity,
		Counter: statNames(c.counter), Gauge: statNames(c.gauge), Timer: statNames(c.timer)}
	for _, p := range c.periods {
		cfg.Periods = append(cfg.Periods, time.Duration(p)*time.Millisecond)
	}
	for _, o := range c.overrides {
		rc.Overrides = append(rc.Overrides, shardref.Override{Pattern: o.Pattern, Stats: statNames(o.Stats)})
	}
	cfg.EnsureDefaults()
	sh, err := shard.New(0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{t: t, sh: sh, ref: shardref.New(rc)}
	p.got.Epoch = sh.Epoch().Load()
	return p
}

// route is the real decoders' sample.Route.
func (p *pipeline) route(uint64) *sample.Batch { return &p.got }

// now is the wall time of the current round.
func (p *pipeline) now() int64 { return baseNow + int64(p.round)*roundStep }

// endRound applies the round's batches, compares what closes and starts
// the next round.
func (p *pipeline) endRound() {
	p.t.Helper()
	now := p.now()
	p.sh.Apply(&p.got, now)
	if p.answer != nil {
		p.answer(p.got.Asks)
	}
	p.ref.Add(&p.want, now)
	p.sh.Tick(now)
	p.compare(fmt.Sprintf("round %d (now %d)", p.round, now), p.ref.Close(now))
	p.got.Reset()
	p.want.Reset()
	p.got.Epoch = p.sh.Epoch().Load() // its handles are of the shard's epoch now
	p.round++
}

// finish flushes both sides and compares what closes, then the refusals.
func (p *pipeline) finish() {
	p.t.Helper()
	if len(p.got.Samples)+len(p.want.Samples) > 0 {
		p.t.Fatal("BUG: finish with a round not ended")
	}
	now := p.now()
	p.sh.Flush(now)
	p.compare(fmt.Sprintf("flush (now %d)", now), p.ref.CloseAll())
	st := p.sh.Stats()
	var refused uint64
	for _, n := range st.Refused {
		refused += n
	}
	if refused != uint64(p.ref.Refused()) {
		p.t.Fatalf("the shard refused %d samples %v (%v); the reference %d", refused, st.Refused, shard.RefusalNames, p.ref.Refused())
	}
}

// compare drains the shard's sealed snapshots and compares their lines
// with the reference's.
func (p *pipeline) compare(when string, want []string) {
	p.t.Helper()
	var got []string
	for {
		snap, ok := p.sh.Output().Pop()
		if !ok {
			if p.sh.Pending() == 0 {
				break
			}
			p.sh.Tick(p.now()) // pushes what waits for room
			continue
		}
		got = append(got, shardref.RenderSnapshot(snap)...)
		snap.Release()
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		p.t.Fatalf("%s: the shard and the reference differ\n%s", when, shardref.Diff(got, want))
	}
	p.closed += len(got)
}

// batchString prints a batch's samples, for failure messages.
func batchString(b *sample.Batch) string {
	var sb strings.Builder
	for i := range b.Samples {
		s := &b.Samples[i]
		fmt.Fprintf(&sb, "  key=%q v=%v t=%d unit=%v flags=%d", b.Key(s), s.Value, s.Time, s.Unit, s.Flags)
		if s.Flags&sample.FlagAgg != 0 {
			a := b.Aggs[s.Agg]
			fmt.Fprintf(&sb, " agg=%+v hist=%v", a, b.HistOf(&a))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}
