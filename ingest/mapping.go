package ingest

import (
	"fmt"
	"time"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/transform"
)

// A Mapper rewrites the samples a source decoded before they are routed to
// the shards: MAD's wrapping sources (MappingSource, TimeStampingSource).
// Map reads every sample of src and routes what it makes of them with
// route; src is reset afterwards.
type Mapper interface {
	Map(src *sample.Batch, route sample.Route)
}

// Mappers applies mappers in order (the innermost wrapper first).
type Mappers []Mapper

// Map applies each mapper in turn.
func (ms Mappers) Map(src *sample.Batch, route sample.Route) {
	if len(ms) == 1 {
		ms[0].Map(src, route)
		return
	}
	// Each but the last writes into a staging batch.
	var stage, next sample.Batch
	cur := src
	for i, m := range ms {
		if i == len(ms)-1 {
			m.Map(cur, route)
			return
		}
		next.Reset()
		m.Map(cur, func(uint64) *sample.Batch { return &next })
		stage, next = next, stage
		cur = &stage
	}
}

// TimeStamping is MAD's TimeStampingSource: every record's time becomes the
// time it arrived.
type TimeStamping struct {
	// Now is the clock in ms (default time.Now).
	Now func() int64
}

// Map sets every sample's time to now.
func (t TimeStamping) Map(src *sample.Batch, route sample.Route) {
	now := time.Now().UnixMilli()
	if t.Now != nil {
		now = t.Now()
	}
	for i := range src.Samples {
		s := &src.Samples[i]
		b := route(s.Hash)
		copySample(b, src, s, src.Key(s), s.Hash, now)
	}
}

// MappingRule is one findAndReplace entry: a pattern and its
// replacements (Java syntax: $1 for a group).
type MappingRule struct {
	Pattern      string
	Replacements []string
}

// NewMappingSpec compiles a MappingSource's findAndReplace, in order
// (transform.Mapping). MAD's MappingSource tries every metric name
// against every pattern; each pattern that matches replaces the name by
// each of its replacements, and the original name is dropped; an empty
// list of replacements drops the metric; a name no pattern matches
// passes unchanged. Names that collide after mapping are the same series
// (and merge, as in MAD) if their metric types agree; unlike MAD, which
// drops the later of two metrics of different types, mad keeps both as
// separate series.
//
// The rules depend on the series alone, so its mappers are rewriters
// (rewrite.go): each input series is mapped once and its outputs kept in
// a bounded cache, and a sample costs one lookup, not a regular
// expression per pattern (32 patterns in the shipped collectd mapping;
// BENCHMARKS.md, "MappingSource by series").
func NewMappingSpec(name string, rules []MappingRule) (*RewriteSpec, error) {
	tr := make([]transform.MappingRule, len(rules))
	for i, r := range rules {
		tr[i] = transform.MappingRule(r)
	}
	m, err := transform.CompileMapping(tr)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return &RewriteSpec{class: "MappingSource", name: name, conf: rules, rules: mappingRules{m}, stats: new(RewriteStats)}, nil
}

// NewMapping compiles findAndReplace into one mapper.
func NewMapping(rules []MappingRule) (Mapper, error) {
	s, err := NewMappingSpec("mapping", rules)
	if err != nil {
		return nil, err
	}
	return s.NewMapper(), nil
}

// TimeStampingSpec is TimeStampingSource's configuration (it has none).
type TimeStampingSpec struct{}

// NewMapper returns a TimeStamping.
func (TimeStampingSpec) NewMapper() Mapper { return TimeStamping{} }

// Equal reports whether o is a TimeStampingSpec.
func (TimeStampingSpec) Equal(o MapperSpec) bool {
	_, ok := o.(TimeStampingSpec)
	return ok
}

// copySample appends s (with its pre-aggregated data) to b under key,
// without its request time: MAD's wrapping sources build their records
// anew and do not copy it (MAD-SPEC §3.5: MappingSource, TimeStampingSource;
// mad-experimental's TransformingSource and TagDroppingSource alike), so a
// wrapped V3 record has none (no client_minimum_request_time, no
// request_age).
func copySample(b, src *sample.Batch, s *sample.Sample, key []byte, hash uint64, t int64) {
	ref := b.PutKeyBytes(key, hash)
	if s.Flags&sample.FlagAgg != 0 {
		a := src.Aggs[s.Agg]
		b.AddAgg(ref, t, 0, a, src.HistOf(&a), s.Unit)
		return
	}
	if s.Flags&sample.FlagRun != 0 {
		b.AddRun(ref, t, 0, src.ValsOf(s), s.Unit)
		return
	}
	b.AddSample(ref, t, 0, s.Value, s.Unit, s.Flags)
}
