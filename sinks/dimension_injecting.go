package sinks

import (
	"bytes"
	"slices"

	"github.com/gomad/mad/internal/jsonstr"
)

// DimensionInjectingSink is MAD's DimensionInjectingSink: each bucket is
// forwarded with the dimensions DefaultDimensions, then the bucket's own,
// then OverrideDimensions, a later value winning over an earlier one for the
// same key. Unlike MAD's, Close closes the wrapped sink: MAD's leaves it
// open, which for a sink that batches (JSON lines here) would lose its last
// batch.
type DimensionInjectingSink struct {
	Name                                  string
	Sink                                  Sink
	DefaultDimensions, OverrideDimensions []Dimension

	dims []Dimension
	pd   PeriodicData
	// injectedPlain: 0 until the first bucket, then 1 when every key and
	// value of DefaultDimensions and OverrideDimensions is plain JSON
	// text (jsonstr.Plain), 2 when one is not.
	injectedPlain uint8
}

// Record forwards pd with the injected dimensions.
func (s *DimensionInjectingSink) Record(pd *PeriodicData) {
	if len(s.DefaultDimensions) == 0 && len(s.OverrideDimensions) == 0 {
		s.Sink.Record(pd)
		return
	}
	d := s.dims[:0]
	d = setDims(d, s.DefaultDimensions)
	d = setDims(d, pd.Dimensions)
	d = setDims(d, s.OverrideDimensions)
	slices.SortFunc(d, func(a, b Dimension) int { return bytes.Compare(a.Key, b.Key) })
	s.dims = d
	s.pd = *pd
	s.pd.Dimensions = d
	// The bucket's mark tells of its own dimensions only: the set sent on
	// is plain if the injected ones are too.
	s.pd.PlainDimensions = pd.PlainDimensions && s.injectedArePlain()
	s.Sink.Record(&s.pd)
	clear(s.dims) // do not keep the bucket's bytes alive
}

// injectedArePlain reports whether every injected key and value is plain
// JSON text, working it out on the first bucket (the fields are set before
// the sink records anything).
func (s *DimensionInjectingSink) injectedArePlain() bool {
	if s.injectedPlain == 0 {
		s.injectedPlain = 1
		for _, d := range slices.Concat(s.DefaultDimensions, s.OverrideDimensions) {
			if !jsonstr.Plain(d.Key) || !jsonstr.Plain(d.Value) {
				s.injectedPlain = 2
			}
		}
	}
	return s.injectedPlain == 1
}

// setDims sets every dimension of add in d (replacing a value of the same
// key) and returns d.
func setDims(d, add []Dimension) []Dimension {
	for _, a := range add {
		i := slices.IndexFunc(d, func(x Dimension) bool { return bytes.Equal(x.Key, a.Key) })
		if i < 0 {
			d = append(d, a)
		} else {
			d[i].Value = a.Value
		}
	}
	return d
}

// Flush flushes the wrapped sink.
func (s *DimensionInjectingSink) Flush() { Flush(s.Sink) }

// Close closes the wrapped sink (MAD's does not, MAD-SPEC §5).
func (s *DimensionInjectingSink) Close() error { return s.Sink.Close() }
