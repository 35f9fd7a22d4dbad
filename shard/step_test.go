package shard

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestStep: producers attached with AttachHosted that call Step after every
// batch they push (run to completion) while the shard's own loop runs, one
// attached so that never calls Step (its batches wait for the loop, which
// its pushes do not wake), one attached with Attach, and one attached and
// detached meanwhile: every sample is applied exactly once and emitted in
// one bucket per period, whichever goroutine ran the round. Step does
// nothing before Run and after stop. Run it with -race.
func TestStep(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}})
	if s.Step() {
		t.Fatal("Step ran a round before Run")
	}
	r := startShard(t, s)
	const hosts = 3 // ps[:hosts] call Step; ps[hosts] is hosted and does not
	var ps []*producer
	for i := range hosts + 2 {
		p := newProducer(4)
		if i <= hosts {
			s.AttachHosted(p.in, p.back)
		} else {
			s.Attach(p.in, p.back)
		}
		ps = append(ps, p)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stepped := 0
	for i, p := range ps {
		wg.Go(func() {
			for j := range 200 {
				p.send(t, 1, 5, fmt.Sprint("p", i, "-", j%7))
				if i < hosts && s.Step() {
					mu.Lock()
					stepped++
					mu.Unlock()
				}
			}
		})
	}
	late := newProducer(2)
	s.Attach(late.in, late.back)
	wg.Go(func() {
		late.send(t, 30, 3, "late")
		s.Step()
		if err := s.Detach(late.in); err != nil {
			t.Error(err)
		}
		if err := late.returned(); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	if stepped == 0 {
		t.Error("no Step ran a round while the producers published")
	}
	total := late.samples
	for _, p := range ps {
		total += p.samples
	}
	r.finishWith(t, total)
	for _, p := range ps {
		if err := s.Detach(p.in); err != nil {
			t.Fatal(err)
		}
	}
	if s.Step() {
		t.Fatal("Step ran a round after Run returned")
	}
}
