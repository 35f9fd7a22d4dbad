package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomad/mad/ingest/statsd"
	sm "github.com/gomad/mad/internal/selfmetric"
)

// socketDir returns a directory for test sockets whose paths stay well
// under MaxUnixPath (t.TempDir's carry the test's name).
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mad")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// listenUnix binds a unixgram StatsD source at path over lanes.
func listenUnix(t *testing.T, path string, cfg UDPConfig, lanes []Lanes) (*UDPSource, error) {
	t.Helper()
	cfg.Name, cfg.UnixPath, cfg.Log = "dsd", path, quiet
	return ListenUDP(cfg, lanes)
}

func dialUnix(t *testing.T, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestUnixgramSource: datagrams over a Unix socket go through the UDP
// source's loop and decoder: DogStatsD's 8 KiB datagrams whole, a longer
// one than MaxDatagram truncated and counted; the socket file has the
// default mode while served and is gone after Stop; the counters are the
// UDP source's, without kernel drops.
func TestUnixgramSource(t *testing.T) {
	path := filepath.Join(socketDir(t), "dsd.sock")
	lanes := []Lanes{NewLanes(3, 1024)}
	src, err := listenUnix(t, path, UDPConfig{MaxDatagram: 8192}, lanes)
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	defer src.Stop()
	if got, want := src.Key(), "unixgram "+path; got != want {
		t.Errorf("Key() = %q; want %q", got, want)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != DefaultUnixMode {
		t.Fatalf("socket file %v (err %v); want a socket of mode %v", fi.Mode(), err, DefaultUnixMode)
	}
	conn := dialUnix(t, path)
	// Datagrams of exactly 8192 bytes, datadog-go's default on UDS: 8192/64
	// lines of 64 bytes each.
	const full, perFull = 20, 8192 / 64
	for i := range full {
		var b strings.Builder
		for j := range perFull {
			line := fmt.Sprintf("dsd.hits:1|c|#dgram:%03d,line:%03d,pad:", i, j)
			b.WriteString(line + strings.Repeat("x", 63-len(line)) + "\n")
		}
		if b.Len() != 8192 {
			t.Fatalf("datagram of %d bytes; want 8192", b.Len())
		}
		if _, err := conn.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
	}
	// One byte over: its last line is cut, dropped and counted.
	if _, err := conn.Write([]byte(strings.Repeat("a:1|c\n", 1365) + "bb:1|c\n")); err != nil { // 8190 + 7 bytes
		t.Fatal(err)
	}
	const lines = full*perFull + 1365
	keys := map[string]int{}
	got := 0
	waitFor(t, "every line", func() bool { got += drainLanes(lanes, keys); return got >= lines })
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	got += drainLanes(lanes, keys)
	st := src.Stats()
	if got != lines || st.Samples != lines || st.Lines[statsd.OK] != lines || st.Datagrams != full+1 || st.Truncated != 1 ||
		st.Bytes != full*8192+8192 || st.Dropped != 0 || st.KernelDrops != 0 {
		t.Fatalf("%d samples, stats %+v; want %d samples in %d datagrams, one truncated", got, st, lines, full+1)
	}
	if len(keys) != full*perFull+1 || hasKey(keys, "bb") {
		t.Fatalf("%d series (bb among them: %v); want %d without bb", len(keys), hasKey(keys, "bb"), full*perFull+1)
	}
	var kernelDrops bool
	var datagrams float64
	src.Report(func(v sm.Value) {
		kernelDrops = kernelDrops || v.Name == "mad_source_kernel_drops_total"
		if v.Name == "mad_source_datagrams_total" {
			datagrams = v.V
			if !strings.Contains(strings.Join(v.Labels, " "), "protocol unixgram") {
				t.Errorf("labels %v; want protocol unixgram", v.Labels)
			}
		}
	})
	if kernelDrops || datagrams != full+1 {
		t.Errorf("report: kernel drops reported %v, datagrams %v; want none, and %d", kernelDrops, datagrams, full+1)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket file after Stop: %v; want it removed", err)
	}
}

// TestUnixgramStaleFile: what is at the path before the source binds
// decides: a socket nobody serves is removed and replaced; a socket some
// process serves, and anything that is not a socket, is left as it was and
// the source does not start.
func TestUnixgramStaleFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		// make puts something at path; what it returns is closed at the end.
		make    func(t *testing.T, path string) func()
		refused string // the error's words if the source must not start
	}{
		{name: "nothing", make: func(*testing.T, string) func() { return func() {} }},
		{name: "stale socket", make: func(t *testing.T, path string) func() {
			c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			c.Close() // the file stays: a process that died leaves it so
			return func() {}
		}},
		{name: "live socket", refused: "another process serves", make: func(t *testing.T, path string) func() {
			c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			return func() { c.Close() }
		}},
		{name: "live stream socket", refused: "of another type", make: func(t *testing.T, path string) func() {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			return func() { l.Close() }
		}},
		{name: "regular file", refused: "not a socket", make: func(t *testing.T, path string) func() {
			must(t, os.WriteFile(path, []byte("keep me"), 0o644))
			return func() {}
		}},
		{name: "directory", refused: "not a socket", make: func(t *testing.T, path string) func() {
			must(t, os.Mkdir(path, 0o755))
			return func() {}
		}},
		{name: "symlink to a stale socket", refused: "not a socket", make: func(t *testing.T, path string) func() {
			target := path + ".target"
			c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: target, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			must(t, os.Symlink(target, path))
			return func() {}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(socketDir(t), "dsd.sock")
			defer tc.make(t, path)()
			before, _ := os.Lstat(path)
			lanes := []Lanes{NewLanes(1, 1024)}
			src, err := listenUnix(t, path, UDPConfig{}, lanes)
			if tc.refused != "" {
				if err == nil {
					src.Stop()
					t.Fatalf("the source started; want it refused (%s)", tc.refused)
				}
				if !strings.Contains(err.Error(), tc.refused) {
					t.Errorf("error %q; want it to say %q", err, tc.refused)
				}
				after, lerr := os.Lstat(path)
				if lerr != nil || !os.SameFile(before, after) || after.Mode() != before.Mode() {
					t.Fatalf("what was at the path changed: %v (err %v); want %v untouched", after, lerr, before.Mode())
				}
				if b, _ := os.ReadFile(path); tc.name == "regular file" && string(b) != "keep me" {
					t.Fatalf("the regular file holds %q", b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			src.Start()
			defer src.Stop()
			conn := dialUnix(t, path)
			if _, err := conn.Write([]byte("n0:1|c\n")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the datagram", func() bool { return countLanes(lanes) == 1 })
		})
	}
}

// TestUnixgramStopLosesNothing: every datagram a sender's write accepted
// is published, none twice, whether the loop reads them or Stop drains
// them (a source never started); once Stop began, writes fail (the sender
// sees it) instead of vanishing: a Unix socket has no hidden drops.
func TestUnixgramStopLosesNothing(t *testing.T) {
	for _, started := range []bool{true, false} {
		t.Run(fmt.Sprintf("started=%v", started), func(t *testing.T) {
			const max = 1 << 20
			path := filepath.Join(socketDir(t), "dsd.sock")
			k := newLineSink(1, 2, max)
			src, err := listenUnix(t, path, UDPConfig{}, k.lanes)
			if err != nil {
				t.Fatal(err)
			}
			conn := dialUnix(t, path)
			var sent atomic.Int64
			var sendErr error
			senderDone := make(chan struct{})
			go func() {
				defer close(senderDone)
				buf := make([]byte, 0, 32)
				for i := 0; i < max; i++ {
					buf = fmt.Appendf(buf[:0], "n%d:1|c", i)
					// Unstarted, the queue fills and the write waits: the
					// deadline ends that wait, as it ends none that Stop ends.
					conn.SetWriteDeadline(time.Now().Add(time.Minute))
					if _, err := conn.Write(buf); err != nil {
						sendErr = err
						return
					}
					sent.Add(1)
				}
			}()
			if started {
				src.Start()
				waitFor(t, "traffic", func() bool { return k.got.Load() > 1000 })
			} else {
				waitFor(t, "a full queue", func() bool { return sent.Load() > 0 })
			}
			src.Stop()
			<-senderDone
			k.finish()
			if sendErr == nil || errors.Is(sendErr, os.ErrDeadlineExceeded) {
				t.Fatalf("the sender's last write: %v; want it refused by the stopped source", sendErr)
			}
			st := src.Stats()
			got := checkExactlyOnce(t, max, k)
			if int64(got) != sent.Load() || st.Datagrams != uint64(got) || st.KernelDrops != 0 {
				t.Fatalf("received %d of the %d datagrams sent; stats %+v", got, sent.Load(), st)
			}
			t.Logf("%d datagrams, then %v", got, sendErr)
		})
	}
}

// TestUnixgramConfig: what ListenUDP refuses of a Unix socket's
// configuration, and what a running one can take in place (its decoder and
// mode, chmod'ed) or not (another path, or UDP).
func TestUnixgramConfig(t *testing.T) {
	dir := socketDir(t)
	for _, tc := range []struct {
		name string
		cfg  UDPConfig
		want string
	}{
		{"two loops", UDPConfig{UnixPath: filepath.Join(dir, "a.sock"), Loops: 2}, "one loop"},
		{"path too long", UDPConfig{UnixPath: "/tmp/" + strings.Repeat("x", 103)}, "at most 107"},
		{"abstract", UDPConfig{UnixPath: "@mad"}, "abstract"},
		{"no directory", UDPConfig{UnixPath: filepath.Join(dir, "none", "a.sock")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lanes := make([]Lanes, max(1, tc.cfg.Loops))
			for i := range lanes {
				lanes[i] = NewLanes(1, 16)
			}
			src, err := listenUnix(t, tc.cfg.UnixPath, tc.cfg, lanes)
			if err == nil {
				src.Stop()
				t.Fatal("ListenUDP succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q; want it to say %q", err, tc.want)
			}
		})
	}
	if err := ValidateUnixPath("/tmp/" + strings.Repeat("x", MaxUnixPath-5)); err != nil {
		t.Errorf("a path of %d bytes: %v", MaxUnixPath, err)
	}

	path := filepath.Join(dir, "dsd.sock")
	cfg := UDPConfig{Name: "dsd", UnixPath: path, Log: quiet}
	src, err := ListenUDP(cfg, []Lanes{NewLanes(1, 16)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	other := func(f func(c *UDPConfig)) *UDPConfig {
		c := cfg
		f(&c)
		return &c
	}
	scaled := other(func(c *UDPConfig) { c.Decoder.RateMode = statsd.RateScale; c.UnixMode = 0o660 })
	for _, tc := range []struct {
		name string
		cfg  SourceConfig
		want bool
	}{
		{"same", other(func(*UDPConfig) {}), true},
		{"decoder and mode", scaled, true},
		{"another path", other(func(c *UDPConfig) { c.UnixPath += "2" }), false},
		{"udp", other(func(c *UDPConfig) { c.UnixPath, c.Addr = "", "127.0.0.1:0" }), false},
	} {
		if got := src.Retargetable(tc.cfg); got != tc.want {
			t.Errorf("%s: Retargetable = %v; want %v", tc.name, got, tc.want)
		}
	}
	if err := src.Retarget(scaled, []Lanes{NewLanes(1, 16)}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("mode after Retarget: %v (err %v); want 0660", fi.Mode(), err)
	}
	if got, want := scaled.SourceKey(), "unixgram "+path; got != want || !Exclusive(got) {
		t.Errorf("SourceKey() = %q (exclusive %v); want %q, exclusive", got, Exclusive(got), want)
	}
}

// TestUnixgramStopRemovesOnlyItsFile: a file put at the path after the
// source bound (its socket removed by someone else) is not the source's to
// remove at Stop.
func TestUnixgramStopRemovesOnlyItsFile(t *testing.T) {
	path := filepath.Join(socketDir(t), "dsd.sock")
	src, err := listenUnix(t, path, UDPConfig{}, []Lanes{NewLanes(1, 16)})
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.Remove(path))
	must(t, os.WriteFile(path, []byte("another's"), 0o644))
	src.Start()
	src.Stop()
	if b, err := os.ReadFile(path); err != nil || string(b) != "another's" {
		t.Fatalf("the file at the path after Stop: %q, %v; want it untouched", b, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
