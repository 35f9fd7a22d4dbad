package shard

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/ring"
)

// input is one attached producer's pair of rings. The shard reads the
// attached inputs through Shard.inputs, an immutable slice replaced (copy on
// write) under Shard.ctl by Attach and Detach.
type input struct {
	in   *ring.SPSC[*sample.Batch]
	back *ring.SPSC[*sample.Batch]
	// detaching is set (under Shard.ctl) by Detach once the producer has
	// stopped; done is closed by the shard once it has applied every batch
	// of in and will never touch in or back again.
	detaching atomic.Bool
	done      chan struct{}
	// acked: done was closed. Written in a round (under round) or once the
	// loop stopped; read also by the loop's idle checks, outside rounds.
	acked *atomic.Bool // its own allocation: after holds it, not the input and its rings
	// hosted: attached with AttachHosted (no bell; its producer calls Step).
	hosted bool
	// holds: the shard answered an ask of one of in's batches (the input
	// may send handles); stamp: the epoch of in's last batch applied
	// (handle.go). The shard's own.
	holds bool
	stamp uint32
	// after: the acked flags of the inputs this one takes over from
	// (AttachAfter); its batches wait until every one is set. Set at
	// attach.
	after []*atomic.Bool
}

// heldBack reports whether x's batches wait for an input it takes over
// from (AttachAfter).
func (x *input) heldBack() bool {
	for _, acked := range x.after {
		if !acked.Load() {
			return true
		}
	}
	return false
}

// Lifecycle of a shard's loop, under Shard.ctl.
const (
	loopNotStarted = iota
	loopRunning
	loopStopped
)

// ErrNotAttached is returned by Detach for a ring that is not attached.
var ErrNotAttached = errors.New("shard: ring not attached")

// Attach connects a producer: the shard consumes batches from in and
// returns each one, reset, on back for the producer to refill (a batch that
// does not fit on back is left to the garbage collector). Each ring must
// have exactly one producer goroutine at a time, and a ring may be attached
// to one shard only, once.
//
// Attach may be called from any goroutine, before Run or while it runs: the
// shard sees the new input from its next drain round on. The shard loop
// never takes a lock: the inputs are an immutable slice behind an atomic
// pointer, replaced under a mutex that only Attach and Detach take. An input
// attached after stop was closed may miss Run's final drain (and one
// attached after Run returned certainly does); Detach reports what is left
// in it.
func (s *Shard) Attach(in, back *ring.SPSC[*sample.Batch]) { s.attach(in, back, false, nil) }

// AttachHosted is Attach for a producer that applies its batches itself by
// calling Step after it pushes them (run to completion): its pushes do not
// ring the shard's bell, and while Step keeps being called the loop sleeps
// through them. Batches that a Step could not apply (another round was
// running) are applied by the next Step, or by the loop within maxPark.
func (s *Shard) AttachHosted(in, back *ring.SPSC[*sample.Batch]) { s.attach(in, back, true, nil) }

// AttachAfter is Attach (AttachHosted if hosted) for the new ring of a
// producer that moves to it from the rings after (a source retargeted at a
// reload): the old rings may still hold batches when the producer pushes
// its first to in, and a round takes up to BatchesPerPop from each input
// in turn, so in's batches are applied only once every ring of after is
// detached and drained. A producer's samples are then applied in the order
// it sent them across the move (gauge deltas depend on it).
func (s *Shard) AttachAfter(in, back *ring.SPSC[*sample.Batch], hosted bool, after []*ring.SPSC[*sample.Batch]) {
	s.attach(in, back, hosted, after)
}

func (s *Shard) attach(in, back *ring.SPSC[*sample.Batch], hosted bool, after []*ring.SPSC[*sample.Batch]) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	old := *s.inputs.Load()
	for _, x := range old {
		if x.in == in {
			panic("shard: ring attached twice")
		}
	}
	x := &input{in: in, back: back, done: make(chan struct{}), acked: new(atomic.Bool), hosted: hosted}
	for _, r := range after {
		if p := s.findInput(r); p != nil {
			x.after = append(x.after, p.acked)
		}
	}
	list := make([]*input, len(old), len(old)+1)
	copy(list, old)
	list = append(list, x)
	s.inputs.Store(&list)
	if !hosted {
		in.SetBell(s.bell)
	}
	s.bell.Ring() // it may hold batches already
}

// Detach disconnects the producer of in. Call it only after that producer
// has stopped for good, that is, after its last Push happened before this
// call (the caller synchronises the two, e.g. by waiting for the producer's
// goroutine or taking the lock it publishes under).
//
// While Run runs, Detach returns once the shard has applied every batch that
// is in in (each exactly once, and returned it on back) and will never
// touch in or back again; then either ring may be reused. Once the ring is
// empty it waits for at most one more drain round of the shard (Detach
// wakes an idle shard).
//
// If Run has not started yet, nothing else may be using the shard (Run
// waits for Detach to return before it starts), so Detach applies the
// batches left in in itself, on the caller's goroutine, exactly as the shard
// would have: they are part of the shard's future, and dropping them would
// lose accepted data.
//
// If Run has returned (or returns while Detach waits), its tables are
// sealed and its emitter may be gone, so batches still in in cannot be
// applied: Detach removes the input, leaves them in the ring and reports
// how many in an error. That only happens when a producer published after
// stop was closed, which Run's contract forbids. Detach never blocks on a
// shard that is not running.
//
// Detach of a ring that is not attached returns ErrNotAttached. Safe from
// any goroutine, concurrently with Attach and other Detach calls.
func (s *Shard) Detach(in *ring.SPSC[*sample.Batch]) error {
	s.ctl.Lock()
	x := s.findInput(in)
	if x == nil {
		s.ctl.Unlock()
		return ErrNotAttached
	}
	switch s.state {
	case loopNotStarted:
		defer s.ctl.Unlock()
		now := Now()
		for b, ok := x.in.Pop(); ok; b, ok = x.in.Pop() {
			s.applyFrom(x, b, now)
			b.Applied()
			x.back.Push(b)
		}
		s.publish()
		x.acked.Store(true) // what takes over from it (AttachAfter) may go
		s.removeInput(x)
		return nil
	case loopRunning:
		x.detaching.Store(true)
		s.ctl.Unlock()
		s.bell.Ring()
		<-x.done
		s.ctl.Lock()
	}
	defer s.ctl.Unlock()
	s.removeInput(x)
	if n := x.in.Len(); n > 0 {
		return fmt.Errorf("shard %d stopped before applying %d batches of a detached input", s.id, n)
	}
	return nil
}

// findInput returns the attached input of ring in, or nil. Under ctl.
func (s *Shard) findInput(in *ring.SPSC[*sample.Batch]) *input {
	for _, x := range *s.inputs.Load() {
		if x.in == in {
			return x
		}
	}
	return nil
}

// removeInput publishes the input list without x (if it is there). Under
// ctl.
func (s *Shard) removeInput(x *input) {
	old := *s.inputs.Load()
	list := make([]*input, 0, len(old))
	for _, y := range old {
		if y != x {
			list = append(list, y)
		}
	}
	s.inputs.Store(&list)
}

// Run is the shard's loop: it applies batches as they arrive, reading the
// clock once per batch, and ticks at least every millisecond of wall time it
// is awake. When idle it backs off from yielding to sleeping up to
// maxIdleSleep, then sleeps on its bell (woken by the next push, a Detach, a
// Reconfigure or stop) for at most maxPark, so an idle shard costs almost
// nothing, a busy one never sleeps, and buckets seal at most maxPark late. Inputs may be attached and detached while it runs (Attach,
// Detach). Run may be called once.
//
// When stop is closed, Run drains every input (its producers must have
// stopped first), seals every open table, and returns once the emitter has
// taken every snapshot from Output: the emitter must keep running until Run
// returns.
func (s *Shard) Run(stop <-chan struct{}) { s.run(stop, Now) }

// BatchesPerPop is the most batches a shard takes from one input at a time
// (a round's pop): it holds them until each is applied and given back.
const BatchesPerPop = 16

const (
	maxIdleSleep = time.Millisecond
	// parkAfter is how many idle rounds the loop backs off (about 2 ms:
	// 16 yields, then sleeps doubling to maxIdleSleep) before it sleeps
	// on its bell, for at most maxPark: a shard fed every few
	// milliseconds never needs waking, and an idle one wakes 50 times a
	// second instead of 1000 (an idle daemon used about 5 % of a CPU
	// waking its shards).
	parkAfter = 16 + 11
	maxPark   = 20 * time.Millisecond
)

func (s *Shard) run(stop <-chan struct{}, clock func() int64) {
	s.ctl.Lock()
	if s.state != loopNotStarted {
		s.ctl.Unlock()
		panic("shard: Run called twice")
	}
	s.state = loopRunning
	s.ctl.Unlock()
	defer s.markStopped()
	s.round.Lock()
	s.roundBuf = make([]*sample.Batch, BatchesPerPop)
	s.lastTick = 0
	s.clock = clock // Step's rounds read the loop's clock
	s.live.Store(true)
	s.round.Unlock()
	idle := 0
	for {
		worked := false
		if s.round.TryLock() { // else a producer runs a round (Step)
			worked = s.runRound(clock)
			s.round.Unlock()
		}
		if worked {
			idle = 0
			continue
		}
		select {
		case <-stop:
			s.round.Lock()
			defer s.round.Unlock()
			s.live.Store(false) // Step does nothing from now on
			for s.drainInputs(s.roundBuf, clock) {
			}
			s.Flush(clock())
			for sleep := time.Microsecond; len(s.pending) > 0; sleep = min(2*sleep, maxIdleSleep) {
				time.Sleep(sleep)
				s.flushPending()
				s.publish()
			}
			s.sealedThrough.Store(maxTime)
			s.cutThrough.Store(s.cuts)
			return
		default:
		}
		if time.Now().UnixNano()-s.hostedAt.Load() < int64(hostedFor) {
			// Producers on this shard's CPU run the rounds (Step): sleep
			// until another producer pushes, a Detach or a Reconfigure
			// rings, or maxPark passes (to notice when they stop),
			// without waking for their batches.
			idle = 0
			s.bell.Sleep(maxPark, stop, s.hasUnhostedWork)
			continue
		}
		idle++
		if idle <= parkAfter {
			backoff(idle)
			continue
		}
		// Idle for a while: sleep until a producer pushes, a Detach or
		// a Reconfigure rings, stop is closed, or maxPark passes (the
		// tick: sealing, the emitter's queue).
		s.bell.Sleep(maxPark, stop, s.hasWork)
	}
}

// hostedFor is how long after the last Step the loop leaves the rounds to
// the producers that call Step.
const hostedFor = 2 * maxPark

// runRound is one round of the loop: it applies what the inputs hold, and
// ticks (and takes a waiting reconfiguration) when the clock has moved; it
// reports whether there were batches. Under round.
func (s *Shard) runRound(clock func() int64) bool {
	worked := s.drainInputs(s.roundBuf, clock)
	if now := clock(); now != s.lastTick {
		s.takeReconfiguration()
		s.Tick(now)
		s.lastTick = now
	}
	return worked
}

// Step runs one round of the shard's loop on the caller's goroutine: it
// applies what every input holds and ticks, as the loop does. A producer
// that shares a CPU with the shard calls it after publishing, so that its
// batches are applied while they are in its cache and without a switch to
// the shard's thread (run to completion); while Step keeps being called,
// the loop sleeps (waking at least every maxPark) instead of waking for
// the batches of inputs attached with AttachHosted.
// Step does nothing and reports false if a round is running already (the
// loop's, or another caller's: the batches are then that round's or the
// next one's) or if Run is not running. Safe from any goroutine.
func (s *Shard) Step() bool {
	if !s.round.TryLock() {
		return false
	}
	defer s.round.Unlock()
	if !s.live.Load() {
		return false
	}
	s.hostedAt.Store(time.Now().UnixNano())
	s.stats.Steps++
	s.runRound(s.clock)
	return true
}

// hasWork reports whether an input holds batches or is being detached, or
// a reconfiguration waits: what the loop must not sleep through.
func (s *Shard) hasWork() bool { return s.waiting(true) }

// hasUnhostedWork is hasWork without the batches of hosted inputs, which
// their producers apply themselves (Step).
func (s *Shard) hasUnhostedWork() bool { return s.waiting(false) }

func (s *Shard) waiting(hosted bool) bool {
	for _, x := range *s.inputs.Load() {
		if !x.acked.Load() && (x.in.Len() > 0 && (hosted || !x.hosted) && !x.heldBack() || x.detaching.Load()) {
			return true
		}
	}
	return s.reconf.Load() != nil
}

// markStopped marks the loop as finished and releases the Detach calls still
// waiting: the shard will never apply anything again, and Detach reports
// what is left in their rings.
func (s *Shard) markStopped() {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.state = loopStopped
	s.abandonReconfiguration()
	for _, x := range *s.inputs.Load() {
		if x.detaching.Load() && !x.acked.Load() {
			x.acked.Store(true)
			close(x.done)
		}
	}
}

// drainInputs applies what every input holds, up to BatchesPerPop batches
// each, and reports whether there was any. It loads the input list once (one
// atomic load per round, no lock) and acknowledges detached inputs it has
// emptied.
func (s *Shard) drainInputs(buf []*sample.Batch, clock func() int64) bool {
	worked := false
	for _, x := range *s.inputs.Load() {
		if x.acked.Load() {
			continue
		}
		// Loaded before popping: Detach sets it only after the producer's
		// last Push, so if it is set, that Push is visible to the PopN
		// below, and an empty PopN means the ring is empty for good.
		detaching := x.detaching.Load()
		if x.heldBack() && !(detaching && x.in.Len() == 0) {
			continue // its batches wait for those of the rings it took over from
		}
		n := x.in.PopN(buf)
		for _, b := range buf[:n] {
			s.applyFrom(x, b, clock())
			b.Applied()
			x.back.Push(b)
		}
		clear(buf[:n])
		if n > 0 {
			worked = true
		} else if detaching {
			// Every batch was applied in this or an earlier round; from
			// now on the shard never touches x's rings.
			x.acked.Store(true)
			close(x.done)
		}
	}
	return worked
}

// applyFrom applies a batch of input x.
func (s *Shard) applyFrom(x *input, b *sample.Batch, now int64) {
	x.stamp = b.Epoch
	s.src = x
	s.Apply(b, now)
	s.src = nil
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
