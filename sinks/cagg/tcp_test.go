package cagg

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
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

	// The server closes the connection: the sink reconnects.
	c1.Close()
	c2 := srv.accept(t)
	s.Record(manyMetrics(4))
	recs, _ = readFrames(t, c2, 4, 0)
	for i, d := range recs {
		if d.metric != "m"+strconv.Itoa(i) {
			t.Errorf("record %d: %s", i, d.metric)
		}
	}
	s.Close() // the counters are final
	c := s.Counters()
	if c.Sent != 7 || c.Connects != 2 || c.Heartbeats == 0 {
		t.Errorf("counters %+v", c)
	}
	if w, d, e := s.Stats(); w != 7 || d != 0 || e != 0 {
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
	s.Close()
	recs, _ := readFrames(t, c, 100, 0)
	if len(recs) != 100 || s.Counters().Sent != 100 {
		t.Errorf("%d records, counters %+v", len(recs), s.Counters())
	}
	// Then the connection ends.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("read after close: %d %v", n, err)
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
