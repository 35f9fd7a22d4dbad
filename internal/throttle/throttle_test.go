package throttle

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestThrottleAdmitsOnePerInterval(t *testing.T) {
	var th Throttle
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		at      time.Duration
		due, ok bool
		leftOut uint64
	}{
		{0, true, true, 0},
		{time.Second, false, false, 0},
		{9 * time.Second, false, false, 0},
		{10 * time.Second, true, true, 2},
		{15 * time.Second, false, false, 0},
		{21 * time.Second, true, true, 1},
	} {
		now := t0.Add(tc.at)
		if got := th.Due(now); got != tc.due {
			t.Errorf("at %v: Due = %v; want %v", tc.at, got, tc.due)
		}
		ok, left := th.Allow(now)
		if ok != tc.ok || left != tc.leftOut {
			t.Errorf("at %v: Allow = %v, %d; want %v, %d", tc.at, ok, left, tc.ok, tc.leftOut)
		}
	}
}

func TestThrottleConcurrentAdmitsOne(t *testing.T) {
	th := Throttle{Interval: time.Hour}
	now := time.Unix(5000, 0)
	var wg sync.WaitGroup
	var admitted, reported atomic.Uint64
	for range 16 {
		wg.Go(func() {
			for range 100 {
				if ok, left := th.Allow(now); ok {
					admitted.Add(1)
					reported.Add(left)
				}
			}
		})
	}
	wg.Wait()
	if admitted.Load() != 1 {
		t.Fatalf("admitted %d events in one interval; want 1", admitted.Load())
	}
	// A refusal racing the admission may be reported with it rather than
	// with the next one; none may be lost or reported twice.
	ok, left := th.Allow(now.Add(time.Hour))
	if !ok || reported.Load()+left != 1599 {
		t.Fatalf("after the interval: %v, %d+%d left out; want true, 1599 in all", ok, reported.Load(), left)
	}
}

func TestLogPerKey(t *testing.T) {
	var buf bytes.Buffer
	l := NewLog(slog.New(slog.NewTextHandler(&buf, nil)), time.Hour)
	for range 3 {
		l.Warn("a", "problem a")
		l.Warn("b", "problem b")
	}
	out := buf.String()
	if strings.Count(out, "problem a") != 1 || strings.Count(out, "problem b") != 1 {
		t.Fatalf("got %q; want one line per key", out)
	}
}
