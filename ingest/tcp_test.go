package ingest

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomad/mad/ingest/graphite"
	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/testseed"
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

// lineTotal sums a TCP source's lines over every result.
func lineTotal(st TCPStats) uint64 {
	n := uint64(0)
	for _, c := range st.Lines {
		n += c
	}
	return n
}

// TestTCPLongLineTail: the tail of an over-long line is discarded through
// its newline, whatever the format and however the stream is cut, and the
// line is counted once. 100 KiB of 'x' without a newline, then a line that
// would parse on its own, then a valid line, on one connection: sent
// together; sent after the source counted the long line (it has discarded
// what it buffered, and must still skip what follows up to the newline);
// and with the connection closed after the tail, without its newline.
func TestTCPLongLineTail(t *testing.T) {
	for _, f := range []struct {
		name          string
		format        LineFormat
		tail, valid   string
		tailKey, want string
	}{
		{"statsd", FormatStatsD, "injected.tail:1|c\n", "valid.line:1|c\n", "injected", "valid.line"},
		{"graphite", FormatGraphite, "injected.tail 1 1700000000\n", "valid.line 1 1700000000\n", "injected", "valid.line"},
		{"telegraf", FormatTelegraf, `{"name":"injected","timestamp":1,"fields":{"f":1}}` + "\n",
			`{"name":"valid.line","timestamp":1,"fields":{"f":1}}` + "\n", "injected", "valid.line"},
	} {
		for _, mode := range []string{"together", "after-count", "close"} {
			t.Run(f.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				lanes := []Lanes{NewLanes(2, 1024)}
				src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", Format: f.format, Log: quiet}, lanes)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Stop()
				conn, err := net.Dial("tcp", src.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				long := strings.Repeat("x", 100<<10)
				sent := uint64(len(long) + len(f.tail) + len(f.valid))
				switch mode {
				case "together":
					write(t, conn, long+f.tail+f.valid)
				case "after-count":
					write(t, conn, long)
					waitFor(t, "the long line counted", func() bool { return src.Stats().LongLines > 0 })
					write(t, conn, f.tail+f.valid)
				case "close":
					sent = uint64(len(long) + len(f.tail) - 1)
					write(t, conn, long+f.tail[:len(f.tail)-1])
					conn.Close()
				}
				// Stop closes connections with what they have not read.
				waitFor(t, "every byte read", func() bool { return src.Stats().Bytes == sent })
				if err := src.Stop(); err != nil {
					t.Fatal(err)
				}
				keys := map[string]int{}
				drainLanes(lanes, keys)
				st := src.Stats()
				if hasKey(keys, f.tailKey) {
					t.Fatalf("the long line's tail was decoded: keys %v", keys)
				}
				wantLines := uint64(1)
				if mode == "close" {
					wantLines = 0
				}
				if st.LongLines != 1 || lineTotal(st) != wantLines || st.Lines[statsd.OK] != wantLines {
					t.Fatalf("long lines %d, lines %v; want 1 long line and %d line(s), ok", st.LongLines, st.Lines, wantLines)
				}
				if mode != "close" && !hasKey(keys, f.want) {
					t.Fatalf("the valid line was not decoded: keys %v", keys)
				}
			})
		}
	}
}

func write(t *testing.T, conn net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(conn, s); err != nil {
		t.Fatal(err)
	}
}

func hasKey(keys map[string]int, sub string) bool {
	for k := range keys {
		if strings.Contains(k, sub) {
			return true
		}
	}
	return false
}

// TestTCPHugeLine: one 100 MiB line, streamed, is one long line, and the
// source never holds more than its line limit of it: the heap in use while
// the line streams stays within a few line limits of where it started.
func TestTCPHugeLine(t *testing.T) {
	const size, chunk = 100 << 20, 1 << 20
	lanes := []Lanes{NewLanes(2, 1024)}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", Log: log}, lanes)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	conn, err := net.Dial("tcp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	x := bytes.Repeat([]byte("x"), chunk)
	for sent := 0; sent < size; sent += chunk {
		if _, err := conn.Write(x); err != nil {
			t.Fatal(err)
		}
		if sent%(8*chunk) == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	write(t, conn, "injected:1|c\nvalid.line:1|c\n")
	keys := map[string]int{}
	waitFor(t, "the valid line", func() bool {
		drainLanes(lanes, keys)
		return hasKey(keys, "valid.line")
	})
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	st := src.Stats()
	if st.LongLines != 1 || lineTotal(st) != 1 || hasKey(keys, "injected") || st.Bytes != size+uint64(len("injected:1|c\nvalid.line:1|c\n")) {
		t.Fatalf("long lines %d, lines %v, bytes %d, keys %v; want 1 long line, the valid line, every byte", st.LongLines, st.Lines, st.Bytes, keys)
	}
	if n := strings.Count(logs.String(), "line over the limit discarded"); n != 1 {
		t.Fatalf("%d log lines about the long line; want 1:\n%s", n, logs.String())
	}
	// The sender's own chunk, the read buffer and at most a line limit
	// buffered on the connection, with room for the runtime's noise.
	if grew := peak - base; grew > 16<<20 {
		t.Fatalf("heap in use grew by %d MiB while a 100 MiB line streamed", grew>>20)
	}
}

// TestTCPFraming holds the framing to its rule over random streams cut at
// random places: every line of at most MaxLine bytes before its newline is
// decoded once, every longer one is discarded whole and counted once, and a
// last line without its newline is decoded (or counted) when its sender
// ends the stream, and counted as cut when the connection is closed
// otherwise (the source stopping, a reset). It drives consume through chunkConn, which buffers what consume
// leaves as gnet does.
func TestTCPFraming(t *testing.T) {
	const maxLine = 40
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 0))
	lanes := []Lanes{NewLanes(2, 1024)}
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", MaxLine: maxLine, Log: quiet}, lanes)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	var wantShort, wantLong, wantCut uint64
	for round := range 300 {
		var stream []byte
		end := []tcpEnd{tcpEnded, tcpCut}[rng.IntN(2)]
		want := map[string]bool{}
		nLines := 1 + rng.IntN(30)
		for i := range nLines {
			// A line of 8 to 3×maxLine bytes: "s<round>_<i>:1|c" padded in
			// its name with '_' to its length.
			id := fmt.Sprintf("s%d_%d", round, i)
			n := max(len(id)+4, 8+rng.IntN(3*maxLine))
			line := id + strings.Repeat("_", n-len(id)-4) + ":1|c"
			if rng.IntN(4) == 0 {
				line += "\r" // counts toward the limit
			}
			stream = append(stream, line...)
			last := i == nLines-1 && rng.IntN(2) == 0
			if !last {
				stream = append(stream, '\n')
			}
			switch {
			case last && end == tcpCut && len(line) <= maxLine:
				wantCut++
			case len(line) <= maxLine:
				wantShort++
				want[id+strings.Repeat("_", n-len(id)-4)] = true
			default:
				wantLong++
			}
		}
		c := &chunkConn{}
		for rest := stream; len(rest) > 0; {
			k := 1 + rng.IntN(min(len(rest), 2*maxLine+5))
			c.feed(rest[:k])
			rest = rest[k:]
			src.consume(c, tcpOpen)
		}
		src.consume(c, end)
		got := map[string]int{}
		drainLanes(lanes, got)
		for k, n := range got {
			pk, err := sample.ParseKey([]byte(k))
			if err != nil || !want[string(pk.Name)] || n != 1 {
				t.Fatalf("round %d: decoded %q %d times; stream %q", round, k, n, stream)
			}
			delete(want, string(pk.Name))
		}
		if len(want) != 0 {
			t.Fatalf("round %d: lines not decoded: %v; stream %q", round, want, stream)
		}
	}
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := src.Stats(); st.LongLines != wantLong || st.Lines[statsd.OK] != wantShort || lineTotal(st) != wantShort || st.CutLines != wantCut || wantCut == 0 {
		t.Fatalf("long lines %d, lines %v, cut lines %d; want %d long, %d ok, %d cut", st.LongLines, st.Lines, st.CutLines, wantLong, wantShort, wantCut)
	}
}

// TestTCPGraphiteHandles: a Graphite TCP source whose shards give handles
// sends the series it has seen by them, as a StatsD one does: the test
// answers asks as a shard would, and connections that send the same series
// again soon send them all by handle, counted as such. (A producer takes
// the answers in when it takes the batches back, which may be after the
// next read event.)
func TestTCPGraphiteHandles(t *testing.T) {
	lanes := NewLanes(2, 64)
	var epochs [2]atomic.Uint32
	for i := range epochs {
		epochs[i].Store(1)
		lanes.Epochs = append(lanes.Epochs, &epochs[i])
	}
	src, err := ListenTCP(TCPConfig{Name: "graphite", Addr: "127.0.0.1:0", Format: FormatGraphite, Log: quiet,
		Graphite: graphite.Config{ParseCarbonTags: true}}, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	const n = 50
	keys := map[uint64]string{} // by handle
	seen := map[string]int{}    // samples by series key
	asks, byHandle := 0, 0
	// shard answers every ask with a handle and reads handles back.
	shard := func() int {
		got := 0
		for i, r := range lanes.To {
			for b, ok := r.Pop(); ok; b, ok = r.Pop() {
				for j := range b.Samples {
					s := &b.Samples[j]
					var key string
					switch {
					case s.Flags&sample.FlagHandle != 0:
						if key = keys[s.Hash]; key == "" || b.Epoch != 1 {
							t.Errorf("handle %x in a batch of epoch %d: never given", s.Hash, b.Epoch)
						}
						byHandle++
					case s.Flags&sample.FlagAsk != 0:
						key = string(b.Key(s))
						h := 1<<63 | uint64(len(keys)+1)
						keys[h] = key
						b.Asks[s.Agg].Handle, b.Asks[s.Agg].Epoch = h, 1
						asks++
					default:
						t.Errorf("a sample of flags %x", s.Flags)
					}
					seen[key]++
				}
				got += b.Len()
				b.Applied()
				lanes.Back[i].Push(b)
			}
		}
		return got
	}
	send := func() int {
		before := byHandle
		conn, err := net.Dial("tcp", src.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		var lines []byte
		for i := range n {
			lines = fmt.Appendf(lines, "app.m%d;host=h%d %d 1700000000\n", i, i%3, i)
		}
		if _, err := conn.Write(lines); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		got := 0
		for deadline := time.Now().Add(10 * time.Second); got < n && time.Now().Before(deadline); {
			got += shard()
			time.Sleep(time.Millisecond)
		}
		if got != n {
			t.Fatalf("got %d samples of %d", got, n)
		}
		return byHandle - before
	}
	rounds := 1
	for send(); send() != n && rounds < 5; {
		rounds++
	}
	rounds++
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	st := src.Stats()
	if asks < n || asks > (rounds-1)*n || len(seen) != n || st.Samples != uint64(rounds*n) || st.Handles != uint64(byHandle) {
		t.Fatalf("%d rounds: %d asks, %d samples by handle, %d series; stats %+v", rounds, asks, byHandle, len(seen), st)
	}
	for key, c := range seen {
		if c != rounds {
			t.Fatalf("series %q: %d samples; want %d", key, c, rounds)
		}
	}
	t.Logf("%d rounds: %d asks, %d samples by handle", rounds, asks, byHandle)
}

// TestTCPStopCutsLastLine: a line whose newline has not come when the
// source stops (or is replaced at a reload) is cut: dropped and counted,
// not decoded as a sample of a series never sent ("cut:7|c" of
// "cut:7|c|#host:ab"); a sender that ends its stream ends its last line.
func TestTCPStopCutsLastLine(t *testing.T) {
	for _, stop := range []bool{true, false} {
		lanes := []Lanes{NewLanes(2, 1024)}
		src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", Log: quiet}, lanes)
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", src.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("whole:1|c\ncut:7|c|#host:ab")); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); lineTotal(src.Stats()) == 0 || src.Stats().Bytes == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the whole line was never decoded")
			}
		}
		if !stop {
			c.Close() // the sender ends its stream: its last line is whole
			for deadline := time.Now().Add(10 * time.Second); lineTotal(src.Stats()) < 2; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the sender's last line was never decoded: %+v", src.Stats())
				}
			}
		}
		if err := src.Stop(); err != nil {
			t.Fatal(err)
		}
		c.Close()
		keys := map[string]int{}
		drainLanes(lanes, keys)
		st := src.Stats()
		cut := "\x01\x03cut\x01\x04host\x02ab"
		if stop && (len(keys) != 1 || st.CutLines != 1 || lineTotal(st) != 1) {
			t.Fatalf("stopped mid-line: keys %v, cut lines %d, lines %v; want the whole line only, one cut", keys, st.CutLines, st.Lines)
		}
		if !stop && (len(keys) != 2 || keys[cut] != 1 || st.CutLines != 0) {
			t.Fatalf("sender ended: keys %v, cut lines %d; want both lines, none cut", keys, st.CutLines)
		}
	}
}
