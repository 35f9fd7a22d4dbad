package ingest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// MAD's KafkaSource takes Kafka's Java consumer properties (its `configs`);
// mad maps each to franz-go's options. A property mad cannot honour is a
// problem named by KafkaProblems (so `-check-config` and start-up list it),
// never silently ignored.

// kafkaSettings is what a KafkaSource's properties become.
type kafkaSettings struct {
	opts           []kgo.Opt
	group          string
	maxPollRecords int
	problems       []string
}

// byteArrayDeserializer is the only deserializer MAD's parser fits.
const byteArrayDeserializer = "org.apache.kafka.common.serialization.ByteArrayDeserializer"

// kafkaIgnored are properties that change nothing mad does: mad commits an
// offset once what it carried has been emitted, whatever auto-commit says
// (README), and franz-go tunes the rest itself.
var kafkaIgnored = map[string]bool{
	"enable.auto.commit":       true,
	"auto.commit.interval.ms":  true,
	"allow.auto.create.topics": true,
	"check.crcs":               true,
	"client.dns.lookup":        true,
	"receive.buffer.bytes":     true,
	"send.buffer.bytes":        true,
	"reconnect.backoff.ms":     true,
	"reconnect.backoff.max.ms": true,
	"retry.backoff.ms":         true,
	"metrics.sample.window.ms": true,
	"metrics.num.samples":      true,
	"metrics.recording.level":  true,
	"metric.reporters":         true,
	"interceptor.classes":      true,
	"exclude.internal.topics":  true,
	"default.api.timeout.ms":   true,
	"request.timeout.ms":       true,
	"connections.max.idle.ms":  true,
}

// KafkaProblems returns what is wrong with a KafkaSource's consumer
// properties: each one mad cannot honour, by name.
func KafkaProblems(props [][2]string) []string { return kafkaOptions(props).problems }

// kafkaOptions maps Java consumer properties to franz-go options.
func kafkaOptions(props [][2]string) kafkaSettings {
	var k kafkaSettings
	get := map[string]string{}
	for _, p := range props {
		get[p[0]] = p[1]
	}
	bad := func(name, format string, args ...any) {
		k.problems = append(k.problems, fmt.Sprintf("consumer property %s: %s", name, fmt.Sprintf(format, args...)))
	}
	intProp := func(name string, min, max int64) (int64, bool) {
		v, ok := get[name]
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < min || n > max {
			bad(name, "%q is not an integer in [%d, %d]", v, min, max)
			return 0, false
		}
		return n, true
	}
	ms := func(name string, set func(time.Duration) kgo.Opt) {
		if n, ok := intProp(name, 1, 1<<31-1); ok {
			k.opts = append(k.opts, set(time.Duration(n)*time.Millisecond))
		}
	}
	bytes32 := func(name string, set func(int32) kgo.Opt) {
		if n, ok := intProp(name, 1, 1<<31-1); ok {
			k.opts = append(k.opts, set(int32(n)))
		}
	}
	var security, mechanism, jaas string
	tlsProps := map[string]string{}
	for _, p := range props {
		name, v := p[0], p[1]
		switch {
		case name == "bootstrap.servers":
			var seeds []string
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					seeds = append(seeds, s)
				}
			}
			if len(seeds) == 0 {
				bad(name, "no broker")
			}
			k.opts = append(k.opts, kgo.SeedBrokers(seeds...))
		case name == "group.id":
			k.group = v
		case name == "client.id":
			k.opts = append(k.opts, kgo.ClientID(v))
		case name == "auto.offset.reset":
			switch v {
			case "earliest":
				k.opts = append(k.opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			case "latest":
				k.opts = append(k.opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
			case "none":
				k.opts = append(k.opts, kgo.ConsumeResetOffset(kgo.NoResetOffset()))
			default:
				bad(name, "%q: want earliest, latest or none", v)
			}
		case name == "key.deserializer", name == "value.deserializer":
			if v != byteArrayDeserializer {
				bad(name, "%q: MAD's ProtobufV2bytesToRecordParser reads bytes (%s)", v, byteArrayDeserializer)
			}
		case name == "max.poll.records":
			if n, ok := intProp(name, 1, 1<<24); ok {
				k.maxPollRecords = int(n)
			}
		case name == "fetch.min.bytes":
			bytes32(name, func(n int32) kgo.Opt { return kgo.FetchMinBytes(n) })
		case name == "fetch.max.bytes":
			bytes32(name, func(n int32) kgo.Opt { return kgo.FetchMaxBytes(n) })
		case name == "max.partition.fetch.bytes":
			bytes32(name, func(n int32) kgo.Opt { return kgo.FetchMaxPartitionBytes(n) })
		case name == "fetch.max.wait.ms":
			ms(name, func(d time.Duration) kgo.Opt { return kgo.FetchMaxWait(d) })
		case name == "session.timeout.ms":
			ms(name, func(d time.Duration) kgo.Opt { return kgo.SessionTimeout(d) })
		case name == "heartbeat.interval.ms":
			ms(name, func(d time.Duration) kgo.Opt { return kgo.HeartbeatInterval(d) })
		case name == "max.poll.interval.ms":
			// Java's bound on the time between polls is the group's
			// rebalance timeout.
			ms(name, func(d time.Duration) kgo.Opt { return kgo.RebalanceTimeout(d) })
		case name == "isolation.level":
			switch v {
			case "read_committed":
				k.opts = append(k.opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			case "read_uncommitted":
				k.opts = append(k.opts, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
			default:
				bad(name, "%q: want read_committed or read_uncommitted", v)
			}
		case name == "partition.assignment.strategy":
			var bs []kgo.GroupBalancer
			for _, c := range strings.Split(v, ",") {
				c = strings.TrimSpace(c)
				switch c[strings.LastIndexByte(c, '.')+1:] {
				case "RangeAssignor":
					bs = append(bs, kgo.RangeBalancer())
				case "RoundRobinAssignor":
					bs = append(bs, kgo.RoundRobinBalancer())
				case "StickyAssignor":
					bs = append(bs, kgo.StickyBalancer())
				case "CooperativeStickyAssignor":
					bs = append(bs, kgo.CooperativeStickyBalancer())
				default:
					bad(name, "%q: mad has RangeAssignor, RoundRobinAssignor, StickyAssignor and CooperativeStickyAssignor", c)
				}
			}
			if len(bs) > 0 {
				k.opts = append(k.opts, kgo.Balancers(bs...))
			}
		case name == "security.protocol":
			security = v
		case name == "sasl.mechanism":
			mechanism = v
		case name == "sasl.jaas.config":
			jaas = v
		case strings.HasPrefix(name, "ssl."):
			tlsProps[name] = v
		case kafkaIgnored[name]:
		default:
			bad(name, "not supported by mad")
		}
	}
	if _, ok := get["bootstrap.servers"]; !ok {
		bad("bootstrap.servers", "is required")
	}
	if k.group == "" {
		// MAD's consumer subscribes, which Kafka refuses without a group.
		bad("group.id", "is required (the source subscribes as a consumer group)")
	}
	switch security {
	case "", "PLAINTEXT":
		if mechanism != "" || jaas != "" {
			bad("security.protocol", "%q with SASL properties: want SASL_PLAINTEXT or SASL_SSL", security)
		}
	case "SSL", "SASL_SSL", "SASL_PLAINTEXT":
	default:
		bad("security.protocol", "%q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", security)
	}
	if security == "SSL" || security == "SASL_SSL" {
		cfg, errs := kafkaTLS(tlsProps)
		k.problems = append(k.problems, errs...)
		if cfg != nil {
			k.opts = append(k.opts, kgo.DialTLSConfig(cfg))
		}
	} else if len(tlsProps) > 0 {
		names := make([]string, 0, len(tlsProps))
		for name := range tlsProps {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			bad(name, "set without security.protocol SSL or SASL_SSL")
		}
	}
	if security == "SASL_PLAINTEXT" || security == "SASL_SSL" {
		m, err := kafkaSASL(mechanism, jaas)
		if err != nil {
			k.problems = append(k.problems, err.Error())
		} else {
			k.opts = append(k.opts, kgo.SASL(m))
		}
	}
	return k
}

// jaasOption reads key="value" (or key=value) from a JAAS login line.
var jaasOption = regexp.MustCompile(`(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))`)

// kafkaSASL maps sasl.mechanism and sasl.jaas.config (PlainLoginModule or
// ScramLoginModule with username and password) to a mechanism.
func kafkaSASL(mechanism, jaas string) (sasl.Mechanism, error) {
	if mechanism == "" {
		mechanism = "GSSAPI" // Kafka's default
	}
	user, pass := "", ""
	for _, m := range jaasOption.FindAllStringSubmatch(jaas, -1) {
		v := m[2] + m[3]
		v = strings.ReplaceAll(strings.ReplaceAll(v, `\"`, `"`), `\\`, `\`)
		switch m[1] {
		case "username":
			user = v
		case "password":
			pass = v
		}
	}
	if user == "" && (mechanism == "PLAIN" || strings.HasPrefix(mechanism, "SCRAM-")) {
		return nil, fmt.Errorf("consumer property sasl.jaas.config: no username=\"…\" password=\"…\" for %s", mechanism)
	}
	switch mechanism {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("consumer property sasl.mechanism: %q: mad has PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512", mechanism)
}

// kafkaTLS builds the TLS configuration of security.protocol SSL or SASL_SSL
// from Kafka's ssl.* properties, with PEM stores (Kafka's
// ssl.truststore.type=PEM and ssl.keystore.type=PEM; Java's JKS and PKCS12
// stores are refused by name).
func kafkaTLS(p map[string]string) (*tls.Config, []string) {
	var problems []string
	bad := func(name, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("consumer property %s: %s", name, fmt.Sprintf(format, args...)))
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	read := func(name string) []byte {
		b, err := os.ReadFile(p[name])
		if err != nil {
			bad(name, "%v", err)
		}
		return b
	}
	names := make([]string, 0, len(p))
	for name := range p {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch v := p[name]; name {
		case "ssl.truststore.type", "ssl.keystore.type":
			if v != "PEM" {
				bad(name, "%q: mad reads PEM stores (set PEM, with PEM files)", v)
			}
		case "ssl.truststore.location", "ssl.keystore.location":
			if t := strings.Replace(name, ".location", ".type", 1); p[t] == "" {
				bad(t, "is Kafka's JKS by default, which mad cannot read: set PEM, with a PEM file")
			}
		case "ssl.truststore.certificates", "ssl.keystore.certificate.chain", "ssl.keystore.key",
			"ssl.endpoint.identification.algorithm", "ssl.protocol", "ssl.enabled.protocols":
		case "ssl.truststore.password", "ssl.keystore.password", "ssl.key.password":
			if v != "" {
				bad(name, "encrypted stores and keys are not supported: give PEM files with an unencrypted key")
			}
		default:
			bad(name, "not supported by mad")
		}
	}
	var roots []byte
	switch {
	case p["ssl.truststore.certificates"] != "":
		roots = []byte(p["ssl.truststore.certificates"])
	case p["ssl.truststore.location"] != "":
		roots = read("ssl.truststore.location")
	}
	if len(roots) > 0 {
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(roots) {
			bad("ssl.truststore.location", "no PEM certificate")
		}
	}
	var chain, key []byte
	switch {
	case p["ssl.keystore.certificate.chain"] != "":
		chain, key = []byte(p["ssl.keystore.certificate.chain"]), []byte(p["ssl.keystore.key"])
	case p["ssl.keystore.location"] != "":
		chain = read("ssl.keystore.location")
		key = chain // a PEM key store holds the key and its chain
	}
	if len(chain) > 0 {
		c, err := tls.X509KeyPair(chain, key)
		if err != nil {
			bad("ssl.keystore.location", "%v", err)
		} else {
			cfg.Certificates = []tls.Certificate{c}
		}
	}
	switch alg, set := p["ssl.endpoint.identification.algorithm"]; {
	case set && alg == "":
		// Kafka's way to turn host name checks off: the chain is still
		// verified.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("kafka: the broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: cfg.RootCAs, Intermediates: inter})
			return err
		}
	case alg != "" && alg != "https":
		bad("ssl.endpoint.identification.algorithm", "%q: want https or empty", alg)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return cfg, nil
}
