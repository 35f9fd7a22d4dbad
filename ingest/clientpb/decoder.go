package clientpb

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// Config configures a Decoder.
type Config struct {
	// MaxRecords bounds the records of one body; 0 means no limit. A body
	// with more records fails with sample.ErrTooLarge.
	MaxRecords int
}

// Stats says what one call decoded: Counts (what a Decode call returns:
// the records in the body; the samples routed, one per value, one per set
// of pre-aggregated statistics (V3), and one KindNone sample per record
// that routed nothing else), and what was left out.
type Stats struct {
	sample.Counts
	// TooLong counts metrics (and records without metrics) dropped because
	// their series key would exceed sample.MaxKeyLen. MAD has no such limit.
	TooLong int
}

// rerouteEvery is how many samples of one series go to a batch before Route
// is asked again (it publishes full batches), so that a huge metric does not
// grow one batch without bound.
const rerouteEvery = 512

// span locates bytes of the body: body[s:e].
type span struct{ s, e uint32 }

// Decoder decodes client protocol bodies into samples. It keeps scratch space
// that grows to the largest record seen and is reused, so that decoding
// allocates nothing in steady state. Everything it keeps of a record is
// offsets into the body, so that its scratch holds no pointers. One per
// producer slot; not safe for concurrent use.
type Decoder struct {
	cfg     Config
	version int
	route   sample.Route
	body    []byte
	st      Stats

	// The record being decoded.
	id       span
	time     uint64
	reqTime  uint64
	dims     []sample.Span
	annots   []sample.Span // V1/V2: names only
	badDim   int           // V3: first dimension entry with an unset identifier, or -1
	badDimAt int
	m12      []metric12 // V1/V2 metric entries
	qtys     []qty      // V1/V2 quantities of all entries
	m3       []entry3   // V3 data entries
	vals     []float64  // V3 samples of all entries
	unitRun  []float64  // V1/V2: the normalised values of one unit in a row
	hist     []sample.HistEntry

	// The dimension cache (cache.go) and the record's use of it.
	slots   [dimSlots]dimSlot
	slot    *dimSlot // the record's dimension set, if cached
	run     span     // the record's run of dimension entries
	runN    int      // and their number (0: none to cache)
	runHash uint64
	tick    uint64
	nDims   int // dimension entries seen in the record

	// Batches seen in this call (batches.go).
	batches []batchState
	gen     uint64 // call generation

	// Emission scratch.
	section []byte   // AppendKey(KindNone, "", dims): the record's bucket key
	secBuf  []byte   // section, when built here
	keys    []byte   // the keys of the record's metrics, back to back
	refs    []keyRef // per metric key (V3: per active entry)
	hashes  []uint64 // their hashes (V1/V2 duplicate check: name hashes)
	order   []int32
	pairs   []hashPos
	grp     []int32
	sorted  []uint64

	// The first failure of the current call.
	f failure
}

type failure struct {
	code   int
	off    int
	record int
	field  string
	metric span
	detail string
}

// NewDecoder returns a decoder.
func NewDecoder(cfg Config) *Decoder {
	return &Decoder{cfg: cfg}
}

// start begins a call; it refuses bodies whose offsets do not fit 32 bits
// (Java's arrays stop at 2 GiB: MAD cannot take them either).
func (d *Decoder) start(version int, body []byte, route sample.Route) bool {
	d.version, d.body, d.route = version, body, route
	d.gen++
	d.st = Stats{}
	d.f = failure{}
	if len(body) > math.MaxInt32 {
		d.f = failure{code: errTooLarge, record: -1}
		return false
	}
	return true
}

// finish ends a call: it drops the references to the caller's body and
// route, and returns the result.
func (d *Decoder) finish(failed bool) (sample.Counts, error) {
	var err error
	if failed {
		err = d.err()
	}
	d.body, d.route = nil, nil
	d.endBatches()
	return d.st.Counts, err
}

// Stats returns what the last call decoded and left out.
func (d *Decoder) Stats() Stats { return d.st }

// fail records a failure (a code, or a negative code as pbwire's primitives
// return) at off and returns false.
func (d *Decoder) fail(code, off int, field string) bool {
	if code < 0 {
		code = -code
	}
	d.f = failure{code: code, off: off, record: d.st.Records, field: field}
	return false
}

// str returns the bytes of a span of the body.
func (d *Decoder) str(s span) []byte { return d.body[s.s:s.e:s.e] }

// err turns the recorded failure into the error the call returns.
func (d *Decoder) err() error {
	f := &d.f
	reason := reason(f.code)
	if f.detail != "" {
		reason += " " + f.detail
	}
	return &sample.DecodeError{Kind: kindOf(f.code), Format: "client protocol v" + strconv.Itoa(d.version) + " body",
		Unit: "record", Index: f.record, Metric: string(d.str(f.metric)), Field: f.field, Reason: reason, Offset: f.off}
}

// tooMany reports whether one more record exceeds the limit.
func (d *Decoder) tooMany() bool {
	return d.cfg.MaxRecords > 0 && d.st.Records >= d.cfg.MaxRecords
}

// buildSection encodes the record's sorted, unique dimensions as the key of
// its bucket (kind KindNone, no name); every metric key of the record ends
// with the same bytes. It returns false if that key alone is too long.
func (d *Decoder) buildSection() bool {
	s, err := sample.AppendKeySpans(d.secBuf[:0], sample.KindNone, nil, d.body, d.dims)
	d.secBuf, d.section = s, s
	return err == nil
}

// appendKey appends the key of (kind, name) with the record's dimensions to
// d.keys and returns false if it is too long: AppendKey's bytes, built from
// the section.
func (d *Decoder) appendKey(kind sample.Kind, name []byte) bool {
	k := d.keys
	start := len(k)
	k = append(k, byte(kind))
	if len(name) < 0x80 {
		k = append(k, byte(len(name)))
	} else {
		k = binary.AppendUvarint(k, uint64(len(name)))
	}
	k = append(k, name...)
	k = append(k, d.section[2:]...)
	if len(k)-start > sample.MaxKeyLen {
		d.keys = k[:start]
		return false
	}
	d.keys = k
	return true
}

// emitNone routes the KindNone sample of a record that routed nothing else,
// so that its bucket exists (MAD makes a bucket for every record).
func (d *Decoder) emitNone(t, req int64) {
	key := d.section
	h := sample.Hash(key)
	b, bi := d.routeTo(h)
	k := d.putKey(b, bi, key, h)
	b.AddValue(k, t, req, 0, sample.UnitNone)
	d.st.Samples++
}

// reroute asks the route again for a series' batch, which publishes a full
// one.
func (d *Decoder) reroute(b *sample.Batch, k sample.KeyRef, key []byte, h uint64) (*sample.Batch, sample.KeyRef) {
	if nb, bi := d.routeTo(h); nb != b {
		return nb, d.putKey(nb, bi, key, h)
	}
	return b, k
}

// appendSpan appends a dimension in place (see parseData3).
func appendSpan(dims []sample.Span, key, val span) []sample.Span {
	n := len(dims)
	if n == cap(dims) {
		dims = slices.Grow(dims, 1)
	}
	dims = dims[:n+1]
	sp := &dims[n]
	sp.K0, sp.K1, sp.V0, sp.V1 = key.s, key.e, val.s, val.e
	return dims
}

// addValues appends the unit-less values of one series, in order, as one
// run (sample.Batch.AddRun): 8 bytes a value in the batch, and one lookup
// of the series and its rows in the shard.
func addValues(b *sample.Batch, k sample.KeyRef, t, req int64, vals []float64) {
	b.AddRun(k, t, req, vals, sample.UnitNone)
}

// unknown skips an unknown field whose tag t ended at b[j] (i is where the
// tag began; b ends with the message), in a message msg at nesting depth
// depth, as protobuf-java skips it (pbwire.Skip). It returns the index
// after the field, or -1 after recording the failure.
func (d *Decoder) unknown(b []byte, i, j int, t uint32, depth int, msg string) int {
	k, at := pbwire.Skip(b, i, j, t, depth)
	if k < 0 {
		d.fail(k, at, msg)
	}
	return k
}
