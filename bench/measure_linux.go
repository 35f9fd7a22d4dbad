//go:build linux

package bench

import (
	"fmt"
	"strings"
	"time"
)

// Target is a StatsD daemon to measure, found by PID and UDP port.
type Target struct {
	Name string
	PID  int
	Addr string // host:port to send to
	Port int
}

// Result is one measured run.
type Result struct {
	Target            string
	Datagrams         int
	LinesSent         int
	KernelDrops       uint64  // datagrams
	LinesReceived     float64 // sent minus the lines of dropped datagrams (average size)
	CPU               time.Duration
	LinesPerCPUSecond float64
	RSS, PeakRSS      int64
	Send, Drain       time.Duration
}

// Measure sends count datagrams of p to t and measures the target's CPU
// from the first datagram until it has drained its backlog (its CPU use
// stays under 5 % of a core for 300 ms), the datagrams the kernel dropped
// on its port, and its memory.
func Measure(t Target, p *Payloads, count, sockets int) (Result, error) {
	r := Result{Target: t.Name, Datagrams: count, LinesSent: p.TotalLines(count)}
	cpu0, err := ProcCPU(t.PID)
	if err != nil {
		return r, err
	}
	drops0, _ := UDPDrops(t.Port)
	start := time.Now()
	if err := SendUDP(t.Addr, sockets, p, count); err != nil {
		return r, err
	}
	r.Send = time.Since(start)
	prev, idle := cpu0, 0
	for deadline := time.Now().Add(120 * time.Second); idle < 3; {
		time.Sleep(100 * time.Millisecond)
		c, err := ProcCPU(t.PID)
		if err != nil {
			return r, err
		}
		if c-prev < 5*time.Millisecond {
			idle++
		} else {
			idle = 0
		}
		prev = c
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%s did not drain in 120 s", t.Name)
		}
	}
	r.Drain = time.Since(start) - r.Send - 300*time.Millisecond
	r.CPU = prev - cpu0
	drops1, _ := UDPDrops(t.Port)
	r.KernelDrops = drops1 - drops0
	avg := float64(r.LinesSent) / float64(count)
	r.LinesReceived = float64(r.LinesSent) - float64(r.KernelDrops)*avg
	if r.CPU > 0 {
		r.LinesPerCPUSecond = r.LinesReceived / r.CPU.Seconds()
	}
	r.RSS, r.PeakRSS, err = ProcMemory(t.PID)
	return r, err
}

// Table formats results as a Markdown table.
func Table(rs []Result) string {
	var b strings.Builder
	b.WriteString("| target | lines sent | kernel drops (datagrams) | CPU s | lines per CPU-second | RSS MB | peak RSS MB | drain s |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %d | %d | %.2f | %.2f M | %.0f | %.0f | %.1f |\n", r.Target, r.LinesSent, r.KernelDrops,
			r.CPU.Seconds(), r.LinesPerCPUSecond/1e6, float64(r.RSS)/1e6, float64(r.PeakRSS)/1e6, r.Drain.Seconds())
	}
	return b.String()
}
