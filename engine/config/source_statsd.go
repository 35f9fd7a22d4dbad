package config

import (
	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/ingest/statsd"
)

// StatsdSourceConf is StatsdSource (UDP).
type StatsdSourceConf struct {
	Host string
	Port int
	// Decoder holds mad's StatsD options (keys sampleRateMode and
	// negativeGaugeDelta; MAD's behaviour by default).
	Decoder statsd.Config
}

// statsdParserConf is StatsdToRecordParser; mad's StatsD options are read
// from the enclosing TcpLineSource (as for StatsdSource).
type statsdParserConf struct{ decoder statsd.Config }

func init() {
	register(&class{fqcn: pkgSources + "StatsdSource", kind: kindSource,
		bind: func(n *node) any {
			n.ignore("actorName", "poolSize")
			return &StatsdSourceConf{
				Host:    n.str("host", "localhost"),
				Port:    int(n.integer("port", 8125, 0, maxPort)),
				Decoder: bindDecoder(n),
			}
		},
		source: func(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
			c := s.Conf.(*StatsdSourceConf)
			return &ingest.UDPConfig{Name: s.Name, Addr: joinHostPort(c.Host, c.Port), Decoder: c.Decoder,
				Loops: max(1, affinity.Usable()/2), Log: b.log()}, nil
		},
	})
	register(&class{fqcn: pkgParsers + "StatsdToRecordParser", kind: kindParser,
		bind: func(n *node) any { return &statsdParserConf{} },
		line: func(conf any, tcp *ingest.TCPConfig) {
			tcp.Format, tcp.Decoder = ingest.FormatStatsD, conf.(*statsdParserConf).decoder
		},
	})
}

// bindDecoder reads mad's StatsD options: sampleRateMode "resample" (MAD:
// keep a line with probability r) or "scale" (standard StatsD: keep every
// line, weighted 1/r); negativeGaugeDelta (Etsy: "-N" on a gauge is a
// delta).
func bindDecoder(n *node) statsd.Config {
	var c statsd.Config
	switch n.enum("sampleRateMode", "resample", "resample", "scale") {
	case "scale":
		c.RateMode = statsd.RateScale
	}
	c.NegativeGaugeDelta = n.boolean("negativeGaugeDelta", false)
	return c
}
