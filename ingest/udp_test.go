package ingest

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/sample"
	sm "github.com/gomad/mad/internal/selfmetric"
)

// drainLanes plays the shards: it pops every batch, counts and returns them.
func drainLanes(lanes []Lanes, keys map[string]int) int {
	n := 0
	for _, l := range lanes {
		for i, r := range l.To {
			for b, ok := r.Pop(); ok; b, ok = r.Pop() {
				for j := range b.Samples {
					keys[string(b.Key(&b.Samples[j]))]++
				}
				n += len(b.Samples)
				b.Reset()
				l.Back[i].Push(b)
			}
		}
	}
	return n
}

// startUDP binds and starts a UDP source over lanes and dials it; the
// connection is closed at the end of the test.
func startUDP(t *testing.T, cfg UDPConfig, lanes []Lanes) (*UDPSource, net.Conn) {
	t.Helper()
	src, err := ListenUDP(cfg, lanes)
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	conn, err := net.Dial("udp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return src, conn
}

func TestUDPSourceLoopback(t *testing.T) {
	const loops, shards = 2, 3
	// At most one batch per shard per datagram: rings of 1024 batches can
	// never fill, whatever the timing, so nothing may be dropped.
	lanes := make([]Lanes, loops)
	for i := range lanes {
		lanes[i] = NewLanes(shards, 1024)
	}
	src, conn := startUDP(t, UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", Loops: loops, ReadBuffer: 8 << 20}, lanes)
	const datagrams = 200
	for i := 0; i < datagrams; i++ {
		// Two good lines, one bad, one event.
		fmt.Fprintf(conn, "hits:1|c|#host:h%d\nlat:%d|ms\nbad line\n_e{1,1}:a|b", i%5, i)
		if i%50 == 49 {
			time.Sleep(time.Millisecond) // stay well under the socket buffer
		}
	}
	conn.Close()
	keys := map[string]int{}
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got < 2*datagrams && time.Now().Before(deadline); {
		got += drainLanes(lanes, keys)
		time.Sleep(time.Millisecond)
	}
	src.Stop()
	got += drainLanes(lanes, keys)
	st := src.Stats()
	if got != 2*datagrams || st.Samples != 2*datagrams || st.Dropped != 0 {
		t.Fatalf("received %d samples (stats %d, dropped %d); want %d", got, st.Samples, st.Dropped, 2*datagrams)
	}
	if st.Datagrams != datagrams || st.Lines[statsd.OK] != 2*datagrams || st.Lines[statsd.ErrSyntax] != datagrams ||
		st.Lines[statsd.SkipEvent] != datagrams || st.Dropped != 0 || st.KernelDrops != 0 {
		t.Fatalf("stats %+v", st)
	}
	if len(keys) != 6 { // hits × 5 hosts + lat
		t.Fatalf("%d distinct series; want 6", len(keys))
	}
	for k := range keys {
		if _, err := sample.ParseKey([]byte(k)); err != nil {
			t.Fatalf("bad key %q", k)
		}
	}
}

func TestProducerDropsWhenRingFull(t *testing.T) {
	lanes := NewLanes(1, 2)
	p := NewProducer(lanes)
	p.MaxSamples = 1
	p.MaxWait = 0
	k := sample.KeyRef{}
	for i := 0; i < 5; i++ {
		b := p.Route(0)
		b.Keys = append(b.Keys, 0)
		k.Len = 1
		b.AddValue(k, 0, 0, 1, sample.UnitNone)
	}
	p.Flush()
	// The ring holds 2 batches; the other 3 samples are dropped and counted.
	if p.Published != 2 || p.Dropped != 3 {
		t.Fatalf("published %d dropped %d; want 2 and 3", p.Published, p.Dropped)
	}
}

// TestProducerWaitsForRoom: with a consumer that keeps up eventually,
// a full ring makes the producer wait, not drop.
func TestProducerWaitsForRoom(t *testing.T) {
	lanes := NewLanes(1, 2)
	p := NewProducer(lanes)
	p.MaxSamples = 1
	p.MaxWait = time.Minute
	const n = 200
	got := make(chan int)
	go func() {
		c := 0
		for c < n {
			if b, ok := lanes.To[0].Pop(); ok {
				c += len(b.Samples)
				b.Reset()
				continue
			}
			time.Sleep(100 * time.Microsecond)
		}
		got <- c
	}()
	k := sample.KeyRef{Len: 1}
	for i := 0; i < n; i++ {
		b := p.Route(0)
		b.Keys = append(b.Keys, 0)
		b.AddValue(k, 0, 0, 1, sample.UnitNone)
	}
	p.Flush()
	if c := <-got; c != n || p.Published != n || p.Dropped != 0 || p.Waits == 0 {
		t.Fatalf("consumed %d, published %d, dropped %d, waits %d; want %d, %d, 0, some", c, p.Published, p.Dropped, p.Waits, n, n)
	}
}

func TestShardOfIsUniform(t *testing.T) {
	counts := make([]int, 7)
	for i := uint64(0); i < 70000; i++ {
		counts[ShardOf(sample.Hash([]byte(fmt.Sprint(i))), 7)]++
	}
	for i, c := range counts {
		if c < 9000 || c > 11000 {
			t.Fatalf("shard %d got %d of 70000", i, c)
		}
	}
}

// TestUDPTruncatedLastLine: a datagram longer than the receive buffer is
// counted as truncated and its cut last line is dropped, not read as a line
// of its own (here it would parse, with a wrong tag value).
func TestUDPTruncatedLastLine(t *testing.T) {
	lanes := []Lanes{NewLanes(2, 1024)}
	src, err := ListenUDP(UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", MaxDatagram: 32, Log: quiet}, lanes)
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	defer src.Stop()
	conn, err := net.Dial("udp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// 32 bytes reach "b:1|c|#env:production" of the second line.
	if _, err := io.WriteString(conn, "whole:1|c\nb:1|c|#env:production-eu-west-1\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the datagram", func() bool { return src.Stats().Datagrams == 1 })
	src.Stop()
	keys := map[string]int{}
	drainLanes(lanes, keys)
	st := src.Stats()
	if len(keys) != 1 || !hasKey(keys, "whole") || st.Truncated != 1 || st.Lines[statsd.OK] != 1 {
		t.Fatalf("keys %v, stats %+v; want the whole line only, one datagram truncated", keys, st)
	}
}

// TestUDPReportsNoLossWhenIdleBetweenDatagrams: datagrams arriving one at a
// time, each read, published and followed by an idle socket (so the loop
// publishes its counters after each, as at low rates), with the counters
// read only at the end: every counter is current, and nothing the source
// reports counts anything lost. (Counters were carried by a drop-oldest
// ring, whose overwritten, superseded values were reported as lost: 4,000
// for these 200 datagrams.)
func TestUDPReportsNoLossWhenIdleBetweenDatagrams(t *testing.T) {
	const datagrams = 200
	lanes := []Lanes{NewLanes(2, 1024)}
	src, err := ListenUDP(UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", Log: quiet}, lanes)
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	defer src.Stop()
	conn, err := net.Dial("udp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got := 0
	for i := range datagrams {
		if _, err := fmt.Fprintf(conn, "n%d:1|c\n", i); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the datagram's sample", func() bool { got += countLanes(lanes); return got == i+1 })
	}
	// A loop publishes its batch before its counters: the last sample can
	// be in the lanes a moment before the counters that count it.
	waitFor(t, "the counters of every datagram", func() bool {
		st := src.Stats()
		return st.Datagrams == datagrams && st.Samples == datagrams && st.Lines[statsd.OK] == datagrams
	})
	src.Report(func(v sm.Value) {
		if strings.Contains(v.Name, "lost") && v.V != 0 {
			t.Errorf("%s = %v in normal running", v.Name, v.V)
		}
	})
}

// TestUDPStopCountsLastKernelDrops: datagrams that reach a stopping source
// after it read its sockets' drop counts (dropped by the filter that
// refuses everything while it drains) are still counted in KernelDrops:
// the counts are read again just before the sockets close.
func TestUDPStopCountsLastKernelDrops(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the refusing filter and the kernel's drop counts are Linux's")
	}
	const late = 20
	src, conn := startUDP(t, UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", Loops: 1, Log: quiet}, []Lanes{NewLanes(1, 1024)})
	defer func() { udpStopHook = nil }()
	udpStopHook = func(s *UDPSource) {
		before := kernelDrops(s.loops[0].raw)
		for range late {
			conn.Write([]byte("late:1|c"))
		}
		// Wait for the kernel to have dropped them (loopback delivers them
		// at once, or a moment later).
		for deadline := time.Now().Add(10 * time.Second); kernelDrops(s.loops[0].raw) < before+late; {
			if time.Now().After(deadline) {
				t.Errorf("the filter dropped %d of %d datagrams", kernelDrops(s.loops[0].raw)-before, late)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	src.Stop()
	if st := src.Stats(); st.KernelDrops < late {
		t.Errorf("KernelDrops %d after the stop; want at least the %d datagrams the filter dropped", st.KernelDrops, late)
	}
}
