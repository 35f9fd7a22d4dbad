// Package sdnotify is the sending side of systemd's service notification
// protocol (sd_notify(3)), which a unit of Type=notify or Type=notify-reload
// relies on: the service manager passes the address of a datagram socket in
// $NOTIFY_SOCKET, and the service sends it newline-separated VAR=VALUE
// assignments, one datagram per notification:
//
//	READY=1                      start-up (or a reload) is complete
//	RELOADING=1                  a reload begins; MONOTONIC_USEC= says when
//	STOPPING=1                   shutdown begins
//	STATUS=…                     one line for `systemctl status`
//
// The address is a file system path ("/run/systemd/notify") or, with a
// leading '@', a name in the abstract namespace. Outside systemd the
// variable is unset and every call does nothing. The protocol is small
// enough that a dependency (go-systemd's daemon package) would be larger
// than the code.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Env is the environment variable holding the socket's address.
const Env = "NOTIFY_SOCKET"

// Socket is the service manager's notification socket. A nil *Socket is
// valid and sends nothing.
type Socket struct {
	addr *net.UnixAddr
}

// FromEnv returns the socket named by $NOTIFY_SOCKET, nil when the variable
// is unset or empty. It unsets the variable, as sd_notify's
// unset_environment does, so that no process started later notifies in
// the service's name. An address other than an absolute path or an
// abstract '@' name (systemd's "vsock:" addresses) is an error.
func FromEnv() (*Socket, error) {
	name := os.Getenv(Env)
	os.Unsetenv(Env)
	if name == "" {
		return nil, nil
	}
	if !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "@") {
		return nil, fmt.Errorf("cannot use %s=%q: only a path or an abstract @name is supported", Env, name)
	}
	// The net package maps a leading '@' to the abstract namespace's NUL.
	return &Socket{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}, nil
}

// Send sends state, newline-separated VAR=VALUE assignments, as one
// datagram.
func (s *Socket) Send(state string) error {
	if s == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, s.addr)
	if err != nil {
		return fmt.Errorf("cannot notify %s: %w", s.addr.Name, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("cannot notify %s: %w", s.addr.Name, err)
	}
	return nil
}

// Ready says that the service is up (after start-up or a reload), with a
// status line.
func (s *Socket) Ready(status string) error {
	return s.Send("READY=1\nSTATUS=" + oneLine(status))
}

// Reloading says that a reload begins, with the time it began on
// CLOCK_MONOTONIC (MONOTONIC_USEC, which Type=notify-reload requires);
// Ready says when it is over.
func (s *Socket) Reloading(status string) error {
	msg := "RELOADING=1\n"
	if usec, ok := monotonicUsec(); ok {
		msg += "MONOTONIC_USEC=" + strconv.FormatUint(usec, 10) + "\n"
	}
	return s.Send(msg + "STATUS=" + oneLine(status))
}

// Stopping says that shutdown begins.
func (s *Socket) Stopping(status string) error {
	return s.Send("STOPPING=1\nSTATUS=" + oneLine(status))
}

// oneLine keeps a status to one line: a newline would start an assignment.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
