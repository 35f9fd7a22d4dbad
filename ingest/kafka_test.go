package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaBackPressure: while the shards' rings are full the source pauses
// fetching and waits; once they are drained it publishes everything it
// read: nothing is dropped.
func TestKafkaBackPressure(t *testing.T) {
	const topic, n = "metrics", 300
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	vec, err := os.ReadFile(filepath.Join("..", "testdata", "mad", "parsers", "ProtobufV2ParserTest", "testSingleRecord"))
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for range n {
		rs = append(rs, &kgo.Record{Value: vec})
	}
	if err := prod.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	prod.Close()

	// Rings of 2 batches to 2 shards (a poll is one batch a shard): the
	// source fills them in two polls and nothing drains them yet.
	lanes := NewLanes(2, 2)
	src, err := OpenKafka(KafkaConfig{Name: "k", Topics: []string{topic}, PollTime: 20 * time.Millisecond, MaxRecords: 50,
		Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", "g"}, {"auto.offset.reset", "earliest"}}}, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	deadline := time.Now().Add(30 * time.Second)
	for src.Stats().Pauses == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("never paused: %+v", src.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	got := 0
	for got < 3*n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d samples: %+v", got, 3*n, src.Stats())
		}
		got += countLanes([]Lanes{lanes})
		time.Sleep(time.Millisecond)
	}
	if err := src.Finish(); err != nil {
		t.Fatal(err)
	}
	got += countLanes([]Lanes{lanes})
	st := src.Stats()
	if got != 3*n || st.Messages != n || st.Samples != 3*n || src.prod.Dropped != 0 {
		t.Fatalf("%d samples published; stats %+v, dropped %d", got, st, src.prod.Dropped)
	}
}
