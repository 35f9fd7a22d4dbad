package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/sample"
)

// relaySeries reads the series of a line relayLine made: its name and its
// tags, sorted (an independent reading, not the relay's).
func relaySeries(line string) string {
	head, rest, _ := strings.Cut(line, ":")
	parts := strings.Split(head, ",")
	tags := slices.Clone(parts[1:])
	if _, t, ok := strings.Cut(rest, "|#"); ok {
		for _, kv := range strings.Split(t, ",") {
			tags = append(tags, strings.Replace(kv, ":", "=", 1))
		}
	}
	slices.Sort(tags)
	return parts[0] + "|" + strings.Join(tags, "|")
}

// relayLine is a line of series s, its tags in random order and style.
func relayLine(r *rand.Rand, s int) string {
	tags := []string{fmt.Sprintf("host=h%d", s%7), fmt.Sprintf("svc=s%d", s%5)}
	r.Shuffle(len(tags), func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
	line := fmt.Sprintf("relay.metric_%d", s)
	cut := r.IntN(3)
	for _, t := range tags[:cut] {
		line += "," + t
	}
	line += fmt.Sprintf(":%d|%s", r.IntN(9), []string{"c", "g", "ms"}[r.IntN(3)])
	if cut < len(tags) {
		line += "|#" + strings.ReplaceAll(strings.Join(tags[cut:], ","), "=", ":")
	}
	return line
}

// listeners opens n UDP sockets on loopback.
func listeners(t *testing.T, n int) ([]*net.UDPConn, []RelayDestination) {
	t.Helper()
	var cs []*net.UDPConn
	var ds []RelayDestination
	for range n {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetReadBuffer(8 << 20); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs = append(cs, c)
		ds = append(ds, RelayDestination{Addr: c.LocalAddr().String()})
	}
	return cs, ds
}

// receive reads the datagrams each listener got until want lines arrived
// in all (or a second passes with nothing), checking each datagram's size.
func receive(t *testing.T, cs []*net.UDPConn, want, max int) [][]string {
	t.Helper()
	got := make([][]string, len(cs))
	total := 0
	buf := make([]byte, 1<<16)
	idle := 0
	for total < want {
		progress := false
		for i, c := range cs {
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			for {
				n, err := c.Read(buf)
				if err != nil {
					break
				}
				progress = true
				if n > max || n == 0 || buf[n-1] != '\n' {
					t.Fatalf("a datagram of %d bytes (max %d) ending %q", n, max, buf[max0(n-1):n])
				}
				for _, l := range datagramLines(buf[:n]) {
					got[i] = append(got[i], l)
					total++
				}
			}
		}
		if idle++; progress {
			idle = 0
		}
		if idle > 250 { // five seconds with nothing: what is missing is lost
			t.Fatalf("%d lines received of %d", total, want)
		}
	}
	return got
}

func max0(n int) int { return max(n, 0) }

// datagramLines returns the lines of a datagram, as an aggregator reads
// them: the empty lines that pad a segmented datagram (relay_linux.go)
// left out.
func datagramLines(b []byte) []string {
	return slices.DeleteFunc(strings.Split(string(b), "\n"), func(l string) bool { return l == "" })
}

// relayAll forwards lines through r in datagrams of up to 20 lines, sealing
// and sending at the end.
func relayAll(r *Relay, lines []string) {
	for i := 0; i < len(lines); i += 20 {
		r.Forward([]byte(strings.Join(lines[i:min(i+20, len(lines))], "\n") + "\n"))
		r.Send()
	}
	r.Seal()
	r.Send()
}

// TestRelayConsistent: three destinations on loopback; every line arrives
// byte for byte at exactly one, every series always at the same one
// whatever its tag order, style and type, datagrams stay within
// MaxDatagram, and the series spread evenly.
func TestRelayConsistent(t *testing.T) {
	cs, ds := listeners(t, 3)
	const max = 512
	r, err := NewRelay(RelayConfig{Destinations: ds, MaxDatagram: max}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rnd := rand.New(rand.NewPCG(7, 8))
	var lines []string
	for range 6000 {
		lines = append(lines, relayLine(rnd, rnd.IntN(3000)))
	}
	relayAll(r, lines)
	got := receive(t, cs, len(lines), max)
	where := map[string]int{}
	perDest := make([]int, len(cs))
	var all []string
	for i, ls := range got {
		for _, l := range ls {
			s := relaySeries(l)
			if o, ok := where[s]; ok && o != i {
				t.Fatalf("series %s at destinations %d and %d", s, o, i)
			}
			if _, ok := where[s]; !ok {
				perDest[i]++
			}
			where[s] = i
			all = append(all, l)
		}
	}
	slices.Sort(all)
	sorted := slices.Clone(lines)
	slices.Sort(sorted)
	if !slices.Equal(all, sorted) {
		t.Fatalf("%d lines received, not the %d sent", len(all), len(lines))
	}
	for i, n := range perDest {
		if n < len(where)/3*8/10 || n > len(where)/3*12/10 {
			t.Errorf("destination %d has %d of %d series: %v", i, n, len(where), perDest)
		}
	}
	st := r.Stats()
	var sent, dgs, bytes uint64
	for _, d := range st.Dests {
		sent, dgs, bytes = sent+d.Lines, dgs+d.Datagrams, bytes+d.Bytes
		if d.Dropped != [numRelayDrops]uint64{} {
			t.Errorf("dropped %v", d.Dropped)
		}
	}
	if sent != uint64(len(lines)) {
		t.Errorf("stats: %d lines sent of %d", sent, len(lines))
	}
	// Packed: fewer than one datagram per (max - longest line) bytes.
	if dgs > bytes/(max-64)+uint64(len(cs)) {
		t.Errorf("%d datagrams for %d bytes at %d a datagram", dgs, bytes, max)
	}
	t.Logf("%d lines in %d datagrams (%.1f per 1000 lines), %d series: %v", sent, dgs, float64(dgs)*1000/float64(sent), len(where), perDest)
}

// TestRelayFailover: a destination going down moves only its series, each
// to one other; coming back, they return.
func TestRelayFailover(t *testing.T) {
	_, ds := listeners(t, 4)
	up := []*atomic.Bool{new(atomic.Bool), new(atomic.Bool), new(atomic.Bool), new(atomic.Bool)}
	for _, u := range up {
		u.Store(true)
	}
	r, err := NewRelay(RelayConfig{Destinations: ds}, up)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d := statsd.NewDecoder(statsd.Config{})
	assign := func() map[uint64]int {
		m := map[uint64]int{}
		r.readHealth() // as Forward does, a datagram at a time
		for s := range 4000 {
			d.RelayKeys([]byte(fmt.Sprintf("m%d,host=h%d:1|c\n", s, s%3)), func(_ []byte, _ statsd.Result, h uint64) { m[h] = r.pick(h) })
		}
		return m
	}
	before := assign()
	up[2].Store(false)
	during := assign()
	moved := 0
	for h, i := range before {
		switch j := during[h]; {
		case i == 2 && j == 2:
			t.Fatal("a series stayed on the destination that is down")
		case i == 2:
			moved++
		case j != i:
			t.Fatalf("a series of destination %d moved to %d when destination 2 went down", i, j)
		}
	}
	if moved < 4000/4*7/10 {
		t.Fatalf("only %d series moved off destination 2", moved)
	}
	up[2].Store(true)
	if after := assign(); !mapsEqual(after, before) {
		t.Fatal("series did not return to destination 2")
	}
	// Reordering the destinations moves nothing.
	rev := slices.Clone(ds)
	slices.Reverse(rev)
	r2, err := NewRelay(RelayConfig{Destinations: rev}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for h, i := range before {
		if r2.dests[r2.pick(h)].addr != r.dests[i].addr {
			t.Fatal("reordering the destinations moved a series")
		}
	}
	// None up: counted.
	for _, u := range up {
		u.Store(false)
	}
	r.Forward([]byte("x:1|c\ny:2|c\n"))
	if st := r.Stats(); st.NoDestination != 2 {
		t.Fatalf("no destination up: %d lines counted; want 2", st.NoDestination)
	}
}

func mapsEqual(a, b map[uint64]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// blockedSender is a socket whose buffer stays full.
type blockedSender struct{ calls int }

func (s *blockedSender) send([]relayDatagram) (int, error) { s.calls++; return 0, errRelayWouldBlock }
func (s *blockedSender) close() error                      { return nil }

// TestRelayQueueBound: datagrams a destination cannot take wait up to the
// queue's bound; beyond it their lines are dropped and counted; refused
// lines and over-long lines are counted too.
func TestRelayQueueBound(t *testing.T) {
	_, ds := listeners(t, 1)
	r, err := NewRelay(RelayConfig{Destinations: ds, MaxDatagram: 100, QueueDatagrams: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.dests[0].send.close()
	bs := &blockedSender{}
	r.dests[0].send = bs
	line := strings.Repeat("q", 40) + ":1|c" // 44 bytes + '\n': two a datagram
	for range 10 {
		r.Forward([]byte(line + "\n"))
		r.Send()
	}
	r.Seal()
	r.Send()
	st := r.Stats().Dests[0]
	if st.Lines != 0 || st.Dropped[RelayDropQueueFull] != 10-3*2 || bs.calls == 0 {
		t.Fatalf("stats %+v, %d sends; want 6 of 10 lines waiting, 4 dropped as queue_full", st, bs.calls)
	}
	if !r.Pending() {
		t.Fatal("nothing pending")
	}
	r.Forward([]byte("bad line\n" + strings.Repeat("x", maxUDPPayload) + ":1|c\n"))
	st2 := r.Stats()
	if st2.Refused[statsd.ErrSyntax] != 1 || st2.Dests[0].Dropped[RelayDropTooLong] != 1 {
		t.Fatalf("refused %v, dropped %v", st2.Refused, st2.Dests[0].Dropped)
	}
	// Stopping while the destination still refuses: what waits is counted.
	r.Finish(time.Now().Add(5 * time.Millisecond))
	if st := r.Stats().Dests[0]; st.Dropped[RelayDropStopped] != 6 || r.Pending() {
		t.Fatalf("after Finish: dropped %v, pending %v; want the 6 waiting lines counted as stopped", st.Dropped, r.Pending())
	}
}

// TestRelayNoAllocs: forwarding and sending allocate nothing once the
// buffers exist.
func TestRelayNoAllocs(t *testing.T) {
	cs, ds := listeners(t, 2)
	r, err := NewRelay(RelayConfig{Destinations: ds}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rnd := rand.New(rand.NewPCG(1, 1))
	var b bytes.Buffer
	for range 30 {
		b.WriteString(relayLine(rnd, rnd.IntN(100)) + "\n")
	}
	data := b.Bytes()
	drain := func() {
		buf := make([]byte, 1<<16)
		for _, c := range cs {
			c.SetReadDeadline(time.Now().Add(time.Millisecond))
			for {
				if _, err := c.Read(buf); err != nil {
					break
				}
			}
		}
	}
	for range 50 {
		r.Forward(data)
		r.Send()
	}
	drain()
	if a := testing.AllocsPerRun(200, func() { r.Forward(data); r.Seal(); r.Send() }); a != 0 {
		t.Fatalf("%v allocations a datagram", a)
	}
	drain()
}

// TestUDPRelaySource: a StatsD source with a relay forwards what it
// receives over UDP to its destinations (each series to one), aggregates
// nothing, sends a partly packed datagram once the flush interval has
// passed without more traffic, and reports what it sent and refused.
func TestUDPRelaySource(t *testing.T) {
	cs, ds := listeners(t, 3)
	src, lanes, conn := startRelay(t, &RelayConfig{Destinations: ds, FlushInterval: 5 * time.Millisecond})
	rnd := rand.New(rand.NewPCG(9, 9))
	var lines []string
	for range 40 { // datagrams of 1 to 20 lines
		var dg []string
		for range 1 + rnd.IntN(20) {
			dg = append(dg, relayLine(rnd, rnd.IntN(200)))
		}
		lines = append(lines, dg...)
		if _, err := conn.Write([]byte(strings.Join(dg, "\n") + "\nnot a line\n")); err != nil {
			t.Fatal(err)
		}
	}
	got := receive(t, cs, len(lines), 1432) // the last datagrams only once the interval passed
	where := map[string]int{}
	n := 0
	for i, ls := range got {
		for _, l := range ls {
			if o, ok := where[relaySeries(l)]; ok && o != i {
				t.Fatalf("series %s at destinations %d and %d", relaySeries(l), o, i)
			}
			where[relaySeries(l)] = i
			n++
		}
	}
	if n != len(lines) {
		t.Fatalf("%d lines forwarded; want %d", n, len(lines))
	}
	if _, ok := lanes.To[0].Pop(); ok {
		t.Fatal("a relaying source published samples")
	}
	src.Stop()
	var sent float64
	for _, d := range ds {
		sent += reported(t, src, "mad_relay_lines_total", "destination", d.Addr)
	}
	if sent != float64(len(lines)) {
		t.Fatalf("mad_relay_lines_total sums to %v; want %d", sent, len(lines))
	}
	if r := reported(t, src, "mad_relay_refused_lines_total", "result", "syntax"); r != 40 {
		t.Fatalf(`mad_relay_refused_lines_total{result="syntax"} %v; want 40`, r)
	}
}

// TestUDPRelayFailover: destinations probed over TCP; one whose probe
// stops answering is marked down and only its series move (each to one
// other destination, counted as rerouted), the others untouched; when it
// answers again its series come back.
func TestUDPRelayFailover(t *testing.T) {
	cs, ds := listeners(t, 3)
	probes := make([]net.Listener, 3)
	for i := range ds {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		probes[i] = l
		ds[i].Probe = "tcp://" + l.Addr().String()
	}
	defer func() {
		for _, l := range probes {
			l.Close()
		}
	}()
	src, _, conn := startRelay(t, &RelayConfig{Destinations: ds, FlushInterval: time.Millisecond, ProbeInterval: 5 * time.Millisecond})
	// round sends one line of each of 300 series and returns where each
	// series went.
	round := func() map[string]int {
		t.Helper()
		var lines []string
		for s := range 300 {
			lines = append(lines, fmt.Sprintf("fo.m%d,r=x:1|c", s))
		}
		for i := 0; i < len(lines); i += 30 {
			if _, err := conn.Write([]byte(strings.Join(lines[i:i+30], "\n") + "\n")); err != nil {
				t.Fatal(err)
			}
		}
		where := map[string]int{}
		for i, ls := range receive(t, cs, len(lines), 1432) {
			for _, l := range ls {
				name, _, _ := strings.Cut(l, ",")
				where[name] = i
			}
		}
		return where
	}
	before := round()
	probes[1].Close()
	waitFor(t, "destination 1 marked down", func() bool { return !src.relayUp[1].Load() })
	during := round()
	for s, i := range before {
		switch j := during[s]; {
		case i == 1 && j == 1:
			t.Fatalf("%s still sent to the destination that is down", s)
		case i != 1 && j != i:
			t.Fatalf("%s moved from %d to %d though its destination is up", s, i, j)
		}
	}
	moved := 0
	for _, i := range before {
		if i == 1 {
			moved++
		}
	}
	src.Stop() // publishes the counters
	if r := reported(t, src, "mad_relay_rerouted_lines_total", "destination", ds[1].Addr); r != float64(moved) || moved == 0 {
		t.Fatalf("rerouted %v lines; want %d", r, moved)
	}
	if up := reported(t, src, "mad_relay_destination_up", "destination", ds[1].Addr); up != 0 {
		t.Fatalf("mad_relay_destination_up %v for the destination that is down", up)
	}
}

// TestUDPRelayProbeReturns: a destination marked down is up again once its
// probe answers, and its series return to it.
func TestUDPRelayProbeReturns(t *testing.T) {
	_, ds := listeners(t, 2)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // not answering yet
	ds[0].Probe = "tcp://" + addr
	src, _, _ := startRelay(t, &RelayConfig{Destinations: ds, ProbeInterval: 5 * time.Millisecond})
	waitFor(t, "destination 0 marked down", func() bool { return !src.relayUp[0].Load() })
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the probe's port was taken meanwhile: %v", err)
	}
	defer l.Close()
	waitFor(t, "destination 0 up again", func() bool { return src.relayUp[0].Load() })
}

// TestRelayMalformedTo: with MalformedTo, lines an aggregator would refuse
// or skip go, as they are, to that destination; they are still counted.
func TestRelayMalformedTo(t *testing.T) {
	cs, ds := listeners(t, 2)
	r, err := NewRelay(RelayConfig{Destinations: ds, MalformedTo: ds[1].Addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Forward([]byte("bad line\n_e{1,1}:a|b\n"))
	r.Seal()
	r.Send()
	got := receive(t, cs, 2, 1432)
	if len(got[0]) != 0 || !slices.Equal(got[1], []string{"bad line", "_e{1,1}:a|b"}) {
		t.Fatalf("got %q", got)
	}
	if st := r.Stats(); st.Refused[statsd.ErrSyntax] != 1 || st.Refused[statsd.SkipEvent] != 1 {
		t.Fatalf("refused %v", st.Refused)
	}
	if _, err := NewRelay(RelayConfig{Destinations: ds, MalformedTo: "127.0.0.1:1"}, nil); err == nil {
		t.Fatal("MalformedTo outside the destinations accepted")
	}
}

// tcpSink accepts connections on loopback and collects the lines they
// carry.
type tcpSink struct {
	l     net.Listener
	mu    sync.Mutex
	lines []string
	conns []net.Conn
}

func newTCPSink(t *testing.T, addr string) *tcpSink {
	t.Helper()
	s, err := listenTCPSink(addr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// listenTCPSink is newTCPSink's listener, with its error: a test listening
// again on a port it closed skips if the port was taken meanwhile.
func listenTCPSink(addr string) (*tcpSink, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &tcpSink{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go func() {
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					s.mu.Lock()
					s.lines = append(s.lines, sc.Text())
					s.mu.Unlock()
				}
			}()
		}
	}()
	return s, nil
}

func (s *tcpSink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.lines
	s.lines = nil
	return out
}

func (s *tcpSink) close() {
	s.l.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// TestUDPRelayTCPDestination: a TCP destination beside a UDP one: its
// series' lines arrive on its connection; when the connection breaks it is
// down and its series go to the UDP destination; when it listens again the
// relay reconnects and its series come back. Every line sent is counted
// once: sent to a destination, or dropped for a reason.
func TestUDPRelayTCPDestination(t *testing.T) {
	cs, ds := listeners(t, 1)
	sink := newTCPSink(t, "127.0.0.1:0")
	addr := sink.l.Addr().String()
	defer func() { sink.close() }()
	ds = append(ds, RelayDestination{Addr: addr, TCP: true})
	src, _, conn := startRelay(t, &RelayConfig{Destinations: ds, FlushInterval: time.Millisecond, ProbeTimeout: 100 * time.Millisecond})
	if !src.RelayUp(1) {
		t.Fatal("the TCP destination is not up from the start")
	}
	sent := 0
	// send sends one line of each of 200 series, with value v.
	send := func(v int) {
		for i := 0; i < 200; i += 20 {
			var dg []string
			for s := i; s < i+20; s++ {
				dg = append(dg, fmt.Sprintf("tcp.m%d:%d|c", s, v))
			}
			if _, err := conn.Write([]byte(strings.Join(dg, "\n") + "\n")); err != nil {
				t.Fatal(err)
			}
			sent += 20
		}
	}
	// round sends round v's lines and returns the series each destination
	// got them for (lines of other rounds, late, are left out).
	round := func(v int) (udp, tcp []string) {
		t.Helper()
		send(v)
		suffix := fmt.Sprintf(":%d|c", v)
		keep := func(dst []string, ls []string) []string {
			for _, l := range ls {
				if name, ok := strings.CutSuffix(l, suffix); ok {
					dst = append(dst, name)
				}
			}
			return dst
		}
		waitFor(t, fmt.Sprintf("round %d's lines", v), func() bool {
			for _, ls := range receiveSome(t, cs) {
				udp = keep(udp, ls)
			}
			tcp = keep(tcp, sink.take())
			return len(udp)+len(tcp) >= 200
		})
		if len(udp)+len(tcp) != 200 {
			t.Fatalf("%d lines at UDP and %d at TCP; sent 200", len(udp), len(tcp))
		}
		return udp, tcp
	}
	_, tcp := round(1)
	if len(tcp) == 0 || len(tcp) == 200 {
		t.Fatalf("%d of 200 series at the TCP destination", len(tcp))
	}
	onTCP := slices.Clone(tcp)
	slices.Sort(onTCP)
	sink.close()
	v := 100
	waitFor(t, "the TCP destination down", func() bool { // a write notices the broken connection
		v++
		send(v)
		receiveSome(t, cs)
		return !src.RelayUp(1)
	})
	if _, tcp := round(2); len(tcp) != 0 {
		t.Fatalf("%d lines at the TCP destination while it is down", len(tcp))
	}
	again, err := listenTCPSink(addr)
	if err != nil {
		t.Skipf("the TCP destination's port was taken meanwhile: %v", err)
	}
	sink = again
	waitFor(t, "the TCP destination reconnected", func() bool { return src.RelayUp(1) })
	_, tcp = round(3)
	slices.Sort(tcp)
	if !slices.Equal(tcp, onTCP) {
		t.Fatalf("after reconnecting, %d series at the TCP destination; %d before", len(tcp), len(onTCP))
	}
	src.Stop()
	var counted float64
	for _, d := range []string{ds[0].Addr, "tcp://" + addr} {
		counted += reported(t, src, "mad_relay_lines_total", "destination", d)
		for _, r := range RelayDropNames {
			counted += reported(t, src, "mad_relay_dropped_lines_total", "destination", d, "reason", r)
		}
	}
	counted += reported(t, src, "mad_relay_no_destination_lines_total")
	if counted != float64(sent) {
		t.Fatalf("%v lines counted (sent or dropped); %d sent", counted, sent)
	}
}

// receiveSome reads what the listeners hold now, without waiting long.
func receiveSome(t *testing.T, cs []*net.UDPConn) [][]string {
	t.Helper()
	got := make([][]string, len(cs))
	buf := make([]byte, 1<<16)
	for i, c := range cs {
		c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		for {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			got[i] = append(got[i], datagramLines(buf[:n])...)
		}
	}
	return got
}

// startRelay starts a relaying UDP source on loopback with rc and returns
// it, its lanes (which must stay empty) and a socket sending to it; both
// are stopped or closed when the test ends.
func startRelay(t *testing.T, rc *RelayConfig) (*UDPSource, Lanes, net.Conn) {
	t.Helper()
	lanes := NewLanes(1, 64)
	src, err := ListenUDP(UDPConfig{Name: "relay", Addr: "127.0.0.1:0", Log: quiet, Relay: rc}, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	t.Cleanup(func() { src.Stop() })
	conn, err := net.Dial("udp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return src, lanes, conn
}

// TestRelayPickIsRendezvous holds pick (branchless, the index in the
// score's low bits) to rendezvous hashing written plainly: the healthy
// destination whose Mix64(hash ^ identity) is highest, for every set of
// healthy destinations of five.
func TestRelayPickIsRendezvous(t *testing.T) {
	_, dests := listeners(t, 5)
	r, err := NewRelay(RelayConfig{Destinations: dests}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rnd := rand.New(rand.NewPCG(1, 2))
	for mask := 1; mask < 1<<len(dests); mask++ {
		for i, d := range r.dests {
			d.up.Store(mask&(1<<i) != 0)
		}
		r.readHealth() // as Forward does, a datagram at a time
		for range 2000 {
			h := rnd.Uint64()
			want, top := -1, uint64(0)
			for i, d := range r.dests {
				if s := sample.Mix64(h ^ r.ids[i]); d.up.Load() && (want < 0 || s > top) {
					want, top = i, s
				}
			}
			if got := r.pick(h); got != want {
				t.Fatalf("healthy %05b, hash %#x: pick %d, rendezvous %d", mask, h, got, want)
			}
		}
	}
	for range 10000 {
		a, b := rnd.Uint64()>>rnd.IntN(64), rnd.Uint64()>>rnd.IntN(64)
		if got := maxNoBranch(a, b); got != max(a, b) {
			t.Fatalf("maxNoBranch(%d, %d) = %d", a, b, got)
		}
	}
}
