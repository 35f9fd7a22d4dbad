package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gomad/mad/ingest/partials"
	"github.com/gomad/mad/internal/kafkaprops"
	"github.com/gomad/mad/internal/kafkatxn"
)

// The exactly-once mode of a tier's KafkaSource (KafkaTxn): the pipeline's
// output for a period and the offsets consumed for it commit in one Kafka
// transaction (franz-go's GroupTransactSession; the pipeline's KafkaSinks
// produce through the source's client, internal/kafkatxn).
//
// Time is cut into epochs at the multiples B of the pipeline's one period
// P. In the epoch ending at B the source applies the messages whose bucket
// starts before B and holds back, in memory, those of later buckets. At
// B + Delay (the edges have written their buckets ending at B by then) it
// stops applying, waits until every bucket holding what it applied has
// been emitted (into the transaction), and commits: per partition the
// offset of the first message held back (or the end of what it read),
// with "B and the end E of what it read" as the offset's metadata. Then it
// applies what it held. A message is thus in exactly one committed output:
// after a crash or a rebalance the partition's next owner reads from the
// committed offset and skips the messages below E whose bucket starts
// before B (they are in the committed output), applying the rest. An
// aborted transaction (a rebalance during the epoch) discards what the
// sinks get until the aggregator has emitted everything it had, and the
// source reads again from the committed offsets.

// KafkaTxn configures a KafkaSource's exactly-once mode.
type KafkaTxn struct {
	// ID is the transactional id, unique per process (KIP-447 fences by
	// the consumer group's generation); the pipeline's KafkaSinks name it.
	ID string
	// Delay is how long after the end of a period its transaction waits
	// for the edges' buckets (default: the period's timeout, MAD's
	// clamp(period/2, 1 s, 10 min), plus 10 s).
	Delay time.Duration
	// ProducerProps are the Java producer properties of the source's
	// client (compression, linger…); bootstrap and security come from the
	// consumer's.
	ProducerProps [][2]string
	// MaxHeld bounds the bytes of messages held back for later periods
	// (0: 64 MiB); past it the source stops reading until the periods
	// they belong to are due.
	MaxHeld int
}

func (t *KafkaTxn) equal(o *KafkaTxn) bool {
	if t == nil || o == nil {
		return t == o
	}
	return t.ID == o.ID && t.Delay == o.Delay && t.MaxHeld == o.MaxHeld && slices.Equal(t.ProducerProps, o.ProducerProps)
}

// eosMetadata prefixes the offset metadata of an exactly-once commit.
const eosMetadata = "mad-eos"

// defaultMaxHeld is KafkaTxn.MaxHeld's default.
const defaultMaxHeld = 64 << 20

// skipRule is an exactly-once commit of a partition: messages below end
// whose bucket starts before b are in a committed output. A partition keeps
// the rules of its commits whose end is past its committed offset (an owner
// that took it over may commit before reaching the end of its previous
// owner's rule).
type skipRule struct{ b, end int64 }

// maxRules bounds the rules a partition's commit carries.
const maxRules = 16

func skips(rules []skipRule, offset, start int64) bool {
	for _, r := range rules {
		if offset < r.end && start < r.b {
			return true
		}
	}
	return false
}

// eosState is the loop's state in exactly-once mode.
type eosState struct {
	sess    *kgo.GroupTransactSession
	txn     *kafkatxn.Session
	p       int64 // the period, ms
	delay   time.Duration
	b       int64 // the open epoch's boundary, ms
	closing bool
	inTxn   bool

	consumed  map[topicPartition]int64 // the next offset read, per partition
	decision  map[topicPartition]int64 // consumed when the epoch closed
	firstHeld map[topicPartition]int64
	held      []*kgo.Record
	// heldEpochs are the assignment epochs of the held records'
	// partitions when they were read.
	heldEpochs []uint64
	heldBytes  int
	maxHeld    int
	skip       map[topicPartition][]skipRule
	known      bool // skip holds the group's committed rules
}

// txnTimeout bounds a transaction unless transaction.timeout.ms says
// otherwise: a period, the delay, and a margin. A transaction a crashed
// tier left open holds back read_committed readers of the output until
// then (Kafka aborts it at the timeout).
func (e *eosState) txnTimeout() time.Duration {
	return time.Duration(e.p)*time.Millisecond + e.delay + 30*time.Second
}

// eosOptions checks the exactly-once configuration and returns the
// producer options of the source's client and its batch.size (0: unset).
func eosOptions(cfg *KafkaConfig) ([]kgo.Opt, int, error) {
	t := cfg.Txn
	switch {
	case t.ID == "":
		return nil, 0, errors.New("exactly once: no transactional id")
	case !cfg.Partials:
		return nil, 0, errors.New("exactly once: the source must read partials (io.gomad.mad.parsers.PartialsParser)")
	case len(cfg.Periods) != 1:
		return nil, 0, fmt.Errorf("exactly once: the pipeline must have one period, not %d (the transactions follow it)", len(cfg.Periods))
	}
	var props [][2]string
	have := map[string]bool{}
	var timeout time.Duration
	for _, p := range t.ProducerProps {
		if p[0] == "transaction.timeout.ms" {
			ms, err := strconv.ParseInt(strings.TrimSpace(p[1]), 10, 64)
			if err != nil || ms < 1000 || ms > 15*60*1000 {
				return nil, 0, fmt.Errorf("exactly once: producer property transaction.timeout.ms: %q is not an integer in [1000, 900000]", p[1])
			}
			timeout = time.Duration(ms) * time.Millisecond
			continue
		}
		props = append(props, p)
		have[p[0]] = true
	}
	for _, p := range cfg.Props {
		if k := p[0]; !have[k] && (k == "bootstrap.servers" || k == "client.id" || k == "security.protocol" ||
			strings.HasPrefix(k, "sasl.") || strings.HasPrefix(k, "ssl.")) {
			props = append(props, p)
		}
	}
	set := kafkaprops.Producer(props)
	if len(set.Problems) > 0 {
		return nil, 0, fmt.Errorf("exactly once: %s", strings.Join(set.Problems, "; "))
	}
	opts := append(set.Opts, kgo.TransactionalID(t.ID), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if delay := cmp.Or(t.Delay, defaultDelay(cfg.Periods[0])); timeout == 0 && cfg.Periods[0]+delay+30*time.Second > 15*time.Minute {
		return nil, 0, fmt.Errorf("exactly once: a transaction may stay open for the period and the delay (%v), past Kafka's default bound on transactions (15 min): set transaction.timeout.ms in exactlyOnce.configs (and the brokers' transaction.max.timeout.ms)", cfg.Periods[0]+delay)
	}
	if timeout > 0 {
		delay := t.Delay
		if delay <= 0 {
			delay = defaultDelay(cfg.Periods[0])
		}
		if timeout <= cfg.Periods[0]+delay {
			return nil, 0, fmt.Errorf("exactly once: producer property transaction.timeout.ms: %v is not longer than the period and the delay (%v): every transaction would time out", timeout, cfg.Periods[0]+delay)
		}
		opts = append(opts, kgo.TransactionTimeout(timeout))
	}
	return opts, set.BatchBytes, nil
}

// defaultDelay is the period's timeout (MAD's clamp(period/2, 1 s, 10 min))
// plus 10 s.
func defaultDelay(p time.Duration) time.Duration {
	return min(max(p/2, time.Second), 10*time.Minute) + 10*time.Second
}

// CheckKafkaTxn checks a source's exactly-once configuration (for the
// configuration files: start-up and -check-config).
func CheckKafkaTxn(cfg *KafkaConfig) error {
	_, _, err := eosOptions(cfg)
	return err
}

// openEOS creates the transactional client, whose batch.size is
// batchBytes (0: unset).
func (s *KafkaSource) openEOS(opts []kgo.Opt, batchBytes int) error {
	p := s.cfg.Periods[0]
	e := &eosState{p: p.Milliseconds(), delay: s.cfg.Txn.Delay, txn: kafkatxn.For(s.cfg.Txn.ID),
		consumed: map[topicPartition]int64{}, firstHeld: map[topicPartition]int64{}, skip: map[topicPartition][]skipRule{}}
	if e.delay <= 0 {
		e.delay = defaultDelay(p)
	}
	if e.maxHeld = s.cfg.Txn.MaxHeld; e.maxHeld <= 0 {
		e.maxHeld = defaultMaxHeld
	}
	// The default timeout first: transaction.timeout.ms, in opts, wins.
	sess, err := kgo.NewGroupTransactSession(append([]kgo.Opt{kgo.TransactionTimeout(e.txnTimeout())}, opts...)...)
	if err != nil {
		return err
	}
	e.sess = sess
	s.eos, s.cl = e, sess.Client()
	e.txn.SetBatchBytes(batchBytes) // the sinks' messages fit its batches
	e.txn.SetClient(s.cl)
	return nil
}

// firstBoundary is the first epoch boundary whose commit is after now.
func (e *eosState) firstBoundary(now time.Time) int64 {
	return (now.Add(-e.delay).UnixMilli()/e.p + 1) * e.p
}

// runEOS is the poll loop in exactly-once mode.
func (s *KafkaSource) runEOS() {
	e := s.eos
	e.b = e.firstBoundary(time.Now())
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		if !e.inTxn {
			if err := e.sess.Begin(); err != nil {
				s.pollErrors.Add(1)
				s.cfg.Log.Warn("kafka: cannot begin a transaction", "source", s.cfg.Name, "err", err)
				s.sleep(s.backoff())
				continue
			}
			e.inTxn = true
		}
		if !e.closing && time.Now().UnixMilli() >= e.b+e.delay.Milliseconds() {
			e.closing = true
			e.decision = clonePartitions(e.consumed)
		}
		s.advance()
		s.mu.Lock()
		emitted := len(s.pending) == 0
		s.mu.Unlock()
		if e.closing {
			if emitted {
				s.commitEpoch(false)
			} else {
				s.sleep(5 * time.Millisecond)
			}
			continue
		}
		if e.heldBytes > e.maxHeld {
			// Messages of later periods (an edge whose clock runs ahead,
			// a backlog) fill the bound: reading waits until their
			// periods are due and a commit applies them.
			s.heldStalls.Add(1)
			if ok, left := s.stallLog.Allow(time.Now()); ok {
				s.cfg.Log.Warn("kafka: reading paused: the messages held back for later periods reach the bound", "source", s.cfg.Name,
					"held_bytes", e.heldBytes, "bound", e.maxHeld, "suppressed", left)
			}
			s.sleep(5 * time.Millisecond)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.poll())
		fs := e.sess.PollRecords(ctx, s.maxRecords())
		cancel()
		if fs.IsClientClosed() {
			return
		}
		failed := s.polled(fs)
		var rs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { rs = append(rs, r) })
		s.applyEOS(rs, s.readEpochs(rs), true)
		if failed {
			s.sleep(s.backoff())
		}
	}
}

func clonePartitions(m map[topicPartition]int64) map[topicPartition]int64 {
	c := make(map[topicPartition]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// applyEOS applies the records of the open epoch, holds back those of
// later buckets and skips those a committed output holds; fresh records
// advance the consumed offsets. Then it publishes and queues the poll for
// the emission it waits for.
//
// epochs are the assignment epochs of the records' partitions when they
// were read (readEpochs); fresh records were just read.
func (s *KafkaSource) applyEOS(rs []*kgo.Record, epochs []uint64, fresh bool) {
	if len(rs) == 0 {
		return
	}
	e := s.eos
	for !e.known || s.assignedSince() {
		// No record is applied without the partitions' last commits;
		// stopping meanwhile, none is, and the open transaction must not
		// commit past them: it is failed, so that it aborts (the next
		// owner reads them from the committed offsets).
		if s.loadSkipRules() {
			break
		}
		if s.sleep(s.backoff()) {
			e.txn.SetFailed(true)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := nowMillis()
	s.tmax = math.MinInt64
	var msgs, bytes, recs, samples, bad uint64
	applied := false
	for i, r := range rs {
		tp := topicPartition{r.Topic, r.Partition}
		if fresh {
			msgs++
			bytes += uint64(len(r.Value))
		}
		ep, own := s.ownedSince(tp)
		if !own || epochs[i] != ep {
			// The partition was revoked since the record was read (held
			// back, or between the poll and now), perhaps assigned again
			// (the consumer then reads it again from the committed
			// offset): its owner reads it from there, so this
			// transaction must not hold it too. franz-go's session
			// aborts a transaction during which a revocation came, but
			// forgets one that came while End ran (it clears the flag
			// when End returns): a record held back across that End
			// would otherwise be in two committed outputs.
			s.released.Add(1)
			continue
		}
		if fresh {
			e.consumed[tp] = r.Offset + 1
		}
		start, ok := partials.StartOf(r.Value)
		if ok && skips(e.skip[tp], r.Offset, start) {
			s.skipped.Add(1)
			continue
		}
		if ok && start >= e.b {
			if _, has := e.firstHeld[tp]; !has {
				e.firstHeld[tp] = r.Offset
			}
			e.held = append(e.held, r)
			e.heldEpochs = append(e.heldEpochs, ep)
			e.heldBytes += len(r.Value)
			continue
		}
		applied = true
		c, ok := s.decode(r, now)
		recs += uint64(c.Records)
		samples += uint64(c.Samples)
		if !ok {
			bad++
		}
	}
	s.heldBytes.Store(int64(e.heldBytes))
	s.count(msgs, bytes, recs, samples, bad)
	s.publish()
	if applied {
		s.queuePoll(nil, now)
	}
}

// readEpochs returns the assignment epochs of the partitions of records
// just polled (0 for a partition revoked already).
func (s *KafkaSource) readEpochs(rs []*kgo.Record) []uint64 {
	eps := make([]uint64, len(rs))
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	for i, r := range rs {
		eps[i] = s.owned[topicPartition{r.Topic, r.Partition}]
	}
	return eps
}

// ownedSince returns the assignment epoch under which the source owns tp
// now; ok is false if it does not.
func (s *KafkaSource) ownedSince(tp topicPartition) (epoch uint64, ok bool) {
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	epoch, ok = s.owned[tp]
	return epoch, ok
}

// assignedSince reports whether the group assigned partitions since the
// skip rules were loaded.
func (s *KafkaSource) assignedSince() bool {
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	return s.assigned != s.rulesAt
}

// loadSkipRules reads the group's committed offsets and their metadata; it
// reports whether it could.
func (s *KafkaSource) loadSkipRules() bool {
	e := s.eos
	s.ownMu.Lock()
	at := s.assigned
	s.ownMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.await())
	defer cancel()
	// Stable: a commit another member's transaction has pending is waited
	// for, as the consumer waits for it before reading from its offset.
	ctx = kadm.RequireStable(ctx)
	group := kafkaprops.Consumer(s.cfg.Props).Group
	got, err := kadm.NewClient(s.cl).FetchOffsets(ctx, group)
	if err == nil {
		err = got.Error()
	}
	if err != nil {
		s.pollErrors.Add(1)
		s.cfg.Log.Warn("kafka: cannot read the committed offsets (exactly once)", "source", s.cfg.Name, "err", err)
		return false
	}
	clear(e.skip)
	got.Each(func(o kadm.OffsetResponse) {
		if rules, ok := parseEOSMetadata(o.Metadata); ok {
			e.skip[topicPartition{o.Topic, o.Partition}] = rules
		}
	})
	e.known = true
	s.rulesAt = at
	return true
}

func eosMetadataOf(rules []skipRule) string {
	m := eosMetadata
	for _, r := range rules {
		m += " b=" + strconv.FormatInt(r.b, 10) + " e=" + strconv.FormatInt(r.end, 10)
	}
	return m
}

func parseEOSMetadata(m string) ([]skipRule, bool) {
	f := strings.Fields(m)
	if len(f) < 3 || len(f)%2 != 1 || f[0] != eosMetadata {
		return nil, false
	}
	var rules []skipRule
	for i := 1; i < len(f); i += 2 {
		if !strings.HasPrefix(f[i], "b=") || !strings.HasPrefix(f[i+1], "e=") {
			return nil, false
		}
		b, err1 := strconv.ParseInt(f[i][2:], 10, 64)
		end, err2 := strconv.ParseInt(f[i+1][2:], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		rules = append(rules, skipRule{b: b, end: end})
	}
	return rules, true
}

// nextRules are a partition's rules after a commit at offset x: this
// epoch's, and the earlier ones that still reach past x.
func nextRules(old []skipRule, epoch skipRule, x int64) []skipRule {
	rules := []skipRule{epoch}
	for _, r := range old {
		if r.end > x && len(rules) < maxRules {
			rules = append(rules, r)
		}
	}
	return rules
}

// commitEpoch ends the epoch's transaction with its offsets (everything it
// applied has been emitted into it), then opens the next epoch with what
// was held back; if the transaction aborts, it lets the aggregator empty
// itself into the discarding sinks and reads again from the committed
// offsets.
func (s *KafkaSource) commitEpoch(final bool) {
	e := s.eos
	type commit struct {
		x     int64 // the offset to commit
		rules []skipRule
	}
	want := map[topicPartition]commit{}
	for tp, next := range e.consumed {
		x := next
		if h, ok := e.firstHeld[tp]; ok {
			x = h
		}
		end, ok := e.decision[tp]
		if !ok {
			end = x
		}
		want[tp] = commit{x: x, rules: nextRules(e.skip[tp], skipRule{b: e.b, end: end}, x)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.await()+e.txnTimeout())
	// The offsets committed are franz-go's (of the partitions it still
	// assigns us), rewritten to want's; a partition want lacks (read by
	// franz-go, never recorded as read here: a stop before the loop
	// applied what it polled) is left out, read again by its owner.
	sent := map[topicPartition]bool{}
	ctx = kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		clear(sent)
		topics := req.Topics[:0]
		for _, t := range req.Topics {
			parts := t.Partitions[:0]
			for _, p := range t.Partitions {
				tp := topicPartition{t.Topic, p.Partition}
				w, ok := want[tp]
				if !ok {
					continue
				}
				if w.x != p.Offset {
					p.Offset, p.LeaderEpoch = w.x, -1
				}
				m := eosMetadataOf(w.rules)
				p.Metadata = &m
				parts = append(parts, p)
				sent[tp] = true
			}
			if len(parts) > 0 {
				t.Partitions = parts
				topics = append(topics, t)
			}
		}
		req.Topics = topics
		return nil
	})
	try := kgo.TryCommit
	if e.txn.Failed() || (final && s.dropped.Load() > 0) {
		// A sink could not hand something to the transaction (dropped,
		// failed), or the source dropped samples at shutdown: the output
		// is not the epoch's whole, so the epoch is read again.
		try = kgo.TryAbort
	}
	committed, err := e.sess.End(ctx, try)
	cancel()
	if err != nil {
		// End may fail before ending the transaction (its flush timed
		// out): end it, or Begin would refuse forever.
		ctx, cancel := context.WithTimeout(context.Background(), s.await())
		e.sess.End(ctx, kgo.TryAbort)
		cancel()
	}
	e.txn.SetFailed(false)
	e.inTxn = false
	if committed {
		for tp := range sent {
			e.skip[tp] = want[tp].rules
		}
		s.commits.Add(uint64(len(sent)))
		s.epochs.Add(1)
		// The next epoch; those that already ended while nothing was
		// read are skipped (what they would hold is below the new one's
		// boundary).
		e.b = max(e.b+e.p, e.firstBoundary(time.Now()))
		e.closing = false
		held, heldEpochs := e.held, e.heldEpochs
		e.held, e.heldEpochs, e.heldBytes, e.decision = nil, nil, 0, nil
		clear(e.firstHeld)
		if final {
			s.heldBytes.Store(0)
			return
		}
		// (The gauge keeps what was held until applyEOS has applied or
		// held it again.)
		for !e.inTxn {
			if err := e.sess.Begin(); err != nil {
				s.cfg.Log.Warn("kafka: cannot begin a transaction", "source", s.cfg.Name, "err", err)
				if s.sleep(s.backoff()) {
					return
				}
				continue
			}
			e.inTxn = true
		}
		s.applyEOS(held, heldEpochs, false)
		return
	}
	// Aborted: a rebalance, or a failure. The session has rewound the
	// consumer to the committed offsets.
	s.aborts.Add(1)
	s.cfg.Log.Warn("kafka: transaction aborted; what it held is read again", "source", s.cfg.Name, "err", err)
	e.txn.SetDiscarding(true)
	for {
		s.advance()
		s.mu.Lock()
		left := len(s.pending)
		s.mu.Unlock()
		if left == 0 || s.sleep(5*time.Millisecond) {
			break
		}
	}
	e.txn.SetDiscarding(false)
	e.held, e.heldEpochs, e.heldBytes, e.decision, e.closing, e.known = nil, nil, 0, nil, false, false
	s.heldBytes.Store(0)
	clear(e.firstHeld)
	clear(e.consumed)
	e.b = max(e.b, e.firstBoundary(time.Now()))
}

// finishEOS commits the last epoch at shutdown: the pipeline has emitted
// everything the source applied (into the open transaction); what it held
// back is read again by the partitions' next owner.
func (s *KafkaSource) finishEOS() {
	e := s.eos
	if e.inTxn {
		e.decision = clonePartitions(e.consumed)
		s.commitEpoch(true)
	}
	e.txn.Release(s.cl) // unless a source opened since (a reload) took the id
	e.sess.Close()
}
