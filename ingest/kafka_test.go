package ingest

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaBackPressure: while the shards' rings are full the source pauses
// fetching and waits; once they are drained it publishes everything it
// read: nothing is dropped.
func TestKafkaBackPressure(t *testing.T) {
	const topic, n = "metrics", 300
	// Rings of 2 batches to 2 shards (a poll is one batch a shard): the
	// source fills them in two polls and nothing drains them yet.
	lanes := NewLanes(2, 2)
	src, _ := pausedKafka(t, topic, n, lanes)
	deadline := time.Now().Add(30 * time.Second)
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

// TestKafkaRetargetWhilePausedDropsNothing: a reload retargets the source
// while a poll waits for room in the old shards' rings (the old shards are
// behind, not stopped: they drain a moment later). What the poll decoded
// goes to the old lanes whole once they have room, the rest to the new
// ones: nothing is dropped, so no offset of a dropped sample is committed.
// (Retarget used to flush with the producer's short wait and drop what did
// not fit, uncounted on /metrics, while the poll committed its offsets.)
func TestKafkaRetargetWhilePausedDropsNothing(t *testing.T) {
	const topic, n = "metrics", 300
	old := NewLanes(2, 2)
	src, cfg := pausedKafka(t, topic, n, old)
	deadline := time.Now().Add(30 * time.Second)
	// The old shards catch up a moment after the reload began, and keep
	// draining their lanes.
	var oldGot atomic.Int64
	stopOld := make(chan struct{})
	oldDone := make(chan struct{})
	go func() {
		defer close(oldDone)
		time.Sleep(300 * time.Millisecond)
		for {
			oldGot.Add(int64(countLanes([]Lanes{old})))
			select {
			case <-stopOld:
				oldGot.Add(int64(countLanes([]Lanes{old})))
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	nl := NewLanes(2, 1024)
	c2 := cfg
	if err := src.Retarget(&c2, []Lanes{nl}); err != nil {
		t.Fatal(err)
	}
	got := 0
	for oldGot.Load()+int64(got) < 3*n {
		if time.Now().After(deadline) {
			t.Fatalf("%d+%d of %d samples: %+v, producer dropped %d", oldGot.Load(), got, 3*n, src.Stats(), src.prod.Dropped)
		}
		got += countLanes([]Lanes{nl})
		time.Sleep(time.Millisecond)
	}
	close(stopOld)
	<-oldDone
	if err := src.Finish(); err != nil {
		t.Fatal(err)
	}
	got += countLanes([]Lanes{nl})
	st := src.Stats()
	if total := oldGot.Load() + int64(got); total != 3*n || st.Samples != 3*n || st.Dropped != 0 || src.prod.Dropped != 0 {
		t.Fatalf("%d samples published (%d to the old lanes); stats %+v, dropped %d", total, oldGot.Load(), st, src.prod.Dropped)
	}
}

// pausedKafka starts a Kafka source over lanes, of small polls, reading
// topic of kafkaWithRecords, and returns it once its shards' rings were
// full and it paused fetching (nothing drains lanes meanwhile), with its
// configuration.
func pausedKafka(t *testing.T, topic string, n int, lanes Lanes) (*KafkaSource, KafkaConfig) {
	t.Helper()
	addr := kafkaWithRecords(t, topic, n)
	cfg := KafkaConfig{Name: "k", Topics: []string{topic}, PollTime: 20 * time.Millisecond, MaxRecords: 50,
		Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", "g"}, {"auto.offset.reset", "earliest"}}}
	src, err := OpenKafka(cfg, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	for deadline := time.Now().Add(30 * time.Second); src.Stats().Pauses == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("never paused: %+v", src.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return src, cfg
}

// kafkaWithRecords starts an in-process Kafka (kfake) with topic of two
// partitions holding n records of MAD's V2 single-record vector (3 samples
// each), stopped at the test's end, and returns its address.
func kafkaWithRecords(t *testing.T, topic string, n int) string {
	t.Helper()
	addr, vec := kafkaWithTopic(t, topic, 2)
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var rs []*kgo.Record
	for range n {
		rs = append(rs, &kgo.Record{Value: vec})
	}
	if err := prod.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// kafkaWithTopic starts an in-process Kafka (kfake) with topic of the
// given partitions, stopped at the test's end, and returns its address and
// MAD's V2 single-record vector (a message of 3 samples).
func kafkaWithTopic(t *testing.T, topic string, partitions int32) (addr string, vec []byte) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	vec, err = os.ReadFile(filepath.Join("..", "testdata", "mad", "parsers", "ProtobufV2ParserTest", "testSingleRecord"))
	if err != nil {
		t.Fatal(err)
	}
	return c.ListenAddrs()[0], vec
}

// neverSealed is an aggregator that has sealed and emitted nothing: the
// polls wait, so the test can read what they wait for.
type neverSealed struct{}

func (neverSealed) SealedThrough() int64          { return 0 }
func (neverSealed) EmittedThrough() int64         { return 0 }
func (neverSealed) Expiry(applied, t int64) int64 { return t }

// TestKafkaMappedTimesBoundCommit: a source wrapped in a
// TimeStampingSource waits, before committing a poll's offsets, for the
// buckets of the times the mapper gave its samples (now), not of the
// records' own times: it took those before the mapper, and committed up
// to a period before the bucket holding the samples was emitted.
func TestKafkaMappedTimesBoundCommit(t *testing.T) {
	const topic, n = "metrics", 10
	addr := kafkaWithRecords(t, topic, n)
	lanes := NewLanes(2, 64)
	lanes.Progress = neverSealed{}
	cfg := KafkaConfig{Name: "k", Topics: []string{topic}, PollTime: 20 * time.Millisecond,
		Props: [][2]string{{"bootstrap.servers", addr}, {"group.id", "g"}, {"auto.offset.reset", "earliest"}}}
	cfg.Wrap(TimeStampingSpec{})
	before := nowMillis()
	src, err := OpenKafka(cfg, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	defer src.Stop()
	for deadline := time.Now().Add(30 * time.Second); src.Stats().Messages < n || src.Stats().Pending == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the records were never read: %+v", src.Stats())
		}
	}
	// The samples have the mapper's times.
	for _, r := range lanes.To {
		for b, ok := r.Pop(); ok; b, ok = r.Pop() {
			for _, smp := range b.Samples {
				if smp.Time < before {
					t.Fatalf("a sample of time %d, before the source started (%d): the mapper did not stamp it", smp.Time, before)
				}
			}
		}
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	for _, pt := range src.pending {
		if pt.tmax < before {
			t.Fatalf("a poll waits for the buckets of time %d, before its samples' time (%d at least)", pt.tmax, before)
		}
	}
}

// emittedAll is an aggregator that has emitted everything it popped (as
// after a pipeline's stop).
type emittedAll struct{}

func (emittedAll) SealedThrough() int64          { return math.MaxInt64 }
func (emittedAll) EmittedThrough() int64         { return math.MaxInt64 }
func (emittedAll) Expiry(applied, t int64) int64 { return 0 }

// TestKafkaStopCommitsNothingDropped: a source stopped while a poll waits
// for room in rings its shards are behind on drops what does not fit in
// the producer's last wait (counted), and does not commit that poll's
// offsets: they are read again. It committed them, losing the dropped
// samples for good.
func TestKafkaStopCommitsNothingDropped(t *testing.T) {
	const topic, n = "metrics", 300
	lanes := NewLanes(2, 2)
	lanes.Progress = emittedAll{}
	src, cfg := pausedKafka(t, topic, n, lanes)
	src.Stop() // the rings stay full: the shards are behind
	applied := countLanes([]Lanes{lanes})
	if err := src.Finish(); err != nil {
		t.Fatal(err)
	}
	st := src.Stats()
	if st.Dropped == 0 {
		t.Fatalf("nothing dropped at the stop (%+v): the test proves nothing", st)
	}
	offs := committedOffsets(t, cfg.Props[0][1], "g")
	committed := int64(0)
	offs.Each(func(o kadm.OffsetResponse) { committed += max(o.At, 0) })
	// Each message holds 3 samples: what was committed must have been
	// applied.
	if 3*committed > int64(applied) {
		t.Fatalf("%d samples dropped at the stop, %d applied, yet %d messages (%d samples) committed", st.Dropped, applied, committed, 3*committed)
	}
}

// committedOffsets returns group's committed offsets on the Kafka at addr.
func committedOffsets(t *testing.T, addr, group string) kadm.OffsetResponses {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	return offs
}
