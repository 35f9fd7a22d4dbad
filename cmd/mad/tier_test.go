package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The Kafka second tier with mad processes: edge mads write their buckets
// through KafkaSink as partial aggregates, tier mads read them in one
// consumer group (KafkaSource with the PartialsParser) and re-aggregate
// them; a reference mad receives all the traffic. engine/tier_test.go runs
// the same in one process.

// tierStatistics are every pipeline's statistics (engine/tier_test.go's
// tierStats): every accumulator the partials carry, and percentiles from
// the histograms.
const tierStatistics = `  counterStatistics=["count","sum","min","max","mean"]
  gaugeStatistics=["count","sum","min","max","mean","median"]
  timerStatistics=["count","sum","min","max","mean","median","tp90","tp99","tp99.9","histogram"]`

// tierRig is a Kafka cluster (kfake, one topic of 8 partitions on a
// loopback port) and the mad binary.
type tierRig struct {
	t      *testing.T
	bin    string
	dir    string
	broker string
	topic  string
}

func newTierRig(t *testing.T, topic string) *tierRig {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, topic))
	must(t, err)
	t.Cleanup(cluster.Close)
	return &tierRig{t: t, bin: buildMad(t), dir: t.TempDir(), broker: cluster.ListenAddrs()[0], topic: topic}
}

// start writes a main configuration with one pipeline and starts mad on it.
func (r *tierRig) start(name string, periods []string, source, sink string) *madProc {
	r.t.Helper()
	ps := make([]string, len(periods))
	for i, p := range periods {
		ps[i] = fmt.Sprintf("%q", p)
	}
	conf := filepath.Join(r.dir, name+".conf")
	must(r.t, os.WriteFile(conf, []byte(fmt.Sprintf(`httpHost="127.0.0.1"
httpPort=0
monitoringSinks=[]
pipelines=[{
  name=%q
  periods=[%s]
%s
  sources=[%s]
  sinks=[%s]
}]
`, name, strings.Join(ps, ","), tierStatistics, source, sink)), 0o644))
	return startMad(r.t, r.bin, conf)
}

// jsonSink is a JsonLinesSink writing to its own file in the rig's
// directory.
func (r *tierRig) jsonSink(name string) (string, string) {
	path := filepath.Join(r.dir, name+".jsonl")
	return fmt.Sprintf(`{ type="io.gomad.mad.sinks.JsonLinesSink", name="json", path=%q }`, path), path
}

// startStatsd starts a mad with a StatsD TCP source (port 0) and sink; it
// returns the process and the address the source bound.
func (r *tierRig) startStatsd(name string, periods []string, sink string) (*madProc, string) {
	r.t.Helper()
	p := r.start(name, periods, `{
    type="com.arpnetworking.metrics.common.sources.TcpLineSource"
    name="statsd"
    host="127.0.0.1"
    port=0
    parser={ type="com.arpnetworking.metrics.mad.parsers.StatsdToRecordParser" }
  }`, sink)
	ready := regexp.MustCompile(`msg="source ready" pipeline=` + regexp.QuoteMeta(name) + ` source=statsd at="tcp (127\.0\.0\.1:[0-9]+)"`)
	var addr string
	p.waitFor(r.t, "the StatsD source's address", func() bool {
		m := ready.FindStringSubmatch(p.out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return p, addr
}

// startEdge starts an edge mad: StatsD in, PT1M partials out to the topic.
func (r *tierRig) startEdge(name string) (*madProc, string) {
	return r.startStatsd(name, []string{"PT1M"}, fmt.Sprintf(`{
    type="io.gomad.mad.sinks.KafkaSink"
    name="kafka"
    topic=%q
    period="PT1M"
    configs={ "bootstrap.servers"=%q, "linger.ms"=5 }
  }`, r.topic, r.broker))
}

// startTier starts a tier mad in group, writing JSON lines to its own
// file; it returns the process and the file.
func (r *tierRig) startTier(name, group string, periods []string) (*madProc, string) {
	r.t.Helper()
	sink, path := r.jsonSink(name)
	p := r.start(name, periods, r.partialsSource(group, `pollTime="PT0.05S"`), sink)
	return p, path
}

// partialsSource is a tier's KafkaSource of the rig's topic in group, with
// more keys (poll time, exactly once…).
func (r *tierRig) partialsSource(group, more string) string {
	return fmt.Sprintf(`{
    type="com.arpnetworking.metrics.common.sources.KafkaSource"
    name="partials"
    consumer={
      type="org.apache.kafka.clients.consumer.Consumer"
      topics=[%q]
      configs={
        "bootstrap.servers"=%q
        "group.id"=%q
        "auto.offset.reset"="earliest"
        # A killed tier stays in the group until its session times out.
        "session.timeout.ms"=6000
        "heartbeat.interval.ms"=500
      }
    }
    parser={ type="io.gomad.mad.parsers.PartialsParser" }
    %s
  }`, r.topic, r.broker, group, more)
}

// endOffsets returns the messages of the topic (the sum of its end
// offsets).
func (r *tierRig) endOffsets() int64 {
	r.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.broker))
	must(r.t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), r.topic)
	must(r.t, err)
	must(r.t, ends.Error())
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// committed returns the offsets group committed, summed over the topic's
// partitions.
func (r *tierRig) committed(group string) int64 {
	r.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.broker))
	must(r.t, err)
	defer cl.Close()
	got, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	must(r.t, err)
	var n int64
	got.Each(func(o kadm.OffsetResponse) {
		if o.Topic == r.topic && o.Err == nil {
			n += o.At
		}
	})
	return n
}

// tierMetric names a metric of a mad's single pipeline's source.
func tierMetric(name, pipeline, source, protocol string, more ...string) string {
	l := fmt.Sprintf(`%s{pipeline=%q,source=%q,protocol=%q`, name, pipeline, source, protocol)
	for i := 0; i+1 < len(more); i += 2 {
		l += fmt.Sprintf(`,%s=%q`, more[i], more[i+1])
	}
	return l + "}"
}

// kafkaMetric is a tier's Kafka source metric.
func kafkaMetric(p *madProc, name, pipeline string) float64 {
	return p.metric(tierMetric(name, pipeline, "partials", "kafka"))
}

// tierSend writes lines to a StatsD TCP source and waits until the
// pipeline has parsed them all, none refused nor dropped.
func tierSend(t *testing.T, p *madProc, pipeline, addr string, lines []string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	must(t, err)
	_, err = c.Write([]byte(strings.Join(lines, "\n") + "\n"))
	must(t, err)
	must(t, c.Close())
	ok := tierMetric("mad_source_lines_total", pipeline, "statsd", "tcp", "result", "ok")
	p.waitFor(t, pipeline+"'s lines parsed", func() bool { return p.metric(ok) == float64(len(lines)) })
	if d := p.metric(tierMetric("mad_source_ring_dropped_samples_total", pipeline, "statsd", "tcp")); d != 0 {
		t.Fatalf("%s dropped %v samples", pipeline, d)
	}
}

// tierTerm sends SIGTERM to every process (they flush their buckets and
// deliver them) and waits for each to exit 0.
func tierTerm(t *testing.T, ps ...*madProc) {
	t.Helper()
	for _, p := range ps {
		must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	}
	for _, p := range ps {
		exited := make(chan error, 1)
		go func() { exited <- p.cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, p.out.String())
			}
		case <-time.After(60 * time.Second):
			p.cmd.Process.Kill()
			t.Fatalf("no exit 60 s after SIGTERM:\n%s", p.out.String())
		}
		// A sink that did not deliver is an error (the comparison shows
		// what it lost); other warnings (a consumer's transient errors)
		// are only logged.
		switch out := p.out.String(); {
		case strings.Contains(out, "level=ERROR") || strings.Contains(out, `msg="kafka sink:`):
			t.Errorf("errors in the log:\n%s", out)
		case strings.Contains(out, "level=WARN"):
			t.Logf("warnings in the log:\n%s", out)
		}
	}
}

// tierTraffic makes n StatsD lines of counters, gauges and timers over
// series × hosts, each with a DogStatsD timestamp in the spread before base
// (so that every mad puts a line in the same buckets, whenever it reads
// it). Values are multiples of 1/8, so that counter and gauge sums are
// exact in any order; timers in milliseconds become seconds, whose sums
// differ by the order of the additions (tierRender rounds them).
func tierTraffic(rng *rand.Rand, n int, base time.Time, spread time.Duration) []string {
	lines := make([]string, n)
	for i := range lines {
		ts := base.Add(-time.Duration(rng.Int64N(int64(spread/time.Second))) * time.Second).Unix()
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

// tierLine is a JSON line of JsonLinesSink.
type tierLine struct {
	Period         string              `json:"period"`
	Start          string              `json:"start"`
	Dimensions     map[string]string   `json:"dimensions"`
	Metric         string              `json:"metric"`
	Type           string              `json:"type"`
	Unit           string              `json:"unit"`
	PopulationSize int64               `json:"populationSize"`
	Statistics     map[string]*float64 `json:"statistics"`
}

// key is the line's bucket and series.
func (l *tierLine) key() string {
	dims := make([]string, 0, len(l.Dimensions))
	for k, v := range l.Dimensions {
		dims = append(dims, k+"="+v)
	}
	slices.Sort(dims)
	return fmt.Sprintf("%s %s {%s} %s", l.Period, l.Start, strings.Join(dims, ","), l.Metric)
}

// tierRead parses a JSON lines file (a missing file has no lines).
func tierRead(t *testing.T, path string) []tierLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	must(t, err)
	var lines []tierLine
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l tierLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: bad JSON line %q: %v", path, sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// tierRender renders lines one per bucket and metric, sorted, with every
// statistic (sums and means to 12 significant digits: sums of one order
// against sums of partial sums are equal up to the reassociation of the
// additions; everything else exactly).
func tierRender(lines []tierLine) []string {
	var r []string
	for _, l := range lines {
		stats := make([]string, 0, len(l.Statistics))
		for k, v := range l.Statistics {
			switch {
			case v == nil:
				stats = append(stats, k+"=null")
			case k == "sum" || k == "mean":
				stats = append(stats, fmt.Sprintf("%s=%.12g", k, *v))
			default:
				stats = append(stats, fmt.Sprintf("%s=%v", k, *v))
			}
		}
		slices.Sort(stats)
		r = append(r, fmt.Sprintf("%s %s %s n=%d %s", l.key(), l.Type, l.Unit, l.PopulationSize, strings.Join(stats, " ")))
	}
	slices.Sort(r)
	return r
}

// tierCompare fails the test with the lines only one side has, unless got
// equals want.
func tierCompare(t *testing.T, what string, want, got []string) {
	t.Helper()
	if len(want) > 0 && slices.Equal(got, want) {
		return
	}
	count := func(s []string) map[string]int {
		m := map[string]int{}
		for _, l := range s {
			m[l]++
		}
		return m
	}
	w, g := count(want), count(got)
	n := 0
	for _, l := range want {
		if g[l] != w[l] && n < 10 {
			t.Errorf("single mad (×%d), %s (×%d): %s", w[l], what, g[l], l)
			n++
		}
	}
	for _, l := range got {
		if w[l] != g[l] && n < 20 {
			t.Errorf("%s (×%d), single mad (×%d): %s", what, g[l], w[l], l)
			n++
		}
	}
	t.Fatalf("the %s's %d lines differ from the single mad's %d", what, len(got), len(want))
}

// waitShared waits until the tiers' group shared the topic's 8 partitions,
// each tier holding some.
func waitShared(t *testing.T, pipelines []string, tiers ...*madProc) {
	t.Helper()
	tiers[0].waitFor(t, "the partitions shared", func() bool {
		sum := 0.0
		for i, p := range tiers {
			n := kafkaMetric(p, "mad_source_kafka_partitions", pipelines[i])
			if n <= 0 {
				return false
			}
			sum += n
		}
		return sum == 8
	})
}

// TestKafkaTierProcesses: three edge mad processes receive one third of the
// StatsD traffic each and write their PT1M buckets to Kafka as partials (8
// partitions); two tier mad processes in one consumer group re-aggregate
// them into PT1M and PT5M buckets. The tiers' output, together, equals that
// of one mad process that received all the traffic: every count, sum, min,
// max, mean and percentile, bucket for bucket. At their SIGTERM the tiers
// commit every offset.
func TestKafkaTierProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	began := time.Now()
	const group = "tier"
	r := newTierRig(t, "partials")
	periods := []string{"PT1M", "PT5M"}

	// The tiers first: they share the partitions before anything is
	// written (a rebalance after reading would read some again).
	names := []string{"tier0", "tier1"}
	var tiers []*madProc
	var files []string
	for _, n := range names {
		p, f := r.startTier(n, group, periods)
		tiers, files = append(tiers, p), append(files, f)
	}
	waitShared(t, names, tiers...)

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 17))
	base := time.Now().Truncate(5 * time.Minute).Add(-5 * time.Minute)
	traffic := tierTraffic(rng, 6000, base, 10*time.Minute)

	singleSink, singleFile := r.jsonSink("single")
	single, singleAddr := r.startStatsd("single", periods, singleSink)
	var edges []*madProc
	for e := range 3 {
		p, addr := r.startEdge(fmt.Sprint("edge", e))
		var mine []string
		for i := e; i < len(traffic); i += 3 {
			mine = append(mine, traffic[i])
		}
		tierSend(t, p, fmt.Sprint("edge", e), addr, mine)
		edges = append(edges, p)
	}
	tierSend(t, single, "single", singleAddr, traffic)
	// The edges emit at SIGTERM and deliver before they exit.
	tierTerm(t, append(edges, single)...)

	messages := r.endOffsets()
	if messages == 0 {
		t.Fatal("the edges wrote no message")
	}
	read := func() (n float64) {
		for i, p := range tiers {
			n += kafkaMetric(p, "mad_source_kafka_messages_total", names[i])
		}
		return n
	}
	tiers[0].waitFor(t, "the tiers read every message", func() bool { return read() == float64(messages) })
	var rows, per []float64
	for i, p := range tiers {
		if c := kafkaMetric(p, "mad_source_kafka_commits_total", names[i]); c != 0 {
			t.Errorf("%s committed %v offsets before it emitted", names[i], c)
		}
		if n := kafkaMetric(p, "mad_source_kafka_refused_total", names[i]); n != 0 {
			t.Errorf("%s refused %v messages", names[i], n)
		}
		per = append(per, kafkaMetric(p, "mad_source_kafka_messages_total", names[i]))
		rows = append(rows, p.metric(tierMetric("mad_source_samples_total", names[i], "partials", "kafka")))
	}
	tierTerm(t, tiers...)
	if c := r.committed(group); c != messages {
		t.Errorf("the tiers committed %d of %d messages at SIGTERM", c, messages)
	}

	var got []string
	for _, f := range files {
		got = append(got, tierRender(tierRead(t, f))...)
	}
	slices.Sort(got)
	want := tierRender(tierRead(t, singleFile))
	tierCompare(t, "tiers", want, got)
	t.Logf("seed %d: %d StatsD lines; %d messages (tiers read %v, partial rows %v); %d buckets × metrics equal; %v",
		seed, len(traffic), messages, per, rows, len(want), time.Since(began).Round(time.Millisecond))
}

// TestKafkaTierKillAtLeastOnce: two tier mad processes read the edges'
// partials into PT1H buckets, which cannot close during the test; one is
// killed (SIGKILL) after it read its share, before it emitted, so it
// committed nothing. Once its session times out, the survivor takes over
// its partitions, reads them again from the start, and at SIGTERM emits:
// nothing is lost (every population at least the single mad's), and since
// the killed tier emitted nothing, nothing is counted twice either.
func TestKafkaTierKillAtLeastOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	began := time.Now()
	const group = "tier"
	r := newTierRig(t, "partials")
	// An hour's buckets: each expires at least 10 minutes (PT1H's timeout)
	// after it is opened, whatever the time of its data.
	periods := []string{"PT1H"}
	names := []string{"tier0", "tier1"}
	var tiers []*madProc
	var files []string
	for _, n := range names {
		p, f := r.startTier(n, group, periods)
		tiers, files = append(tiers, p), append(files, f)
	}
	waitShared(t, names, tiers...)

	// The 10 minutes before the current one: every edge's PT1M bucket is in
	// the same hour as the single mad's sample.
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 23))
	traffic := tierTraffic(rng, 3000, time.Now().Truncate(time.Minute).Add(-time.Second), 10*time.Minute)
	singleSink, singleFile := r.jsonSink("single")
	single, singleAddr := r.startStatsd("single", periods, singleSink)
	var edges []*madProc
	for e := range 3 {
		p, addr := r.startEdge(fmt.Sprint("edge", e))
		var mine []string
		for i := e; i < len(traffic); i += 3 {
			mine = append(mine, traffic[i])
		}
		tierSend(t, p, fmt.Sprint("edge", e), addr, mine)
		edges = append(edges, p)
	}
	tierSend(t, single, "single", singleAddr, traffic)
	tierTerm(t, append(edges, single)...)
	messages := r.endOffsets()
	if messages == 0 {
		t.Fatal("the edges wrote no message")
	}

	msgs := func(i int) float64 { return kafkaMetric(tiers[i], "mad_source_kafka_messages_total", names[i]) }
	tiers[0].waitFor(t, "the tiers read every message", func() bool { return msgs(0)+msgs(1) == float64(messages) })
	for i := range tiers {
		if c := kafkaMetric(tiers[i], "mad_source_kafka_commits_total", names[i]); c != 0 {
			t.Fatalf("%s committed %v offsets before it emitted", names[i], c)
		}
	}
	victim, survivor := 0, 1
	if msgs(0) == 0 {
		victim, survivor = 1, 0
	}
	killedRead, survivorRead := msgs(victim), msgs(survivor)
	killed := time.Now()
	must(t, tiers[victim].cmd.Process.Signal(syscall.SIGKILL))
	tiers[victim].cmd.Wait()
	if lines := tierRead(t, files[victim]); len(lines) != 0 {
		t.Fatalf("%s emitted %d lines before it was killed", names[victim], len(lines))
	}

	// The survivor takes over the killed tier's partitions once its session
	// timed out, and reads them from the start (nothing was committed).
	sv := tiers[survivor]
	sv.waitFor(t, "the survivor's take-over", func() bool {
		return kafkaMetric(sv, "mad_source_kafka_partitions", names[survivor]) == 8 && msgs(survivor) >= float64(messages)
	})
	tookOver := time.Since(killed)
	reread := msgs(survivor) - survivorRead
	if c := kafkaMetric(sv, "mad_source_kafka_commits_total", names[survivor]); c != 0 {
		t.Fatalf("%s committed %v offsets before it emitted", names[survivor], c)
	}
	tierTerm(t, sv)
	if c := r.committed(group); c != messages {
		t.Errorf("the survivor committed %d of %d messages at SIGTERM", c, messages)
	}

	// At least once: per bucket and metric, the survivor's population is
	// at least the single mad's; the surplus is what was counted twice.
	gotLines, wantLines := tierRead(t, files[survivor]), tierRead(t, singleFile)
	pops := func(ls []tierLine) map[string]int64 {
		m := map[string]int64{}
		for _, l := range ls {
			m[l.key()] += l.PopulationSize
		}
		return m
	}
	gotPop, wantPop := pops(gotLines), pops(wantLines)
	var surplus, dupSeries int64
	for k, w := range wantPop {
		g, ok := gotPop[k]
		switch {
		case !ok:
			t.Errorf("lost: %s (population %d)", k, w)
		case g < w:
			t.Errorf("lost: %s population %d; want %d", k, g, w)
		case g > w:
			surplus += g - w
			dupSeries++
		}
	}
	for k := range gotPop {
		if _, ok := wantPop[k]; !ok {
			t.Errorf("the survivor only: %s", k)
		}
	}
	t.Logf("duplicates: %d samples counted twice in %d of %d buckets × metrics", surplus, dupSeries, len(wantPop))
	// Nothing was committed nor emitted before the kill: exactly once.
	if surplus != 0 {
		t.Errorf("%d samples counted twice though the killed tier emitted nothing", surplus)
	}
	tierCompare(t, "survivor", tierRender(wantLines), tierRender(gotLines))
	t.Logf("seed %d: %d StatsD lines; %d messages: %s read %v then was killed, %s read %v and then %v again (%v after the kill); %d buckets × metrics equal; %v",
		seed, len(traffic), messages, names[victim], killedRead, names[survivor], survivorRead, reread,
		tookOver.Round(time.Millisecond), len(wantPop), time.Since(began).Round(time.Millisecond))
}
