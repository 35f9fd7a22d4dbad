package engine

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/jsonlines"
)

// madV2Vector is MAD's ProtobufV2ParserTest/testSingleRecord RecordSet:
// counter1 = 1, longCounter1 = 1, timer1 = 508 ms.
func madV2Vector(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "mad", "parsers", "ProtobufV2ParserTest", "testSingleRecord"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kafkaCluster starts franz-go's kfake (Kafka's wire protocol, in process on
// a loopback port) with a topic of partitions.
func kafkaCluster(t *testing.T, topic string, partitions int32, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// produce writes values to topic, round robin over its partitions.
func produce(t *testing.T, addr, topic string, values [][]byte, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var rs []*kgo.Record
	for _, v := range values {
		rs = append(rs, &kgo.Record{Key: []byte("ignored"), Value: v})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// committedAll reports whether group has committed the end offset of every
// partition of topic.
func committedAll(t *testing.T, addr, group, topic string, opts ...kgo.Opt) bool {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	got, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	all := true
	ends.Each(func(e kadm.ListedOffset) {
		c, ok := got.Lookup(e.Topic, e.Partition)
		if !ok || c.At != e.Offset {
			all = false
		}
	})
	return all
}

func kafkaDaemon(t *testing.T, out *lockedBuffer, periods []time.Duration, src *ingest.KafkaConfig) *Daemon {
	t.Helper()
	d, err := Start(DaemonConfig{
		HTTPAddr: "127.0.0.1:0",
		Pipelines: []pipeline.Config{{
			Name:   "kafka",
			Shards: 2,
			Shard: shard.Config{Periods: periods,
				TimerStatistics: hist.SetOf(hist.Count, hist.Sum, hist.Min, hist.Max)},
			Sources: []ingest.SourceConfig{src},
			Sinks:   []sinks.Sink{jsonlines.NewWriter("json", out)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestKafkaSourceV2 reads MAD's V2 vector from Kafka (two partitions, with a
// poison message among them) through MAD's KafkaSource: every sample is
// aggregated, the poison message is counted and skipped, and every offset
// is committed once its bucket was emitted, not before.
func TestKafkaSourceV2(t *testing.T) {
	const topic, group, n = "metrics", "mad", 40
	_, addr := kafkaCluster(t, topic, 2)
	vec := madV2Vector(t)
	values := [][]byte{[]byte("\x0a\xff\xff poison")}
	for range n {
		values = append(values, vec)
	}
	produce(t, addr, topic, values)

	var out lockedBuffer
	src := &ingest.KafkaConfig{Name: "kafka_source", Topics: []string{topic}, PollTime: 50 * time.Millisecond,
		Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", group}, {"auto.offset.reset", "earliest"},
			{"key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer"},
			{"value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer"}}}
	d := kafkaDaemon(t, &out, []time.Duration{time.Second}, src)
	defer d.Stop()
	k := pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])[0]
	waitUntil(t, "every message", 30*time.Second, func() bool { return k.Stats().Messages == n+1 })
	// Committed only once emitted: everything is committed in the end,
	// while the daemon runs (PT1S buckets are emitted a second or two
	// after they end).
	waitUntil(t, "the commits", 30*time.Second, func() bool { return k.Stats().Pending == 0 && committedAll(t, addr, group, topic) })
	st := k.Stats()
	if st.Refused != 1 || st.Records != n || st.Samples != 3*n || st.CommitErrors != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, l := range parseLines(t, out.String()) {
		counts[l.Metric] += l.PopulationSize
	}
	if counts["counter1"] != n || counts["longCounter1"] != n || counts["timer1"] != n {
		t.Errorf("populations %v; want %d each", counts, n)
	}
}

// TestKafkaSourceCommitsAfterEmission: with buckets that do not close while
// the test runs, the source reads everything and commits nothing; stopped,
// the daemon emits the buckets and only then commits.
func TestKafkaSourceCommitsAfterEmission(t *testing.T) {
	const topic, group, n = "metrics", "mad", 10
	_, addr := kafkaCluster(t, topic, 3)
	vec := madV2Vector(t)
	values := make([][]byte, n)
	for i := range values {
		values[i] = vec
	}
	produce(t, addr, topic, values)
	var out lockedBuffer
	src := &ingest.KafkaConfig{Name: "kafka_source", Topics: []string{topic}, PollTime: 50 * time.Millisecond,
		Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", group}, {"auto.offset.reset", "earliest"}}}
	d := kafkaDaemon(t, &out, []time.Duration{decade}, src)
	k := pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])[0]
	waitUntil(t, "every message", 30*time.Second, func() bool { return k.Stats().Messages == n })
	// The samples are in buckets that expire in years (their start is
	// the vector's time, but a bucket created now expires a timeout after
	// now, and a decade's timeout is 10 minutes).
	if st := k.Stats(); st.Commits != 0 || st.Pending == 0 || committedAll(t, addr, group, topic) {
		t.Fatalf("committed before emission: %+v", st)
	}
	if out.String() != "" {
		t.Fatalf("emitted before stop: %s", out.String())
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if out.String() == "" {
		t.Fatal("nothing emitted at stop")
	}
	if st := k.Stats(); st.Pending != 0 || st.Commits == 0 || !committedAll(t, addr, group, topic) {
		t.Fatalf("not committed after emission: %+v", st)
	}
}

// TestKafkaSourceSASLSSL: MAD's KafkaSource over SASL_SSL (SCRAM-SHA-512,
// the broker's certificate checked against a PEM trust store, host name
// included) with Kafka's own property names.
func TestKafkaSourceSASLSSL(t *testing.T) {
	const topic, group, n = "metrics", "mad", 5
	dir := t.TempDir()
	certPath, keyPath, pool := writeCerts(t, dir, "pkcs8")
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	must(t, err)
	_, addr := kafkaCluster(t, topic, 1, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "alice", "pa\"ss"))
	auth := scram.Auth{User: "alice", Pass: "pa\"ss"}.AsSha512Mechanism()
	vec := madV2Vector(t)
	values := make([][]byte, n)
	for i := range values {
		values[i] = vec
	}
	produce(t, addr, topic, values, kgo.SASL(auth), kgo.DialTLSConfig(&tls.Config{RootCAs: pool}))
	var out lockedBuffer
	src := &ingest.KafkaConfig{Name: "kafka_source", Topics: []string{topic}, PollTime: 50 * time.Millisecond,
		Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", group}, {"auto.offset.reset", "earliest"},
			{"security.protocol", "SASL_SSL"}, {"sasl.mechanism", "SCRAM-SHA-512"},
			{"sasl.jaas.config", `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="pa\"ss";`},
			{"ssl.truststore.type", "PEM"}, {"ssl.truststore.location", certPath}}}
	d := kafkaDaemon(t, &out, []time.Duration{time.Second}, src)
	defer d.Stop()
	k := pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])[0]
	waitUntil(t, "every message", 30*time.Second, func() bool { return k.Stats().Messages == n })
	waitUntil(t, "the commits", 30*time.Second, func() bool {
		return k.Stats().Pending == 0 && committedAll(t, addr, group, topic, kgo.SASL(auth), kgo.DialTLSConfig(&tls.Config{RootCAs: pool}))
	})
	if st := k.Stats(); st.Samples != 3*n || st.PollErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestKafkaSourceRebalance: two daemons in one consumer group share a topic
// of 4 partitions; one stops half way (it emits and commits what it read)
// and the other takes its partitions over. Every message is aggregated
// exactly once over the two.
func TestKafkaSourceRebalance(t *testing.T) {
	const topic, group, n = "metrics", "mad", 200
	cluster, addr := kafkaCluster(t, topic, 4)
	vec := madV2Vector(t)
	batch := func() [][]byte {
		vs := make([][]byte, n/2)
		for i := range vs {
			vs[i] = vec
		}
		return vs
	}
	cfg := func() *ingest.KafkaConfig {
		return &ingest.KafkaConfig{Name: "kafka_source", Topics: []string{topic}, PollTime: 50 * time.Millisecond,
			Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", group}, {"auto.offset.reset", "earliest"},
				{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "200"}}}
	}
	var outA, outB lockedBuffer
	a := kafkaDaemon(t, &outA, []time.Duration{time.Second}, cfg())
	b := kafkaDaemon(t, &outB, []time.Duration{time.Second}, cfg())
	defer b.Stop()
	ka := pipeline.SourcesOf[*ingest.KafkaSource](a.Pipelines()[0])[0]
	kb := pipeline.SourcesOf[*ingest.KafkaSource](b.Pipelines()[0])[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cluster.WaitGroupStable(ctx, group, 2); err != nil {
		t.Fatal(err)
	}
	produce(t, addr, topic, batch())
	waitUntil(t, "the first half", 30*time.Second, func() bool { return ka.Stats().Messages+kb.Stats().Messages == n/2 })
	if ka.Stats().Messages == 0 || kb.Stats().Messages == 0 {
		t.Fatalf("first half: %d read by a, %d by b; want both", ka.Stats().Messages, kb.Stats().Messages)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	produce(t, addr, topic, batch())
	waitUntil(t, "the second half", 30*time.Second, func() bool { return ka.Stats().Messages+kb.Stats().Messages >= n })
	waitUntil(t, "the commits", 30*time.Second, func() bool { return kb.Stats().Pending == 0 && committedAll(t, addr, group, topic) })
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, out := range []*lockedBuffer{&outA, &outB} {
		for _, l := range parseLines(t, out.String()) {
			if l.Metric == "counter1" {
				total += l.PopulationSize
			}
		}
	}
	if total != n || ka.Stats().Messages+kb.Stats().Messages != n {
		t.Errorf("counter1's population %d, messages read %d + %d; want %d", total, ka.Stats().Messages, kb.Stats().Messages, n)
	}
}

// TestKafkaSourceCommitsABacklog: polls of one message each, 60 of them,
// are all committed a bucket timeout or so after they were read, not one
// timeout after another (the commit wait was taken poll after poll: 60 s
// here at least).
func TestKafkaSourceCommitsABacklog(t *testing.T) {
	const topic, group, n = "metrics", "mad", 60
	_, addr := kafkaCluster(t, topic, 1)
	vec := madV2Vector(t)
	var values [][]byte
	for range n {
		values = append(values, vec)
	}
	produce(t, addr, topic, values)
	var out lockedBuffer
	src := &ingest.KafkaConfig{Name: "kafka_source", Topics: []string{topic}, PollTime: 20 * time.Millisecond, MaxRecords: 1,
		Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", group}, {"auto.offset.reset", "earliest"}}}
	d := kafkaDaemon(t, &out, []time.Duration{time.Second}, src)
	defer d.Stop()
	k := pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])[0]
	waitUntil(t, "every message", 30*time.Second, func() bool { return k.Stats().Messages == n })
	if p := k.Stats().Polls; p < n {
		t.Fatalf("%d polls for %d messages of one record each", p, n)
	}
	waitUntil(t, "the commits", 20*time.Second, func() bool { return k.Stats().Pending == 0 && committedAll(t, addr, group, topic) })
}
