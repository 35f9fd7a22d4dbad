package ingest

import (
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache"
	"github.com/gomad/mad/ring"
)

// Lanes are the rings between one producer and every shard: To[i] carries
// full batches to shard i, Back[i] brings them back emptied. Each ring has
// one producer goroutine (the loop, or the request that borrowed the
// producer) and one consumer.
type Lanes struct {
	To, Back []*ring.SPSC[*sample.Batch]
	// Progress, if set, tells a source that must acknowledge what it read
	// only once it was emitted (Kafka's offsets) how far the aggregator
	// behind these lanes has got.
	Progress Progress
	// Step, if set, runs a round of shard i on the caller's goroutine
	// (shard.Shard.Step: it applies what the shard's inputs hold) and
	// reports whether it could. It is set when the producer's loop shares a
	// CPU with the shards: Producer.Step then applies what the loop
	// published right away, in the loop's cache and without a switch to
	// the shard's thread (run to completion).
	Step []func() bool
	// Epochs, if set, are shard i's epochs (shard.Shard.Epoch): the
	// producer stamps each batch with its shard's (sample.Batch.Epoch),
	// which lets its decoders send series by their handles (Handles).
	Epochs []*atomic.Uint32
}

// Progress is how far an aggregator (shards and emitter) has got, for a
// source that acknowledges its input only once it was emitted: a batch the
// source pushed as the n-th on lane To[i] has been taken by shard i once
// To[i].Popped() >= n; once every shard has then sealed through a time T
// observed after that (SealedThrough() >= T), the batch was applied before
// T; and every bucket holding its samples (times at most t) has been
// emitted to the sinks once EmittedThrough() > Expiry(T', t), T' the time
// that was observed.
type Progress interface {
	// SealedThrough is the least of the shards' SealedThrough.
	SealedThrough() int64
	// EmittedThrough is a time W (ms) such that every bucket expiring
	// before W has been handed to the sinks; the maximum int64 once the
	// aggregator stopped and emitted everything.
	EmittedThrough() int64
	// Expiry bounds the expiration of any bucket holding a sample of time
	// t applied at or before applied (ms).
	Expiry(applied, t int64) int64
}

// NewLanes makes the rings for one producer and n shards: To of capacity
// batches, Back of BackExtra more, so that a shard never finds Back full.
func NewLanes(n, capacity int) Lanes {
	l := Lanes{To: make([]*ring.SPSC[*sample.Batch], n), Back: make([]*ring.SPSC[*sample.Batch], n)}
	for i := range l.To {
		l.To[i] = ring.NewSPSC[*sample.Batch](capacity)
		l.Back[i] = ring.NewSPSC[*sample.Batch](l.To[i].Cap() + BackExtra)
	}
	return l
}

// BackExtra is how much more a lane's Back ring holds than its To ring. A
// producer collects what came back after each batch it publishes, so
// between two collections the batches given back are at most those in To
// and those the shard had popped at the last one, plus the one published
// since: To's capacity, plus one round's pop (shard.BatchesPerPop, 16;
// TestLanesBackRoom in engine/pipeline holds the two together), plus one. A
// batch that did not fit would be dropped by the shard, and the producer
// would count it out for good (Producer.Returned).
const BackExtra = 17

// Producer fills one batch per shard and publishes them over its lanes. It
// belongs to one goroutine at a time.
type Producer struct {
	lanes Lanes
	cur   []*sample.Batch
	// MaxSamples publishes a batch once it holds this many samples.
	MaxSamples int
	// HoldStage keeps what a mapper is to map staged until it is
	// published (or the mapper changes), instead of mapping it every
	// MaxSamples: the decoder may still replace a staged sample (OTLP: a
	// later point of a series and time replaces the earlier one within a
	// request, which a request holds whole anyway).
	HoldStage bool
	// MaxRetained, if set, is the largest batch (in samples, or in values
	// of runs) kept for reuse when a shard gives it back, so that one huge
	// batch does not keep its memory for good (the Kafka source's; HTTP
	// slots keep theirs while busy and drop them when idle instead:
	// httpSlot.release).
	MaxRetained int
	// MaxWait is how long publishing waits for room in a full ring (the
	// shard is behind) before it drops the batch. Meanwhile the socket's
	// buffer keeps what arrives, and lines not yet read cost no parsing:
	// under sustained overload the excess is dropped by the kernel (UDP)
	// or the sender is made to wait (TCP), before any work is spent on it,
	// rather than here after it was parsed.
	MaxWait time.Duration
	// SkipStuck makes publishing to a shard that left no room for a whole
	// MaxWait drop without waiting, as long as its ring stays full (the
	// shard is stuck, not slow): one stuck shard then costs the producer
	// one MaxWait, not one per batch. It is for a long MaxWait (TCP's). With
	// a short one (UDP's 50 ms) a shard that long without room is a slow one
	// on a busy CPU, and waiting every time leaves the excess to the kernel,
	// unparsed, where dropping at once would parse it to drop it here.
	SkipStuck bool
	// Dropped counts samples dropped because a shard's ring stayed full
	// for MaxWait (or, with SkipStuck, was full while the shard was stuck).
	Dropped uint64
	// Waits counts publications that found a ring full and waited.
	Waits uint64
	// Published counts samples handed to shards.
	Published uint64

	// mapper, if set, rewrites what the decoder routes: samples are staged
	// and mapped before they reach the per-shard batches.
	mapper Mapper
	rw     *rewriter // mapper, when it is a single rewriter (RouteKey's fast path)
	stage  *sample.Batch
	direct sample.Route // p.routeDirect, made once (a method value allocates)
	// spare[i]: batches shard i gave back, the last one on top (fresh).
	spare [][]*sample.Batch
	// stuck[i]: with SkipStuck, a batch for shard i was dropped after
	// MaxWait, and its ring has not taken one since.
	stuck []bool
	// SizeNew makes a new batch (one made while the rings fill, before
	// any comes back) as large as the batch it last published (shape)
	// at once, rather than grown one doubling at a time, which copies
	// about its size and leaves as much garbage (in S2, where each sample
	// carries its key, 15 % of a profile while the rings filled). For the
	// UDP and TCP loops, whose batches are alike; not for an HTTP slot,
	// which keeps one set of batches (ReuseReturned) and would hold a
	// second, as large, beside it.
	SizeNew bool
	shape   sample.Shape
	// out[i]: batches published to shard i that have not come back on its
	// Back ring yet (a shard gives each back once applied: Back has room,
	// NewLanes). A shard that stops with batches in its ring (Detach) may
	// keep some: ForgetOutstanding.
	out []int
	// trimmed is Published at the last Trim.
	trimmed uint64
	// cache, once Handles made it, holds the series the decoders have
	// seen and their handles; the producer gives it the shards' answers.
	cache *sidcache.Cache
}

// Mapped reports whether a mapper rewrites what the producer routes (a
// wrapping source: its samples' keys, dimensions or times may change).
func (p *Producer) Mapped() bool { return p.mapper != nil }

// Handles returns the producer's series cache for a decoder to send series
// by their handles (statsd.Decoder.SetCache), or nil if the producer
// cannot: its lanes have no epochs, or a mapper rewrites its keys.
func (p *Producer) Handles() *sidcache.Cache {
	if p.mapper != nil || p.lanes.Epochs == nil {
		return nil
	}
	if p.cache == nil {
		p.cache = sidcache.New()
	}
	return p.cache
}

// CacheClears returns the times the producer's series cache was full and
// was cleared (0 without a cache).
func (p *Producer) CacheClears() uint64 {
	if p.cache == nil {
		return 0
	}
	return p.cache.Clears
}

// stamp gives shard i's current batch the shard's epoch, as it is now.
// Batches to a shard never go down in epoch, and a current batch is
// stamped when it becomes current, or while it is empty: its handles are
// all of its epoch.
func (p *Producer) stamp(i int) { p.cur[i].Epoch = p.epoch(i) }

// epoch returns shard i's epoch as it is now, 0 if the lanes have none.
func (p *Producer) epoch(i int) uint32 {
	if p.lanes.Epochs == nil {
		return 0
	}
	return p.lanes.Epochs[i].Load()
}

// SetMapper makes the producer stage what decoders route and map it (MAD's
// wrapping sources) before routing; nil removes the mapper. Staged samples
// are mapped first.
func (p *Producer) SetMapper(m Mapper) {
	p.drainStage()
	p.publishMapperStats()
	p.mapper = m
	p.rw, _ = m.(*rewriter)
	if m != nil && p.stage == nil {
		p.stage = new(sample.Batch)
		p.direct = p.routeDirect
	}
}

// drainStage maps the staged samples into the per-shard batches.
func (p *Producer) drainStage() {
	if p.mapper == nil || len(p.stage.Samples) == 0 {
		return
	}
	p.mapper.Map(p.stage, p.direct)
	p.stage.Reset()
}

// NewProducer returns a producer over lanes.
func NewProducer(lanes Lanes) *Producer {
	p := &Producer{lanes: lanes, cur: make([]*sample.Batch, len(lanes.To)), stuck: make([]bool, len(lanes.To)),
		spare: make([][]*sample.Batch, len(lanes.To)), out: make([]int, len(lanes.To)),
		MaxSamples: 1024, MaxWait: 50 * time.Millisecond}
	for i := range p.cur {
		p.cur[i] = new(sample.Batch)
		p.stamp(i)
	}
	return p
}

// newProducer returns a producer over lanes with the mapper of a chain, if
// any.
func newProducer(lanes Lanes, mappers MapperChain) *Producer {
	p := NewProducer(lanes)
	if m := mappers.New(); m != nil {
		p.SetMapper(m)
	}
	return p
}

// newStatsdDecoder returns a StatsD decoder for producer p's loop: with a
// mapper, the decoder routes by key (RouteKey), so that a rewriting source
// costs one lookup per sample, not a staging copy. Without one, the
// decoder sends the series it has seen by their handles (Handles). The
// producers that decode StatsD are a UDP loop's and a TCP event loop's
// slot's: one cache each, however many connections.
func newStatsdDecoder(cfg statsd.Config, p *Producer) *statsd.Decoder {
	d := statsd.NewDecoder(cfg)
	if p.mapper != nil {
		d.SetKeyRoute(p.RouteKey)
	} else {
		d.SetCache(p.Handles())
	}
	return d
}

// ShardOf returns the shard of a series hash among n: the low 32 bits,
// scaled (Lemire's multiply-shift). The shards' series index uses the high
// bits, so routing does not skew it.
func ShardOf(hash uint64, n int) int { return int(uint64(uint32(hash)) * uint64(n) >> 32) }

// Route returns the batch the sample of a series with this hash goes to,
// publishing that batch first if it is full. It is a sample.Route. With a
// mapper, it returns the staging batch (mapped when it is full, and before
// anything is published).
func (p *Producer) Route(hash uint64) *sample.Batch {
	if p.mapper != nil {
		if !p.HoldStage && len(p.stage.Samples) >= min(p.MaxSamples, 1024) {
			p.drainStage()
		}
		return p.stage
	}
	return p.routeDirect(hash)
}

// RouteKey is Route for a decoder that has the series key (a
// sample.KeyRoute): it writes the key into the batch it returns. With a
// single MappingSource, TransformingSource or TagDroppingSource as the
// mapper, the series' output key is looked up in the rewriter's cache and
// written straight into the shard's batch (one copy); a series the rules
// drop returns ok false; a series with several outputs, or any other
// mapper, is staged and mapped.
// Order is kept: a staged sample is mapped before the next key is routed.
func (p *Producer) RouteKey(key []byte, hash uint64) (*sample.Batch, sample.KeyRef, bool) {
	if p.mapper == nil {
		b := p.routeDirect(hash)
		return b, b.PutKeyBytes(key, hash), true
	}
	if p.rw != nil {
		if len(p.stage.Samples) > 0 {
			p.drainStage()
		}
		switch oh, okey, n := p.rw.single(key, hash); n {
		case 0:
			return nil, sample.KeyRef{}, false
		case 1:
			b := p.routeDirect(oh)
			return b, b.PutKeyBytes(okey, oh), true
		}
	}
	b := p.Route(hash)
	return b, b.PutKeyBytes(key, hash), true
}

// publishMapperStats publishes the counters a rewriter keeps per sample
// (RouteKey's path) to its spec.
func (p *Producer) publishMapperStats() {
	if p.rw != nil {
		p.rw.publishStats()
	}
}

func (p *Producer) routeDirect(hash uint64) *sample.Batch {
	i := ShardOf(hash, len(p.cur))
	if b := p.cur[i]; b.Count() >= p.MaxSamples {
		p.publish(i)
	}
	return p.cur[i]
}

// Flush publishes every non-empty batch.
func (p *Producer) Flush() {
	p.drainStage()
	p.publishMapperStats()
	for i, b := range p.cur {
		if len(b.Samples) > 0 {
			p.publish(i)
		}
	}
}

// Step runs a round of every shard of the lanes that have Step set (see
// Lanes.Step); the loops call it after publishing.
func (p *Producer) Step() {
	for _, f := range p.lanes.Step {
		f()
	}
}

// TryFlush publishes every non-empty batch that fits in its ring and reports
// whether all did; batches that do not fit stay current. Request borrowers
// retry it until a deadline rather than drop.
func (p *Producer) TryFlush() bool {
	p.drainStage()
	p.publishMapperStats()
	all := true
	for i, b := range p.cur {
		n := b.Count() // read before the shard owns b
		if n == 0 {
			continue
		}
		if !p.lanes.To[i].Push(b) {
			all = false
			continue
		}
		p.Published += uint64(n)
		p.out[i]++
		p.cur[i] = p.fresh(i)
	}
	return all
}

// Retarget publishes every non-empty batch to the current lanes, as Flush
// does (so the old shards should still be running: a batch whose ring stays
// full for MaxWait is dropped and counted), and then switches the
// producer to lanes, which may lead to a different number of shards. The
// counters (Published, Waits, Dropped) and settings carry over, so they stay
// cumulative. Like every method, it is called by the producer's owner only;
// the old lanes never see a batch from p again, and batches the old shards
// give back on their Back rings are left to the garbage collector.
func (p *Producer) Retarget(lanes Lanes) {
	p.Flush()
	p.lanes = lanes
	p.stuck = make([]bool, len(lanes.To))
	p.out = make([]int, len(lanes.To))
	// The spare batches are empty and the producer's own: the new lanes
	// take them over (the old shards' Back rings are left behind).
	var spare []*sample.Batch
	for _, sp := range p.spare {
		spare = append(spare, sp...)
	}
	p.spare = make([][]*sample.Batch, len(lanes.To))
	for i, b := range spare {
		p.spare[i%len(p.spare)] = append(p.spare[i%len(p.spare)], b)
	}
	// The batches in p.cur, up to its capacity, are empty (flushed) and
	// the producer's own: keep them for the new lanes.
	if n := len(lanes.To); n <= cap(p.cur) {
		p.cur = p.cur[:n]
	} else {
		p.cur = append(p.cur[:cap(p.cur)], make([]*sample.Batch, n-cap(p.cur))...)
	}
	for i, b := range p.cur {
		if b == nil {
			p.cur[i] = new(sample.Batch)
		}
		p.stamp(i)
	}
	// The handles are the old shards'.
	if p.cache != nil {
		p.cache.Clear()
	}
}

// Pending returns the samples not yet published.
func (p *Producer) Pending() int {
	n := 0
	if p.stage != nil {
		n += p.stage.Count()
	}
	for _, b := range p.cur {
		n += b.Count()
	}
	return n
}

// Discard drops every sample not yet published (a failed request).
func (p *Producer) Discard() {
	if p.stage != nil {
		p.stage.Reset()
	}
	for _, b := range p.cur {
		b.Reset()
	}
}

func (p *Producer) publish(i int) {
	b := p.cur[i]
	n := b.Count() // read before the shard owns b
	if p.SizeNew {
		p.shape = b.Shape()
	}
	if !p.lanes.To[i].Push(b) && !p.wait(i, b) {
		p.Dropped += uint64(n)
		b.Reset()
		return
	}
	p.stuck[i] = false
	p.Published += uint64(n)
	p.out[i]++
	p.cur[i] = p.fresh(i)
}

// maxWaitSleep caps the sleeps of wait.
const maxWaitSleep = time.Millisecond

// wait retries pushing b to shard i for up to MaxWait: first yielding (the
// shard may share this core), then sleeping for a doubling interval from
// 20 µs up to maxWaitSleep, so that a long wait costs little CPU (which
// the shard it waits for may need) and a ring of many batches never runs
// dry meanwhile. MaxWait is counted in the sleeps asked for, not in wall
// time: when the process or its CPU stops (a GC's stop-the-world, other
// threads on an overcommitted CPU) the sleeps overrun, and the shard, which
// could not run either, is not blamed for it. With SkipStuck, a wait that
// times out marks the shard stuck: until its ring takes a batch again,
// publishing to it does not wait.
func (p *Producer) wait(i int, b *sample.Batch) bool {
	if p.MaxWait <= 0 || p.stuck[i] {
		return false
	}
	p.Waits++
	var waited time.Duration
	sleep := 20 * time.Microsecond
	for spin := 0; ; spin++ {
		if spin < 8 {
			runtime.Gosched()
		} else {
			time.Sleep(sleep)
			waited += sleep
			sleep = min(2*sleep, maxWaitSleep)
		}
		if i < len(p.lanes.Step) {
			p.lanes.Step[i]() // make room, if no other round is running
		}
		if p.lanes.To[i].Push(b) {
			return true
		}
		if waited >= p.MaxWait {
			p.stuck[i] = p.SkipStuck
			return false
		}
	}
}

// fresh returns an empty batch for shard i: one the shard gave back, or a
// new one (SizeNew: as large as the batch last published).
// A returned batch that grew past MaxRetained samples is left to the
// garbage collector rather than kept at that size.
func (p *Producer) fresh(i int) *sample.Batch {
	p.collect(i)
	sp := p.spare[i]
	var b *sample.Batch
	if len(sp) == 0 {
		b = new(sample.Batch)
		if p.SizeNew {
			b.Reserve(p.reserve())
		}
	} else {
		b = sp[len(sp)-1]
		sp[len(sp)-1] = nil
		p.spare[i] = sp[:len(sp)-1]
	}
	b.Epoch = p.epoch(i)
	return b
}

// reserveKeyBytes bounds what a new batch reserves for its keys, per
// sample of MaxSamples: 128 bytes, more than a tagged StatsD key usually
// takes (S2's are about 80).
const reserveKeyBytes = 128

// reserve returns what a new batch reserves (SizeNew): the shape of the
// batch last published, each count bounded by MaxSamples and the keys
// by reserveKeyBytes a sample, so that one batch of outsized keys does not
// make every new batch after it as large: a batch that needs more grows.
func (p *Producer) reserve() sample.Shape {
	s, n := p.shape, max(p.MaxSamples, 1)
	s.Samples, s.Aggs, s.Hist = min(s.Samples, n), min(s.Aggs, n), min(s.Hist, n)
	s.Runs, s.Vals, s.Asks = min(s.Runs, n), min(s.Vals, n), min(s.Asks, n)
	s.Keys = min(s.Keys, reserveKeyBytes*n)
	return s
}

// collect moves the batches shard i gave back onto its spare stack, in the
// order they came back, so that the top is the batch the shard applied
// last: writing into it mostly hits lines the shard has just read, where a
// batch that waited behind the others in the ring has left the core's
// caches (the FIFO reuse made filling a batch miss on nearly every store).
// Batches over MaxRetained are let go of.
func (p *Producer) collect(i int) {
	for {
		b, ok := p.lanes.Back[i].Pop()
		if !ok {
			return
		}
		if len(b.Asks) > 0 {
			if p.cache != nil {
				p.cache.Answer(b.Asks)
			}
			b.Asks = b.Asks[:0]
		}
		p.out[i] = max(p.out[i]-1, 0)
		if p.MaxRetained <= 0 || cap(b.Samples) <= p.MaxRetained && cap(b.Vals) <= p.MaxRetained {
			p.spare[i] = append(p.spare[i], b)
		}
	}
}

// keepBatches is how many of the batches a shard gave back Trim keeps per
// ring: more than a producer has in flight at once when its shard keeps up.
const keepBatches = 4

// trimEvery is how often the sources call Trim.
const trimEvery = time.Second

// trimGiveBack is how many bytes a Trim must let go of before the heap's
// free memory is returned to the operating system (giveBack).
const trimGiveBack = 1 << 20

// Trim lets go of the batches the shards gave back beyond keepBatches per
// ring, if nothing was published since the previous Trim (the producer is
// idle; the first Trim after activity only notes it). A burst that filled
// the rings leaves every batch it used allocated, each with the capacity
// of its samples and keys (about 40 MiB for a ring of 256 batches of 1024
// tagged StatsD samples), and the producer would keep them for good,
// reusing a few. When Trim lets go of trimGiveBack bytes or more, the
// memory is returned to the operating system (giveBack). It returns the
// bytes let go of. Called by the producer's owner, periodically (about
// every second: TCPSource.OnTick, UDPSource's trimmer).
func (p *Producer) Trim() int {
	p.ackEpochs()
	if p.Published != p.trimmed {
		p.trimmed = p.Published
		return 0
	}
	freed := 0
	for i := range p.spare {
		p.collect(i)
		sp := p.spare[i]
		if n := len(sp) - keepBatches; n > 0 { // the coldest go
			for _, b := range sp[:n] {
				freed += batchBytes(b)
			}
			p.spare[i] = append(sp[:0], sp[n:]...)
			clear(sp[len(sp)-n:])
		}
	}
	if freed >= trimGiveBack {
		giveBack()
	}
	return freed
}

// ackEpochs restamps the empty current batches whose shard has moved to a
// new epoch and, if the producer may hold handles, publishes them: a shard
// keeps the sids of series reaped in an epoch until every producer that
// may send their handles has had a batch of a later epoch applied
// (shard/handle.go), and a producer that has nothing to send would hold
// them back for good. One empty batch per shard and epoch, pushed only if
// its ring has room (else at the next Trim: a shard that is behind has
// batches of this producer to apply anyway). Trim calls it.
func (p *Producer) ackEpochs() {
	if p.lanes.Epochs == nil {
		return
	}
	for i, b := range p.cur {
		if b.Len() > 0 || b.Epoch == p.epoch(i) {
			continue
		}
		p.stamp(i)
		if p.cache != nil && p.lanes.To[i].Push(b) {
			p.out[i]++
			p.cur[i] = p.fresh(i)
		}
	}
}

// DropBatches lets go of every batch the shards gave back and of the
// producer's current batches, empty (the owner calls it between requests):
// the next ones start small.
func (p *Producer) DropBatches() {
	p.drainStage()
	for i := range p.spare {
		p.collect(i)
		clear(p.spare[i])
		p.spare[i] = p.spare[i][:0]
	}
	for i, b := range p.cur {
		if b.Len() == 0 {
			p.cur[i] = new(sample.Batch)
			p.stamp(i)
		}
	}
	if p.stage != nil && p.stage.Len() == 0 {
		p.stage = new(sample.Batch)
	}
}

// PendingBytes returns the memory the batches not yet published hold.
func (p *Producer) PendingBytes() int {
	n := 0
	if p.stage != nil {
		n += batchBytes(p.stage)
	}
	for _, b := range p.cur {
		n += batchBytes(b)
	}
	return n
}

// PendingSampleBytes returns the bytes the batches not yet published hold
// in use (lengths, not capacities): what a request decoded into.
func (p *Producer) PendingSampleBytes() int64 {
	var n int64
	if p.stage != nil {
		n += usedBytes(p.stage)
	}
	for _, b := range p.cur {
		if b != nil {
			n += usedBytes(b)
		}
	}
	return n
}

// usedBytes is what a batch holds in use: the lengths of its slices, in
// bytes (batchBytes counts their capacities).
func usedBytes(b *sample.Batch) int64 {
	return int64(len(b.Samples))*int64(unsafe.Sizeof(sample.Sample{})) + int64(len(b.Keys)) +
		int64(len(b.Aggs))*int64(unsafe.Sizeof(sample.Agg{})) + int64(len(b.Hist))*int64(unsafe.Sizeof(sample.HistEntry{})) +
		int64(len(b.Runs))*int64(unsafe.Sizeof(sample.Run{})) + int64(len(b.Vals))*8
}

// batchBytes is the memory a batch holds: the capacity of its slices.
func batchBytes(b *sample.Batch) int {
	return cap(b.Samples)*int(unsafe.Sizeof(sample.Sample{})) + cap(b.Keys) +
		cap(b.Aggs)*int(unsafe.Sizeof(sample.Agg{})) + cap(b.Hist)*int(unsafe.Sizeof(sample.HistEntry{})) +
		cap(b.Runs)*int(unsafe.Sizeof(sample.Run{})) + cap(b.Vals)*8 + cap(b.Asks)*int(unsafe.Sizeof(sample.Ask{}))
}

// Taken reports whether the shards have taken every batch published to
// them: the rings are empty.
func (p *Producer) Taken() bool {
	for _, r := range p.lanes.To {
		if r.Len() > 0 {
			return false
		}
	}
	return true
}

// Returned collects the batches the shards gave back and reports whether
// every batch the producer published has come back.
func (p *Producer) Returned() bool {
	for i := range p.out {
		p.collect(i)
		if p.out[i] > 0 {
			return false
		}
	}
	return true
}

// ForgetOutstanding forgets the batches published that have not come
// back: Returned reports true until the next publication. A batch that
// comes back later is collected as usual, and taken off the count of the
// next publications (a Returned that reports true one batch early: the
// producer fills a new batch rather than that one, which costs memory,
// never data).
func (p *Producer) ForgetOutstanding() { clear(p.out) }

// ReuseReturned makes the batch a shard gave back last the current one of
// its lane, where the current one is empty and holds less memory (it goes
// on the spare stack in its place). A producer that publishes large
// batches one at a time and waits until they come back (Returned) then
// fills the same batches every time: one set, grown to the size of what
// it publishes, instead of a second set growing beside the first while
// that one waits to be applied.
func (p *Producer) ReuseReturned() {
	for i, b := range p.cur {
		sp := p.spare[i]
		if b.Len() > 0 || len(sp) == 0 {
			continue
		}
		if top := sp[len(sp)-1]; batchBytes(top) > batchBytes(b) {
			sp[len(sp)-1], p.cur[i] = b, top
			p.stamp(i)
		}
	}
}

// Fits reports whether every pending batch would be taken by its shard's
// ring right now. Only this producer pushes to its rings, so room seen here
// cannot disappear before the next Flush: a request whose batches fit is
// published whole, and one that does not can be discarded whole.
func (p *Producer) Fits() bool {
	p.drainStage()
	for i, b := range p.cur {
		if len(b.Samples) > 0 && p.lanes.To[i].Len() >= p.lanes.To[i].Cap() {
			return false
		}
	}
	return true
}
