package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gomad/mad/ingest/clientpb"
	"github.com/gomad/mad/ingest/partials"
	"github.com/gomad/mad/internal/kafkaprops"
	"github.com/gomad/mad/internal/sample"
	sm "github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/internal/throttle"
)

// KafkaConfig is MAD's KafkaSource (MAD-SPEC §3.4): a consumer group reading
// topics whose message values are ClientV2 RecordSets
// (ProtobufV2bytesToRecordParser; keys discarded).
//
// Unlike MAD, which commits an offset as soon as the value is queued for
// parsing, the source commits an offset only once every bucket holding
// data of the messages before it has been emitted to the sinks (see
// Progress): a crash or a rebalance re-delivers what was not emitted
// rather than lose it (at least once). When the shards' rings are full the
// source stops fetching (its topics are paused) until they take its
// batches: nothing is dropped.
type KafkaConfig struct {
	Name   string
	Topics []string
	// Props are Kafka's Java consumer properties (MAD's consumer.configs).
	Props [][2]string
	// PollTime bounds a poll (MAD's pollTime); BackoffTime is the pause
	// after a consumer error (backoffTime); ShutdownAwait bounds the wait
	// for the last commits when the source stops (shutdownAwaitTime).
	PollTime, BackoffTime, ShutdownAwait time.Duration
	// MaxRecords bounds the records of one poll (MAD's bufferSize; Kafka's
	// max.poll.records when smaller).
	MaxRecords int
	// MaxRecordsPerMessage bounds the records of one RecordSet (0: none).
	MaxRecordsPerMessage int
	// Partials: message values are mad's partial aggregates (the
	// PartialsParser; an edge mad's KafkaSink writes them), not RecordSets.
	// Periods are then the pipeline's, which each message's period must
	// divide.
	Partials bool
	Periods  []time.Duration
	// Txn, if set, is the exactly-once mode (kafka_eos.go).
	Txn     *KafkaTxn
	Log     *slog.Logger
	Mappers MapperChain
	// Opts are more franz-go options (tests).
	Opts []kgo.Opt
}

func (c *KafkaConfig) SourceName() string { return c.Name }

// SourceKey is the group and the topics: it occupies no socket.
func (c *KafkaConfig) SourceKey() string {
	group := ""
	for _, p := range c.Props {
		if p[0] == "group.id" {
			group = p[1]
		}
	}
	return "kafka " + group + " " + strings.Join(c.Topics, ",")
}

// Claims: an exactly-once source's transactional id.
func (c *KafkaConfig) Claims() []string {
	if c.Txn == nil {
		return nil
	}
	return []string{fmt.Sprintf("kafka transactional.id %q", c.Txn.ID)}
}

// Lanes: one producer, the poll loop.
func (c *KafkaConfig) Lanes() (int, int) { return 1, 0 }

func (c *KafkaConfig) EnsureDefaults() {
	if c.PollTime <= 0 {
		c.PollTime = time.Second
	}
	if c.BackoffTime <= 0 {
		c.BackoffTime = time.Second
	}
	if c.ShutdownAwait <= 0 {
		c.ShutdownAwait = 10 * time.Second
	}
	if c.MaxRecords <= 0 {
		c.MaxRecords = 1000
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

func (c *KafkaConfig) Wrap(m MapperSpec) { c.Mappers = append(c.Mappers, m) }

func (c *KafkaConfig) Open(lanes []Lanes) (Source, error) { return opened(OpenKafka(*c, lanes)) }

// KafkaStats are a Kafka source's counters.
type KafkaStats struct {
	Messages, Bytes, Records, Samples uint64
	// Refused: messages whose value is not a valid RecordSet, and those
	// of a batch that decompresses past the consumer's bound (dropped,
	// counted, logged).
	Refused uint64
	// Polls, PollErrors: polls, and errors the consumer reported.
	Polls, PollErrors uint64
	// Pauses: times the shards' rings were full and fetching paused.
	Pauses uint64
	// Commits: offsets committed (partitions × commits); CommitErrors:
	// commits the group refused (re-delivered later).
	Commits, CommitErrors uint64
	// Pending: polls read whose offsets wait for their buckets' emission.
	Pending uint64
	// Dropped: samples dropped because a shard's ring stayed full while
	// the source stopped (otherwise the source waits for room).
	Dropped uint64
	// Partitions: the partitions the group assigned to the source now.
	Partitions int
	// Exactly once: Epochs committed, Aborts (transactions aborted, read
	// again), Skipped (messages read again that a committed output holds);
	// HeldBytes, the bytes of messages held back for later periods now, and
	// HeldStalls, the polls not made because they reached the bound;
	// Released, messages of partitions revoked before they were applied
	// (their next owner reads them).
	Epochs, Aborts, Skipped uint64
	HeldBytes               int64
	HeldStalls, Released    uint64
}

// KafkaSource is a running KafkaSource.
type KafkaSource struct {
	cfg  KafkaConfig
	cl   *kgo.Client
	dec  *clientpb.Decoder
	pdec *partials.Decoder // for Partials
	eos  *eosState         // exactly-once mode
	// What a Retarget may change while the loop runs, read through atomics:
	// the poll time, backoff and shutdown wait (time.Duration), and the
	// records a poll takes (MaxRecords, within the client's
	// max.poll.records, pollCap, 0 for none).
	pollTime, backoffTime, shutdownAwait atomic.Int64
	maxRec                               atomic.Int64
	pollCap                              int

	mu    sync.Mutex // guards prod, lanes (Retarget) and pending
	prod  *Producer
	lanes Lanes
	// ownMu guards owned and assigned; the group's callbacks take only it,
	// and it is never held across a call into the client (a callback runs
	// in the group's loop, which some client calls wait for).
	ownMu    sync.Mutex
	owned    map[topicPartition]uint64 // assignment epoch of each owned partition
	assigned uint64
	rulesAt  uint64 // assigned when the exactly-once skip rules were read (loop-owned)

	// Loop-owned.
	last    *sample.Batch // where the last route went, and its length then
	lastLen int
	tmax    int64 // the latest sample time of the poll
	pending []kafkaPoint

	start    chan struct{}
	started  sync.Once
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	refused  throttle.Throttle // logs of refused messages
	errLog   throttle.Throttle // logs of consumer errors
	stallLog throttle.Throttle // logs of reading paused by what is held back

	messages, bytes, records, samples, refusedN   atomic.Uint64
	polls, pollErrors, pauses, commits, commitErr atomic.Uint64
	pendingN, dropped                             atomic.Uint64
	skipped, epochs, aborts, heldStalls, released atomic.Uint64
	heldBytes                                     atomic.Int64
}

type topicPartition struct {
	topic     string
	partition int32
}

// kafkaPoint is a poll whose offsets wait: for the shards to take its
// batches (pushed), then to seal past the time that was seen (t1), then for
// the emitter to pass the expiry of its buckets.
type kafkaPoint struct {
	offsets  map[topicPartition]kafkaOffset
	progress Progress
	to       []ringCount // per shard: the To ring and its push count
	tmax     int64
	state    int
	t1, exp  int64
}

type kafkaOffset struct {
	next  int64 // the offset to commit: the last record's + 1
	epoch int32 // its leader epoch
	owned uint64
}

type ringCount struct {
	popped func() uint64
	n      uint64
}

// OpenKafka creates the consumer (it connects in the background) and
// starts the poll loop, which waits for Start.
func OpenKafka(cfg KafkaConfig, lanes []Lanes) (*KafkaSource, error) {
	cfg.EnsureDefaults()
	if len(lanes) != 1 {
		return nil, fmt.Errorf("kafka source %s: %d lanes, want 1", cfg.Name, len(lanes))
	}
	if len(cfg.Topics) == 0 {
		return nil, fmt.Errorf("kafka source %s: no topics", cfg.Name)
	}
	set := kafkaprops.Consumer(cfg.Props)
	if len(set.Problems) > 0 {
		return nil, fmt.Errorf("kafka source %s: %s", cfg.Name, strings.Join(set.Problems, "; "))
	}
	s := &KafkaSource{cfg: cfg, dec: clientpb.NewDecoder(clientpb.Config{MaxRecords: cfg.MaxRecordsPerMessage}),
		prod: newProducer(lanes[0], cfg.Mappers), lanes: lanes[0], owned: map[topicPartition]uint64{},
		start: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	// The source publishes (route, publish): in batches of
	// kafkaBatchSamples and at the end of each poll, waiting with fetching
	// paused while the rings are full, never dropping after a wait.
	s.prod.MaxSamples = math.MaxInt
	s.prod.MaxRetained = 1 << 16
	s.pollCap = set.MaxPollRecords
	s.setTimings(&cfg)
	if cfg.Partials {
		s.pdec = partials.NewDecoder(partials.Config{Periods: cfg.Periods})
	}
	opts := append([]kgo.Opt{
		kgo.ConsumeTopics(cfg.Topics...),
		kgo.ConsumerGroup(set.Group),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onLost),
		kgo.OnPartitionsLost(s.onLost),
	}, set.Opts...)
	opts = append(opts, cfg.Opts...)
	if cfg.Txn != nil {
		popts, batchBytes, err := eosOptions(&cfg)
		if err == nil {
			err = s.openEOS(append(opts, popts...), batchBytes)
		}
		if err != nil {
			return nil, fmt.Errorf("kafka source %s: %w", cfg.Name, err)
		}
	} else {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("kafka source %s: %w", cfg.Name, err)
		}
		s.cl = cl
	}
	go s.run()
	return s, nil
}

func (s *KafkaSource) Name() string { return s.cfg.Name }
func (s *KafkaSource) Key() string  { return s.cfg.SourceKey() }

// Claims are its configuration's.
func (s *KafkaSource) Claims() []string { return s.cfg.Claims() }

// Start starts polling.
func (s *KafkaSource) Start() { s.started.Do(func() { close(s.start) }) }

// Retargetable: the same group, topics and properties, mappers and limits.
func (s *KafkaSource) Retargetable(c SourceConfig) bool {
	o, ok := c.(*KafkaConfig)
	return ok && o.Name == s.cfg.Name && slices.Equal(o.Topics, s.cfg.Topics) && slices.Equal(o.Props, s.cfg.Props) &&
		o.Mappers.Equal(s.cfg.Mappers) && o.MaxRecordsPerMessage == s.cfg.MaxRecordsPerMessage &&
		o.Partials == s.cfg.Partials && slices.Equal(o.Periods, s.cfg.Periods) && o.Txn.equal(s.cfg.Txn)
}

// Retarget publishes what was read to the old lanes and moves to the new
// ones. Offsets of what went to the old lanes are committed once the old
// aggregator emitted it (their Progress is kept with them).
func (s *KafkaSource) Retarget(c SourceConfig, lanes []Lanes) error {
	if len(lanes) != 1 {
		return fmt.Errorf("kafka source %s: %d lanes, want 1", s.cfg.Name, len(lanes))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// What the poll decoded so far goes to the old lanes whole, waiting for
	// room as a poll does (their shards run until Retarget returns): the
	// producer's own Retarget waits only MaxWait and drops what does not
	// fit, and the poll, going on to the new lanes, would then commit the
	// offsets of what was dropped.
	s.publish()
	s.prod.Retarget(lanes[0])
	s.dropped.Store(s.prod.Dropped)
	s.lanes = lanes[0]
	s.setTimings(c.(*KafkaConfig))
	return nil
}

// setTimings takes the poll time, backoff, shutdown wait and records a
// poll of c (what a Retarget may change).
func (s *KafkaSource) setTimings(c *KafkaConfig) {
	s.pollTime.Store(int64(c.PollTime))
	s.backoffTime.Store(int64(c.BackoffTime))
	s.shutdownAwait.Store(int64(c.ShutdownAwait))
	n := c.MaxRecords
	if s.pollCap > 0 {
		n = min(n, s.pollCap)
	}
	s.maxRec.Store(int64(n))
}

func (s *KafkaSource) poll() time.Duration    { return time.Duration(s.pollTime.Load()) }
func (s *KafkaSource) backoff() time.Duration { return time.Duration(s.backoffTime.Load()) }
func (s *KafkaSource) await() time.Duration   { return time.Duration(s.shutdownAwait.Load()) }
func (s *KafkaSource) maxRecords() int        { return int(s.maxRec.Load()) }

func (s *KafkaSource) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	s.assigned++
	for t, ps := range m {
		for _, p := range ps {
			s.owned[topicPartition{t, p}] = s.assigned
		}
	}
}

// onLost forgets revoked or lost partitions: their offsets not yet
// committed are not committed (their new owner reads them again).
func (s *KafkaSource) onLost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			delete(s.owned, topicPartition{t, p})
		}
	}
}

// route is the decoder's route: it notes the latest sample time of what
// the decoder wrote since the previous call (before the producer may
// publish that batch), for the expiry of the poll's buckets.
func (s *KafkaSource) route(h uint64) *sample.Batch {
	s.noteLast()
	b := s.prod.Route(h)
	if b.Count() >= kafkaBatchSamples {
		// Publish what the poll has so far rather than grow batches to
		// the size of a poll: a batch is reused once its shard gives it
		// back, a poll-sized one was allocated anew for most polls.
		s.publish()
		b = s.prod.Route(h)
	}
	s.last, s.lastLen = b, len(b.Samples)
	return b
}

// kafkaBatchSamples is the size at which a poll's batch is published.
const kafkaBatchSamples = 4096

// publish publishes every batch, waiting while the rings are full with
// fetching paused; stopping, it publishes with the producer's own waits:
// what still does not fit is counted as dropped (the poll's offsets are
// then never committed: its messages are read again). Called with s.mu
// held; releases it while it sleeps.
func (s *KafkaSource) publish() {
	paused := false
	for wait := 20 * time.Microsecond; !s.prod.TryFlush(); wait = min(2*wait, 10*time.Millisecond) {
		if !paused {
			s.cl.PauseFetchTopics(s.cfg.Topics...)
			s.pauses.Add(1)
			paused = true
		}
		s.mu.Unlock()
		stopped := s.sleep(wait)
		s.mu.Lock()
		if stopped {
			s.prod.Flush()
			s.dropped.Store(s.prod.Dropped)
			break
		}
	}
	if paused {
		s.cl.ResumeFetchTopics(s.cfg.Topics...)
	}
	if s.prod.Mapped() {
		// A mapper may have set the samples' times (TimeStampingSource:
		// to the time it mapped them, here at the latest): the poll's
		// buckets are bounded by now, not by the records' times.
		s.tmax = max(s.tmax, nowMillis())
	}
}

func (s *KafkaSource) noteLast() {
	if s.last == nil {
		return
	}
	for i := s.lastLen; i < len(s.last.Samples); i++ {
		s.tmax = max(s.tmax, s.last.Samples[i].Time)
	}
	s.last = nil
}

func (s *KafkaSource) run() {
	defer close(s.done)
	select {
	case <-s.start:
	case <-s.stop:
		return
	}
	if s.eos != nil {
		s.runEOS()
		return
	}
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.poll())
		fs := s.cl.PollRecords(ctx, s.maxRecords())
		cancel()
		if fs.IsClientClosed() {
			return
		}
		failed := s.polled(fs)
		s.consume(fs)
		s.advance()
		if failed {
			s.sleep(s.backoff())
		}
	}
}

// polled counts a poll and logs its errors (throttled); it reports
// whether there were any (then the loop backs off).
func (s *KafkaSource) polled(fs kgo.Fetches) bool {
	s.polls.Add(1)
	failed := false
	fs.EachError(func(t string, p int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		if big, ok := errors.AsType[*kgo.ErrDecompressTooLarge](err); ok {
			s.skipOversized(big)
			return
		}
		failed = true
		s.pollErrors.Add(1)
		if ok, left := s.errLog.Allow(time.Now()); ok {
			s.cfg.Log.Warn("kafka consumer error", "source", s.cfg.Name, "topic", t, "partition", p, "err", err, "suppressed", left)
		}
	})
	return failed
}

// skipOversized moves a partition past a batch that decompresses to more
// than the consumer's bound (MaxDecompressBatchBytes, franz-go's 1 GiB
// unless set), at which franz-go stops fetching the partition until its
// offset is set past the batch: left there, one such batch would stall the
// partition for good, again at every restart. Its messages are counted
// refused and logged (throttled). A later poll's offsets commit past the
// batch; until one does, a restart meets it again and skips it again.
// Called on the polling goroutine; were the partition revoked since the
// poll, SetOffsets leaves it alone and its next owner skips the batch.
func (s *KafkaSource) skipOversized(big *kgo.ErrDecompressTooLarge) {
	s.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{big.Topic: {big.Partition: {Epoch: big.Epoch, Offset: big.NextOffset}}})
	n := max(big.NextOffset-big.Offset, 0)
	s.refusedN.Add(uint64(n))
	if ok, left := s.errLog.Allow(time.Now()); ok {
		s.cfg.Log.Warn("kafka: a batch decompresses past the bound; its messages are skipped", "source", s.cfg.Name,
			"topic", big.Topic, "partition", big.Partition, "offset", big.Offset, "messages", n, "suppressed", left)
	}
}

// consume decodes a poll's records and publishes them, waiting (paused)
// while the shards' rings are full, then queues the poll's offsets.
func (s *KafkaSource) consume(fs kgo.Fetches) {
	if fs.NumRecords() == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := nowMillis()
	s.tmax = math.MinInt64
	dropped := s.prod.Dropped // a drop anywhere in the poll (route publishes too) keeps its offsets
	offs := map[topicPartition]kafkaOffset{}
	var msgs, bytes, recs, samples, bad uint64
	fs.EachRecord(func(r *kgo.Record) {
		msgs++
		bytes += uint64(len(r.Value))
		tp := topicPartition{r.Topic, r.Partition}
		s.ownMu.Lock()
		owned := s.owned[tp]
		s.ownMu.Unlock()
		offs[tp] = kafkaOffset{next: r.Offset + 1, epoch: r.LeaderEpoch, owned: owned}
		c, ok := s.decode(r, now)
		recs += uint64(c.Records)
		samples += uint64(c.Samples)
		if !ok {
			bad++
		}
	})
	s.count(msgs, bytes, recs, samples, bad)
	// Publish everything; while the rings are full, stop fetching.
	s.publish()
	if s.prod.Dropped != dropped {
		// Stopping, some of the poll's samples were dropped: its offsets
		// are not committed, so that the messages are read again (at
		// least once; what was applied of them comes twice).
		return
	}
	s.queuePoll(offs, now)
}

// decode decodes one message into the producer's batches; a refused one
// is logged (throttled).
func (s *KafkaSource) decode(r *kgo.Record, now int64) (sample.Counts, bool) {
	var c sample.Counts
	var err error
	if s.pdec != nil {
		c, _, err = s.pdec.Decode(r.Value, s.route)
	} else {
		c, err = s.dec.DecodeV2(r.Value, now, s.route)
	}
	s.noteLast()
	if err != nil {
		if ok, left := s.refused.Allow(time.Now()); ok {
			s.cfg.Log.Warn("kafka message refused", "source", s.cfg.Name, "topic", r.Topic, "partition", r.Partition,
				"offset", r.Offset, "err", err, "suppressed", left)
		}
	}
	return c, err == nil
}

func (s *KafkaSource) count(msgs, bytes, recs, samples, bad uint64) {
	s.messages.Add(msgs)
	s.bytes.Add(bytes)
	s.records.Add(recs)
	s.samples.Add(samples)
	s.refusedN.Add(bad)
}

// queuePoll queues a published poll (its offsets, nil in exactly-once
// mode) to wait for the emission of its buckets.
func (s *KafkaSource) queuePoll(offs map[topicPartition]kafkaOffset, now int64) {
	pt := kafkaPoint{offsets: offs, progress: s.lanes.Progress, tmax: s.tmax}
	if s.tmax == math.MinInt64 {
		pt.tmax = now
	}
	for _, r := range s.lanes.To {
		pt.to = append(pt.to, ringCount{popped: r.Popped, n: r.Pushed()})
	}
	s.pending = append(s.pending, pt)
	s.pendingN.Store(uint64(len(s.pending)))
}

// sleep waits d or until the source stops; it reports whether it stopped.
func (s *KafkaSource) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.stop:
		return true
	case <-t.C:
		return false
	}
}

// advance moves the pending polls along and commits the offsets of those
// whose buckets were all emitted.
func (s *KafkaSource) advance() {
	commit := map[string]map[int32]kgo.EpochOffset{}
	n := 0
	s.mu.Lock()
	// Every poll moves through its states on its own (a poll's times are
	// taken when it gets there: moving only the first one made a backlog
	// of polls wait a bucket timeout each); offsets commit in poll order.
	done := 0
	for i := range s.pending {
		if s.ready(&s.pending[i]) && done == i {
			done++
		}
	}
	s.ownMu.Lock()
	for ; done > 0; done-- {
		for tp, o := range s.pending[0].offsets {
			if s.owned[tp] != o.owned || o.owned == 0 {
				continue // revoked since: its new owner reads it again
			}
			if commit[tp.topic] == nil {
				commit[tp.topic] = map[int32]kgo.EpochOffset{}
			}
			commit[tp.topic][tp.partition] = kgo.EpochOffset{Epoch: o.epoch, Offset: o.next}
			n++
		}
		s.pending = s.pending[1:]
	}
	s.ownMu.Unlock()
	s.pendingN.Store(uint64(len(s.pending)))
	s.mu.Unlock()
	if n == 0 || s.eos != nil {
		return // exactly once: the epochs commit (kafka_eos.go)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.await())
	defer cancel()
	s.cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			s.commitErr.Add(1)
			s.cfg.Log.Warn("kafka commit failed (the offsets are read again)", "source", s.cfg.Name, "err", err)
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					s.commitErr.Add(1)
				} else {
					s.commits.Add(1)
				}
			}
		}
	})
}

// ready advances a pending poll through its states; it reports whether its
// offsets may be committed.
func (s *KafkaSource) ready(p *kafkaPoint) bool {
	if p.progress == nil {
		return true // no aggregator to wait for (tests of the source alone)
	}
	for {
		switch p.state {
		case 0: // every shard took the poll's batches
			for _, r := range p.to {
				if r.popped() < r.n {
					return false
				}
			}
			p.t1, p.state = nowMillis(), 1
		case 1: // and applied them: the shards sealed past t1
			// Strictly past t1: a tick at t1 may have run before the
			// pop (Popped counts a batch before it is applied).
			if p.progress.SealedThrough() <= p.t1 {
				return false
			}
			p.exp, p.state = p.progress.Expiry(nowMillis(), p.tmax), 2
		case 2: // every bucket holding them was emitted
			return p.progress.EmittedThrough() > p.exp
		}
	}
}

// Stop stops polling and publishes what was read. The offsets still
// pending are committed by Finish, once the aggregator has emitted them.
func (s *KafkaSource) Stop() error {
	s.stopOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.mu.Lock()
		s.prod.Flush()
		s.dropped.Store(s.prod.Dropped)
		s.mu.Unlock()
	})
	return nil
}

// Finish commits what is left once the aggregator the source wrote to has
// emitted everything (after Stop; the pipeline calls it when its shards
// stopped), waiting at most ShutdownAwait, and closes the consumer.
func (s *KafkaSource) Finish() error {
	s.Stop()
	if s.eos != nil {
		s.finishEOS()
		return nil
	}
	deadline := time.Now().Add(s.await())
	for {
		s.advance()
		s.mu.Lock()
		left := len(s.pending)
		s.mu.Unlock()
		if left == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cl.Close()
	return nil
}

// Stats returns the counters.
func (s *KafkaSource) Stats() KafkaStats {
	s.ownMu.Lock()
	parts := len(s.owned)
	s.ownMu.Unlock()
	return KafkaStats{Messages: s.messages.Load(), Bytes: s.bytes.Load(), Records: s.records.Load(), Samples: s.samples.Load(),
		Refused: s.refusedN.Load(), Polls: s.polls.Load(), PollErrors: s.pollErrors.Load(), Pauses: s.pauses.Load(),
		Commits: s.commits.Load(), CommitErrors: s.commitErr.Load(), Pending: s.pendingN.Load(), Dropped: s.dropped.Load(),
		Partitions: parts, Epochs: s.epochs.Load(), Aborts: s.aborts.Load(), Skipped: s.skipped.Load(),
		HeldBytes: s.heldBytes.Load(), HeldStalls: s.heldStalls.Load(), Released: s.released.Load()}
}

// Report reports the source's counters.
func (s *KafkaSource) Report(emit func(sm.Value)) {
	st := s.Stats()
	l := []string{"source", s.Name(), "protocol", "kafka"}
	emit(counter("mad_source_kafka_messages_total", "Kafka messages read.", l, st.Messages))
	emit(counter("mad_source_bytes_total", "Bytes received.", l, st.Bytes))
	emit(counter("mad_source_records_total", "Records decoded.", l, st.Records))
	emit(counter("mad_source_samples_total", "Samples produced.", l, st.Samples))
	emit(counter("mad_source_kafka_refused_total", "Kafka messages whose value the parser refuses, or whose batch decompresses past the bound (dropped, logged).", l, st.Refused))
	emit(counter("mad_source_kafka_poll_errors_total", "Errors the Kafka consumer reported.", l, st.PollErrors))
	emit(counter("mad_source_ring_dropped_samples_total", "Samples dropped because a shard's ring stayed full.", l, st.Dropped))
	emit(counter("mad_source_kafka_pauses_total", "Times fetching paused because the shards' rings were full.", l, st.Pauses))
	emit(counter("mad_source_kafka_commits_total", "Partition offsets committed, each once every bucket holding its data was emitted.", l, st.Commits))
	emit(counter("mad_source_kafka_commit_errors_total", "Partition offsets the group refused to commit (read again later).", l, st.CommitErrors))
	if s.eos != nil {
		emit(counter("mad_source_kafka_transactions_total", "Periods committed in a transaction with their output (exactly once).", l, st.Epochs))
		emit(counter("mad_source_kafka_transaction_aborts_total", "Transactions aborted (a rebalance, a failure): their messages are read again.", l, st.Aborts))
		emit(counter("mad_source_kafka_skipped_total", "Messages read again that a committed output already holds (skipped).", l, st.Skipped))
		emit(sm.Value{Name: "mad_source_kafka_held_bytes", Help: "Bytes of messages held back for later periods (exactly once).", Kind: sm.Gauge, Labels: l, V: float64(st.HeldBytes)})
		emit(counter("mad_source_kafka_held_stalls_total", "Polls not made because the messages held back for later periods reached their bound.", l, st.HeldStalls))
		emit(counter("mad_source_kafka_released_total", "Messages of partitions revoked before they were applied (their next owner reads them).", l, st.Released))
	}
	emit(sm.Value{Name: "mad_source_kafka_partitions", Help: "Partitions the consumer group assigned to the source.", Kind: sm.Gauge, Labels: l, V: float64(st.Partitions)})
	emit(sm.Value{Name: "mad_source_kafka_pending_polls", Help: "Polls whose offsets wait for their buckets to be emitted.", Kind: sm.Gauge, Labels: l, V: float64(st.Pending)})
	reportMappers(emit, l, s.cfg.Mappers)
}
