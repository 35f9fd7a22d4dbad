package engine

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/ingest/statsd"
)

// TestMillionLinesAccounted sends 1 000 000 StatsD lines at full speed from
// four sockets and checks that every line is accounted for: each datagram
// either reached mad or was counted as dropped by the kernel; each line mad
// received was accepted, refused as bad (by reason) or skipped; every
// accepted sample is in the output; and nothing was lost inside mad.
func TestMillionLinesAccounted(t *testing.T) {
	if testing.Short() {
		t.Skip("sends a million lines")
	}
	// With a large socket buffer nothing should be dropped; with a tiny
	// one the kernel drops datagrams, and they must be counted as such.
	for _, buf := range []int{64 << 20, 64 << 10} {
		t.Run(fmt.Sprintf("rcvbuf=%d", buf), func(t *testing.T) { millionLines(t, buf) })
	}
}

func millionLines(t *testing.T, readBuffer int) {
	out := &lockedBuffer{}
	d, udpAddr, _ := startDaemonBuffer(t, out, []time.Duration{decade}, 2, readBuffer, pipeline.InlineAuto)
	const (
		linesPerDatagram = 25 // 24 good lines and one bad one
		datagrams        = 40_000
		senders          = 4
	)
	// Pre-built datagrams of about 1 KiB over 1000 series.
	payloads := make([][]byte, 64)
	for i := range payloads {
		var b bytes.Buffer
		for j := 0; j < linesPerDatagram-1; j++ {
			fmt.Fprintf(&b, "load.c%03d:1|c|#host:h%d\n", (i*31+j*7)%1000, j%4)
		}
		b.WriteString("not a statsd line\n")
		payloads[i] = b.Bytes()
	}
	var sendErrors int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("udp", udpAddr)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			for i := s; i < datagrams; i += senders {
				if _, err := conn.Write(payloads[i%len(payloads)]); err != nil {
					mu.Lock()
					sendErrors++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if sendErrors > 0 {
		t.Fatalf("%d datagrams could not be sent", sendErrors)
	}
	p := d.Pipelines()[0]
	src := pipeline.SourcesOf[*ingest.UDPSource](p)[0]
	// Wait until every datagram is received or counted as a kernel drop.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := src.Stats()
		if st.Datagrams+st.KernelDrops >= datagrams {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d + dropped by the kernel %d of %d datagrams", st.Datagrams, st.KernelDrops, datagrams)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	st := src.Stats()
	var lines, emitted uint64
	for _, n := range st.Lines {
		lines += n
	}
	for _, l := range parseLines(t, out.String()) {
		emitted += uint64(*l.Statistics["count"])
	}
	var refused uint64
	for _, s := range p.Shards() {
		sst := s.Stats()
		for _, n := range sst.Refused {
			refused += n
		}
		refused += sst.RowsDropped
	}
	t.Logf("sent %d lines in %d datagrams; received %d datagrams, kernel drops %d; lines %d: ok %d, bad %d; emitted %d samples",
		datagrams*linesPerDatagram, datagrams, st.Datagrams, st.KernelDrops, lines, st.Lines[statsd.OK], st.Lines[statsd.ErrSyntax], emitted)
	switch {
	case st.Datagrams+st.KernelDrops != datagrams:
		t.Errorf("datagrams received %d + kernel drops %d != sent %d", st.Datagrams, st.KernelDrops, datagrams)
	case lines != st.Datagrams*linesPerDatagram:
		t.Errorf("lines counted %d != lines received %d", lines, st.Datagrams*linesPerDatagram)
	case st.Lines[statsd.OK] != st.Samples+st.SampledOut+st.NonFinite+st.TooLong:
		t.Errorf("ok lines %d != samples %d + sampled out + non-finite + too long", st.Lines[statsd.OK], st.Samples)
	case st.Lines[statsd.ErrSyntax] != st.Datagrams:
		t.Errorf("bad lines %d; want one per datagram (%d)", st.Lines[statsd.ErrSyntax], st.Datagrams)
	case st.Dropped != 0 || refused != 0:
		t.Errorf("lost inside mad: %d samples dropped at full rings, %d refused or dropped by shards", st.Dropped, refused)
	case emitted != st.Samples:
		t.Errorf("emitted %d samples; accepted %d", emitted, st.Samples)
	}
}
