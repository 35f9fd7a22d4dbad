package config

import (
	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/ingest"
)

// HTTPSourceConf is any of MAD's HTTP sources (ClientHttpSourceV1/V2/V3,
// CollectdHttpSourceV1, PrometheusHttpSource).
type HTTPSourceConf struct {
	// Prometheus only.
	InterpretUnits, OutputDebugFiles bool
	ReservedNameWhitelist            []string
}

func init() {
	for name, k := range map[string]ingest.HTTPKind{
		"ClientHttpSourceV1": ingest.HTTPClientV1, "ClientHttpSourceV2": ingest.HTTPClientV2, "ClientHttpSourceV3": ingest.HTTPClientV3,
		"CollectdHttpSourceV1": ingest.HTTPCollectd, "PrometheusHttpSource": ingest.HTTPPrometheus,
	} {
		register(&class{fqcn: pkgSources + name, kind: kindSource,
			bind: func(n *node) any {
				n.ignore("actorName", "poolSize")
				c := &HTTPSourceConf{
					InterpretUnits:   n.boolean("interpretUnits", false),
					OutputDebugFiles: n.boolean("outputDebugFiles", false),
				}
				c.ReservedNameWhitelist, _ = n.strings("reservedNameWhitelist")
				return c
			},
			source: func(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
				c, l := s.Conf.(*HTTPSourceConf), b.HTTP
				return &ingest.HTTPConfig{Name: s.Name, Kind: k, Slots: max(2, affinity.Usable()),
					MaxBody: l.MaxBody, MaxDecompressed: l.MaxDecompressed, MaxRecords: l.MaxRecords, Deadline: l.BusyTimeout,
					InterpretUnits: c.InterpretUnits, ReservedNameWhitelist: c.ReservedNameWhitelist, Log: b.log()}, nil
			},
		})
	}
}
