package otlpref

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gomad/mad/internal/sample"
)

// Render returns one line per sample of b, sorted, so that two batches
// compare equal iff they hold the same samples whatever their order:
//
//	gauge "name" {"k"="v" ...} t=<time> req=<reqtime> v=<value> unit=<unit>
//	gauge "name" {...} t=... req=... min=<> max=<> sum=<> count=<> hist=[<value>:<count> ...] unit=<unit>
//
// Doubles are written with the fewest digits that read back exactly (-0 and
// NaN included); a statistic the sample does not carry is left out; the
// histogram entries are sorted, with entries of the same value merged, as
// the shard would count them. A key that does not parse, a hash that is not
// the key's, or flags other than FlagAgg show on the line.
func Render(b *sample.Batch) []string {
	lines := make([]string, 0, len(b.Samples))
	for i := range b.Samples {
		lines = append(lines, renderSample(b, &b.Samples[i]))
	}
	slices.Sort(lines)
	return lines
}

func g(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func renderSample(b *sample.Batch, s *sample.Sample) string {
	var w strings.Builder
	key := b.Key(s)
	p, err := sample.ParseKey(key)
	if err != nil {
		w.WriteString("BADKEY " + strconv.Quote(string(key)))
	} else {
		w.WriteString(p.Kind.String() + " " + strconv.Quote(string(p.Name)) + " {")
		it := p.DimIter()
		for n := 0; ; n++ {
			d, ok := it.Next()
			if !ok {
				break
			}
			if n > 0 {
				w.WriteByte(' ')
			}
			w.WriteString(strconv.Quote(string(d.Key)) + "=" + strconv.Quote(string(d.Value)))
		}
		w.WriteByte('}')
	}
	if s.Hash != sample.Hash(key) {
		w.WriteString(" BADHASH")
	}
	w.WriteString(" t=" + strconv.FormatInt(s.Time, 10) + " req=" + strconv.FormatInt(s.ReqTime, 10))
	if s.Flags&^sample.FlagAgg != 0 {
		w.WriteString(" flags=" + strconv.Itoa(int(s.Flags)))
	}
	if s.Flags&sample.FlagAgg == 0 {
		w.WriteString(" v=" + g(s.Value))
	} else {
		a := &b.Aggs[s.Agg]
		if a.Has&sample.HasMin != 0 {
			w.WriteString(" min=" + g(a.Min))
		}
		if a.Has&sample.HasMax != 0 {
			w.WriteString(" max=" + g(a.Max))
		}
		if a.Has&sample.HasSum != 0 {
			w.WriteString(" sum=" + g(a.Sum))
		}
		if a.Has&sample.HasCount != 0 {
			w.WriteString(" count=" + g(a.Count))
		}
		if a.Has&sample.HasHist != 0 {
			w.WriteString(" hist=[" + renderHist(b.HistOf(a)) + "]")
		}
		if a.Has&^(sample.HasMin|sample.HasMax|sample.HasSum|sample.HasCount|sample.HasHist) != 0 {
			w.WriteString(" has=" + strconv.Itoa(int(a.Has)))
		}
	}
	u := s.Unit.String()
	if u == "" {
		u = "none"
		if s.Unit != sample.UnitNone {
			u = "invalid" + strconv.Itoa(int(s.Unit))
		}
	}
	w.WriteString(" unit=" + u)
	return w.String()
}

// renderHist writes entries sorted by value (-0 before +0, NaN last),
// those of equal value merged (counts add modulo 2^64, as the shard's do;
// -0 and +0 are distinct values, all NaNs one).
func renderHist(es []sample.HistEntry) string {
	sorted := slices.Clone(es)
	slices.SortFunc(sorted, func(x, y sample.HistEntry) int {
		bx, by := orderBits(x.Value), orderBits(y.Value)
		switch {
		case bx < by:
			return -1
		case bx > by:
			return 1
		}
		return 0
	})
	var w strings.Builder
	for i := 0; i < len(sorted); {
		v, c := sorted[i].Value, sorted[i].Count
		j := i + 1
		for ; j < len(sorted) && orderBits(sorted[j].Value) == orderBits(v); j++ {
			c += sorted[j].Count
		}
		if i > 0 {
			w.WriteByte(' ')
		}
		w.WriteString(g(v) + ":" + strconv.FormatUint(c, 10))
		i = j
	}
	return w.String()
}

// orderBits maps a double to an integer in numeric order (-0 before +0);
// NaNs, whatever their payload, sort after +Inf and render alike.
func orderBits(v float64) uint64 {
	if math.IsNaN(v) {
		return math.MaxUint64
	}
	b := math.Float64bits(v)
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}
