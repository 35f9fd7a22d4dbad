package shard_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gomad/mad/hist/histtest"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/ingest/graphite"
	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/shard"
)

// handlesPipeline is a StatsD decoder (or, with graphite, a Graphite one),
// its producer and the shards behind it, driven by hand on a clock that
// only the test moves.
type handlesPipeline struct {
	t      testing.TB
	dec    *statsd.Decoder
	gdec   *graphite.Decoder
	gstats sample.Counts // gdec's
	prod   *ingest.Producer
	shards []*shard.Shard
	rows   []string
}

func newHandlesPipeline(t *testing.T, handles, graphiteLines bool) *handlesPipeline {
	t.Helper()
	p := &handlesPipeline{t: t, dec: statsd.NewDecoder(statsd.Config{Seed: 7})}
	if graphiteLines {
		p.gdec = graphite.NewDecoder(graphite.Config{ParseCarbonTags: true, GlobalTags: [][2]string{{"svc", "s"}, {"host", "g"}}})
	}
	lanes := ingest.NewLanes(2, 64)
	for i := range 2 {
		s, err := shard.New(i, shard.Config{Periods: []time.Duration{time.Second, 2 * time.Second}, IdleTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s.Attach(lanes.To[i], lanes.Back[i])
		p.shards = append(p.shards, s)
		if handles {
			lanes.Epochs = append(lanes.Epochs, s.Epoch())
		}
	}
	p.prod = ingest.NewProducer(lanes)
	if handles {
		p.dec.SetCache(p.prod.Handles())
		if p.gdec != nil {
			p.gdec.SetCache(p.prod.Handles())
		}
	}
	return p
}

// step decodes a datagram at now and runs the shards' round and tick.
func (p *handlesPipeline) step(datagram []byte, now int64, trim bool) {
	if p.gdec == nil {
		p.dec.Decode(datagram, now, p.prod.Route)
	} else {
		for line := range bytes.Lines(datagram) {
			c, err := p.gdec.DecodeLine(bytes.TrimSuffix(line, []byte("\n")), now, p.prod.Route)
			if err != nil {
				p.t.Fatalf("%q: %v", line, err)
			}
			p.gstats.Add(c)
		}
	}
	p.prod.Flush()
	for _, s := range p.shards {
		shard.DrainInputs(s, now)
		s.Tick(now)
	}
	if trim {
		p.prod.Trim()
	}
	p.collect()
}

func (p *handlesPipeline) reaped() uint64 {
	n := uint64(0)
	for _, s := range p.shards {
		n += s.Stats().SeriesReaped
	}
	return n
}

func (p *handlesPipeline) collect() {
	for _, s := range p.shards {
		for snap, ok := s.Output().Pop(); ok; snap, ok = s.Output().Pop() {
			p.rows = histtest.Rows(p.rows, snap)
			snap.Release()
		}
	}
}

// TestHandlesChangeNoAggregate: a StatsD workload whose series come and go
// (reaped while silent, back later, their sids freed and reused) gives the
// same rows with handles as with keys, while most samples go by handle and
// the shards' epochs move on.
func TestHandlesChangeNoAggregate(t *testing.T) {
	testHandlesChangeNoAggregate(t, false)
}

// TestGraphiteHandlesChangeNoAggregate is TestHandlesChangeNoAggregate with
// Graphite lines: names with and without carbon tags (in either order, and
// ones the decoder ignores) over global tags.
func TestGraphiteHandlesChangeNoAggregate(t *testing.T) {
	testHandlesChangeNoAggregate(t, true)
}

func testHandlesChangeNoAggregate(t *testing.T, graphiteLines bool) {
	with, without := newHandlesPipeline(t, true, graphiteLines), newHandlesPipeline(t, false, graphiteLines)
	r := rand.New(rand.NewPCG(1, 2))
	types := []string{"c", "c", "g", "ms", "h", "s"}
	const t0 = int64(1_700_000_000_000)
	now := t0
	// Each name falls silent now and then, for 1.5 to 7.5 s, longer than
	// the idle timeout and the periods: its series are reaped and come
	// back, some in the epoch they were reaped in, some epochs later.
	const names = 150
	var cycle, silent, offset [names]int
	for i := range names {
		cycle[i] = 40 + r.IntN(80)
		silent[i] = 15 + r.IntN(cycle[i]-25)
		offset[i] = r.IntN(cycle[i])
	}
	reaped := uint64(0)
	for step := range 1500 {
		now = t0 + int64(step)*100
		var d []byte
		// Right after a step that reaped series, some silent names come
		// back at once: their handles, in a batch of the epoch they were
		// reaped in, find their series again.
		early := false
		if n := with.reaped(); n != reaped {
			reaped, early = n, true
		}
		for range 40 {
			i := r.IntN(names)
			if (step+offset[i])%cycle[i] < silent[i] && !early {
				continue
			}
			if graphiteLines {
				d = fmt.Appendf(d, "app.metric_%d", i)
				switch r.IntN(8) {
				case 0:
					d = fmt.Appendf(d, ";host=h%d", i%3)
				case 1:
					d = fmt.Appendf(d, ";host=h%d;env=e%d", i%3, i%2)
				case 2:
					d = fmt.Appendf(d, ";env=e%d;host=h%d", i%2, i%3)
				case 3:
					d = fmt.Appendf(d, ";bad;env=e%d", i%2) // "bad" is ignored
				}
				d = fmt.Appendf(d, " %d.%d", r.IntN(1000), r.IntN(10))
				if r.IntN(3) == 0 {
					d = fmt.Appendf(d, " %d", now/1000-int64(r.IntN(2)))
				}
				d = append(d, '\n')
				continue
			}
			typ := types[i%len(types)]
			v := fmt.Sprint(r.IntN(1000))
			switch {
			case typ == "g" && r.IntN(4) == 0:
				v = "+" + v
			case typ == "s":
				v = fmt.Sprint("m", r.IntN(20))
			}
			// Names with Influx tags, DogStatsD tags in either order.
			d = fmt.Appendf(d, "app.metric_%d", i)
			if i%7 == 0 {
				d = fmt.Appendf(d, ",dc=d%d", r.IntN(2))
			}
			d = fmt.Appendf(d, ":%s|%s", v, typ)
			switch r.IntN(10) {
			case 0:
				d = append(d, "|@0.5"...)
			case 1:
				d = fmt.Appendf(d, "|#host:h%d", r.IntN(3))
			case 2:
				d = fmt.Appendf(d, "|#host:h%d,env:e%d", r.IntN(3), i%2)
			case 3:
				d = fmt.Appendf(d, "|#env:e%d,host:h%d", i%2, r.IntN(3))
			}
			d = append(d, '\n')
		}
		with.step(d, now, step%10 == 9)
		without.step(d, now, step%10 == 9)
	}
	for _, p := range []*handlesPipeline{with, without} {
		p.prod.Flush()
		for _, s := range p.shards {
			shard.DrainInputs(s, now)
			s.Flush(now)
		}
		p.collect()
		slices.Sort(p.rows)
	}
	if len(with.rows) == 0 || !slices.Equal(with.rows, without.rows) {
		t.Fatalf("%d rows with handles, %d without; they differ", len(with.rows), len(without.rows))
	}
	reaped = 0
	var created, epochs uint64
	for _, s := range with.shards {
		st := s.Stats()
		if st.Refused != [shard.NumRefusals]uint64{} {
			t.Fatalf("refused %v", st.Refused)
		}
		reaped += st.SeriesReaped
		created += st.SeriesCreated
		epochs += uint64(s.Epoch().Load() - 1)
	}
	samples, handles := with.dec.Stats.Samples, with.dec.Stats.Handles
	if graphiteLines {
		samples, handles = uint64(with.gstats.Samples), uint64(with.gstats.Handles)
	}
	if handles*3 < samples || reaped == 0 || epochs == 0 {
		t.Fatalf("%d samples, %d by handle; %d series created, %d reaped; epochs moved %d times", samples, handles, created, reaped, epochs)
	}
	t.Logf("%d rows; %d samples, %d by handle; %d series created, %d reaped; epochs moved %d times",
		len(with.rows), samples, handles, created, reaped, epochs)
}
