package sinks

import (
	"bytes"
	"slices"
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
	s.Sink.Record(&s.pd)
	clear(s.dims) // do not keep the bucket's bytes alive
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
