package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/internal/kafkaprops"
)

// MAD's Kafka source and the parsers it (or other sources) may name, bound
// with MAD's keys. The Kafka source reads ClientV2 RecordSets
// (ProtobufV2bytesToRecordParser); the other parsers are not run on their
// own (their formats are served by the HTTP sources). FileSource is out of
// scope.

const (
	laterParser = "mad does not run this parser on its own (its format is served by MAD's HTTP sources; KafkaSource reads ProtobufV2bytesToRecordParser's)"
	outOfScope  = "FileSource is out of mad's scope (MAD-SPEC §3.5): tail files with a log shipper instead"
	v2bytes     = "ProtobufV2bytesToRecordParser"
)

// KafkaSourceConf is KafkaSource.
type KafkaSourceConf struct {
	Topics                                   []string
	Configs                                  []KV
	Parser                                   ClassSpec
	PollTime, ShutdownAwaitTime, BackoffTime time.Duration
	NumWorkerThreads, BufferSize             int
	// ExactlyOnce is mad's exactly-once mode (nil: at least once).
	ExactlyOnce *ExactlyOnceConf
}

// ExactlyOnceConf is a KafkaSource's exactlyOnce object (mad's).
type ExactlyOnceConf struct {
	TransactionalID string
	Delay           time.Duration
	Configs         []KV
}

func init() {
	register(&class{fqcn: pkgSources + "KafkaSource", kind: kindSource, source: buildKafka, bind: func(n *node) any {
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
		if eo := n.object("exactlyOnce"); eo != nil {
			c.ExactlyOnce = &ExactlyOnceConf{TransactionalID: eo.reqStr("transactionalId"), Configs: eo.strMap("configs")}
			c.ExactlyOnce.Delay, _ = eo.duration("delay", 0)
			eo.done()
		}
		return c
	}})
	register(&class{fqcn: pkgSources + "FileSource", kind: kindSource, missing: outOfScope, bind: func(n *node) any {
		n.ignore("sourceFile", "parser", "interval", "stateFile", "initialPosition")
		return nil
	}})
	register(&class{fqcn: pkgParsers + v2bytes, kind: kindParser, value: true, bind: func(n *node) any { return nil }})
	for _, name := range []string{"ProtobufV1ToRecordParser", "ProtobufV2ToRecordParser", "ProtobufV3ToRecordParser", "PrometheusToRecordParser", "CollectdJsonToRecordParser"} {
		register(&class{fqcn: pkgParsers + name, kind: kindParser, missing: laterParser, bind: func(n *node) any { return nil }})
	}
}

// buildKafka makes a KafkaSource's configuration; the consumer properties
// mad cannot honour are errors, each by name.
func buildKafka(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
	c := s.Conf.(*KafkaSourceConf)
	p, ok := lookupClass(c.Parser.Class)
	partials := ok && p.fqcn == pkgMadParsers+"PartialsParser"
	if !ok || p.fqcn != pkgParsers+v2bytes && !partials {
		return nil, fmt.Errorf("%s: source %s: parser %s: KafkaSource reads ClientV2 RecordSets (%s) or mad's partial aggregates (%s)",
			s.Pos, s.Name, c.Parser.Class, pkgParsers+v2bytes, pkgMadParsers+"PartialsParser")
	}
	props := make([][2]string, len(c.Configs))
	for i, kv := range c.Configs {
		props[i] = [2]string{kv.Key, kv.Value}
	}
	if ps := kafkaprops.Problems(props); len(ps) > 0 {
		return nil, fmt.Errorf("%s: source %s: %w", s.Pos, s.Name, errors.New(strings.Join(ps, "; ")))
	}
	kc := &ingest.KafkaConfig{Name: s.Name, Topics: c.Topics, Props: props, PollTime: max(c.PollTime, time.Millisecond),
		BackoffTime: c.BackoffTime, ShutdownAwait: c.ShutdownAwaitTime, MaxRecords: c.BufferSize, Log: b.log(),
		Partials: partials, Periods: slices.Clone(b.periods)}
	if eo := c.ExactlyOnce; eo != nil {
		kc.Txn = &ingest.KafkaTxn{ID: eo.TransactionalID, Delay: eo.Delay}
		for _, kv := range eo.Configs {
			kc.Txn.ProducerProps = append(kc.Txn.ProducerProps, [2]string{kv.Key, kv.Value})
		}
		if err := ingest.CheckKafkaTxn(kc); err != nil {
			return nil, fmt.Errorf("%s: source %s: %w", s.Pos, s.Name, err)
		}
	}
	return kc, nil
}
