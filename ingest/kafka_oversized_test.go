package ingest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaSkipsBatchPastDecompressBound: a batch that decompresses past
// the consumer's bound (franz-go's MaxDecompressBatchBytes, 1 GiB unless
// set) is skipped, its messages counted refused and logged, and the
// partition's later batches are read. franz-go stops fetching a partition
// at such a batch until the consumer sets its offset past it: left alone,
// one batch stalled the partition for good, at every restart again.
func TestKafkaSkipsBatchPastDecompressBound(t *testing.T) {
	const topic, big, small = "metrics", 40, 5
	addr, vec := kafkaWithTopic(t, topic, 1)
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	// One batch of big records, each padded past the bound on its own
	// (a header: the parser reads only the value), then one of small ones.
	pad := bytes.Repeat([]byte{'x'}, 8<<10)
	var rs []*kgo.Record
	for range big {
		rs = append(rs, &kgo.Record{Value: vec, Headers: []kgo.RecordHeader{{Key: "pad", Value: pad}}})
	}
	if err := prod.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	rs = rs[:0]
	for range small {
		rs = append(rs, &kgo.Record{Value: vec})
	}
	if err := prod.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	lanes := NewLanes(1, 64)
	lanes.Progress = emittedAll{}
	cfg := KafkaConfig{Name: "k", Topics: []string{topic}, PollTime: 20 * time.Millisecond, MaxRecords: 50,
		Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", "g"}, {"auto.offset.reset", "earliest"}},
		Opts:  []kgo.Opt{kgo.MaxDecompressBatchBytes(64 << 10)}}
	src, err := OpenKafka(cfg, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	got := 0
	for deadline := time.Now().Add(30 * time.Second); got < 3*small; {
		if time.Now().After(deadline) {
			t.Fatalf("%d samples of the batch after the one past the bound read, of %d: %+v", got, 3*small, src.Stats())
		}
		got += countLanes([]Lanes{lanes})
		time.Sleep(5 * time.Millisecond)
	}
	if err := src.Finish(); err != nil {
		t.Fatal(err)
	}
	got += countLanes([]Lanes{lanes})
	st := src.Stats()
	if st.Messages != small || st.Refused != big || got != 3*small {
		t.Fatalf("%d samples published; stats %+v; want %d messages read, %d refused, %d samples", got, st, small, big, 3*small)
	}
	// The group's offset is past both batches: a restart reads on.
	offs := committedOffsets(t, addr, "g")
	if o, ok := offs.Lookup(topic, 0); !ok || o.At != big+small {
		t.Fatalf("committed %+v; want offset %d", o, big+small)
	}
}
