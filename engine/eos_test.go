package engine

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/engine/tiertest"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/kafka"
)

// eosTier starts a tier mad in exactly-once mode: partials in, partials
// out, in one transaction per period (PT1S, committed 300 ms after each
// second).
func eosTier(t *testing.T, addr, in, out, group, txnID string) *Daemon {
	t.Helper()
	return eosTierTxn(t, addr, in, out, group, ingest.KafkaTxn{ID: txnID, Delay: 300 * time.Millisecond})
}

// eosTierTxn is eosTier with txn's exactly-once settings.
func eosTierTxn(t *testing.T, addr, in, out, group string, txn ingest.KafkaTxn) *Daemon {
	t.Helper()
	txnID := txn.ID
	periods := []time.Duration{time.Second}
	sk, err := kafka.New(kafka.Config{Name: "out", Topic: out, Period: time.Second, TransactionalID: txnID})
	must(t, err)
	d, err := Start(DaemonConfig{
		HTTPAddr: "127.0.0.1:0",
		Pipelines: []pipeline.Config{{
			Name: "tier", Shards: 2, RingSize: 16384,
			Shard: tierStats(periods),
			Sources: []ingest.SourceConfig{&ingest.KafkaConfig{Name: "partials", Topics: []string{in}, PollTime: 20 * time.Millisecond,
				Partials: true, Periods: periods, MaxRecords: 20,
				Txn:   &txn,
				Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", group}, {"auto.offset.reset", "earliest"}}}},
			Sinks: []sinks.Sink{sk},
		}},
	})
	must(t, err)
	t.Cleanup(func() { d.Stop() })
	return d
}

// TestKafkaTierExactlyOnce: edges' partials for 40 past seconds go through
// a tier in exactly-once mode into an output topic; a second tier joins the
// group half way (a rebalance: transactions abort or commit, partitions
// move). Read committed, the output holds every input sample exactly once:
// per series and second, the counts and sums of the output's parts equal
// those of the input.
func TestKafkaTierExactlyOnce(t *testing.T) {
	const in, out, group = "partials", "out", "tier"
	c, addr := kafkaCluster(t, in, 8)
	adm := kadm.NewClient(mustClient(t, addr))
	_, err := adm.CreateTopic(context.Background(), 4, 1, nil, out)
	must(t, err)
	_ = c

	// The input: partials of 40 seconds an hour ago, from three edges.
	edges, err := tiertest.NewEdges(addr, in, 3, uint64(time.Now().UnixNano()))
	must(t, err)
	for range 40 {
		edges.Second()
	}
	_, err = edges.Close()
	must(t, err)
	want := edges.Want
	total := uint64(endOffsets(t, addr, in))

	first := eosTier(t, addr, in, out, group, "tier-1")
	src := func(d *Daemon) *ingest.KafkaSource {
		return pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])[0]
	}
	waitUntil(t, "some messages read", 30*time.Second, func() bool { return src(first).Stats().Messages > total/3 })
	second := eosTier(t, addr, in, out, group, "tier-2")
	waitUntil(t, "a transaction of the second tier", 60*time.Second, func() bool { return src(second).Stats().Epochs > 0 })
	waitUntil(t, "every input message committed", 60*time.Second, func() bool {
		if committedAll(t, addr, group, in) {
			return true
		}
		t.Logf("tier-1 %+v\ntier-2 %+v", src(first).Stats(), src(second).Stats())
		time.Sleep(2 * time.Second)
		return false
	})
	must(t, first.Stop())
	must(t, second.Stop())
	a, b := src(first).Stats(), src(second).Stats()
	t.Logf("tier-1 %+v", a)
	t.Logf("tier-2 %+v", b)

	got, _, err := tiertest.Output(addr, out, kgo.ReadCommitted())
	must(t, err)
	if !maps.Equal(got, want) {
		var diffs []string
		for k, w := range want {
			if got[k] != w {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", k, got[k], w))
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, not sent", k, g))
			}
		}
		if len(diffs) > 10 {
			diffs = diffs[:10]
		}
		t.Fatalf("%d series × seconds sent, %d in the output; differences:\n%s", len(want), len(got), strings.Join(diffs, "\n"))
	}
	t.Logf("%d series × seconds, each exactly once; %d input messages", len(want), total)
}

func mustClient(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	must(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// TestKafkaTierExactlyOnceReload: a reload that replaces the exactly-once
// source (its delay changed) keeps the transactional sink writing through
// the new source's client (the old source, finishing, unpublished it once):
// everything written before and after the reload is in the committed
// output exactly once.
func TestKafkaTierExactlyOnceReload(t *testing.T) {
	const in, out, group = "partials", "out", "tier"
	_, addr := kafkaCluster(t, in, 4)
	_, err := kadm.NewClient(mustClient(t, addr)).CreateTopic(context.Background(), 2, 1, nil, out)
	must(t, err)
	conf := func(delay string) string {
		return fmt.Sprintf(`httpHost="127.0.0.1"
httpPort=0
monitoringSinks=[]
pipelines=[{
  name="tier"
  periods=["PT1S"]
  sources=[{
    type="com.arpnetworking.metrics.common.sources.KafkaSource"
    name="partials_source"
    consumer={ topics=[%q], configs={ "bootstrap.servers"=%q, "group.id"=%q, "auto.offset.reset"="earliest" } }
    parser={ type="io.gomad.mad.parsers.PartialsParser" }
    pollTime="PT0.02S"
    bufferSize=20
    exactlyOnce={ transactionalId="tier-reload", delay=%q }
  }]
  sinks=[{ type="io.gomad.mad.sinks.KafkaSink", name="out", topic=%q, transactionalId="tier-reload" }]
}]
`, in, addr, group, delay, out)
	}
	dir := t.TempDir()
	path := writeFile(t, dir, "tier.conf", conf("PT0.3S"))
	d, err := Open(path, nil, config.LoadOptions{}, nil)
	must(t, err)
	defer d.Stop()

	edges, err := tiertest.NewEdges(addr, in, 2, uint64(time.Now().UnixNano()))
	must(t, err)
	t.Cleanup(func() { edges.Close() })
	src := func() *ingest.KafkaSource { return pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])[0] }
	for range 20 {
		edges.Second()
	}
	waitUntil(t, "the first messages committed", 60*time.Second, func() bool {
		return src().Stats().Epochs > 0 && committedAll(t, addr, group, in)
	})
	writeFile(t, dir, "tier.conf", conf("PT0.4S"))
	if r := d.Reload(); len(r.Errors) > 0 || len(r.Updated) == 0 {
		t.Fatalf("reload: %+v", r)
	}
	for range 20 {
		edges.Second()
	}
	_, err = edges.Close()
	must(t, err)
	waitUntil(t, "every message committed after the reload", 60*time.Second, func() bool {
		return src().Stats().Epochs > 0 && committedAll(t, addr, group, in)
	})
	must(t, d.Stop())
	got, _, err := tiertest.Output(addr, out, kgo.ReadCommitted())
	must(t, err)
	if !maps.Equal(got, edges.Want) {
		missing := 0
		for k, w := range edges.Want {
			if got[k] != w {
				missing++
			}
		}
		t.Fatalf("%d series × seconds written, %d in the output, %d differ", len(edges.Want), len(got), missing)
	}
}

// TestKafkaTransactionalIDClaimed: a reload that adds a pipeline whose
// exactly-once source has the transactional id of a running one (another
// group, another topic: not the same source) is refused, and what runs
// keeps running: two producers of one id would fence each other without
// end.
func TestKafkaTransactionalIDClaimed(t *testing.T) {
	_, addr := kafkaCluster(t, "partials", 2)
	pipe := func(name, group, topic string) string {
		return fmt.Sprintf(`{
  name=%q
  periods=["PT1S"]
  sources=[{
    type="com.arpnetworking.metrics.common.sources.KafkaSource"
    name="partials_source"
    consumer={ topics=[%q], configs={ "bootstrap.servers"=%q, "group.id"=%q } }
    parser={ type="io.gomad.mad.parsers.PartialsParser" }
    pollTime="PT0.02S"
    exactlyOnce={ transactionalId="tier-claimed" }
  }]
  sinks=[{ type="JsonLinesSink", name="out", path=%q }]
}`, name, topic, addr, group, filepath.Join(t.TempDir(), name+".jsonl"))
	}
	conf := func(pipes ...string) string {
		return "httpHost=\"127.0.0.1\"\nhttpPort=0\nmonitoringSinks=[]\npipelines=[" + strings.Join(pipes, ",") + "]\n"
	}
	dir := t.TempDir()
	first := pipe("tier", "tier", "partials")
	path := writeFile(t, dir, "tier.conf", conf(first))
	d, err := Open(path, nil, config.LoadOptions{}, nil)
	must(t, err)
	defer d.Stop()
	writeFile(t, dir, "tier.conf", conf(first, pipe("other", "other", "more-partials")))
	r := d.Reload()
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], `kafka transactional.id "tier-claimed" is already used by`) {
		t.Fatalf("reload: %+v", r)
	}
	if ps := d.Pipelines(); len(ps) != 1 || ps[0].Name() != "tier" {
		t.Fatalf("running after the refused reload: %d pipelines", len(ps))
	}
}

// TestKafkaTierHeldBack: partials of seconds still to come (an edge whose
// clock runs ahead) are held back until their period is due; past the
// bound on what is held, the tier stops reading (counted) and goes on once
// they are applied: nothing waits forever, everything comes out once.
func TestKafkaTierHeldBack(t *testing.T) {
	const in, out, group = "partials", "out", "tier"
	_, addr := kafkaCluster(t, in, 4)
	_, err := kadm.NewClient(mustClient(t, addr)).CreateTopic(context.Background(), 2, 1, nil, out)
	must(t, err)
	edges, err := tiertest.NewEdges(addr, in, 2, uint64(time.Now().UnixNano()))
	must(t, err)
	t.Cleanup(func() { edges.Close() })
	// Ten past seconds, then four seconds from eight seconds ahead (the
	// tier, starting, reads them before they are due).
	for range 10 {
		edges.Second()
	}
	edges.StartAt(time.Now().Add(8 * time.Second))
	for range 4 {
		edges.Second()
	}
	_, err = edges.Close()
	must(t, err)
	d := eosTierTxn(t, addr, in, out, group, ingest.KafkaTxn{ID: "tier-held", Delay: 300 * time.Millisecond, MaxHeld: 1})
	src := pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])[0]
	var held int64
	waitUntil(t, "messages held back and reading paused", 60*time.Second, func() bool {
		st := src.Stats()
		held = max(held, st.HeldBytes)
		return held > 0 && st.HeldStalls > 0
	})
	waitUntil(t, "every message committed, nothing held", 60*time.Second, func() bool {
		return committedAll(t, addr, group, in) && src.Stats().HeldBytes == 0
	})
	must(t, d.Stop())
	got, _, err := tiertest.Output(addr, out, kgo.ReadCommitted())
	must(t, err)
	if !maps.Equal(got, edges.Want) {
		t.Fatalf("%d series × seconds written, %d in the output", len(edges.Want), len(got))
	}
}

// TestKafkaTierBatchSize: an exactly-once tier whose client has a
// batch.size (exactlyOnce.configs; Java's default 16384) commits a bucket
// larger than that: its sinks, which produce through the source's client,
// split their messages within its batches. They split at their own limit
// (256 KiB), so every message over 16 KiB failed (MESSAGE_TOO_LARGE), the
// transaction aborted, and the epoch read again failed the same way, for
// ever.
func TestKafkaTierBatchSize(t *testing.T) {
	const in, out, group = "partials", "out", "tier"
	_, addr := kafkaCluster(t, in, 1)
	_, err := kadm.NewClient(mustClient(t, addr)).CreateTopic(context.Background(), 1, 1, nil, out)
	must(t, err)
	edge, err := kafka.New(kafka.Config{Name: "edge", Topic: in, Period: time.Second, MaxMessageBytes: 1024,
		Props: [][2]string{{"bootstrap.servers", addr}, {"linger.ms", "2"}}})
	must(t, err)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	pd := &sinks.PeriodicData{Period: time.Second, Start: start, Dimensions: []sample.Dim{{Key: []byte("service"), Value: []byte("shop")}}}
	for m := range 2000 {
		pd.Metrics = append(pd.Metrics, sinks.Metric{Name: fmt.Appendf(nil, "counter%d", m), Type: "counter", PopulationSize: 1,
			Statistics: []sinks.Statistic{{Stat: hist.Count, Value: 1, HasValue: true}, {Stat: hist.Sum, Value: 1, HasValue: true}}})
	}
	edge.Record(pd)
	must(t, edge.Close())
	d := eosTierTxn(t, addr, in, out, group, ingest.KafkaTxn{ID: "tier-batch-size", Delay: 300 * time.Millisecond,
		ProducerProps: [][2]string{{"batch.size", "16384"}}})
	src := pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])[0]
	var sk *kafka.Sink
	for _, s := range d.Pipelines()[0].Sinks() {
		if k, ok := s.(*kafka.Sink); ok {
			sk = k
		}
	}
	waitUntil(t, "the input read", 30*time.Second, func() bool { return src.Stats().Messages > 0 })
	waitUntil(t, "the input committed", 60*time.Second, func() bool {
		if st := sk.Stats(); st.Failed > 0 {
			t.Fatalf("the tier's sink failed %d messages (source %+v)", st.Failed, src.Stats())
		}
		return committedAll(t, addr, group, in)
	})
	if st := sk.Stats(); st.Delivered == 0 || st.Failed != 0 || src.Stats().Aborts != 0 {
		t.Fatalf("sink %+v, source %+v: want messages delivered, none failed, no abort", st, src.Stats())
	}
}
