package ingest_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gomad/mad/hist/histtest"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/testseed"
	"github.com/gomad/mad/shard"
)

// TestHandlesAgree: three producers, each with its StatsD decoder (and,
// with handles, its own series cache), feed two running shards a random
// script: counters, gauges with deltas, sets and timers, with Influx and
// DogStatsD tags in either order; names that fall silent long enough to
// be reaped and come back; producers idle for spells (Trim only), and
// producers that hold their batches back for a few steps while the shards
// move on (a lagging producer); and producers retargeted to new lanes on
// the same shards, the old lanes then detached. The rows the shards emit
// are those of the same script run without handles, and no sample is
// refused (none by a bad handle).
//
// Each run is a synctest bubble: the shards' loops run on its clock, which
// moves only when the test sleeps, and the test applies what the producers
// publish itself (AttachHosted, Step) once the loops are idle, so that a
// run is the same every time.
func TestHandlesAgree(t *testing.T) {
	seed := testseed.Seed(t)
	steps := 2000
	if testing.Short() {
		steps = 400
	}
	var with, without handlesRun
	synctest.Test(t, func(t *testing.T) { with = runHandlesScript(t, seed, steps, true) })
	synctest.Test(t, func(t *testing.T) { without = runHandlesScript(t, seed, steps, false) })
	t.Logf("with handles: %d rows; %d samples, %d by handle; %d series created, %d reaped; epochs moved %d times; %d retargets; %d producer steps idle, %d lagging; %d samples by handle sent late, in batches of an epoch left",
		len(with.rows), with.samples, with.handles, with.created, with.reaped, with.epochs, with.retargets, with.stepsIdle, with.stepsLagged, with.stale)
	if with.refused != [shard.NumRefusals]uint64{} || without.refused != with.refused {
		t.Fatalf("refused %v with handles, %v without (%v)", with.refused, without.refused, shard.RefusalNames)
	}
	if len(with.rows) == 0 || !slices.Equal(with.rows, without.rows) {
		i := 0
		for i < min(len(with.rows), len(without.rows)) && with.rows[i] == without.rows[i] {
			i++
		}
		t.Fatalf("%d rows with handles, %d without; first difference at %d:\nwith    %s\nwithout %s",
			len(with.rows), len(without.rows), i, rowAt(with.rows, i), rowAt(without.rows, i))
	}
	// (Retargets clear the caches, and epochs move every 2 s: a tenth at
	// least goes by handle.)
	if with.handles*10 < with.samples || with.reaped == 0 || with.epochs == 0 || with.retargets == 0 || with.stale == 0 {
		t.Fatal("the script did not exercise handles")
	}
}

// rowAt returns rows[i], if any.
func rowAt(rows []string, i int) string {
	if i < len(rows) {
		return rows[i]
	}
	return "(none)"
}

// handlesRun is what a run of the script gave.
type handlesRun struct {
	rows                   []string // sorted
	samples, handles       uint64   // the decoders'
	refused                [shard.NumRefusals]uint64
	created, reaped        uint64
	epochs                 uint64 // epoch moves, all shards
	retargets              int
	stepsIdle, stepsLagged int
	// stale counts the samples by handle published in batches of an
	// epoch the shard had left (a lagging producer's).
	stale int
}

// handlesWorld is the shards and producers of a run, in a bubble.
type handlesWorld struct {
	t       *testing.T
	shards  []*shard.Shard
	prods   []*ingest.Producer
	decs    []*statsd.Decoder
	lanes   []ingest.Lanes
	stop    chan struct{}
	done    []chan struct{}
	stopped bool
	rows    []string
}

// runHandlesScript runs the script of seed for steps of 100 ms, with or
// without handles, and returns what the shards emitted.
func runHandlesScript(t *testing.T, seed uint64, steps int, handles bool) handlesRun {
	w := &handlesWorld{t: t, stop: make(chan struct{})}
	for i := range 2 {
		s, err := shard.New(i, shard.Config{Periods: []time.Duration{time.Second, 2 * time.Second}, IdleTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Run(w.stop)
		}()
		w.shards, w.done = append(w.shards, s), append(w.done, done)
	}
	t.Cleanup(w.stopShards)
	synctest.Wait() // the loops run
	for i, cfg := range []statsd.Config{{Seed: 1}, {Seed: 2, NegativeGaugeDelta: true}, {Seed: 3, RateMode: statsd.RateScale}} {
		l := w.newLanes()
		p := ingest.NewProducer(l)
		p.MaxSamples = 1 << 14 // a lagging producer's batches wait for it
		d := statsd.NewDecoder(cfg)
		if handles {
			d.SetCache(p.Handles())
			if p.Handles() == nil {
				t.Fatalf("producer %d: no cache", i)
			}
		}
		w.prods, w.decs, w.lanes = append(w.prods, p), append(w.decs, d), append(w.lanes, l)
	}

	var run handlesRun
	r := rand.New(rand.NewPCG(seed, 0))
	// Each name falls silent now and then, for 1.5 to 13 s, longer than
	// the idle timeout and the periods: its series are reaped and come
	// back, some in the epoch they were reaped in, some epochs later. The
	// first half of the names are one producer's each: while it lags, the
	// shards see them fall silent, and may reap their series while it
	// holds samples of them by handle.
	const names = 60
	var cycle, silent, offset [names]int
	for i := range names {
		cycle[i] = 40 + r.IntN(100)
		silent[i] = 15 + r.IntN(cycle[i]-25)
		offset[i] = r.IntN(cycle[i])
	}
	types := []string{"c", "g", "ms", "s", "g", "h"}
	var idleUntil, lagUntil [3]int
	t0 := time.Now()
	for step := range steps {
		time.Sleep(time.Until(t0.Add(time.Duration(step) * 100 * time.Millisecond)))
		w.settle()
		now := time.Now().UnixMilli()
		for pi, p := range w.prods {
			if step >= idleUntil[pi] && r.IntN(60) == 0 {
				idleUntil[pi] = step + 10 + r.IntN(30)
			}
			if step >= lagUntil[pi] && r.IntN(25) == 0 {
				lagUntil[pi] = step + 2 + r.IntN(50)
			}
			if step < idleUntil[pi] {
				run.stepsIdle++
			} else {
				var d []byte
				for range 15 + r.IntN(40) {
					i := r.IntN(names)
					if i < names/2 && i%len(w.prods) != pi || (step+offset[i])%cycle[i] < silent[i] && r.IntN(50) != 0 {
						continue // another producer's name, or a silent one
					}
					typ := types[i%len(types)]
					v := fmt.Sprint(r.IntN(1000))
					switch k := r.IntN(4); {
					case typ == "g" && k == 0:
						v = "+" + v
					case typ == "g" && k == 1:
						v = "-" + v
					case typ == "s":
						v = fmt.Sprint("m", r.IntN(20))
					}
					d = fmt.Appendf(d, "app.metric_%d", i)
					if i%7 == 0 {
						d = fmt.Appendf(d, ",dc=d%d", r.IntN(2))
					}
					d = fmt.Appendf(d, ":%s|%s", v, typ)
					switch r.IntN(10) {
					case 0:
						if typ != "g" && typ != "s" {
							d = append(d, "|@0.5"...)
						}
					case 1:
						d = fmt.Appendf(d, "|#host:h%d", r.IntN(3))
					case 2:
						d = fmt.Appendf(d, "|#host:h%d,env:e%d", r.IntN(3), i%2)
					case 3:
						d = fmt.Appendf(d, "|#env:e%d,host:h%d", i%2, r.IntN(3))
					}
					d = append(d, '\n')
				}
				w.decs[pi].Decode(d, now, p.Route)
			}
			if step < lagUntil[pi] {
				run.stepsLagged++
			} else {
				run.stale += w.stale(pi)
				p.Flush()
			}
			if step%10 == 9 {
				p.Trim() // as the sources do every second
			}
			if r.IntN(80) == 0 {
				w.retarget(pi)
				run.retargets++
				if r.IntN(3) != 0 { // and lags behind on its new lanes
					lagUntil[pi] = max(lagUntil[pi], step+20+r.IntN(40))
				}
			}
		}
		w.apply()
		w.collect()
	}
	for _, p := range w.prods {
		p.Flush()
	}
	w.apply()
	w.stopShards()

	run.rows = w.rows
	slices.Sort(run.rows)
	for _, d := range w.decs {
		run.samples += d.Stats.Samples
		run.handles += d.Stats.Handles
	}
	for _, s := range w.shards {
		st := s.Stats()
		for i, n := range st.Refused {
			run.refused[i] += n
		}
		run.created += st.SeriesCreated
		run.reaped += st.SeriesReaped
		run.epochs += uint64(s.Epoch().Load() - 1)
	}
	return run
}

// stale returns the samples by handle that producer pi's current batches
// hold, in batches of an epoch their shard has left.
func (w *handlesWorld) stale(pi int) int {
	n := 0
	for i, b := range ingest.CurrentBatches(w.prods[pi]) {
		if b.Epoch < w.shards[i].Epoch().Load() {
			for j := range b.Samples {
				if b.Samples[j].Flags&sample.FlagHandle != 0 {
					n++
				}
			}
		}
	}
	return n
}

// newLanes makes lanes to every shard, attached as hosted inputs (the
// test applies what they carry: apply).
func (w *handlesWorld) newLanes() ingest.Lanes {
	l := ingest.NewLanes(len(w.shards), 64)
	for i, s := range w.shards {
		s.AttachHosted(l.To[i], l.Back[i])
		l.Epochs = append(l.Epochs, s.Epoch())
		l.Step = append(l.Step, s.Step)
	}
	synctest.Wait() // Attach rang the loops' bells
	return l
}

// settle lets the shards' loops finish what the clock woke them for (a
// tick) and has each shard tick at the bubble's time, before anything is
// published at that time.
func (w *handlesWorld) settle() {
	w.t.Helper()
	synctest.Wait()
	w.apply()
}

// apply runs a round of every shard on the test's goroutine: it applies
// what the producers published, in the order of the shards' inputs.
func (w *handlesWorld) apply() {
	w.t.Helper()
	for _, s := range w.shards {
		if !s.Step() {
			w.t.Fatalf("shard %d: Step did not run", s.ID())
		}
	}
}

// retarget moves producer pi to new lanes on the same shards, and detaches
// the old lanes once the shards have applied what they hold.
func (w *handlesWorld) retarget(pi int) {
	w.t.Helper()
	old := w.lanes[pi]
	w.lanes[pi] = w.newLanes()
	w.prods[pi].Retarget(w.lanes[pi])
	w.apply()
	for i, s := range w.shards {
		if err := s.Detach(old.To[i]); err != nil {
			w.t.Fatal(err)
		}
	}
	synctest.Wait() // Detach rang the loops' bells
}

// collect takes the tables the shards sealed and renders their rows.
func (w *handlesWorld) collect() {
	for _, s := range w.shards {
		for snap, ok := s.Output().Pop(); ok; snap, ok = s.Output().Pop() {
			w.rows = histtest.Rows(w.rows, snap)
			snap.Release()
		}
	}
}

// stopShards stops the shards' loops, which seal every table, and takes
// their tables until the loops have returned.
func (w *handlesWorld) stopShards() {
	if w.stopped {
		return
	}
	w.stopped = true
	close(w.stop)
	for _, done := range w.done {
		for {
			synctest.Wait()
			w.collect()
			select {
			case <-done:
			default:
				time.Sleep(time.Millisecond)
				continue
			}
			break
		}
	}
	w.collect()
}
