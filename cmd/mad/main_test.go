package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildMad builds the command once per test binary.
func buildMad(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mad")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func run(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

func TestCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildMad(t)
	vectors := "../../testdata/mad/config"

	out, code := run(t, bin, "-print-default-config")
	if code != 0 || !strings.Contains(out, "StatsdSource") {
		t.Fatalf("-print-default-config: %d %s", code, out)
	}
	def := filepath.Join(t.TempDir(), "default.conf")
	must(t, os.WriteFile(def, []byte(out), 0o644))
	if out, code := run(t, bin, "-check-config", def); code != 0 || !strings.HasSuffix(out, "ok\n") {
		t.Errorf("-check-config of the printed default: %d %s", code, out)
	}
	// MAD's config.conf enables HTTPS with MAD's default certificate paths
	// (/opt/mad/tls), which start-up could not load: neither can the check.
	out, code = run(t, bin, "-check-config", filepath.Join(vectors, "config.conf"))
	if code != 1 || !strings.Contains(out, "enableHttps: cannot load httpsCertificatePath /opt/mad/tls/cert.pem") {
		t.Errorf("-check-config config.conf: %d %s", code, out)
	}
	// MAD's shipped pipeline runs whole (its Kafka source included).
	out, code = run(t, bin, "-check-config", filepath.Join(vectors, "pipeline.conf"))
	if code != 0 || !strings.Contains(out, "9 sources, 3 sinks") || !strings.HasSuffix(out, "ok\n") {
		t.Errorf("-check-config pipeline.conf: %d %s", code, out)
	}
	// With a class mad lacks (FileSource, out of scope) it cannot run.
	shipped, err := os.ReadFile(filepath.Join(vectors, "pipeline.conf"))
	must(t, err)
	withFile := filepath.Join(t.TempDir(), "pipeline.conf")
	must(t, os.WriteFile(withFile, append(shipped, "\nsources+={type=\"com.arpnetworking.metrics.common.sources.FileSource\", name=file_source, sourceFile=\"/var/log/app.log\"}\n"...), 0o644))
	out, code = run(t, bin, "-check-config", withFile)
	if code != 1 || !strings.Contains(out, "source com.arpnetworking.metrics.common.sources.FileSource is not available") ||
		!strings.Contains(out, "1 problems") {
		t.Errorf("-check-config pipeline.conf with a FileSource: %d %s", code, out)
	}
	// -skip-unavailable: what start-up would leave out is listed, not a
	// problem.
	out, code = run(t, bin, "-skip-unavailable", "-check-config", withFile)
	if code != 0 || !strings.Contains(out, "left out (-skip-unavailable): ") || !strings.HasSuffix(out, "ok\n") {
		t.Errorf("-skip-unavailable -check-config pipeline.conf with a FileSource: %d %s", code, out)
	}
	// A configuration whose pipeline uses a class mad lacks does not start
	// (it would run nothing): exit 1 with the problems.
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	withFileText, err := os.ReadFile(withFile)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(pipes, "pipeline.conf"), withFileText, 0o644))
	main := filepath.Join(dir, "config.conf")
	must(t, os.WriteFile(main, []byte(fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\n", pipes)), 0o644))
	if out, code := run(t, bin, main); code != 1 || !strings.Contains(out, "FileSource is not available") || !strings.Contains(out, "mad: the configuration cannot run") {
		t.Errorf("mad with a pipeline it cannot run: %d %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.conf")
	must(t, os.WriteFile(bad, []byte("pipelinesDirectory=p\nhttpPort=-1\n"), 0o644))
	if out, code := run(t, bin, bad); code != 1 || !strings.Contains(out, "bad.conf:2:10: httpPort: must be between 0 and 65535") {
		t.Errorf("mad with an invalid main file: %d %s", code, out)
	}
	if _, code := run(t, bin, "-config", bad, bad); code != 2 {
		t.Errorf("-config and an argument: exit %d", code)
	}
}

// TestSIGHUPReloads runs mad on a main file and a pipelines directory, adds
// a pipeline, sends SIGHUP, and sees the new pipeline on /metrics; SIGTERM
// then flushes and exits 0.
func TestSIGHUPReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildMad(t)
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	main := filepath.Join(dir, "config.conf")
	must(t, os.WriteFile(main, []byte(fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=\"PT0S\"\n", pipes)), 0o644))
	var out lockedBuffer
	cmd := exec.Command(bin, "-config", main)
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	defer cmd.Process.Kill()
	addr := ""
	metrics := func() string {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return b.String()
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; output:\n%s", what, out.String())
			}
		}
	}
	// The control plane's address (port 0: the kernel chose it) is in the
	// start-up line.
	started := regexp.MustCompile(`msg="mad started" .*http=(127\.0\.0\.1:[0-9]+)`)
	waitFor("the start-up line", func() bool {
		m := started.FindStringSubmatch(out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	waitFor("/metrics", func() bool { return strings.Contains(metrics(), "mad_config_reloads_total") })
	must(t, os.WriteFile(filepath.Join(pipes, "p.conf"), []byte("name=hup\nsources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=0}]\nsinks=[{type=JsonLinesSink, name=j, path=\"-\"}]\n"), 0o644))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	waitFor("the new pipeline", func() bool { return strings.Contains(metrics(), `mad_pipeline_series{pipeline="hup"}`) })
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, out.String())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a bytes.Buffer the command writes to while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestVersion builds mad as users do and reads mad -version: with the
// Makefile's -ldflags it names what was linked in; without them it names
// what the go command stamped, and "devel (unknown)" when it stamped nothing
// (-buildvcs=false, as in a git worktree); make build names the checkout's
// commit even with -buildvcs=false.
func TestVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	dir := t.TempDir()
	build := func(name, goflags string, args ...string) string {
		t.Helper()
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", append(append([]string{"build"}, args...), "-o", bin, ".")...)
		cmd.Env = append(os.Environ(), "GOFLAGS="+goflags)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", args, err, out)
		}
		return bin
	}
	version := func(bin string) string {
		t.Helper()
		out, code := run(t, bin, "-version")
		if code != 0 {
			t.Fatalf("%s -version: exit %d: %s", bin, code, out)
		}
		return strings.TrimSpace(out)
	}
	linked := build("linked", "-buildvcs=false", "-ldflags", "-X github.com/gomad/mad/engine.Version=v9.8.7 -X github.com/gomad/mad/engine.Commit=0123456789abcdef")
	if got := version(linked); got != "mad v9.8.7 (0123456789abcdef)" {
		t.Errorf("with -ldflags: %q", got)
	}
	if got := version(build("plain", "-buildvcs=false")); got != "mad devel (unknown)" {
		t.Errorf("-buildvcs=false, no -ldflags: %q", got)
	}
	// The go command's own stamping, where it stamps (not in a git
	// worktree).
	auto := build("auto", "-buildvcs=auto")
	want := "mad devel (unknown)"
	if meta, err := exec.Command("go", "version", "-m", auto).Output(); err == nil {
		var v, rev, dirty string
		for _, l := range strings.Split(string(meta), "\n") {
			f := strings.Fields(l)
			switch {
			case len(f) >= 3 && f[0] == "mod":
				v = f[2]
			case len(f) >= 2 && strings.HasPrefix(f[1], "vcs.revision="):
				rev = strings.TrimPrefix(f[1], "vcs.revision=")
			case len(f) >= 2 && f[1] == "vcs.modified=true":
				dirty = "-dirty"
			}
		}
		if rev != "" {
			want = fmt.Sprintf("mad %s (%s%s)", v, rev, dirty)
		}
		t.Logf("go build stamped %q", want)
	}
	if got := version(auto); got != want {
		t.Errorf("-buildvcs=auto: %q; want %q", got, want)
	}
	// make build, with the go command stamping nothing.
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	status, err := exec.Command("git", "status", "--porcelain").Output()
	must(t, err)
	commit := strings.TrimSpace(string(head))
	if len(status) > 0 {
		commit += "-dirty"
	}
	bin := filepath.Join(dir, "made")
	cmd := exec.Command("make", "-s", "-C", "../..", "build", "BIN="+bin)
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	if got := version(bin); !strings.HasSuffix(got, "("+commit+")") || strings.HasPrefix(got, "mad devel") {
		t.Errorf("make build: %q; want the commit %s", got, commit)
	}
}

// TestSurvivesClosedStdout runs mad with its JSON lines on standard output
// into a pipe, as `mad | head -1` does: once the reader has read a line and
// gone, mad must not die of SIGPIPE but count the lines it cannot write as
// dropped, keep aggregating, and answer /ping.
func TestSurvivesClosedStdout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildMad(t)
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	must(t, os.WriteFile(filepath.Join(pipes, "p.conf"), []byte("name=p\nperiods=[\"PT1S\"]\n"+
		"sources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=0}]\n"+
		"sinks=[{type=JsonLinesSink, name=out, path=\"-\"}]\n"), 0o644))
	main := filepath.Join(dir, "config.conf")
	must(t, os.WriteFile(main, []byte(fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nmonitoringSinks=[]\n", pipes)), 0o644))
	r, w, err := os.Pipe()
	must(t, err)
	var logs lockedBuffer
	cmd := exec.Command(bin, "-config", main)
	cmd.Stdout, cmd.Stderr = w, &logs
	must(t, cmd.Start())
	w.Close()
	defer cmd.Process.Kill()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	alive := func() bool {
		select {
		case <-exited:
			return false
		default:
			return true
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if !alive() {
				t.Fatalf("mad exited (%v) waiting for %s; log:\n%s", cmd.ProcessState, what, logs.String())
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, logs.String())
			}
		}
	}
	var addr, statsd string
	ready := regexp.MustCompile(`msg="mad started" .*http=(127\.0\.0\.1:[0-9]+)`)
	source := regexp.MustCompile(`msg="source ready" .*at="udp (127\.0\.0\.1:[0-9]+)"`)
	waitFor("the start-up line", func() bool {
		m, s := ready.FindStringSubmatch(logs.String()), source.FindStringSubmatch(logs.String())
		if m != nil && s != nil {
			addr, statsd = m[1], s[1]
		}
		return m != nil && s != nil
	})
	udp, err := net.Dial("udp", statsd)
	must(t, err)
	defer udp.Close()
	send := func() { udp.Write([]byte("sigpipe.test:1|c\n")) }
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	dropped := func() int {
		_, m := get("/metrics")
		f := regexp.MustCompile(`(?m)^mad_sink_dropped_total\{[^}]*sink="out"[^}]*\} ([0-9]+)$`).FindStringSubmatch(m)
		if f == nil {
			return -1
		}
		n, _ := strconv.Atoi(f[1])
		return n
	}

	// The reader takes one line, then goes away.
	lines := make(chan struct{})
	go func() {
		bufio.NewReader(r).ReadString('\n')
		r.Close()
		close(lines)
	}()
	waitFor("a line on standard output", func() bool {
		send()
		select {
		case <-lines:
			return true
		default:
			return false
		}
	})
	waitFor("lines counted dropped", func() bool { send(); return dropped() > 0 })
	if code, _ := get("/ping"); code != http.StatusOK {
		t.Fatalf("/ping: %d", code)
	}
	// It keeps aggregating: later buckets are emitted (and dropped).
	before := dropped()
	waitFor("more lines counted dropped", func() bool { send(); return dropped() > before })
	if !strings.Contains(logs.String(), "jsonlines: cannot write, lines dropped") {
		t.Errorf("no warning about the lines dropped; log:\n%s", logs.String())
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	<-exited
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signaled() {
		t.Fatalf("mad ended by a signal: %v", cmd.ProcessState)
	}
}
