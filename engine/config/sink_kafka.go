package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gomad/mad/internal/kafkaprops"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/kafka"
)

// mad's KafkaSink and the parser a tier's KafkaSource reads its messages
// with: the second tier of a scaled-out deployment (README, "Kafka").

const pkgMadParsers = "io.gomad.mad.parsers."

// KafkaSinkConf is mad's KafkaSink.
type KafkaSinkConf struct {
	Topic   string
	Configs []KV
	// Period is the period written (0: the pipeline's shortest).
	Period          time.Duration
	MaxMessageBytes int
	// TransactionalID makes the sink write in the transactions of the
	// pipeline's KafkaSource of that exactlyOnce.transactionalId.
	TransactionalID string
}

func init() {
	register(&class{fqcn: pkgMad + "KafkaSink", kind: kindSink,
		bind: func(n *node) any {
			c := &KafkaSinkConf{Topic: n.reqStr("topic"), TransactionalID: n.str("transactionalId", "")}
			switch {
			case c.TransactionalID == "" && !n.has("configs"):
				n.fail(nil, "configs", "is required")
			case c.TransactionalID != "" && n.has("configs"):
				n.fail(nil, "configs", "a transactional sink produces through its source's client: set the producer properties in the source's exactlyOnce.configs")
			}
			c.Configs = n.strMap("configs")
			c.Period, _ = n.duration("period", 0)
			c.MaxMessageBytes = int(n.integer("maxMessageBytes", 0, 0, 64<<20))
			return c
		},
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			cfg, err := kafkaSinkConfig(b, s)
			if err != nil {
				return nil, err
			}
			sk, err := kafka.New(cfg)
			if err != nil {
				return nil, s.failed("sink", err)
			}
			return sk, nil
		},
		check: func(b *Builder, s ClassSpec) error {
			_, err := kafkaSinkConfig(b, s)
			return err
		},
	})
	register(&class{fqcn: pkgMadParsers + "PartialsParser", kind: kindParser, value: true, bind: func(n *node) any { return nil }})
}

// kafkaSinkConfig makes a KafkaSink's configuration; the producer
// properties mad cannot honour are errors, each by name.
func kafkaSinkConfig(b *Builder, s ClassSpec) (kafka.Config, error) {
	c := s.Conf.(*KafkaSinkConf)
	var props [][2]string
	for _, kv := range c.Configs {
		props = append(props, [2]string{kv.Key, kv.Value})
	}
	if c.TransactionalID != "" {
		if b.txnIDs != nil && !b.txnIDs[c.TransactionalID] {
			return kafka.Config{}, s.failed("sink", fmt.Errorf("transactionalId %q: no KafkaSource of the pipeline has that exactlyOnce.transactionalId", c.TransactionalID))
		}
	} else if ps := kafkaprops.ProducerProblems(props); len(ps) > 0 {
		return kafka.Config{}, s.failed("sink", errors.New(strings.Join(ps, "; ")))
	}
	period := c.Period
	if period == 0 && len(b.periods) > 0 {
		period = slices.Min(b.periods)
	}
	switch {
	case period == 0:
		period = time.Second
	case period < 0 || period%time.Millisecond != 0:
		return kafka.Config{}, s.failed("sink", fmt.Errorf("period %v: want a positive whole number of milliseconds", period))
	case len(b.periods) > 0 && !slices.Contains(b.periods, period):
		return kafka.Config{}, s.failed("sink", fmt.Errorf("period %s is not one of the pipeline's periods", sinks.FormatPeriod(period)))
	}
	return kafka.Config{Name: s.Name, Topic: c.Topic, Props: props, Period: period, MaxMessageBytes: c.MaxMessageBytes,
		TransactionalID: c.TransactionalID, Log: b.log()}, nil
}
