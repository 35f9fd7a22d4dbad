package ingest

import (
	"net"
	"strings"
	"testing"
	"time"
)

// A burst that fills a source's rings leaves every batch it used allocated;
// once the source is idle, it lets go of all but keepBatches per ring
// (Producer.Trim), so that memory comes back after an overload (issue 14,
// item 10). These tests fill a ring of 64 batches while the shard stalls
// (so at least 64 are allocated), let the shard take and give back every
// batch, and wait for the source to trim: without trimming, 60 or more
// would stay in the return ring for good.

const trimRing = 64

// TestTCPTrimsIdleProducer: a TCP source trims on its ticks.
func TestTCPTrimsIdleProducer(t *testing.T) {
	const lines = 2 * trimRing * 1024
	k := stalledSink(1, trimRing, lines)
	// No bound on the wait for room (as in TestTCPBackpressure): a consumer
	// starved past the default 5 s would see batches dropped, and never
	// every line.
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", MaxWait: time.Hour, Log: quiet}, k.lanes)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	sent := sendLines(src.Addr().String(), 0, lines)
	waitFor(t, "the ring to fill", func() bool { return full(k.lanes[0]) })
	go k.run()
	defer k.finish()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every line", func() bool { return k.got.Load() == lines })
	waitFor(t, "the idle source to trim", func() bool { return k.lanes[0].Back[0].Len() <= keepBatches })
}

// TestUDPTrimsIdleProducer: a UDP source trims from its trimmer.
func TestUDPTrimsIdleProducer(t *testing.T) {
	k := stalledSink(1, trimRing, 1)
	src, err := ListenUDP(UDPConfig{Name: "udp", Addr: "127.0.0.1:0", Loops: 1, Log: quiet}, k.lanes)
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
	datagram := []byte(strings.Repeat("n0:1|c\n", 200))
	waitFor(t, "the ring to fill", func() bool {
		conn.Write(datagram)
		return full(k.lanes[0])
	})
	go k.run()
	defer k.finish()
	waitFor(t, "the shard to take every batch", func() bool { return k.lanes[0].To[0].Len() == 0 })
	waitFor(t, "the idle source to trim", func() bool { return k.lanes[0].Back[0].Len() <= keepBatches })
}
