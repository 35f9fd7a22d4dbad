package shard

import (
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/ring"
)

// handleInput is a producer's pair of rings attached to s, fed by hand.
type handleInput struct {
	in, back *ring.SPSC[*sample.Batch]
}

func attachInput(s *Shard) handleInput {
	x := handleInput{ring.NewSPSC[*sample.Batch](8), ring.NewSPSC[*sample.Batch](32)}
	s.Attach(x.in, x.back)
	return x
}

// send pushes b to the shard through x and applies it as the shard's loop
// does; it returns b, given back.
func (x handleInput) send(t *testing.T, s *Shard, b *sample.Batch, now int64) *sample.Batch {
	t.Helper()
	if !x.in.Push(b) {
		t.Fatal("ring full")
	}
	s.drainInputs(make([]*sample.Batch, BatchesPerPop), func() int64 { return now })
	s.publish()
	back, ok := x.back.Pop()
	if !ok || back != b {
		t.Fatal("batch not given back")
	}
	return back
}

// asking appends a keyed sample of a counter that asks for its handle.
func asking(t *testing.T, b *sample.Batch, name string, at int64, v float64, ticket uint64) {
	t.Helper()
	k, err := b.PutKey(sample.KindCounter, []byte(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	b.AddAsking(k, at, v, sample.UnitNone, 0, ticket)
}

func sums(t *testing.T, rows []emitted) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for _, e := range rows {
		m[e.name] += value(t, e.row, hist.Sum)
	}
	return m
}

// TestHandlesNameTheirSeries: a handle given in an answer names the
// series that asked, in order with keyed samples; a handle of a reaped
// series finds the series of its key again; a handle never given, or of a
// sid freed since, is refused and counted.
func TestHandlesNameTheirSeries(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, IdleTimeout: time.Second})
	x := attachInput(s)
	b := &sample.Batch{Epoch: s.Epoch().Load()}
	asking(t, b, "a", t0, 1, 7)
	asking(t, b, "b", t0, 10, 8)
	add(t, b, sample.KindCounter, "a", t0, 2, sample.UnitNone)
	b = x.send(t, s, b, t0)
	if len(b.Asks) != 2 || b.Asks[0].Ticket != 7 || b.Asks[1].Ticket != 8 {
		t.Fatalf("asks %+v", b.Asks)
	}
	ha, hb := b.Asks[0].Handle, b.Asks[1].Handle
	if ha == 0 || hb == 0 || ha == hb || b.Asks[0].Epoch != 1 {
		t.Fatalf("answers %+v", b.Asks)
	}
	b.Reset()
	b.AddHandle(ha, t0, 4, sample.UnitNone, 0)
	b.AddHandle(hb, t0, 20, sample.UnitNone, 0)
	add(t, b, sample.KindCounter, "b", t0, 40, sample.UnitNone)
	b.AddHandle(hb^1<<63, t0, 1, sample.UnitNone, 0)                     // never given: no top bit
	b.AddHandle(handleOf(uint32(s.nRecs), 0), t0, 1, sample.UnitNone, 0) // beyond every record
	x.send(t, s, b, t0)
	if st := s.Stats(); st.Refused[RefusedBadHandle] != 2 || st.SeriesCreated != 2 {
		t.Fatalf("refused %v, created %d", st.Refused, st.SeriesCreated)
	}
	s.Tick(t0 + 2100)
	if got, want := sums(t, drain(t, s)), map[string]float64{"a": 7, "b": 70}; len(got) != 2 || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Fatalf("sums %v; want %v", got, want)
	}

	// "a" and "b" are reaped; the producer still holds their handles, so
	// their sids stay in limbo, keys and all.
	for now := t0 + 2200; now < t0+4000; now += 100 {
		s.Tick(now)
	}
	if st := s.Stats(); st.SeriesReaped != 2 || st.Series != 0 || s.freeSids.len() != 0 || len(s.limbo) != 2 {
		t.Fatalf("reaped %d, live %d, free %d, limbo %d; want 2, 0, 0, 2", st.SeriesReaped, st.Series, s.freeSids.len(), len(s.limbo))
	}
	b = &sample.Batch{Epoch: 1}
	b.AddHandle(ha, t0+4000, 100, sample.UnitNone, 0) // a's series made again from its record
	add(t, b, sample.KindCounter, "a", t0+4000, 200, sample.UnitNone)
	b.AddHandle(ha, t0+4000, 300, sample.UnitNone, 0)
	x.send(t, s, b, t0+4000)
	s.Flush(t0 + 4000)
	if got := sums(t, drain(t, s)); len(got) != 1 || got["a"] != 600 {
		t.Fatalf("sums %v; want a: 600", got)
	}
	if st := s.Stats(); st.SeriesCreated != 3 || st.Refused[RefusedBadHandle] != 2 {
		t.Fatalf("created %d, refused %v", st.SeriesCreated, st.Refused)
	}
}

// TestLimboWaitsForHandles: a sid reaped while an input holds handles is
// freed only once that input has had a batch of a later epoch applied; an
// input that never asked holds nothing back; the epoch moves at most every
// epochEvery, and only when series were reaped in it.
func TestLimboWaitsForHandles(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, IdleTimeout: time.Second})
	asker, other := attachInput(s), attachInput(s)
	b := &sample.Batch{Epoch: s.Epoch().Load()}
	asking(t, b, "a", t0, 1, 1)
	b = asker.send(t, s, b, t0)
	h := b.Asks[0].Handle
	b.Reset()
	add(t, b, sample.KindCounter, "b", t0, 1, sample.UnitNone)
	other.send(t, s, b, t0)
	now := t0 + 100
	for ; now < t0+2000; now += 100 {
		s.Tick(now)
	}
	if e := s.Epoch().Load(); e != 1 {
		t.Fatalf("epoch %d before anything was reaped; want 1", e)
	}
	for ; now < t0+10_000; now += 100 {
		s.Tick(now)
	}
	drain(t, s)
	s.Tick(now)
	e := s.Epoch().Load()
	if st := s.Stats(); st.SeriesReaped != 2 || e != 2 || s.freeSids.len() != 0 {
		t.Fatalf("reaped %d, epoch %d, free %d; want 2, 2, 0", st.SeriesReaped, e, s.freeSids.len())
	}
	// The asker's batch of epoch 1 may still carry the handle.
	b = &sample.Batch{Epoch: 1}
	b.AddHandle(h, now, 5, sample.UnitNone, 0)
	asker.send(t, s, b, now)
	s.Tick(now + 100)
	if s.freeSids.len() != 0 {
		t.Fatal("a sid freed while a producer may still send its handle")
	}
	// An empty batch of the new epoch: no handle of epoch 1 can follow.
	asker.send(t, s, &sample.Batch{Epoch: e}, now+100)
	s.Flush(now + 200)
	drain(t, s)
	s.Tick(now + 300)
	if s.freeSids.len() != 2 {
		t.Fatalf("%d sids free; want the 2 reaped (the series made again from its handle is live)", s.freeSids.len())
	}
	// The freed sid's handle is refused: its generation moved twice.
	b = &sample.Batch{Epoch: e}
	b.AddHandle(h, now+300, 5, sample.UnitNone, 0)
	asker.send(t, s, b, now+300)
	if st := s.Stats(); st.Refused[RefusedBadHandle] != 1 {
		t.Fatalf("refused %v; want one bad handle", st.Refused)
	}
	// Detached, the asker holds nothing back.
	if err := s.Detach(asker.in); err != nil {
		t.Fatal(err)
	}
	if f := s.handleFloor(); f != ^uint32(0) {
		t.Fatalf("floor %d after the asker left", f)
	}
}
