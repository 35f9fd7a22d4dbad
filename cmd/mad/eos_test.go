package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomad/mad/engine/tiertest"
)

// The Kafka second tier's exactly-once mode with mad processes: a tier
// killed (SIGKILL) in the middle of an epoch, perhaps in the middle of its
// transaction, loses nothing and doubles nothing. engine/eos_test.go runs a
// rebalance in one process.

// eosOutput reads topic with isolation (tiertest.Output).
func eosOutput(t *testing.T, broker, topic string, isolation kgo.IsolationLevel) (tiertest.Totals, map[[2]int64]int64) {
	t.Helper()
	totals, recs, err := tiertest.Output(broker, topic, isolation)
	must(t, err)
	return totals, recs
}

// eosOffsets compares the group's committed offsets on topic with the
// topic's end offsets: it returns the partitions whose committed offset is
// not the end, described, and the committed offsets with their metadata.
func eosOffsets(adm *kadm.Client, group, topic string) (behind []string, meta map[int32]kadm.OffsetResponse, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, err
	}
	got, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = got.Error()
	}
	if err != nil {
		return nil, nil, err
	}
	meta = map[int32]kadm.OffsetResponse{}
	ends.Each(func(e kadm.ListedOffset) {
		c, ok := got.Lookup(e.Topic, e.Partition)
		switch {
		case !ok:
			behind = append(behind, fmt.Sprintf("%d: none of %d", e.Partition, e.Offset))
		case c.At != e.Offset:
			behind = append(behind, fmt.Sprintf("%d: %d of %d (%q)", e.Partition, c.At, e.Offset, c.Metadata))
		}
		if ok {
			meta[e.Partition] = c
		}
	})
	slices.Sort(behind)
	return behind, meta, nil
}

// eosTerm sends SIGTERM to a tier and waits for it to exit 0 (it commits
// its last transaction). Errors and the messages of a sink that could not
// deliver fail the test, but for the transactional sink's warning at
// start-up, before its source opened the client.
func eosTerm(t *testing.T, p *madProc) {
	t.Helper()
	must(t, p.cmd.Process.Signal(syscall.SIGTERM))
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
	var bad, warn []string
	for _, l := range strings.Split(p.out.String(), "\n") {
		switch {
		case strings.Contains(l, `msg="kafka sink: cannot read the topic's partitions"`) && strings.Contains(l, `err="the transactional source has not started"`):
		case strings.Contains(l, "level=ERROR") || strings.Contains(l, `msg="kafka sink:`):
			bad = append(bad, l)
		case strings.Contains(l, "level=WARN"):
			warn = append(warn, l)
		}
	}
	if len(bad) > 0 {
		t.Errorf("errors in the log:\n%s", strings.Join(bad, "\n"))
	}
	if len(warn) > 0 {
		t.Logf("warnings in the log:\n%s", strings.Join(warn, "\n"))
	}
}

// waitLong polls ok every 100 ms up to d.
func waitLong(t *testing.T, what string, d time.Duration, ok func() bool, dump func() string) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out (%v) waiting for %s\n%s", d, what, dump())
		}
	}
}

// TestKafkaTierExactlyOnceKill: three edges write partials of PT1S buckets
// an hour ago into 8 partitions, at first ten seconds of them and then one
// more every 100 ms. Tier A, a mad in exactly-once mode (a transaction per
// second, 300 ms after it), re-aggregates them into 4 output partitions;
// once A has committed a transaction, tier B joins its group (a
// rebalance); once each has committed a transaction since, A is killed
// (SIGKILL) while it reads, when its transaction at the broker holds
// output. The edges write 15 more seconds; B takes A's partitions over
// when A's session times out, and the group commits every input message,
// each offset the end of the partition (nothing is held back: every bucket
// is in the past). Read committed, the output holds every input sample
// exactly once: per series and second, the counts and sums of the output's
// parts equal those the edges wrote, whatever A's last transaction held (it
// aborts when its timeout expires; until then the output's last stable
// offsets stay behind it).
func TestKafkaTierExactlyOnceKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	began := time.Now()
	const in, out, group = "partials", "out", "tier"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, in), kfake.SeedTopics(4, out))
	must(t, err)
	t.Cleanup(cluster.Close)
	r := &tierRig{t: t, bin: buildMad(t), dir: t.TempDir(), broker: cluster.ListenAddrs()[0], topic: in}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(r.broker))
	must(t, err)
	t.Cleanup(admCl.Close)
	adm := kadm.NewClient(admCl)

	tier := func(name, txnID string) *madProc {
		return r.start(name, []string{"PT1S"}, r.partialsSource(group, fmt.Sprintf(`pollTime="PT0.02S"
    bufferSize=20
    # Kafka aborts a killed tier's open transaction after 5 s.
    exactlyOnce={ transactionalId=%q, delay="PT0.3S", configs={ "transaction.timeout.ms"="5000" } }`, txnID)), fmt.Sprintf(`{
    type="io.gomad.mad.sinks.KafkaSink"
    name="out"
    topic=%q
    transactionalId=%q
  }`, out, txnID))
	}
	metric := func(p *madProc, pipeline, name string) float64 { return kafkaMetric(p, name, pipeline) }
	numbers := func(p *madProc, pipeline string) string {
		return fmt.Sprintf("messages %v, transactions %v, aborts %v, skipped %v, partitions %v",
			metric(p, pipeline, "mad_source_kafka_messages_total"), metric(p, pipeline, "mad_source_kafka_transactions_total"),
			metric(p, pipeline, "mad_source_kafka_transaction_aborts_total"), metric(p, pipeline, "mad_source_kafka_skipped_total"),
			metric(p, pipeline, "mad_source_kafka_partitions"))
	}

	seed := uint64(time.Now().UnixNano())
	edges, err := tiertest.NewEdges(r.broker, in, 3, seed)
	must(t, err)
	t.Cleanup(func() { edges.Close() })
	for range 10 {
		edges.Second()
	}

	// Tier A reads the first ten seconds; the edges go on, one second every
	// 100 ms, until A is killed, and then write 15 more.
	a := tier("tier-a", "tier-a")
	a.waitFor(t, "tier A's first messages", func() bool { return metric(a, "tier-a", "mad_source_kafka_messages_total") > 0 })
	killed, stop := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var atKill int
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-killed:
				atKill = edges.Seconds
				for range 15 {
					<-tick.C
					edges.Second()
				}
				return
			case <-tick.C:
				if edges.Seconds < 600 {
					edges.Second()
				}
			}
		}
	}()
	stopped := false
	stopEdges := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	t.Cleanup(stopEdges)

	// Tier B joins the group once A has committed a transaction: a
	// rebalance (A's open transaction aborts or commits).
	a.waitFor(t, "tier A's first transaction", func() bool { return metric(a, "tier-a", "mad_source_kafka_transactions_total") >= 1 })
	b := tier("tier-b", "tier-b")
	b.waitFor(t, "the partitions shared", func() bool {
		pa, pb := metric(a, "tier-a", "mad_source_kafka_partitions"), metric(b, "tier-b", "mad_source_kafka_partitions")
		return pa > 0 && pb > 0 && pa+pb == 8
	})
	aTxns := metric(a, "tier-a", "mad_source_kafka_transactions_total")
	b.waitFor(t, "a transaction of each tier after the rebalance", func() bool {
		return metric(b, "tier-b", "mad_source_kafka_transactions_total") >= 1 && metric(a, "tier-a", "mad_source_kafka_transactions_total") > aTxns
	})
	// Kill A while it reads its share and its transaction at the broker
	// holds output (A is emitting into it), or, if that is not seen within
	// 60 s, at least while it reads.
	read := metric(a, "tier-a", "mad_source_kafka_messages_total")
	var aNumbers, txnAtKill string
	var aRead float64
	ongoing := func() bool {
		txns, err := adm.DescribeTransactions(context.Background(), "tier-a")
		d, ok := txns["tier-a"]
		txnAtKill = fmt.Sprintf("%v (%v)", err, ok)
		if ok {
			txnAtKill = fmt.Sprintf("%s with %d output partitions", d.State, len(d.Topics[out]))
		}
		return ok && d.State == "Ongoing" && len(d.Topics[out]) > 0
	}
	var bAtKill string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		bAtKill = numbers(b, "tier-b")
		aNumbers = numbers(a, "tier-a")
		aRead = metric(a, "tier-a", "mad_source_kafka_messages_total")
		late := time.Now().After(deadline)
		if aRead > read && (ongoing() || late) {
			break
		}
		if late {
			t.Fatalf("tier A read nothing in 60 s: %s\n%s", aNumbers, a.out.String())
		}
	}
	must(t, a.cmd.Process.Signal(syscall.SIGKILL))
	a.cmd.Wait()
	killedAt := time.Now()
	txnBefore := txnAtKill
	ongoing()
	txnAtKill = txnBefore + " just before the kill; " + txnAtKill + " after it"
	close(killed)
	wg.Wait()
	stopped = true
	messages, err := edges.Close()
	must(t, err)
	if ends := r.endOffsets(); uint64(ends) != messages {
		t.Fatalf("the input topic has %d messages; the edges delivered %d", ends, messages)
	}

	// B takes A's partitions over once A's session timed out, and commits
	// every input message (every bucket is in the past: nothing is held
	// back). A commit of A pending in its open transaction, if it was
	// killed while committing, waits for the transaction's timeout
	// (transaction.timeout.ms, 5 s).
	var behind []string
	var allParts time.Duration
	waitLong(t, "tier B holding every partition, every input message committed", 60*time.Second+32*time.Second, func() bool {
		if metric(b, "tier-b", "mad_source_kafka_partitions") != 8 {
			return false
		}
		if allParts == 0 {
			allParts = time.Since(killedAt)
		}
		var err error
		behind, _, err = eosOffsets(adm, group, in)
		return err == nil && len(behind) == 0
	}, func() string {
		return fmt.Sprintf("behind: %v\ntier B: %s\n%s\n%s", behind, numbers(b, "tier-b"), b.out.String(), b.metrics("mad_source"))
	})
	tookOver := time.Since(killedAt)
	bNumbers := numbers(b, "tier-b")
	bRead := metric(b, "tier-b", "mad_source_kafka_messages_total")
	if n := metric(b, "tier-b", "mad_source_kafka_refused_total"); n != 0 {
		t.Errorf("tier B refused %v messages", n)
	}
	eosTerm(t, b)
	// B's last transaction at SIGTERM commits nothing beyond the ends, and
	// nothing was held back: each partition's commit is an exactly-once
	// one whose offset is the end E of what was read (metadata "mad-eos
	// b=B e=E").
	behind, meta, err := eosOffsets(adm, group, in)
	if err != nil || len(behind) != 0 {
		t.Errorf("after tier B's exit, committed offsets behind the ends: %v (%v)", behind, err)
	}
	if len(meta) != 8 {
		t.Errorf("%d partitions committed; want 8", len(meta))
	}
	for p, o := range meta {
		var bound, end int64
		if n, _ := fmt.Sscanf(o.Metadata, "mad-eos b=%d e=%d", &bound, &end); n != 2 || end != o.At {
			t.Errorf("partition %d: committed offset %d with metadata %q; want an exactly-once commit with e=%d (nothing held back)", p, o.At, o.Metadata, o.At)
		}
	}

	// The output's last stable offsets reach their ends once A's open
	// transaction, if any, has timed out (aborted).
	waitLong(t, "no open transaction on the output", 60*time.Second+32*time.Second, func() bool {
		lso, err1 := adm.ListCommittedOffsets(context.Background(), out)
		hwm, err2 := adm.ListEndOffsets(context.Background(), out)
		if err1 != nil || err2 != nil || lso.Error() != nil || hwm.Error() != nil {
			return false
		}
		same := true
		hwm.Each(func(o kadm.ListedOffset) {
			if l, ok := lso.Lookup(out, o.Partition); !ok || l.Offset != o.Offset {
				same = false
			}
		})
		return same
	}, func() string {
		txns, _ := adm.DescribeTransactions(context.Background(), "tier-a", "tier-b")
		return fmt.Sprintf("transactions: %+v", txns)
	})
	stable := time.Since(killedAt)

	got, committed := eosOutput(t, r.broker, out, kgo.ReadCommitted())
	all, uncommitted := eosOutput(t, r.broker, out, kgo.ReadUncommitted())
	pids := map[int64]string{}
	if txns, err := adm.DescribeTransactions(context.Background(), "tier-a", "tier-b"); err == nil {
		for id, d := range txns {
			pids[d.ProducerID] = id
		}
	}
	abortedBy := map[string]int{}
	for k, pid := range uncommitted {
		if _, ok := committed[k]; !ok {
			abortedBy[pids[pid]]++
		}
	}
	if !maps.Equal(got, edges.Want) {
		var diffs []string
		for k, w := range edges.Want {
			if got[k] != w {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", k, got[k], w))
			}
		}
		for k, g := range got {
			if _, ok := edges.Want[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, not sent", k, g))
			}
		}
		n := len(diffs)
		slices.Sort(diffs)
		if len(diffs) > 10 {
			diffs = diffs[:10]
		}
		t.Errorf("%d series × seconds sent, %d in the output, %d differ:\n%s", len(edges.Want), len(got), n, strings.Join(diffs, "\n"))
	}
	dup := 0
	for k, w := range edges.Want {
		if all[k] != w {
			dup++
		}
	}
	t.Logf("seed %d: %d bucket-seconds (%d written when A was killed), %d input messages, %d series × seconds",
		seed, edges.Seconds, atKill, messages, len(edges.Want))
	t.Logf("tier A before the kill: %s (read %v); its transaction at the kill: %s", aNumbers, aRead, txnAtKill)
	t.Logf("tier B at the kill: %s", bAtKill)
	t.Logf("tier B at the end: %s (read %v); it held every partition %v after the kill, and every offset was committed %v after it",
		bNumbers, bRead, allParts.Round(time.Millisecond), tookOver.Round(time.Millisecond))
	t.Logf("output: %d records committed, %d in aborted transactions (by transactional id: %v), the last open transaction closed %v after the kill; read uncommitted, %d series × seconds would differ",
		len(committed), len(uncommitted)-len(committed), abortedBy, stable.Round(time.Millisecond), dup)
	t.Logf("%v", time.Since(began).Round(time.Millisecond))
}
