package engine

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/cagg"
)

// SinkStats is implemented by sinks that count what they wrote and dropped.
type SinkStats interface {
	Name() string
	Stats() (written, dropped, errors uint64)
}

// sinkCounters returns a sink's name and counters, if it counts.
func sinkCounters(s sinks.Sink) (string, func() (uint64, uint64, uint64)) {
	switch c := s.(type) {
	case SinkStats:
		return c.Name(), c.Stats
	case *sinks.TimeThresholdSink:
		return c.SinkName(), c.Stats
	}
	return "", nil
}

// SinkQueue is implemented by sinks with a queue.
type SinkQueue interface {
	QueueLen() int
}

// promWriter writes Prometheus text exposition: every family's HELP and
// TYPE once, then its samples.
type promWriter struct {
	w    *bufio.Writer
	seen map[string]bool
}

func (p *promWriter) family(name, typ, help string) {
	if p.seen[name] {
		return
	}
	p.seen[name] = true
	fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (p *promWriter) sample(name string, labels []string, v float64) {
	p.w.WriteString(name)
	if len(labels) > 0 {
		p.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				p.w.WriteByte(',')
			}
			p.w.WriteString(labels[i])
			p.w.WriteString(`="`)
			p.w.WriteString(escapeLabel(labels[i+1]))
			p.w.WriteByte('"')
		}
		p.w.WriteByte('}')
	}
	p.w.WriteByte(' ')
	p.w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	p.w.WriteByte('\n')
}

func (p *promWriter) counter(name, help string, labels []string, v uint64) {
	p.family(name, "counter", help)
	p.sample(name, labels, float64(v))
}

func (p *promWriter) gauge(name, help string, labels []string, v float64) {
	p.family(name, "gauge", help)
	p.sample(name, labels, v)
}

func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func with(base []string, kv ...string) []string {
	return append(append(make([]string, 0, len(base)+len(kv)), base...), kv...)
}

// WriteMetrics writes the counters of every pipeline, of configuration
// reloads and of the process in Prometheus text format.
func WriteMetrics(out io.Writer, pipelines []*Pipeline, cs ConfigState) error {
	p := &promWriter{w: bufio.NewWriter(out), seen: map[string]bool{}}
	p.counter("mad_config_reloads_total", "Configuration checks (periodic, SIGHUP, POST /reload).", nil, cs.Reloads)
	p.counter("mad_config_reload_errors_total", "Configuration checks that refused a file or failed to apply it.", nil, cs.ReloadErrors)
	p.counter("mad_self_records_total", "Records of mad's own metrics (MAD-SPEC §11) by outcome: delivered to the V3 route's pipeline, undelivered (no V3 source, or saturated), overflow (too many waiting).", []string{"result", "delivered"}, cs.SelfDelivered)
	p.counter("mad_self_records_total", "", []string{"result", "undelivered"}, cs.SelfUndelivered)
	p.counter("mad_self_records_total", "", []string{"result", "overflow"}, cs.SelfOverflow)
	files := make([]string, 0, len(cs.Refused))
	for f := range cs.Refused {
		files = append(files, f)
	}
	slices.Sort(files)
	p.family("mad_config_refused", "gauge", "1 for each configuration file whose current version was refused (the pipeline it defined, if any, keeps running as it was); the label error says why.")
	for _, f := range files {
		msg := cs.Refused[f]
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		p.sample("mad_config_refused", []string{"file", f, "error", msg}, 1)
	}
	for _, pl := range pipelines {
		base := []string{"pipeline", pl.Name()}
		for _, u := range pl.UDP() {
			st := u.Stats()
			l := with(base, "source", u.Name(), "protocol", "udp")
			writeLines(p, l, st.Lines, st.Samples, st.SampledOut, st.NonFinite, st.TooLong, st.Dropped, st.Waits)
			p.counter("mad_source_datagrams_total", "Datagrams received.", l, st.Datagrams)
			p.counter("mad_source_bytes_total", "Bytes received.", l, st.Bytes)
			p.counter("mad_source_truncated_datagrams_total", "Datagrams longer than the receive buffer.", l, st.Truncated)
			p.counter("mad_source_read_errors_total", "Socket read errors.", l, st.ReadErrors)
			p.counter("mad_source_kernel_drops_total", "Datagrams the kernel dropped because the socket receive buffer was full.", l, st.KernelDrops)
			p.counter("mad_source_telemetry_lost_total", "Counter reports of data-plane loops overwritten before being read.", l, st.TelemetryLost)
		}
		for _, t := range pl.TCP() {
			st := t.Stats()
			l := with(base, "source", t.Name(), "protocol", "tcp")
			writeLines(p, l, st.Lines, st.Samples, st.SampledOut, st.NonFinite, st.TooLong, st.Dropped, st.Waits)
			p.counter("mad_source_connections_total", "Connections accepted.", l, st.Connections)
			p.counter("mad_source_bytes_total", "Bytes received.", l, st.Bytes)
			p.counter("mad_source_long_lines_total", "Lines discarded for exceeding the line limit.", l, st.LongLines)
		}
		for _, h := range pl.HTTP() {
			st := h.Stats()
			l := with(base, "source", h.Name(), "protocol", "http", "path", h.Kind().Path())
			for _, r := range []struct {
				result string
				n      uint64
			}{{"accepted", st.Accepted}, {"bad_request", st.BadRequest}, {"too_large", st.TooLarge}, {"saturated", st.Saturated}, {"failed", st.Failed}} {
				p.counter("mad_source_requests_total", "HTTP requests, by result: accepted (200), bad_request (400), too_large (413), saturated (503, retry), failed (500).", with(l, "result", r.result), r.n)
			}
			p.counter("mad_source_records_total", "Records of accepted requests.", l, st.Records)
			p.counter("mad_source_samples_total", "Samples produced.", l, st.Samples)
			p.counter("mad_source_bytes_total", "Bytes received.", l, st.Bytes)
		}
		var series float64
		for _, s := range pl.Shards() {
			st := s.Stats()
			l := with(base, "shard", strconv.Itoa(s.ID()))
			p.counter("mad_shard_samples_total", "Samples received by the shard.", l, st.Samples)
			for r, n := range st.Refused {
				p.counter("mad_shard_refused_total", "Samples refused by the shard, by reason.", with(l, "reason", shard.RefusalNames[r]), n)
			}
			p.gauge("mad_shard_series", "Series the shard tracks.", l, float64(st.Series))
			series += float64(st.Series)
			p.counter("mad_shard_series_created_total", "Series created.", l, st.SeriesCreated)
			p.counter("mad_shard_series_reaped_total", "Idle series forgotten.", l, st.SeriesReaped)
			p.counter("mad_shard_late_rows_total", "Rows opened after their bucket's period ended (late data).", l, st.LateRows)
			p.counter("mad_shard_buckets_sealed_total", "Bucket tables sealed.", l, st.TablesSealed)
			p.counter("mad_shard_rows_sealed_total", "Rows sealed.", l, st.RowsSealed)
			p.counter("mad_shard_snapshots_dropped_total", "Sealed tables dropped because the emitter fell behind.", l, st.SnapshotsDropped)
			p.counter("mad_shard_rows_dropped_total", "Rows of the sealed tables dropped because the emitter fell behind.", l, st.RowsDropped)
			p.gauge("mad_shard_open_buckets", "Open bucket tables.", l, float64(st.OpenTables))
			p.gauge("mad_shard_pending_snapshots", "Sealed tables waiting for room in the emitter's ring.", l, float64(st.Pending))
			p.gauge("mad_shard_key_bytes", "Bytes of interned series key parts (metric names and dimension sets).", l, float64(st.KeyBytes))
		}
		p.gauge("mad_pipeline_series", "Series tracked by the pipeline's shards.", base, series)
		est := pl.Emitter().Stats()
		p.counter("mad_emitter_buckets_total", "PeriodicData emitted to the sinks.", base, est.Buckets)
		p.counter("mad_emitter_metrics_total", "Metrics emitted to the sinks.", base, est.Metrics)
		p.counter("mad_emitter_tables_total", "Sealed tables received from the shards.", base, est.Tables)
		var walk func(s sinks.Sink)
		walk = func(s sinks.Sink) {
			name, stats := sinkCounters(s)
			if stats != nil {
				written, dropped, errs := stats()
				l := with(base, "sink", name)
				p.counter("mad_sink_written_total", "Items a sink wrote.", l, written)
				p.counter("mad_sink_dropped_total", "Items a sink dropped (queue full, write errors, late buckets, missing dimensions).", l, dropped)
				p.counter("mad_sink_errors_total", "Sink write errors.", l, errs)
				if q, ok := s.(SinkQueue); ok {
					p.gauge("mad_sink_queue_length", "Items waiting in a sink's queue.", l, float64(q.QueueLen()))
				}
				if c, ok := s.(interface{ Counters() cagg.Counters }); ok {
					cs := c.Counters()
					p.counter("mad_sink_retried_total", "Requests a sink retried (retries enabled with maximumAttempts).", l, cs.Retried)
					p.counter("mad_sink_evicted_total", "Requests evicted from a full sink queue (the oldest).", l, cs.Evicted)
					p.counter("mad_sink_missing_dimensions_total", "Records dropped for a missing service or cluster dimension.", l, cs.MissingDimensions)
					p.counter("mad_sink_requests_total", "Requests (HTTP) or writes (TCP) a sink made.", l, cs.Requests)
					p.family("mad_sink_request_latency_seconds_total", "counter", "Total time of a sink's requests; divided by mad_sink_requests_total, the mean latency.")
					p.sample("mad_sink_request_latency_seconds_total", l, float64(cs.LatencyNanos)/1e9)
				}
			}
			for _, c := range sinks.Children(s) {
				walk(c)
			}
		}
		for _, s := range pl.Sinks() {
			walk(s)
		}
	}
	writeProcess(p)
	return p.w.Flush()
}

func writeLines(p *promWriter, l []string, lines [statsd.NumResults]uint64, samples, sampledOut, nonFinite, tooLong, dropped, waits uint64) {
	for r, n := range lines {
		p.counter("mad_source_lines_total", "Lines received, by parse result (ok, event, service_check, or the reason they were refused).",
			with(l, "result", statsd.Result(r).String()), n)
	}
	p.counter("mad_source_samples_total", "Samples produced.", l, samples)
	p.counter("mad_source_sampled_out_total", "Lines dropped by sample-rate re-sampling (MAD's behaviour).", l, sampledOut)
	p.counter("mad_source_non_finite_total", "Lines with a NaN or infinite value.", l, nonFinite)
	p.counter("mad_source_key_too_long_total", "Lines whose series key exceeds 64 KiB.", l, tooLong)
	p.counter("mad_source_ring_dropped_samples_total", "Samples dropped because a shard's ring stayed full.", l, dropped)
	p.counter("mad_source_ring_waits_total", "Times a source found a shard's ring full and waited for it (backpressure).", l, waits)
}

func writeProcess(p *promWriter) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.gauge("go_goroutines", "Goroutines.", nil, float64(runtime.NumGoroutine()))
	p.gauge("go_memstats_heap_alloc_bytes", "Heap bytes allocated and in use.", nil, float64(ms.HeapAlloc))
	p.gauge("go_memstats_sys_bytes", "Bytes obtained from the OS.", nil, float64(ms.Sys))
	p.counter("go_gc_cycles_total", "Completed GC cycles.", nil, uint64(ms.NumGC))
	p.gauge("go_gc_pause_total_seconds", "Total GC pause.", nil, float64(ms.PauseTotalNs)/1e9)
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
		p.family("process_cpu_seconds_total", "counter", "User and system CPU time.")
		p.sample("process_cpu_seconds_total", nil, cpu)
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				p.gauge("process_resident_memory_bytes", "Resident memory.", nil, float64(pages*int64(os.Getpagesize())))
			}
		}
	}
}
