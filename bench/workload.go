package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Payloads are prebuilt messages (datagrams, stream chunks or request
// bodies) that a run sends round-robin, with what each carries: its samples
// (lines) and, for the end-to-end check, every sample the aggregator must
// count exactly (not re-sampled, not a set member) by series.
type Payloads struct {
	Name     string // the workload, for results
	Messages [][]byte
	Lines    []int
	Exact    [][]Contribution
	// Series is how many distinct series the workload draws from, and
	// Identity names series i as a sink reports it (Identity).
	Series   int
	Identity func(series int) string
	// Stamps holds, per message, the offsets of 6-byte protobuf varints
	// that carry a record time in milliseconds: the sender writes the
	// send time there (Stamp). Compress says the body is sent snappy
	// (block format) compressed, as Prometheus remote write is.
	Stamps   [][]StampAt
	Compress bool
	// Path is the HTTP path bodies are posted to, with ContentType
	// ("": application/octet-stream).
	Path, ContentType string
	// Rejected reads, from a response a target accepted, how many data
	// points it reports rejecting anyway (OTLP's partial_success); nil for
	// protocols without.
	Rejected func(response []byte) int64

	bytes int // of Messages
}

// Contribution is N samples of one series the aggregator must count, with
// their sum, and whether the series is a counter (whose values must also
// add up). N = 0 means 1.
type Contribution struct {
	Series  int32
	Counter bool
	N       int32
	Value   float64
}

// TotalLines returns the samples in the first n messages sent round-robin.
func (p *Payloads) TotalLines(n int) int {
	per := 0
	for _, l := range p.Lines {
		per += l
	}
	total := n / len(p.Messages) * per
	for i := 0; i < n%len(p.Messages); i++ {
		total += p.Lines[i]
	}
	return total
}

// Expected is what a lossless aggregator emits for one series over a run:
// the count of its samples and, for a counter, their sum.
type Expected struct {
	Count   float64
	Sum     float64
	Counter bool
}

// Totals returns, by series identity, what the first n messages sent
// round-robin must add up to, leaving out the messages the target refused
// (indexes in the send order, as Sent.Refused lists them).
func (p *Payloads) Totals(n int, refused []int) map[string]Expected {
	rounds, rest := n/len(p.Messages), n%len(p.Messages)
	times := make([]float64, len(p.Messages))
	for i := range times {
		times[i] = float64(rounds)
		if i < rest {
			times[i]++
		}
	}
	for _, i := range refused {
		if i < n {
			times[i%len(p.Messages)]--
		}
	}
	bySeries := map[int32]Expected{}
	for i, cs := range p.Exact {
		if times[i] == 0 {
			continue
		}
		for _, c := range cs {
			e := bySeries[c.Series]
			e.Count += times[i] * float64(max(c.N, 1))
			e.Sum += c.Value * times[i]
			e.Counter = c.Counter
			bySeries[c.Series] = e
		}
	}
	out := make(map[string]Expected, len(bySeries))
	for s, e := range bySeries {
		out[p.Identity(int(s))] = e
	}
	return out
}

// Identity is how the harness names a series across sinks: the metric name,
// then its dimensions sorted by key, "name|k=v,k=v".
func Identity(name string, dims map[string]string) string {
	keys := make([]string, 0, len(dims))
	for k := range dims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('|')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(dims[k])
	}
	return b.String()
}

// Mix is a type mix in percent of series (and so of lines: every series is
// drawn equally often). The fields add up to 100.
type Mix struct {
	Counter        int // c
	SampledCounter int // c with a sample rate
	Gauge          int // g
	Timer          int // ms
	Histogram      int // h
	Distribution   int // d
	Set            int // s
}

// The mixes of PERF.md's S1 and S2.
var (
	S1Mix = Mix{Counter: 54, SampledCounter: 6, Gauge: 20, Timer: 15, Set: 5}
	S2Mix = Mix{Counter: 40, SampledCounter: 5, Gauge: 15, Timer: 12, Histogram: 12, Distribution: 11, Set: 5}
)

type lineType uint8

const (
	tCounter lineType = iota
	tSampledCounter
	tGauge
	tTimer
	tHistogram
	tDistribution
	tSet
)

// typeOf returns the type of a series whose hash modulo 100 is h.
func (m Mix) typeOf(h int) lineType {
	for t, share := range []int{m.Counter, m.SampledCounter, m.Gauge, m.Timer, m.Histogram, m.Distribution, m.Set} {
		if h < share {
			return lineType(t)
		}
		h -= share
	}
	return tSet
}

// StatsD is a StatsD workload: series with a fixed name, tag set and type,
// every series drawn equally often (a seeded permutation), packed into
// datagrams. The same parameters give the same bytes.
type StatsD struct {
	// Name labels results ("S1 10k names"); Prefix starts every metric
	// name ("s1").
	Name, Prefix string
	Series       int
	Seed         uint64
	// Messages is how many distinct datagrams to build; 0 picks enough for
	// every series to appear twice (at least 4096).
	Messages int
	// Lines per datagram, and at most MaxBytes bytes (0: no limit):
	// MaxBytes wins over MinLines (long, tagged lines fill a datagram
	// sooner), but a datagram has a line at least.
	MinLines, MaxLines, MaxBytes int
	// Tags per series (DogStatsD |#, in random order on every line):
	// host (100 values) and endpoint (1000 values) first, then region,
	// env, version and zone. 0 for none.
	MinTags, MaxTags int
	// FixedTagOrder writes a series' tags in one order of its own on every
	// line, as a client library does; otherwise each line shuffles them.
	FixedTagOrder bool
	Mix           Mix
	// Rate is the sample rate of the sampled counters.
	Rate string
}

// S1 is PERF.md's classic StatsD workload: datagrams of at most 1400 bytes
// with 25 to 43 lines, no tags, names metric names.
func S1(names int, seed uint64) StatsD {
	return StatsD{Name: "S1", Prefix: "s1", Series: names, Seed: seed, MinLines: 25, MaxLines: 43, MaxBytes: 1400, Mix: S1Mix, Rate: "0.1"}
}

// S2 is PERF.md's tagged DogStatsD workload: 15 to 25 lines per datagram,
// 3 to 6 tags per series in random order.
func S2(series int, seed uint64) StatsD {
	return StatsD{Name: "S2", Prefix: "s2", Series: series, Seed: seed, MinLines: 15, MaxLines: 25, MinTags: 3, MaxTags: 6, Mix: S2Mix, Rate: "0.5"}
}

// tagKeys are the tags a series may carry, in the order they are added.
var tagKeys = [...]string{"host", "endpoint", "region", "env", "version", "zone"}

// series describes series i: name, tags (key, value pairs) and type.
func (w StatsD) series(i int) (name string, tags [][2]string, t lineType) {
	h := mix64(uint64(i) ^ w.Seed*0x9E3779B97F4A7C15)
	t = w.Mix.typeOf(int(h % 100))
	if w.MaxTags == 0 {
		return fmt.Sprintf("%s.app%02d.metric_%06d", w.Prefix, i%20, i), nil, t
	}
	// 100 hosts x 1000 endpoints per metric name, then the next name.
	within, n := i%100_000, i/100_000
	name = fmt.Sprintf("%s.service_%02d.requests", w.Prefix, n)
	k := w.MinTags + int(h>>8)%(w.MaxTags-w.MinTags+1)
	vals := [...]string{
		fmt.Sprintf("host-%03d", within%100),
		fmt.Sprintf("/api/v1/endpoint/%03d", within/100),
		[...]string{"us-east-1", "us-west-2", "eu-west-1", "ap-south-1", "sa-east-1"}[i%5],
		[...]string{"prod", "staging", "dev"}[i%3],
		"v1." + strconv.Itoa(i%7),
		"zone-" + strconv.Itoa(i%4),
	}
	for j := 0; j < k && j < len(tagKeys); j++ {
		tags = append(tags, [2]string{tagKeys[j], vals[j]})
	}
	return name, tags, t
}

// identity is Identity of series i.
func (w StatsD) identity(i int) string {
	name, tags, _ := w.series(i)
	dims := make(map[string]string, len(tags))
	for _, t := range tags {
		dims[t[0]] = t[1]
	}
	return Identity(name, dims)
}

// Build returns the workload's datagrams.
func (w StatsD) Build() *Payloads {
	if w.Series <= 0 {
		w.Series = 1
	}
	r := rand.New(rand.NewPCG(w.Seed, 0x51))
	avg := (w.MinLines + w.MaxLines) / 2
	n := w.Messages
	if n <= 0 {
		n = max(4096, 2*w.Series/max(avg, 1)+1)
	}
	p := &Payloads{Name: w.Name, Series: w.Series, Identity: w.identity}
	// Series j of the walk is (start + j*stride) mod Series: a permutation,
	// as stride is coprime to Series.
	stride := coprimeStride(w.Series, r.Uint64())
	next := r.IntN(w.Series)
	var line []byte
	var c Contribution
	for len(p.Messages) < n {
		want := w.MinLines + r.IntN(w.MaxLines-w.MinLines+1)
		var b []byte
		var cs []Contribution
		lines := 0
		for lines < want {
			line, c = w.line(line[:0], next, r)
			if w.MaxBytes > 0 && lines > 0 && len(b)+len(line) > w.MaxBytes {
				break
			}
			b = append(b, line...)
			if c.Series >= 0 {
				cs = append(cs, c)
			}
			lines++
			next = (next + stride) % w.Series
		}
		p.Messages = append(p.Messages, b)
		p.Lines = append(p.Lines, lines)
		p.Exact = append(p.Exact, cs)
	}
	return p
}

// line appends the line of series s to dst; c is what it contributes to the
// exact totals (Series -1 for sampled counters and set members).
func (w StatsD) line(dst []byte, s int, r *rand.Rand) ([]byte, Contribution) {
	name, tags, t := w.series(s)
	c := Contribution{Series: -1}
	dst = append(dst, name...)
	dst = append(dst, ':')
	switch t {
	case tCounter, tSampledCounter:
		v := 1 + r.IntN(5)
		dst = strconv.AppendInt(dst, int64(v), 10)
		dst = append(dst, "|c"...)
		if t == tSampledCounter {
			dst = append(dst, "|@"...)
			dst = append(dst, w.Rate...)
		} else {
			c = Contribution{Series: int32(s), Counter: true, Value: float64(v)}
		}
	case tGauge:
		dst = strconv.AppendInt(dst, int64(r.IntN(1000)), 10)
		dst = append(dst, "|g"...)
		c = Contribution{Series: int32(s)}
	case tTimer:
		dst = strconv.AppendInt(dst, int64(r.IntN(2000)), 10)
		dst = append(dst, "|ms"...)
		c = Contribution{Series: int32(s)}
	case tHistogram:
		dst = strconv.AppendInt(dst, int64(r.IntN(1000)), 10)
		dst = append(dst, "|h"...)
		c = Contribution{Series: int32(s)}
	case tDistribution:
		dst = strconv.AppendInt(dst, int64(r.IntN(1000)), 10)
		dst = append(dst, "|d"...)
		c = Contribution{Series: int32(s)}
	case tSet:
		dst = append(dst, 'u')
		dst = strconv.AppendInt(dst, int64(r.IntN(500)), 10)
		dst = append(dst, "|s"...)
	}
	if len(tags) > 0 {
		dst = append(dst, "|#"...)
		order := r.Perm(len(tags))
		if w.FixedTagOrder {
			order = rand.New(rand.NewPCG(uint64(s), w.Seed)).Perm(len(tags))
		}
		for i, j := range order {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, tags[j][0]...)
			dst = append(dst, ':')
			dst = append(dst, tags[j][1]...)
		}
	}
	return append(dst, '\n'), c
}

// coprimeStride returns a stride in [1, n) coprime to n (1 if n < 3),
// derived from seed and far from small values, so that consecutive lines
// walk far apart.
func coprimeStride(n int, seed uint64) int {
	if n < 3 {
		return 1
	}
	for s := n/3 + int(seed%uint64(n/3+1)); ; s++ {
		if s%n != 0 && gcd(s%n, n) == 1 {
			return s % n
		}
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// mix64 is a 64-bit finaliser (splitmix64).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ x>>31
}
