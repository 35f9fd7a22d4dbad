package sample

import (
	"hash/maphash"
	"math"
	"slices"

	"github.com/gomad/mad/internal/inplace"
)

// Flags on a Sample.
const (
	// FlagAgg: the sample carries pre-aggregated statistics in
	// Batch.Aggs[Sample.Agg] instead of a single Value.
	FlagAgg uint8 = 1 << iota
	// FlagDelta: a gauge value relative to the series' last gauge value
	// (StatsD "+N"), 0 if it has none.
	FlagDelta
	// FlagSetMember: a member of a set (KindSet); Value holds the bits of
	// the member's 64-bit hash (see SetMember), not a number.
	FlagSetMember
	// FlagRun: the sample carries a run of values of its series,
	// Batch.ValsOf (Batch.Runs[Sample.Agg]), each accumulated as a sample
	// of its own with the sample's time, request time and unit, in order;
	// Value is ignored. A request's thousands of values of one metric
	// cross to the shard as 8 bytes each instead of a 48-byte Sample, and
	// the shard finds their series and rows once.
	FlagRun
	// FlagHandle: the sample names its series by a handle the series'
	// shard gave out (Ask), in Hash, instead of by its key: KeyLen is 0.
	// A producer caches handles (package sidcache) so that a series it
	// has seen costs neither building, hashing and copying its key nor
	// the shard's lookup and key comparison. It is only for a plain
	// sample (a value, a gauge delta or a set member) in a batch stamped
	// (Batch.Epoch) with the epoch the handle was given in.
	FlagHandle
	// FlagAsk: a keyed plain sample that asks its shard for its series'
	// handle, in Batch.Asks[Sample.Agg].
	FlagAsk
)

// Sample is one quantity or one set of pre-aggregated statistics for one
// series. It is 48 bytes and holds no pointers.
//
// The order of samples in a batch matters and is preserved all the way into
// the shard: MAD accumulates sums in arrival order (floating-point addition is
// not associative), and within one record it accumulates every value of a
// metric before its pre-aggregated statistics. Parsers emit samples in that
// order.
type Sample struct {
	// Hash is Hash(key bytes).
	Hash uint64
	// Value is the quantity, already normalised (Normalize); ignored when
	// FlagAgg is set.
	Value float64
	// Time is the record time in milliseconds since the Unix epoch. It
	// decides the bucket.
	Time int64
	// ReqTime is MAD's record requestTime in milliseconds since the epoch,
	// or 0 when the record has none (only client protocol V3 sets it).
	ReqTime int64
	// KeyOff and KeyLen locate the canonical key in Batch.Keys.
	KeyOff uint32
	KeyLen uint32
	// Agg indexes Batch.Aggs when FlagAgg is set, Batch.Runs when FlagRun
	// is.
	Agg uint32
	// Unit of Value and of the pre-aggregated min, max, sum and histogram.
	Unit  Unit
	Flags uint8
}

// Which pre-aggregated statistics an Agg carries (Agg.Has).
const (
	HasMin uint8 = 1 << iota
	HasMax
	HasSum
	HasCount
	HasHist
)

// Agg is a set of pre-aggregated statistics (MAD's CalculatedValues of one
// metric in one record). A statistic that is absent is not merged, exactly
// as MAD ignores statistics a record does not carry.
type Agg struct {
	Min, Max, Sum float64
	// Count is a double, as MAD's CalculatedValue is; it is truncated to an
	// integer when merged into the count statistic, as MAD's (long) cast does.
	Count float64
	// HistOff and HistLen locate the histogram entries in Batch.Hist.
	HistOff, HistLen uint32
	Has              uint8
}

// Finite reports whether f is neither infinite nor NaN (f-f is NaN for
// both): mad's one test of a value's finiteness.
func Finite(f float64) bool { return f-f == 0 }

// Finite reports whether every statistic a has, and the value of every
// entry of hist (its histogram, if it has one), is finite: a shard refuses
// pre-aggregated data that is not (non_finite), and a decoder that can
// tell its client leaves such a point out instead.
func (a *Agg) Finite(hist []HistEntry) bool {
	if a.Has&HasMin != 0 && !Finite(a.Min) || a.Has&HasMax != 0 && !Finite(a.Max) ||
		a.Has&HasSum != 0 && !Finite(a.Sum) || a.Has&HasCount != 0 && !Finite(a.Count) {
		return false
	}
	for i := range hist {
		if !Finite(hist[i].Value) {
			return false
		}
	}
	return true
}

// HistEntry is one histogram bucket of pre-aggregated data: Count samples at
// Value. Value need not be a bucket key; it is truncated when recorded.
type HistEntry struct {
	Value float64
	Count uint64
}

// Batch is the unit that crosses from a producer to a shard over an SPSC ring.
// All slices are reused across batches: Reset keeps their capacity.
type Batch struct {
	Samples []Sample
	Keys    []byte
	Aggs    []Agg
	Hist    []HistEntry
	// Runs locate the values of FlagRun samples in Vals.
	Runs []Run
	Vals []float64
	// Asks are the handle requests of FlagAsk samples, answered by the
	// shard in place; the producer reads the answers when the batch comes
	// back.
	Asks []Ask
	// Epoch is the epoch of the handles the batch's FlagHandle samples
	// carry, the batch's shard's epoch as its producer last read it (0:
	// the producer does not read it). A producer's batches to a shard
	// never go down in epoch.
	Epoch uint32
}

// Ask is a producer's request for a series' handle, and the shard's answer.
type Ask struct {
	// Ticket is the producer's, to match the answer with what asked.
	Ticket uint64
	// Handle is the series' handle, set by the shard; 0 if it gave none
	// (the series was refused).
	Handle uint64
	// Epoch is the shard's epoch when it answered: the handle is good in
	// batches of that epoch.
	Epoch uint32
}

// Run locates a FlagRun sample's values in Batch.Vals.
type Run struct{ Off, Len uint32 }

// Reset empties the batch and keeps its capacity (and its Epoch).
func (b *Batch) Reset() {
	b.Samples = b.Samples[:0]
	b.Keys = b.Keys[:0]
	b.Aggs = b.Aggs[:0]
	b.Hist = b.Hist[:0]
	b.Runs = b.Runs[:0]
	b.Vals = b.Vals[:0]
	b.Asks = b.Asks[:0]
}

// Shape is how much a batch holds: the lengths of its slices.
type Shape struct{ Samples, Keys, Aggs, Hist, Runs, Vals, Asks int }

// Shape returns the lengths of b's slices.
func (b *Batch) Shape() Shape {
	return Shape{len(b.Samples), len(b.Keys), len(b.Aggs), len(b.Hist), len(b.Runs), len(b.Vals), len(b.Asks)}
}

// Reserve grows b's slices, keeping what they hold, so that each has room
// for at least s's length of it in all: a new batch made like one filled
// before it is filled without growing its slices one doubling at a time.
func (b *Batch) Reserve(s Shape) {
	b.Samples = reserve(b.Samples, s.Samples)
	b.Keys = reserve(b.Keys, s.Keys)
	b.Aggs = reserve(b.Aggs, s.Aggs)
	b.Hist = reserve(b.Hist, s.Hist)
	b.Runs = reserve(b.Runs, s.Runs)
	b.Vals = reserve(b.Vals, s.Vals)
	b.Asks = reserve(b.Asks, s.Asks)
}

// reserve returns x with room for n elements in all.
func reserve[T any](x []T, n int) []T {
	if n <= cap(x) {
		return x
	}
	return slices.Grow(x, n-len(x))
}

// Applied empties the batch as Reset does but keeps its asks, answered:
// what a shard gives back to the producer.
func (b *Batch) Applied() {
	asks := b.Asks
	b.Reset()
	b.Asks = asks
}

// Len returns the number of Samples (a run is one).
func (b *Batch) Len() int { return len(b.Samples) }

// Count returns the number of samples the batch carries, each value of a
// run counted: what it adds to the aggregates, and what producers and
// shards count.
func (b *Batch) Count() int { return len(b.Samples) + len(b.Vals) - len(b.Runs) }

// Key returns the canonical key of s. The slice references the batch and is
// valid until the batch is reset.
func (b *Batch) Key(s *Sample) []byte {
	return b.Keys[s.KeyOff : s.KeyOff+s.KeyLen : s.KeyOff+s.KeyLen]
}

// KeyRef locates a canonical key appended to a batch with PutKey.
type KeyRef struct {
	Hash     uint64
	Off, Len uint32
}

// PutKey appends the canonical key of (kind, name, dims) to the batch and
// hashes it. dims must be sorted with unique keys (SortDims). Samples of the
// same series in one batch may share the KeyRef.
func (b *Batch) PutKey(kind Kind, name []byte, dims []Dim) (KeyRef, error) {
	off := len(b.Keys)
	keys, err := AppendKey(b.Keys, kind, name, dims)
	b.Keys = keys
	if err != nil {
		return KeyRef{}, err
	}
	return KeyRef{Hash: Hash(keys[off:]), Off: uint32(off), Len: uint32(len(keys) - off)}, nil
}

// AddValue appends a sample carrying one quantity.
func (b *Batch) AddValue(k KeyRef, t, reqTime int64, v float64, u Unit) {
	b.AddSample(k, t, reqTime, v, u, 0)
}

// AddSample appends a sample carrying one value with the given flags
// (FlagDelta, FlagSetMember).
func (b *Batch) AddSample(k KeyRef, t, reqTime int64, v float64, u Unit, flags uint8) {
	s := b.next()
	s.Hash, s.Value, s.Time, s.ReqTime = k.Hash, v, t, reqTime
	s.KeyOff, s.KeyLen, s.Agg, s.Unit, s.Flags = k.Off, k.Len, 0, u, flags
}

// next appends a sample and returns it, for the caller to set every field
// in place (see package inplace: append(b.Samples, Sample{...}) stalled
// the StatsD decoder on store forwarding).
func (b *Batch) next() *Sample {
	var s *Sample
	b.Samples, s = inplace.Next(b.Samples)
	return s
}

// AddHandle appends a plain sample of the series of handle h (FlagHandle;
// flags may add FlagDelta or FlagSetMember).
func (b *Batch) AddHandle(h uint64, t int64, v float64, u Unit, flags uint8) {
	s := b.next()
	s.Hash, s.Value, s.Time, s.ReqTime = h, v, t, 0
	s.KeyOff, s.KeyLen, s.Agg, s.Unit, s.Flags = 0, 0, 0, u, flags|FlagHandle
}

// AddAsking appends a plain sample as AddSample does, asking for its
// series' handle under ticket.
func (b *Batch) AddAsking(k KeyRef, t int64, v float64, u Unit, flags uint8, ticket uint64) {
	s := b.next()
	s.Hash, s.Value, s.Time, s.ReqTime = k.Hash, v, t, 0
	s.KeyOff, s.KeyLen, s.Agg, s.Unit, s.Flags = k.Off, k.Len, uint32(len(b.Asks)), u, flags|FlagAsk
	b.Asks = append(b.Asks, Ask{Ticket: ticket})
}

// PutKeyBytes appends an already canonical key whose hash is known.
func (b *Batch) PutKeyBytes(key []byte, hash uint64) KeyRef {
	off := len(b.Keys)
	b.Keys = append(b.Keys, key...)
	return KeyRef{Hash: hash, Off: uint32(off), Len: uint32(len(key))}
}

// SetMember returns the Value of a set member sample: the bits of the
// member's hash. Members are distinct when their hashes are (64 bits).
func SetMember(member []byte) float64 {
	return math.Float64frombits(maphash.Bytes(seed, member))
}

// AddAgg appends a sample carrying pre-aggregated statistics; hist is copied
// into the batch.
func (b *Batch) AddAgg(k KeyRef, t, reqTime int64, a Agg, hist []HistEntry, u Unit) {
	a.HistOff, a.HistLen = uint32(len(b.Hist)), uint32(len(hist))
	b.Hist = append(b.Hist, hist...)
	s := b.next()
	s.Hash, s.Value, s.Time, s.ReqTime = k.Hash, 0, t, reqTime
	s.KeyOff, s.KeyLen, s.Agg, s.Unit, s.Flags = k.Off, k.Len, uint32(len(b.Aggs)), u, FlagAgg
	b.Aggs = append(b.Aggs, a)
}

// AddRun appends the values of one series, each a sample of its own with
// time t, request time reqTime and unit u, in order: as one FlagRun
// sample, or as a plain one when there is a single value.
func (b *Batch) AddRun(k KeyRef, t, reqTime int64, vals []float64, u Unit) {
	switch len(vals) {
	case 0:
		return
	case 1:
		b.AddValue(k, t, reqTime, vals[0], u)
		return
	}
	s := b.next()
	s.Hash, s.Value, s.Time, s.ReqTime = k.Hash, 0, t, reqTime
	s.KeyOff, s.KeyLen, s.Agg, s.Unit, s.Flags = k.Off, k.Len, uint32(len(b.Runs)), u, FlagRun
	b.Runs = append(b.Runs, Run{Off: uint32(len(b.Vals)), Len: uint32(len(vals))})
	b.Vals = append(b.Vals, vals...)
}

// ValsOf returns the values of a FlagRun sample, or nil if its run is not
// in the batch.
func (b *Batch) ValsOf(s *Sample) []float64 {
	if uint64(s.Agg) >= uint64(len(b.Runs)) {
		return nil
	}
	r := b.Runs[s.Agg]
	if uint64(r.Off)+uint64(r.Len) > uint64(len(b.Vals)) {
		return nil
	}
	return b.Vals[r.Off : r.Off+r.Len : r.Off+r.Len]
}

// HistOf returns the histogram entries of a.
func (b *Batch) HistOf(a *Agg) []HistEntry {
	return b.Hist[a.HistOff : a.HistOff+a.HistLen : a.HistOff+a.HistLen]
}
