package cagg

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// tcpServer is a test Cluster Aggregator TCP endpoint.
type tcpServer struct {
	ln    net.Listener
	conns chan net.Conn
}

func newTCPServer(t *testing.T) *tcpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tcpServer{ln: ln, conns: make(chan net.Conn, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(s.conns)
				return
			}
			s.conns <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *tcpServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *tcpServer) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

// readFrames reads frames from c until it has records StatisticSetRecords
// and heartbeats HeartbeatRecords (or more), and returns them.
func readFrames(t *testing.T, c net.Conn, records, heartbeats int) (recs []decoded, beats []string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(recs) < records || len(beats) < heartbeats {
		var head [4]byte
		if _, err := io.ReadFull(c, head[:]); err != nil {
			t.Fatalf("after %d records, %d heartbeats: %v", len(recs), len(beats), err)
		}
		n := binary.BigEndian.Uint32(head[:])
		b := make([]byte, n)
		copy(b, head[:])
		if _, err := io.ReadFull(c, b[4:]); err != nil {
			t.Fatal(err)
		}
		f, _ := readFrame(t, b)
		switch f.typ {
		case TypeStatisticSet:
			recs = append(recs, decodeRecord(t, f.payload))
		case TypeHeartbeat:
			m := unmarshal(t, msgs.Heartbeat, f.payload)
			beats = append(beats, m.Get(msgs.Heartbeat.Fields().ByName("timestamp")).String())
		default:
			t.Fatalf("frame type %x", f.typ)
		}
	}
	return recs, beats
}

func newTCP(t *testing.T, cfg TCPConfig) *TCPSink {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := NewTCP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestTCPRecordsHeartbeatReconnect(t *testing.T) {
	srv := newTCPServer(t)
	s := newTCP(t, TCPConfig{Name: "tcp", ServerAddress: "127.0.0.1", ServerPort: srv.port(),
		HeartbeatInterval: 10 * time.Millisecond, ReconnectBase: time.Millisecond})
	c1 := srv.accept(t) // connected at construction
	s.Record(testData())
	recs, beats := readFrames(t, c1, 3, 1)
	for _, d := range recs {
		checkRecord(t, d)
	}
	if recs[0].metric != "requests" || recs[1].metric != "latency" || recs[2].metric != "temp" {
		t.Errorf("order %s %s %s", recs[0].metric, recs[1].metric, recs[2].metric)
	}
	if ts, err := time.Parse("2006-01-02T15:04:05.999999999Z", beats[0]); err != nil || time.Since(ts) > time.Hour {
		t.Errorf("heartbeat timestamp %q: %v", beats[0], err)
	}

	// The server closes the connection: the sink reconnects. (Whether the
	// first 3 records count as sent depends on whether a heartbeat
	// arrived unread before the close, which makes it a reset:
	// TestTCPCleanCloseConfirms and TestTCPNeverReadingTarget pin both.)
	c1.Close()
	c2 := srv.accept(t)
	s.Record(manyMetrics(4))
	recs, _ = readFrames(t, c2, 4, 0)
	for i, d := range recs {
		if d.metric != "m"+strconv.Itoa(i) {
			t.Errorf("record %d: %s", i, d.metric)
		}
	}
	drainThenClose(c2)
	s.Close() // the counters are final: c2's records are known read
	c := s.Counters()
	if c.Sent < 4 || c.Sent+c.Failed != 7 || c.InFlight != 0 || c.Connects != 2 || c.Heartbeats == 0 ||
		c.Requests < 2+c.Heartbeats {
		t.Errorf("counters %+v", c)
	}
	if w, d, e := s.Stats(); w != c.Sent || d != c.Failed || e != c.Failed {
		t.Errorf("stats %d %d %d", w, d, e)
	}
	if s.Name() != "tcp" {
		t.Errorf("name %q", s.Name())
	}
}

func TestTCPQueueWhileDisconnected(t *testing.T) {
	// Nothing listens yet: records queue, the oldest evicted.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := newTCP(t, TCPConfig{ServerAddress: "127.0.0.1", ServerPort: port, MaxQueueSize: 3,
		ReconnectBase: time.Millisecond, HeartbeatInterval: time.Hour})
	s.Record(manyMetrics(5))
	s.Record(manyMetrics(2, "cluster", "c")) // no service
	if c := s.Counters(); c.Evicted != 2 || c.MissingDimensions != 2 || s.QueueLen() != 3 {
		t.Errorf("counters %+v, queue %d", c, s.QueueLen())
	}
	// The server comes up; the queue is flushed on connection.
	ln, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Skipf("port %d taken: %v", port, err)
	}
	defer ln.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	recs, _ := readFrames(t, conn, 3, 0)
	if recs[0].metric != "m2" || recs[2].metric != "m4" {
		t.Errorf("records %s…%s", recs[0].metric, recs[2].metric)
	}
	drainThenClose(conn)
	s.Close()
	if w, d, _ := s.Stats(); w != 3 || d != 4 {
		t.Errorf("written %d dropped %d", w, d)
	}
}

func TestTCPCloseFlushes(t *testing.T) {
	srv := newTCPServer(t)
	s := newTCP(t, TCPConfig{ServerAddress: "127.0.0.1", ServerPort: srv.port(), HeartbeatInterval: time.Hour})
	c := srv.accept(t)
	s.Record(manyMetrics(100))
	// The target reads everything, sees the end of the stream and closes,
	// as the Cluster Aggregator does: Close waits for that, and the
	// records are known read.
	read := make(chan error, 1)
	go func() {
		n, err := countRecords(c) // to the end of the stream
		if err == nil && n != 100 {
			err = fmt.Errorf("%d records", n)
		}
		c.Close()
		read <- err
	}()
	s.Close()
	if err, c := <-read, s.Counters(); err != nil || c.Sent != 100 || c.InFlight != 0 || c.ClosedDrops != 0 {
		t.Errorf("target: %v; counters %+v", err, c)
	}
}

// countRecords reads frames from c to the end of the stream and counts
// the StatisticSetRecords (it is safe off the test's goroutine).
func countRecords(c net.Conn) (int, error) {
	c.SetReadDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	n := 0
	for {
		var head [5]byte
		if _, err := io.ReadFull(r, head[:]); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
		size := binary.BigEndian.Uint32(head[:4])
		if size < 5 {
			return n, fmt.Errorf("frame of %d bytes", size)
		}
		if _, err := r.Discard(int(size) - 5); err != nil {
			return n, err
		}
		if head[4] == TypeStatisticSet {
			n++
		}
	}
}

// drainThenClose reads c to its end, then closes it: the Cluster
// Aggregator's side of a connection the sink ends.
func drainThenClose(c net.Conn) {
	go func() {
		c.SetReadDeadline(time.Time{})
		io.Copy(io.Discard, c)
		c.Close()
	}()
}

// TestTCPCleanCloseConfirms: a target that reads the records and closes
// its side (a FIN: nothing was left unread) read everything its TCP
// acknowledged: the records count as sent (Linux, through TCP_INFO;
// elsewhere they count as failed: not known read).
func TestTCPCleanCloseConfirms(t *testing.T) {
	srv := newTCPServer(t)
	s := newTCP(t, TCPConfig{ServerAddress: "127.0.0.1", ServerPort: srv.port(), HeartbeatInterval: time.Hour,
		ReconnectBase: time.Millisecond})
	c1 := srv.accept(t)
	s.Record(manyMetrics(3))
	readFrames(t, c1, 3, 0)
	c1.Close()
	srv.accept(t) // reconnected: the first connection is settled
	c := s.Counters()
	want := Counters{Sent: 3, SamplesSent: 30}
	if runtime.GOOS != "linux" {
		want = Counters{Failed: 3, SamplesDropped: 30}
	}
	if c.Sent != want.Sent || c.Failed != want.Failed || c.SamplesSent != want.SamplesSent ||
		c.SamplesDropped != want.SamplesDropped || c.InFlight != 0 || c.Requests != 1 {
		t.Errorf("counters %+v; want %+v", c, want)
	}
	// On /metrics: the write is a request (mad_sink_requests_total's help
	// says "Requests (HTTP) or writes (TCP)").
	for name, want := range map[string]float64{"mad_sink_requests_total": 1, "mad_sink_in_flight": 0, "mad_sink_written_total": float64(want.Sent)} {
		if v := reported(s, name); v != want {
			t.Errorf("%s %v; want %v", name, v, want)
		}
	}
}

// TestTCPNeverReadingTarget: against a target that accepts and never
// reads, what the kernels took is in flight, not sent; when the target
// resets the connection it is counted lost. Nothing is ever counted sent,
// and every record is accounted for.
func TestTCPNeverReadingTarget(t *testing.T) {
	srv := newTCPServer(t)
	s := newTCP(t, TCPConfig{ServerAddress: "127.0.0.1", ServerPort: srv.port(), HeartbeatInterval: time.Hour,
		ReconnectBase: time.Millisecond, MaxQueueSize: 100000, CloseTimeout: 100 * time.Millisecond})
	c1 := srv.accept(t)
	const n = 20000 // about 2 MB: far more than the socket buffers take
	s.Record(manyMetrics(n))
	waitFor(t, "records in flight", func() bool { return s.Counters().InFlight > 0 })
	if c := s.Counters(); c.Sent != 0 {
		t.Fatalf("counters %+v: records counted sent that the target never read", c)
	}
	// The target goes away with what it took unread: a reset.
	c1.(*net.TCPConn).SetLinger(0)
	c1.Close()
	waitFor(t, "records lost", func() bool { return s.Counters().Failed > 0 })
	s.Close()
	c := s.Counters()
	if c.Sent != 0 || c.InFlight != 0 || c.Sent+c.Failed+c.ClosedDrops+c.Evicted != n ||
		c.SamplesDropped != 10*n || c.Requests == 0 {
		t.Errorf("counters %+v; want none sent, all %d lost", c, n)
	}
}

// TestTCPSentAfterLaterBytes: records count as sent while the connection
// runs once it has taken more bytes after them than the two socket
// buffers hold, and the rest at Close, once the target has read through
// the end.
func TestTCPSentAfterLaterBytes(t *testing.T) {
	srv := newTCPServer(t)
	s := newTCP(t, TCPConfig{ServerAddress: "127.0.0.1", ServerPort: srv.port(), HeartbeatInterval: time.Hour,
		MaxQueueSize: 100000, SendBuffer: 4096, PeerBuffer: 1})
	c := srv.accept(t)
	const n = 5000 // about 500 KB: far more than 2·8 KiB + 1
	s.Record(manyMetrics(n))
	read := make(chan error, 1)
	go func() {
		got, err := countRecords(c) // to the end of the stream
		if err == nil && got != n {
			err = fmt.Errorf("%d records", got)
		}
		c.Close()
		read <- err
	}()
	waitFor(t, "records sent", func() bool { return s.Counters().Sent > 0 })
	s.Close()
	if err, c := <-read, s.Counters(); err != nil || c.Sent != n || c.SamplesSent != 10*n || c.InFlight != 0 {
		t.Errorf("target: %v; counters %+v; want %d sent", err, c, n)
	}
}

// waitFor waits until ok holds, failing the test after a minute.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestTCPCloseTimeoutWhenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := newTCP(t, TCPConfig{ServerAddress: "127.0.0.1", ServerPort: port, ReconnectBase: time.Millisecond,
		CloseTimeout: 30 * time.Millisecond})
	s.Record(manyMetrics(3))
	s.Close()
	if c := s.Counters(); c.ClosedDrops != 3 || s.QueueLen() != 0 {
		t.Errorf("counters %+v", c)
	}
	if _, d, _ := s.Stats(); d != 3 {
		t.Errorf("dropped %d", d)
	}
}

func TestTCPConfig(t *testing.T) {
	if _, err := NewTCP(TCPConfig{}); err == nil {
		t.Error("no address accepted")
	}
	if _, err := NewTCP(TCPConfig{ServerAddress: "x", ServerPort: 70000}); err == nil {
		t.Error("bad port accepted")
	}
	for attempt := range 30 {
		d := reconnectDelay(attempt, 500*time.Millisecond)
		hi := time.Duration(int64(pow13(min(attempt, 20)))+1) * 500 * time.Millisecond
		if d < 500*time.Millisecond || d > hi || d%(500*time.Millisecond) != 0 {
			t.Errorf("attempt %d: delay %v (max %v)", attempt, d, hi)
		}
	}
}

func pow13(n int) float64 {
	f := 1.0
	for range n {
		f *= 1.3
	}
	return f
}

// The engine's /metrics interfaces (engine.SinkStats, engine.SinkQueue),
// restated to keep this package free of an engine import.
type sinkStats interface {
	Name() string
	Stats() (written, dropped, errors uint64)
	QueueLen() int
}

var (
	_ sinkStats = (*HTTPSink)(nil)
	_ sinkStats = (*TCPSink)(nil)
)

func TestTCPDefaults(t *testing.T) {
	s := newTCP(t, TCPConfig{ServerAddress: "127.0.0.1", CloseTimeout: time.Millisecond})
	c := s.cfg
	if c.ServerPort != 7065 || c.MaxQueueSize != 10000 || c.HeartbeatInterval != 15*time.Second ||
		c.ConnectTimeout != 5*time.Second || c.ReconnectBase != 500*time.Millisecond {
		t.Errorf("defaults %+v", c)
	}
}

// TestTCPResetDuringWriteNotSent: a target takes records into its kernel
// without reading them, then resets the connection while the sink is in a
// write. Linux reports a reset once: the write takes ECONNRESET and the
// connection's reader then sees a plain end of stream, as if the target
// had closed cleanly. The records its TCP acknowledged were never read:
// none may count as sent.
func TestTCPResetDuringWriteNotSent(t *testing.T) {
	for round := range 5 {
		srv := newTCPServer(t)
		s := newTCP(t, TCPConfig{ServerAddress: "127.0.0.1", ServerPort: srv.port(), HeartbeatInterval: time.Hour,
			ReconnectBase: time.Millisecond, MaxQueueSize: 100000, CloseTimeout: 100 * time.Millisecond})
		c1 := srv.accept(t)
		srv.ln.Close() // no second connection
		// Small writes the target's kernel takes whole, acknowledged, unread.
		const small, batches = 10, 10
		for i := range batches {
			s.Record(manyMetrics(small))
			waitFor(t, "a small write", func() bool { return s.Counters().Requests == uint64(i+1) })
		}
		// Then more than the buffers take: the sink is in its write.
		const big = 20000
		s.Record(manyMetrics(big))
		waitFor(t, "a big write", func() bool { return s.Counters().InFlight > small*batches })
		// The target goes away with what it took unread: a reset.
		c1.(*net.TCPConn).SetLinger(0)
		c1.Close()
		waitFor(t, "records lost", func() bool { c := s.Counters(); return c.Failed > 0 && c.InFlight == 0 })
		s.Close()
		const n = small*batches + big
		if c := s.Counters(); c.Sent != 0 || c.InFlight != 0 || c.Sent+c.Failed+c.ClosedDrops+c.Evicted != n {
			t.Fatalf("round %d: counters %+v; want none sent (the target read nothing), all %d lost", round, c, n)
		}
	}
}
