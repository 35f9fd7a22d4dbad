package shardref

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
)

// RenderSnapshot prints every row of a shard's snapshot as the reference
// prints a closed bucket: expiration, period, start, the row's key, its
// minimum request time, then (but for KindNone) every statistic of the
// closure of the specified ones with its bits and unit, the population
// and the histogram.
func RenderSnapshot(s *hist.Snapshot) []string {
	var out []string
	var scratch []hist.Bucket
	t := s.Table
	for i := 0; i < s.Len(); i++ {
		row := t.Row(i, scratch)
		scratch = row.Buckets
		kind, name, dims := s.Key(i)
		key := append(append([]byte{kind}, name...), dims...)
		b := renderHead(nil, t.Expires, int64(t.Period), t.Start, key, row.RequestTime)
		if key[0] != byte(sample.KindNone) {
			spec := s.Specified(i)
			closure := spec.Closure().All()
			sort.Slice(closure, func(a, b int) bool { return closure[a].String() < closure[b].String() })
			for _, st := range closure {
				v, u, ok := row.Value(st)
				b = renderStat(b, st.String(), spec.Has(st), ok, v, sample.Unit(u).String())
			}
			b = renderPop(b, row.Count)
			for _, e := range row.Buckets {
				b = renderEntry(b, e.Key.Value(), e.Count)
			}
		}
		out = append(out, string(b))
	}
	return out
}

// The pieces of a rendered row, shared by RenderSnapshot and the
// reference's render so that the two print alike (strconv, not fmt: the
// differential fuzzers render every row they compare).

func renderHead(b []byte, expires, period, start int64, key []byte, req int64) []byte {
	b = strconv.AppendInt(append(b, "exp="...), expires, 10)
	b = strconv.AppendInt(append(b, " period="...), period, 10)
	b = strconv.AppendInt(append(b, " start="...), start, 10)
	b = strconv.AppendQuote(append(b, " key="...), string(key))
	return strconv.AppendInt(append(b, " req="...), req, 10)
}

func renderStat(b []byte, name string, specified, ok bool, v float64, unit string) []byte {
	b = append(append(b, ' '), name...)
	if specified {
		b = append(b, '*')
	}
	if !ok {
		return append(b, "=null"...)
	}
	b = strconv.AppendUint(append(b, '='), math.Float64bits(v), 16)
	return append(b, unit...)
}

func renderPop(b []byte, n int64) []byte {
	return append(strconv.AppendInt(append(b, " pop="...), n, 10), " hist="...)
}

func renderEntry(b []byte, v float64, n uint64) []byte {
	b = strconv.AppendUint(b, math.Float64bits(v), 16)
	return append(strconv.AppendUint(append(b, ':'), n, 10), ',')
}

// Diff describes how two lists of lines differ, as multisets: the lines
// only got (the shard) has, then those only want (the reference) has.
func Diff(got, want []string) string {
	var sb strings.Builder
	gs, ws := map[string]int{}, map[string]int{}
	for _, g := range got {
		gs[g]++
	}
	for _, w := range want {
		ws[w]++
	}
	for _, g := range got {
		if gs[g] > ws[g] {
			fmt.Fprintf(&sb, "only in shard:     %s\n", g)
			gs[g]--
		}
	}
	for _, w := range want {
		if ws[w] > 0 && gs[w] < ws[w] {
			fmt.Fprintf(&sb, "only in reference: %s\n", w)
			ws[w]--
		}
	}
	fmt.Fprintf(&sb, "(%d rows from the shard, %d from the reference)", len(got), len(want))
	return sb.String()
}
