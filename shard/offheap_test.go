package shard

import (
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/vmem"
)

// TestRecordsOffHeapOutliveTheirArray checks the lifetime of the series
// records once they live in a mapping (vmem): a reconfiguration that adds a
// period lays the records out anew in a new mapping, and a snapshot sealed
// before keeps reading the old one, which is unmapped only once that
// snapshot is released.
func TestRecordsOffHeapOutliveTheirArray(t *testing.T) {
	const n = 100_000 // 4.8 MB of records: past vmem.MinBytes
	s, err := New(0, Config{Periods: []time.Duration{time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	keys := benchKeysShaped(n, sample.KindCounter, true)
	for i := range keys.Samples {
		keys.Samples[i].Time = t0
		keys.Samples[i].Value = 1
	}
	s.Apply(keys, t0)
	if s.recsKeep == nil {
		if runtime.GOOS == "linux" {
			t.Fatal("records of 4.8 MB still on the heap")
		}
		t.Skip("no mappings on this platform")
	}
	if _, resident := vmem.Stats(); resident < n*int64(s.stride)*8 {
		t.Fatalf("resident %d bytes for %d records of %d bytes", resident, n, s.stride*8)
	}
	want := make(map[string]bool, n)
	for i := range keys.Samples {
		want[string(keys.Key(&keys.Samples[i]))] = true
	}
	s.Flush(t0 + time.Hour.Milliseconds())
	snap, ok := s.Output().Pop()
	if !ok || snap.Len() != n {
		t.Fatalf("sealed %v", snap)
	}
	// Two periods: the records move to a new mapping; only the snapshot's
	// view holds the old one.
	old := uintptr(unsafe.Pointer(&s.recs[0]))
	if err := s.Reconfigure(Config{Periods: []time.Duration{time.Minute, 5 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	if s.recsKeep == nil || uintptr(unsafe.Pointer(&s.recs[0])) == old {
		t.Fatal("the records did not move to a new mapping")
	}
	for range 3 {
		runtime.GC()
	}
	time.Sleep(10 * time.Millisecond) // cleanups that (wrongly) could run, run
	for i := range snap.Len() {
		kind, name, dims := snap.Key(i)
		key := append(append([]byte{kind}, name...), dims...)
		if !want[string(key)] {
			t.Fatalf("row %d: key %q is not one applied", i, key)
		}
		delete(want, string(key))
	}
	if !vmem.Mapped(old) {
		t.Fatal("the old records were unmapped while a snapshot held them")
	}
	snap.Release()
	snap = nil
	deadline := time.Now().Add(time.Minute)
	for vmem.Mapped(old) {
		if time.Now().After(deadline) {
			t.Fatal("the old records are still mapped once the snapshot is released")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if !vmem.Mapped(uintptr(unsafe.Pointer(&s.recs[0]))) {
		t.Fatal("the shard's records were unmapped")
	}
	runtime.KeepAlive(s)
}
