// Package tiertest helps the tests of the Kafka second tier (engine's and
// the commands'): edges writing partials from the test process, as an edge
// mad's KafkaSink does, with the totals they wrote; and the totals an
// output topic of partials holds.
package tiertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomad/mad/hist"
	ipartials "github.com/gomad/mad/ingest/partials"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/kafka"
)

// Totals are, per series (its canonical key, hex) and bucket start
// ("key@ms"), the sum of the partials' counts and of their sums.
type Totals map[string][2]float64

func (t Totals) add(key []byte, startMs int64, count, sum float64) {
	k := fmt.Sprintf("%x@%d", key, startMs)
	v := t[k]
	t[k] = [2]float64{v[0] + count, v[1] + sum}
}

// Edges are edges writing partials of PT1S buckets an hour ago through
// sinks/kafka; Want sums what they wrote.
type Edges struct {
	sks  []*kafka.Sink
	base time.Time
	rng  *rand.Rand
	Want Totals
	// Seconds is the number of bucket-seconds written.
	Seconds int
	closed  bool
}

// NewEdges makes n edges writing to topic.
func NewEdges(broker, topic string, n int, seed uint64) (*Edges, error) {
	e := &Edges{base: time.Now().Add(-time.Hour).Truncate(time.Minute), rng: rand.New(rand.NewPCG(seed, 29)), Want: Totals{}}
	for range n {
		sk, err := kafka.New(kafka.Config{Name: "edge", Topic: topic, Period: time.Second, MaxMessageBytes: 1024,
			Props: [][2]string{{"bootstrap.servers", broker}, {"linger.ms", "2"}}})
		if err != nil {
			e.Close()
			return nil, err
		}
		e.sks = append(e.sks, sk)
	}
	return e, nil
}

// StartAt makes the next Second write the bucket of the second that
// holds t (and the following ones after it).
func (e *Edges) StartAt(t time.Time) {
	e.base = t.Truncate(time.Second).Add(-time.Duration(e.Seconds) * time.Second)
}

// Second writes every edge's bucket of the next second: 30 counters of the
// service (each edge has a part of them) and 4 of the edge's host.
func (e *Edges) Second() {
	start := e.base.Add(time.Duration(e.Seconds) * time.Second)
	e.Seconds++
	for i, sk := range e.sks {
		host := fmt.Sprint("edge", i)
		for _, dims := range [][]sample.Dim{
			{{Key: []byte("service"), Value: []byte("shop")}},
			{{Key: []byte("host"), Value: []byte(host)}, {Key: []byte("service"), Value: []byte("shop")}},
		} {
			pd := &sinks.PeriodicData{Period: time.Second, Start: start, Dimensions: dims}
			metrics := 30
			if len(dims) > 1 {
				metrics = 4
			}
			for m := range metrics {
				name := fmt.Appendf(nil, "c%d", m)
				n := int64(1 + e.rng.IntN(5))
				sum := float64(n * int64(1+e.rng.IntN(100)))
				pd.Metrics = append(pd.Metrics, sinks.Metric{Name: name, Type: "counter", PopulationSize: n,
					Statistics: []sinks.Statistic{{Stat: hist.Count, Value: float64(n), HasValue: true}, {Stat: hist.Sum, Value: sum, HasValue: true}}})
				key, _ := sample.AppendKey(nil, sample.KindCounter, name, dims)
				e.Want.add(key, start.UnixMilli(), float64(n), sum)
			}
			sk.Record(pd)
		}
		sk.Flush()
	}
}

// Close delivers what the edges wrote and returns the messages delivered;
// it fails if an edge did not deliver everything.
func (e *Edges) Close() (uint64, error) {
	if e.closed {
		return 0, nil
	}
	e.closed = true
	var delivered uint64
	var errs []error
	for _, sk := range e.sks {
		errs = append(errs, sk.Close())
		st := sk.Stats()
		if st.Failed != 0 || st.Dropped != 0 || st.Delivered != st.Messages {
			errs = append(errs, fmt.Errorf("an edge did not deliver everything: %+v", st))
		}
		delivered += st.Delivered
	}
	return delivered, errors.Join(errs...)
}

// Output reads topic (partials) with isolation and sums its totals; it
// also returns the records read, by partition and offset, with their
// producer ids. It reads to the end of every partition, however slowly the
// broker answers: it first appends a marker record of its own to each
// partition (outside any transaction; call it once the writers have
// stopped, as a transaction left open would hide the marker from a
// read_committed reader until it ends), then reads until it has met every
// marker, for at most outputWait. Markers are not in what it returns.
func Output(broker, topic string, isolation kgo.IsolationLevel) (Totals, map[[2]int64]int64, error) {
	token := fmt.Sprintf("%x", rand.Uint64())
	parts, err := appendMarkers(broker, topic, token)
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(isolation))
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	dec := ipartials.NewDecoder(ipartials.Config{})
	var b sample.Batch
	totals := Totals{}
	recs := map[[2]int64]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), outputWait)
	defer cancel()
	for len(parts) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("output of %s: the end of partitions %v not reached in %v", topic, parts, outputWait)
		}
		for _, r := range fs.Records() {
			if m, ok := markerOf(r); ok {
				if m == token {
					delete(parts, r.Partition)
				}
				continue
			}
			recs[[2]int64{int64(r.Partition), r.Offset}] = r.ProducerID
			b.Reset()
			if _, _, err := dec.Decode(r.Value, func(uint64) *sample.Batch { return &b }); err != nil {
				return nil, nil, fmt.Errorf("output message %d/%d: %w", r.Partition, r.Offset, err)
			}
			for i := range b.Samples {
				s := &b.Samples[i]
				if s.Flags&sample.FlagAgg != 0 {
					a := b.Aggs[s.Agg]
					totals.add(b.Key(s), s.Time, a.Count, a.Sum)
				}
			}
		}
	}
	return totals, recs, nil
}

// outputWait bounds Output's reading.
const outputWait = 2 * time.Minute

// markerHeader names the header of Output's marker records.
const markerHeader = "tiertest-end"

// markerOf returns the token of a marker record.
func markerOf(r *kgo.Record) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == markerHeader {
			return string(h.Value), true
		}
	}
	return "", false
}

// appendMarkers appends a marker record carrying token to every partition
// of topic, and returns the partitions.
func appendMarkers(broker, topic, token string) (map[int32]bool, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), outputWait)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("output of %s: %w", topic, err)
	}
	parts := map[int32]bool{}
	var recs []*kgo.Record
	ends.Each(func(o kadm.ListedOffset) {
		parts[o.Partition] = true
		recs = append(recs, &kgo.Record{Topic: topic, Partition: o.Partition, Headers: []kgo.RecordHeader{{Key: markerHeader, Value: []byte(token)}}})
	})
	if len(parts) == 0 {
		return nil, fmt.Errorf("output of %s: no partitions", topic)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return nil, fmt.Errorf("output of %s: appending the end markers: %w", topic, err)
	}
	return parts, nil
}
