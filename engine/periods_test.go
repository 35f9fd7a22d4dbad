package engine

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
)

// A reload that changes how a pipeline aggregates must not cut the buckets
// that are open across it: each (metric, period, start) is emitted once,
// with everything sent into it before and after the reload.
//
// Every line the tests send carries the same record time (a DogStatsD |T
// timestamp an hour ahead, on a 5-minute boundary), so that all of them fall
// into one bucket of each period whenever the test runs, and no bucket
// expires before the daemon stops and seals them: the buckets straddle the
// reload by construction, not by timing.

// reloadRun is one daemon over a pipeline file, a TCP StatsD source and
// JSON-lines output, reloaded once between two parts of traffic.
type reloadRun struct {
	t       *testing.T
	pipes   string
	out     string
	port    string // the TCP source's, once bound
	d       *Daemon
	stamp   int64 // record time of every line (s)
	sent    uint64
	source  *ingest.TCPSource
	stopped bool
}

func startReloadRun(t *testing.T, settings, source string) *reloadRun {
	t.Helper()
	dir := t.TempDir()
	r := &reloadRun{t: t, pipes: filepath.Join(dir, "pipelines"), out: filepath.Join(dir, "out"), port: "0",
		stamp: (time.Now().Add(time.Hour).Unix() / 300) * 300}
	must(t, os.Mkdir(r.pipes, 0o755))
	must(t, os.Mkdir(r.out, 0o755))
	r.write(1, settings, source)
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\n", r.pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	t.Cleanup(func() {
		if !r.stopped {
			d.Stop()
		}
	})
	r.source = pipeline.SourcesOf[*ingest.TCPSource](d.Pipelines()[0])[0]
	r.port = portOf(r.source.Addr().String())
	return r
}

// write writes version v of the pipeline: settings (periods, statistics)
// and the source, whose %s is the TCP source.
func (r *reloadRun) write(v int, settings, source string) {
	r.t.Helper()
	tcp := fmt.Sprintf(`{ type=TcpLineSource, name=tcp, actorName=tcp, host="127.0.0.1", port=%s, parser={ type=StatsdToRecordParser } }`, r.port)
	writeFile(r.t, r.pipes, "p.conf", fmt.Sprintf("name=p\n%s\nsources=[%s]\nsinks=[{ type=JsonLinesSink, name=out, path=%q }]\n",
		settings, fmt.Sprintf(source, tcp), filepath.Join(r.out, fmt.Sprintf("p-%d.jsonl", v))))
}

// send sends one line per value of each metric: a counter of 1s, a timer
// and a gauge of the values, all at the run's record time, and waits until
// the source has parsed them.
func (r *reloadRun) send(values []int) {
	r.t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+r.port)
	must(r.t, err)
	var b strings.Builder
	for _, v := range values {
		fmt.Fprintf(&b, "straddle.count:1|c|T%d\nstraddle.time:%d|h|T%d\nstraddle.gauge:%d|g|T%d\n", r.stamp, v, r.stamp, v, r.stamp)
	}
	_, err = c.Write([]byte(b.String()))
	must(r.t, err)
	must(r.t, c.Close())
	r.sent += 3 * uint64(len(values))
	waitUntil(r.t, "the lines sent", 30*time.Second, func() bool { return r.source.Stats().Lines[0] >= r.sent })
}

// reload writes version 2 and reloads it. The TCP source keeps its port
// whether it is retargeted or replaced.
func (r *reloadRun) reload(settings, source string) {
	r.t.Helper()
	r.write(2, settings, source)
	if res := r.d.Reload(); len(res.Updated) != 1 || len(res.Errors) != 0 {
		r.t.Fatalf("reload: %+v", res)
	}
	if got := pipeline.SourcesOf[*ingest.TCPSource](r.d.Pipelines()[0])[0]; got != r.source {
		// Replaced (another shape): the new one counts from zero.
		r.source, r.sent = got, 0
	}
}

// emitted stops the daemon (sealing every bucket) and returns what was
// emitted, by "metric period start": every emission of that key.
func (r *reloadRun) emitted() map[string][]jsonLine {
	r.t.Helper()
	r.stopped = true
	must(r.t, r.d.Stop())
	return r.output()
}

// waitEmitted waits until key has been emitted while the daemon runs.
func (r *reloadRun) waitEmitted(key string) {
	r.t.Helper()
	waitUntil(r.t, key+" emitted", 30*time.Second, func() bool { return len(r.output()[key]) > 0 })
}

// output returns what has been written so far (see emitted).
func (r *reloadRun) output() map[string][]jsonLine {
	r.t.Helper()
	files, _ := filepath.Glob(filepath.Join(r.out, "*.jsonl"))
	sort.Strings(files)
	got := map[string][]jsonLine{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(r.t, err)
		for _, l := range parseLines(r.t, string(b)) {
			if strings.HasPrefix(l.Metric, "straddle.") {
				k := l.Metric + " " + l.Period + " " + l.Start
				got[k] = append(got[k], l)
			}
		}
	}
	return got
}

// start is the emitted start of the run's buckets.
func (r *reloadRun) start() string {
	return time.Unix(r.stamp, 0).UTC().Format("2006-01-02T15:04:05Z")
}

func span(from, to int) []int {
	var v []int
	for i := from; i <= to; i++ {
		v = append(v, i)
	}
	return v
}

// stat returns statistic name of l, failing if it is missing.
func stat(t *testing.T, l jsonLine, name string) float64 {
	t.Helper()
	v := l.Statistics[name]
	if v == nil {
		t.Fatalf("%s %s: no %s in %v", l.Metric, l.Period, name, l.Statistics)
	}
	return *v
}

// once returns the only emission of key, failing if there is not exactly
// one.
func once(t *testing.T, got map[string][]jsonLine, key string) jsonLine {
	t.Helper()
	ls := got[key]
	if len(ls) != 1 {
		var parts []string
		for _, l := range ls {
			var st []string
			for k, v := range l.Statistics {
				st = append(st, fmt.Sprintf("%s=%v", k, *v))
			}
			sort.Strings(st)
			parts = append(parts, strings.Join(st, " "))
		}
		t.Fatalf("%s emitted %d times; want once: %s", key, len(ls), strings.Join(parts, " | "))
	}
	return ls[0]
}

// TestReloadPeriodsEmitEachBucketOnce: [PT1S, PT1M] → [PT1M, PT5M]. The
// PT1M buckets are open across the reload and are emitted once with both
// parts; the PT1S buckets (period removed) hold the first part and are
// emitted at the reload, an hour before they expire; the PT5M buckets
// (period added) hold the second. Percentiles cover both parts, so the
// bucket was not merged from two summaries.
func TestReloadPeriodsEmitEachBucketOnce(t *testing.T) {
	const stats = `timerStatistics=["count", "median", "tp99", "max"]` + "\n" + `gaugeStatistics=["min", "max", "count"]` + "\n"
	r := startReloadRun(t, `periods=["PT1S", "PT1M"]`+"\n"+stats, "%s")
	r.send(span(1, 100))
	r.reload(`periods=["PT1M", "PT5M"]`+"\n"+stats, "%s")
	r.waitEmitted("straddle.count PT1S " + r.start())
	r.send(span(101, 200))
	got := r.emitted()
	start := r.start()
	type want struct {
		count, sum, median, tp99, min, max float64
	}
	for _, c := range []struct {
		period string
		want   want
	}{
		{"PT1S", want{100, 100, 50, 99, 1, 100}},
		{"PT1M", want{200, 200, 100, 198, 1, 200}},
		{"PT5M", want{100, 100, 150, 199, 101, 200}},
	} {
		t.Run(c.period, func(t *testing.T) {
			cnt := once(t, got, "straddle.count "+c.period+" "+start)
			if g := stat(t, cnt, "sum"); g != c.want.sum {
				t.Errorf("counter sum: got %v; want %v", g, c.want.sum)
			}
			tm := once(t, got, "straddle.time "+c.period+" "+start)
			for _, s := range []struct {
				name string
				want float64
			}{{"count", c.want.count}, {"median", c.want.median}, {"tp99", c.want.tp99}, {"max", c.want.max}} {
				if g := stat(t, tm, s.name); g != s.want {
					t.Errorf("timer %s: got %v; want %v", s.name, g, s.want)
				}
			}
			g := once(t, got, "straddle.gauge "+c.period+" "+start)
			if mn, mx := stat(t, g, "min"), stat(t, g, "max"); mn != c.want.min || mx != c.want.max {
				t.Errorf("gauge min, max: got %v, %v; want %v, %v", mn, mx, c.want.min, c.want.max)
			}
		})
	}
	if len(got) != 9 {
		t.Errorf("%d keys emitted; want 9: %v", len(got), got)
	}
}

// TestReloadStatisticsEmitEachBucketOnce: statistics whose accumulators the
// open buckets keep (a histogram for tp99 instead of median and tp90; sum
// without count; max without min) take effect on them: each bucket is
// emitted once, the new statistics over both parts.
func TestReloadStatisticsEmitEachBucketOnce(t *testing.T) {
	r := startReloadRun(t, `periods=["PT1M"]
timerStatistics=["count", "median", "tp90"]
counterStatistics=["sum", "count"]
gaugeStatistics=["min", "max"]`, "%s")
	r.send(span(1, 100))
	r.reload(`periods=["PT1M"]
timerStatistics=["count", "tp99"]
counterStatistics=["sum"]
gaugeStatistics=["max"]`, "%s")
	r.send(span(101, 200))
	got := r.emitted()
	start := r.start()
	if g := stat(t, once(t, got, "straddle.count PT1M "+start), "sum"); g != 200 {
		t.Errorf("counter sum: got %v; want 200", g)
	}
	tm := once(t, got, "straddle.time PT1M "+start)
	if c, p := stat(t, tm, "count"), stat(t, tm, "tp99"); c != 200 || p != 198 {
		t.Errorf("timer count, tp99: got %v, %v; want 200, 198", c, p)
	}
	if _, ok := tm.Statistics["median"]; ok {
		t.Errorf("timer: median emitted after it was removed: %v", tm.Statistics)
	}
	if g := stat(t, once(t, got, "straddle.gauge PT1M "+start), "max"); g != 200 {
		t.Errorf("gauge max: got %v; want 200", g)
	}
}

// TestReloadNewAccumulatorCutsBuckets: statistics that need an accumulator
// the open buckets did not keep (max for the counters) cannot be given for
// what those buckets already took, so the reload cuts them (counted): each
// bucket open across it is emitted in two parts, the first at the reload
// with the old statistics, and nothing is lost.
func TestReloadNewAccumulatorCutsBuckets(t *testing.T) {
	r := startReloadRun(t, `periods=["PT1M"]
counterStatistics=["sum", "count"]`, "%s")
	r.send(span(1, 100))
	r.reload(`periods=["PT1M"]
counterStatistics=["sum", "count", "max"]`, "%s")
	r.waitEmitted("straddle.count PT1M " + r.start())
	waitUntil(t, "the cut counted", 30*time.Second, func() bool {
		var cut uint64
		for _, s := range r.d.Pipelines()[0].Shards() {
			cut += s.Stats().TablesCut
		}
		return cut > 0
	})
	r.send(span(101, 200))
	got := r.emitted()
	parts := got["straddle.count PT1M "+r.start()]
	if len(parts) != 2 {
		t.Fatalf("counter emitted %d times; want 2 parts", len(parts))
	}
	if s0, s1 := stat(t, parts[0], "sum"), stat(t, parts[1], "sum"); s0 != 100 || s1 != 100 {
		t.Errorf("parts' sums: got %v, %v; want 100, 100", s0, s1)
	}
	if _, ok := parts[0].Statistics["max"]; ok {
		t.Errorf("the part before the reload has a max: %v", parts[0].Statistics)
	}
	if g := stat(t, parts[1], "max"); g != 1 {
		t.Errorf("the part after the reload: max %v; want 1", g)
	}
}

// TestReloadMapperEmitsEachBucketOnce: a reload that changes only a
// wrapping source's mapping replaces the source but keeps the shards as
// they are: each bucket is emitted once.
func TestReloadMapperEmitsEachBucketOnce(t *testing.T) {
	mapping := func(to string) string {
		return `{ type=MappingSource, name=m, findAndReplace={ "^other$"=["` + to + `"] }, source=%s }`
	}
	r := startReloadRun(t, `periods=["PT1M"]`, mapping("x"))
	r.send(span(1, 100))
	r.reload(`periods=["PT1M"]`, mapping("y"))
	r.send(span(101, 200))
	got := r.emitted()
	if g := stat(t, once(t, got, "straddle.count PT1M "+r.start()), "sum"); g != 200 {
		t.Errorf("counter sum: got %v; want 200", g)
	}
}
