package kafkaprops

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientOf builds a client from what props map to, to read the options
// back (kgo.Client.OptValue).
func clientOf(t *testing.T, props [][2]string) (*kgo.Client, Settings) {
	t.Helper()
	k := Consumer(props)
	if len(k.Problems) > 0 {
		t.Fatalf("problems: %v", k.Problems)
	}
	cl, err := kgo.NewClient(append(k.Opts, kgo.ConsumeTopics("t"), kgo.ConsumerGroup(k.Group))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, k
}

// TestKafkaPropertiesMapped: each Java consumer property mad honours
// reaches franz-go's configuration.
func TestKafkaPropertiesMapped(t *testing.T) {
	cl, k := clientOf(t, [][2]string{
		{"bootstrap.servers", "127.0.0.1:1, 127.0.0.1:2"},
		{"group.id", "g1"},
		{"client.id", "c1"},
		{"auto.offset.reset", "earliest"},
		{"enable.auto.commit", "true"},
		{"key.deserializer", ByteArrayDeserializer},
		{"value.deserializer", ByteArrayDeserializer},
		{"max.poll.records", "77"},
		{"fetch.min.bytes", "11"},
		{"fetch.max.bytes", "2000000"},
		{"max.partition.fetch.bytes", "300000"},
		{"fetch.max.wait.ms", "250"},
		{"session.timeout.ms", "12000"},
		{"heartbeat.interval.ms", "900"},
		{"max.poll.interval.ms", "70000"},
		{"isolation.level", "read_committed"},
		{"partition.assignment.strategy", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"},
	})
	if k.Group != "g1" || k.MaxPollRecords != 77 {
		t.Errorf("group %q, max.poll.records %d", k.Group, k.MaxPollRecords)
	}
	for _, c := range []struct {
		opt  any
		want any
	}{
		{kgo.SeedBrokers, []string{"127.0.0.1:1", "127.0.0.1:2"}},
		{kgo.ClientID, "c1"},
		{kgo.FetchMinBytes, int32(11)},
		{kgo.FetchMaxBytes, int32(2000000)},
		{kgo.FetchMaxPartitionBytes, int32(300000)},
		{kgo.FetchMaxWait, 250 * time.Millisecond},
		{kgo.SessionTimeout, 12 * time.Second},
		{kgo.HeartbeatInterval, 900 * time.Millisecond},
		{kgo.RebalanceTimeout, 70 * time.Second},
		{kgo.FetchIsolationLevel, int8(1)},
		{kgo.ConsumerGroup, "g1"},
	} {
		if got := cl.OptValue(c.opt); !equalOpt(got, c.want) {
			t.Errorf("%T: %v (%T); want %v", c.opt, got, got, c.want)
		}
	}
	if b, ok := cl.OptValue(kgo.Balancers).([]kgo.GroupBalancer); !ok || len(b) != 1 || b[0].ProtocolName() != "cooperative-sticky" {
		t.Errorf("balancers %v", cl.OptValue(kgo.Balancers))
	}
	if o, ok := cl.OptValue(kgo.ConsumeResetOffset).(kgo.Offset); !ok || o.String() != kgo.NewOffset().AtStart().String() {
		t.Errorf("reset offset %v", cl.OptValue(kgo.ConsumeResetOffset))
	}
	for _, c := range []struct{ v, want string }{{"latest", kgo.NewOffset().AtEnd().String()}, {"none", kgo.NoResetOffset().String()}} {
		cl, _ := clientOf(t, [][2]string{{"bootstrap.servers", "127.0.0.1:1"}, {"group.id", "g"}, {"auto.offset.reset", c.v}})
		if o := cl.OptValue(kgo.ConsumeResetOffset).(kgo.Offset); o.String() != c.want {
			t.Errorf("auto.offset.reset=%s: %v", c.v, o)
		}
	}
}

func equalOpt(got, want any) bool {
	switch w := want.(type) {
	case []string:
		g, ok := got.([]string)
		return ok && strings.Join(g, ",") == strings.Join(w, ",")
	case int32:
		switch g := got.(type) {
		case int32:
			return g == w
		case int64:
			return g == int64(w)
		}
		return false
	}
	return got == want
}

// TestKafkaPropertyProblems: what mad cannot honour is a problem naming the
// property.
func TestKafkaPropertyProblems(t *testing.T) {
	base := [][2]string{{"bootstrap.servers", "127.0.0.1:1"}, {"group.id", "g"}}
	for _, c := range []struct {
		props [][2]string
		want  string
	}{
		{[][2]string{{"group.id", "g"}}, "bootstrap.servers: is required"},
		{[][2]string{{"bootstrap.servers", "127.0.0.1:1"}}, "group.id: is required"},
		{append(base, [2]string{"value.deserializer", "org.apache.kafka.common.serialization.StringDeserializer"}), "value.deserializer"},
		{append(base, [2]string{"auto.offset.reset", "smallest"}), "auto.offset.reset"},
		{append(base, [2]string{"fetch.max.wait.ms", "-1"}), "fetch.max.wait.ms"},
		{append(base, [2]string{"compression.type", "zstd"}), "compression.type: not supported by mad"},
		{append(base, [2]string{"isolation.level", "serializable"}), "isolation.level"},
		{append(base, [2]string{"partition.assignment.strategy", "com.example.MyAssignor"}), "partition.assignment.strategy"},
		{append(base, [2]string{"security.protocol", "SSL"}, [2]string{"ssl.truststore.location", "/x.jks"}), "ssl.truststore.type: is Kafka's JKS by default"},
		{append(base, [2]string{"security.protocol", "SSL"}, [2]string{"ssl.keystore.password", "secret"}), "ssl.keystore.password: encrypted"},
		{append(base, [2]string{"ssl.truststore.type", "PEM"}), "set without security.protocol"},
		{append(base, [2]string{"security.protocol", "SASL_PLAINTEXT"}, [2]string{"sasl.mechanism", "GSSAPI"}), "sasl.mechanism: \"GSSAPI\""},
		{append(base, [2]string{"security.protocol", "SASL_PLAINTEXT"}, [2]string{"sasl.mechanism", "PLAIN"}), "sasl.jaas.config: no username"},
		{append(base, [2]string{"sasl.mechanism", "PLAIN"}), "security.protocol"},
		{append(base, [2]string{"security.protocol", "QUIC"}), "security.protocol"},
	} {
		ps := Problems(c.props)
		if len(ps) == 0 || !strings.Contains(strings.Join(ps, "; "), c.want) {
			t.Errorf("%v: problems %q; want one with %q", c.props, ps, c.want)
		}
	}
	if ps := Problems(base); len(ps) > 0 {
		t.Errorf("base: %v", ps)
	}
}

// TestKafkaSASLAndTLSProperties: SASL's JAAS line and PEM stores become
// franz-go's mechanism and TLS configuration.
func TestKafkaSASLAndTLSProperties(t *testing.T) {
	for _, c := range []struct{ mech, jaas, name string }{
		{"PLAIN", `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3\"cr;et";`, "PLAIN"},
		{"SCRAM-SHA-256", `org.apache.kafka.common.security.scram.ScramLoginModule required username=bob password="x";`, "SCRAM-SHA-256"},
		{"SCRAM-SHA-512", `org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="x";`, "SCRAM-SHA-512"},
	} {
		m, err := (&mapping{role: "consumer", mechanism: c.mech, jaas: c.jaas}).sasl()
		if err != nil || m.Name() != c.name {
			t.Errorf("%s: %v, %v", c.mech, m, err)
		}
	}
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	ca := filepath.Join(dir, "ca.pem")
	ks := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(ca, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ks, append(append([]byte{}, certPEM...), keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, ps := (&mapping{role: "consumer", tls: map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": ca,
		"ssl.keystore.type": "PEM", "ssl.keystore.location": ks, "ssl.endpoint.identification.algorithm": ""}}).tlsConfig()
	if len(ps) > 0 || cfg == nil || cfg.RootCAs == nil || len(cfg.Certificates) != 1 || !cfg.InsecureSkipVerify || cfg.VerifyConnection == nil {
		t.Fatalf("tls %+v, %v", cfg, ps)
	}
}

// selfSigned returns a certificate for 127.0.0.1 and its key, in PEM.
func selfSigned(t *testing.T) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kafka"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// TestKafkaProducerPropertiesMapped: each Java producer property mad
// honours reaches franz-go's configuration, and the defaults mad sets
// (lz4, Java's 32 MiB buffer, acks=all with idempotence) hold.
func TestKafkaProducerPropertiesMapped(t *testing.T) {
	client := func(props [][2]string) *kgo.Client {
		t.Helper()
		k := Producer(props)
		if len(k.Problems) > 0 {
			t.Fatalf("problems: %v", k.Problems)
		}
		cl, err := kgo.NewClient(k.Opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	cl := client([][2]string{
		{"bootstrap.servers", "127.0.0.1:1"}, {"client.id", "p1"},
		{"key.serializer", ByteArraySerializer}, {"value.serializer", ByteArraySerializer},
		{"linger.ms", "25"}, {"batch.size", "65536"}, {"buffer.memory", "1000000"}, {"max.request.size", "2000000"},
		{"retries", "7"}, {"delivery.timeout.ms", "90000"}, {"request.timeout.ms", "15000"},
		{"max.in.flight.requests.per.connection", "3"}, {"compression.type", "zstd"},
	})
	for _, c := range []struct {
		opt  any
		want any
	}{
		{kgo.ClientID, "p1"},
		{kgo.ProducerLinger, 25 * time.Millisecond},
		{kgo.ProducerBatchMaxBytes, int32(65536)},
		{kgo.MaxBufferedBytes, 1000000},
		{kgo.BrokerMaxWriteBytes, int32(2000000)},
		{kgo.RecordRetries, int64(7)},
		{kgo.RecordDeliveryTimeout, 90 * time.Second},
		{kgo.ProduceRequestTimeout, 15 * time.Second},
		{kgo.RequiredAcks, kgo.AllISRAcks()},
		{kgo.DisableIdempotentWrite, false},
	} {
		if got := cl.OptValue(c.opt); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%T: %v (%T); want %v", c.opt, got, got, c.want)
		}
	}
	if cs, ok := cl.OptValue(kgo.ProducerBatchCompression).([]kgo.CompressionCodec); !ok || len(cs) != 1 || fmt.Sprint(cs[0]) != fmt.Sprint(kgo.ZstdCompression()) {
		t.Errorf("compression %v", cl.OptValue(kgo.ProducerBatchCompression))
	}
	if k := Producer([][2]string{{"bootstrap.servers", "x:1"}, {"batch.size", "65536"}}); k.BatchBytes != 65536 {
		t.Errorf("BatchBytes %d", k.BatchBytes)
	}

	def := client([][2]string{{"bootstrap.servers", "127.0.0.1:1"}})
	if cs, _ := def.OptValue(kgo.ProducerBatchCompression).([]kgo.CompressionCodec); len(cs) != 1 || fmt.Sprint(cs[0]) != fmt.Sprint(kgo.Lz4Compression()) {
		t.Errorf("default compression %v", cs)
	}
	if b := def.OptValue(kgo.MaxBufferedBytes); fmt.Sprint(b) != fmt.Sprint(32<<20) {
		t.Errorf("default buffer %v", b)
	}
	// acks=1 without asking for idempotence turns it off, as Java does;
	// in-flight requests then apply.
	one := client([][2]string{{"bootstrap.servers", "127.0.0.1:1"}, {"acks", "1"}, {"max.in.flight.requests.per.connection", "3"}})
	if n := one.OptValue(kgo.MaxProduceRequestsInflightPerBroker); fmt.Sprint(n) != "3" {
		t.Errorf("in flight %v", n)
	}
	if fmt.Sprint(one.OptValue(kgo.RequiredAcks)) != fmt.Sprint(kgo.LeaderAck()) || one.OptValue(kgo.DisableIdempotentWrite) != true {
		t.Errorf("acks=1: %v, idempotence disabled %v", one.OptValue(kgo.RequiredAcks), one.OptValue(kgo.DisableIdempotentWrite))
	}
}

// TestKafkaProducerPropertyProblems: what the sink cannot honour is named.
func TestKafkaProducerPropertyProblems(t *testing.T) {
	base := [][2]string{{"bootstrap.servers", "127.0.0.1:1"}}
	for _, c := range []struct {
		props [][2]string
		want  string
	}{
		{nil, "producer property bootstrap.servers: is required"},
		{append(base, [2]string{"value.serializer", "org.apache.kafka.common.serialization.StringSerializer"}), "value.serializer"},
		{append(base, [2]string{"acks", "2"}), "producer property acks"},
		{append(base, [2]string{"acks", "0"}, [2]string{"enable.idempotence", "true"}), "idempotent producer needs acks=all"},
		{append(base, [2]string{"compression.type", "brotli"}), "compression.type"},
		{append(base, [2]string{"batch.size", "10"}), "batch.size"},
		{append(base, [2]string{"transactional.id", "t"}), "transactional.id"},
		{append(base, [2]string{"max.in.flight.requests.per.connection", "6"}), "idempotent producer allows at most 5"},
		{append(base, [2]string{"partitioner.class", "x.Y"}), "partitioner.class"},
		{append(base, [2]string{"group.id", "g"}), "producer property group.id: not supported by mad"},
		{append(base, [2]string{"security.protocol", "SASL_SSL"}, [2]string{"sasl.mechanism", "PLAIN"}), "producer property sasl.jaas.config: no username"},
	} {
		ps := ProducerProblems(c.props)
		if len(ps) == 0 || !strings.Contains(strings.Join(ps, "; "), c.want) {
			t.Errorf("%v: problems %q; want one with %q", c.props, ps, c.want)
		}
	}
}
