package config

import (
	"github.com/gomad/mad/ingest"
)

// TCPLineSourceConf is TcpLineSource: lines over TCP, read by its parser
// (StatsdToRecordParser, GraphitePlaintextToRecordParser,
// TelegrafJsonToRecordParser).
type TCPLineSourceConf struct {
	Host        string
	Port        int
	AcceptQueue int
	Parser      ClassSpec
}

// GraphiteParserConf is GraphitePlaintextToRecordParser.
type GraphiteParserConf struct {
	GlobalTags      []KV
	ParseCarbonTags bool
}

// TelegrafParserConf is TelegrafJsonToRecordParser.
type TelegrafParserConf struct{ TimestampUnit string }

func init() {
	register(&class{fqcn: pkgSources + "TcpLineSource", kind: kindSource,
		bind: func(n *node) any {
			n.ignore("actorName", "poolSize")
			c := &TCPLineSourceConf{
				Host:        n.str("host", "localhost"),
				Port:        int(n.integer("port", 0, 0, maxPort)),
				AcceptQueue: int(n.integer("acceptQueue", 100, 1, 1<<20)),
			}
			if !n.has("port") {
				n.fail(nil, "port", "is required")
			}
			c.Parser = n.nested("parser", kindParser, true)
			if p, ok := c.Parser.Conf.(*statsdParserConf); ok {
				p.decoder = bindDecoder(n)
			}
			return c
		},
		source: func(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
			c := s.Conf.(*TCPLineSourceConf)
			p, ok := lookupClass(c.Parser.Class)
			if !ok || !p.available() {
				return nil, b.unavailable(s, "source") // its parser is not available
			}
			tcp := &ingest.TCPConfig{Name: s.Name, Addr: joinHostPort(c.Host, c.Port), Loops: 1, Log: b.log()}
			p.line(c.Parser.Conf, tcp)
			return tcp, nil
		},
	})
	register(&class{fqcn: pkgParsers + "GraphitePlaintextToRecordParser", kind: kindParser,
		bind: func(n *node) any {
			return &GraphiteParserConf{GlobalTags: n.strMap("globalTags"), ParseCarbonTags: n.boolean("parseCarbonTags", false)}
		},
		line: func(conf any, tcp *ingest.TCPConfig) {
			p := conf.(*GraphiteParserConf)
			tcp.Format = ingest.FormatGraphite
			tcp.Graphite.ParseCarbonTags = p.ParseCarbonTags
			for _, kv := range p.GlobalTags {
				tcp.Graphite.GlobalTags = append(tcp.Graphite.GlobalTags, [2]string{kv.Key, kv.Value})
			}
		},
	})
	register(&class{fqcn: pkgParsers + "TelegrafJsonToRecordParser", kind: kindParser,
		bind: func(n *node) any {
			return &TelegrafParserConf{TimestampUnit: n.enum("timestampUnit", "SECONDS", "SECONDS", "MILLISECONDS", "MICROSECONDS", "NANOSECONDS")}
		},
		line: func(conf any, tcp *ingest.TCPConfig) {
			tcp.Format = ingest.FormatTelegraf
			tcp.Telegraf.TimestampUnit = conf.(*TelegrafParserConf).TimestampUnit
		},
	})
}
