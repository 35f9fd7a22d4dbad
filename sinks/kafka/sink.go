// Package kafka is mad's KafkaSink: it writes each emitted bucket of one
// period as re-aggregable partial aggregates (internal/partials: count,
// sum, min, max and histogram per series) to a Kafka topic, so that tier
// mads consuming the topic in one consumer group (PartialsParser)
// re-aggregate the edges' output exactly. One series always goes to one
// partition (a CRC-32C of its dimensions and name), so one tier consumer
// sees every edge's part of it.
//
// Record encodes on the emitter's goroutine into one message per partition
// and bucket; Flush (the end of an emission round) and a message reaching
// MaxMessageBytes hand messages to franz-go, which batches (linger),
// compresses and retries per its semantics. Buffering is bounded by the
// client's limits (buffer.memory); when they are reached the emitter waits
// up to Block for room, then drops the message, counted.
package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/kafkaprops"
	"github.com/gomad/mad/internal/kafkatxn"
	"github.com/gomad/mad/internal/partials"
	sm "github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/internal/throttle"
	"github.com/gomad/mad/sinks"
)

// Config configures a Sink.
type Config struct {
	Name  string
	Topic string
	// Props are Kafka's Java producer properties.
	Props [][2]string
	// Period: only buckets of this period are written (the tier
	// re-aggregates them into its own periods, multiples of this one).
	Period time.Duration
	// MaxMessageBytes splits a partition's rows of one bucket into several
	// messages (default 256 KiB; at most batch.size, franz-go's 1 000 012
	// bytes when unset, less 1 KiB: a transactional sink's is its source's).
	MaxMessageBytes int
	// Block bounds the emitter's wait for room in the client's buffer
	// (default 10 s), and for the topic's partition count at the first
	// bucket.
	Block time.Duration
	// CloseTimeout bounds the delivery of what is buffered at Close
	// (default 30 s).
	CloseTimeout time.Duration
	Log          *slog.Logger
	// Opts are more franz-go options (tests).
	Opts []kgo.Opt
	// TransactionalID, if set, makes the sink produce through the client
	// of the KafkaSource configured with this transactional id (exactly
	// once: what the sink writes commits with the offsets the source
	// consumed for it); Props are then not used.
	TransactionalID string
}

// Stats are a sink's counters.
type Stats struct {
	// Rows: series written into messages; Messages, Bytes: messages handed
	// to the client and their bytes before compression.
	Rows, Messages, Bytes uint64
	// Delivered, Failed: messages the brokers acknowledged, and those the
	// client gave up on (after its retries); their rows.
	Delivered, Failed, DeliveredRows, FailedRows uint64
	// Dropped: messages (DroppedRows: rows) dropped before the client took
	// them (its buffer stayed full for Block, no partition count); a
	// message dropped for a full buffer also counts in Messages.
	Dropped, DroppedRows uint64
	// SkippedSets: StatsD set series, whose distinct counts cannot be
	// merged (not written); OtherPeriods: buckets of other periods.
	SkippedSets, OtherPeriods uint64
	// Aborted, AbortedRows: messages of a transaction the source aborted
	// (a rebalance during a period): discarded, and consumed again from
	// the last committed offsets.
	Aborted, AbortedRows uint64
}

// Sink is a running KafkaSink.
type Sink struct {
	cfg   Config
	cl    *kgo.Client       // nil when transactional
	txn   *kafkatxn.Session // when transactional
	parts atomic.Int32      // the topic's partition count, once known
	// batchBytes: the client's batch.size (0: unset; a transactional
	// sink's is in its session).
	batchBytes int

	// Emitter-owned.
	msgs   []partMsg
	seq    uint64 // Record calls
	dims   []byte
	series partials.Series

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	errLog   throttle.Throttle

	rows, messages, bytes                       atomic.Uint64
	delivered, failed, deliveredRows, failedRow atomic.Uint64
	dropped, droppedRows, skippedSets, other    atomic.Uint64
	full                                        atomic.Uint64 // of dropped: after Produce (buffer full)
	aborted, abortedRows                        atomic.Uint64
	abortedAfter                                atomic.Uint64 // of aborted: after Produce
}

// partMsg is the message being built for one partition.
type partMsg struct {
	msg     partials.Message
	started bool
	period  time.Duration
	start   int64  // ms
	seq     uint64 // the Record call whose set is open
}

// New creates the producer (it connects in the background) and starts
// learning the topic's partition count.
func New(cfg Config) (*Sink, error) {
	if cfg.Topic == "" {
		return nil, errors.New("kafka sink: no topic")
	}
	if cfg.Period <= 0 || cfg.Period%time.Millisecond != 0 {
		return nil, fmt.Errorf("kafka sink: period %v: want a positive whole number of milliseconds", cfg.Period)
	}
	var set kafkaprops.Settings
	if cfg.TransactionalID == "" {
		set = kafkaprops.Producer(cfg.Props)
	} else if len(cfg.Props) > 0 {
		set.Problems = []string{"a transactional sink produces through its source's client: set the producer properties on the source"}
	}
	if len(set.Problems) > 0 {
		return nil, fmt.Errorf("kafka sink %s: %s", cfg.Name, strings.Join(set.Problems, "; "))
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 256 << 10
	}
	if cfg.Block <= 0 {
		cfg.Block = 10 * time.Second
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Sink{cfg: cfg, batchBytes: set.BatchBytes, stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.TransactionalID != "" {
		s.txn = kafkatxn.For(cfg.TransactionalID)
	} else {
		opts := append([]kgo.Opt{kgo.DefaultProduceTopic(cfg.Topic), kgo.RecordPartitioner(partitioner{s})}, set.Opts...)
		cl, err := kgo.NewClient(append(opts, cfg.Opts...)...)
		if err != nil {
			return nil, fmt.Errorf("kafka sink %s: %w", cfg.Name, err)
		}
		s.cl = cl
	}
	go s.watch()
	return s, nil
}

// client is the client the sink produces with: its own, or its
// transactional source's (nil before that source opened).
func (s *Sink) client() *kgo.Client {
	if s.txn != nil {
		return s.txn.Client()
	}
	return s.cl
}

// partitioner sends a message to the partition the sink chose (its
// series' hash modulo the partition count it knew), and notes the count
// the client knows, which may have grown since.
type partitioner struct{ s *Sink }

func (p partitioner) ForTopic(string) kgo.TopicPartitioner { return p }
func (partitioner) RequiresConsistency(*kgo.Record) bool   { return true }
func (p partitioner) Partition(r *kgo.Record, n int) int {
	if int(p.s.parts.Load()) != n {
		p.s.parts.Store(int32(n))
	}
	return int(r.Partition) % n
}

// watch learns the topic's partition count, and again every 30 s.
func (s *Sink) watch() {
	defer close(s.done)
	for wait := 50 * time.Millisecond; ; {
		cl := s.client()
		if cl == nil {
			// A transactional sink waits for its source's client (built
			// with the pipeline's sources, after the sinks); Record counts
			// and logs what it cannot write meanwhile.
			t := time.NewTimer(20 * time.Millisecond)
			select {
			case <-s.stop:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ts, err := kadm.NewClient(cl).ListTopics(ctx, s.cfg.Topic)
		cancel()
		if err == nil {
			if t, ok := ts[s.cfg.Topic]; ok && t.Err == nil && len(t.Partitions) > 0 {
				s.parts.Store(int32(len(t.Partitions)))
				wait = 30 * time.Second
			} else if t.Err != nil {
				err = t.Err
			}
		}
		if err != nil {
			if ok, left := s.errLog.Allow(time.Now()); ok {
				s.cfg.Log.Warn("kafka sink: cannot read the topic's partitions", "sink", s.cfg.Name, "topic", s.cfg.Topic, "err", err, "suppressed", left)
			}
			wait = min(2*wait, 5*time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// partitions returns the partition count, waiting up to Block for it.
func (s *Sink) partitions() int {
	n := int(s.parts.Load())
	for deadline := time.Now().Add(s.cfg.Block); n == 0 && time.Now().Before(deadline); n = int(s.parts.Load()) {
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// Record encodes pd's series into the messages of their partitions.
func (s *Sink) Record(pd *sinks.PeriodicData) {
	if pd.Period != s.cfg.Period {
		s.other.Add(1)
		return
	}
	n := s.partitions()
	if n == 0 {
		s.failTxn()
		s.dropped.Add(1)
		s.droppedRows.Add(uint64(max(len(pd.Metrics), 1)))
		if ok, left := s.errLog.Allow(time.Now()); ok {
			s.cfg.Log.Warn("kafka sink: bucket dropped: the topic's partitions are unknown", "sink", s.cfg.Name, "topic", s.cfg.Topic, "suppressed", left)
		}
		return
	}
	if len(s.msgs) < n {
		s.msgs = append(s.msgs, make([]partMsg, n-len(s.msgs))...)
	}
	s.seq++
	s.dims = partials.AppendDims(s.dims[:0], len(pd.Dimensions), func(i int) (k, v []byte) {
		return pd.Dimensions[i].Key, pd.Dimensions[i].Value
	})
	dh := partials.DimsHash(s.dims)
	startMs := pd.Start.UnixMilli()
	var minReq int64
	if !pd.MinRequestTime.IsZero() {
		minReq = pd.MinRequestTime.UnixMilli()
	}
	if len(pd.Metrics) == 0 {
		// MAD's empty bucket: a set without series.
		s.open(pd, partials.Partition(dh, nil, n), startMs, minReq)
		return
	}
	limit := s.maxMessage()
	var rows uint64
	for i := range pd.Metrics {
		m := &pd.Metrics[i]
		ser := &s.series
		switch m.Type {
		case "counter":
			ser.Kind = partials.KindCounter
		case "gauge":
			ser.Kind = partials.KindGauge
		case "timer":
			ser.Kind = partials.KindTimer
		case "":
			ser.Kind = partials.KindByName
		default: // "set"
			s.skippedSets.Add(1)
			continue
		}
		p := partials.Partition(dh, m.Name, n)
		pm := s.open(pd, p, startMs, minReq)
		ser.Name, ser.Unit, ser.Count = m.Name, m.Unit, uint64(m.PopulationSize)
		ser.HasSum, ser.HasMin, ser.HasMax, ser.Hist = false, false, false, m.Histogram != nil
		for j := range m.Statistics {
			st := &m.Statistics[j]
			switch {
			case st.Stat == hist.Sum:
				ser.Sum, ser.HasSum = st.Value, st.HasValue
			case st.Stat == hist.Min:
				ser.Min, ser.HasMin = st.Value, st.HasValue
			case st.Stat == hist.Max:
				ser.Max, ser.HasMax = st.Value, st.HasValue
			case st.Stat >= hist.Median:
				ser.Hist = true // a percentile or the histogram
			}
		}
		ser.Keys, ser.Counts = ser.Keys[:0], ser.Counts[:0]
		for _, b := range m.Histogram {
			ser.Keys = append(ser.Keys, uint32(b.Key))
			ser.Counts = append(ser.Counts, b.Count)
		}
		// A message ends before the series that would take it past the
		// limit (the set's closing adds at most 6 bytes); a series alone
		// over it goes alone.
		if pm.msg.Rows() > 0 && pm.msg.Len()+pm.msg.SeriesLen(ser)+6 > limit {
			pm.msg.DropEmptySet() // the set goes with its first series
			s.send(p)
			pm = s.open(pd, p, startMs, minReq)
		}
		pm.msg.Series(ser)
		rows++
	}
	s.rows.Add(rows)
}

// franz-go's default batch.size, and what a record batch adds to its
// records' values.
const (
	defaultBatchBytes = 1_000_012
	batchOverhead     = 1024
)

// maxMessage returns the largest message the sink builds: its
// MaxMessageBytes, within the batches of the client it produces through (a
// transactional sink's is its source's, whose batch.size it learns from the
// session).
func (s *Sink) maxMessage() int {
	batch := s.batchBytes
	if s.txn != nil {
		batch = s.txn.BatchBytes()
	}
	return min(s.cfg.MaxMessageBytes, cmp.Or(batch, defaultBatchBytes)-batchOverhead)
}

// open returns partition p's message with pd's set open in it.
func (s *Sink) open(pd *sinks.PeriodicData, p int, startMs, minReq int64) *partMsg {
	pm := &s.msgs[p]
	if pm.started && (pm.period != pd.Period || pm.start != startMs) {
		s.send(p)
	}
	if !pm.started {
		pm.msg.Reset(uint64(pd.Period/time.Millisecond), startMs)
		pm.started, pm.period, pm.start, pm.seq = true, pd.Period, startMs, 0
	}
	if pm.seq != s.seq {
		pm.msg.Set(s.dims, minReq)
		pm.seq = s.seq
	}
	return pm
}

// failTxn makes a transactional sink's source abort the open transaction:
// the sink could not write all of its output into it.
func (s *Sink) failTxn() {
	if s.txn != nil {
		s.txn.SetFailed(true)
	}
}

// Flush hands every message being built to the client.
func (s *Sink) Flush() {
	for p := range s.msgs {
		if s.msgs[p].started {
			s.send(p)
		}
	}
}

// send hands partition p's message to the client, waiting up to Block for
// room in its buffer.
func (s *Sink) send(p int) {
	pm := &s.msgs[p]
	pm.started = false
	rows := uint64(pm.msg.Rows())
	if s.txn != nil && s.txn.Discarding() {
		s.aborted.Add(1)
		s.abortedRows.Add(rows)
		return
	}
	cl := s.client()
	if cl == nil {
		s.failTxn()
		s.dropped.Add(1)
		s.droppedRows.Add(rows)
		if ok, left := s.errLog.Allow(time.Now()); ok {
			s.cfg.Log.Warn("kafka sink: message dropped: its transactional source has not started", "sink", s.cfg.Name, "rows", rows, "suppressed", left)
		}
		return
	}
	v := append([]byte(nil), pm.msg.Bytes()...)
	r := &kgo.Record{Topic: s.cfg.Topic, Partition: int32(p), Value: v}
	// The context bounds the wait for room only: it is cancelled when the
	// wait outlasts Block, or once the record is done.
	ctx, cancel := context.WithCancel(context.Background())
	var gaveUp atomic.Bool
	timer := time.AfterFunc(s.cfg.Block, func() { gaveUp.Store(true); cancel() })
	cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
		cancel()
		switch {
		case err != nil && s.txn != nil && (s.txn.Discarding() || notInTransaction(err)):
			// Its transaction was aborted: consumed again.
			s.abortedAfter.Add(1)
			s.aborted.Add(1)
			s.abortedRows.Add(rows)
		case err == nil:
			s.delivered.Add(1)
			s.deliveredRows.Add(rows)
		case gaveUp.Load() && errors.Is(err, context.Canceled):
			s.failTxn()
			s.full.Add(1)
			s.dropped.Add(1)
			s.droppedRows.Add(rows)
			if ok, left := s.errLog.Allow(time.Now()); ok {
				s.cfg.Log.Warn("kafka sink: message dropped: the producer's buffer stayed full", "sink", s.cfg.Name, "topic", s.cfg.Topic, "rows", rows, "suppressed", left)
			}
		default:
			s.failTxn()
			s.failed.Add(1)
			s.failedRow.Add(rows)
			if ok, left := s.errLog.Allow(time.Now()); ok {
				s.cfg.Log.Warn("kafka sink: message not delivered", "sink", s.cfg.Name, "topic", s.cfg.Topic, "partition", p, "rows", rows, "err", err, "suppressed", left)
			}
		}
	})
	timer.Stop()
	s.messages.Add(1)
	s.bytes.Add(uint64(len(v)))
}

// Close hands on what is being built, waits up to CloseTimeout for the
// client to deliver everything, and closes it.
func (s *Sink) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	s.Flush()
	if s.txn != nil {
		// The source ends the transaction, flushing its client, once the
		// pipeline's sinks are closed (ingest.Finisher).
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
	defer cancel()
	err := s.cl.Flush(ctx)
	s.cl.Close() // fails what is left, through the promises
	if err != nil {
		return fmt.Errorf("kafka sink %s: %w", s.cfg.Name, err)
	}
	return nil
}

// Stats returns the sink's counters.
func (s *Sink) Stats() Stats {
	return Stats{Rows: s.rows.Load(), Messages: s.messages.Load(), Bytes: s.bytes.Load(),
		Delivered: s.delivered.Load(), Failed: s.failed.Load(), DeliveredRows: s.deliveredRows.Load(), FailedRows: s.failedRow.Load(),
		Dropped: s.dropped.Load(), DroppedRows: s.droppedRows.Load(), SkippedSets: s.skippedSets.Load(), OtherPeriods: s.other.Load(),
		Aborted: s.aborted.Load(), AbortedRows: s.abortedRows.Load()}
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.cfg.Name }

// Report reports the sink's counters: rows as items (written when
// delivered; dropped when dropped or failed), and the Kafka ones.
func (s *Sink) Report(emit func(sm.Value)) {
	st := s.Stats()
	l := sinks.ReportCounts(emit, s.cfg.Name, st.DeliveredRows, st.DroppedRows+st.FailedRows, st.Failed)
	emit(sm.Value{Name: "mad_sink_kafka_rows_total", Help: "Series a Kafka sink wrote into messages.", Labels: l, V: float64(st.Rows)})
	emit(sm.Value{Name: "mad_sink_kafka_messages_total", Help: "Messages a Kafka sink handed to its producer.", Labels: l, V: float64(st.Messages)})
	emit(sm.Value{Name: "mad_sink_kafka_bytes_total", Help: "Bytes of those messages, before compression.", Labels: l, V: float64(st.Bytes)})
	emit(sm.Value{Name: "mad_sink_kafka_delivered_total", Help: "Messages the brokers acknowledged.", Labels: l, V: float64(st.Delivered)})
	emit(sm.Value{Name: "mad_sink_kafka_failed_total", Help: "Messages the producer gave up on after its retries.", Labels: l, V: float64(st.Failed)})
	emit(sm.Value{Name: "mad_sink_kafka_dropped_total", Help: "Messages dropped before the producer took them (buffer full, no partition count).", Labels: l, V: float64(st.Dropped)})
	emit(sm.Value{Name: "mad_sink_kafka_aborted_total", Help: "Messages of transactions the source aborted (consumed and written again).", Labels: l, V: float64(st.Aborted)})
	emit(sm.Value{Name: "mad_sink_kafka_in_flight", Help: "Messages handed to the producer and not yet acknowledged or failed.", Kind: sm.Gauge, Labels: l,
		V: float64(st.Messages - st.Delivered - st.Failed - s.full.Load() - s.abortedAfter.Load())})
	emit(sm.Value{Name: "mad_sink_kafka_skipped_total", Help: "Series or buckets a Kafka sink does not write, by reason.", Labels: append(l[:2:2], "reason", "set"), V: float64(st.SkippedSets)})
	emit(sm.Value{Name: "mad_sink_kafka_skipped_total", Help: "Series or buckets a Kafka sink does not write, by reason.", Labels: append(l[:2:2], "reason", "other_period"), V: float64(st.OtherPeriods)})
}

// notInTransaction reports whether err is franz-go's refusal of a record
// produced while its transactional client is between transactions (the
// source ended or aborted the transaction before the record was sent).
// franz-go does not export the error; TestNotInTransaction holds its text
// to the franz-go the module requires.
func notInTransaction(err error) bool {
	return strings.Contains(err.Error(), "not in a transaction")
}
