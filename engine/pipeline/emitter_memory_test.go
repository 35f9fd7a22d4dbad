package pipeline

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
)

// countSink counts what it receives and allocates nothing.
type countSink struct{ buckets, metrics int }

func (c *countSink) Record(pd *sinks.PeriodicData) { c.buckets++; c.metrics += len(pd.Metrics) }
func (c *countSink) Close() error                  { return nil }

// sealedBucket returns a shard holding one sealed PT1S bucket of n counter
// series spread over dimSets dimension sets (dimSets 1: all untagged, as
// plain StatsD sends them).
func sealedBucket(tb testing.TB, n, dimSets int) *shard.Shard {
	tb.Helper()
	s, err := shard.New(0, shard.Config{Periods: []time.Duration{time.Second}})
	if err != nil {
		tb.Fatal(err)
	}
	var b sample.Batch
	for i := range n {
		var dims []string
		if dimSets > 1 {
			dims = []string{"host", fmt.Sprintf("h%d", i%dimSets)}
		}
		addSample(&b, sample.KindCounter, fmt.Sprintf("card.s%d", i), t0+100, 0, 1, sample.UnitNone, dims...)
		if len(b.Samples) == 4096 {
			s.Apply(&b, t0+200)
			b.Reset()
		}
	}
	s.Apply(&b, t0+200)
	s.Tick(t0 + 2001)
	return s
}

// emitAllocs returns the bytes a new emitter allocates to emit a sealed
// bucket of n series in dimSets dimension sets.
func emitAllocs(t *testing.T, n, dimSets int) uint64 {
	t.Helper()
	s := sealedBucket(t, n, dimSets)
	out := &countSink{}
	e := NewEmitter([]*shard.Shard{s}, out)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if !e.Poll() {
		t.Fatal("nothing emitted")
	}
	runtime.ReadMemStats(&after)
	if out.metrics != n {
		t.Fatalf("emitted %d metrics; want %d", out.metrics, n)
	}
	return after.TotalAlloc - before.TotalAlloc
}

// TestEmitMemoryIsBounded: what emitting a bucket allocates does not grow
// with the series of one dimension set (the 10 M series in one
// PeriodicData took 3× their own memory to emit: ~2 KB a series here), and
// grows by at most 8 bytes a series spread over several. Measured at n
// and n/4 series: the difference is the cost per series.
func TestEmitMemoryIsBounded(t *testing.T) {
	const n = 200_000
	for _, tc := range []struct {
		dimSets int
		perRow  float64 // bytes per series at most
	}{
		{1, 0},
		{2, 8},
		{1000, 8},
	} {
		t.Run(fmt.Sprintf("dimSets=%d", tc.dimSets), func(t *testing.T) {
			small, large := emitAllocs(t, n/4, tc.dimSets), emitAllocs(t, n, tc.dimSets)
			perRow := (float64(large) - float64(small)) / (n - n/4)
			if perRow > tc.perRow+1 || large > uint64(tc.perRow*n)+8<<20 {
				t.Fatalf("emitting %d series in %d dimension sets allocated %d bytes, %d for %d series: %.1f bytes per series; want at most %.0f (and 8 MiB)",
					n, tc.dimSets, large, small, n/4, perRow, tc.perRow)
			}
			t.Logf("%d series: %d bytes; %d series: %d bytes; %.2f bytes per series", n, large, n/4, small, perRow)
		})
	}
}

// TestEmitKeepsScratchWhileNeeded: the scratch of a group of more
// dimension sets than keepDimSets is kept for the next groups while such
// groups keep coming (a steady load grows it once), and let go of once
// none has needed it for scratchHold.
func TestEmitKeepsScratchWhileNeeded(t *testing.T) {
	const sets = keepDimSets + 1000
	clock := time.Unix(1_000_000, 0)
	s, err := shard.New(0, shard.Config{Periods: []time.Duration{time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	out := &countSink{}
	e := NewEmitter([]*shard.Shard{s}, out)
	e.now = func() time.Time { return clock }
	emitBucket := func(start int64) { // a PT1S bucket of sets sets, sealed and emitted
		t.Helper()
		var b sample.Batch
		for i := range sets {
			addSample(&b, sample.KindCounter, "keep.s", start+100, 0, 1, sample.UnitNone, "host", fmt.Sprintf("h%d", i))
		}
		s.Apply(&b, start+200)
		s.Tick(start + 2001)
		before := out.buckets
		if !e.Poll() || out.buckets-before != sets {
			t.Fatalf("%d PeriodicData emitted; want %d", out.buckets-before, sets)
		}
	}
	emitBucket(t0)
	if e.buckets.capacity() < sets {
		t.Fatalf("scratch for %d sets after a group of %d", e.buckets.capacity(), sets)
	}
	first := &e.buckets.chunks[0][0]
	clock = clock.Add(time.Second)
	emitBucket(t0 + 1000)
	if &e.buckets.chunks[0][0] != first || e.buckets.capacity() > sets+bucketChunk {
		t.Fatal("the next group of as many sets grew its scratch again")
	}
	clock = clock.Add(scratchHold - time.Second)
	if e.Poll(); e.buckets.capacity() < sets {
		t.Fatalf("scratch let go of %v after the last group that needed it; want it kept for %v", scratchHold-time.Second, scratchHold)
	}
	clock = clock.Add(2 * time.Second)
	if e.Poll(); e.buckets.capacity() > keepDimSets || len(e.dimIdx.slots) > 2*keepDimSets {
		t.Fatalf("scratch for %d sets (index %d slots) kept %v after the last group that needed it", e.buckets.capacity(), len(e.dimIdx.slots), scratchHold+time.Second)
	}
}

// TestEmitLetsHintRunsGo: the runs of rows to hint that a large group in
// an order of its own left (one a block of 64 rows at most) go with the
// rest of its scratch, and runs a group of keepRows rows may have stay.
func TestEmitLetsHintRunsGo(t *testing.T) {
	clock := time.Unix(1_000_000, 0)
	e := NewEmitter(nil, &countSink{})
	e.now = func() time.Time { return clock }
	for _, n := range []int{keepRuns, keepRuns + 1} {
		e.runs = make([]hintRun, 0, n)
		e.bigAt = clock.Add(-scratchHold - time.Second)
		e.trimScratch()
		if kept := e.runs != nil; kept != (n <= keepRuns) {
			t.Errorf("room for %d runs kept %v past scratchHold; want %v", n, kept, n <= keepRuns)
		}
	}
}
