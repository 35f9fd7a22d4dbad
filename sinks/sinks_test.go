package sinks

import (
	"errors"
	"testing"
	"time"
)

type recorder struct {
	periods []time.Duration
	closed  bool
	err     error
}

func (r *recorder) Record(pd *PeriodicData) { r.periods = append(r.periods, pd.Period) }
func (r *recorder) Close() error            { r.closed = true; return r.err }

func TestFormatPeriod(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{time.Second, "PT1S"}, {time.Minute, "PT1M"}, {500 * time.Millisecond, "PT0.5S"},
		{time.Hour, "PT1H"}, {90 * time.Minute, "PT1H30M"}, {48 * time.Hour, "PT48H"},
		{61*time.Second + 250*time.Millisecond, "PT1M1.25S"}, {0, "PT0S"}, {time.Millisecond, "PT0.001S"},
		{15 * time.Second, "PT15S"},
	} {
		if got := FormatPeriod(tc.d); got != tc.want {
			t.Errorf("FormatPeriod(%v) = %q; want %q", tc.d, got, tc.want)
		}
	}
}

func TestMultiSink(t *testing.T) {
	a, b := &recorder{}, &recorder{err: errors.New("b failed")}
	m := &MultiSink{Sinks: []Sink{a, b}}
	m.Record(&PeriodicData{Period: time.Second})
	if len(a.periods) != 1 || len(b.periods) != 1 {
		t.Fatal("MultiSink must forward to every sink")
	}
	if err := m.Close(); err == nil || !a.closed || !b.closed {
		t.Fatalf("Close = %v; every sink must be closed and errors returned", err)
	}
}

// TestPeriodFilteringSink follows MAD's PeriodFilteringSinkTest rules.
func TestPeriodFilteringSink(t *testing.T) {
	s, m, h := time.Second, time.Minute, time.Hour
	for _, tc := range []struct {
		name string
		f    PeriodFilteringSink
		p    time.Duration
		want bool
	}{
		{"default passes", PeriodFilteringSink{}, m, true},
		{"excluded", PeriodFilteringSink{Exclude: []time.Duration{m}}, m, false},
		{"include wins over exclude", PeriodFilteringSink{Include: []time.Duration{m}, Exclude: []time.Duration{m}}, m, true},
		{"include wins over bounds", PeriodFilteringSink{Include: []time.Duration{s}, ExcludeLessThan: m}, s, true},
		{"less than", PeriodFilteringSink{ExcludeLessThan: m}, s, false},
		{"less than is exclusive", PeriodFilteringSink{ExcludeLessThan: m}, m, true},
		{"greater than", PeriodFilteringSink{ExcludeGreaterThan: m}, h, false},
		{"greater than is exclusive", PeriodFilteringSink{ExcludeGreaterThan: s}, s, true},
		{"greater than PT0S, set: every period out (MAD)", PeriodFilteringSink{GreaterThanSet: true}, s, false},
		// The shipped pipeline: telemetry gets periods <= PT1S, CAGG >= PT1M.
		{"telemetry", PeriodFilteringSink{ExcludeGreaterThan: s}, m, false},
		{"cagg", PeriodFilteringSink{ExcludeLessThan: m}, s, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			tc.f.Sink = r
			tc.f.Record(&PeriodicData{Period: tc.p})
			if got := len(r.periods) == 1; got != tc.want {
				t.Fatalf("forwarded %v; want %v", got, tc.want)
			}
			tc.f.Close()
			if !r.closed {
				t.Fatal("Close must close the wrapped sink")
			}
		})
	}
}
