package otlpref

import (
	"errors"
	"math"

	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/gomad/mad/internal/sample"
)

// Counts of OTLP (fixed64, uint64) are Java longs to MAD: a count of 2^63
// or more is negative, so not "above zero", and becomes a negative double.

// above reports whether a count is above zero as a Java long.
func above(c uint64) bool { return int64(c) > 0 }

// aggStats are the statistics every histogram point carries.
const aggStats = sample.HasSum | sample.HasCount | sample.HasHist

// explicitHistogram returns the statistics of an explicit-bucket histogram
// point; ok is false for a point without bounds. The error is MAD's
// failure on an overflow bucket with a count when the point has one bound
// and no max.
func explicitHistogram(p *metricpb.HistogramDataPoint) (a sample.Agg, hist []sample.HistEntry, ok bool, err error) {
	bounds := p.GetExplicitBounds()
	n := len(bounds)
	if n == 0 {
		return a, nil, false, nil
	}
	counts := p.GetBucketCounts()
	if len(counts) > n+1 {
		counts = counts[:n+1]
	}
	a = sample.Agg{Count: float64(int64(p.GetCount())), Sum: p.GetSum(), Has: aggStats}
	for i, c := range counts {
		if !above(c) {
			continue
		}
		var v float64
		switch {
		case i < n:
			v = bounds[i]
			a.Max, a.Has = v, a.Has|sample.HasMax // the last one stays
		case p.Max != nil:
			v = p.GetMax()
		case n == 1:
			return a, nil, false, errors.New("overflow bucket of a histogram with one bound and no max")
		default:
			last := bounds[n-1]
			v = last + math.Abs(last-bounds[n-2])
		}
		if a.Has&sample.HasMin == 0 {
			a.Min, a.Has = v, a.Has|sample.HasMin
		}
		hist = append(hist, sample.HistEntry{Value: v, Count: c})
	}
	if p.Min != nil {
		a.Min, a.Has = p.GetMin(), a.Has|sample.HasMin
	}
	if p.Max != nil {
		a.Max, a.Has = p.GetMax(), a.Has|sample.HasMax
	}
	return a, hist, true, nil
}

// exponentialHistogram returns the statistics of an exponential histogram
// point; ok is false for a point without a bucket count above zero and
// with zero_count 0.
func exponentialHistogram(p *metricpb.ExponentialHistogramDataPoint) (a sample.Agg, hist []sample.HistEntry, ok bool) {
	scale := p.GetScale()
	buckets := func(b *metricpb.ExponentialHistogramDataPoint_Buckets, sign float64) {
		for i, c := range b.GetBucketCounts() {
			if above(c) {
				idx := b.GetOffset() + int32(i) // Java int arithmetic: wraps
				hist = append(hist, sample.HistEntry{Value: sign * expValue(scale, idx), Count: c})
			}
		}
	}
	buckets(p.GetNegative(), -1)
	if zc := p.GetZeroCount(); above(zc) {
		hist = append(hist, sample.HistEntry{Value: 0, Count: zc})
	}
	buckets(p.GetPositive(), 1)
	if len(hist) == 0 && p.GetZeroCount() == 0 {
		return a, nil, false
	}
	a = sample.Agg{Count: float64(int64(p.GetCount())), Sum: p.GetSum(), Has: aggStats}
	for i, e := range hist {
		if i == 0 || less(e.Value, a.Min) {
			a.Min = e.Value
		}
		if i == 0 || less(a.Max, e.Value) {
			a.Max = e.Value
		}
		a.Has |= sample.HasMin | sample.HasMax
	}
	if p.Min != nil {
		a.Min, a.Has = p.GetMin(), a.Has|sample.HasMin
	}
	if p.Max != nil {
		a.Max, a.Has = p.GetMax(), a.Has|sample.HasMax
	}
	return a, hist, true
}

// less orders doubles numerically with -0 before +0 (no NaN arises here).
func less(x, y float64) bool {
	if x == 0 && y == 0 {
		return math.Signbit(x) && !math.Signbit(y)
	}
	return x < y
}

// expValue is the representative value of bucket idx at scale: the
// midpoint of (base^idx, base^(idx+1)] with base 2^(2^-scale).
func expValue(scale, idx int32) float64 {
	switch {
	case scale > 0:
		sf := math.Ldexp(1, int(scale)) / math.Ln2
		m := 0.5 * (1 + math.Exp(1/sf))
		return m * math.Exp(float64(idx)/sf)
	case scale == 0:
		return math.Ldexp(1.5, int(idx))
	}
	// Java's int shift: the count is taken modulo 32, the result wraps;
	// so does idx+1.
	sh := uint32(-scale) & 31
	lo, hi := idx<<sh, (idx+1)<<sh
	return 0.5 * (math.Ldexp(1, int(lo)) + math.Ldexp(1, int(hi)))
}

// histUnit maps a metric's unit to MAD's for histograms: lower-cased (only
// ASCII letters change: Java's toLowerCase maps no other character to the
// letters of these names outside a Turkish locale), one of the time units
// MAD knows, else none.
func histUnit(u string) sample.Unit {
	l := []byte(u)
	for i, c := range l {
		if 'A' <= c && c <= 'Z' {
			l[i] = c + 'a' - 'A'
		}
	}
	switch string(l) {
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

// normalize applies a histogram's unit to min, max, sum and every bucket's
// value (count has none) and returns the unit they are in.
func normalize(a sample.Agg, hist []sample.HistEntry, u sample.Unit) (sample.Agg, []sample.HistEntry, sample.Unit) {
	if u == sample.UnitNone {
		return a, hist, u
	}
	var to sample.Unit
	a.Min, to = sample.Normalize(a.Min, u)
	a.Max, _ = sample.Normalize(a.Max, u)
	a.Sum, _ = sample.Normalize(a.Sum, u)
	for i := range hist {
		hist[i].Value, _ = sample.Normalize(hist[i].Value, u)
	}
	return a, hist, to
}
