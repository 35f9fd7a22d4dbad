//go:build linux

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/gomad/mad/bench"
)

// result is one fault's figures.
type result struct {
	Fault string
	// Sent, Emitted and Dropped say what went in, what came out and what
	// mad counted as dropped (or refused), in the fault's own units.
	Sent, Emitted, Dropped string
	Mem                    memory
	Ping                   pingStats
	// Valid is how the valid traffic sent alongside came out.
	Valid string
	// Failed lists the properties the fault must keep that did not hold;
	// empty: everything held.
	Failed []string
	// Details are Markdown lines printed under the fault's heading.
	Details []string
	Err     error
	took    time.Duration
}

func (r *result) fail(format string, args ...any) {
	r.Failed = append(r.Failed, fmt.Sprintf(format, args...))
}

func (r *result) detail(format string, args ...any) {
	r.Details = append(r.Details, fmt.Sprintf(format, args...))
}

func (r result) verdict() string {
	switch {
	case r.Err != nil:
		return "ERROR: " + r.Err.Error()
	case len(r.Failed) > 0:
		return "**no**: " + strings.Join(r.Failed, "; ")
	}
	return "yes"
}

// errResult is a fault that could not run.
func errResult(fault string, err error) []result {
	return []result{{Fault: fault, Err: err}}
}

func cell(s string) string {
	if s == "" {
		return "n/a"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

// report renders the results: the environment, a summary table and each
// fault's details.
func report(env bench.Environment, scale float64, rs []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Environment: %s\n\n", env)
	fmt.Fprintf(&b, "Scale %g (durations and counts of the full campaign multiplied by it). The machine is shared: other jobs ran beside the campaign, so latencies and rates are upper and lower bounds of an idle machine's.\n\n", scale)
	b.WriteString("| fault | sent | emitted | counted as dropped | RSS MiB before / peak / after | /ping p50 / p99 / max | valid traffic alongside | held |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		mem := "n/a"
		if r.Mem.Peak > 0 {
			mem = r.Mem.String()
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(r.Fault), cell(r.Sent), cell(r.Emitted), cell(r.Dropped),
			mem, cell(r.Ping.String()), cell(r.Valid), cell(r.verdict()))
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "\n### %s\n\n", r.Fault)
		if r.Err != nil {
			fmt.Fprintf(&b, "Could not run: %v\n", r.Err)
			continue
		}
		for _, d := range r.Details {
			b.WriteString(d)
			b.WriteByte('\n')
		}
		if r.Ping.FirstFailure != "" {
			fmt.Fprintf(&b, "\nFirst /ping failure: %s\n", r.Ping.FirstFailure)
		}
		fmt.Fprintf(&b, "\nHeld: %s (run took %s)\n", r.verdict(), r.took.Round(time.Second))
	}
	return b.String()
}

// n formats a count with thousands separators.
func n[T ~int | ~int64 | ~uint64 | ~float64](v T) string {
	s := fmt.Sprintf("%d", int64(v))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
