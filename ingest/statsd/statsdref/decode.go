package statsdref

import (
	"bytes"
	"math"

	"github.com/gomad/mad/internal/sample"
)

// Config is what the reference models of statsd.Config; rates always scale
// (statsd.RateScale).
type Config struct {
	// NegativeGaugeDelta reads a gauge's "-N" as a delta, as Etsy statsd
	// does; "+N" always is one.
	NegativeGaugeDelta bool
}

// Stats is what Decode counts, as statsd.Stats does: every non-empty line
// by result; of the OK ones, those dropped for a zero rate (SampledOut), a
// value that is not finite (NonFinite) or a key over sample.MaxKeyLen
// (TooLong), and those that became a sample.
type Stats struct {
	Lines                                   map[Result]int
	SampledOut, NonFinite, TooLong, Samples int
}

// Decode decodes a datagram, lines separated by '\n' (empty ones ignored),
// appending a sample per metric line to b. now (ms) is the time of a line
// without a |T timestamp.
//
// Per line, as DESIGN.md and MAD-SPEC §4.4 say:
//   - c and m are counters, g a gauge, ms a timer in MILLISECOND normalised
//     to SECOND, h and d timers without unit, s a set whose member is the
//     value text (sample.SetMember).
//   - A gauge's "+N", and "-N" with NegativeGaugeDelta, is a delta
//     (sample.FlagDelta).
//   - A rate r scales: rate 0 drops the line; a counter's value is
//     multiplied by 1/r (Etsy statsd's value * (1 / sampleRate)); a timer
//     value counts round(1/r) times (at least once), as one pre-aggregated
//     sample: min = max = v, sum = v × n, count = n, histogram {v: n}.
//   - NaN and infinite values are dropped (sets have none).
//   - The time is the |T seconds × 1000 (long arithmetic) if positive,
//     otherwise now.
//   - The tags of both styles are the dimensions.
func Decode(data []byte, now int64, cfg Config, b *sample.Batch) Stats {
	st := Stats{Lines: map[Result]int{}}
	for _, text := range bytes.Split(data, []byte("\n")) {
		if len(text) == 0 {
			continue
		}
		l, r := ParseLine(text)
		st.Lines[r]++
		if r != OK {
			continue
		}
		weight := 1.0
		if l.HasRate && l.Rate != 1 {
			if l.Rate == 0 {
				st.SampledOut++
				continue
			}
			weight = 1 / l.Rate
		}
		v, unit, flags := l.Value, sample.UnitNone, uint8(0)
		var kind sample.Kind
		switch l.Type {
		case "c", "m":
			kind, v = sample.KindCounter, v*weight
		case "g":
			kind = sample.KindGauge
			if l.Plus || l.Signed && cfg.NegativeGaugeDelta {
				flags = sample.FlagDelta
			}
		case "ms":
			kind = sample.KindTimer
			v, unit = sample.Normalize(v, sample.Millisecond)
		case "h", "d":
			kind = sample.KindTimer
		case "s":
			kind, v, flags = sample.KindSet, sample.SetMember(l.Raw), sample.FlagSetMember
		}
		if kind != sample.KindSet && (math.IsNaN(v) || math.IsInf(v, 0)) {
			st.NonFinite++
			continue
		}
		t := now
		if l.Timestamp > 0 {
			t = l.Timestamp * 1000
		}
		k, err := b.PutKey(kind, l.Name, l.Tags)
		if err != nil {
			st.TooLong++
			continue
		}
		st.Samples++
		if kind != sample.KindTimer || weight == 1 {
			b.AddSample(k, t, 0, v, unit, flags)
			continue
		}
		n := math.Max(1, math.Round(weight))
		if n > 9223372036854775808 { // 2^63: a Java long's range
			n = 9223372036854775808
		}
		b.AddAgg(k, t, 0, sample.Agg{Min: v, Max: v, Sum: v * n, Count: n,
			Has: sample.HasMin | sample.HasMax | sample.HasSum | sample.HasCount | sample.HasHist},
			[]sample.HistEntry{{Value: v, Count: uint64(n)}}, unit)
	}
	return st
}
