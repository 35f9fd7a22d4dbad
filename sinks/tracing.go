package sinks

import "regexp"

// TracingSink is MAD's TracingSink: for each bucket it counts, per
// pattern, the metric names the pattern matches entirely, and emits each
// count as mad's own counter tracingSink/hit with the dimensions sink and
// pattern.
type TracingSink struct {
	name     string
	labels   []string
	patterns []*regexp.Regexp
	emit     SelfEmitter
}

// NewTracingSink compiles the patterns (label → regular expression, in
// order).
func NewTracingSink(name string, patterns [][2]string, emit SelfEmitter) (*TracingSink, error) {
	s := &TracingSink{name: name, emit: emit}
	for _, p := range patterns {
		re, err := regexp.Compile(`^(?:` + p[1] + `)$`)
		if err != nil {
			return nil, err
		}
		s.labels = append(s.labels, p[0])
		s.patterns = append(s.patterns, re)
	}
	return s, nil
}

// Record counts the bucket's matching metric names.
func (s *TracingSink) Record(pd *PeriodicData) {
	for i, re := range s.patterns {
		hits := 0
		for _, m := range pd.Metrics {
			if re.Match(m.Name) {
				hits++
			}
		}
		if hits > 0 && s.emit != nil {
			s.emit(SelfRecord{Dimensions: [][2]string{{"sink", s.name}, {"pattern", s.labels[i]}},
				Metrics: []SelfMetric{{Name: "tracingSink/hit", Type: "counter", Values: []float64{float64(hits)}}}})
		}
	}
}

// Close does nothing.
func (s *TracingSink) Close() error { return nil }
