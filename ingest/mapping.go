package ingest

import (
	"fmt"
	"slices"
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

// Mapping is MAD's MappingSource: each metric name is tried against every
// pattern (Java's find(): unanchored unless the pattern anchors itself);
// each pattern that matches replaces the name by each of its
// replacements (Java's replaceAll, $n groups), and the original name is
// dropped; an empty list of replacements drops the metric. A name no
// pattern matches passes unchanged. Names that collide after mapping are
// the same series (and merge, as in MAD) if their metric types agree;
// unlike MAD, which drops the later of two metrics of different types,
// mad keeps both as separate series.
type Mapping struct {
	rules []mappingRule
	// scratch
	dims []sample.Dim
	key  []byte
	name []byte
	locs []int
}

type mappingRule struct {
	re    *transform.Regexp
	repls []*transform.Replacement
}

// MappingRule is one findAndReplace entry: a pattern and its
// replacements (Java syntax: $1 for a group).
type MappingRule struct {
	Pattern      string
	Replacements []string
}

// MappingSpec is MappingSource's configuration (findAndReplace, in
// order), compiled once; its mappers share the compiled patterns.
type MappingSpec struct {
	rules    []MappingRule
	compiled []mappingRule
}

// NewMappingSpec compiles findAndReplace, in order.
func NewMappingSpec(rules []MappingRule) (*MappingSpec, error) {
	s := &MappingSpec{rules: rules}
	for _, fr := range rules {
		// Java's patterns and replacement strings (Matcher.replaceAll),
		// read as TransformingSource reads its patterns.
		re, err := transform.CompileJava(fr.Pattern)
		if err != nil {
			return nil, fmt.Errorf("mapping: %w", err)
		}
		var repls []*transform.Replacement
		for _, r := range fr.Replacements {
			p, err := re.Replacement(r)
			if err != nil {
				return nil, fmt.Errorf("mapping pattern %q: %w", fr.Pattern, err)
			}
			repls = append(repls, p)
		}
		s.compiled = append(s.compiled, mappingRule{re: re, repls: repls})
	}
	return s, nil
}

// NewMapper returns a Mapping for one producer.
func (s *MappingSpec) NewMapper() Mapper { return &Mapping{rules: s.compiled} }

// Equal reports whether o is a MappingSpec of the same rules.
func (s *MappingSpec) Equal(o MapperSpec) bool {
	m, ok := o.(*MappingSpec)
	return ok && slices.EqualFunc(s.rules, m.rules, func(a, b MappingRule) bool {
		return a.Pattern == b.Pattern && slices.Equal(a.Replacements, b.Replacements)
	})
}

// NewMapping compiles findAndReplace into one mapper.
func NewMapping(rules []MappingRule) (*Mapping, error) {
	s, err := NewMappingSpec(rules)
	if err != nil {
		return nil, err
	}
	return s.NewMapper().(*Mapping), nil
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

// Map applies the rules to every sample.
func (m *Mapping) Map(src *sample.Batch, route sample.Route) {
	for i := range src.Samples {
		s := &src.Samples[i]
		key := src.Key(s)
		pk, err := sample.ParseKey(key)
		if err != nil {
			continue // cannot happen: decoders write canonical keys
		}
		matched := false
		for _, r := range m.rules {
			if !r.re.Match(pk.Name) {
				continue
			}
			matched = true
			for _, repl := range r.repls {
				m.name, m.locs = r.re.ReplaceAll(m.name[:0], pk.Name, repl, m.locs)
				m.emit(src, s, pk, m.name, route)
			}
		}
		if !matched {
			copySample(route(s.Hash), src, s, key, s.Hash, s.Time)
		}
	}
}

// emit routes a copy of s under a new name.
func (m *Mapping) emit(src *sample.Batch, s *sample.Sample, pk sample.ParsedKey, name []byte, route sample.Route) {
	m.dims = m.dims[:0]
	it := pk.DimIter()
	for {
		d, ok := it.Next()
		if !ok {
			break
		}
		m.dims = append(m.dims, d)
	}
	key, err := sample.AppendKey(m.key[:0], pk.Kind, name, m.dims)
	m.key = key
	if err != nil {
		return // a key over the limit: the metric cannot be aggregated
	}
	h := sample.Hash(key)
	copySample(route(h), src, s, key, h, s.Time)
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
