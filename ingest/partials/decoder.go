// Package partials decodes mad's partials format (internal/partials): the
// partial aggregates an edge mad's KafkaSink writes, which a tier mad's
// KafkaSource reads with the PartialsParser and re-aggregates. Each series
// becomes one pre-aggregated sample (count, and the sum, min, max and
// histogram the edge computed) at the bucket start, so the tier's shards
// merge the edges' partials exactly as they merge V3 client statistics:
// counts, minima, maxima and histograms exactly, sums up to the order of
// the additions.
package partials

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"github.com/gomad/mad/internal/partials"
	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"

	"google.golang.org/protobuf/encoding/protowire"
)

// Config configures a Decoder.
type Config struct {
	// Periods are the periods of the pipeline the samples go to. A message
	// is refused unless its period divides each of them: an edge bucket
	// must fall in one bucket of every period, or the tier would spread it.
	// Empty: not checked.
	Periods []time.Duration
	// MaxSeries bounds the series of one message (0: none).
	MaxSeries int
}

// Decoder decodes partials messages. It is pure (its output goes through
// the route), zero-copy and, once warm, allocates nothing per message. A
// message is validated whole before any of it is routed: a malformed one
// routes nothing.
type Decoder struct {
	cfg    Config
	sets   []set
	series []series
	hist   []sample.HistEntry
	keys   []uint32
	counts []uint64
	key    []byte
}

type set struct {
	dimsS, dimsE int // the dimension section in the message
	minReq       int64
	n            int // its series
}

type series struct {
	nameS, nameE     int
	kind             sample.Kind
	unit             sample.Unit
	agg              sample.Agg
	histOff, histLen int
}

// NewDecoder returns a decoder.
func NewDecoder(cfg Config) *Decoder { return &Decoder{cfg: cfg} }

const format = "partials message"

// Info is what a decoded message said of its bucket.
type Info struct {
	Period  time.Duration
	StartMs int64
}

// Decode validates msg and routes each of its series, and a MAD empty
// bucket for each set without series, as one sample at the bucket start.
// Counts are sets (records) and samples.
func (d *Decoder) Decode(msg []byte, route sample.Route) (sample.Counts, Info, error) {
	d.sets, d.series, d.hist = d.sets[:0], d.series[:0], d.hist[:0]
	var info Info
	var version, period uint64
	var seenVersion bool
	r := pbwire.NewReader(msg)
	for r.More() {
		switch f := r.Next(); f.Tag {
		case partials.FieldVersion<<3 | pbwire.VarintType:
			version, seenVersion = uint64(f.Uint32()), true
		case partials.FieldPeriod<<3 | pbwire.VarintType:
			period = f.Uint64()
		case partials.FieldStart<<3 | pbwire.VarintType:
			info.StartMs = f.Int64()
		case partials.FieldSets<<3 | pbwire.BytesType:
			if err := d.set(msg, r.Message(f), f.At); err != nil {
				return sample.Counts{}, info, err
			}
		}
	}
	if r.Err() != pbwire.OK {
		return sample.Counts{}, info, bad("", r.Err().String(), r.ErrOffset())
	}
	switch {
	case !seenVersion || version != partials.Version:
		return sample.Counts{}, info, bad("version", "want "+strconv.Itoa(partials.Version)+", got "+strconv.FormatUint(version, 10), -1)
	case period == 0 || period > math.MaxInt64/uint64(time.Millisecond):
		return sample.Counts{}, info, bad("period_ms", "want a period > 0", -1)
	case info.StartMs%int64(period) != 0:
		return sample.Counts{}, info, bad("start_ms", "not a multiple of the period", -1)
	}
	info.Period = time.Duration(period) * time.Millisecond
	for _, p := range d.cfg.Periods {
		if p%info.Period != 0 {
			return sample.Counts{}, info, bad("period_ms", "the edge's period "+info.Period.String()+
				" does not divide the pipeline's period "+p.String()+": its buckets would be split", -1)
		}
	}
	return d.route(msg, info.StartMs, route), info, nil
}

// set validates one Set and collects its series.
func (d *Decoder) set(msg []byte, r pbwire.Reader, at int) error {
	s := set{dimsS: -1}
	for r.More() {
		switch f := r.Next(); f.Tag {
		case partials.SetDims<<3 | pbwire.BytesType:
			s.dimsS, s.dimsE = f.Bounds()
		case partials.SetMinReq<<3 | pbwire.VarintType:
			s.minReq = f.Int64()
		case partials.SetSeries<<3 | pbwire.BytesType:
			if d.cfg.MaxSeries > 0 && len(d.series) >= d.cfg.MaxSeries {
				return &sample.DecodeError{Kind: sample.ErrTooLarge, Format: format, Index: -1,
					Reason: "more than " + strconv.Itoa(d.cfg.MaxSeries) + " series", Offset: f.At}
			}
			if err := d.oneSeries(msg, r.Message(f), f.At); err != nil {
				return err
			}
			s.n++
		}
	}
	if r.Err() != pbwire.OK {
		return bad("", r.Err().String(), r.ErrOffset())
	}
	if s.dimsS < 0 {
		s.dimsS, s.dimsE = 0, 0
	}
	// The set's key (kind none, no name): checks the section once for
	// every series of the set.
	d.key = append(append(d.key[:0], byte(sample.KindNone), 0), msg[s.dimsS:s.dimsE]...)
	if s.dimsE == s.dimsS {
		d.key = append(d.key, 0) // no section: no dimensions
	}
	if _, err := sample.ParseKey(d.key); err != nil {
		return bad("dims", "not a dimension section (sorted, unique keys)", at)
	}
	if len(d.key) > sample.MaxKeyLen {
		return bad("dims", "the bucket's key is longer than "+strconv.Itoa(sample.MaxKeyLen)+" bytes", at)
	}
	for _, sr := range d.series[len(d.series)-s.n:] {
		n := sr.nameE - sr.nameS
		if 1+protowire.SizeVarint(uint64(n))+n+len(d.key)-2 > sample.MaxKeyLen {
			return bad("name", "the series key is longer than "+strconv.Itoa(sample.MaxKeyLen)+" bytes", at)
		}
	}
	d.sets = append(d.sets, s)
	return nil
}

// oneSeries validates one Series and collects it.
func (d *Decoder) oneSeries(msg []byte, r pbwire.Reader, at int) error {
	s := series{nameS: -1, agg: sample.Agg{Has: sample.HasCount}}
	var kind uint64
	keysAt, unitS, unitE, hist := -1, -1, -1, false
	unitAt := at
	d.keys, d.counts = d.keys[:0], d.counts[:0]
	for r.More() {
		switch f := r.Next(); f.Tag {
		case partials.SeriesName<<3 | pbwire.BytesType:
			s.nameS, s.nameE = f.Bounds()
		case partials.SeriesKind<<3 | pbwire.VarintType:
			kind = uint64(f.Uint32())
		case partials.SeriesUnit<<3 | pbwire.BytesType:
			unitS, unitE = f.Bounds()
			unitAt = f.At
		case partials.SeriesCnt<<3 | pbwire.VarintType:
			s.agg.Count = float64(f.Uint64())
		case partials.SeriesSum<<3 | pbwire.Fixed64Type:
			s.agg.Sum, s.agg.Has = f.Double(), s.agg.Has|sample.HasSum
		case partials.SeriesMin<<3 | pbwire.Fixed64Type:
			s.agg.Min, s.agg.Has = f.Double(), s.agg.Has|sample.HasMin
		case partials.SeriesMax<<3 | pbwire.Fixed64Type:
			s.agg.Max, s.agg.Has = f.Double(), s.agg.Has|sample.HasMax
		case partials.SeriesKeys<<3 | pbwire.BytesType:
			d.keys, _ = r.AppendUint32s(d.keys, f)
			keysAt = f.At
		case partials.SeriesKeys<<3 | pbwire.VarintType: // unpacked, as Java accepts
			d.keys = append(d.keys, f.Uint32())
			keysAt = f.At
		case partials.SeriesCnts<<3 | pbwire.BytesType:
			d.counts, _ = r.AppendVarints(d.counts, f)
		case partials.SeriesCnts<<3 | pbwire.VarintType:
			d.counts = append(d.counts, f.Uint64())
		case partials.SeriesHist<<3 | pbwire.VarintType:
			hist = f.Bool()
		}
	}
	if hist {
		s.agg.Has |= sample.HasHist
	}
	if r.Err() != pbwire.OK {
		return bad("", r.Err().String(), r.ErrOffset())
	}
	if unitE > unitS {
		u, ok := sample.ParseUnit(string(msg[unitS:unitE]))
		if !ok {
			return bad("unit", "not a MAD unit", unitAt)
		}
		s.unit = u
	}
	switch {
	case s.nameS < 0 || s.nameE == s.nameS:
		return bad("name", "missing", at)
	case !pbwire.ValidUTF8(msg[s.nameS:s.nameE]):
		return bad("name", "not UTF-8", at)
	case kind == partials.KindCounter:
		s.kind = sample.KindCounter
	case kind == partials.KindGauge:
		s.kind = sample.KindGauge
	case kind == partials.KindTimer, kind == partials.KindByName:
		s.kind = sample.KindTimer
	default:
		return bad("kind", "want 1, 2, 3 or 5, got "+strconv.FormatUint(kind, 10), at)
	}
	if !sample.Finite(s.agg.Sum) || !sample.Finite(s.agg.Min) || !sample.Finite(s.agg.Max) {
		return bad("sum, min, max", "not finite", at)
	}
	if len(d.keys) != len(d.counts) {
		return bad("hist_counts", "not as many as hist_keys", keysAt)
	}
	s.histOff, s.histLen = len(d.hist), len(d.keys)
	for i, k := range d.keys {
		// 19 bits: sign, 11 exponent bits, 7 mantissa bits; an exponent
		// of all ones is ±Inf or NaN.
		if k>>19 != 0 || k>>7&0x7FF == 0x7FF {
			return bad("hist_keys", "not a finite bucket key: "+strconv.FormatUint(uint64(k), 10), keysAt)
		}
		d.hist = append(d.hist, sample.HistEntry{Value: math.Float64frombits(uint64(k) << 45), Count: d.counts[i]})
	}
	if s.histLen > 0 {
		s.agg.Has |= sample.HasHist
	}
	d.series = append(d.series, s)
	return nil
}

// route writes the collected series.
func (d *Decoder) route(msg []byte, start int64, route sample.Route) sample.Counts {
	c := sample.Counts{Records: len(d.sets)}
	i := 0
	for _, st := range d.sets {
		dims := msg[st.dimsS:st.dimsE]
		if len(dims) == 0 {
			dims = []byte{0}
		}
		if st.n == 0 {
			// MAD's empty bucket: a sample of kind none.
			d.key = append(append(d.key[:0], byte(sample.KindNone), 0), dims...)
			h := sample.Hash(d.key)
			b := route(h)
			b.AddValue(b.PutKeyBytes(d.key, h), start, st.minReq, 0, sample.UnitNone)
			c.Samples++
			continue
		}
		for _, s := range d.series[i : i+st.n] {
			name := msg[s.nameS:s.nameE]
			d.key = append(d.key[:0], byte(s.kind))
			d.key = binary.AppendUvarint(d.key, uint64(len(name)))
			d.key = append(append(d.key, name...), dims...)
			h := sample.Hash(d.key)
			b := route(h)
			b.AddAgg(b.PutKeyBytes(d.key, h), start, st.minReq, s.agg, d.hist[s.histOff:s.histOff+s.histLen], s.unit)
			c.Samples++
		}
		i += st.n
	}
	return c
}

func bad(field, reason string, at int) error {
	return &sample.DecodeError{Kind: sample.ErrMalformed, Format: format, Index: -1, Field: field, Reason: reason, Offset: at}
}

// StartOf returns a message's bucket start (ms since the epoch) without
// decoding the rest; ok is false if the message has none or is malformed
// before it.
func StartOf(msg []byte) (startMs int64, ok bool) {
	r := pbwire.NewReader(msg)
	for r.More() {
		if f := r.Next(); f.Tag == partials.FieldStart<<3|pbwire.VarintType {
			startMs, ok = f.Int64(), true
		}
	}
	return startMs, ok && r.Err() == pbwire.OK
}
