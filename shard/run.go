package shard

import (
	"time"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/ring"
)

type input struct {
	in   *ring.SPSC[*sample.Batch]
	back *ring.SPSC[*sample.Batch]
}

// Attach connects a producer before Run starts: the shard consumes batches
// from in and returns each one, reset, on back for the producer to refill
// (a batch that does not fit on back is left to the garbage collector). Each
// ring must have exactly one producer goroutine at a time.
func (s *Shard) Attach(in, back *ring.SPSC[*sample.Batch]) {
	s.inputs = append(s.inputs, input{in: in, back: back})
}

// Run is the shard's loop: it applies batches as they arrive, reading the
// clock once per batch, and ticks at least every millisecond of wall time it
// is awake. When idle it backs off from yielding to sleeping up to
// maxIdleSleep, so an idle shard costs almost nothing and a busy one never
// sleeps.
//
// When stop is closed, Run drains every input (its producers must have
// stopped first), seals every open table, and returns once the emitter has
// taken every snapshot from Output: the emitter must keep running until Run
// returns.
func (s *Shard) Run(stop <-chan struct{}) { s.run(stop, Now) }

const (
	batchesPerPop = 16
	maxIdleSleep  = time.Millisecond
)

func (s *Shard) run(stop <-chan struct{}, clock func() int64) {
	buf := make([]*sample.Batch, batchesPerPop)
	lastTick := int64(0)
	idle := 0
	for {
		worked := s.drainInputs(buf, clock)
		now := clock()
		if now != lastTick {
			s.Tick(now)
			lastTick = now
		}
		if worked {
			idle = 0
			continue
		}
		select {
		case <-stop:
			for s.drainInputs(buf, clock) {
			}
			s.Flush(clock())
			for sleep := time.Microsecond; len(s.pending) > 0; sleep = min(2*sleep, maxIdleSleep) {
				time.Sleep(sleep)
				s.flushPending()
				s.publish()
			}
			s.sealedThrough.Store(maxTime)
			return
		default:
		}
		idle++
		backoff(idle)
	}
}

func (s *Shard) drainInputs(buf []*sample.Batch, clock func() int64) bool {
	worked := false
	for i := range s.inputs {
		in := &s.inputs[i]
		n := in.in.PopN(buf)
		for _, b := range buf[:n] {
			s.Apply(b, clock())
			b.Reset()
			in.back.Push(b)
		}
		clear(buf[:n])
		worked = worked || n > 0
	}
	return worked
}

// backoff yields for the first idle rounds, then sleeps with a doubling
// interval capped at maxIdleSleep.
func backoff(idle int) {
	const spins = 16
	if idle <= spins {
		// runtime.Gosched would keep a whole core busy on a quiet daemon;
		// a zero sleep still yields the thread.
		time.Sleep(0)
		return
	}
	d := time.Microsecond << min(idle-spins, 10)
	time.Sleep(min(d, maxIdleSleep))
}
