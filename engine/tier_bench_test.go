package engine

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/kafka"
)

type countingSink struct{ rows int }

func (c *countingSink) Record(pd *sinks.PeriodicData) { c.rows += len(pd.Metrics) }
func (c *countingSink) Close() error                  { return nil }

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// brokerProcess starts a kfake broker with topic in a child process (the
// test binary running TestKfakeBroker), so that the broker's CPU time is
// not the benchmark's: a real tier's broker runs elsewhere. It returns the
// broker's address; the child ends with the benchmark.
func brokerProcess(b *testing.B, topic string, partitions int) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestKfakeBroker$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("MAD_KFAKE_BROKER=%s:%d", topic, partitions))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the child's signal to end
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "kfake ")
	if err != nil || !ok {
		b.Fatalf("the broker process said %q, %v", line, err)
	}
	return addr
}

// TestKfakeBroker is BenchmarkKafkaTier's broker process when
// MAD_KFAKE_BROKER (topic:partitions) is set, and skipped otherwise: it
// serves a kfake cluster on loopback, prints its address and runs until
// its standard input closes.
func TestKfakeBroker(t *testing.T) {
	spec := os.Getenv("MAD_KFAKE_BROKER")
	if spec == "" {
		t.Skip("BenchmarkKafkaTier's broker process")
	}
	topic, n, _ := strings.Cut(spec, ":")
	partitions, err := strconv.Atoi(n)
	if err != nil {
		t.Fatal(err)
	}
	_, addr := kafkaCluster(t, topic, int32(partitions))
	fmt.Printf("kfake %s\n", addr)
	io.Copy(io.Discard, os.Stdin)
}

// BenchmarkKafkaTier: a tier mad (KafkaSource with the PartialsParser, two
// shards) consumes the partials ten edges wrote b.N times for the same
// 10,000 series, alternating between two PT1M buckets (a tier's steady
// state: a bucket or two open per series, each taking the partials of many
// edges) (S1 workload A's mix: 60 % counters, 20 % gauges,
// 20 % timers with 20 histogram buckets; lz4), re-aggregates them and
// emits. rows/CPU-s is the partial rows consumed per CPU-second of the
// process from the group's assignment to the tier's stop (emission
// included); the broker (kfake) runs in a child process.
func BenchmarkKafkaTier(b *testing.B) {
	const topic, edges, sets, perSet = "partials", 10, 1000, 10
	addr := brokerProcess(b, topic, 8)
	// The edges' output, written before the clock starts.
	base := time.Now().Add(-24 * time.Hour).Truncate(time.Minute)
	var buckets []hist.Bucket
	for i := range 20 {
		buckets = append(buckets, hist.Bucket{Key: hist.Pack(float64(i+1) * 0.013), Count: uint64(i%3 + 1)})
	}
	stat := func(s hist.Stat, v float64) sinks.Statistic {
		return sinks.Statistic{Stat: s, Value: v, HasValue: true}
	}
	for e := range edges {
		sk, err := kafka.New(kafka.Config{Name: "edge", Topic: topic, Period: time.Minute,
			Props: [][2]string{{"bootstrap.servers", addr}, {"linger.ms", "5"}}})
		if err != nil {
			b.Fatal(err)
		}
		for i := range b.N {
			for s := range sets {
				pd := &sinks.PeriodicData{Period: time.Minute, Start: base.Add(time.Duration(i%2) * time.Minute), Dimensions: []sinks.Dimension{
					{Key: []byte("cluster"), Value: []byte("prod")}, {Key: []byte("service"), Value: fmt.Appendf(nil, "svc-%04d", s)}}}
				for m := range perSet {
					st := []sinks.Statistic{stat(hist.Count, 20), stat(hist.Sum, 118.5+float64(e)), stat(hist.Min, 0.013), stat(hist.Max, 0.26), stat(hist.Mean, 5.9)}
					met := sinks.Metric{Name: fmt.Appendf(nil, "app.request.metric_%d", m), PopulationSize: 20, Statistics: st}
					switch {
					case m < 6:
						met.Type = "counter"
					case m < 8:
						met.Type = "gauge"
					default:
						met.Type, met.Unit, met.Histogram = "timer", "SECOND", buckets
						met.Statistics = append(st, stat(hist.TP99, 0.26))
					}
					pd.Metrics = append(pd.Metrics, met)
				}
				sk.Record(pd)
			}
			sk.Flush()
		}
		if err := sk.Close(); err != nil {
			b.Fatal(err)
		}
	}
	rows := uint64(b.N) * edges * sets * perSet
	periods := []time.Duration{time.Minute}
	out := &countingSink{}
	b.ResetTimer()
	d, err := Start(DaemonConfig{
		HTTPAddr: "127.0.0.1:0",
		Pipelines: []pipeline.Config{{
			Name: "tier", Shards: 2,
			Shard: tierStats(periods),
			Sources: []ingest.SourceConfig{&ingest.KafkaConfig{Name: "partials", Topics: []string{topic}, PollTime: 50 * time.Millisecond,
				Partials: true, Periods: periods, MaxRecords: 100,
				Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", "tier"}, {"auto.offset.reset", "earliest"}}}},
			Sinks: []sinks.Sink{out},
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	src := pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])[0]
	// The clock starts once the group has assigned the partitions (the
	// daemon's start and the group's join are not re-aggregation); the
	// rows read by then are not counted.
	for src.Stats().Partitions < 8 {
		time.Sleep(100 * time.Microsecond)
	}
	cpu0, rows0 := processCPU(b), src.Stats().Samples
	// MAD_TIER_PROFILE=file: a CPU profile of the clocked part alone (the
	// edges' writing, which -test.cpuprofile includes, left out).
	if f := os.Getenv("MAD_TIER_PROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			b.Fatal(err)
		}
	}
	for src.Stats().Samples < rows {
		time.Sleep(time.Millisecond)
	}
	if err := d.Stop(); err != nil {
		b.Fatal(err)
	}
	cpu := processCPU(b) - cpu0
	if os.Getenv("MAD_TIER_PROFILE") != "" {
		pprof.StopCPUProfile()
	}
	b.StopTimer()
	if st := src.Stats(); st.Samples != rows || st.Refused != 0 || out.rows != min(b.N, 2)*sets*perSet {
		b.Fatalf("source %+v, %d rows emitted; want %d samples, %d rows", st, out.rows, rows, min(b.N, 2)*sets*perSet)
	}
	b.ReportMetric(float64(rows-rows0)/cpu.Seconds(), "rows/CPU-s")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
}
