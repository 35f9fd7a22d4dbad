package shardref

import (
	"fmt"
	"math"
	"sort"
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
		var sb strings.Builder
		fmt.Fprintf(&sb, "exp=%d period=%d start=%d key=%q req=%d", t.Expires, t.Period, t.Start, key, row.RequestTime)
		if key[0] != byte(sample.KindNone) {
			spec := s.Specified(i)
			closure := spec.Closure().All()
			sort.Slice(closure, func(a, b int) bool { return closure[a].String() < closure[b].String() })
			for _, st := range closure {
				v, u, ok := row.Value(st)
				fmt.Fprintf(&sb, " %s", st)
				if spec.Has(st) {
					sb.WriteString("*")
				}
				if ok {
					fmt.Fprintf(&sb, "=%x%s", math.Float64bits(v), sample.Unit(u).String())
				} else {
					sb.WriteString("=null")
				}
			}
			fmt.Fprintf(&sb, " pop=%d hist=", row.Count)
			for _, e := range row.Buckets {
				fmt.Fprintf(&sb, "%x:%d,", math.Float64bits(e.Key.Value()), e.Count)
			}
		}
		out = append(out, sb.String())
	}
	return out
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
