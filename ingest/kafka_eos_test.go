package ingest

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gomad/mad/internal/partials"
)

// TestEOSRulesSurviveATakeover: an owner that took a partition over and
// commits before reaching the end of its previous owner's rule keeps that
// rule (messages there whose bucket starts before its boundary are in the
// previous owner's committed output); rules that end at or below the
// committed offset are dropped. The metadata reads back as written.
func TestEOSRulesSurviveATakeover(t *testing.T) {
	a := []skipRule{{b: 2000, end: 500}} // A committed at 300, holding back from 300 to 500
	// B read from 300 to 400 and commits at 400 (its epoch's boundary 3000).
	b := nextRules(a, skipRule{b: 3000, end: 400}, 400)
	if want := []skipRule{{3000, 400}, {2000, 500}}; !slices.Equal(b, want) {
		t.Fatalf("rules %v, want %v", b, want)
	}
	for _, c := range []struct {
		offset, start int64
		skip          bool
	}{
		{450, 1000, true},  // in A's output
		{450, 2500, false}, // A held it back; B had not read it
		{350, 2500, true},  // in B's output
		{350, 3500, false}, // held back by B
		{600, 1000, false}, // past every rule: late data, applied
	} {
		if got := skips(b, c.offset, c.start); got != c.skip {
			t.Errorf("offset %d, start %d: skip %v, want %v", c.offset, c.start, got, c.skip)
		}
	}
	// Once a commit passes 500, A's rule goes.
	if c := nextRules(b, skipRule{b: 4000, end: 700}, 600); !slices.Equal(c, []skipRule{{4000, 700}}) {
		t.Errorf("rules %v", c)
	}
	m := eosMetadataOf(b)
	got, ok := parseEOSMetadata(m)
	if !ok || !slices.Equal(got, b) {
		t.Errorf("%q read back as %v, %v", m, got, ok)
	}
	for _, bad := range []string{"", "mad-eos", "mad-eos b=1", "mad-eos b=1 x=2", "other b=1 e=2", "mad-eos b=x e=2"} {
		if _, ok := parseEOSMetadata(bad); ok {
			t.Errorf("%q read as rules", bad)
		}
	}
}

// TestEOSReleasesRevokedPartitions: records of a partition the source no
// longer owns (revoked since they were read, or held back across a
// commit) are not applied: the partition's next owner reads them from the
// committed offset, and applying them too would put them in two committed
// outputs. Those of owned partitions are.
func TestEOSReleasesRevokedPartitions(t *testing.T) {
	const topic = "partials"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lanes := NewLanes(1, 64)
	src, err := OpenKafka(KafkaConfig{Name: "k", Topics: []string{topic}, PollTime: 20 * time.Millisecond, MaxRecords: 50,
		Partials: true, Periods: []time.Duration{time.Second}, Txn: &KafkaTxn{ID: "release-test"},
		Props: [][2]string{{"bootstrap.servers", c.ListenAddrs()[0]}, {"group.id", "g"}}}, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Finish()
	// Not started: the test plays the loop. The group assigns both
	// partitions to the client; then partition 1 goes (as a revocation
	// does).
	deadline := time.Now().Add(30 * time.Second)
	for src.Stats().Partitions != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the group did not assign the partitions: %+v", src.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	src.ownMu.Lock()
	delete(src.owned, topicPartition{topic, 1})
	src.ownMu.Unlock()
	const start = 1_700_000_000_000
	src.eos.b = start + 1000
	var m partials.Message
	m.Reset(1000, start)
	m.Set(partials.AppendDims(nil, 1, func(int) (k, v []byte) { return []byte("host"), []byte("a") }), start)
	m.Series(&partials.Series{Name: []byte("requests"), Kind: partials.KindCounter, Count: 3, HasSum: true, Sum: 7})
	msg := append([]byte(nil), m.Bytes()...)
	rs := []*kgo.Record{
		{Topic: topic, Partition: 0, Offset: 5, Value: msg},
		{Topic: topic, Partition: 1, Offset: 7, Value: msg},
	}
	src.applyEOS(rs, src.readEpochs(rs), true)
	st := src.Stats()
	if st.Samples != 1 || st.Released != 1 || st.Messages != 2 {
		t.Fatalf("stats %+v; want 1 sample applied, 1 message released, 2 read", st)
	}
	if got := src.eos.consumed; len(got) != 1 || got[topicPartition{topic, 0}] != 6 {
		t.Fatalf("consumed %v; want partition 0 at 6 alone", got)
	}
	if n := countLanes([]Lanes{lanes}); n != 1 {
		t.Fatalf("%d samples published; want 1", n)
	}
	// Held back under an assignment of partition 0 that has since been
	// replaced by another (revoked and assigned again: the consumer reads
	// it again from the committed offset): released too.
	src.ownMu.Lock()
	src.assigned++
	src.owned[topicPartition{topic, 0}] = src.assigned
	src.ownMu.Unlock()
	src.eos.known = false // the assignment changed: the rules are read again
	src.applyEOS(rs[:1], []uint64{src.assigned - 1}, false)
	if st := src.Stats(); st.Samples != 1 || st.Released != 2 {
		t.Fatalf("stats %+v; want the record of the earlier assignment released", st)
	}
}

// TestEOSStopBeforeApplyAborts: a source that stops while it cannot read
// the skip rules applies nothing of what it polled, and its open
// transaction aborts instead of committing franz-go's offsets past those
// records (no one would ever apply them).
func TestEOSStopBeforeApplyAborts(t *testing.T) {
	const topic = "partials"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src, err := OpenKafka(KafkaConfig{Name: "k", Topics: []string{topic}, PollTime: 20 * time.Millisecond, MaxRecords: 50,
		Partials: true, Periods: []time.Duration{time.Second}, Txn: &KafkaTxn{ID: "stop-test"},
		Props: [][2]string{{"bootstrap.servers", c.ListenAddrs()[0]}, {"group.id", "g"}}}, []Lanes{NewLanes(1, 64)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Finish()
	// The group's committed offsets cannot be read.
	c.ControlKey(int16(kmsg.OffsetFetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.OffsetFetchRequest)
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		for _, g := range req.Groups {
			resp.Groups = append(resp.Groups, kmsg.OffsetFetchResponseGroup{Group: g.Group, ErrorCode: kerr.GroupAuthorizationFailed.Code})
		}
		return resp, nil, true
	})
	// Not started: the test plays the loop, in a transaction, stopping.
	if err := src.eos.sess.Begin(); err != nil {
		t.Fatal(err)
	}
	src.eos.inTxn = true
	src.stopOnce.Do(func() { close(src.stop) })
	rs := []*kgo.Record{{Topic: topic, Partition: 0, Offset: 0, Value: []byte("x")}}
	src.applyEOS(rs, []uint64{1}, true)
	if !src.eos.txn.Failed() {
		t.Fatal("the transaction is not failed: the stop would commit it past what was polled and not applied")
	}
	if st := src.Stats(); st.Samples != 0 {
		t.Fatalf("stats %+v: something was applied", st)
	}
}
