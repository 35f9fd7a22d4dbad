package shard

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
)

// sealedRows collects what a shard seals, one line per row: "period start
// cut key count sum statistics", for the tests of Reconfigure.
type sealedRows struct {
	mu    sync.Mutex
	lines []string
}

func (c *sealedRows) take(snap *hist.Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := snap.Table
	for i := 0; i < snap.Len(); i++ {
		row := t.Row(i, nil)
		_, name, _ := snap.Key(i)
		c.lines = append(c.lines, fmt.Sprintf("%s %d cut=%d %s count=%d sum=%v %v",
			time.Duration(t.Period)*time.Millisecond, t.Start, t.Cut, name[1:], row.Count, row.Sum, snap.Specified(i).All()))
	}
	snap.Release()
}

func (c *sealedRows) sorted() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	sort.Strings(c.lines)
	return strings.Join(c.lines, "\n")
}

// drain takes everything s has sealed.
func (c *sealedRows) drain(s *Shard) {
	s.flushPending()
	for snap, ok := s.Output().Pop(); ok; snap, ok = s.Output().Pop() {
		c.take(snap)
	}
}

// TestReconfigureWhileRunning: [PT1S, PT1M] → [PT1M, PT5M] on a running
// shard fed through a ring. The PT1M bucket open across the change is
// sealed once, with every sample; the PT1S one is cut at the change with the
// samples before it; the PT5M one holds those after.
func TestReconfigureWhileRunning(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}})
	var got sealedRows
	stop, done, taken := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() { s.Run(stop); close(done) }()
	go func() {
		defer close(taken)
		for {
			snap, ok := s.Output().Pop()
			if ok {
				got.take(snap)
				continue
			}
			select {
			case <-done:
				if s.Output().Len() == 0 {
					return
				}
			default:
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	// One record time an hour ahead, on a 5-minute boundary: one bucket
	// per period, open until the shard stops.
	at := (Now()/300_000 + 12) * 300_000
	p := newProducer(4)
	s.Attach(p.in, p.back)
	send := func(n int) {
		for range n {
			b := new(sample.Batch)
			add(t, b, sample.KindCounter, "c", at, 1, sample.UnitNone)
			for !p.in.Push(b) {
				time.Sleep(10 * time.Microsecond)
			}
		}
	}
	send(30)
	// Detach returns once the shard has applied the 30: a round drains its
	// inputs before it takes a reconfiguration, so a batch pushed just
	// after a drain could otherwise be applied under the new periods.
	if err := s.Detach(p.in); err != nil {
		t.Fatal(err)
	}
	if err := s.Reconfigure(Config{Periods: []time.Duration{time.Minute, 5 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	p = newProducer(4)
	s.Attach(p.in, p.back)
	send(70)
	if err := s.Detach(p.in); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-taken
	want := strings.Join([]string{
		fmt.Sprintf("1m0s %d cut=0 c count=100 sum=100 [count sum mean]", at),
		fmt.Sprintf("1s %d cut=1 c count=30 sum=30 [count sum mean]", at),
		fmt.Sprintf("5m0s %d cut=0 c count=70 sum=70 [count sum mean]", at),
	}, "\n")
	if g := got.sorted(); g != want {
		t.Fatalf("sealed\n%s\nwant\n%s", g, want)
	}
	if st := s.Stats(); st.TablesCut != 1 || st.TablesSealed != 3 {
		t.Errorf("TablesCut %d, TablesSealed %d; want 1, 3", st.TablesCut, st.TablesSealed)
	}
	if err := s.Reconfigure(Config{}); !errors.Is(err, errStopped) {
		t.Errorf("Reconfigure of a stopped shard: %v; want %v", err, errStopped)
	}
}

// TestReconfigureStatistics: statistics the open rows can compute take
// effect on the open buckets; statistics that need an accumulator the rows
// did not keep cut every open bucket (it is sealed in two parts). The
// shard's loop has not started: Reconfigure applies the change itself.
func TestReconfigureStatistics(t *testing.T) {
	base := Config{Periods: []time.Duration{time.Minute}, CounterStatistics: hist.SetOf(hist.Sum, hist.Count),
		TimerStatistics: hist.SetOf(hist.Median, hist.TP90)}
	s := newTestShard(t, base)
	at := int64(1_700_000_040_000)
	var got sealedRows
	apply := func() {
		var b sample.Batch
		add(t, &b, sample.KindCounter, "c", at, 2, sample.UnitNone)
		add(t, &b, sample.KindTimer, "t", at, 3, sample.UnitNone)
		s.Apply(&b, at)
	}
	step := func(cfg Config) {
		t.Helper()
		apply()
		if err := s.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		got.drain(s)
	}
	// The same accumulators (a histogram; sum and count): nothing cut.
	same := base
	same.TimerStatistics = hist.SetOf(hist.TP99)
	same.CounterStatistics = hist.SetOf(hist.Sum)
	step(same)
	// max for the counters: rows without it are cut.
	more := same
	more.CounterStatistics = hist.SetOf(hist.Sum, hist.Max)
	step(more)
	apply()
	s.Flush(at)
	got.drain(s)
	want := strings.Join([]string{
		fmt.Sprintf("1m0s %d cut=0 c count=1 sum=2 [sum max]", at),
		fmt.Sprintf("1m0s %d cut=0 t count=1 sum=NaN [tp99]", at),
		fmt.Sprintf("1m0s %d cut=2 c count=2 sum=4 [sum]", at),
		fmt.Sprintf("1m0s %d cut=2 t count=2 sum=NaN [tp99]", at),
	}, "\n")
	if g := got.sorted(); g != want {
		t.Fatalf("sealed\n%s\nwant\n%s", g, want)
	}
	if st := s.Stats(); st.TablesCut != 1 {
		t.Errorf("TablesCut %d; want 1", st.TablesCut)
	}
}

// TestReconfigureRefuses: a configuration that cannot be taken in place
// (other override patterns, another output queue) or is invalid changes
// nothing.
func TestReconfigureRefuses(t *testing.T) {
	base := Config{Overrides: []Override{{Pattern: "a.*", Stats: hist.SetOf(hist.Max)}}}
	s := newTestShard(t, base)
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"pattern", Config{Overrides: []Override{{Pattern: "b.*", Stats: hist.SetOf(hist.Max)}}}},
		{"no overrides", Config{}},
		{"output queue", Config{Overrides: base.Overrides, OutputQueue: 7}},
		{"invalid", Config{Overrides: base.Overrides, Periods: []time.Duration{time.Second, time.Second}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := s.Reconfigure(c.cfg); err == nil {
				t.Fatalf("Reconfigure succeeded")
			}
			if s.cuts != 0 || len(s.periods) != 2 {
				t.Fatalf("a refused Reconfigure changed the shard")
			}
		})
	}
	// Other statistics for the same pattern are fine.
	if err := s.Reconfigure(Config{Overrides: []Override{{Pattern: "a.*", Stats: hist.SetOf(hist.Min)}}}); err != nil {
		t.Fatal(err)
	}
}

// TestReconfigureWhileStopping: a Reconfigure racing the loop's end either
// applies or fails with errStopped; it never hangs.
func TestReconfigureWhileStopping(t *testing.T) {
	for i := range 20 {
		s := newTestShard(t, Config{})
		stop, done := make(chan struct{}), make(chan struct{})
		go func() { s.Run(stop); close(done) }()
		go func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if snap, ok := s.Output().Pop(); ok {
					snap.Release()
				}
			}
		}()
		periods := []time.Duration{time.Second}
		if i%2 == 0 {
			close(stop)
		}
		err := s.Reconfigure(Config{Periods: periods})
		if err != nil && !errors.Is(err, errStopped) {
			t.Fatal(err)
		}
		if i%2 != 0 {
			close(stop)
		}
		<-done
	}
}
