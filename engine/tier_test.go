package engine

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/jsonlines"
	"github.com/gomad/mad/sinks/kafka"
)

// tierStats are the statistics of every mad of the tier tests: every
// accumulator the partials carry, and percentiles from the histograms.
func tierStats(periods []time.Duration) shard.Config {
	return shard.Config{Periods: periods,
		CounterStatistics: hist.SetOf(hist.Count, hist.Sum, hist.Min, hist.Max, hist.Mean),
		GaugeStatistics:   hist.SetOf(hist.Count, hist.Sum, hist.Min, hist.Max, hist.Mean, hist.Median),
		TimerStatistics:   hist.SetOf(hist.Count, hist.Sum, hist.Min, hist.Max, hist.Mean, hist.Median, hist.TP90, hist.TP99, hist.TP99p9, hist.Histogram),
	}
}

// statsdDaemon starts a mad with a StatsD TCP source and the given sinks;
// it returns the source's address.
func statsdDaemon(t *testing.T, name string, periods []time.Duration, sks ...sinks.Sink) (*Daemon, string) {
	t.Helper()
	d, err := Start(DaemonConfig{
		HTTPAddr: "127.0.0.1:0",
		Pipelines: []pipeline.Config{{
			Name: name, Shards: 2, RingSize: 16384,
			Shard:   tierStats(periods),
			Sources: []ingest.SourceConfig{&ingest.TCPConfig{Name: "statsd", Addr: "127.0.0.1:0"}},
			Sinks:   sks,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop() })
	return d, pipeline.SourcesOf[*ingest.TCPSource](d.Pipelines()[0])[0].Addr().String()
}

// tierDaemon starts a tier mad: a KafkaSource reading partials.
func tierDaemon(t *testing.T, out *lockedBuffer, addr, topic, group string, periods []time.Duration) *Daemon {
	t.Helper()
	d, err := Start(DaemonConfig{
		HTTPAddr: "127.0.0.1:0",
		Pipelines: []pipeline.Config{{
			Name: "tier", Shards: 2, RingSize: 16384,
			Shard: tierStats(periods),
			Sources: []ingest.SourceConfig{&ingest.KafkaConfig{Name: "partials", Topics: []string{topic}, PollTime: 50 * time.Millisecond,
				Partials: true, Periods: periods,
				Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", group}, {"auto.offset.reset", "earliest"}}}},
			Sinks: []sinks.Sink{jsonlines.NewWriter("json", out)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop() })
	return d
}

// sendLines writes lines to a StatsD TCP address and waits until the
// pipeline has parsed them all.
func sendLines(t *testing.T, d *Daemon, addr string, lines []string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	must(t, err)
	_, err = c.Write([]byte(strings.Join(lines, "\n") + "\n"))
	must(t, err)
	must(t, c.Close())
	src := pipeline.SourcesOf[*ingest.TCPSource](d.Pipelines()[0])[0]
	waitUntil(t, "the lines parsed", 30*time.Second, func() bool {
		var n uint64
		for _, c := range src.Stats().Lines {
			n += c
		}
		return n >= uint64(len(lines))
	})
}

// renderLines renders JSON lines one per bucket and metric, sorted, with
// every statistic (sums and means to 12 significant digits).
func renderLines(t *testing.T, out string) []string {
	t.Helper()
	var r []string
	for _, l := range parseLines(t, out) {
		dims := make([]string, 0, len(l.Dimensions))
		for k, v := range l.Dimensions {
			dims = append(dims, k+"="+v)
		}
		slices.Sort(dims)
		stats := make([]string, 0, len(l.Statistics))
		for k, v := range l.Statistics {
			switch {
			case v == nil:
				stats = append(stats, k+"=null")
			case k == "sum" || k == "mean":
				// Sums of one order against sums of partial sums:
				// equal up to the reassociation of the additions.
				stats = append(stats, fmt.Sprintf("%s=%.12g", k, *v))
			default:
				stats = append(stats, fmt.Sprintf("%s=%v", k, *v))
			}
		}
		slices.Sort(stats)
		r = append(r, fmt.Sprintf("%s %s {%s} %s %s %s n=%d %s", l.Period, l.Start, strings.Join(dims, ","), l.Metric, l.Type, l.Unit,
			l.PopulationSize, strings.Join(stats, " ")))
	}
	slices.Sort(r)
	return r
}

// tierTraffic makes n StatsD lines of counters, gauges and timers over
// series × hosts, each with a DogStatsD timestamp in one of the minutes
// before base (so that every mad puts a line in the same buckets, whenever
// it reads it). Values are multiples of 1/8, so that counter and gauge sums
// are exact in any order; timers in milliseconds become seconds, whose sums
// differ by the order of the additions (renderLines rounds them).
func tierTraffic(rng *rand.Rand, n int, base time.Time) []string {
	lines := make([]string, n)
	for i := range lines {
		ts := base.Add(-time.Duration(rng.IntN(600)) * time.Second).Unix()
		host := fmt.Sprintf("host:h%d", rng.IntN(7))
		name := fmt.Sprintf("m%d", rng.IntN(40))
		v := float64(rng.IntN(8000)-1000) / 8
		switch rng.IntN(3) {
		case 0:
			lines[i] = fmt.Sprintf("%s.count:%d|c|#%s,env:prod|T%d", name, rng.IntN(50), host, ts)
		case 1:
			lines[i] = fmt.Sprintf("%s.gauge:%g|g|#%s|T%d", name, v, host, ts)
		default:
			lines[i] = fmt.Sprintf("%s.time:%g|ms|#%s,env:prod|T%d", name, max(v, 0), host, ts)
		}
	}
	return lines
}

// TestKafkaTierMatchesSingleMad: three edge mads receive one third of the
// StatsD traffic each and write their PT1M buckets to Kafka as partials
// (8 partitions); two tier mads in one consumer group re-aggregate them
// into PT1M and PT5M buckets. The tiers' output, together, equals that of
// one mad that received all the traffic: every count, sum, min, max, mean
// and percentile, bucket for bucket.
func TestKafkaTierMatchesSingleMad(t *testing.T) {
	const topic, group = "partials", "tier"
	_, addr := kafkaCluster(t, topic, 8)
	tierPeriods := []time.Duration{time.Minute, 5 * time.Minute}

	// The tiers first: they share the partitions before anything is
	// written (a rebalance after reading would read some again).
	var tierOut [2]lockedBuffer
	var tiers [2]*Daemon
	for i := range tiers {
		tiers[i] = tierDaemon(t, &tierOut[i], addr, topic, group, tierPeriods)
	}
	srcs := func() (ks []*ingest.KafkaSource) {
		for _, d := range tiers {
			ks = append(ks, pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])[0])
		}
		return ks
	}()
	waitUntil(t, "the partitions shared", 30*time.Second, func() bool {
		a, b := srcs[0].Stats().Partitions, srcs[1].Stats().Partitions
		return a > 0 && b > 0 && a+b == 8
	})

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	base := time.Now().Truncate(5 * time.Minute).Add(-5 * time.Minute)
	traffic := tierTraffic(rng, 6000, base)

	var singleOut lockedBuffer
	single, singleAddr := statsdDaemon(t, "single", tierPeriods, jsonlines.NewWriter("json", &singleOut))
	sendLines(t, single, singleAddr, traffic)
	must(t, single.Stop())

	var rows uint64
	for e := range 3 {
		sk, err := kafka.New(kafka.Config{Name: "kafka", Topic: topic, Period: time.Minute,
			Props: [][2]string{{"bootstrap.servers", addr}, {"linger.ms", "5"}}})
		must(t, err)
		edge, edgeAddr := statsdDaemon(t, fmt.Sprint("edge", e), []time.Duration{time.Minute}, sk)
		var mine []string
		for i := e; i < len(traffic); i += 3 {
			mine = append(mine, traffic[i])
		}
		sendLines(t, edge, edgeAddr, mine)
		must(t, edge.Stop()) // emits everything, and the sink delivers it
		st := sk.Stats()
		if st.Rows == 0 || st.DeliveredRows != st.Rows || st.Failed+st.Dropped+st.SkippedSets != 0 {
			t.Fatalf("edge %d sink: %+v", e, st)
		}
		rows += st.Rows
	}
	messages := endOffsets(t, addr, topic)
	waitUntil(t, "the tiers read every message", 30*time.Second, func() bool {
		return srcs[0].Stats().Messages+srcs[1].Stats().Messages == uint64(messages)
	})
	var got []string
	for i, d := range tiers {
		must(t, d.Stop())
		st := srcs[i].Stats()
		if st.Refused != 0 || st.Messages == 0 {
			t.Errorf("tier %d: %+v", i, st)
		}
		got = append(got, renderLines(t, tierOut[i].String())...)
	}
	slices.Sort(got)
	want := renderLines(t, singleOut.String())
	if len(want) == 0 || !slices.Equal(got, want) {
		diffLines(t, want, got)
	}
	t.Logf("%d lines, %d partial rows in %d messages, %d buckets × metrics compared", len(traffic), rows, messages, len(want))
}

// endOffsets returns the messages of a topic (the sum of its end offsets).
func endOffsets(t *testing.T, addr, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	must(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	must(t, err)
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// diffLines reports the lines only one side has.
func diffLines(t *testing.T, want, got []string) {
	t.Helper()
	in := func(s []string) map[string]int {
		m := map[string]int{}
		for _, l := range s {
			m[l]++
		}
		return m
	}
	w, g := in(want), in(got)
	n := 0
	for l, c := range w {
		if g[l] != c && n < 10 {
			t.Errorf("single mad (×%d), tier (×%d): %s", c, g[l], l)
			n++
		}
	}
	for l, c := range g {
		if w[l] != c && n < 20 {
			t.Errorf("tier (×%d), single mad (×%d): %s", c, w[l], l)
			n++
		}
	}
	t.Fatalf("the tier's %d lines differ from the single mad's %d", len(got), len(want))
}

// TestKafkaTierReferenceConfigs runs the reference topology's files
// (docs/kafka-tier), as a user copies them, on loopback ports: StatsD into
// the edge, its PT1M partials through Kafka, the tier's buckets out.
func TestKafkaTierReferenceConfigs(t *testing.T) {
	_, broker := kafkaCluster(t, "mad-partials", 4)
	dir := t.TempDir()
	out := filepath.Join(dir, "tier.jsonl")
	load := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "docs", "kafka-tier", name))
		must(t, err)
		text := strings.NewReplacer(`httpHost="0.0.0.0"`, `httpHost="127.0.0.1"`, "httpPort=7090", "httpPort=0",
			`host="0.0.0.0", port=8125`, `host="127.0.0.1", port=0`, `path="-"`, "path="+strconv.Quote(out)).Replace(string(b))
		if text == string(b) {
			t.Fatalf("%s: nothing replaced", name)
		}
		return writeFile(t, dir, name, text)
	}
	opt := config.LoadOptions{Env: env("KAFKA_BOOTSTRAP", broker)}
	tier, err := Open(load("tier.conf"), nil, opt, nil)
	must(t, err)
	defer tier.Stop()
	ks := pipeline.SourcesOf[*ingest.KafkaSource](tier.Pipelines()[0])[0]
	waitUntil(t, "the tier's partitions", 30*time.Second, func() bool { return ks.Stats().Partitions == 4 })

	edge, err := Open(load("edge.conf"), nil, opt, nil)
	must(t, err)
	defer edge.Stop()
	udp := pipeline.SourcesOf[*ingest.UDPSource](edge.Pipelines()[0])[0]
	c, err := net.Dial("udp", udp.Addr().String())
	must(t, err)
	ts := time.Now().Add(-time.Hour).Truncate(time.Minute).Unix()
	for i := range 50 {
		_, err := fmt.Fprintf(c, "ref.requests:2|c|#host:web-%d|T%d\nref.latency:%d|ms|#host:web-%d|T%d", i%2, ts, i, i%2, ts)
		must(t, err)
	}
	c.Close()
	waitUntil(t, "the edge's lines", 30*time.Second, func() bool {
		var n uint64
		for _, c := range udp.Stats().Lines {
			n += c
		}
		return n == 100
	})
	must(t, edge.Stop())
	waitUntil(t, "the tier's messages", 30*time.Second, func() bool { return ks.Stats().Messages == uint64(endOffsets(t, broker, "mad-partials")) })
	must(t, tier.Stop())
	text, err := os.ReadFile(out)
	must(t, err)
	got := map[string]string{}
	for _, l := range parseLines(t, string(text)) {
		got[l.Period+" "+l.Metric+" "+l.Dimensions["host"]] = fmt.Sprintf("n=%d sum=%.12g max=%v", l.PopulationSize, *l.Statistics["sum"], *l.Statistics["max"])
	}
	want := map[string]string{}
	for _, p := range []string{"PT1M", "PT5M", "PT1H"} {
		want[p+" ref.requests web-0"], want[p+" ref.requests web-1"] = "n=25 sum=50 max=2", "n=25 sum=50 max=2"
		want[p+" ref.latency web-0"], want[p+" ref.latency web-1"] = "n=25 sum=0.6 max=0.048", "n=25 sum=0.625 max=0.049"
	}
	if !maps.Equal(got, want) {
		t.Errorf("tier output %v\nwant %v", got, want)
	}
}

// TestKafkaTierExactlyOnceConfig: the reference exactly-once tier checks
// clean, and what cannot run exactly once is refused by name: a second
// period, a sink naming another transactional id, producer properties on
// the transactional sink.
func TestKafkaTierExactlyOnceConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "kafka-tier", "tier-exactly-once.conf"))
	must(t, err)
	dir := t.TempDir()
	opt := config.LoadOptions{Env: env("KAFKA_BOOTSTRAP", "127.0.0.1:1", "HOSTNAME", "tier-7")}
	if _, ps := CheckConfig(writeFile(t, dir, "ok.conf", string(b)), opt); len(ps) > 0 {
		t.Fatalf("the reference file: %v", ps)
	}
	last := strings.LastIndex(string(b), "transactionalId=${transactional_id}")
	for name, c := range map[string]struct{ text, want string }{
		"periods": {strings.Replace(string(b), `periods=["PT1M"]`, `periods=["PT1M", "PT5M"]`, 1), "the pipeline must have one period"},
		"other id": {string(b[:last]) + `transactionalId="other"` + string(b[last+len("transactionalId=${transactional_id}"):]),
			`transactionalId "other": no KafkaSource of the pipeline has that exactlyOnce.transactionalId`},
		"sink configs": {strings.Replace(string(b), `topic="mad-aggregates"`, `topic="mad-aggregates", configs={"acks"="all"}`, 1), "a transactional sink produces through its source's client"},
	} {
		_, ps := CheckConfig(writeFile(t, dir, name+".conf", c.text), opt)
		if !strings.Contains(fmt.Sprint(ps), c.want) {
			t.Errorf("%s: problems %v; want one with %q", name, ps, c.want)
		}
	}
}
