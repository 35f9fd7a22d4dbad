// Package throttle keeps logs from repeating: mad's one rule for logging
// per-input problems (bad lines, refused requests, late buckets, sink
// errors) is at most one line per interval, with the number of lines left
// out since the previous one. The hot path only counts; whoever reports
// asks a Throttle whether a line is due.
package throttle

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Every is the interval mad's throttled logs use.
const Every = 10 * time.Second

// Throttle admits at most one event per interval. The zero value admits one
// event per Every. Safe for concurrent use; lock-free.
type Throttle struct {
	// Interval between two admitted events; 0 means Every.
	Interval time.Duration
	last     atomic.Int64 // unix ns of the last admitted event; 0: none yet
	left     atomic.Uint64
}

func (t *Throttle) interval() int64 {
	if t.Interval > 0 {
		return int64(t.Interval)
	}
	return int64(Every)
}

// Due reports whether an event at now would be admitted, without claiming
// it: callers that must do work to build the line ask first.
func (t *Throttle) Due(now time.Time) bool {
	last := t.last.Load()
	return last == 0 || now.UnixNano()-last >= t.interval()
}

// Allow claims the interval for an event at now. If the event is admitted
// it returns true and the number of events refused since the previous one
// admitted; otherwise it counts the event as left out. An event refused
// concurrently with an admission may be reported by that admission or by
// the next one; each refusal is reported by at most one admission (by
// exactly one if another admission follows).
func (t *Throttle) Allow(now time.Time) (ok bool, leftOut uint64) {
	ns := now.UnixNano()
	for {
		last := t.last.Load()
		if last != 0 && ns-last < t.interval() {
			t.left.Add(1)
			return false, 0
		}
		if t.last.CompareAndSwap(last, max(ns, 1)) {
			return true, t.left.Swap(0)
		}
	}
}

// Log writes throttled warnings: per key (a source, a sink, a kind of
// problem), at most one line per interval, carrying a "left_out" count of
// the lines it did not write since the previous one. Safe for concurrent
// use.
type Log struct {
	log      *slog.Logger
	interval time.Duration
	mu       sync.Mutex
	keys     map[string]*Throttle
}

// maxKeys bounds the keys a Log remembers; past it every new key shares
// one throttle.
const maxKeys = 1024

// NewLog returns a throttled log writing to l (slog.Default() if nil), one
// line per key and interval (Every if 0).
func NewLog(l *slog.Logger, interval time.Duration) *Log {
	if l == nil {
		l = slog.Default()
	}
	return &Log{log: l, interval: interval, keys: map[string]*Throttle{}}
}

// Warn writes msg with args at warning level unless a line of key was
// written less than an interval ago.
func (l *Log) Warn(key, msg string, args ...any) {
	l.mu.Lock()
	t := l.keys[key]
	if t == nil {
		if len(l.keys) >= maxKeys {
			key = ""
			t = l.keys[key]
		}
		if t == nil {
			t = &Throttle{Interval: l.interval}
			l.keys[key] = t
		}
	}
	l.mu.Unlock()
	ok, left := t.Allow(time.Now())
	if !ok {
		return
	}
	if left > 0 {
		args = append(args, "left_out", left)
	}
	l.log.Warn(msg, args...)
}
