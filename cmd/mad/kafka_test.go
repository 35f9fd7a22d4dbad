package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// madProc is a mad process the test started, with its output and the
// address of its control plane.
type madProc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	addr string
}

func startMad(t *testing.T, bin string, args ...string) *madProc {
	t.Helper()
	p := &madProc{out: &lockedBuffer{}}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	must(t, p.cmd.Start())
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	started := regexp.MustCompile(`msg="mad started" .*http=(127\.0\.0\.1:[0-9]+)`)
	p.waitFor(t, "the start-up line", func() bool {
		m := started.FindStringSubmatch(p.out.String())
		if m != nil {
			p.addr = m[1]
		}
		return m != nil
	})
	return p
}

func (p *madProc) waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; output:\n%s\nmetrics:\n%s", what, p.out.String(), p.metrics("mad_source"))
		}
	}
}

// metrics returns the /metrics lines that start with prefix.
func (p *madProc) metrics(prefix string) string {
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// metric returns the value of the /metrics line that starts with prefix
// (name and labels), -1 if there is none.
func (p *madProc) metric(prefix string) float64 {
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			v, _ := strconv.ParseFloat(strings.TrimSpace(l[len(prefix):]), 64)
			return v
		}
	}
	return -1
}

// TestKafkaCrashRedelivers: mad reads ClientV2 RecordSets from Kafka into
// buckets that do not close during the test and is killed (SIGKILL) before
// it emits them: it committed no offset, so a new mad reads the same
// messages again, emits them, and commits them all. Nothing is lost.
func TestKafkaCrashRedelivers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	const topic, group, n = "metrics", "mad", 25
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, topic))
	must(t, err)
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]
	vec, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mad", "parsers", "ProtobufV2ParserTest", "testSingleRecord"))
	must(t, err)
	prod, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	must(t, err)
	for range n {
		must(t, prod.ProduceSync(context.Background(), &kgo.Record{Value: vec}).FirstErr())
	}
	prod.Close()

	bin := buildMad(t)
	dir := t.TempDir()
	conf := func(name, period string) string {
		path := filepath.Join(dir, name)
		must(t, os.WriteFile(path, []byte(fmt.Sprintf(`httpHost="127.0.0.1"
httpPort=0
monitoringSinks=[]
pipelines=[{
  name="kafka"
  periods=[%q]
  sources=[{
    type="com.arpnetworking.metrics.common.sources.KafkaSource"
    name="kafka_source"
    consumer={
      type="org.apache.kafka.clients.consumer.Consumer"
      topics=[%q]
      configs={
        "bootstrap.servers"=%q
        "group.id"=%q
        "key.deserializer"="org.apache.kafka.common.serialization.ByteArrayDeserializer"
        "value.deserializer"="org.apache.kafka.common.serialization.ByteArrayDeserializer"
        "auto.offset.reset"="earliest"
        # The killed mad stays in the group until its session times out.
        "session.timeout.ms"=6000
        "heartbeat.interval.ms"=500
      }
    }
    parser={ type="com.arpnetworking.metrics.mad.parsers.ProtobufV2bytesToRecordParser" }
    pollTime="PT0.05S"
  }]
  sinks=[{ type="io.gomad.mad.sinks.JsonLinesSink", name="json", path="-" }]
}]
`, period, topic, broker, group)), 0o644))
		return path
	}
	messages := `mad_source_kafka_messages_total{pipeline="kafka",source="kafka_source",protocol="kafka"}`
	commits := `mad_source_kafka_commits_total{pipeline="kafka",source="kafka_source",protocol="kafka"}`

	// An hour's buckets: nothing closes while the first mad runs.
	first := startMad(t, bin, conf("hour.conf", "PT1H"))
	first.waitFor(t, "every message read", func() bool { return first.metric(messages) == n })
	if c := first.metric(commits); c != 0 {
		t.Fatalf("%v offsets committed before their buckets were emitted", c)
	}
	must(t, first.cmd.Process.Signal(syscall.SIGKILL))
	first.cmd.Wait()
	if strings.Contains(first.out.String(), `"metric":"counter1"`) {
		t.Fatalf("the first mad emitted before it was killed:\n%s", first.out.String())
	}

	// A second mad reads the same messages again and commits them once
	// emitted (PT1S buckets close a second or two after they end).
	second := startMad(t, bin, conf("second.conf", "PT1S"))
	second.waitFor(t, "every message read again", func() bool { return second.metric(messages) == n })
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	must(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	second.waitFor(t, "every offset committed", func() bool {
		ends, err := adm.ListEndOffsets(context.Background(), topic)
		if err != nil {
			return false
		}
		got, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return false
		}
		all := true
		ends.Each(func(e kadm.ListedOffset) {
			if c, ok := got.Lookup(e.Topic, e.Partition); !ok || c.At != e.Offset {
				all = false
			}
		})
		return all
	})
	must(t, second.cmd.Process.Signal(syscall.SIGTERM))
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, second.out.String())
	}
	// counter1's populations over the emitted buckets: every message once.
	var total int
	for _, m := range regexp.MustCompile(`"metric":"counter1".*?"populationSize":(\d+)`).FindAllStringSubmatch(second.out.String(), -1) {
		v, _ := strconv.Atoi(m[1])
		total += v
	}
	if total != n {
		t.Fatalf("counter1's population %d; want %d\n%s", total, n, second.out.String())
	}
}
