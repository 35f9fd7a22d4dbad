package pipeline

import (
	"strconv"

	sm "github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
)

// Report reports the counters of everything the pipeline runs: its
// sources, shards and emitter, and every sink of its tree that counts, with
// what reloads retired added in (retired). Each value carries the label
// pipeline first.
func (p *Pipeline) Report(emit func(sm.Value)) {
	p.mu.Lock()
	name, srcs, shards, em, sks, limit := p.cfg.Name, p.sources, p.agg.shards, p.agg.emitter, p.cfg.Sinks, p.cfg.MaxSeries
	retired := p.retired.Snapshot()
	p.mu.Unlock()
	base := []string{"pipeline", name}
	in := func(v sm.Value) {
		v.Labels = sm.With(base, v.Labels...)
		emit(v)
	}
	retired.Report(in, func(in func(sm.Value)) {
		for _, r := range srcs {
			r.src.Report(in)
		}
		var series float64
		for _, s := range shards {
			st := s.Stats()
			series += float64(st.Series)
			reportShard(in, strconv.Itoa(s.ID()), &st)
		}
		in(sm.Value{Name: "mad_pipeline_series", Help: "Series tracked by the pipeline's shards.", Kind: sm.Gauge, V: series})
		in(sm.Value{Name: "mad_pipeline_series_limit", Help: "The pipeline's series limit (maxSeries, or the default derived from memory); samples of new series past it are refused (mad_shard_refused_total, reason series_limit).",
			Kind: sm.Gauge, V: float64(limit)})
		reportEmitter(in, em)
		for _, s := range sks {
			reportSinks(in, s)
		}
	})
}

func reportEmitter(emit func(sm.Value), em *Emitter) {
	est := em.Stats()
	emit(sm.Value{Name: "mad_emitter_buckets_total", Help: "Buckets (one dimension set's PeriodicData; one of more than 4096 metrics in parts) emitted to the sinks.", V: float64(est.Buckets)})
	emit(sm.Value{Name: "mad_emitter_metrics_total", Help: "Metrics emitted to the sinks.", V: float64(est.Metrics)})
	emit(sm.Value{Name: "mad_emitter_tables_total", Help: "Sealed tables received from the shards.", V: float64(est.Tables)})
}

// reportSinks reports every sink of the tree under s that counts.
func reportSinks(emit func(sm.Value), s sinks.Sink) {
	if r, ok := s.(sm.Reporter); ok {
		r.Report(emit)
	}
	for _, c := range sinks.Children(s) {
		reportSinks(emit, c)
	}
}

func reportShard(emit func(sm.Value), id string, st *shard.Stats) {
	l := []string{"shard", id}
	counter := func(name, help string, v uint64) { emit(sm.Value{Name: name, Help: help, Labels: l, V: float64(v)}) }
	gauge := func(name, help string, v float64) {
		emit(sm.Value{Name: name, Help: help, Kind: sm.Gauge, Labels: l, V: v})
	}
	emit(sm.Value{Name: "mad_shard_samples_total", Help: "Samples received by the shard.", Labels: l, V: float64(st.Samples),
		MAD: "aggregator/samples", MADType: "gauge"})
	for r, n := range st.Refused {
		emit(sm.Value{Name: "mad_shard_refused_total", Help: "Samples refused by the shard, by reason.", Labels: sm.With(l, "reason", shard.RefusalNames[r]), V: float64(n)})
	}
	gauge("mad_shard_series", "Series the shard tracks.", float64(st.Series))
	counter("mad_shard_series_created_total", "Series created.", st.SeriesCreated)
	counter("mad_shard_series_reaped_total", "Idle series forgotten.", st.SeriesReaped)
	counter("mad_shard_steps_total", "Rounds of the shard (applying its inputs' batches) run by a source's loop on its own thread (run to completion, pipeline Inline).", st.Steps)
	for i, chose := range [...]string{"one_by_one", "pipelined"} {
		emit(sm.Value{Name: "mad_shard_apply_trials_total", Help: "Trials of the shard's prefetch pipeline (applying samples one by one or pipelined, in turn, then keeping the faster), by what they chose.", Labels: sm.With(l, "chose", chose), V: float64(st.ApplyTrials[i])})
	}
	counter("mad_shard_late_rows_total", "Rows opened after their bucket's period ended (late data).", st.LateRows)
	counter("mad_shard_buckets_sealed_total", "Bucket tables sealed.", st.TablesSealed)
	counter("mad_shard_buckets_cut_total", "Bucket tables a reload sealed before their expiration (a period removed, or statistics that need an accumulator the open buckets did not keep).", st.TablesCut)
	counter("mad_shard_rows_sealed_total", "Rows sealed.", st.RowsSealed)
	counter("mad_shard_snapshots_dropped_total", "Sealed tables dropped because the emitter fell behind.", st.SnapshotsDropped)
	counter("mad_shard_rows_dropped_total", "Rows of the sealed tables dropped because the emitter fell behind.", st.RowsDropped)
	gauge("mad_shard_open_buckets", "Open bucket tables.", float64(st.OpenTables))
	gauge("mad_shard_pending_snapshots", "Sealed tables waiting for room in the emitter's ring.", float64(st.Pending))
	gauge("mad_shard_key_bytes", "Bytes of interned series key parts (metric names and dimension sets).", float64(st.KeyBytes))
}
