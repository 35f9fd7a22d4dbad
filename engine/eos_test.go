package engine

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/ingest"
	ipartials "github.com/gomad/mad/ingest/partials"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/kafka"
)

// eosTier starts a tier mad in exactly-once mode: partials in, partials
// out, in one transaction per period (PT1S, committed 300 ms after each
// second).
func eosTier(t *testing.T, addr, in, out, group, txnID string) *Daemon {
	t.Helper()
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
				Txn:   &ingest.KafkaTxn{ID: txnID, Delay: 300 * time.Millisecond},
				Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", group}, {"auto.offset.reset", "earliest"}}}},
			Sinks: []sinks.Sink{sk},
		}},
	})
	must(t, err)
	t.Cleanup(func() { d.Stop() })
	return d
}

// seriesTotals reads every committed message of topic (read_committed) and
// sums, per series and bucket start, the partials' counts and sums.
func seriesTotals(t *testing.T, addr, topic string) map[string][2]float64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	must(t, err)
	defer cl.Close()
	dec := ipartials.NewDecoder(ipartials.Config{})
	var b sample.Batch
	totals := map[string][2]float64{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			return totals
		}
		fs.EachRecord(func(r *kgo.Record) {
			b.Reset()
			if _, _, err := dec.Decode(r.Value, func(uint64) *sample.Batch { return &b }); err != nil {
				t.Fatalf("output message: %v", err)
			}
			for i := range b.Samples {
				s := &b.Samples[i]
				if s.Flags&sample.FlagAgg == 0 {
					continue
				}
				k := fmt.Sprintf("%x@%d", b.Key(s), s.Time)
				a := b.Aggs[s.Agg]
				v := totals[k]
				totals[k] = [2]float64{v[0] + a.Count, v[1] + a.Sum}
			}
		})
	}
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
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	want := map[string][2]float64{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	for e := range 3 {
		sk, err := kafka.New(kafka.Config{Name: "edge", Topic: in, Period: time.Second, MaxMessageBytes: 2048,
			Props: [][2]string{{"bootstrap.servers", addr}}})
		must(t, err)
		for sec := range 40 {
			start := base.Add(time.Duration(sec) * time.Second)
			pd := &sinks.PeriodicData{Period: time.Second, Start: start, Dimensions: []sinks.Dimension{{Key: []byte("service"), Value: []byte("shop")}}}
			for m := range 30 {
				n := int64(1 + rng.IntN(5))
				sum := float64(n * int64(e+1))
				pd.Metrics = append(pd.Metrics, sinks.Metric{Name: fmt.Appendf(nil, "c%d", m), Type: "counter", PopulationSize: n,
					Statistics: []sinks.Statistic{{Stat: hist.Count, Value: float64(n), HasValue: true}, {Stat: hist.Sum, Value: sum, HasValue: true}}})
				key, _ := sample.AppendKey(nil, sample.KindCounter, fmt.Appendf(nil, "c%d", m), []sample.Dim{{Key: []byte("service"), Value: []byte("shop")}})
				k := fmt.Sprintf("%x@%d", key, start.UnixMilli())
				v := want[k]
				want[k] = [2]float64{v[0] + float64(n), v[1] + sum}
			}
			sk.Record(pd)
			sk.Flush()
		}
		must(t, sk.Close())
	}
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

	got := seriesTotals(t, addr, out)
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
