// Package otlpref is a slow reference decoder of OTLP metrics export
// requests (ExportMetricsServiceRequest), written independently of package
// otlp and of internal/pbwire, to hold the fast decoder to in differential
// tests and fuzzing. It implements every rule of ingest/otlp's package
// documentation (MAD-SPEC §13.1 and the decisions taken where MAD's
// behaviour is not written down) the plain way: the body is re-read as
// protobuf-java reads it (canonical), parsed into the generated types of
// go.opentelemetry.io/proto/otlp with proto.Unmarshal, and turned into
// records with maps, sorting, strconv and math.
//
// It also provides what differential tests need around it: Render, a
// canonical text of a batch; JavaDouble, Java's Double.toString; and Random,
// a generator of requests that exercise every rule from fuzz bytes.
//
// It allocates freely; it is for tests.
package otlpref

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// Stats counts the data points a request leaves out, by reason, and the
// ones a later point replaced. Every point of a request is either kept or
// counted once here (a metric without points, or without data, counts one
// Unsupported).
type Stats struct {
	// Replaced: a later point of the request had the same name, dimensions
	// and time.
	Replaced int
	// NonFinite: a number point whose double is NaN or infinite; a
	// histogram point with a sum, minimum, maximum or bucket value (in the
	// unit normalised) that is (mad leaves it out: its shards refuse
	// such statistics).
	NonFinite int
	// Empty: a histogram without explicit bounds, an exponential histogram
	// without a bucket count above zero and with zero_count 0.
	Empty int
	// Unsupported: a Summary point; a metric of no data or of a type MAD's
	// protos do not know.
	Unsupported int
	// TooLong: the series key would be longer than sample.MaxKeyLen.
	TooLong int
}

// format names what Decode decodes in its errors.
const format = "OTLP metrics export request"

// Decode decodes body, a protobuf ExportMetricsServiceRequest (without gRPC
// framing), and appends its samples to b: one KindGauge sample per point
// kept, with record time time_unix_nano/10^6 and request time now (ms).
// Number points are values without unit; histograms are pre-aggregated
// statistics (sample.Agg, sample.HistEntry) in seconds if the metric's unit
// is a time unit MAD knows, else without unit.
//
// Samples are appended in the order in which their (dimensions, time,
// name) first appears on the wire, each with the last point of its name
// (a later point replaces an earlier one in place). MAD collects its
// records in hash maps, so its order across records is no order a client
// can rely on; mad's is the wire order, and a change of order changes a
// result only where it matters to an aggregator (a sum's rounding, the
// unit a series takes first).
//
// Counts.Records is the number of distinct (dimensions, time) pairs kept,
// Counts.Samples the samples appended. The error is a *sample.DecodeError
// wrapping sample.ErrMalformed (the body is no protobuf Java reads as the
// message) or sample.ErrMADFails (a point with a repeated attribute key, an
// explicit histogram whose overflow bucket needs a value it cannot get); on
// error b's content is unspecified.
func Decode(body []byte, now int64, b *sample.Batch) (sample.Counts, Stats, error) {
	var req colmetricpb.ExportMetricsServiceRequest
	canon, err := canonical(body, req.ProtoReflect().Descriptor())
	if err == nil {
		err = proto.Unmarshal(canon, &req)
	}
	if err != nil {
		return sample.Counts{}, Stats{}, &sample.DecodeError{Kind: sample.ErrMalformed, Format: format,
			Index: -1, Reason: err.Error(), Offset: -1}
	}
	d := decoder{recs: map[recKey]*record{}}
	if err := d.request(&req); err != nil {
		return sample.Counts{}, d.st, err
	}
	return d.emit(b, now), d.st, nil
}

// kept is the last point of one name in one record.
type kept struct {
	name string
	dims []sample.Dim
	agg  bool
	v    float64
	a    sample.Agg
	hist []sample.HistEntry
	unit sample.Unit
}

type recKey struct {
	dims string // canonical text of the sorted dimensions
	t    int64
}

type record struct {
	metrics []kept
	byName  map[string]int
}

type decoder struct {
	st    Stats
	order []recKey // records in the order they first appear
	// slots are the samples in the order their (record, name) first
	// appears: a record and an index into its metrics.
	slots []slot
	recs  map[recKey]*record
}

type slot struct {
	rk recKey
	i  int
}

func madFails(metric string, index int, reason string) error {
	return &sample.DecodeError{Kind: sample.ErrMADFails, Format: format, Unit: "data point", Index: index,
		Metric: metric, Reason: reason, Offset: -1}
}

func (d *decoder) request(req *colmetricpb.ExportMetricsServiceRequest) error {
	for _, rm := range req.GetResourceMetrics() {
		base := resourceDims(rm.GetResource().GetAttributes())
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				if err := d.metric(m, base); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// resourceDims returns the dimensions of a resource: its attributes
// stringified, empty ones dropped, the last of a repeated key winning, and
// "service" from "service.name" when it has none.
func resourceDims(attrs []*commonpb.KeyValue) map[string]string {
	dims := map[string]string{}
	for _, kv := range attrs {
		if s := stringify(kv.GetValue()); s != "" {
			dims[kv.GetKey()] = s
		}
	}
	if sn, ok := dims["service.name"]; ok {
		if _, ok := dims["service"]; !ok {
			dims["service"] = sn
		}
	}
	return dims
}

// pointDims returns a point's dimensions: its attributes, stringified and
// without empty ones, over the resource's. A key repeated among the
// point's attributes fails the request.
func pointDims(base map[string]string, attrs []*commonpb.KeyValue) (map[string]string, error) {
	seen := map[string]bool{}
	for _, kv := range attrs {
		if seen[kv.GetKey()] {
			return nil, fmt.Errorf("attribute key %q repeated", kv.GetKey())
		}
		seen[kv.GetKey()] = true
	}
	dims := make(map[string]string, len(base)+len(attrs))
	for k, v := range base {
		dims[k] = v
	}
	for _, kv := range attrs {
		if s := stringify(kv.GetValue()); s != "" {
			dims[kv.GetKey()] = s
		}
	}
	return dims, nil
}

// recordTime is time_unix_nano as a Java long divided by 10^6 (truncating).
func recordTime(t uint64) int64 { return int64(t) / 1_000_000 }

func (d *decoder) metric(m *metricpb.Metric, base map[string]string) error {
	name := m.GetName()
	switch data := m.GetData().(type) {
	case *metricpb.Metric_Gauge:
		return d.numbers(name, data.Gauge.GetDataPoints(), base)
	case *metricpb.Metric_Sum:
		return d.numbers(name, data.Sum.GetDataPoints(), base)
	case *metricpb.Metric_Histogram:
		unit := histUnit(m.GetUnit())
		for i, p := range data.Histogram.GetDataPoints() {
			dims, err := pointDims(base, p.GetAttributes())
			if err != nil {
				return madFails(name, i, err.Error())
			}
			a, hist, ok, err := explicitHistogram(p)
			if err != nil {
				return madFails(name, i, err.Error())
			}
			if !ok {
				d.st.Empty++
				continue
			}
			a, hist, u := normalize(a, hist, unit)
			if !allFinite(a, hist) {
				d.st.NonFinite++
				continue
			}
			d.keep(name, dims, recordTime(p.GetTimeUnixNano()), kept{agg: true, a: a, hist: hist, unit: u})
		}
	case *metricpb.Metric_ExponentialHistogram:
		unit := histUnit(m.GetUnit())
		for i, p := range data.ExponentialHistogram.GetDataPoints() {
			dims, err := pointDims(base, p.GetAttributes())
			if err != nil {
				return madFails(name, i, err.Error())
			}
			a, hist, ok := exponentialHistogram(p)
			if !ok {
				d.st.Empty++
				continue
			}
			a, hist, u := normalize(a, hist, unit)
			if !allFinite(a, hist) {
				d.st.NonFinite++
				continue
			}
			d.keep(name, dims, recordTime(p.GetTimeUnixNano()), kept{agg: true, a: a, hist: hist, unit: u})
		}
	case *metricpb.Metric_Summary:
		d.st.Unsupported += max(1, len(data.Summary.GetDataPoints()))
	default:
		d.st.Unsupported++
	}
	return nil
}

func (d *decoder) numbers(name string, points []*metricpb.NumberDataPoint, base map[string]string) error {
	for i, p := range points {
		dims, err := pointDims(base, p.GetAttributes())
		if err != nil {
			return madFails(name, i, err.Error())
		}
		var v float64
		switch x := p.GetValue().(type) {
		case *metricpb.NumberDataPoint_AsInt:
			v = float64(x.AsInt)
		case *metricpb.NumberDataPoint_AsDouble:
			v = x.AsDouble
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			d.st.NonFinite++
			continue
		}
		d.keep(name, dims, recordTime(p.GetTimeUnixNano()), kept{v: v})
	}
	return nil
}

// keep puts a point's sample into its record, over the one of the same
// name, unless its key is too long.
func (d *decoder) keep(name string, dims map[string]string, t int64, k kept) {
	keys := make([]string, 0, len(dims))
	for key := range dims {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var canon strings.Builder
	for _, key := range keys {
		k.dims = append(k.dims, sample.Dim{Key: []byte(key), Value: []byte(dims[key])})
		canon.WriteString(strconv.Quote(key))
		canon.WriteByte('=')
		canon.WriteString(strconv.Quote(dims[key]))
		canon.WriteByte(';')
	}
	if _, err := sample.AppendKey(nil, sample.KindGauge, []byte(name), k.dims); err != nil {
		if !errors.Is(err, sample.ErrKeyTooLong) {
			panic("BUG: " + err.Error())
		}
		d.st.TooLong++
		return
	}
	k.name = name
	rk := recKey{dims: canon.String(), t: t}
	rec := d.recs[rk]
	if rec == nil {
		rec = &record{byName: map[string]int{}}
		d.recs[rk] = rec
		d.order = append(d.order, rk)
	}
	if i, ok := rec.byName[name]; ok {
		d.st.Replaced++
		rec.metrics[i] = k
		return
	}
	rec.byName[name] = len(rec.metrics)
	d.slots = append(d.slots, slot{rk, len(rec.metrics)})
	rec.metrics = append(rec.metrics, k)
}

func (d *decoder) emit(b *sample.Batch, now int64) sample.Counts {
	c := sample.Counts{Records: len(d.order)}
	for _, sl := range d.slots {
		m := d.recs[sl.rk].metrics[sl.i]
		k, err := b.PutKey(sample.KindGauge, []byte(m.name), m.dims)
		if err != nil {
			panic("BUG: " + err.Error())
		}
		if m.agg {
			b.AddAgg(k, sl.rk.t, now, m.a, m.hist, m.unit)
		} else {
			b.AddValue(k, sl.rk.t, now, m.v, sample.UnitNone)
		}
		c.Samples++
	}
	return c
}

// allFinite reports whether the statistics a has and the bucket values of
// hist are all neither NaN nor infinite.
func allFinite(a sample.Agg, hist []sample.HistEntry) bool {
	vals := []float64{}
	if a.Has&sample.HasSum != 0 {
		vals = append(vals, a.Sum)
	}
	if a.Has&sample.HasMin != 0 {
		vals = append(vals, a.Min)
	}
	if a.Has&sample.HasMax != 0 {
		vals = append(vals, a.Max)
	}
	for _, h := range hist {
		vals = append(vals, h.Value)
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
