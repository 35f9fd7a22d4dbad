// Package kafkaprops maps Kafka's Java client properties (the `configs` of
// MAD's KafkaSource, and of mad's KafkaSink) to franz-go options. A
// property mad cannot honour is a problem named by the mapping (so
// `-check-config` and start-up list it), never silently ignored.
package kafkaprops

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

// Settings is what a client's properties become.
type Settings struct {
	Opts []kgo.Opt
	// Group is the consumer's group.id.
	Group string
	// MaxPollRecords is the consumer's max.poll.records (0: unset).
	MaxPollRecords int
	// BatchBytes is the producer's batch.size (0: unset): the largest
	// batch, hence message, it sends to a partition.
	BatchBytes int
	// Problems name each property mad cannot honour.
	Problems []string
}

// ByteArrayDeserializer is the only deserializer mad's parsers fit.
const ByteArrayDeserializer = "org.apache.kafka.common.serialization.ByteArrayDeserializer"

// ByteArraySerializer is the only serializer mad's KafkaSink fits.
const ByteArraySerializer = "org.apache.kafka.common.serialization.ByteArraySerializer"

// ignored are properties of either client that change nothing mad does:
// franz-go tunes them itself.
var ignored = map[string]bool{
	"client.dns.lookup":        true,
	"receive.buffer.bytes":     true,
	"send.buffer.bytes":        true,
	"reconnect.backoff.ms":     true,
	"reconnect.backoff.max.ms": true,
	"retry.backoff.ms":         true,
	"retry.backoff.max.ms":     true,
	"metrics.sample.window.ms": true,
	"metrics.num.samples":      true,
	"metrics.recording.level":  true,
	"metric.reporters":         true,
	"interceptor.classes":      true,
	"connections.max.idle.ms":  true,
	"metadata.max.age.ms":      true,
}

// consumerIgnored are the consumer's: mad commits an offset once what it
// carried has been emitted, whatever auto-commit says (README).
var consumerIgnored = map[string]bool{
	"enable.auto.commit":       true,
	"auto.commit.interval.ms":  true,
	"allow.auto.create.topics": true,
	"check.crcs":               true,
	"exclude.internal.topics":  true,
	"default.api.timeout.ms":   true,
	"request.timeout.ms":       true,
}

// Problems returns what is wrong with a KafkaSource's consumer properties:
// each one mad cannot honour, by name.
func Problems(props [][2]string) []string { return Consumer(props).Problems }

// ProducerProblems is Problems for a KafkaSink's producer properties.
func ProducerProblems(props [][2]string) []string { return Producer(props).Problems }

// mapping collects the options and problems of one client's properties.
type mapping struct {
	role string // "consumer" or "producer"
	get  map[string]string
	k    Settings
	// The security properties, mapped once all are read.
	security, mechanism, jaas string
	tls                       map[string]string
}

func newMapping(role string, props [][2]string) *mapping {
	m := &mapping{role: role, get: map[string]string{}, tls: map[string]string{}}
	for _, p := range props {
		m.get[p[0]] = p[1]
	}
	return m
}

func (m *mapping) bad(name, format string, args ...any) {
	m.k.Problems = append(m.k.Problems, fmt.Sprintf("%s property %s: %s", m.role, name, fmt.Sprintf(format, args...)))
}

func (m *mapping) intProp(name string, min, max int64) (int64, bool) {
	v, ok := m.get[name]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < min || n > max {
		m.bad(name, "%q is not an integer in [%d, %d]", v, min, max)
		return 0, false
	}
	return n, true
}

func (m *mapping) ms(name string, set func(time.Duration) kgo.Opt) {
	if n, ok := m.intProp(name, 1, 1<<31-1); ok {
		m.k.Opts = append(m.k.Opts, set(time.Duration(n)*time.Millisecond))
	}
}

func (m *mapping) bytes32(name string, set func(int32) kgo.Opt) {
	if n, ok := m.intProp(name, 1, 1<<31-1); ok {
		m.k.Opts = append(m.k.Opts, set(int32(n)))
	}
}

// common maps a property both clients share; it reports whether it knew it.
func (m *mapping) common(name, v string) bool {
	switch {
	case name == "bootstrap.servers":
		var seeds []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				seeds = append(seeds, s)
			}
		}
		if len(seeds) == 0 {
			m.bad(name, "no broker")
		}
		m.k.Opts = append(m.k.Opts, kgo.SeedBrokers(seeds...))
	case name == "client.id":
		m.k.Opts = append(m.k.Opts, kgo.ClientID(v))
	case name == "security.protocol":
		m.security = v
	case name == "sasl.mechanism":
		m.mechanism = v
	case name == "sasl.jaas.config":
		m.jaas = v
	case strings.HasPrefix(name, "ssl."):
		m.tls[name] = v
	case ignored[name]:
	default:
		return false
	}
	return true
}

// finish checks the required properties and maps the security ones.
func (m *mapping) finish() Settings {
	if _, ok := m.get["bootstrap.servers"]; !ok {
		m.bad("bootstrap.servers", "is required")
	}
	switch m.security {
	case "", "PLAINTEXT":
		if m.mechanism != "" || m.jaas != "" {
			m.bad("security.protocol", "%q with SASL properties: want SASL_PLAINTEXT or SASL_SSL", m.security)
		}
	case "SSL", "SASL_SSL", "SASL_PLAINTEXT":
	default:
		m.bad("security.protocol", "%q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", m.security)
	}
	if m.security == "SSL" || m.security == "SASL_SSL" {
		cfg, errs := m.tlsConfig()
		m.k.Problems = append(m.k.Problems, errs...)
		if cfg != nil {
			m.k.Opts = append(m.k.Opts, kgo.DialTLSConfig(cfg))
		}
	} else if len(m.tls) > 0 {
		names := make([]string, 0, len(m.tls))
		for name := range m.tls {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			m.bad(name, "set without security.protocol SSL or SASL_SSL")
		}
	}
	if m.security == "SASL_PLAINTEXT" || m.security == "SASL_SSL" {
		if mech, err := m.sasl(); err != nil {
			m.k.Problems = append(m.k.Problems, err.Error())
		} else {
			m.k.Opts = append(m.k.Opts, kgo.SASL(mech))
		}
	}
	return m.k
}

// Consumer maps Java consumer properties to franz-go options.
func Consumer(props [][2]string) Settings {
	m := newMapping("consumer", props)
	for _, p := range props {
		name, v := p[0], p[1]
		if m.common(name, v) {
			continue
		}
		switch name {
		case "group.id":
			m.k.Group = v
		case "auto.offset.reset":
			switch v {
			case "earliest":
				m.k.Opts = append(m.k.Opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			case "latest":
				m.k.Opts = append(m.k.Opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
			case "none":
				m.k.Opts = append(m.k.Opts, kgo.ConsumeResetOffset(kgo.NoResetOffset()))
			default:
				m.bad(name, "%q: want earliest, latest or none", v)
			}
		case "key.deserializer", "value.deserializer":
			if v != ByteArrayDeserializer {
				m.bad(name, "%q: mad's parsers read bytes (%s)", v, ByteArrayDeserializer)
			}
		case "max.poll.records":
			if n, ok := m.intProp(name, 1, 1<<24); ok {
				m.k.MaxPollRecords = int(n)
			}
		case "fetch.min.bytes":
			m.bytes32(name, func(n int32) kgo.Opt { return kgo.FetchMinBytes(n) })
		case "fetch.max.bytes":
			m.bytes32(name, func(n int32) kgo.Opt { return kgo.FetchMaxBytes(n) })
		case "max.partition.fetch.bytes":
			m.bytes32(name, func(n int32) kgo.Opt { return kgo.FetchMaxPartitionBytes(n) })
		case "fetch.max.wait.ms":
			m.ms(name, func(d time.Duration) kgo.Opt { return kgo.FetchMaxWait(d) })
		case "session.timeout.ms":
			m.ms(name, func(d time.Duration) kgo.Opt { return kgo.SessionTimeout(d) })
		case "heartbeat.interval.ms":
			m.ms(name, func(d time.Duration) kgo.Opt { return kgo.HeartbeatInterval(d) })
		case "max.poll.interval.ms":
			// Java's bound on the time between polls is the group's
			// rebalance timeout.
			m.ms(name, func(d time.Duration) kgo.Opt { return kgo.RebalanceTimeout(d) })
		case "isolation.level":
			switch v {
			case "read_committed":
				m.k.Opts = append(m.k.Opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			case "read_uncommitted":
				m.k.Opts = append(m.k.Opts, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
			default:
				m.bad(name, "%q: want read_committed or read_uncommitted", v)
			}
		case "partition.assignment.strategy":
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
					m.bad(name, "%q: mad has RangeAssignor, RoundRobinAssignor, StickyAssignor and CooperativeStickyAssignor", c)
				}
			}
			if len(bs) > 0 {
				m.k.Opts = append(m.k.Opts, kgo.Balancers(bs...))
			}
		default:
			if !consumerIgnored[name] {
				m.bad(name, "not supported by mad")
			}
		}
	}
	if m.k.Group == "" {
		// MAD's consumer subscribes, which Kafka refuses without a group.
		m.bad("group.id", "is required (the source subscribes as a consumer group)")
	}
	return m.finish()
}

// Producer maps Java producer properties to franz-go options. franz-go's
// defaults stand where a property is not set, except that batches are
// compressed with lz4 unless compression.type says otherwise, and the
// buffer is bounded to Java's 32 MiB unless buffer.memory says otherwise.
func Producer(props [][2]string) Settings {
	m := newMapping("producer", props)
	compression := kgo.Lz4Compression()
	idempotence, idemSet := true, false
	acks := "all"
	inflight := 0
	for _, p := range props {
		name, v := p[0], p[1]
		if m.common(name, v) {
			continue
		}
		switch name {
		case "key.serializer", "value.serializer":
			if v != ByteArraySerializer {
				m.bad(name, "%q: mad's KafkaSink writes bytes (%s)", v, ByteArraySerializer)
			}
		case "acks":
			switch v {
			case "all", "-1", "1", "0":
				acks = v
			default:
				m.bad(name, "%q: want all, -1, 1 or 0", v)
			}
		case "enable.idempotence":
			switch v {
			case "true", "false":
				idempotence, idemSet = v == "true", true
			default:
				m.bad(name, "%q: want true or false", v)
			}
		case "compression.type":
			switch v {
			case "none":
				compression = kgo.NoCompression()
			case "gzip":
				compression = kgo.GzipCompression()
			case "snappy":
				compression = kgo.SnappyCompression()
			case "lz4":
				compression = kgo.Lz4Compression()
			case "zstd":
				compression = kgo.ZstdCompression()
			default:
				m.bad(name, "%q: want none, gzip, snappy, lz4 or zstd", v)
			}
		case "linger.ms":
			if n, ok := m.intProp(name, 0, 1<<31-1); ok {
				m.k.Opts = append(m.k.Opts, kgo.ProducerLinger(time.Duration(n)*time.Millisecond))
			}
		case "batch.size":
			if n, ok := m.intProp(name, 4096, 1<<30); ok {
				m.k.BatchBytes = int(n)
				m.k.Opts = append(m.k.Opts, kgo.ProducerBatchMaxBytes(int32(n)))
			}
		case "buffer.memory":
			if n, ok := m.intProp(name, 1, 1<<40); ok {
				m.k.Opts = append(m.k.Opts, kgo.MaxBufferedBytes(int(n)))
			}
		case "max.request.size":
			m.bytes32(name, func(n int32) kgo.Opt { return kgo.BrokerMaxWriteBytes(n) })
		case "retries":
			if n, ok := m.intProp(name, 0, 1<<31-1); ok {
				m.k.Opts = append(m.k.Opts, kgo.RecordRetries(int(n)))
			}
		case "delivery.timeout.ms":
			m.ms(name, func(d time.Duration) kgo.Opt { return kgo.RecordDeliveryTimeout(d) })
		case "request.timeout.ms":
			m.ms(name, func(d time.Duration) kgo.Opt { return kgo.ProduceRequestTimeout(d) })
		case "max.in.flight.requests.per.connection":
			if n, ok := m.intProp(name, 1, 1<<20); ok {
				inflight = int(n)
			}
		case "transactional.id":
			m.bad(name, "transactions are the tier's: set exactlyOnce.transactionalId on its KafkaSource and transactionalId on the KafkaSink")
		case "partitioner.class":
			m.bad(name, "mad's KafkaSink partitions by series (a hash of its name and dimensions)")
		default:
			m.bad(name, "not supported by mad")
		}
	}
	switch {
	case acks == "all" || acks == "-1":
		m.k.Opts = append(m.k.Opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case idempotence && idemSet:
		m.bad("acks", "%q with enable.idempotence=true: the idempotent producer needs acks=all", acks)
	default:
		// As Java does when idempotence was not asked for explicitly.
		idempotence = false
		if acks == "1" {
			m.k.Opts = append(m.k.Opts, kgo.RequiredAcks(kgo.LeaderAck()))
		} else {
			m.k.Opts = append(m.k.Opts, kgo.RequiredAcks(kgo.NoAck()))
		}
	}
	if !idempotence {
		m.k.Opts = append(m.k.Opts, kgo.DisableIdempotentWrite())
		if inflight > 0 {
			m.k.Opts = append(m.k.Opts, kgo.MaxProduceRequestsInflightPerBroker(inflight))
		}
	} else if inflight > 5 {
		// Java's bound; franz-go keeps idempotent requests in order itself.
		m.bad("max.in.flight.requests.per.connection", "%d: the idempotent producer allows at most 5", inflight)
	}
	if _, ok := m.get["buffer.memory"]; !ok {
		// Java's default bound (franz-go bounds records, not bytes).
		m.k.Opts = append(m.k.Opts, kgo.MaxBufferedBytes(32<<20))
	}
	m.k.Opts = append(m.k.Opts, kgo.ProducerBatchCompression(compression))
	return m.finish()
}

// jaasOption reads key="value" (or key=value) from a JAAS login line.
var jaasOption = regexp.MustCompile(`(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))`)

// sasl maps sasl.mechanism and sasl.jaas.config (PlainLoginModule or
// ScramLoginModule with username and password) to a mechanism.
func (m *mapping) sasl() (sasl.Mechanism, error) {
	mechanism, jaas := m.mechanism, m.jaas
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
		return nil, fmt.Errorf("%s property sasl.jaas.config: no username=\"…\" password=\"…\" for %s", m.role, mechanism)
	}
	switch mechanism {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("%s property sasl.mechanism: %q: mad has PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512", m.role, mechanism)
}

// tlsConfig builds the TLS configuration of security.protocol SSL or SASL_SSL
// from Kafka's ssl.* properties, with PEM stores (Kafka's
// ssl.truststore.type=PEM and ssl.keystore.type=PEM; Java's JKS and PKCS12
// stores are refused by name).
func (m *mapping) tlsConfig() (*tls.Config, []string) {
	p := m.tls
	var problems []string
	bad := func(name, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s property %s: %s", m.role, name, fmt.Sprintf(format, args...)))
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
