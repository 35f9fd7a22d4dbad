package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"
)

// Got is what a sink emitted for one series over a run: the count and sum
// statistics of its rows of one period, added up.
type Got struct {
	Count, Sum float64
	Rows       int
}

// ProbeRow is a row of a probe series (accuracy checks): its start and
// statistics.
type ProbeRow struct {
	Metric string
	Start  time.Time
	Stats  map[string]float64
}

// Output reads mad's JSON lines (JsonLinesSink) and keeps, for the rows of
// one period, the totals by series identity, the latency from period end
// to arrival (when read live), and the rows of probe series.
type Output struct {
	Period      string
	ProbePrefix string

	mu      sync.Mutex
	period  time.Duration
	totals  map[string]*Got
	latency []time.Duration
	starts  map[int64]bool
	probes  []ProbeRow
	rows    int
	bad     int
}

// NewOutput returns a reader of rows of period (an ISO-8601 duration such
// as "PT1S") that sets aside the rows of metrics starting with probePrefix.
func NewOutput(period, probePrefix string) (*Output, error) {
	d, err := ParsePeriod(period)
	if err != nil {
		return nil, err
	}
	return &Output{Period: period, ProbePrefix: probePrefix, period: d, totals: map[string]*Got{}, starts: map[int64]bool{}}, nil
}

// ParsePeriod reads the ISO-8601 durations MAD's periods use: PTnS, PTnM,
// PTnH, PnD.
func ParsePeriod(s string) (time.Duration, error) {
	unit := map[byte]time.Duration{'S': time.Second, 'M': time.Minute, 'H': time.Hour}
	switch {
	case strings.HasPrefix(s, "PT") && len(s) > 3:
		n, err := strconv.Atoi(s[2 : len(s)-1])
		u, ok := unit[s[len(s)-1]]
		if err == nil && ok && n > 0 {
			return time.Duration(n) * u, nil
		}
	case strings.HasPrefix(s, "P") && strings.HasSuffix(s, "D") && len(s) > 2:
		if n, err := strconv.Atoi(s[1 : len(s)-1]); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return 0, fmt.Errorf("bad period %q", s)
}

// Read consumes rows until r ends. With live set, each row of the period
// is timed on arrival against the end of its period.
func (o *Output) Read(r io.Reader, live bool) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var p fastjson.Parser
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A row longer than the buffer: take it whole.
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 1 {
			o.row(&p, line, live)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (o *Output) row(p *fastjson.Parser, line []byte, live bool) {
	now := time.Now()
	v, err := p.ParseBytes(line)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rows++
	if err != nil || string(v.GetStringBytes("period")) != o.Period {
		if err != nil {
			o.bad++
		}
		return
	}
	start, err := time.Parse(time.RFC3339, string(v.GetStringBytes("start")))
	if err != nil {
		o.bad++
		return
	}
	metric := string(v.GetStringBytes("metric"))
	stats := v.GetObject("statistics")
	if o.ProbePrefix != "" && strings.HasPrefix(metric, o.ProbePrefix) {
		pr := ProbeRow{Metric: metric, Start: start, Stats: map[string]float64{}}
		stats.Visit(func(k []byte, sv *fastjson.Value) {
			if f, err := sv.Float64(); err == nil {
				pr.Stats[string(k)] = f
			}
		})
		o.probes = append(o.probes, pr)
	}
	dims := map[string]string{}
	v.GetObject("dimensions").Visit(func(k []byte, dv *fastjson.Value) {
		dims[string(k)] = string(dv.GetStringBytes())
	})
	id := Identity(metric, dims)
	g := o.totals[id]
	if g == nil {
		g = &Got{}
		o.totals[id] = g
	}
	g.Rows++
	if c := stats.Get("count"); c != nil {
		g.Count += c.GetFloat64()
	}
	if s := stats.Get("sum"); s != nil {
		g.Sum += s.GetFloat64()
	}
	if live {
		o.latency = append(o.latency, now.Sub(start.Add(o.period)))
		o.starts[start.Unix()] = true
	}
}

// Totals returns the totals by series identity read so far.
func (o *Output) Totals() map[string]Got {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]Got, len(o.totals))
	for k, g := range o.totals {
		out[k] = *g
	}
	return out
}

// Latencies returns the arrival latencies recorded so far.
func (o *Output) Latencies() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]time.Duration(nil), o.latency...)
}

// Periods returns how many distinct periods the rows timed so far cover.
func (o *Output) Periods() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.starts)
}

// Probes returns the probe rows read so far.
func (o *Output) Probes() []ProbeRow {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]ProbeRow(nil), o.probes...)
}

// Rows returns how many rows were read and how many were not valid JSON.
func (o *Output) Rows() (rows, bad int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rows, o.bad
}

// EndToEnd compares what a run must have produced with what the sink
// emitted: series expected and seen, and the samples (counts) and counter
// values (sums) on both sides. Lost is the share of expected samples not
// emitted; a sink emitting more than was sent shows as negative loss.
type EndToEnd struct {
	Series, Missing, Wrong int
	Expected, Emitted      float64 // samples
	CounterExpected        float64
	CounterEmitted         float64
	// PointsOnly says the peer only counts what it received (otelcol):
	// Expected and Emitted are data points, with no series.
	PointsOnly bool
}

// Lost is the share of expected samples not emitted.
func (e EndToEnd) Lost() float64 {
	if e.Expected == 0 {
		return 0
	}
	return (e.Expected - e.Emitted) / e.Expected
}

// Exact reports whether every series came out exactly. The value totals
// are sums of floating-point values added in another order on each side,
// so they need only agree to 1e-9 (as each series' sum does in Compare);
// integer values, as counters have, add up exactly either way.
func (e EndToEnd) Exact() bool {
	return e.Missing == 0 && e.Wrong == 0 && e.Expected == e.Emitted &&
		math.Abs(e.CounterExpected-e.CounterEmitted) <= 1e-9*math.Abs(e.CounterExpected)
}

// Compare checks got against want, series by series. With countersOnly
// (a peer whose output has counter sums but no counts), only counter
// series are compared and their sums stand for the samples.
func Compare(want map[string]Expected, got map[string]Got, countersOnly bool) EndToEnd {
	var e EndToEnd
	for id, w := range want {
		if countersOnly && !w.Counter {
			continue
		}
		e.Series++
		if countersOnly {
			e.Expected += w.Sum
		} else {
			e.Expected += w.Count
		}
		if w.Counter {
			e.CounterExpected += w.Sum
		}
		g, ok := got[id]
		if !ok {
			e.Missing++
			continue
		}
		if countersOnly {
			e.Emitted += g.Sum
		} else {
			e.Emitted += g.Count
		}
		if w.Counter {
			e.CounterEmitted += g.Sum
		}
		sumOK := !w.Counter || math.Abs(g.Sum-w.Sum) <= 1e-9*math.Abs(w.Sum)
		if !sumOK || (!countersOnly && g.Count != w.Count) {
			e.Wrong++
		}
	}
	return e
}
