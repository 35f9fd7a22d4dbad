package ingest

import (
	"github.com/gomad/mad/ingest/statsd"
	sm "github.com/gomad/mad/internal/selfmetric"
)

// The counters sources report (selfmetric.Reporter): Prometheus families
// mad_source_*, with the labels source and protocol (and path for HTTP),
// and MAD's names sources/<kind>/<name>/… where MAD has the metric.

func counter(name, help string, labels []string, v uint64) sm.Value {
	return sm.Value{Name: name, Help: help, Kind: sm.Counter, Labels: labels, V: float64(v)}
}

// reportLines reports the line and sample counters of a line source (StatsD,
// Graphite, Telegraf over UDP or TCP).
func reportLines(emit func(sm.Value), l []string, lines *[statsd.NumResults]uint64, samples, sampledOut, nonFinite, tooLong, dropped, waits uint64, madPrefix string) {
	for r, n := range lines {
		emit(counter("mad_source_lines_total", "Lines received, by parse result (ok, event, service_check, or the reason they were refused).",
			sm.With(l, "result", statsd.Result(r).String()), n))
	}
	v := counter("mad_source_samples_total", "Samples produced.", l, samples)
	v.MAD = madPrefix + "/metric_samples"
	emit(v)
	emit(counter("mad_source_sampled_out_total", "Lines dropped by sample-rate re-sampling (MAD's behaviour).", l, sampledOut))
	emit(counter("mad_source_non_finite_total", "Lines dropped for a NaN or infinite value (NaN, ∞, and Infinity, inf or nan in any case; among result=\"ok\" lines).", l, nonFinite))
	emit(counter("mad_source_key_too_long_total", "Lines whose series key exceeds 64 KiB.", l, tooLong))
	emit(counter("mad_source_ring_dropped_samples_total", "Samples dropped because a shard's ring stayed full.", l, dropped))
	emit(counter("mad_source_ring_waits_total", "Times a source found a shard's ring full and waited for it (backpressure).", l, waits))
}

// reportHandles reports a StatsD source's use of its series caches.
func reportHandles(emit func(sm.Value), l []string, handles, clears uint64) {
	emit(counter("mad_source_handle_samples_total", "Samples sent to their shard by their series' handle (the loops' series caches), of mad_source_samples_total.", l, handles))
	emit(counter("mad_source_series_cache_clears_total", "Times a loop's series cache was full and was cleared.", l, clears))
}

// Report reports the source's counters.
func (s *UDPSource) Report(emit func(sm.Value)) {
	st := s.Stats()
	l := []string{"source", s.Name(), "protocol", s.addr.Network()} // udp or unixgram
	mad := "sources/statsd/" + sm.SourceName(s.Name())
	reportLines(emit, l, &st.Lines, st.Samples, st.SampledOut, st.NonFinite, st.TooLong, st.Dropped, st.Waits, mad)
	v := counter("mad_source_datagrams_total", "Datagrams received.", l, st.Datagrams)
	v.MAD = mad + "/packets"
	emit(v)
	emit(counter("mad_source_bytes_total", "Bytes received.", l, st.Bytes))
	emit(counter("mad_source_truncated_datagrams_total", "Datagrams longer than the receive buffer; their cut last line is dropped.", l, st.Truncated))
	emit(counter("mad_source_read_errors_total", "Socket read errors.", l, st.ReadErrors))
	reportHandles(emit, l, st.Handles, st.CacheClears)
	if s.cfg.UnixPath == "" { // on a Unix socket senders wait instead: nothing to count
		emit(counter("mad_source_kernel_drops_total", "Datagrams the kernel dropped because the socket receive buffer was full.", l, st.KernelDrops))
	}
	reportMappers(emit, l, s.cfg.Mappers) // fixed for the source's life (Retargetable)
	if s.cfg.Relay != nil {
		s.reportRelay(emit, l)
	}
}

// reportRelay reports a relaying source's forwarding, summed over its
// loops: per destination what was sent and what was dropped, by reason;
// the lines refused (by parse result) and those no destination was up for.
func (s *UDPSource) reportRelay(emit func(sm.Value), l []string) {
	v := make([]uint64, relayCounterCount(len(s.cfg.Relay.Destinations)))
	for _, lp := range s.loops {
		for i, x := range lp.rc.read() {
			v[i] += x
		}
	}
	for r := range statsd.NumResults {
		if r != statsd.OK {
			emit(counter("mad_relay_refused_lines_total", "Lines an aggregator would refuse or skip, by parse result: dropped, or sent as they are to malformedTo.",
				sm.With(l, "result", r.String()), v[r]))
		}
	}
	emit(counter("mad_relay_no_destination_lines_total", "Lines a relay dropped because none of its destinations was up.", l, v[relayNoDest]))
	for i, d := range s.cfg.Relay.Destinations {
		w := v[relayDestBase+i*relayDestValues:]
		if d.TCP && i < len(s.relayTCP) && s.relayTCP[i] != nil {
			// The loops counted chunks they queued; what was written is the
			// writer's to say, and what a failed write lost.
			tw := s.relayTCP[i]
			w[0], w[1], w[2] = tw.lines.Load(), tw.chunks.Load(), tw.bytes.Load()
			w[4+RelayDropSendError] += tw.lost.Load()
		}
		dl := sm.With(l, "destination", relayDestName(d))
		emit(counter("mad_relay_lines_total", "Lines a relay sent to a destination.", dl, w[0]))
		emit(counter("mad_relay_datagrams_total", "Datagrams a relay sent to a destination.", dl, w[1]))
		emit(counter("mad_relay_bytes_total", "Bytes a relay sent to a destination.", dl, w[2]))
		emit(counter("mad_relay_rerouted_lines_total", "Lines of a destination's series a relay sent to another because the destination was down.", dl, w[3]))
		up := 1.0
		if s.relayUp != nil && !s.relayUp[i].Load() {
			up = 0
		}
		emit(sm.Value{Name: "mad_relay_destination_up", Help: "Whether a relay's destination is up (its probe answers; 1 without a probe).", Kind: sm.Gauge, Labels: dl, V: up})
		for r, name := range RelayDropNames {
			emit(counter("mad_relay_dropped_lines_total", "Lines a relay dropped for a destination, by reason (queue_full: its queue was full; send_error: the send failed; too_long: over a datagram).",
				sm.With(dl, "reason", name), w[4+r]))
		}
	}
}

// Report reports the source's counters.
func (s *TCPSource) Report(emit func(sm.Value)) {
	st := s.Stats()
	l := []string{"source", s.Name(), "protocol", "tcp"}
	reportLines(emit, l, &st.Lines, st.Samples, st.SampledOut, st.NonFinite, st.TooLong, st.Dropped, st.Waits, "sources/statsd/"+sm.SourceName(s.Name()))
	emit(counter("mad_source_connections_total", "Connections accepted.", l, st.Connections))
	emit(counter("mad_source_bytes_total", "Bytes received.", l, st.Bytes))
	emit(counter("mad_source_long_lines_total", "Lines discarded whole for exceeding the line limit (each once, whatever its length).", l, st.LongLines))
	emit(counter("mad_source_cut_lines_total", "Last lines of connections closed before their newline came (the source stopping or replaced, a reset), discarded.", l, st.CutLines))
	reportHandles(emit, l, st.Handles, st.CacheClears)
	reportMappers(emit, l, s.cfg.Mappers) // fixed for the source's life (Retargetable)
}

// Report reports the source's counters.
func (s *HTTPSource) Report(emit func(sm.Value)) {
	st := s.Stats()
	l := []string{"source", s.Name(), "protocol", "http", "path", s.Kind().Path()}
	mad := "sources/http/" + sm.SourceName(s.Name())
	for _, r := range []struct {
		result string
		n      uint64
	}{{"accepted", st.Accepted}, {"bad_request", st.BadRequest}, {"too_large", st.TooLarge}, {"saturated", st.Saturated}, {"failed", st.Failed}, {"timeout", st.Timeout}, {"client_gone", st.Gone}} {
		emit(counter("mad_source_requests_total", "HTTP requests, by result: accepted (200), bad_request (400), too_large (413), saturated (503, retry), failed (500), timeout (408, the body did not arrive in time), client_gone (the client left before its request was taken: no answer).",
			sm.With(l, "result", r.result), r.n))
	}
	for why, n := range st.Refusals {
		emit(counter("mad_source_request_refusals_total", "HTTP requests refused, by reason (mad_source_requests_total counts them by answer).",
			sm.With(l, "reason", HTTPRefusal(why).String()), n))
	}
	emit(sm.Value{Kind: sm.Counter, V: float64(st.Accepted + st.BadRequest + st.TooLarge + st.Saturated + st.Failed + st.Timeout), MAD: mad + "/requests", Sparse: true})
	emit(counter("mad_source_unknown_encoding_total", "HTTP requests with a Content-Encoding mad does not undo: the body was parsed as sent, as MAD parses every body.", l, st.UnknownEncoding))
	emit(counter("mad_source_records_total", "Records of accepted requests.", l, st.Records))
	v := counter("mad_source_samples_total", "Samples produced.", l, st.Samples)
	v.MAD, v.Sparse = mad+"/metric_samples", true
	emit(v)
	emit(counter("mad_source_bytes_total", "Bytes received.", l, st.Bytes))
	reportMappers(emit, l, s.cfg.Load().Mappers)
	if s.Kind() == HTTPOTLP {
		for o := range s.otlpPoints {
			emit(counter("mad_source_otlp_points_total", "OTLP data points of accepted requests, by outcome: accepted, replaced (by a later point of the same name, dimensions and time, as MAD's records keep the later), and left out and reported as rejected in partial_success: non_finite, empty (histograms without buckets), unsupported (Summary, no data), too_long (series key); no_delta (cumulative sums: a stream's first point or a stale one).",
				sm.With(l, "outcome", otlpOutcomeNames[o]), s.otlpPoints[o].Load()))
		}
		if d := s.deltas.Load(); d != nil {
			ds := d.Stats()
			emit(sm.Value{Name: "mad_source_otlp_delta_streams", Help: "Streams of cumulative sums tracked to turn them into deltas.", Kind: sm.Gauge, Labels: l, V: float64(ds.Streams)})
			for _, c := range []struct {
				what string
				n    uint64
			}{{"converted", ds.Converted}, {"baseline", ds.Baselines}, {"reset", ds.Resets}, {"stale", ds.Stale}, {"undone", ds.Undone}} {
				emit(counter("mad_source_otlp_delta_points_total", "Points of cumulative sums by what the tracker made of them: converted (a delta), baseline (a stream's first: none), reset (the value since a restart), stale (no later than the stream's last: none); undone: points of refused requests taken back (each also counted under the result it had first), so that a retry converts them again.",
					sm.With(l, "result", c.what), c.n))
			}
			emit(counter("mad_source_otlp_delta_streams_forgotten_total", "Streams of cumulative sums forgotten: expired (no point for the stream timeout) and evicted (the table full; its next point is a baseline).",
				sm.With(l, "why", "expired"), ds.Expired))
			emit(counter("mad_source_otlp_delta_streams_forgotten_total", "Streams of cumulative sums forgotten: expired (no point for the stream timeout) and evicted (the table full; its next point is a baseline).",
				sm.With(l, "why", "evicted"), ds.Evicted))
		}
	}
}

// reportMappers reports the counters of the rewriting sources around a
// source.
func reportMappers(emit func(sm.Value), l []string, chain MapperChain) {
	for _, m := range chain {
		if r, ok := m.(*RewriteSpec); ok {
			r.report(emit, l)
		}
	}
}
