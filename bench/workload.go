package bench

import (
	"fmt"
	"math/rand/v2"
)

// S1 is PERF.md's classic StatsD workload: datagrams of up to 1400 bytes
// holding 25 to 43 lines, no tags, over Names metric names; 60 % counters
// (a tenth of them sampled at @0.1), 20 % gauges, 15 % timers, 5 % sets.
// The same seed gives the same datagrams.
type S1 struct {
	Names int
	Seed  uint64
	// Datagrams is how many distinct datagrams to build (default 4096);
	// a run sends them round-robin.
	Datagrams int
}

// Payloads are prebuilt datagrams and their line counts.
type Payloads struct {
	Datagrams [][]byte
	Lines     []int
}

// TotalLines returns the lines of the first n datagrams sent round-robin.
func (p *Payloads) TotalLines(n int) int {
	total, per := 0, 0
	for _, l := range p.Lines {
		per += l
	}
	total = n / len(p.Datagrams) * per
	for i := 0; i < n%len(p.Datagrams); i++ {
		total += p.Lines[i]
	}
	return total
}

// Build returns the workload's datagrams.
func (w S1) Build() *Payloads {
	n := w.Datagrams
	if n <= 0 {
		n = 4096
	}
	r := rand.New(rand.NewPCG(w.Seed, 0x51))
	p := &Payloads{}
	for len(p.Datagrams) < n {
		var b []byte
		lines := 0
		for {
			line := w.line(r)
			if len(b)+len(line) > 1400 || lines == 43 {
				break
			}
			b = append(b, line...)
			lines++
		}
		if lines < 25 {
			continue // PERF.md: 25-43 lines; names this long give ~38
		}
		p.Datagrams = append(p.Datagrams, b)
		p.Lines = append(p.Lines, lines)
	}
	return p
}

func (w S1) line(r *rand.Rand) []byte {
	i := r.IntN(w.Names)
	name := fmt.Sprintf("s1.app%02d.metric_%06d", i%20, i)
	switch k := r.IntN(100); {
	case k < 54:
		return fmt.Appendf(nil, "%s:%d|c\n", name, 1+r.IntN(5))
	case k < 60:
		return fmt.Appendf(nil, "%s:%d|c|@0.1\n", name, 1+r.IntN(5))
	case k < 80:
		return fmt.Appendf(nil, "%s:%d|g\n", name, r.IntN(1000))
	case k < 95:
		return fmt.Appendf(nil, "%s:%d|ms\n", name, r.IntN(2000))
	}
	return fmt.Appendf(nil, "%s:u%d|s\n", name, r.IntN(500))
}
