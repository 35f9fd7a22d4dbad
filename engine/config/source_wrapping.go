package config

import "github.com/gomad/mad/ingest"

// MAD's wrapping sources rewrite what the source they wrap produces; mad
// runs each as a mapper on that source's producers (ingest.MapperSpec).

// MappingSourceConf is MappingSource.
type MappingSourceConf struct {
	Source         ClassSpec
	FindAndReplace []KVs
	Cache          RewriteCache
}

// RewriteCache is mad's maxCachedSeries and maxCachedBytes of a rewriting
// source (MappingSource, TransformingSource, TagDroppingSource): the bounds
// of each of its producers' cache of series rewritten (ingest.RewriteSpec).
type RewriteCache struct{ Series, Bytes int }

func bindRewriteCache(n *node) RewriteCache {
	return RewriteCache{
		Series: int(n.integer("maxCachedSeries", ingest.DefaultRewriteCacheSeries, 1, ingest.MaxRewriteCacheSeries)),
		Bytes:  int(n.integer("maxCachedBytes", ingest.DefaultRewriteCacheBytes, 1<<10, ingest.MaxRewriteCacheBytes)),
	}
}

// bounded returns m with the cache's bounds.
func (c RewriteCache) bounded(m *ingest.RewriteSpec) *ingest.RewriteSpec {
	m.MaxSeries, m.MaxBytes = c.Series, c.Bytes
	return m
}

// TimeStampingSourceConf is TimeStampingSource.
type TimeStampingSourceConf struct{ Source ClassSpec }

func init() {
	register(&class{fqcn: pkgMadSources + "MappingSource", kind: kindSource,
		bind: func(n *node) any {
			c := &MappingSourceConf{Source: n.nested("source", kindSource, true), Cache: bindRewriteCache(n)}
			c.FindAndReplace = n.listMap("findAndReplace")
			for _, e := range c.FindAndReplace {
				n.checkRegexp("findAndReplace", e.Key)
			}
			return c
		},
		source: func(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
			c := s.Conf.(*MappingSourceConf)
			rules := make([]ingest.MappingRule, len(c.FindAndReplace))
			for i, fr := range c.FindAndReplace {
				rules[i] = ingest.MappingRule{Pattern: fr.Key, Replacements: fr.Values}
			}
			m, err := ingest.NewMappingSpec(s.Name, rules)
			if err != nil {
				return nil, s.failed("source", err)
			}
			return b.wrapped(c.Source, c.Cache.bounded(m))
		},
	})
	register(&class{fqcn: pkgMadSources + "TimeStampingSource", kind: kindSource,
		bind: func(n *node) any {
			return &TimeStampingSourceConf{Source: n.nested("source", kindSource, true)}
		},
		source: func(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
			return b.wrapped(s.Conf.(*TimeStampingSourceConf).Source, ingest.TimeStampingSpec{})
		},
	})
}
