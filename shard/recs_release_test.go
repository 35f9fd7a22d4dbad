package shard

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/vmem"
	"github.com/gomad/mad/ring"
)

// TestBurstRecordsLetGo: after a burst of series is reaped, the records it
// used and the chunks of its keys are given back, but for the huge pages
// of the series still live (a few before the burst, one made in its
// middle); new series then take the lowest sids, read their records as new
// and aggregate right.
func TestBurstRecordsLetGo(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, IdleTimeout: time.Second})
	const before, burst = 10, 200_000
	var b sample.Batch
	apply := func(now int64) {
		s.Apply(&b, now)
		b.Reset()
	}
	applyMany(s, before, t0, func(b *sample.Batch, i int) {
		add(t, b, sample.KindCounter, fmt.Sprint("steady.", i), t0, 1, sample.UnitNone)
	})
	applyMany(s, burst, t0, func(b *sample.Batch, i int) {
		add(t, b, sample.KindCounter, "burst", t0, 1, sample.UnitNone, "host", fmt.Sprint("h", i))
		if i == burst/2 {
			add(t, b, sample.KindCounter, "middle", t0, 1, sample.UnitNone)
		}
	})
	if s.recsKeep == nil {
		t.Fatalf("%d records on the heap: too few to tell", s.nRecs)
	}
	high := s.nRecs
	_, _, keysHeld := s.keys.slab.stats()
	held := vmem.Resident(s.recs[:high*s.stride])
	if want := int64(burst * s.stride * 8); held < want {
		t.Fatalf("%d bytes of records resident after a burst of %d series; want at least %d", held, burst, want)
	}
	for now := t0 + 100; now <= t0+20_000; now += 100 {
		if now%1000 == 0 {
			for i := range before {
				add(t, &b, sample.KindCounter, fmt.Sprint("steady.", i), now, 1, sample.UnitNone)
			}
			add(t, &b, sample.KindCounter, "middle", now, 1, sample.UnitNone)
			apply(now)
		}
		s.Tick(now)
		drain(t, s)
	}
	if st := s.Stats(); st.SeriesReaped < burst || st.Series != before+1 {
		t.Fatalf("%d series reaped, %d live; want %d, %d", st.SeriesReaped, st.Series, burst, before+1)
	}
	// The middle series' sid is the highest in use: the records above it
	// are gone, and so is every huge page below it but the two with a
	// series on them.
	if s.nRecs > before+burst/2+2 {
		t.Fatalf("%d records after the burst (%d at its height); want at most %d", s.nRecs, high, before+burst/2+2)
	}
	kept := vmem.Resident(s.recs[:high*s.stride])
	if kept > 2*vmem.ReleaseUnit {
		t.Fatalf("%d bytes of records resident after the burst was reaped (%d at its height); want at most the two huge pages with live series", kept, held)
	}
	if s.recsGiven < held-2*vmem.ReleaseUnit {
		t.Fatalf("%d bytes of records given back; want at least %d", s.recsGiven, held-2*vmem.ReleaseUnit)
	}
	// The key slab's chunks the burst's dimension sets filled are given
	// back too, but for the one being carved.
	if _, _, keysKept := s.keys.slab.stats(); keysKept > keysHeld/4 {
		t.Fatalf("%d bytes of key chunks held after the burst was reaped (%d at its height)", keysKept, keysHeld)
	}
	// New series reuse the lowest sids, records read as new (zero).
	const again = 50_000
	now := t0 + 21_000
	applyMany(s, again, now, func(b *sample.Batch, i int) {
		add(t, b, sample.KindCounter, "again", now, float64(i), sample.UnitNone, "host", fmt.Sprint("h", i))
	})
	if s.nRecs > before+burst/2+2 {
		t.Fatalf("%d records after %d new series; want them in the lowest free sids (at most %d)", s.nRecs, again, before+burst/2+2)
	}
	s.Flush(now)
	sum, rows := 0.0, 0
	for _, e := range drain(t, s) {
		if e.name == "again" {
			if e.row.Count != 1 {
				t.Fatalf("a new series' row counts %d samples; want 1", e.row.Count)
			}
			sum += value(t, e.row, hist.Sum)
			rows++
		}
	}
	if rows != again || sum != float64(again*(again-1)/2) {
		t.Fatalf("%d rows summing to %v; want %d summing to %d", rows, sum, again, again*(again-1)/2)
	}
}

// TestStraddlingRecordLetsGo: with a stride that does not divide a huge
// page (6 or 10 words), the record of a sid X can start in huge page E1 and
// end in E2. Once every other sid on E2 has been freed, freeing X last
// makes E2 wholly free, and it is given back, though E1 (with series still
// live) is not. (A review found trimRecs looking at the page of a record's
// first word only.)
func TestStraddlingRecordLetsGo(t *testing.T) {
	for _, tc := range []struct {
		periods []time.Duration
		n       int
	}{
		{[]time.Duration{time.Second}, 200_000},                                   // stride 6
		{[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, 130_000}, // stride 10
	} {
		s := newTestShard(t, Config{Periods: tc.periods, IdleTimeout: time.Second})
		var b sample.Batch
		apply := func(now int64) {
			s.Apply(&b, now)
			b.Reset()
		}
		send := func(b *sample.Batch, i int, now int64) {
			add(t, b, sample.KindCounter, "burst", now, 1, sample.UnitNone, "host", fmt.Sprint("h", i))
		}
		applyMany(s, tc.n, t0, func(b *sample.Batch, i int) { send(b, i, t0) })
		if s.recsKeep == nil || s.nRecs != tc.n {
			t.Fatalf("records on the heap or %d records", s.nRecs)
		}
		const W = vmem.ReleaseUnit / 8 // words an extent
		base := uintptr(unsafe.Pointer(&s.recs[0]))
		e := int(((base+vmem.ReleaseUnit-1)&^(vmem.ReleaseUnit-1))-base) / 8
		for e%s.stride == 0 {
			e += W
		}
		if e+2*W > tc.n*s.stride {
			t.Fatalf("no straddling boundary: e %d", e)
		}
		x := e / s.stride                  // straddles e: starts in E1, ends in E2 = [e, e+W)
		first, last := x, (e+W-1)/s.stride // the sids overlapping E2
		keepB := []int{x - 100, tc.n - 1}
		keepA := append([]int{x}, keepB...)
		now := t0
		phase := func(keep []int) {
			for end := now + 20_000; now < end; now += 100 {
				if now%1000 == 0 {
					for _, i := range keep {
						send(&b, i, now)
					}
					apply(now)
				}
				s.Tick(now)
				drain(t, s)
			}
		}
		phase(keepA)
		if s.nSeries != len(keepA) || !s.freeSids.allFree(first+1, last+1) || s.freeSids.has(uint32(x)) {
			t.Fatalf("stride %d: %d live after phase A", s.stride, s.nSeries)
		}
		resA := vmem.Resident(s.recs[e : e+W])
		phase(keepB)
		if s.nSeries != len(keepB) || !s.freeSids.allFree(first, last+1) || s.nRecs <= last {
			t.Fatalf("stride %d: %d live, nRecs %d after phase B", s.stride, s.nSeries, s.nRecs)
		}
		resB := vmem.Resident(s.recs[e : e+W])
		if resA == 0 {
			t.Fatalf("stride %d: the huge page of sids [%d, %d] not resident while sid %d was live", s.stride, first, last, x)
		}
		if resB != 0 {
			t.Errorf("stride %d: huge page of sids [%d, %d], all free, still %d bytes resident: never given back", s.stride, first, last, resB)
		}
	}
}

// TestHandleOfGivenBackRecordRefused: as TestLimboWaitsForHandles checks
// for a freed sid, the handle of a sid whose record was given back (a huge
// page of free sids, read as zero since) is refused once a new series
// takes the sid: the new series starts past every generation a freed sid
// had (genHigh), not at 0, where the old handle would name it. (A review
// found it at 0.)
func TestHandleOfGivenBackRecordRefused(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, IdleTimeout: time.Second})
	const n = 200_000
	applyMany(s, n, t0, func(b *sample.Batch, i int) {
		add(t, b, sample.KindCounter, fmt.Sprint("s", i), t0, 1, sample.UnitNone)
	})
	var b sample.Batch
	apply := func(now int64) {
		s.Apply(&b, now)
		b.Reset()
	}
	const W = vmem.ReleaseUnit / 8
	base := uintptr(unsafe.Pointer(&s.recs[0]))
	e := int(((base+vmem.ReleaseUnit-1)&^(vmem.ReleaseUnit-1))-base)/8 + W
	target := (e + s.stride - 1) / s.stride // wholly on the extent [e, e+W)
	ab := &sample.Batch{Epoch: s.Epoch().Load()}
	asking(t, ab, fmt.Sprint("s", target), t0, 1, 1)
	s.Apply(ab, t0)
	h := ab.Asks[0].Handle
	if uint32(h) != uint32(target) {
		t.Fatalf("handle of sid %d; want %d", uint32(h), target)
	}
	now := t0
	for end := now + 20_000; now < end; now += 100 {
		if now%1000 == 0 {
			add(t, &b, sample.KindCounter, fmt.Sprint("s", n-1), now, 1, sample.UnitNone)
			apply(now)
		}
		s.Tick(now)
		drain(t, s)
	}
	if !s.freeSids.has(uint32(target)) || vmem.Resident(s.recs[e:e+W]) != 0 {
		t.Fatalf("sid %d free %v, its huge page %d bytes resident", target, s.freeSids.has(uint32(target)), vmem.Resident(s.recs[e:e+W]))
	}
	// New series take sids 0 to target-1, then "intruder" takes target.
	applyMany(s, target, now, func(b *sample.Batch, i int) {
		add(t, b, sample.KindCounter, fmt.Sprint("new", i), now, 0, sample.UnitNone)
	})
	add(t, &b, sample.KindCounter, "intruder", now, 1, sample.UnitNone)
	apply(now)
	refused := s.Stats().Refused[RefusedBadHandle]
	hb := &sample.Batch{Epoch: s.Epoch().Load()}
	hb.AddHandle(h, now, 1000, sample.UnitNone, 0)
	s.Apply(hb, now)
	s.Flush(now)
	got := sums(t, drain(t, s))
	if got["intruder"] != 1 || s.Stats().Refused[RefusedBadHandle] != refused+1 {
		t.Fatalf("the handle of s%d's freed sid was taken by the series now on it: intruder sums %v; want 1, the handle refused", target, got["intruder"])
	}
}

// TestHandleOfRestrideSkippedRecordRefused: a restride leaves a free sid's
// record zero (not copied, so that it costs no memory), records on the heap
// too; a new series on the sid must not start at generation 0, where an
// old handle of the sid would name it.
func TestHandleOfRestrideSkippedRecordRefused(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, IdleTimeout: time.Second})
	ab := &sample.Batch{Epoch: s.Epoch().Load()}
	asking(t, ab, "a", t0, 1, 1)
	add(t, ab, sample.KindCounter, "b", t0, 1, sample.UnitNone)
	s.Apply(ab, t0)
	h := ab.Asks[0].Handle
	now := t0
	var b sample.Batch
	for end := now + 10_000; now < end; now += 100 {
		if now%1000 == 0 {
			add(t, &b, sample.KindCounter, "b", now, 1, sample.UnitNone)
			s.Apply(&b, now)
			b.Reset()
		}
		s.Tick(now)
		drain(t, s)
	}
	if !s.freeSids.has(uint32(h)) {
		t.Fatal("a's sid not free")
	}
	if err := s.Reconfigure(Config{Periods: []time.Duration{time.Second, 10 * time.Second}, IdleTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	add(t, &b, sample.KindCounter, "intruder", now, 1, sample.UnitNone)
	s.Apply(&b, now)
	b.Reset()
	hb := &sample.Batch{Epoch: s.Epoch().Load()}
	hb.AddHandle(h, now, 1000, sample.UnitNone, 0)
	s.Apply(hb, now)
	s.Flush(now)
	got := sums(t, drain(t, s))
	if got["intruder"] != 2 {
		t.Fatalf("a's stale handle: intruder sums %v (per period); want 2, the handle refused (refused %d)", got["intruder"], s.Stats().Refused[RefusedBadHandle])
	}
}

// TestBurstsUnderReaders: the shard runs on its own goroutine through
// bursts of series that are reaped while others are made (their sids, key
// slots and chunk numbers reused), then one series only until every
// burst's series is gone and its records and key chunks given back, while
// an emitter goroutine reads every row's key, holding a few snapshots
// back. Run with -race.
func TestBurstsUnderReaders(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, IdleTimeout: time.Second})
	var clk atomic.Int64
	clk.Store(t0)
	// The shard's time moves as batches are pushed, not as it reads its
	// clock: the series live at once (those of the last second) are then
	// what the pushes made, whatever the goroutines' timing, and fill
	// records past vmem.MinBytes (records on the heap are not given back).
	clock := func() int64 { return clk.Load() }
	in, back := ring.NewSPSC[*sample.Batch](64), ring.NewSPSC[*sample.Batch](64)
	s.Attach(in, back)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { s.run(stop, clock); close(done) }()
	emitted, bad := atomic.Int64{}, atomic.Int64{}
	emDone := make(chan struct{})
	go func() {
		defer close(emDone)
		var held []*hist.Snapshot
		finished := false // the shard has stopped: what it pushed is all there
		for {
			snap, ok := s.Output().Pop()
			if !ok {
				if finished {
					for _, h := range held {
						h.Release()
					}
					return
				}
				select {
				case <-done:
					finished = true // one more pass: it may have pushed since
				default:
					time.Sleep(50 * time.Microsecond)
				}
				continue
			}
			for i := 0; i < snap.Len(); i++ {
				_, name, dims := snap.Key(i)
				pk, err := sample.KeyFromParts(uint8(sample.KindCounter), name, dims)
				if err != nil || !bytes.HasPrefix(pk.Name, []byte("m")) || !bytes.Contains(dims, []byte("host")) {
					bad.Add(1)
				}
				snap.Plain(i)
				snap.Specified(i)
				var ser hist.Series
				snap.Series(i, &ser)
				if !bytes.Contains(dims, []byte("steady")) {
					emitted.Add(1)
				}
			}
			held = append(held, snap)
			if len(held) > 3 {
				held[0].Release()
				held = held[1:]
			}
		}
	}()
	for round := range 60 {
		for j := range 20 {
			var b *sample.Batch
			if b, _ = back.Pop(); b == nil {
				b = new(sample.Batch)
			}
			b.Reset()
			b.Epoch = s.Epoch().Load()
			now := clk.Add(5) // 200 batches, 100 000 series, a second
			for i := range 500 {
				add(t, b, sample.KindCounter, fmt.Sprint("m", i%7), now, 1, sample.UnitNone,
					"host", fmt.Sprintf("h-%d-%d-%d-%s", round, j, i, strings.Repeat("x", (round*7+i)%90)))
			}
			for !in.Push(b) {
				time.Sleep(10 * time.Microsecond)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Then one series only, until every burst's series is reaped and its
	// keys released (the shard's clock moves on as it runs): the records
	// and key chunks are given back while the reader still holds
	// snapshots.
	const bursts = 60 * 20 * 500
	deadline := time.Now().Add(2 * time.Minute)
	for st := s.Stats(); st.SeriesReaped < bursts || st.KeyBytes > 1000; st = s.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("%d series of %d reaped, %d bytes of keys still live", st.SeriesReaped, bursts, st.KeyBytes)
		}
		var b *sample.Batch
		if b, _ = back.Pop(); b == nil {
			b = new(sample.Batch)
		}
		b.Reset()
		b.Epoch = s.Epoch().Load()
		add(t, b, sample.KindCounter, "msteady", clk.Add(20), 1, sample.UnitNone, "host", "steady")
		for !in.Push(b) {
			time.Sleep(10 * time.Microsecond)
		}
		time.Sleep(100 * time.Microsecond)
	}
	close(stop)
	<-done
	<-emDone
	if bad.Load() != 0 || emitted.Load() != bursts {
		t.Fatalf("%d rows of the bursts read, %d of them a bad key; want %d, none", emitted.Load(), bad.Load(), bursts)
	}
	if s.recsGiven == 0 || s.keys.slab.given == 0 {
		t.Fatalf("%d bytes of records and %d of key chunks given back once every burst was gone", s.recsGiven, s.keys.slab.given)
	}
}

// TestIdleShardLetsBurstTablesGo: once a burst of series is over and
// nothing more comes, no table is sealed, so the load the pool judges
// released tables by stays the burst's; the burst's tables, pooled when the
// emitter released them, are let go of once unused for a while (trimPool).
func TestIdleShardLetsBurstTablesGo(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}})
	const burst = 200_000
	applyMany(s, burst, t0, func(b *sample.Batch, i int) {
		add(t, b, sample.KindCounter, fmt.Sprint("burst.", i), t0, 1, sample.UnitNone)
	})
	pooled := func() (n int64) {
		for _, p := range s.pool {
			n += p.t.Bytes()
		}
		return n
	}
	most := int64(0)
	for now := t0 + 100; now <= t0+240_000; now += 100 {
		s.Tick(now)
		drain(t, s)
		s.recycle()
		most = max(most, pooled())
	}
	if most < 2*tableTrimFrom {
		t.Fatalf("the burst's tables pooled: at most %d bytes; too few to tell", most)
	}
	if n := pooled(); n >= tableTrimFrom {
		t.Fatalf("an idle shard, minutes after a burst of %d series: the pool holds %d bytes (%d at most)", burst, n, most)
	}
}
