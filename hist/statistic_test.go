package hist

import (
	"slices"
	"testing"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Stat
	}{
		{"count", Count}, {"n", Count}, {"sum", Sum}, {"min", Min}, {"tp0", Min}, {"p0", Min},
		{"max", Max}, {"tp100", Max}, {"p100", Max}, {"mean", Mean},
		{"median", Median}, {"tp50", Median}, {"p50", Median},
		{"tp75", TP75}, {"p75", TP75}, {"tp90", TP90}, {"p90", TP90}, {"tp95", TP95}, {"p95", TP95},
		{"tp99", TP99}, {"p99", TP99},
		{"tp99.9", TP99p9}, {"p99.9", TP99p9}, {"tp99p9", TP99p9}, {"p99p9", TP99p9},
		{"histogram", Histogram},
	} {
		got, err := ParseStat(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("ParseStat(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []string{"tp65", "p25", "first", "last", "stddev", "rate", "Count", "", "expression"} {
		if _, err := ParseStat(bad); err == nil {
			t.Errorf("ParseStat(%q) succeeded; want an error", bad)
		}
	}
}

func TestClosure(t *testing.T) {
	for _, tc := range []struct {
		specified Set
		want      Set
		need      Need
	}{
		// MAD's default timer statistics emit histogram and sum unspecified.
		{SetOf(Median, TP90, TP99, Mean, Count), SetOf(Median, TP90, TP99, Mean, Count, Sum, Histogram), NeedSum | NeedHist},
		{SetOf(Mean, Sum, Count), SetOf(Mean, Sum, Count), NeedSum},
		{SetOf(Min, Max, Mean), SetOf(Min, Max, Mean, Sum, Count), NeedMin | NeedMax | NeedSum},
		{SetOf(Max), SetOf(Max, Count), NeedMax},
		{SetOf(Histogram), SetOf(Histogram, Count), NeedHist},
	} {
		if got := tc.specified.Closure(); got != tc.want {
			t.Errorf("%v.Closure() = %v; want %v", tc.specified, got, tc.want)
		}
		if got := tc.specified.Need(); got != tc.need {
			t.Errorf("%v.Need() = %b; want %b", tc.specified, got, tc.need)
		}
	}
}

// TestSetEveryValue checks Closure and AppendAll on every set of the
// statistics there are against readings a statistic at a time.
func TestSetEveryValue(t *testing.T) {
	for v := range 1 << NumStats {
		s := Set(v)
		want := s | 1<<Count
		var all []Stat
		for st := Stat(0); st < NumStats; st++ {
			if s&(1<<st) == 0 {
				continue
			}
			all = append(all, st)
			if st == Mean {
				want |= 1 << Sum
			}
			if st.IsPercentile() {
				want |= 1 << Histogram
			}
		}
		if got := s.Closure(); got != want {
			t.Fatalf("%v.Closure() = %v; want %v", s, got, want)
		}
		if got := s.AppendAll(nil); !slices.Equal(got, all) {
			t.Fatalf("%v.AppendAll = %v; want %v", s, got, all)
		}
	}
}

func TestParseSet(t *testing.T) {
	s, err := ParseSet([]string{"median", "p90", "tp99", "mean", "n"})
	if err != nil || s != SetOf(Median, TP90, TP99, Mean, Count) {
		t.Fatalf("ParseSet = %v, %v", s, err)
	}
	if _, err := ParseSet(nil); err == nil {
		t.Fatal("empty set accepted")
	}
	if _, err := ParseSet([]string{"tp65"}); err == nil {
		t.Fatal("tp65 accepted")
	}
}
