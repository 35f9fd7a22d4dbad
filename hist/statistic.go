package hist

import (
	"fmt"
	"math/bits"
	"strings"
)

// Stat is one of MAD's statistics (com.arpnetworking.metrics.mad.model.statistics).
type Stat uint8

// The statistics, in the order MAD-SPEC §7 lists them. There are no others:
// MAD 1.x has no tp65, p25, first, last, stddev or rate.
const (
	Count Stat = iota
	Sum
	Min
	Max
	Mean
	Median
	TP75
	TP90
	TP95
	TP99
	TP99p9
	Histogram

	NumStats
)

type statInfo struct {
	name       string   // canonical name, sent on the wire
	aliases    []string // other accepted names
	percentile float64  // for histogram percentiles
}

var stats = [NumStats]statInfo{
	Count:     {name: "count", aliases: []string{"n"}},
	Sum:       {name: "sum"},
	Min:       {name: "min", aliases: []string{"tp0", "p0"}},
	Max:       {name: "max", aliases: []string{"tp100", "p100"}},
	Mean:      {name: "mean"},
	Median:    {name: "median", aliases: []string{"tp50", "p50"}, percentile: 50},
	TP75:      {name: "tp75", aliases: []string{"p75"}, percentile: 75},
	TP90:      {name: "tp90", aliases: []string{"p90"}, percentile: 90},
	TP95:      {name: "tp95", aliases: []string{"p95"}, percentile: 95},
	TP99:      {name: "tp99", aliases: []string{"p99"}, percentile: 99},
	TP99p9:    {name: "tp99.9", aliases: []string{"p99.9", "tp99p9", "p99p9"}, percentile: 99.9},
	Histogram: {name: "histogram"},
}

// String returns the canonical name ("tp99.9", "median", …).
func (s Stat) String() string {
	if s >= NumStats {
		return fmt.Sprintf("Stat(%d)", uint8(s))
	}
	return stats[s].name
}

// IsPercentile reports whether s is computed from the histogram.
func (s Stat) IsPercentile() bool { return s < NumStats && stats[s].percentile != 0 }

// Percentile returns the percentile (0..100) of a percentile statistic.
func (s Stat) Percentile() float64 { return stats[s].percentile }

// ParseStat looks a statistic up by canonical name or alias, as MAD's
// StatisticFactory does (exact, case-sensitive).
func ParseStat(name string) (Stat, error) {
	for s := Stat(0); s < NumStats; s++ {
		if stats[s].name == name {
			return s, nil
		}
		for _, a := range stats[s].aliases {
			if a == name {
				return s, nil
			}
		}
	}
	if name == "expression" {
		return 0, fmt.Errorf("statistic %q cannot be computed (MAD's ExpressionStatistic throws when used)", name)
	}
	return 0, fmt.Errorf("unknown statistic %q; valid names: %s", name, validNames())
}

func validNames() string {
	var b strings.Builder
	for s := Stat(0); s < NumStats; s++ {
		if s > 0 {
			b.WriteString(", ")
		}
		b.WriteString(stats[s].name)
		for _, a := range stats[s].aliases {
			b.WriteString("|")
			b.WriteString(a)
		}
	}
	return b.String()
}

// Set is a set of statistics.
type Set uint16

// SetOf returns the set of the given statistics.
func SetOf(ss ...Stat) Set {
	var s Set
	for _, st := range ss {
		s |= 1 << st
	}
	return s
}

// ParseSet parses statistic names (canonical or alias) into a set. An empty
// list is refused: MAD requires the per-type sets to be non-empty.
func ParseSet(names []string) (Set, error) {
	if len(names) == 0 {
		return 0, fmt.Errorf("empty statistics set")
	}
	var s Set
	for _, n := range names {
		st, err := ParseStat(n)
		if err != nil {
			return 0, err
		}
		s |= 1 << st
	}
	return s, nil
}

// Has reports whether st is in s.
func (s Set) Has(st Stat) bool { return s&(1<<st) != 0 }

// Closure returns the statistics MAD creates calculators for when s is
// specified: s, their dependencies (mean needs sum and count, every
// percentile needs the histogram) and count, which is always computed.
func (s Set) Closure() Set {
	c := s | 1<<Count
	if s.Has(Mean) {
		c |= 1<<Sum | 1<<Count
	}
	if s&percentiles != 0 {
		c |= 1 << Histogram
	}
	return c
}

// percentiles is the set of the percentile statistics, Median to TP99p9.
const percentiles Set = 1<<(TP99p9+1) - 1<<Median

// Need returns the accumulators a table row must maintain to compute s.
func (s Set) Need() Need {
	c := s.Closure()
	var n Need
	if c.Has(Sum) {
		n |= NeedSum
	}
	if c.Has(Min) {
		n |= NeedMin
	}
	if c.Has(Max) {
		n |= NeedMax
	}
	if c.Has(Histogram) {
		n |= NeedHist
	}
	return n
}

// All returns the statistics of s in Stat order.
func (s Set) All() []Stat {
	return s.AppendAll(nil)
}

// AppendAll appends the statistics of s to dst in order.
func (s Set) AppendAll(dst []Stat) []Stat {
	for b := s & (1<<NumStats - 1); b != 0; b &= b - 1 {
		dst = append(dst, Stat(bits.TrailingZeros16(uint16(b))))
	}
	return dst
}

// String lists the canonical names.
func (s Set) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, st := range s.All() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(st.String())
	}
	b.WriteByte(']')
	return b.String()
}

// Need is the set of accumulators a row keeps besides its count: MAD computes
// only the calculators a metric's statistics require (a counter with mean,
// sum and count needs no histogram).
type Need uint8

// Accumulators.
const (
	NeedSum Need = 1 << iota
	NeedMin
	NeedMax
	NeedHist
	// NeedDistinct: the row counts distinct set members (StatsD sets)
	// instead of accumulating values.
	NeedDistinct

	// needUnit: accumulators that carry a unit and refuse mixing units.
	needUnit = NeedSum | NeedMin | NeedMax | NeedHist
)
