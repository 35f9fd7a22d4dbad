package ingest

import (
	"bufio"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// stalledSink returns a lineSink over lanes of one loop to shards, with
// rings of ringSize batches, whose shards do not run yet: nothing is taken
// from the rings until go k.run().
func stalledSink(shards, ringSize, ids int) *lineSink {
	return &lineSink{lanes: []Lanes{NewLanes(shards, ringSize)}, seen: make([]uint32, ids), stop: make(chan struct{}), done: make(chan struct{})}
}

// sendLines sends "n<i>:1|c" for i in [from, to) on a new connection to
// addr, closes it and reports the error on the channel it returns.
func sendLines(addr string, from, to int) <-chan error {
	errc := make(chan error, 1)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			errc <- err
			return
		}
		w := bufio.NewWriter(conn)
		for i := from; i < to; i++ {
			fmt.Fprintf(w, "n%d:1|c\n", i)
		}
		if err := w.Flush(); err != nil {
			conn.Close()
			errc <- err
			return
		}
		errc <- conn.Close()
	}()
	return errc
}

// full reports whether every ring of a lane is full.
func full(l Lanes) bool {
	for _, r := range l.To {
		if r.Len() < r.Cap() {
			return false
		}
	}
	return true
}

// stepsWhileFull counts the calls of the loop's Step while every ring of
// k's one lane is full. The loop calls Step[0] after the event that fills
// the ring and, from then on, only while it waits for room in it (every
// later event has lines to publish): a second call with the ring full means
// the loop is waiting.
func stepsWhileFull(k *lineSink) *atomic.Int64 {
	var n atomic.Int64
	k.lanes[0].Step = []func() bool{func() bool {
		if full(k.lanes[0]) {
			n.Add(1)
		}
		return false
	}}
	return &n
}

// TestTCPBackpressure: a TCP source whose shard stalls pushes back on the
// sender instead of dropping. The ring holds two batches; the shard takes
// nothing until the ring is full and the loop waits for room, and for
// 300 ms (six times the 50 ms a UDP source waits) after that, then catches
// up: every line sent is delivered once, and nothing is dropped.
//
// There is one shard: with two, the loop can wait on one full ring while
// the other never fills (its batch waits behind the first in the flush), so
// "every ring full" is not a state the test can wait for (CI once timed out
// on it).
func TestTCPBackpressure(t *testing.T) {
	const lines = 200_000
	k := stalledSink(1, 2, lines)
	waits := stepsWhileFull(k)
	// No bound on the wait (TestTCPBackpressureBound tests it): under the
	// race detector on a loaded machine the consumer once took longer than
	// the default 5 s to make room, and the test saw drops.
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", MaxWait: time.Hour, Log: quiet}, k.lanes)
	if err != nil {
		t.Fatal(err)
	}
	sent := sendLines(src.Addr().String(), 0, lines)
	waitFor(t, "the loop to wait for room in the full ring", func() bool { return waits.Load() >= 2 })
	time.Sleep(300 * time.Millisecond) // the stall goes on
	go k.run()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every line delivered or dropped", func() bool {
		st := src.Stats()
		return st.Samples == lines && k.got.Load()+int64(st.Dropped) == lines
	})
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	k.finish()
	st := src.Stats()
	if got := checkExactlyOnce(t, lines, k); got != lines || st.Dropped != 0 || st.Waits == 0 {
		t.Fatalf("received %d of %d lines, %d dropped, %d waits; want all, 0 dropped, some waits", got, lines, st.Dropped, st.Waits)
	}
}

// TestTCPBackpressureBound: a shard that makes no room for MaxWait is
// stuck. The read event that waited for it drops its batch, and every
// later batch for it is dropped without waiting, all counted, so that the
// loop reads on: every line is decoded, after a single wait. Once the shard
// takes batches again, lines are delivered without loss.
func TestTCPBackpressureBound(t *testing.T) {
	const lines, more = 100_000, 10_000
	k := stalledSink(1, 2, lines+more)
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", MaxWait: 100 * time.Millisecond, Log: quiet}, k.lanes)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sendLines(src.Addr().String(), 0, lines); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every line decoded", func() bool { return src.Stats().Samples == lines })
	st := src.Stats()
	held := k.drain() // what the full ring holds
	if st.Waits != 1 || st.Dropped == 0 || held+int(st.Dropped) != lines {
		t.Fatalf("%d waits, %d dropped, %d in the ring; want 1 wait, and the %d lines dropped or in the ring", st.Waits, st.Dropped, held, lines)
	}
	go k.run()
	if err := <-sendLines(src.Addr().String(), lines, lines+more); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lines sent after", func() bool { return k.got.Load() == int64(held+more) })
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	k.finish()
	if after := src.Stats(); after.Dropped != st.Dropped {
		t.Fatalf("%d dropped once the shard ran again; want 0", after.Dropped-st.Dropped)
	}
	for i := lines; i < lines+more; i++ {
		if k.seen[i] != 1 {
			t.Fatalf("line %d received %d times; want once", i, k.seen[i])
		}
	}
}
