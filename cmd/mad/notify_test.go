package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSystemdNotify runs mad as systemd runs a Type=notify unit, with
// NOTIFY_SOCKET naming a datagram socket the test listens on, and its
// configuration given through MAD_CONFIG and MAD_OPTS as in the container
// image: READY=1 comes once every socket is bound (/ping answers at once),
// a SIGHUP brings RELOADING=1 (with MONOTONIC_USEC) then READY=1, whose
// status says what the reload refused, and SIGTERM STOPPING=1. mad
// -health-check follows /ping along the way: healthy, unhealthy while a
// pipeline cannot start, unreachable once mad has exited.
func TestSystemdNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildMad(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	must(t, err)
	defer ln.Close()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	must(t, os.WriteFile(filepath.Join(pipes, "p.conf"), []byte("name=p\nperiods=[\"PT1S\"]\n"+
		"sources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=0}]\n"+
		"sinks=[{type=JsonLinesSink, name=out, path=\"-\"}]\n"), 0o644))
	main := filepath.Join(dir, "config.conf")
	must(t, os.WriteFile(main, []byte("pipelinesDirectory=${pipes}\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=\"PT0S\"\nmonitoringSinks=[]\n"), 0o644))

	var out lockedBuffer
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "MAD_CONFIG="+main, "MAD_OPTS=-Dpipes="+pipes)
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	defer cmd.Process.Kill()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ln.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("waiting for %s: the socket was closed", what)
			}
			return m
		case err := <-exited:
			t.Fatalf("mad exited (%v) waiting for %s; output:\n%s", err, what, out.String())
		case <-time.After(60 * time.Second):
			t.Fatalf("timed out waiting for %s; output:\n%s", what, out.String())
		}
		return ""
	}
	ping := func(addr string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/ping")
		if err != nil {
			t.Fatalf("/ping: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	health := func(addr string) (string, int) {
		t.Helper()
		return runEnv(t, bin, nil, "-health-check", "http://"+addr+"/ping")
	}

	ready := regexp.MustCompile(`^READY=1\nSTATUS=running 1 pipelines; http (127\.0\.0\.1:[0-9]+)$`)
	m := ready.FindStringSubmatch(next("READY=1"))
	if m == nil {
		t.Fatalf("first notification: got %q; want READY=1 with the status", m)
	}
	addr := m[1]
	// Ready means bound: /ping answers now, not eventually.
	if code, body := ping(addr); code != http.StatusOK || body != `{"status":"HEALTHY"}` {
		t.Fatalf("/ping at READY=1: %d %s", code, body)
	}
	if o, code := health(addr); code != 0 || !strings.HasPrefix(o, "healthy: ") {
		t.Errorf("mad -health-check of a healthy mad: exit %d %q; want 0", code, o)
	}
	// The pipeline runs: MAD_OPTS's -Dpipes named its directory.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "from=MAD_CONFIG"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the configuration is not MAD_CONFIG's; output:\n%s", out.String())
		}
	}

	// A pipeline whose port is taken cannot start: the reload refuses it
	// and /ping answers UNHEALTHY.
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	must(t, err)
	defer taken.Close()
	must(t, os.WriteFile(filepath.Join(pipes, "q.conf"), []byte(fmt.Sprintf("name=q\n"+
		"sources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=%d}]\n"+
		"sinks=[{type=JsonLinesSink, name=out, path=\"-\"}]\n", taken.LocalAddr().(*net.UDPAddr).Port)), 0o644))
	before := monotonicUsec(t)
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	reloading := next("RELOADING=1")
	after := monotonicUsec(t)
	rm := regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=([0-9]+)\nSTATUS=.+$`).FindStringSubmatch(reloading)
	if rm == nil {
		t.Fatalf("after SIGHUP: got %q; want RELOADING=1, MONOTONIC_USEC= and STATUS=", reloading)
	}
	if usec, _ := strconv.ParseUint(rm[1], 10, 64); usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%d; want within [%d, %d] (CLOCK_MONOTONIC around the SIGHUP)", usec, before, after)
	}
	if r := next("READY=1 after the reload"); !strings.HasPrefix(r, "READY=1\nSTATUS=running 1 pipelines; http "+addr+"; the last reload refused 1 files") {
		t.Errorf("after the reload: got %q; want READY=1 with the refusal in its status", r)
	}
	if code, body := ping(addr); code != http.StatusInternalServerError || !strings.Contains(body, `"UNHEALTHY"`) {
		t.Fatalf("/ping with a pipeline down: %d %s; want 500 UNHEALTHY", code, body)
	}
	if o, code := health(addr); code != 1 || !strings.HasPrefix(o, "unhealthy: ") || !strings.Contains(o, "500") {
		t.Errorf("mad -health-check of an unhealthy mad: exit %d %q; want 1", code, o)
	}

	// Fixed, the next reload is clean.
	must(t, os.Remove(filepath.Join(pipes, "q.conf")))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	if r := next("RELOADING=1"); !strings.HasPrefix(r, "RELOADING=1\n") {
		t.Errorf("after SIGHUP: got %q; want RELOADING=1", r)
	}
	if r, want := next("READY=1"), "READY=1\nSTATUS=running 1 pipelines; http "+addr; r != want {
		t.Errorf("after the reload: got %q; want %q", r, want)
	}
	if o, code := health(addr); code != 0 {
		t.Errorf("mad -health-check after the fix: exit %d %q; want 0", code, o)
	}

	must(t, cmd.Process.Signal(syscall.SIGTERM))
	if r := next("STOPPING=1"); !strings.HasPrefix(r, "STOPPING=1\nSTATUS=") {
		t.Errorf("after SIGTERM: got %q; want STOPPING=1", r)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("mad did not exit after SIGTERM; output:\n%s", out.String())
	}
	if o, code := health(addr); code != 1 || !strings.Contains(o, "connection refused") {
		t.Errorf("mad -health-check of a stopped mad: exit %d %q; want 1, connection refused", code, o)
	}
}

// TestHealthCheckTimeout checks that mad -health-check gives up on a server
// that accepts the connection and never answers: exit 1 after its timeout,
// as a hung daemon must be reported.
func TestHealthCheckTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildMad(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	start := time.Now()
	o, code := runEnv(t, bin, nil, "-health-check", "http://"+ln.Addr().String()+"/ping")
	if code != 1 || !strings.HasPrefix(o, "unhealthy: ") || !strings.Contains(o, "Client.Timeout") {
		t.Errorf("mad -health-check of a server that never answers: exit %d %q; want 1 and a timeout", code, o)
	}
	if d := time.Since(start); d < healthCheckTimeout {
		t.Errorf("it gave up after %v, before its timeout %v", d, healthCheckTimeout)
	}
}

func monotonicUsec(t *testing.T) uint64 {
	t.Helper()
	var ts unix.Timespec
	must(t, unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts))
	return uint64(ts.Sec)*1_000_000 + uint64(ts.Nsec)/1_000
}
