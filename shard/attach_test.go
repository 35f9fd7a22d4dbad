package shard

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/ring"
)

// runningShard is a shard whose loop runs with an emitter that sums what it
// takes, per period.
type runningShard struct {
	s           *Shard
	stop        chan struct{}
	done        chan struct{}
	emitterDone chan struct{}
	sums        [2]float64 // by period index, once finish returned
}

func startShard(t *testing.T, s *Shard) *runningShard {
	t.Helper()
	r := &runningShard{s: s, stop: make(chan struct{}), done: make(chan struct{}), emitterDone: make(chan struct{})}
	go func() { s.Run(r.stop); close(r.done) }()
	go func() {
		defer close(r.emitterDone)
		for {
			snap, ok := s.Output().Pop()
			if !ok {
				select {
				case <-r.done:
					if s.Output().Len() == 0 {
						return
					}
				default:
					time.Sleep(50 * time.Microsecond)
				}
				continue
			}
			for i := 0; i < snap.Len(); i++ {
				r.sums[snap.Table.PeriodIndex] += snap.Table.Row(i, nil).Sum
			}
			snap.Release()
		}
	}()
	return r
}

// finish stops the shard and waits until the emitter took everything.
func (r *runningShard) finish() [2]float64 {
	close(r.stop)
	<-r.done
	<-r.emitterDone
	return r.sums
}

// finishWith stops the shard and checks that every one of total samples
// (counters of value 1) was applied once and emitted in one bucket per
// period.
func (r *runningShard) finishWith(t *testing.T, total int) {
	t.Helper()
	sums := r.finish()
	if want := float64(total); sums[0] != want || sums[1] != want {
		t.Fatalf("emitted sums %v; want %v per period", sums, want)
	}
	if st := r.s.Stats(); st.Samples != uint64(total) {
		t.Fatalf("Samples = %d; want %d", st.Samples, total)
	}
}

// producer is one test producer: a pair of rings and a pool of at most pool
// batches, recycled through back, so that a batch the shard did not return
// stays missing.
type producer struct {
	in, back *ring.SPSC[*sample.Batch]
	pool     int
	made     int // batches allocated
	samples  int // samples pushed
}

func newProducer(pool int) *producer {
	return &producer{in: ring.NewSPSC[*sample.Batch](pool), back: ring.NewSPSC[*sample.Batch](pool), pool: pool}
}

// send pushes n batches of per counter samples of value 1 (series named by
// tag), waiting for the shard to return batches when the pool is used up.
// Any goroutine, one at a time.
func (p *producer) send(t *testing.T, n, per int, tag string) {
	for range n {
		var b *sample.Batch
		for b == nil {
			if x, ok := p.back.Pop(); ok {
				b = x
			} else if p.made < p.pool {
				b = new(sample.Batch)
				p.made++
			} else {
				time.Sleep(10 * time.Microsecond)
			}
		}
		now := Now()
		for j := 0; j < per; j++ {
			k, err := b.PutKey(sample.KindCounter, []byte("c"), []sample.Dim{{Key: []byte("p"), Value: []byte(tag)}})
			if err != nil {
				t.Error(err)
				return
			}
			b.AddValue(k, now, 0, 1, sample.UnitNone)
		}
		for !p.in.Push(b) {
			time.Sleep(10 * time.Microsecond)
		}
		p.samples += per
	}
}

// returned reports whether every batch the producer made is back in its
// hands or on back: the shard applied and returned all it was given. Call
// it after Detach returned.
func (p *producer) returned() error {
	if p.in.Len() != 0 || p.back.Len() != p.made {
		return fmt.Errorf("in holds %d batches, back %d of the %d made", p.in.Len(), p.back.Len(), p.made)
	}
	return nil
}

// TestDetachWhileRunning attaches producers to a running shard one after
// another; each sends, stops and is detached, and must find every batch it
// sent applied and returned when Detach returns. At the end every sample is
// in exactly one emitted bucket per period. Run it with -race.
func TestDetachWhileRunning(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}})
	r := startShard(t, s)
	total := 0
	for i := range 20 {
		p := newProducer(4)
		s.Attach(p.in, p.back)
		done := make(chan struct{})
		go func() { defer close(done); p.send(t, 50, 20, fmt.Sprint(i)) }()
		<-done // the producer stopped: its last Push happened before Detach
		if err := s.Detach(p.in); err != nil {
			t.Fatal(err)
		}
		if err := p.returned(); err != nil {
			t.Fatalf("producer %d after Detach: %v", i, err)
		}
		if err := s.Detach(p.in); !errors.Is(err, ErrNotAttached) {
			t.Fatalf("second Detach = %v; want ErrNotAttached", err)
		}
		total += p.samples
	}
	r.finishWith(t, total)
}

// TestAttachDetachConcurrently: workers attach, send and detach producers
// concurrently with each other, while long-lived producers attached before
// Run send throughout; one more producer is detached while the shard stops.
func TestAttachDetachConcurrently(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}})
	const steady, workers, rounds = 2, 4, 15
	var steadyP []*producer
	for range steady {
		p := newProducer(8)
		s.Attach(p.in, p.back)
		steadyP = append(steadyP, p)
	}
	r := startShard(t, s)
	var wg sync.WaitGroup
	quit := make(chan struct{})
	for i, p := range steadyP {
		wg.Go(func() {
			for {
				select {
				case <-quit:
					return
				default:
				}
				p.send(t, 5, 10, fmt.Sprint("steady", i))
			}
		})
	}
	var mu sync.Mutex
	total := 0
	var workersWG sync.WaitGroup
	for w := range workers {
		workersWG.Go(func() {
			for i := range rounds {
				p := newProducer(2 + i%4)
				s.Attach(p.in, p.back)
				p.send(t, 10+i, 7, fmt.Sprint("w", w, "r", i))
				if err := s.Detach(p.in); err != nil {
					t.Error(err)
					return
				}
				if err := p.returned(); err != nil {
					t.Errorf("worker %d round %d: %v", w, i, err)
					return
				}
				mu.Lock()
				total += p.samples
				mu.Unlock()
			}
		})
	}
	workersWG.Wait()
	close(quit)
	wg.Wait()
	for _, p := range steadyP[:1] {
		// Detached while running; the other is left to Run's stop path.
		if err := s.Detach(p.in); err != nil {
			t.Fatal(err)
		}
		if err := p.returned(); err != nil {
			t.Fatal(err)
		}
	}
	// A last producer, detached while the shard stops.
	last := newProducer(4)
	s.Attach(last.in, last.back)
	last.send(t, 3, 5, "last")
	detached := make(chan error)
	go func() { detached <- s.Detach(last.in) }()
	sums := r.finish()
	if err := <-detached; err != nil {
		t.Fatalf("Detach during stop: %v", err)
	}
	if err := last.returned(); err != nil {
		t.Fatal(err)
	}
	for _, p := range steadyP {
		total += p.samples
	}
	total += last.samples
	if want := float64(total); sums[0] != want || sums[1] != want {
		t.Fatalf("emitted sums %v; want %v per period", sums, want)
	}
	if st := s.Stats(); st.Samples != uint64(total) {
		t.Fatalf("Samples = %d; want %d", st.Samples, total)
	}
}

// TestDetachNotRunning: before Run, Detach applies what the input holds
// itself; after Run returned it removes the input and reports batches that
// can no longer be applied. Neither blocks.
func TestDetachNotRunning(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}})
	early := newProducer(4)
	s.Attach(early.in, early.back)
	early.send(t, 3, 10, "early")
	if err := s.Detach(early.in); err != nil {
		t.Fatalf("Detach before Run: %v", err)
	}
	if err := early.returned(); err != nil {
		t.Fatalf("Detach before Run: %v", err)
	}
	if st := s.Stats(); st.Samples != 30 {
		t.Fatalf("Samples after Detach before Run = %d; want 30", st.Samples)
	}
	kept := newProducer(4)
	s.Attach(kept.in, kept.back)
	kept.send(t, 2, 10, "kept")

	r := startShard(t, s)
	sums := r.finish()
	if sums[0] != 50 || sums[1] != 50 {
		t.Fatalf("emitted sums %v; want 50 per period", sums)
	}
	// Stopped: an empty input is removed quietly...
	if err := s.Detach(kept.in); err != nil {
		t.Fatalf("Detach after Run, empty input: %v", err)
	}
	// ...and batches published after the shard stopped are reported.
	late := newProducer(4)
	s.Attach(late.in, late.back)
	late.send(t, 2, 10, "late")
	err := s.Detach(late.in)
	if err == nil || errors.Is(err, ErrNotAttached) {
		t.Fatalf("Detach after Run with 2 batches left = %v; want an error", err)
	}
	if late.in.Len() != 2 {
		t.Fatalf("Detach after Run took batches it cannot apply")
	}
	if err := s.Detach(late.in); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("Detach of a removed input = %v; want ErrNotAttached", err)
	}
}

// TestAttachAfterKeepsOrder: the new ring of a producer moved from an old
// one (a source retargeted at a reload) is applied only once the old ring
// is detached and drained. A round takes up to BatchesPerPop batches of
// each input in turn, so with a backlog of more than that on the old ring
// the new ring's first batch was applied amid the old ones: a gauge's
// deltas, which depend on the order, summed to the wrong values.
func TestAttachAfterKeepsOrder(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Minute}})
	old, oldBack := ring.NewSPSC[*sample.Batch](64), ring.NewSPSC[*sample.Batch](64)
	nw, nwBack := ring.NewSPSC[*sample.Batch](64), ring.NewSPSC[*sample.Batch](64)
	s.Attach(old, oldBack)
	s.AttachAfter(nw, nwBack, false, []*ring.SPSC[*sample.Batch]{old})
	push := func(r *ring.SPSC[*sample.Batch], v float64, flags uint8) {
		b := &sample.Batch{}
		k, _ := b.PutKey(sample.KindGauge, []byte("g"), nil)
		b.AddSample(k, t0, 0, v, sample.UnitNone, flags)
		if !r.Push(b) {
			t.Fatal("ring full")
		}
	}
	// The producer sent 0, then +1 nineteen times, on the old ring, then
	// moved and sent 100 on the new one.
	push(old, 0, 0)
	for range 19 {
		push(old, 1, sample.FlagDelta)
	}
	push(nw, 100, 0)
	buf := make([]*sample.Batch, BatchesPerPop)
	for s.drainInputs(buf, func() int64 { return t0 }) {
	}
	if nw.Len() != 1 {
		t.Fatalf("the new ring's batch was applied (%d left) before the old ring was detached", nw.Len())
	}
	if err := s.Detach(old); err != nil {
		t.Fatal(err)
	}
	DrainInputs(s, t0)
	if nw.Len() != 0 {
		t.Fatal("the new ring's batch waits after the old ring was detached")
	}
	s.Flush(t0 + 1)
	got := drain(t, s)
	if len(got) != 1 || got[0].row.Count != 21 || value(t, got[0].row, hist.Max) != 100 || value(t, got[0].row, hist.Min) != 0 {
		t.Fatalf("got %+v; want one row of 21 samples, min 0, max 100", got)
	}
}
