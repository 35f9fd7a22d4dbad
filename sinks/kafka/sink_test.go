package kafka

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/partials"
	"github.com/gomad/mad/sinks"
)

// crc32c is CRC-32C written out bit by bit (reflected polynomial
// 0x82F63B78), independent of hash/crc32's tables.
func crc32c(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x82F63B78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

// TestPartitionIsStable: a series' partition is the CRC-32C of its
// dimension section, its name's length and its name, as the format says;
// pinned values keep it stable across versions.
func TestPartitionIsStable(t *testing.T) {
	if c := crc32c([]byte("123456789")); c != 0xe3069283 {
		t.Fatalf("the test's CRC-32C: check value %#x, want 0xe3069283", c)
	}
	dims := partials.AppendDims(nil, 2, func(i int) (k, v []byte) {
		return [][]byte{[]byte("host"), []byte("service")}[i], [][]byte{[]byte("web-1"), []byte("api")}[i]
	})
	if want := "\x02\x04host\x05web-1\x07service\x03api"; string(dims) != want {
		t.Fatalf("dims %q, want %q", dims, want)
	}
	name := []byte("api.latency")
	whole := append(append(slices.Clone(dims), byte(len(name))), name...)
	for _, n := range []int{1, 8, 12, 64, 1000} {
		got := partials.Partition(partials.DimsHash(dims), name, n)
		if want := int(crc32c(whole) % uint32(n)); got != want {
			t.Errorf("%d partitions: %d, want %d", n, got, want)
		}
	}
	// Pinned: changing these changes where every tier reads a series.
	if h := crc32c(whole); h != 0x9e64eed9 {
		t.Errorf("crc32c = %#x, pinned 0x9e64eed9", h)
	}
	if p := partials.Partition(partials.DimsHash(dims), name, 8); p != 1 {
		t.Errorf("partition of 8: %d, pinned 1", p)
	}
}

func cluster(t *testing.T, topic string, partitions int32) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// readAll reads every message of topic: up to the end offsets of its
// partitions (the sink writes outside transactions: offsets are
// contiguous), however slowly the broker answers.
func readAll(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	left := map[int32]int64{} // partition: the offset still to reach
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	var rs []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: partitions %v not read to their end", topic, left)
		}
		for _, r := range fs.Records() {
			rs = append(rs, r)
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		}
	}
	return rs
}

// row is a series as a message carries it, rendered.
type row struct {
	partition int32
	period    uint64
	start     int64
	dims      string
	minReq    int64
	text      string // name, kind, unit, count, sum/min/max, histogram
}

// field is one protobuf field, read with protowire (the decoder's own
// reader is not under test here).
type field struct {
	num protowire.Number
	v   uint64
	b   []byte
}

func fieldsOf(t *testing.T, b []byte) []field {
	t.Helper()
	var fs []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			t.Fatalf("wire type %d", typ)
		}
		if n < 0 {
			t.Fatalf("bad field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		fs = append(fs, f)
	}
	return fs
}

func varints(t *testing.T, b []byte) []uint64 {
	var vs []uint64
	for len(b) > 0 {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			t.Fatalf("bad packed varint")
		}
		vs, b = append(vs, v), b[n:]
	}
	return vs
}

// rows renders the series of a message.
func rows(t *testing.T, r *kgo.Record) []row {
	t.Helper()
	var out []row
	var period uint64
	var start int64
	type set struct {
		dims   string
		minReq int64
		series []string
	}
	var sets []set
	for _, f := range fieldsOf(t, r.Value) {
		switch f.num {
		case partials.FieldPeriod:
			period = f.v
		case partials.FieldStart:
			start = int64(f.v)
		case partials.FieldSets:
			var st set
			for _, g := range fieldsOf(t, f.b) {
				switch g.num {
				case partials.SetDims:
					st.dims = string(g.b)
				case partials.SetMinReq:
					st.minReq = int64(g.v)
				case partials.SetSeries:
					var text string
					var keys, counts []uint64
					for _, h := range fieldsOf(t, g.b) {
						switch h.num {
						case partials.SeriesName:
							text += "name=" + string(h.b)
						case partials.SeriesKind:
							text += fmt.Sprintf(" kind=%d", h.v)
						case partials.SeriesUnit:
							text += " unit=" + string(h.b)
						case partials.SeriesCnt:
							text += fmt.Sprintf(" count=%d", h.v)
						case partials.SeriesSum:
							text += fmt.Sprintf(" sum=%v", math.Float64frombits(h.v))
						case partials.SeriesMin:
							text += fmt.Sprintf(" min=%v", math.Float64frombits(h.v))
						case partials.SeriesMax:
							text += fmt.Sprintf(" max=%v", math.Float64frombits(h.v))
						case partials.SeriesKeys:
							keys = append(keys, varints(t, h.b)...)
						case partials.SeriesCnts:
							counts = append(counts, varints(t, h.b)...)
						case partials.SeriesHist:
							text += " hist"
						}
					}
					if len(keys) > 0 {
						text += fmt.Sprintf(" buckets=%v:%v", keys, counts)
					}
					st.series = append(st.series, text)
				}
			}
			sets = append(sets, st)
		}
	}
	for _, st := range sets {
		if len(st.series) == 0 {
			out = append(out, row{r.Partition, period, start, st.dims, st.minReq, "empty"})
		}
		for _, x := range st.series {
			out = append(out, row{r.Partition, period, start, st.dims, st.minReq, x})
		}
	}
	return out
}

func stat(s hist.Stat, v float64) sinks.Statistic {
	return sinks.Statistic{Stat: s, Value: v, HasValue: true, Specified: true}
}

// TestSinkWritesPartials: buckets become partials on the partitions of
// their series; sets and other periods are skipped and counted; a bucket
// without metrics is an empty set; small messages split.
func TestSinkWritesPartials(t *testing.T) {
	for _, maxBytes := range []int{0, 200} {
		t.Run(fmt.Sprint("maxMessageBytes=", maxBytes), func(t *testing.T) {
			const topic = "partials"
			addr := cluster(t, topic, 4)
			s, err := New(Config{Name: "k", Topic: topic, Period: time.Minute, MaxMessageBytes: maxBytes,
				Props: [][2]string{{"bootstrap.servers", addr}, {"compression.type", "zstd"}}})
			if err != nil {
				t.Fatal(err)
			}
			start := time.UnixMilli(1_700_000_040_000).UTC()
			host := []sinks.Dimension{{Key: []byte("host"), Value: []byte("h1")}}
			var want []row
			dims := "\x01\x04host\x02h1"
			for i := range 20 {
				name := fmt.Sprintf("t%d", i)
				pd := &sinks.PeriodicData{Period: time.Minute, Start: start, Dimensions: host,
					MinRequestTime: time.UnixMilli(1_700_000_041_000 + int64(i)),
					Metrics: []sinks.Metric{
						{Name: []byte(name), Type: "timer", Unit: "SECOND", PopulationSize: 3,
							Statistics: []sinks.Statistic{stat(hist.Count, 3), stat(hist.Sum, 1.5), stat(hist.Min, 0.25), stat(hist.Max, 1), stat(hist.TP99, 1)},
							Histogram:  []hist.Bucket{{Key: hist.Pack(0.25), Count: 1}, {Key: hist.Pack(0.25), Count: 0}, {Key: hist.Pack(1), Count: 2}}},
						{Name: []byte("c" + name), Type: "counter", PopulationSize: 2,
							Statistics: []sinks.Statistic{stat(hist.Count, 2), stat(hist.Sum, 7), {Stat: hist.Min}}},
						{Name: []byte("s" + name), Type: "set", PopulationSize: 4, Statistics: []sinks.Statistic{stat(hist.Count, 4)}},
						{Name: []byte("x" + name), Type: "", PopulationSize: 1, Statistics: []sinks.Statistic{stat(hist.Count, 1)}},
					}}
				s.Record(pd)
				part := func(n string) int32 {
					return int32(partials.Partition(partials.DimsHash([]byte(dims)), []byte(n), 4))
				}
				minReq := pd.MinRequestTime.UnixMilli()
				want = append(want,
					row{part(name), 60000, start.UnixMilli(), dims, minReq, fmt.Sprintf("name=%s kind=3 unit=SECOND count=3 sum=1.5 min=0.25 max=1 hist buckets=[%d %d %d]:[1 0 2]",
						name, hist.Pack(0.25), hist.Pack(0.25), hist.Pack(1))},
					row{part("c" + name), 60000, start.UnixMilli(), dims, minReq, fmt.Sprintf("name=c%s kind=1 count=2 sum=7", name)},
					row{part("x" + name), 60000, start.UnixMilli(), dims, minReq, fmt.Sprintf("name=x%s kind=5 count=1", name)})
			}
			// A bucket of another period, and an empty bucket.
			s.Record(&sinks.PeriodicData{Period: time.Second, Start: start, Dimensions: host,
				Metrics: []sinks.Metric{{Name: []byte("t0"), Type: "timer", PopulationSize: 1}}})
			s.Record(&sinks.PeriodicData{Period: time.Minute, Start: start.Add(time.Minute)})
			want = append(want, row{int32(partials.Partition(partials.DimsHash([]byte{0}), nil, 4)), 60000, start.Add(time.Minute).UnixMilli(), "\x00", 0, "empty"})
			s.Flush()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			var got []row
			rs := readAll(t, addr, topic)
			for _, r := range rs {
				got = append(got, rows(t, r)...)
			}
			cmp := func(a, b row) int {
				return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
			}
			slices.SortFunc(got, cmp)
			slices.SortFunc(want, cmp)
			if !slices.Equal(got, want) {
				t.Errorf("got %d rows:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
			}
			st := s.Stats()
			if st.Rows != 60 || st.SkippedSets != 20 || st.OtherPeriods != 1 || st.Delivered != st.Messages ||
				st.DeliveredRows != 60 || st.Messages != uint64(len(rs)) || st.Failed+st.Dropped != 0 {
				t.Errorf("stats %+v, %d messages read", st, len(rs))
			}
			if maxBytes == 0 && len(rs) > 5 {
				t.Errorf("%d messages: want one per partition and bucket", len(rs))
			}
			if maxBytes > 0 && len(rs) < 10 {
				t.Errorf("%d messages: want them split at %d bytes", len(rs), maxBytes)
			}
			for _, r := range rs {
				// A message ends before the series that would take it
				// past the limit (each of these fits alone).
				if maxBytes > 0 && len(r.Value) > maxBytes {
					t.Errorf("a message of %d bytes: want at most %d", len(r.Value), maxBytes)
				}
			}
		})
	}
}

// TestSinkCountsWhatItCannotWrite: without brokers the sink learns no
// partition count; after Block it drops the bucket, counted.
func TestSinkCountsWhatItCannotWrite(t *testing.T) {
	s, err := New(Config{Name: "k", Topic: "t", Period: time.Second, Block: 100 * time.Millisecond,
		Props: [][2]string{{"bootstrap.servers", "127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	s.Record(&sinks.PeriodicData{Period: time.Second, Start: time.Unix(100, 0),
		Metrics: []sinks.Metric{{Name: []byte("a"), Type: "counter"}, {Name: []byte("b"), Type: "counter"}}})
	st := s.Stats()
	if st.Dropped != 1 || st.DroppedRows != 2 || st.Rows != 0 {
		t.Errorf("stats %+v", st)
	}
	s.cfg.CloseTimeout = 100 * time.Millisecond
	s.Close()
}

// TestSinkRefusesBadConfig: producer properties mad cannot honour, a
// missing topic, a bad period.
func TestSinkRefusesBadConfig(t *testing.T) {
	for _, c := range []Config{
		{Topic: "", Period: time.Second, Props: [][2]string{{"bootstrap.servers", "x:1"}}},
		{Topic: "t", Period: 0, Props: [][2]string{{"bootstrap.servers", "x:1"}}},
		{Topic: "t", Period: time.Second, Props: [][2]string{{"bootstrap.servers", "x:1"}, {"transactional.id", "a"}}},
		{Topic: "t", Period: time.Second, Props: [][2]string{{"bootstrap.servers", "x:1"}, {"acks", "1"}, {"enable.idempotence", "true"}}},
		{Topic: "t", Period: time.Second, Props: [][2]string{{"bootstrap.servers", "x:1"}, {"compression.type", "brotli"}}},
	} {
		if s, err := New(c); err == nil {
			s.Close()
			t.Errorf("%+v: no error", c)
		}
	}
}

// TestNotInTransaction: a record produced by a transactional client that
// is not in a transaction fails with the error notInTransaction knows.
func TestNotInTransaction(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()[0]), kgo.TransactionalID("not-in-txn"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	err = cl.ProduceSync(context.Background(), &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr()
	if err == nil || !notInTransaction(err) {
		t.Fatalf("producing outside a transaction: %v; want franz-go's not-in-a-transaction error", err)
	}
	if notInTransaction(context.Canceled) {
		t.Fatal("context.Canceled taken for not in a transaction")
	}
}
