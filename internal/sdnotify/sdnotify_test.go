//go:build linux

package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listen opens a datagram socket at name (a path, or @name for the
// abstract namespace), as the service manager does.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func monotonic(t *testing.T) uint64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Sec)*1_000_000 + uint64(ts.Nsec)/1_000
}

func TestNotify(t *testing.T) {
	abstract := "@mad-sdnotify-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), abstract} {
		t.Run(name, func(t *testing.T) {
			c := listen(t, name)
			t.Setenv(Env, name)
			s, err := FromEnv()
			if err != nil || s == nil {
				t.Fatalf("FromEnv: %v, %v", s, err)
			}
			if v, set := os.LookupEnv(Env); set {
				t.Errorf("%s still set to %q", Env, v)
			}
			if err := s.Ready("up: http 127.0.0.1:1\nsecond line"); err != nil {
				t.Fatal(err)
			}
			if got, want := recv(t, c), "READY=1\nSTATUS=up: http 127.0.0.1:1 second line"; got != want {
				t.Errorf("got %q; want %q", got, want)
			}
			before := monotonic(t)
			if err := s.Reloading("reloading"); err != nil {
				t.Fatal(err)
			}
			after := monotonic(t)
			got := recv(t, c)
			lines := strings.Split(got, "\n")
			if len(lines) != 3 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") || lines[2] != "STATUS=reloading" {
				t.Fatalf("got %q; want RELOADING=1, MONOTONIC_USEC= and STATUS=", got)
			}
			usec, err := strconv.ParseUint(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
			if err != nil || usec < before || usec > after {
				t.Errorf("MONOTONIC_USEC %s: got %d (%v); want within [%d, %d]", lines[1], usec, err, before, after)
			}
			if err := s.Stopping("stopping"); err != nil {
				t.Fatal(err)
			}
			if got, want := recv(t, c), "STOPPING=1\nSTATUS=stopping"; got != want {
				t.Errorf("got %q; want %q", got, want)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		value   string
		nilSock bool
		err     bool
	}{
		{value: "", nilSock: true},
		{value: "vsock:2:1234", nilSock: true, err: true},
		{value: "relative/notify", nilSock: true, err: true},
		{value: "/run/nothing-listens-here"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Setenv(Env, tc.value)
			s, err := FromEnv()
			if (s == nil) != tc.nilSock || (err != nil) != tc.err {
				t.Fatalf("got %v, %v; want nil socket %v, error %v", s, err, tc.nilSock, tc.err)
			}
			if s != nil {
				// Nothing listens: the datagram cannot be sent.
				if err := s.Ready("x"); err == nil {
					t.Errorf("Ready to a socket nobody listens on: got nil; want an error")
				}
				return
			}
			// A nil socket sends nothing and never fails.
			if err := s.Ready("x"); err != nil {
				t.Errorf("nil socket: got %v; want nil", err)
			}
		})
	}
}
