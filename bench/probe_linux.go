//go:build linux

package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"time"
)

// Probe measures what a sink shows against exact values: once a second it
// sends, in the middle of the second (well clear of the period's edges),
// Values values for each of Series probe series as StatsD histograms
// ("|h", no unit), and remembers them by series and second.
type Probe struct {
	Prefix         string
	Series, Values int
	Seed           uint64
	sent           map[probeKey][]float64
}

type probeKey struct {
	metric string
	second int64
}

// ProbeStats are the statistics the probe checks, with their percentile.
var ProbeStats = map[string]float64{"median": 50, "tp90": 90, "tp99": 99}

// Run sends the probe for the given number of periods (seconds).
func (p *Probe) Run(ctx context.Context, addr string, periods int) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	p.sent = map[probeKey][]float64{}
	r := rand.New(rand.NewPCG(p.Seed, 0x9b))
	for range periods {
		// Wait for 300 ms into the next second.
		now := time.Now()
		next := now.Truncate(time.Second).Add(time.Second + 300*time.Millisecond)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(next)):
		}
		sec := time.Now().Unix()
		var dgram []byte
		for s := 0; s < p.Series; s++ {
			metric := fmt.Sprintf("%s%02d", p.Prefix, s)
			vals := make([]float64, p.Values)
			for i := range vals {
				// Latency-like: lognormal, two decimals.
				vals[i] = math.Round(math.Exp(3+1.2*r.NormFloat64())*100) / 100
				line := metric + ":" + strconv.FormatFloat(vals[i], 'f', -1, 64) + "|h\n"
				if len(dgram)+len(line) > 1400 {
					if _, err := c.Write(dgram); err != nil {
						return err
					}
					dgram = dgram[:0]
				}
				dgram = append(dgram, line...)
			}
			p.sent[probeKey{metric, sec}] = vals
		}
		if len(dgram) > 0 {
			if _, err := c.Write(dgram); err != nil {
				return err
			}
		}
		if time.Now().Unix() != sec {
			return fmt.Errorf("probe of second %d spilled into the next second", sec)
		}
	}
	return nil
}

// ExactPercentile is MAD's percentile of values: the ceil(n·p/100)-th
// smallest (MAD-SPEC §7), before bucketing.
func ExactPercentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	k := int(math.Ceil(float64(n) * p / 100))
	return sorted[min(max(k-1, 0), n-1)]
}

// Check compares the probe rows a sink emitted with the exact percentiles
// of what was sent.
func (p *Probe) Check(rows []ProbeRow) Latency {
	l := Latency{ErrByStat: map[string]float64{}}
	seen := map[probeKey]bool{}
	var sum float64
	for _, row := range rows {
		k := probeKey{row.Metric, row.Start.Unix()}
		vals, ok := p.sent[k]
		if !ok {
			continue
		}
		seen[k] = true
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		for stat, pct := range ProbeStats {
			got, ok := row.Stats[stat]
			if !ok {
				continue
			}
			want := ExactPercentile(sorted, pct)
			e := math.Abs(got-want) / math.Abs(want)
			sum += e
			l.Probes++
			l.MaxErr = math.Max(l.MaxErr, e)
			l.ErrByStat[stat] = math.Max(l.ErrByStat[stat], e)
		}
	}
	if l.Probes > 0 {
		l.MeanErr = sum / float64(l.Probes)
	}
	l.ProbeRowsMissing = len(p.sent) - len(seen)
	return l
}

// Summarize fills the latency part of l from arrival latencies of rows
// with their period starts.
func Summarize(l Latency, lat []time.Duration, periods int) Latency {
	l.Rows, l.Periods = len(lat), periods
	if len(lat) == 0 {
		return l
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(math.Ceil(float64(len(s))*p))-1)] }
	l.P50, l.P99, l.Max = q(0.50), q(0.99), s[len(s)-1]
	return l
}
