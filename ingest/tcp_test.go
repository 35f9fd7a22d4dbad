package ingest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gomad/mad/ingest/statsd"
)

func TestTCPSourceLines(t *testing.T) {
	const loops, shards = 2, 2
	lanes := []Lanes{NewLanes(shards, 1024), NewLanes(shards, 1024)}
	src, err := ListenTCP(TCPConfig{Name: "statsd-tcp", Addr: "127.0.0.1:0", Loops: loops}, lanes)
	if err != nil {
		t.Fatal(err)
	}
	addr := src.Addr().String()
	keys := map[string]int{}
	got := 0
	for c := 0; c < 3; c++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		// Lines split across writes, \r\n endings, a bad line, and a last
		// line without a newline (decoded when the connection closes).
		fmt.Fprintf(conn, "a:1|c\nb:2|")
		time.Sleep(5 * time.Millisecond)
		fmt.Fprintf(conn, "g\r\nbad\nc:3|ms")
		conn.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); got < 9 && time.Now().Before(deadline); {
		got += drainLanes(lanes, keys)
		time.Sleep(time.Millisecond)
	}
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := src.Stop(); err != nil { // a second Stop returns at once
		t.Fatal(err)
	}
	got += drainLanes(lanes, keys)
	st := src.Stats()
	if got != 9 || st.Samples != 9 || st.Lines[statsd.OK] != 9 || st.Lines[statsd.ErrSyntax] != 3 || st.Connections != 3 {
		t.Fatalf("got %d samples; stats %+v", got, st)
	}
	if len(keys) != 3 {
		t.Fatalf("series %d; want 3", len(keys))
	}
}

// TestTCPPortZeroOnAnyAddress: a source on 0.0.0.0 port 0 is reachable on
// loopback at the port Addr reports (its listener has the address family
// of its host).
func TestTCPPortZeroOnAnyAddress(t *testing.T) {
	src, err := ListenTCP(TCPConfig{Name: "x", Addr: "0.0.0.0:0", Loops: 2}, []Lanes{NewLanes(1, 16), NewLanes(1, 16)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	_, port, _ := net.SplitHostPort(src.Addr().String())
	if port == "0" {
		t.Fatalf("Addr() = %s; want the port chosen", src.Addr())
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
