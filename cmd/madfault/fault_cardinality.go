//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// faultCardinality sends c.series distinct series (one counter line each)
// over TCP as fast as mad takes them, beside the valid traffic. The series
// limit must hold, refusals must be counted, memory must stay bounded, and
// every series mad took must come out.
func faultCardinality(c *campaign) []result {
	r := result{Fault: fmt.Sprintf("Cardinality: %s distinct series", n(c.series))}
	dir, err := c.subdir("cardinality")
	if err != nil {
		return errResult(r.Fault, err)
	}
	o := newOutput()
	o.bulkPrefix = "card."
	s, err := c.startSessionTo(dir, "mad", configText(pipelineText("fault", []string{tcpSource("card"), tcpSource("valid")}, []string{jsonSink("json", "-")})), o)
	if err != nil {
		return errResult(r.Fault, err)
	}
	v := newValidStream(100)
	if err := v.start(s.m.Source("valid"), 100*time.Millisecond, 50*time.Millisecond); err != nil {
		s.end()
		return errResult(r.Fault, err)
	}
	time.Sleep(3 * time.Second)
	m0, err := s.m.Metrics()
	if err != nil {
		s.end()
		return errResult(r.Fault, err)
	}
	r.Mem.Before, _ = rss(s.m.PID())
	// Start 2 s into a minute, so that the series' PT1M bucket is still
	// open at the stop (unless sending takes most of a minute): SIGTERM
	// then seals and emits it.
	if sec := time.Now().Second(); sec != 2 {
		time.Sleep(time.Duration((62-sec)%60) * time.Second)
	}
	c.log("  sending %s series", n(c.series))
	start := time.Now()
	sendErr := sendSeries(s.m.Source("card"), c.series, 2)
	sent := time.Since(start)
	read := s.m.waitLines("card", int64(c.series), 15*time.Minute)
	took := time.Since(start)
	// Every series mad took has its PT1S row out about 2 s after its
	// bucket.
	waitFor(5*time.Minute, func() bool {
		p, err := s.m.Metrics()
		if err != nil {
			return false
		}
		created := p.get("mad_shard_series_created_total") - m0.get("mad_shard_series_created_total")
		dropped := p.get("mad_source_ring_dropped_samples_total", "source", "card") - m0.get("mad_source_ring_dropped_samples_total", "source", "card")
		return created+dropped >= float64(c.series) && float64(o.bulkRows("PT1S")) >= created
	})
	time.Sleep(3 * time.Second)
	verr := v.halt()
	lines, bursts := v.sent()
	s.m.waitLines("valid", lines, time.Minute)
	m2, err := s.m.Metrics()
	if err != nil {
		s.end()
		return errResult(r.Fault, err)
	}
	var hwmRun int64
	r.Mem.After, hwmRun = rss(s.m.PID())
	c.log("  stopping mad (it writes the PT1M rows of every series)")
	stopStart := time.Now()
	ping, exit := s.end()
	stopTook := time.Since(stopStart)
	// The peak includes the stop's emission of the PT1M rows.
	r.Mem.Peak = max(hwmRun, s.samp.peak())
	r.Mem.SampledPeak = s.samp.sampledPeak()
	r.Ping = ping
	var validOK bool
	r.Valid, validOK = s.out.check(v, bursts)
	rows, byPeriod, bad := s.out.counts()
	d := func(name string, kv ...string) float64 { return m2.get(name, kv...) - m0.get(name, kv...) }
	created := d("mad_shard_series_created_total")
	limited := d("mad_shard_refused_total", "reason", "series_limit")
	refused := d("mad_shard_refused_total")
	sinkDropped := m2.get("mad_sink_dropped_total")
	rowsDropped := m2.get("mad_shard_rows_dropped_total")
	ringDropped := d("mad_source_ring_dropped_samples_total", "source", "card")
	shards := len(m2.labels("mad_shard_series", "shard"))
	perSeries := float64(r.Mem.After-r.Mem.Before) / float64(c.series)
	// The limit in force: maxSeries, or the default mad derives from memory.
	limit := int(m2.get("mad_pipeline_series_limit", "pipeline", "fault"))
	r.Sent = fmt.Sprintf("%s series (lines)", n(c.series))
	r.Emitted = fmt.Sprintf("%s series created; their rows: %s PT1S, %s PT1M", n(created), n(o.bulkRows("PT1S")), n(o.bulkRows("PT1M")))
	r.Dropped = fmt.Sprintf("%s samples at the rings, %s refused by shards (%s at the series limit), %s rows by sinks", n(ringDropped), n(refused), n(limited), n(sinkDropped+rowsDropped))
	if sendErr != nil {
		r.fail("sender: %v", sendErr)
	}
	if verr != nil {
		r.fail("valid sender: %v", verr)
	}
	if !read {
		r.fail("mad did not read every line within 15 minutes")
	}
	if created+refused+ringDropped != float64(c.series) {
		r.fail("%s series sent; %s created + %s refused + %s dropped at the rings", n(c.series), n(created), n(refused), n(ringDropped))
	}
	if c.series > limit && limited == 0 {
		r.fail("more series than the limit (%s) and none refused", n(limit))
	}
	for _, period := range []string{"PT1S", "PT1M"} {
		if rows := o.bulkRows(period); float64(rows) != created {
			r.fail("%s %s rows of the %s series created", n(rows), period, n(created))
		}
	}
	if ping.Fails > 0 {
		r.fail("/ping did not answer within 5 s %d times", ping.Fails)
	}
	if stopTook > systemdStopTimeout {
		r.fail("SIGTERM took %s to flush (systemd's default stop timeout, %s, would have killed mad)", stopTook.Round(time.Second), systemdStopTimeout)
	}
	if created > float64(limit) {
		r.fail("%s series created, past the limit of %s", n(created), n(limit))
	}
	// The worst case: the peak, the emission of every series' rows
	// included, per series.
	peakPerSeries := float64(r.Mem.Peak-r.Mem.Before) / float64(max(created, 1))
	atLimit := peakPerSeries * float64(limit)
	if ram := memTotal(); ram > 0 && atLimit > float64(ram) {
		r.fail("memory is bounded only by the series cap: at the peak's %.0f bytes per series, about %.1f GiB at %s series, more than this machine's %.1f GiB", peakPerSeries, atLimit/(1<<30), n(limit), float64(ram)/(1<<30))
	}
	if !validOK {
		r.fail("valid traffic not exact")
	}
	if exit != "exit status 0" {
		r.fail("mad ended with %s", exit)
	}
	r.detail("One TCP source took %s lines `card.s<i>:1|c` (i distinct) over 2 connections as fast as mad read them: sent in %s, all read after %s (%s lines/s); 100 valid series every 100 ms on another TCP source.",
		n(c.series), sent.Round(100*time.Millisecond), took.Round(100*time.Millisecond), n(float64(c.series)/took.Seconds()))
	r.detail("")
	r.detail("The series limit: the pipeline's `maxSeries` (here the default derived from memory, `mad_pipeline_series_limit`) is %s, split across %d shards; new series past it are refused (`mad_shard_refused_total{reason=\"series_limit\"}`). Refused here: %s.",
		n(limit), shards, n(limited))
	r.detail("Memory: RSS %s MiB before, %s MiB once every series had its PT1S row out (%.0f bytes per series, the PT1M rows still open included; peak until then %s MiB); peak (VmHWM) %s MiB with the stop, which emits the PT1M rows of every series (sampled %s MiB): %.0f bytes per series at the peak. At the series limit that is about %.1f GiB (%.1f GiB at the steady %.0f bytes). The series stay for idleTimeout (PT5M) after their last bucket.",
		mb(r.Mem.Before), mb(r.Mem.After), perSeries, mb(hwmRun), mb(r.Mem.Peak), mb(r.Mem.SampledPeak), peakPerSeries, atLimit/(1<<30), perSeries*float64(limit)/(1<<30), perSeries)
	if ringDropped > 0 {
		r.detail("The TCP source dropped %s samples at the shards' rings (counted, `mad_source_ring_dropped_samples_total`): a ring stayed full for 50 ms while the shards created series, and the source dropped instead of letting TCP push back on the sender.", n(ringDropped))
	}
	r.detail("Shards: %s series at the end (`mad_pipeline_series`), key bytes %s MiB. Stopping (SIGTERM: the open PT1M buckets) took %s. Rows in all: %s (%s PT1S, %s PT1M); rows that were not mad's JSON: %d.",
		n(m2.get("mad_pipeline_series")), mb(int64(m2.get("mad_shard_key_bytes"))), stopTook.Round(100*time.Millisecond), n(rows), n(byPeriod["PT1S"]), n(byPeriod["PT1M"]), bad)
	return []result{r}
}

// memTotal returns the machine's memory (MemTotal of /proc/meminfo) in
// bytes, 0 if unknown.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// sendSeries sends count distinct counter lines to a StatsD TCP source
// over conns connections, as fast as it takes them.
func sendSeries(addr string, count, conns int) error {
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for j := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			buf := make([]byte, 0, 256<<10)
			for i := j; i < count; i += conns {
				buf = append(buf, "card.s"...)
				buf = strconv.AppendInt(buf, int64(i), 10)
				buf = append(buf, ":1|c\n"...)
				if len(buf) > 250<<10 {
					if _, err := c.Write(buf); err != nil {
						errs[j] = err
						return
					}
					buf = buf[:0]
				}
			}
			if _, err := c.Write(buf); err != nil {
				errs[j] = err
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
