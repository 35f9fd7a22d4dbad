package bench

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Table formats results as one Markdown table, a row per run (target ×
// workload × rate), a column per figure. Figures a run could not measure
// print as "n/a".
func Table(rs []Result) string {
	var b strings.Builder
	b.WriteString("| target | workload | rate | lines sent | lines/s sent | kernel drops | internal loss | end-to-end | CPU s | lines per CPU-s | CPU s to exit | lines per CPU-s to exit | RSS MB (peak) | B/series | drain s | user CPU s to exit | lines per user CPU-s to exit |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		rate := "max"
		if r.Rate > 0 && r.Sent.Messages > 0 {
			rate = formatTick(r.Rate*float64(r.Sent.Lines)/float64(r.Sent.Messages)) + "/s"
		}
		sentRate := 0.0
		if r.Sent.Elapsed > 0 {
			sentRate = float64(r.Sent.Lines) / r.Sent.Elapsed.Seconds()
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Target, r.Workload, rate, formatTick(float64(r.Sent.Lines)), formatTick(sentRate),
			r.kernelCell(), r.internalCell(), r.e2eCell(), r.cpuCell(),
			na(r.LinesPerCPUSecond > 0, func() string { return formatTick(r.LinesPerCPUSecond) }),
			na(r.CPUToExit > 0, func() string { return fmt.Sprintf("%.2f", r.CPUToExit.Seconds()) }),
			na(r.LinesPerCPUSecondToExit > 0, func() string { return formatTick(r.LinesPerCPUSecondToExit) }),
			na(r.RSS > 0, func() string { return fmt.Sprintf("%.0f (%.0f)", float64(r.RSS)/1e6, float64(r.HWM)/1e6) }),
			na(r.RSS > 0 && r.BytesPerSeries > 0 && r.Series >= 10000, func() string { return fmt.Sprintf("%.0f", r.BytesPerSeries) }),
			na(r.CPU > 0, func() string { return fmt.Sprintf("%.1f", r.Drain.Seconds()) }),
			na(r.UserCPUToExit > 0, func() string { return fmt.Sprintf("%.2f", r.UserCPUToExit.Seconds()) }),
			na(r.UserCPUToExit > 0 && r.LinesReceived > 0, func() string { return formatTick(r.LinesReceived / r.UserCPUToExit.Seconds()) }))
	}
	return b.String()
}

func na(ok bool, f func() string) string {
	if !ok {
		return "n/a"
	}
	return f()
}

func (r Result) kernelCell() string {
	if r.Protocol != StatsDLines {
		return "n/a"
	}
	s := fmt.Sprintf("%d", r.KernelDrops)
	if r.Sent.Messages > 0 && r.KernelDrops > 0 {
		s += fmt.Sprintf(" (%.1f %%)", 100*float64(r.KernelDrops)/float64(r.Sent.Messages))
	}
	return s
}

func (r Result) internalCell() string {
	if r.Internal == nil {
		return "n/a"
	}
	l := r.Internal
	if l.Total() == 0 {
		return "0"
	}
	var parts []string
	for _, p := range []struct {
		what string
		n    float64
	}{{"ring", l.RingDropped}, {"refused", l.Refused}, {"rows dropped", l.RowsDropped}, {"sink rows dropped", l.SinkDropped}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", p.what, formatTick(p.n)))
		}
	}
	return strings.Join(parts, ", ")
}

func (r Result) e2eCell() string {
	refused := ""
	if n := len(r.Sent.Refused); n > 0 {
		var codes []string
		for code, k := range r.Sent.Status {
			if code/100 != 2 {
				what := fmt.Sprintf("HTTP %d", code)
				if code == 0 {
					what = "no answer"
				}
				if c, ok := grpcCode(code); ok {
					what = "gRPC " + c.String()
				}
				codes = append(codes, fmt.Sprintf("%s ×%d", what, k))
			}
		}
		slices.Sort(codes)
		refused = fmt.Sprintf("%d of %d requests refused (%s)", n, n+r.Sent.Messages, strings.Join(codes, ", "))
		if r.Sent.Messages == 0 {
			return refused
		}
		refused += "; "
	}
	if r.E2E == nil {
		return refused + "n/a"
	}
	return refused + r.e2eText()
}

func (r Result) e2eText() (text string) {
	e := r.E2E
	rejected := ""
	if r.Sent.Rejected > 0 {
		rejected = fmt.Sprintf(" (%d points rejected in partial_success)", r.Sent.Rejected)
	}
	if e.PointsOnly {
		if e.Expected == e.Emitted {
			return fmt.Sprintf("all %s points counted%s", formatTick(e.Expected), rejected)
		}
		return fmt.Sprintf("%s of %s points counted%s", formatTick(e.Emitted), formatTick(e.Expected), rejected)
	}
	if r.Sent.Rejected > 0 {
		defer func() { text += rejected }()
	}
	if e.Series == 0 {
		return "n/a (no series to check)"
	}
	if e.Exact() {
		return fmt.Sprintf("exact (%d series)", e.Series)
	}
	s := fmt.Sprintf("%.3f %% lost", 100*e.Lost())
	if e.Expected == 0 && e.CounterExpected > 0 {
		s = fmt.Sprintf("%.3f %% of counter total lost", 100*(e.CounterExpected-e.CounterEmitted)/e.CounterExpected)
	}
	if e.Missing > 0 || e.Wrong > 0 {
		s += fmt.Sprintf(", %d missing, %d off of %d series", e.Missing, e.Wrong, e.Series)
	}
	return s
}

func (r Result) cpuCell() string {
	if r.CPU == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", r.CPU.Seconds())
}

// Loss is the share of the lines sent that did not come out, by the best
// evidence the run has: the end-to-end comparison if there is one, else
// the kernel's and the internal counts.
func (r Result) Loss() float64 {
	if r.E2E != nil && r.E2E.Expected > 0 {
		return r.E2E.Lost()
	}
	if r.Sent.Lines == 0 {
		return 0
	}
	lost := float64(r.Sent.Lines) - r.LinesReceived
	if r.Internal != nil {
		lost += r.Internal.Total()
	}
	return lost / float64(r.Sent.Lines)
}

// Latency summarises period-end-to-sink latencies and percentile errors.
type Latency struct {
	Periods          int
	Rows             int
	P50, P99, Max    time.Duration
	Probes           int
	MeanErr, MaxErr  float64 // relative percentile error
	ErrByStat        map[string]float64
	ProbeRowsMissing int
}

func (l Latency) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "period end to sink: p50 %v, p99 %v, max %v over %d rows of %d periods",
		l.P50.Round(time.Millisecond), l.P99.Round(time.Millisecond), l.Max.Round(time.Millisecond), l.Rows, l.Periods)
	if l.Probes > 0 {
		fmt.Fprintf(&b, "; percentile relative error over %d probe rows: mean %.3f %%, max %.3f %%", l.Probes, 100*l.MeanErr, 100*l.MaxErr)
		for _, k := range []string{"median", "tp90", "tp99"} {
			if v, ok := l.ErrByStat[k]; ok {
				fmt.Fprintf(&b, ", %s max %.3f %%", k, 100*v)
			}
		}
		if l.ProbeRowsMissing > 0 {
			fmt.Fprintf(&b, "; %d probe rows missing", l.ProbeRowsMissing)
		}
	}
	return b.String()
}

// OTLPTable formats OTLP runs as one Markdown table: per run the requests
// and data points sent and their rates, the end-to-end check, the
// target's CPU, data points per CPU-second, heap allocated per request
// (where the target reports it) and resident memory after the run and at
// its peak; then, per workload and protocol, mad's data points per
// CPU-second against otelcol's.
func OTLPTable(rs []Result) string {
	var b strings.Builder
	b.WriteString("| target | protocol | workload | rate | requests | requests/s | points | points/s | end-to-end | CPU s | points per CPU-s | heap per request | RSS MB (peak) | drain s | generator CPU s |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		rate := "max"
		if r.Rate > 0 && r.Sent.Messages > 0 {
			rate = formatTick(r.Rate*float64(r.Sent.Lines)/float64(r.Sent.Messages)) + "/s"
		}
		perSec := func(n float64) string {
			if r.Sent.Elapsed <= 0 {
				return "n/a"
			}
			return formatTick(n / r.Sent.Elapsed.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Target, r.Protocol, r.Workload, rate,
			formatTick(float64(r.Sent.Messages)), perSec(float64(r.Sent.Messages)),
			formatTick(float64(r.Sent.Lines)), perSec(float64(r.Sent.Lines)),
			r.e2eCell(), r.cpuCell(),
			na(r.LinesPerCPUSecond > 0, func() string { return formatTick(r.LinesPerCPUSecond) }),
			na(r.AllocKnown && r.Sent.Messages > 0, func() string { return formatBytes(r.AllocBytes / float64(r.Sent.Messages)) }),
			na(r.RSS > 0, func() string { return fmt.Sprintf("%.0f (%.0f)", float64(r.RSS)/1e6, float64(r.HWM)/1e6) }),
			na(r.CPU > 0, func() string { return fmt.Sprintf("%.1f", r.Drain.Seconds()) }),
			na(r.GenCPU > 0, func() string { return fmt.Sprintf("%.2f", r.GenCPU.Seconds()) }))
	}
	type key struct {
		workload string
		proto    Protocol
	}
	var keys []key
	seen := map[key]bool{}
	mad, peer := map[key]float64{}, map[key]float64{}
	for _, r := range rs {
		k := key{r.Workload, r.Protocol}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
		switch r.Target {
		case "mad":
			mad[k] = r.LinesPerCPUSecond
		case "otelcol":
			peer[k] = r.LinesPerCPUSecond
		}
	}
	first := true
	for _, k := range keys {
		if mad[k] > 0 && peer[k] > 0 {
			if first {
				b.WriteString("\n")
				first = false
			}
			fmt.Fprintf(&b, "- %s, %s: mad %s points per CPU-second, %.1f× otelcol's %s\n", k.workload, k.proto, formatTick(mad[k]), mad[k]/peer[k], formatTick(peer[k]))
		}
	}
	return b.String()
}

// formatBytes writes a byte count with a binary unit.
func formatBytes(n float64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}
