package config

import "time"

// MAD's Kafka source and the parsers it (or other sources) may name, bound
// with MAD's keys; mad does not run them yet. FileSource is out of scope.

const (
	laterParser = "mad does not implement this parser yet (StatsD, Graphite and Telegraf lines are)"
	laterKafka  = "the Kafka source is not implemented in mad yet"
	outOfScope  = "FileSource is out of mad's scope (MAD-SPEC §3.5): tail files with a log shipper instead"
)

// KafkaSourceConf is KafkaSource.
type KafkaSourceConf struct {
	Topics                                   []string
	Configs                                  []KV
	Parser                                   ClassSpec
	PollTime, ShutdownAwaitTime, BackoffTime time.Duration
	NumWorkerThreads, BufferSize             int
}

func init() {
	register(&class{fqcn: pkgSources + "KafkaSource", kind: kindSource, missing: laterKafka, bind: func(n *node) any {
		c := &KafkaSourceConf{}
		if cons := n.object("consumer"); cons == nil {
			n.fail(nil, "consumer", "is required")
		} else {
			cons.ignore("type")
			var ok bool
			if c.Topics, ok = cons.strings("topics"); !ok {
				cons.fail(nil, "topics", "is required")
			}
			if !cons.has("configs") {
				cons.fail(nil, "configs", "is required")
			}
			c.Configs = cons.strMap("configs")
			cons.done()
		}
		c.Parser = n.nested("parser", kindParser, true)
		var set bool
		if c.PollTime, set = n.duration("pollTime", 0); !set {
			n.fail(nil, "pollTime", "is required")
		}
		c.ShutdownAwaitTime, _ = n.duration("shutdownAwaitTime", 10*time.Second)
		c.BackoffTime, _ = n.duration("backoffTime", time.Second)
		c.NumWorkerThreads = int(n.integer("numWorkerThreads", 1, 1, 1024))
		c.BufferSize = int(n.integer("bufferSize", 1000, 1, 1<<24))
		return c
	}})
	register(&class{fqcn: pkgSources + "FileSource", kind: kindSource, missing: outOfScope, bind: func(n *node) any {
		n.ignore("sourceFile", "parser", "interval", "stateFile", "initialPosition")
		return nil
	}})
	for _, name := range []string{"ProtobufV1ToRecordParser", "ProtobufV2ToRecordParser", "ProtobufV2bytesToRecordParser", "ProtobufV3ToRecordParser", "PrometheusToRecordParser", "CollectdJsonToRecordParser"} {
		register(&class{fqcn: pkgParsers + name, kind: kindParser, missing: laterParser, bind: func(n *node) any { return nil }})
	}
}
