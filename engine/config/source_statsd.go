package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/ingest/statsd"
)

// StatsdSourceConf is StatsdSource (UDP, or a Unix datagram socket).
type StatsdSourceConf struct {
	Host string
	Port int
	// UnixSocketPath, mad's key unixSocketPath, makes the source listen on
	// a Unix datagram socket bound at that path (DogStatsD's transport)
	// instead of on host:port, which it then may not set: a StatsdSource
	// listens on one socket, and UDP beside it is a second StatsdSource.
	UnixSocketPath string
	// UnixSocketMode, mad's key unixSocketMode (octal, "0622" by default:
	// ingest.DefaultUnixMode), is the socket file's permissions.
	UnixSocketMode os.FileMode
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
			c := &StatsdSourceConf{
				Host:    n.str("host", "localhost"),
				Port:    int(n.integer("port", 8125, 0, maxPort)),
				Decoder: bindDecoder(n),
				Relay:   bindRelay(n),
			}
			c.UnixSocketPath, c.UnixSocketMode = bindUnixSocket(n)
			return c
		},
		source: func(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
			c := s.Conf.(*StatsdSourceConf)
			if c.UnixSocketPath != "" {
				if b.Check {
					if err := ingest.CheckUnixPath(c.UnixSocketPath); err != nil {
						return nil, s.failed("source", err)
					}
				}
				// One socket, one loop (ingest/unixgram.go).
				return &ingest.UDPConfig{Name: s.Name, UnixPath: c.UnixSocketPath, UnixMode: c.UnixSocketMode, Decoder: c.Decoder,
					Loops: 1, Log: b.log(), Relay: c.Relay}, nil
			}
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
//	  # StatsD servers, at least one: "host:port" or "udp://host:port" over
//	  # UDP, "tcp://host:port" over TCP (up while connected); or an object
//	  # {address, probe} whose probe tells whether a UDP server is up
//	  # ("tcp://host:port", or "http://host:port/path" answering 2xx: a
//	  # mad's /ping)
//	  destinations = ["10.0.0.1:8125", {address = "10.0.0.2:8125", probe = "http://10.0.0.2:7090/ping"}]
//	  maxDatagram = 1432        # bytes a datagram at most (1432 fits a 1500-byte MTU)
//	  flushInterval = "PT0.01S" # longest a line waits in a datagram that is not full
//	  queueDatagrams = 1024     # datagrams waiting per destination before lines are dropped
//	  probeInterval = "PT1S"    # how often probes run
//	  probeTimeout = "PT0.5S"   # how long a probe may take
//	  malformedTo = "10.0.0.1:8125" # where lines an aggregator refuses go (default: dropped)
//	  segmentation = true       # UDP segmentation offload, padding datagrams with empty lines
//	}
func bindRelay(n *node) *ingest.RelayConfig {
	r := n.object("relay")
	if r == nil {
		return nil
	}
	defer r.done()
	c := &ingest.RelayConfig{
		MaxDatagram:    int(r.integer("maxDatagram", 1432, 64, 65507)),
		QueueDatagrams: int(r.integer("queueDatagrams", 1024, 1, 1<<16)),
		FlushInterval:  r.positiveDuration("flushInterval", 10*time.Millisecond),
		ProbeInterval:  r.positiveDuration("probeInterval", time.Second),
		ProbeTimeout:   r.positiveDuration("probeTimeout", 500*time.Millisecond),
		Unsegmented:    !r.boolean("segmentation", true),
	}
	elems := r.list("destinations")
	if len(elems) == 0 {
		r.fail(r.get("destinations"), "destinations", "must be a non-empty list of host:port (or {address, probe} objects)")
	}
	if len(elems) > ingest.MaxRelayDestinations {
		r.fail(r.get("destinations"), "destinations", "lists %d destinations; a relay takes %d at most", len(elems), ingest.MaxRelayDestinations)
	}
	seen := map[string]bool{}
	for i, v := range elems {
		key := fmt.Sprintf("destinations[%d]", i)
		var d ingest.RelayDestination
		if a, ok := scalar(v); ok {
			d.Addr = a
		} else if e := r.elem("destinations", i, v); e != nil {
			d.Addr, d.Probe = e.reqStr("address"), e.str("probe", "")
			e.done()
			if d.Probe != "" {
				if err := ingest.CheckRelayProbe(d.Probe); err != nil {
					r.fail(v, key, "%v", err)
				}
			}
		} else {
			continue
		}
		switch {
		case strings.HasPrefix(d.Addr, "tcp://"):
			d.Addr, d.TCP = strings.TrimPrefix(d.Addr, "tcp://"), true
			if d.Probe != "" {
				r.fail(v, key, "a tcp:// destination is up while connected: it takes no probe")
			}
		case strings.HasPrefix(d.Addr, "udp://"):
			d.Addr = strings.TrimPrefix(d.Addr, "udp://")
		}
		if _, _, err := net.SplitHostPort(d.Addr); err != nil {
			r.fail(v, key, "%q is not host:port: %v", d.Addr, err)
			continue
		}
		id := d.Addr
		if d.TCP {
			id = "tcp://" + id
		}
		if seen[id] {
			r.fail(v, key, "%q is listed twice", id)
		}
		seen[id] = true
		c.Destinations = append(c.Destinations, d)
	}
	if m := r.str("malformedTo", ""); m != "" {
		c.MalformedTo = strings.TrimPrefix(strings.TrimPrefix(m, "tcp://"), "udp://")
		if !slices.ContainsFunc(c.Destinations, func(d ingest.RelayDestination) bool { return d.Addr == c.MalformedTo }) {
			r.fail(r.get("malformedTo"), "malformedTo", "%q is not one of the destinations", m)
		}
	}
	return c
}

// bindUnixSocket reads mad's keys of a StatsdSource on a Unix datagram
// socket (DogStatsD's transport):
//
//	unixSocketPath = "/var/run/mad/dsd.socket" # listen here instead of host:port
//	unixSocketMode = "0622"                    # the file's permissions, octal
//
// The path is cleaned and must fit a socket address (at most 107 bytes);
// the mode must be permission bits (at most 0777) that let someone send
// (a write bit).
func bindUnixSocket(n *node) (string, os.FileMode) {
	path := n.str("unixSocketPath", "")
	mode := n.str("unixSocketMode", "")
	if path == "" {
		if n.has("unixSocketPath") {
			n.fail(n.get("unixSocketPath"), "unixSocketPath", "must not be empty")
		} else if mode != "" {
			n.fail(n.get("unixSocketMode"), "unixSocketMode", "applies to unixSocketPath's socket, which is not set")
		}
		return "", 0
	}
	for _, k := range []string{"host", "port"} {
		if n.has(k) {
			n.fail(n.get(k), k, "a StatsdSource with unixSocketPath listens on that socket only: UDP beside it is a second StatsdSource")
		}
	}
	path = filepath.Clean(path)
	if err := ingest.ValidateUnixPath(path); err != nil {
		n.fail(n.get("unixSocketPath"), "unixSocketPath", "%v", err)
	}
	if mode == "" {
		return path, ingest.DefaultUnixMode
	}
	m, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(mode, "0o"), "0O"), 8, 32)
	switch {
	case err != nil || m > 0o777:
		n.fail(n.get("unixSocketMode"), "unixSocketMode", "must be permission bits in octal, at most 0777 (as \"0660\"), not %q", mode)
		return path, ingest.DefaultUnixMode
	case m&0o222 == 0:
		n.fail(n.get("unixSocketMode"), "unixSocketMode", "%q lets nobody send (a sender needs write permission)", mode)
		return path, ingest.DefaultUnixMode
	}
	return path, os.FileMode(m)
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
