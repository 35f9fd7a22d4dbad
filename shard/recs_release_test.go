package shard

import (
	"fmt"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/vmem"
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
	for i := range before {
		add(t, &b, sample.KindCounter, fmt.Sprint("steady.", i), t0, 1, sample.UnitNone)
	}
	apply(t0)
	for i := range burst {
		add(t, &b, sample.KindCounter, "burst", t0, 1, sample.UnitNone, "host", fmt.Sprint("h", i))
		if i == burst/2 {
			add(t, &b, sample.KindCounter, "middle", t0, 1, sample.UnitNone)
		}
		if len(b.Samples) == 4096 {
			apply(t0)
		}
	}
	apply(t0)
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
	for i := range again {
		add(t, &b, sample.KindCounter, "again", now, float64(i), sample.UnitNone, "host", fmt.Sprint("h", i))
		if len(b.Samples) == 4096 {
			apply(now)
		}
	}
	apply(now)
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
