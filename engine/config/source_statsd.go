package config

import (
	"net"
	"time"

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
	// Relay, mad's key relay (an object), makes the source a StatsD relay:
	// it forwards each line to one of relay.destinations, chosen by the
	// line's series, instead of aggregating it (issue 19).
	Relay *ingest.RelayConfig
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
				Relay:   bindRelay(n),
			}
		},
		source: func(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
			c := s.Conf.(*StatsdSourceConf)
			return &ingest.UDPConfig{Name: s.Name, Addr: joinHostPort(c.Host, c.Port), Decoder: c.Decoder,
				Loops: max(1, affinity.Usable()/2), Log: b.log(), Relay: c.Relay}, nil
		},
	})
	register(&class{fqcn: pkgParsers + "StatsdToRecordParser", kind: kindParser,
		bind: func(n *node) any { return &statsdParserConf{} },
		line: func(conf any, tcp *ingest.TCPConfig) {
			tcp.Format, tcp.Decoder = ingest.FormatStatsD, conf.(*statsdParserConf).decoder
		},
	})
}

// bindRelay reads mad's relay object of a StatsD source (nil if absent):
//
//	relay {
//	  destinations = ["10.0.0.1:8125", "10.0.0.2:8125"]  # StatsD servers over UDP, at least one
//	  maxDatagram = 1432      # bytes a datagram at most (1432 fits a 1500-byte MTU)
//	  flushInterval = "PT0.01S" # longest a line waits in a datagram that is not full
//	  queueDatagrams = 1024   # datagrams waiting per destination before lines are dropped
//	}
func bindRelay(n *node) *ingest.RelayConfig {
	r := n.object("relay")
	if r == nil {
		return nil
	}
	defer r.done()
	dests, _ := r.strings("destinations")
	if len(dests) == 0 {
		r.fail(r.get("destinations"), "destinations", "must be a non-empty list of host:port")
	}
	c := &ingest.RelayConfig{
		MaxDatagram:    int(r.integer("maxDatagram", 1432, 64, 65507)),
		QueueDatagrams: int(r.integer("queueDatagrams", 1024, 1, 1<<20)),
		FlushInterval:  r.positiveDuration("flushInterval", 10*time.Millisecond),
	}
	seen := map[string]bool{}
	for _, d := range dests {
		if _, _, err := net.SplitHostPort(d); err != nil {
			r.fail(r.get("destinations"), "destinations", "%q is not host:port: %v", d, err)
			continue
		}
		if seen[d] {
			r.fail(r.get("destinations"), "destinations", "%q is listed twice", d)
		}
		seen[d] = true
		c.Destinations = append(c.Destinations, ingest.RelayDestination{Addr: d})
	}
	return c
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
