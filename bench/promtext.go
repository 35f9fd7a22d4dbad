package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PromSample is one sample of the Prometheus text exposition format.
type PromSample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParsePromText parses the Prometheus text format (version 0.0.4): comment
// lines are skipped; label values may hold escaped quotes, backslashes and
// newlines.
func ParsePromText(r io.Reader) ([]PromSample, error) {
	var out []PromSample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parsePromLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parsePromLine(line string) (PromSample, error) {
	s := PromSample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("no value in %q", line)
	}
	s.Name = line[:i]
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, " ,")
			if rest == "" {
				return s, fmt.Errorf("unterminated labels in %q", line)
			}
			if rest[0] == '}' {
				rest = rest[1:]
				break
			}
			eq := strings.IndexByte(rest, '=')
			if eq <= 0 || eq+1 >= len(rest) || rest[eq+1] != '"' {
				return s, fmt.Errorf("bad label in %q", line)
			}
			key := strings.TrimSpace(rest[:eq])
			var v strings.Builder
			j := eq + 2
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
					switch rest[j] {
					case 'n':
						v.WriteByte('\n')
					default:
						v.WriteByte(rest[j])
					}
					continue
				}
				v.WriteByte(rest[j])
			}
			if j >= len(rest) {
				return s, fmt.Errorf("unterminated label value in %q", line)
			}
			s.Labels[key] = v.String()
			rest = rest[j+1:]
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return s, fmt.Errorf("no value in %q", line)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return s, fmt.Errorf("bad value in %q", line)
	}
	s.Value = v
	return s, nil
}

// SumProm adds the values of the samples named name whose labels include
// every pair of match.
func SumProm(samples []PromSample, name string, match map[string]string) float64 {
	var sum float64
next:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for k, v := range match {
			if s.Labels[k] != v {
				continue next
			}
		}
		sum += s.Value
	}
	return sum
}

// ScrapeProm fetches and parses a Prometheus text endpoint.
func ScrapeProm(url string) ([]PromSample, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return ParsePromText(resp.Body)
}

// InternalLoss is what mad counted as lost or refused inside itself, from
// its /metrics: samples dropped on full rings, samples the shards refused,
// rows dropped with snapshots under backpressure, and sink drops.
type InternalLoss struct {
	RingDropped, Refused, RowsDropped, SinkDropped float64
}

// Total is every internal loss added.
func (l InternalLoss) Total() float64 {
	return l.RingDropped + l.Refused + l.RowsDropped + l.SinkDropped
}

// Sub returns l minus an earlier reading.
func (l InternalLoss) Sub(o InternalLoss) InternalLoss {
	return InternalLoss{l.RingDropped - o.RingDropped, l.Refused - o.Refused, l.RowsDropped - o.RowsDropped, l.SinkDropped - o.SinkDropped}
}

// MadInternalLoss reads InternalLoss from mad's metrics.
func MadInternalLoss(samples []PromSample) InternalLoss {
	return InternalLoss{
		RingDropped: SumProm(samples, "mad_source_ring_dropped_samples_total", nil),
		Refused:     SumProm(samples, "mad_shard_refused_total", nil),
		RowsDropped: SumProm(samples, "mad_shard_rows_dropped_total", nil),
		SinkDropped: SumProm(samples, "mad_sink_dropped_total", nil),
	}
}
