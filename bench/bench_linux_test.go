//go:build linux

package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestProcOfSelf(t *testing.T) {
	cpu, err := ProcCPU(os.Getpid())
	if err != nil || cpu < 0 {
		t.Fatalf("ProcCPU = %v, %v", cpu, err)
	}
	rss, peak, err := ProcMemory(os.Getpid())
	if err != nil || rss <= 0 || peak < rss {
		t.Fatalf("ProcMemory = %d, %d, %v", rss, peak, err)
	}
	if _, err := UDPDrops(8125); err != nil {
		t.Fatal(err)
	}
	if _, _, err := UDPErrors(); err != nil {
		t.Fatal(err)
	}
}

func TestProcParsers(t *testing.T) {
	// A command name with spaces and parentheses.
	stat := "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 8 0 100 0 0"
	if user, sys, err := parseStat(stat); err != nil || user != 2500*time.Millisecond || sys != 750*time.Millisecond {
		t.Fatalf("parseStat = %v, %v, %v; want 2.5s, 750ms", user, sys, err)
	}
	if _, _, err := parseStat("garbage"); err == nil {
		t.Fatal("garbage stat accepted")
	}
	status := "Name:\tmad\nVmHWM:\t  120000 kB\nVmRSS:\t   80000 kB\nThreads:\t9\n"
	rss, peak, err := parseStatus(strings.NewReader(status))
	if err != nil || rss != 80000<<10 || peak != 120000<<10 {
		t.Fatalf("parseStatus = %d, %d, %v", rss, peak, err)
	}
	udp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 ffff 17
  101: 00000000:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 ffff 3
  102: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 ffff 99
`
	if n, err := parseNetUDP(strings.NewReader(udp), 8125); err != nil || n != 20 {
		t.Fatalf("parseNetUDP = %d, %v", n, err)
	}
	if n, _ := countPort(strings.NewReader(udp), 8125); n != 2 {
		t.Fatalf("countPort = %d", n)
	}
	snmp := `Ip: Forwarding DefaultTTL
Ip: 1 64
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 100 2 7 50 5 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
`
	if b, in, err := parseSNMP(strings.NewReader(snmp)); err != nil || b != 5 || in != 7 {
		t.Fatalf("parseSNMP = %d, %d, %v", b, in, err)
	}
	snmp6 := "Udp6InDatagrams 10\nUdp6InErrors 4\nUdp6RcvbufErrors 2\n"
	if b, in, err := parseSNMP(strings.NewReader(snmp6)); err != nil || b != 2 || in != 4 {
		t.Fatalf("parseSNMP (v6) = %d, %d, %v", b, in, err)
	}
}

// TestSendUDPAtRate: a paced send delivers every message, in order, to a
// loopback socket, and takes about as long as the rate says.
func TestSendUDPAtRate(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	w := S1(100, 1)
	w.Messages = 20
	p := w.Build()
	got := make(chan int, 1)
	go func() {
		buf := make([]byte, 2048)
		n := 0
		for n < 50 {
			pc.SetReadDeadline(time.Now().Add(5 * time.Second))
			k, _, err := pc.ReadFrom(buf)
			if err != nil {
				break
			}
			if string(buf[:k]) != string(p.Messages[n%len(p.Messages)]) {
				break
			}
			n++
		}
		got <- n
	}()
	s, err := SendUDP(pc.LocalAddr().String(), 1, Load{Payloads: p, Count: 50, Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 50 || s.Messages != 50 || s.Lines != p.TotalLines(50) {
		t.Fatalf("received %d in order; sent %+v", n, s)
	}
	if s.Elapsed < 40*time.Millisecond {
		t.Fatalf("50 messages at 1000/s took %v", s.Elapsed)
	}
}

// TestSmokeMad is the harness's short run in CI: it builds mad, starts it
// pinned as a peer, streams S1 over TCP (no kernel drops) at a fixed rate
// for a few seconds and requires the JSON lines to account for every
// counter value, gauge and timer sample sent, with no internal loss.
func TestSmokeMad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs mad")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "mad")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gomad/mad/cmd/mad").CombinedOutput()
	if err != nil {
		t.Fatalf("building mad: %v\n%s", err, out)
	}
	for _, name := range []string{"mad", "mad-transforming"} {
		t.Run(name, func(t *testing.T) { smokeMad(t, dir, bin, name) })
	}
	t.Run("mad-relay", func(t *testing.T) { smokeRelay(t, dir, bin) })
}

// smokeRelay is TestSmokeMad's run of mad as a StatsD relay: S1 at a rate
// it keeps up with, to three harness sinks, every line forwarded, packed
// (far fewer datagrams than lines), each sink given some.
func smokeRelay(t *testing.T, dir, bin string) {
	var peer RelayPeer
	for _, p := range RelayPeers() {
		if p.Name == "mad-relay" {
			peer = p
		}
	}
	b := &Bench{Dir: dir, Options: PeerOptions{Mad: bin}, DaemonCPUs: []int{0}}
	defer b.Close()
	p := S1(2000, 1).Build()
	sc := Scenario{Protocol: StatsDLines, Conns: 1, Load: Load{Payloads: p, Rate: 500, Duration: 2 * time.Second}}
	r, err := b.RunRelay(context.Background(), peer, sc, 3)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent.Messages != 1000 || r.Forwarded != uint64(r.Sent.Lines) || r.KernelDrops != 0 {
		t.Fatalf("sent %+v, forwarded %d, kernel drops %d", r.Sent, r.Forwarded, r.KernelDrops)
	}
	if r.Datagrams == 0 || r.Datagrams*10 > r.Forwarded || slices.Contains(r.PerSink, 0) {
		t.Fatalf("%d lines in %d datagrams, per sink %v", r.Forwarded, r.Datagrams, r.PerSink)
	}
	if r.CPU <= 0 {
		t.Fatalf("no CPU measured: %+v", r.Result)
	}
}

// smokeMad is TestSmokeMad's run of one mad peer ("mad-transforming": its
// results checked as its rules rename them).
func smokeMad(t *testing.T, dir, bin, name string) {
	mad, ok := PeerByName(name)
	if !ok {
		t.Fatalf("no peer %s", name)
	}
	// Port 0: mad logs where it listens, and the harness reads it.
	b := &Bench{Dir: dir, Options: PeerOptions{StatsD: "127.0.0.1:0", HTTP: "127.0.0.1:0", Flush: time.Second, Mad: bin}, DaemonCPUs: []int{0}}
	defer b.Close()
	if name == "mad" {
		b.Profile = t.TempDir() // madbench -pprof (make pgo)
	}
	p := S1(2000, 1).Build()
	sc := Scenario{Protocol: TCP, Conns: 2, Load: Load{Payloads: p, Rate: 2000, Duration: 3 * time.Second}}
	r, err := b.RunPeer(context.Background(), mad, sc)
	if err != nil {
		t.Fatal(err)
	}
	if b.Profile != "" {
		checkProfiles(t, b.Profile)
	}
	if r.Sent.Messages != 6000 || r.Sent.Lines != p.TotalLines(6000) {
		t.Fatalf("sent %+v", r.Sent)
	}
	if r.E2E == nil || !r.E2E.Exact() || r.E2E.Series < 1000 {
		t.Fatalf("end to end: %+v", r.E2E)
	}
	if r.Internal == nil || r.Internal.Total() != 0 {
		t.Fatalf("internal loss %+v", r.Internal)
	}
	if r.CPU <= 0 || r.RSS <= 0 || r.LinesPerCPUSecond <= 0 {
		t.Fatalf("process figures missing: %+v", r)
	}
	if table := Table([]Result{r}); !strings.Contains(table, "exact (") {
		t.Fatalf("table:\n%s", table)
	}
}

// checkProfiles requires dir to hold CPU profiles as Go's pprof writes
// them (gzipped protocol buffers), several, since the run lasted seconds.
func checkProfiles(t *testing.T, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "mad-*.pprof"))
	if err != nil || len(files) < 2 {
		t.Fatalf("profiles %v (%v); want several", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		z, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n, err := io.Copy(io.Discard, z)
		if err != nil || n == 0 {
			t.Fatalf("%s: %d bytes, %v", f, n, err)
		}
	}
}
