//go:build linux

// Command madfault is mad's fault campaign (issue 14, RELIABILITY.md): it
// builds mad, runs it on loopback on generated configurations, injects
// each fault and records what was sent, what was emitted, what mad counted
// as dropped, its resident memory before, at the peak and after, /ping's
// latency throughout, and whether valid traffic sent alongside came out
// exact. It writes the results as Markdown.
//
//	go run ./cmd/madfault -out RELIABILITY-results.md              # the full campaign (about 20 minutes)
//	go run ./cmd/madfault -scale 0.1 -out /tmp/quick.md            # every fault, durations and counts ×0.1
//	go run ./cmd/madfault -faults cagg,kill -scale 0.1             # some faults
//
// Faults: cagg (Cluster Aggregator targets refusing and hung, HTTP and TCP
// sinks), jsonlines (a full disk, a FIFO and standard output whose readers
// go away), overload (ten times the sustainable rate on UDP, TCP and HTTP),
// cardinality (10 M distinct series), kill (SIGKILL mid-period and
// restart, then SIGTERM).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gomad/mad/bench"
)

// allFaults are the faults in the order they run.
var allFaults = []string{"cagg", "jsonlines", "overload", "cardinality", "kill"}

// campaign is what every fault needs: the mad binary, a directory of its
// own, and the scale of durations and counts.
type campaign struct {
	bin, dir string
	scale    float64
	cpus     []int   // mad's CPUs (nil: any)
	loadCPUs []int   // mad's CPUs in the overload fault
	rate     float64 // sustainable lines per second; 0: measure it
	series   int     // distinct series of the cardinality fault
	log      func(format string, args ...any)
}

// dur scales a full-campaign duration, never below floor.
func (c *campaign) dur(full, floor time.Duration) time.Duration {
	return max(floor, time.Duration(float64(full)*c.scale))
}

// count scales a full-campaign count, never below floor.
func (c *campaign) count(full, floor int) int {
	return max(floor, int(float64(full)*c.scale))
}

// subdir returns a fresh directory for one run.
func (c *campaign) subdir(name string) (string, error) {
	d := filepath.Join(c.dir, name)
	if err := os.RemoveAll(d); err != nil {
		return "", err
	}
	return d, os.MkdirAll(d, 0o755)
}

func main() {
	out := flag.String("out", "", "write the results (Markdown) here; standard output if empty")
	scale := flag.Float64("scale", 1, "multiply every duration and count by this (0.1: a quick run of a few minutes)")
	faults := flag.String("faults", strings.Join(allFaults, ","), "comma-separated faults to run: "+strings.Join(allFaults, ", "))
	bin := flag.String("mad", "", "the mad binary (default: built from this module into the work directory)")
	dir := flag.String("dir", "", "work directory (default: a new temporary directory, removed at the end unless -keep)")
	keep := flag.Bool("keep", false, "keep the work directory (mad's logs and configurations)")
	rate := flag.Float64("rate", 0, "mad's sustainable rate in lines per second for the overload fault (default: measured first)")
	series := flag.Int("series", 10_000_000, "distinct series of the cardinality fault (before -scale)")
	cpus := flag.String("mad-cpus", "", "bind mad to these CPUs (comma-separated; default: any)")
	loadCPUs := flag.String("overload-cpus", "", "bind mad to these CPUs in the overload fault, leaving the others to the senders (default: the first half of the usable CPUs)")
	flag.Parse()
	cpuList, err := parseCPUs(*cpus)
	if err != nil {
		fmt.Fprintf(os.Stderr, "madfault: -mad-cpus: %v\n", err)
		os.Exit(2)
	}
	loadList, err := parseCPUs(*loadCPUs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "madfault: -overload-cpus: %v\n", err)
		os.Exit(2)
	}
	if loadList == nil {
		loadList = halfCPUs()
	}
	if err := run(*out, *scale, *faults, *bin, *dir, *keep, *rate, *series, cpuList, loadList); err != nil {
		fmt.Fprintln(os.Stderr, "madfault:", err)
		os.Exit(1)
	}
}

// parseCPUs reads a comma-separated list of CPU numbers (nil if empty).
func parseCPUs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		c, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// halfCPUs returns the first half (at least one) of the CPUs this process
// may run on.
func halfCPUs() []int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return nil
	}
	var cpus []int
	for i := 0; i < len(set)*64 && len(cpus) < set.Count(); i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus[:max(1, len(cpus)/2)]
}

func run(out string, scale float64, faults, bin, dir string, keep bool, rate float64, series int, cpus, loadCPUs []int) error {
	if scale <= 0 {
		return fmt.Errorf("-scale must be positive")
	}
	var names []string
	for _, f := range strings.Split(faults, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if faultFunc(f) == nil {
			return fmt.Errorf("unknown fault %q (have %s)", f, strings.Join(allFaults, ", "))
		}
		names = append(names, f)
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "madfault-")
		if err != nil {
			return err
		}
		dir = d
		if !keep {
			defer os.RemoveAll(d)
		}
	}
	c := &campaign{dir: dir, scale: scale, rate: rate, cpus: cpus, loadCPUs: loadCPUs, series: max(1, int(float64(series)*scale)),
		log: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}}
	if bin == "" {
		bin = filepath.Join(dir, "mad")
		c.log("building mad into %s", bin)
		if b, err := exec.Command("go", "build", "-o", bin, "./cmd/mad").CombinedOutput(); err != nil {
			return fmt.Errorf("building mad: %v\n%s", err, b)
		}
	}
	c.bin = bin
	env := bench.Env(os.Args)
	var results []result
	for _, f := range names {
		c.log("fault %s", f)
		start := time.Now()
		rs := faultFunc(f)(c)
		for i := range rs {
			rs[i].took = time.Since(start)
			c.log("  %s: %s", rs[i].Fault, rs[i].verdict())
		}
		results = append(results, rs...)
	}
	text := report(env, scale, results)
	if out == "" {
		_, err := os.Stdout.WriteString(text)
		return err
	}
	return os.WriteFile(out, []byte(text), 0o644)
}

// faultFunc returns the function that runs a fault, nil if there is none.
func faultFunc(name string) func(*campaign) []result {
	switch name {
	case "cagg":
		return faultCAgg
	case "jsonlines":
		return faultJSONLines
	case "overload":
		return faultOverload
	case "cardinality":
		return faultCardinality
	case "kill":
		return faultKill
	}
	return nil
}
