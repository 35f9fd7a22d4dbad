package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// A StatsD source on a Unix datagram socket (UDPConfig.UnixPath) is a UDP
// source whose one socket is bound at a path instead of an address: the
// same loop reads it with recvmmsg into the same buffers and decodes it
// with the same decoder. What differs is opening and closing it:
//
//   - A file left at the path by a process that died (a socket nobody
//     serves: connecting to it is refused) is removed before binding. A
//     socket some process serves, and anything that is not a socket, is
//     left alone and the source does not start.
//   - The kernel never drops a datagram on a Unix socket: a sender whose
//     datagram the receive queue (net.unix.max_dgram_qlen datagrams) has no
//     room for waits, or gets EAGAIN. So there is no receive buffer to
//     size and no kernel drop to count; a source that cannot keep up slows
//     its senders, who see it (datadog-go drops after its write timeout and
//     counts it).
//   - Stop refuses new datagrams by shutting the socket down for reading
//     (senders get EPIPE; a socket filter, as on UDP, would make the kernel
//     discard them while telling the sender they were sent), drains what
//     is queued, and removes the socket file, if it is still the one the
//     source bound.
//   - No SO_REUSEPORT: one socket, one loop, which also keeps each sender's
//     datagrams in order.

// DefaultUnixMode is a Unix socket file's permissions unless configured:
// anyone on the host may send (a sender needs write permission), as anyone
// may send to a UDP port, and as the Datadog Agent's socket (0722) allows;
// only the owner may read or change it (read and execute mean nothing on a
// socket).
const DefaultUnixMode os.FileMode = 0o622

// MaxUnixPath is the longest socket path Linux binds: sun_path is 108
// bytes with the terminating NUL.
const MaxUnixPath = 107

// ValidateUnixPath checks that path can name a Unix socket file.
func ValidateUnixPath(path string) error {
	switch {
	case path == "":
		return errors.New("empty unix socket path")
	case len(path) > MaxUnixPath:
		return fmt.Errorf("unix socket path %q is %d bytes long; at most %d fit in a socket address", path, len(path), MaxUnixPath)
	case strings.IndexByte(path, 0) >= 0:
		return fmt.Errorf("unix socket path %q holds a NUL byte", path)
	case path[0] == '@':
		return fmt.Errorf("unix socket path %q is in the abstract namespace, which has no file permissions: not supported", path)
	}
	return nil
}

// CheckUnixPath checks, without binding or removing anything, that a
// socket could be bound at path: its directory exists, and the path is
// free or a socket (live or stale: ListenUDP tells them apart). For
// mad -check-config.
func CheckUnixPath(path string) error {
	if err := ValidateUnixPath(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("unix socket %s: cannot use its directory: %w", path, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("unix socket %s: %s is not a directory", path, dir)
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unix socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("unix socket %s: the path exists and is not a socket (%s)", path, fi.Mode().Type())
	}
	return nil
}

// listenUnixgram binds a Unix datagram socket at path, with the file's
// permissions set to mode, once a stale socket file there is removed
// (removeStaleSocket). It returns the socket and what it bound, to remove
// that file and not another at the end.
func listenUnixgram(path string, mode os.FileMode) (net.PacketConn, os.FileInfo, error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, nil, err
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, nil, err
	}
	// Between bind and chmod the file has the umask's permissions.
	fi, err := os.Lstat(path)
	if err == nil {
		err = os.Chmod(path, mode)
	}
	if err != nil {
		conn.Close()
		removeSocketFile(path, fi)
		return nil, nil, err
	}
	return conn, fi, nil
}

// removeStaleSocket removes what is at path if it is a socket nobody
// serves: connecting to it is refused (its process is gone). It refuses
// with an error to remove anything else: a socket some process serves
// (connecting succeeds, or says it is of another type), a socket it cannot
// tell about (connecting is not permitted), anything that is not a socket.
// A process that starts serving the path between the check and the removal
// loses it: two daemons started at once on a stale socket are not told
// apart.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket (%s): not removed", path, fi.Mode().Type())
	}
	c, err := net.Dial("unixgram", path)
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("%s is a socket another process serves", path)
	case errors.Is(err, syscall.EPROTOTYPE):
		return fmt.Errorf("%s is a socket of another type (not datagrams) another process serves", path)
	case !errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s is a socket that may be served (not removed): %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot remove the stale socket %s: %w", path, err)
	}
	return nil
}

// removeSocketFile removes the file at path if it is still bound, the one
// a source bound: not one another process bound there since.
func removeSocketFile(path string, bound os.FileInfo) {
	if bound == nil {
		return
	}
	if fi, err := os.Lstat(path); err == nil && os.SameFile(fi, bound) {
		os.Remove(path)
	}
}

// removeUnixFile removes the source's socket file, once. Under ctl, or
// before the source is returned.
func (s *UDPSource) removeUnixFile() {
	removeSocketFile(s.cfg.UnixPath, s.unixFile)
	s.unixFile = nil
}

// chmodUnixFile gives the source's socket file mode (0: DefaultUnixMode),
// if it has another. Under ctl.
func (s *UDPSource) chmodUnixFile(mode os.FileMode) {
	if mode == 0 {
		mode = DefaultUnixMode
	}
	if s.unixFile == nil || mode == s.unixMode {
		return
	}
	err := errors.New("it is no longer the socket the source bound")
	if fi, lerr := os.Lstat(s.cfg.UnixPath); lerr != nil {
		err = lerr
	} else if os.SameFile(fi, s.unixFile) {
		err = os.Chmod(s.cfg.UnixPath, mode)
	}
	if err != nil {
		s.cfg.Log.Warn("unix socket's mode not changed", "source", s.cfg.Name, "path", s.cfg.UnixPath, "mode", fmt.Sprintf("%#o", mode), "err", err)
		return
	}
	s.unixMode = mode
}
