//go:build linux

package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTicks = 100

// ProcCPU returns the user plus system CPU time of a process.
func ProcCPU(pid int) (time.Duration, error) {
	user, sys, err := ProcCPUTimes(pid)
	return user + sys, err
}

// ProcCPUTimes returns the user and the system CPU time of a process.
func ProcCPUTimes(pid int) (user, sys time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStat(string(b))
}

// parseStat reads utime and stime from a /proc/PID/stat line.
func parseStat(s string) (user, sys time.Duration, err error) {
	// The command name may contain spaces and ')': fields start after the
	// last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0, 0, fmt.Errorf("bad stat line %q", s)
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("short stat line %q", s)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bad stat times in %q", s)
	}
	return time.Duration(utime) * time.Second / clockTicks, time.Duration(stime) * time.Second / clockTicks, nil
}

// ProcMemory returns a process's resident memory and its peak, in bytes.
func ProcMemory(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return parseStatus(f)
}

// parseStatus reads VmRSS and VmHWM from /proc/PID/status.
func parseStatus(r io.Reader) (rss, peak int64, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			peak = n << 10
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in status")
	}
	return rss, peak, nil
}

// UDPDrops returns the datagrams the kernel dropped on every UDP socket
// bound to a local port (the drops column of /proc/net/udp and udp6).
func UDPDrops(port int) (uint64, error) {
	var total uint64
	found := false
	for _, path := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		n, err := parseNetUDP(f, port)
		f.Close()
		if err != nil {
			return 0, err
		}
		total += n
		found = true
	}
	if !found {
		return 0, fmt.Errorf("no /proc/net/udp")
	}
	return total, nil
}

// parseNetUDP sums the drops column of the sockets bound to port in a
// /proc/net/udp table.
func parseNetUDP(r io.Reader, port int) (uint64, error) {
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(r)
	sc.Scan() // header
	var total uint64
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 13 || !strings.HasSuffix(fields[1], want) {
			continue
		}
		n, err := strconv.ParseUint(fields[len(fields)-1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad drops in %q", sc.Text())
		}
		total += n
	}
	return total, sc.Err()
}

// countPort counts the sockets bound to port in a /proc/net/udp table.
func countPort(r io.Reader, port int) (int, error) {
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(r)
	sc.Scan() // header
	n := 0
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 1 && strings.HasSuffix(f[1], want) {
			n++
		}
	}
	return n, sc.Err()
}

// UDPErrors returns the machine's UDP receive-buffer errors and input
// errors (/proc/net/snmp, IPv4 and IPv6 added): the kernel's count of
// datagrams dropped for want of socket buffer, on every socket.
func UDPErrors() (rcvbuf, in uint64, err error) {
	for _, path := range []string{"/proc/net/snmp", "/proc/net/snmp6"} {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		b, i, err := parseSNMP(f)
		f.Close()
		if err != nil {
			return 0, 0, err
		}
		rcvbuf += b
		in += i
	}
	return rcvbuf, in, nil
}

// parseSNMP reads the Udp RcvbufErrors and InErrors counters from
// /proc/net/snmp (a header line of names, then a line of values) or
// /proc/net/snmp6 (one "Udp6RcvbufErrors value" pair per line).
func parseSNMP(r io.Reader) (rcvbuf, in uint64, err error) {
	sc := bufio.NewScanner(r)
	var header []string
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "Udp:" && header == nil:
			header = f
		case f[0] == "Udp:":
			for i := 1; i < len(f) && i < len(header); i++ {
				n, _ := strconv.ParseUint(f[i], 10, 64)
				switch header[i] {
				case "RcvbufErrors":
					rcvbuf = n
				case "InErrors":
					in = n
				}
			}
			header = nil
		case len(f) == 2 && f[0] == "Udp6RcvbufErrors":
			rcvbuf, _ = strconv.ParseUint(f[1], 10, 64)
		case len(f) == 2 && f[0] == "Udp6InErrors":
			in, _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	return rcvbuf, in, sc.Err()
}
