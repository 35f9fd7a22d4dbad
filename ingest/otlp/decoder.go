package otlp

import (
	"encoding/binary"
	"math"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// Config configures a Decoder.
type Config struct {
	// MaxPoints bounds the data points of one request; 0 means no limit. A
	// request with more fails with sample.ErrTooLarge.
	MaxPoints int
	// Deltas, when set, turns cumulative monotonic sums into deltas
	// (delta.go), and every monotonic sum is then aggregated as a counter
	// (its values are increments). mad's, off by default: MAD takes every
	// sum's value as a gauge.
	Deltas *Deltas
	// NumberUnits applies the metric's unit to Sum and Gauge points
	// (numberUnitOf), which MAD leaves without a unit. mad's, off by
	// default.
	NumberUnits bool
}

// Stats says what one call decoded (Counts: MAD's records and the samples
// routed) and what it left out, by reason (doc.go).
type Stats struct {
	sample.Counts
	// Points is the number of data points read.
	Points int
	// Replaced: points replaced by a later one of the same name,
	// dimensions and time in the request (MAD keeps the later).
	Replaced int
	// Left out: non-finite number values, histograms without buckets,
	// Summary points and metrics of no known type, keys too long.
	NonFinite, Empty, Unsupported, TooLong int
	// NoDelta: points of cumulative sums that yield no delta (Config.Deltas:
	// a stream's baseline, a stale point); taken, not rejected.
	NoDelta int
}

// Rejected is the number of points left out, which OTLP's partial_success
// reports as rejected_data_points.
func (s *Stats) Rejected() int { return s.NonFinite + s.Empty + s.Unsupported + s.TooLong }

// Decoder decodes OTLP metrics export requests into samples (doc.go). It
// keeps scratch space that grows to the largest request seen and is reused,
// so that decoding allocates nothing in steady state. One per producer
// slot; not safe for concurrent use.
type Decoder struct {
	cfg   Config
	body  []byte
	route sample.Route
	now   int64
	st    Stats
	f     failure
	at    path
	// changes: what the last request's points did to cfg.Deltas (Undo).
	changes []change

	// Attributes (attrs.go).
	abuf   []byte        // stringified attributes: the resource's, then a point's
	res    []sample.Span // the resource's dimensions, into abuf
	resEnd int           // len(abuf) after the resource's
	pt     []sample.Span // the point's attributes
	dims   []sample.Span // the point's dimensions
	stack  []span        // occurrences of messages being merged

	// The metric being read.
	name       span
	dataName   string
	unit       sample.Unit // a histogram's unit (UnitNone: none)
	numUnit    sample.Unit // a number point's unit (NumberUnits)
	monotonic  bool        // a Sum's is_monotonic
	cumulative bool        // a Sum's temporality is cumulative
	runs       []span      // the occurrences of its data member

	// Histogram scratch.
	bounds []float64
	counts []uint64
	pos    []uint64
	neg    []uint64
	hist   []sample.HistEntry

	// The point's section (section.go) and key.
	cache      sectionCache
	section    []byte // the point's dimensions, AppendKeySpans(KindNone, "")
	secBuf     []byte
	secHash    uint64
	secTooLong bool
	slot       *cacheSlot // the section's cache slot, if cached
	resID      uint32     // the resource's id in the cache (0: none)
	resRaw     []byte     // the resource's attribute fields' bytes
	req        uint64     // requests decoded, for the cache's record counting
	key        []byte

	// Replacement and records (dedup.go).
	seen seenTable
	recs recTable
}

// NewDecoder returns a decoder.
func NewDecoder(cfg Config) *Decoder { return &Decoder{cfg: cfg} }

// Stats returns what the last call decoded and left out.
func (d *Decoder) Stats() Stats { return d.st }

// The messages' fields (metrics.proto, common.proto, resource.proto).
const (
	reqResourceMetrics = 1<<3 | pbwire.BytesType

	rmResource     = 1<<3 | pbwire.BytesType
	rmScopeMetrics = 2<<3 | pbwire.BytesType
	rmSchemaURL    = 3<<3 | pbwire.BytesType

	resAttributes = 1<<3 | pbwire.BytesType

	smScope     = 1<<3 | pbwire.BytesType
	smMetrics   = 2<<3 | pbwire.BytesType
	smSchemaURL = 3<<3 | pbwire.BytesType

	scopeName    = 1<<3 | pbwire.BytesType
	scopeVersion = 2<<3 | pbwire.BytesType
	scopeAttrs   = 3<<3 | pbwire.BytesType

	metricName        = 1<<3 | pbwire.BytesType
	metricDescription = 2<<3 | pbwire.BytesType
	metricUnit        = 3<<3 | pbwire.BytesType
	metricGauge       = 5<<3 | pbwire.BytesType
	metricSum         = 7<<3 | pbwire.BytesType
	metricHistogram   = 9<<3 | pbwire.BytesType
	metricExpHist     = 10<<3 | pbwire.BytesType
	metricSummary     = 11<<3 | pbwire.BytesType
	metricMetadata    = 12<<3 | pbwire.BytesType

	// Gauge, Sum, Histogram, ExponentialHistogram, Summary.
	dataPoints = 1<<3 | pbwire.BytesType

	sumTemporality        = 2<<3 | pbwire.VarintType
	sumMonotonic          = 3<<3 | pbwire.VarintType
	temporalityCumulative = 2
)

// Decode decodes one ExportMetricsServiceRequest (the protobuf message, not
// gRPC-framed) into samples routed through route, at request time now (ms).
// On error the samples routed are to be discarded (the request is refused
// whole, as MAD refuses it); the error is a *sample.DecodeError.
func (d *Decoder) Decode(body []byte, now int64, route sample.Route) (sample.Counts, error) {
	d.body, d.route, d.now = body, route, now
	d.st = Stats{}
	d.f = failure{}
	d.at = path{-1, -1, -1, -1}
	d.name, d.dataName = span{}, ""
	d.seen.reset()
	d.recs.reset()
	d.forgetChanges()
	d.req++
	ok := len(body) <= math.MaxInt32 || d.failAt(errTooLarge, -1, "")
	if ok {
		ok = d.request()
	}
	if !ok && kindOf(d.f.code) == sample.ErrMADFails {
		d.checkBody()
	}
	var err error
	if !ok {
		err = d.err()
	}
	d.body, d.route = nil, nil
	return d.st.Counts, err
}

// Undo takes back what the last Decode did to the Deltas tracker (see
// Deltas): its caller refused the request, after decoding or while it
// was decoded, so that the request's retry is converted as the request
// would have been. Calling it twice, or after a request that moved no
// stream, does nothing.
func (d *Decoder) Undo() {
	if d.cfg.Deltas != nil {
		d.cfg.Deltas.undo(d.changes)
	}
	d.forgetChanges()
}

// forgetChanges empties the log of changes (no stream is kept alive by an
// old request's log).
func (d *Decoder) forgetChanges() {
	clear(d.changes)
	d.changes = d.changes[:0]
}

func (d *Decoder) request() bool {
	r := pbwire.NewReader(d.body)
	rm := 0
	for r.More() {
		f := r.Next()
		if f.Tag == reqResourceMetrics {
			d.at = path{rm, -1, -1, -1}
			if !d.resourceMetrics(f.S, int(f.X)) {
				return false
			}
			rm++
		}
	}
	if r.Err() != pbwire.OK {
		d.at = path{-1, -1, -1, -1}
		return d.wire(r, "")
	}
	return true
}

// resourceMetrics reads one ResourceMetrics (fields at depth 1): its
// resource first, wherever it is on the wire (every occurrence merges),
// then its scopes.
func (d *Decoder) resourceMetrics(s, e int) bool {
	d.abuf, d.res, d.resRaw = d.abuf[:0], d.res[:0], d.resRaw[:0]
	r := pbwire.NewReaderAt(d.body, s, e, 1)
	for r.More() {
		f := r.Next()
		switch f.Tag {
		case rmResource:
			if !d.resource(&r, f) {
				return false
			}
		case rmSchemaURL:
			r.String(f)
		}
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "")
	}
	d.resourceDims()
	d.resEnd = len(d.abuf)
	d.resID = d.cache.resourceID(d.resRaw)
	r = pbwire.NewReaderAt(d.body, s, e, 1)
	sm := 0
	for r.More() {
		f := r.Next()
		if f.Tag == rmScopeMetrics {
			d.at.sm = sm
			if !d.scopeMetrics(f.S, int(f.X)) {
				return false
			}
			sm++
		}
	}
	d.at.sm = -1
	return true
}

// resource reads a Resource's attributes into d.res.
func (d *Decoder) resource(parent *pbwire.Reader, f pbwire.Field) bool {
	r := parent.Message(f)
	for r.More() {
		g := r.Next()
		if g.Tag == resAttributes {
			sp, ok := d.readAttr(g.S, int(g.X), 3)
			if !ok {
				return false
			}
			d.res = append(d.res, sp)
			// The resource's identity for the cache: every attribute's
			// bytes, each after its length.
			d.resRaw = binary.AppendUvarint(d.resRaw, g.X-uint64(g.S))
			d.resRaw = append(d.resRaw, d.body[g.S:g.X]...)
		}
		// entity_refs (3) are newer than MAD's protos: an unknown field,
		// skipped without reading its strings, as protobuf-java skips it.
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "resource")
	}
	return true
}

// scopeMetrics reads one ScopeMetrics (fields at depth 2).
func (d *Decoder) scopeMetrics(s, e int) bool {
	r := pbwire.NewReaderAt(d.body, s, e, 2)
	// Validate everything first: MAD reads the whole message before any
	// metric (a failure anywhere refuses the request either way, but the
	// scope's strings are checked only here).
	for r.More() {
		f := r.Next()
		switch f.Tag {
		case smScope:
			if !d.scope(&r, f) {
				return false
			}
		case smSchemaURL:
			r.String(f)
		}
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "")
	}
	r = pbwire.NewReaderAt(d.body, s, e, 2)
	m := 0
	for r.More() {
		f := r.Next()
		if f.Tag == smMetrics {
			d.at.m = m
			if !d.metric(f.S, int(f.X)) {
				return false
			}
			m++
		}
	}
	d.at.m = -1
	return true
}

// scope validates an InstrumentationScope (mad ignores it, as MAD does).
func (d *Decoder) scope(parent *pbwire.Reader, f pbwire.Field) bool {
	r := parent.Message(f)
	for r.More() {
		g := r.Next()
		switch g.Tag {
		case scopeName, scopeVersion:
			r.String(g)
		case scopeAttrs:
			if !d.validateAttr(g.S, int(g.X), 4) {
				return false
			}
		}
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "scope")
	}
	return true
}

// validateAttr checks a KeyValue that mad does not use (scope attributes,
// metric metadata, exemplars' attributes) as Java's parse would: it is
// stringified into scratch space that is then dropped.
func (d *Decoder) validateAttr(s, e, depth int) bool {
	n := len(d.abuf)
	_, ok := d.readAttr(s, e, depth)
	d.abuf = d.abuf[:n]
	return ok
}

// metric reads one Metric (fields at depth 3): name, unit and the run of
// its data member (a oneof: the last member on the wire; its occurrences
// since a field of another member merge), then its points.
func (d *Decoder) metric(s, e int) bool {
	d.name, d.dataName = span{}, ""
	var unit span
	var member uint32
	d.runs = d.runs[:0]
	r := pbwire.NewReaderAt(d.body, s, e, 3)
	for r.More() {
		f := r.Next()
		switch f.Tag {
		case metricName:
			if _, ok := r.String(f); ok {
				d.name = span{f.S, int(f.X)}
			}
		case metricUnit:
			if _, ok := r.String(f); ok {
				unit = span{f.S, int(f.X)}
			}
		case metricDescription:
			r.String(f)
		case metricMetadata:
			if !d.validateAttr(f.S, int(f.X), 4) {
				return false
			}
		case metricGauge, metricSum, metricHistogram, metricExpHist, metricSummary:
			if f.Tag != member {
				// Java parsed the member this one replaces all the same.
				for _, run := range d.runs {
					if !d.checkAt(run.s, run.e, 4, dataSchema(member), memberName(member)) {
						return false
					}
				}
				member = f.Tag
				d.runs = d.runs[:0]
			}
			d.runs = append(d.runs, span{f.S, int(f.X)})
		}
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "")
	}
	d.unit = unitOf(d.body[unit.s:unit.e])
	d.numUnit = sample.UnitNone
	if d.cfg.NumberUnits {
		d.numUnit = numberUnitOf(d.body[unit.s:unit.e])
	}
	d.monotonic, d.cumulative = false, false
	if member == metricSum {
		d.sumFlags()
	}
	if d.dataName = memberName(member); d.dataName == "" {
		d.st.Points++ // a metric without data counts as one point left out
		d.st.Unsupported++
		return true
	}
	dp := 0
	defer func() {
		if member == metricSummary && dp == 0 {
			d.st.Points++ // a Summary without points counts as one left out
			d.st.Unsupported++
		}
	}()
	for _, run := range d.runs {
		r := pbwire.NewReaderAt(d.body, run.s, run.e, 4)
		for r.More() {
			f := r.Next()
			if f.Tag != dataPoints {
				continue // temporality, monotonicity: ignored
			}
			d.at.dp = dp
			dp++
			d.st.Points++
			if d.cfg.MaxPoints > 0 && d.st.Points > d.cfg.MaxPoints {
				return d.failAt(errTooManyPoints, f.At, "")
			}
			var ok bool
			switch member {
			case metricGauge, metricSum:
				ok = d.numberPoint(f.S, int(f.X))
			case metricHistogram:
				ok = d.histogramPoint(f.S, int(f.X))
			case metricExpHist:
				ok = d.expHistogramPoint(f.S, int(f.X))
			case metricSummary:
				ok = d.summaryPoint(f.S, int(f.X))
			}
			if !ok {
				return false
			}
		}
		if r.Err() != pbwire.OK {
			d.at.dp = -1
			return d.wire(r, d.dataName)
		}
	}
	d.at.dp = -1
	return true
}

// memberName names a Metric's data member by its tag ("" for none).
func memberName(member uint32) string {
	switch member {
	case metricGauge:
		return "gauge"
	case metricSum:
		return "sum"
	case metricHistogram:
		return "histogram"
	case metricExpHist:
		return "exponential_histogram"
	case metricSummary:
		return "summary"
	}
	return ""
}

// sumFlags reads the Sum's temporality and monotonicity (the last of each
// across its occurrences).
func (d *Decoder) sumFlags() {
	for _, run := range d.runs {
		r := pbwire.NewReaderAt(d.body, run.s, run.e, 4)
		for r.More() {
			switch f := r.Next(); f.Tag {
			case sumTemporality:
				d.cumulative = f.Int32() == temporalityCumulative
			case sumMonotonic:
				d.monotonic = f.Bool()
			}
		}
	}
}

// numberUnitOf maps a number point's unit (NumberUnits): the time units
// MAD maps for histograms, and OpenTelemetry's (UCUM) units of data size.
func numberUnitOf(u []byte) sample.Unit {
	switch string(u) {
	case "By":
		return sample.Byte
	case "kBy", "KBy":
		return sample.Kilobyte
	case "MBy":
		return sample.Megabyte
	case "GBy":
		return sample.Gigabyte
	case "TBy":
		return sample.Terabyte
	case "bit":
		return sample.Bit
	}
	return unitOf(u)
}

// unitOf maps a histogram's unit as MAD does (lower-cased; time units
// only), or UnitNone.
func unitOf(u []byte) sample.Unit {
	var lower [16]byte
	if len(u) > len(lower) {
		return sample.UnitNone
	}
	for i, c := range u {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(u)]) {
	case "ns", "nanosecond", "nanoseconds":
		return sample.Nanosecond
	case "us", "microsecond", "microseconds":
		return sample.Microsecond
	case "ms", "millisecond", "milliseconds":
		return sample.Millisecond
	case "s", "second", "seconds":
		return sample.Second
	}
	return sample.UnitNone
}
