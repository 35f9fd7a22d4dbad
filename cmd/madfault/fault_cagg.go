//go:build linux

package main

import (
	"fmt"
	"net"
	"time"
)

// caTarget is one Cluster Aggregator sink of the cagg fault and the
// receiver it sends to.
type caTarget struct {
	sink, kind, down string
	r                *caReceiver
	queue            int
	recovered        time.Duration // from the target's return to an empty queue and a record received; 0: not
}

// faultCAgg runs four Cluster Aggregator sinks (HTTP and TCP, each against
// a target that refuses connections and one that hangs) in one mad, beside
// a JSON-lines sink that takes the valid traffic. The targets go down for
// 5 minutes, then come back. Every record the emitter handed the sinks must
// be sent, counted as dropped, still queued or in flight; memory must stay within
// what the queues' bounds allow; the valid traffic must stay exact.
func faultCAgg(c *campaign) []result {
	const fault = "CA sink target down"
	dir, err := c.subdir("cagg")
	if err != nil {
		return errResult(fault, err)
	}
	warm := c.dur(30*time.Second, 5*time.Second)
	outage := c.dur(5*time.Minute, 20*time.Second)
	const series = 200 // 200 records a second per sink (PT1S)
	ts := []*caTarget{
		{sink: "ca_http_refused", kind: "http", down: modeRefuse, queue: c.count(25000, 500)},
		{sink: "ca_http_hung", kind: "http", down: modeHang, queue: c.count(25000, 500)},
		{sink: "ca_tcp_refused", kind: "tcp", down: modeRefuse, queue: c.count(10000, 200)},
		{sink: "ca_tcp_hung", kind: "tcp", down: modeHang, queue: c.count(10000, 200)},
	}
	sinks := []string{jsonSink("json", "-")}
	for _, t := range ts {
		if t.r, err = newReceiver(t.kind); err != nil {
			return errResult(fault, err)
		}
		defer t.r.close()
		if t.kind == "http" {
			sinks = append(sinks, fmt.Sprintf("{ type=%q, name=%q, uri=%q, maximumQueueSize=%d }", classCAHTTP, t.sink, t.r.URI(), t.queue))
		} else {
			_, port, _ := net.SplitHostPort(t.r.addr)
			sinks = append(sinks, fmt.Sprintf("{ type=%q, name=%q, serverAddress=\"127.0.0.1\", serverPort=%s, maxQueueSize=%d }", classCATCP, t.sink, port, t.queue))
		}
	}
	s, err := c.startSession(dir, "mad", configText(pipelineText("fault", []string{tcpSource("valid")}, sinks)))
	if err != nil {
		return errResult(fault, err)
	}
	v := newValidStream(series)
	if err := v.start(s.m.Source("valid"), 100*time.Millisecond, 50*time.Millisecond); err != nil {
		s.end()
		return errResult(fault, err)
	}
	time.Sleep(warm)
	m0, err := s.m.Metrics()
	if err != nil {
		s.end()
		return errResult(fault, err)
	}
	var mem memory
	mem.Before, _ = rss(s.m.PID())
	c.log("  targets down for %s", outage)
	for _, t := range ts {
		if err := t.r.setMode(t.down); err != nil {
			s.end()
			return errResult(fault, err)
		}
	}
	time.Sleep(outage / 2)
	rssMid, _ := rss(s.m.PID())
	time.Sleep(outage - outage/2)
	m1, _ := s.m.Metrics()
	rssEnd, _ := rss(s.m.PID())
	back := time.Now()
	recs := make([]uint64, len(ts))
	for i, t := range ts {
		recs[i] = t.r.records.Load()
		if err := t.r.setMode(modeUp); err != nil {
			s.end()
			return errResult(fault, err)
		}
	}
	c.log("  targets back; waiting for the queues to drain")
	waitFor(5*time.Minute, func() bool {
		p, err := s.m.Metrics()
		if err != nil {
			return false
		}
		all := true
		for i, t := range ts {
			if t.recovered == 0 && p.get("mad_sink_queue_length", "sink", t.sink) == 0 && t.r.records.Load() > recs[i] {
				t.recovered = time.Since(back)
			}
			all = all && t.recovered > 0
		}
		return all
	})
	verr := v.halt()
	lines, bursts := v.sent()
	s.m.waitLines("valid", lines, time.Minute)
	// The last PT1S buckets close 2 s after their start; then the sinks
	// drain.
	time.Sleep(3 * time.Second)
	waitFor(time.Minute, func() bool {
		p, err := s.m.Metrics()
		if err != nil {
			return false
		}
		for _, t := range ts {
			if p.get("mad_sink_queue_length", "sink", t.sink) != 0 {
				return false
			}
		}
		return true
	})
	m2, err := s.m.Metrics()
	if err != nil {
		s.end()
		return errResult(fault, err)
	}
	// What the targets received by then (a TCP record counted as sent
	// may still be on its way). The records in flight are on the live
	// connection to a target that is up: they reach it too, so they must
	// not make up for records counted as sent that never did.
	received := make([]float64, len(ts))
	for i, t := range ts {
		w := uint64(m2.get("mad_sink_written_total", "sink", t.sink) + m2.get("mad_sink_in_flight", "sink", t.sink))
		waitFor(10*time.Second, func() bool { return t.r.records.Load() >= w })
		received[i] = float64(t.r.records.Load())
	}
	mem.After, mem.Peak = rss(s.m.PID())
	mem.SampledPeak = s.samp.sampledPeak()
	ping, exit := s.end()
	valid, validOK := s.out.check(v, bursts)
	if verr != nil {
		validOK = false
		valid = "sender failed: " + verr.Error()
	}
	var recordBytes, records uint64
	for _, t := range ts {
		recordBytes += t.r.recordBytes.Load()
		records += t.r.records.Load()
	}
	meanRecord := float64(recordBytes) / float64(max(records, 1))
	var bound float64
	for _, t := range ts {
		bound += float64(t.queue) * meanRecord
	}
	growth := rssEnd - mem.Before
	// What a full queue may cost in RSS: its records, and as much again
	// for the garbage collector's headroom (GOGC 100), plus a fixed 32 MiB
	// for the runtime's own variation.
	limit := int64(2*bound) + 32<<20
	offered := m2.get("mad_emitter_metrics_total")
	waits := m2.get("mad_source_ring_waits_total", "source", "valid") + m2.get("mad_source_ring_dropped_samples_total", "source", "valid")
	common := func(r *result) {
		r.Mem, r.Ping, r.Valid = mem, ping, valid
		if !validOK {
			r.fail("valid traffic not exact")
		}
		if growth > limit {
			r.fail("RSS grew %s MiB during the outage, more than the queues allow (%s MiB)", mb(growth), mb(limit))
		}
		if waits != 0 {
			r.fail("ingestion waited or dropped (%v ring waits and drops)", waits)
		}
		if ping.Fails > 0 {
			r.fail("/ping failed %d times", ping.Fails)
		}
		if exit != "exit status 0" {
			r.fail("mad ended with %s", exit)
		}
	}
	var out []result
	for i, t := range ts {
		r := result{Fault: fmt.Sprintf("CA %s sink, target %s for %s", t.kind, map[string]string{modeRefuse: "refusing", modeHang: "hung"}[t.down], outage)}
		common(&r)
		l := []string{"sink", t.sink}
		written, dropped := m2.get("mad_sink_written_total", l...), m2.get("mad_sink_dropped_total", l...)
		evicted, errs := m2.get("mad_sink_evicted_total", l...), m2.get("mad_sink_errors_total", l...)
		queued, inFlight := m2.get("mad_sink_queue_length", l...), m2.get("mad_sink_in_flight", l...)
		received := received[i]
		unaccounted := offered - written - dropped - queued - inFlight
		r.Sent = n(offered) + " records"
		r.Emitted = fmt.Sprintf("%s sent, %s received", n(written), n(received))
		r.Dropped = fmt.Sprintf("%s (%s evicted, %s failed or rejected)", n(dropped), n(evicted), n(errs))
		if unaccounted != 0 {
			r.fail("%s records neither sent, counted as dropped, queued nor in flight", n(unaccounted))
		}
		if received < written+inFlight {
			r.fail("%s records counted as sent or in flight never reached the target", n(written+inFlight-received))
		}
		if t.recovered == 0 {
			r.fail("did not recover within 5 minutes of the target's return")
		}
		r.detail("Queue bound %s records (MAD's %s ×%g); records are %.0f bytes on average, so a full queue holds %s KiB.",
			n(t.queue), map[string]string{"http": "maximumQueueSize 25000", "tcp": "maxQueueSize 10000"}[t.kind], c.scale, meanRecord, n(float64(t.queue)*meanRecord/1024))
		r.detail("")
		r.detail("| | before the outage | end of the outage | end |")
		r.detail("|---|---:|---:|---:|")
		for _, f := range []struct{ name, family string }{
			{"records sent", "mad_sink_written_total"}, {"dropped", "mad_sink_dropped_total"}, {"evicted", "mad_sink_evicted_total"},
			{"errors (failed, rejected)", "mad_sink_errors_total"}, {"requests or writes", "mad_sink_requests_total"}, {"queue length", "mad_sink_queue_length"}, {"in flight", "mad_sink_in_flight"},
		} {
			r.detail("| %s | %s | %s | %s |", f.name, n(m0.get(f.family, l...)), n(m1.get(f.family, l...)), n(m2.get(f.family, l...)))
		}
		r.detail("")
		r.detail("Records the emitter handed every sink: %s; sent + dropped + queued + in flight − handed = %s. The target received %s records by then (%s in all, with the PT1M records mad sent at its stop; %s heartbeats, %d bad frames).",
			n(offered), n(-unaccounted), n(received), n(t.r.records.Load()), n(t.r.heartbeats.Load()), t.r.bad.Load())
		if t.recovered > 0 {
			r.detail("After the target came back, the queue was empty and records arriving again within %s.", t.recovered.Round(100*time.Millisecond))
		}
		r.detail("")
		r.detail("Memory (the four sinks share one mad): RSS %s MiB before the outage, %s MiB half-way, %s MiB at its end (growth %s MiB; allowed: twice the four full queues plus 32 MiB = %s MiB); peak (VmHWM) %s MiB, sampled peak %s MiB, %s MiB after.",
			mb(mem.Before), mb(rssMid), mb(rssEnd), mb(growth), mb(limit), mb(mem.Peak), mb(mem.SampledPeak), mb(mem.After))
		r.detail("Ingestion: %v ring waits or drops on the valid source; mad exited with %q.", waits, exit)
		out = append(out, r)
	}
	return out
}
