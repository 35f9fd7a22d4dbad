package bench

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// Cell is one point of MAD's own performance grid (PERF.md's S3, from
// ApplicationPipelinePT): UnitsOfWork records per second, each with Names
// metrics of Samples samples.
type Cell struct {
	UnitsOfWork, Names, Samples int
}

func (c Cell) String() string {
	return fmt.Sprintf("uow=%d names=%d samples=%d", c.UnitsOfWork, c.Names, c.Samples)
}

// SamplesPerSecond is what the cell asks an aggregator to take.
func (c Cell) SamplesPerSecond() int { return c.UnitsOfWork * c.Names * c.Samples }

// Grid is MAD's grid: {10k, 30k, 90k} × {1, 10, 100} × {1, 5, 25}.
func Grid() []Cell {
	var cs []Cell
	for _, u := range []int{10_000, 30_000, 90_000} {
		for _, n := range []int{1, 10, 100} {
			for _, s := range []int{1, 5, 25} {
				cs = append(cs, Cell{u, n, s})
			}
		}
	}
	return cs
}

// Diagonal is three cells across the grid, for a short run.
func Diagonal() []Cell {
	return []Cell{{10_000, 1, 1}, {30_000, 10, 5}, {90_000, 100, 25}}
}

// Protocol is how S3 samples travel.
type Protocol string

// The S3 protocols.
const (
	V3          Protocol = "v3"          // MAD client protocol V3 over HTTP
	RemoteWrite Protocol = "remotewrite" // Prometheus remote write over HTTP
	StatsDLines Protocol = "statsd"      // one-line StatsD datagrams
	// OTLPGRPC and OTLPHTTP (otlp.go) are OTLP's, with a workload of
	// their own (OTLP) rather than MAD's grid.
)

// s3Dims are the dimensions of every S3 record, as MAD's generator sets
// host, service and cluster.
var s3Dims = [][2]string{{"cluster", "bench"}, {"host", "bench-host"}, {"service", "s3"}}

// s3Name is the name of metric i of a cell.
func s3Name(i int, p Protocol) string {
	if p == RemoteWrite {
		return fmt.Sprintf("s3_metric_%03d_value", i)
	}
	return fmt.Sprintf("s3.metric_%03d", i)
}

// s3Value is sample j of unit of work u: a lognormal latency-like value,
// deterministic, in the integers-and-fractions range MAD's buckets see.
func s3Value(r *rand.Rand) float64 {
	return math.Round(math.Exp(4+r.NormFloat64())*100) / 100
}

// maxS3Bytes bounds the prebuilt messages of a cell: the biggest cells ask
// for gigabytes per second, more than a sender can build or send.
const maxS3Bytes = 256 << 20

// Units of work per message: the Java client's batch of 500 records for V3,
// 100 scrapes per remote-write request, one sample per StatsD datagram.
const (
	v3Batch = 500
	rwBatch = 100
)

// MessagesPerSecond is the send rate of cell c in protocol p.
func (c Cell) MessagesPerSecond(p Protocol) float64 {
	switch p {
	case V3:
		return float64(c.UnitsOfWork) / v3Batch
	case RemoteWrite:
		return float64(c.UnitsOfWork) / rwBatch
	}
	return float64(c.SamplesPerSecond())
}

// BuildS3 returns the messages of cell c in protocol p, at most
// maxMessages of them and about 256 MiB (a run sends them round-robin at
// the cell's rate,
// MessagesPerSecond): MAD V3 Requests of 500 records (the Java client's
// batch), remote-write requests of 100 units of work, or one datagram per
// sample. Record times are stamped at send time (Payloads.Stamps).
func BuildS3(c Cell, p Protocol, seed uint64, maxMessages int) *Payloads {
	r := rand.New(rand.NewPCG(seed, 0x53))
	out := &Payloads{Name: "S3 " + string(p) + " " + c.String(), Series: c.Names}
	dims := map[string]string{}
	if p != StatsDLines {
		for _, d := range s3Dims {
			dims[d[0]] = d[1]
		}
	}
	if p == RemoteWrite {
		dims = map[string]string{"instance": "bench-host", "job": "s3"}
	}
	out.Identity = func(i int) string { return Identity(s3Name(i, p), dims) }
	switch p {
	case V3:
		out.Path = "/metrics/v3/application"
		for left := c.UnitsOfWork; left > 0 && len(out.Messages) < maxMessages && out.bytes < maxS3Bytes; {
			n := min(v3Batch, left)
			body, stamps, exact := v3Request(c, n, r)
			out.add(body, n*c.Names*c.Samples, exact, stamps)
			left -= n
		}
	case RemoteWrite:
		out.Path = "/metrics/prometheus" // MAD's route (Target.RemoteWritePath for others)
		out.Compress = true
		for left := c.UnitsOfWork; left > 0 && len(out.Messages) < maxMessages && out.bytes < maxS3Bytes; {
			n := min(rwBatch, left)
			body, stamps, exact := writeRequest(c, n, r)
			out.add(body, n*c.Names*c.Samples, exact, stamps)
			left -= n
		}
	case StatsDLines:
		for u := 0; u < c.UnitsOfWork && len(out.Messages) < maxMessages; u++ {
			for i := 0; i < c.Names && len(out.Messages) < maxMessages; i++ {
				for j := 0; j < c.Samples && len(out.Messages) < maxMessages; j++ {
					v := s3Value(r)
					line := s3Name(i, p) + ":" + strconv.FormatFloat(v, 'f', -1, 64) + "|h\n"
					out.add([]byte(line), 1, []Contribution{{Series: int32(i), Value: v}}, nil)
				}
			}
		}
	default:
		panic("bench: unknown protocol " + string(p))
	}
	return out
}

func (p *Payloads) add(msg []byte, lines int, exact []Contribution, stamps []StampAt) {
	p.bytes += len(msg)
	p.Messages = append(p.Messages, msg)
	p.Lines = append(p.Lines, lines)
	p.Exact = append(p.Exact, exact)
	if stamps != nil || p.Stamps != nil {
		for len(p.Stamps) < len(p.Messages)-1 {
			p.Stamps = append(p.Stamps, nil)
		}
		p.Stamps = append(p.Stamps, stamps)
	}
}

// StampAt locates a record time in a message: a 6-byte protobuf varint at
// Off that gets the send time minus Before milliseconds, or with Nanos an
// 8-byte fixed64 that gets that time in nanoseconds (OTLP's
// time_unix_nano).
type StampAt struct {
	Off    int
	Before int32
	Nanos  bool
}

// addExact adds one sample of series i to exact, which holds one entry
// per series (series 0, 1, … in order).
func addExact(exact []Contribution, i int, v float64) []Contribution {
	for len(exact) <= i {
		exact = append(exact, Contribution{Series: int32(len(exact))})
	}
	exact[i].N++
	exact[i].Value += v
	return exact
}

// Stamp writes t (milliseconds since the epoch, below 2^42) minus each
// stamp's Before at every stamp of msg, as a 6-byte varint (non-minimal for
// small t, which protobuf decoders accept), or as a fixed64 of nanoseconds.
func Stamp(msg []byte, stamps []StampAt, t int64) {
	for _, s := range stamps {
		v := uint64(t - int64(s.Before))
		if s.Nanos {
			binary.LittleEndian.PutUint64(msg[s.Off:], v*1e6)
			continue
		}
		for i := 0; i < 5; i++ {
			msg[s.Off+i] = byte(v) | 0x80
			v >>= 7
		}
		msg[s.Off+5] = byte(v) & 0x7F
	}
}

// stampPlaceholder appends a 6-byte varint to b and returns its offset.
func stampPlaceholder(b []byte) ([]byte, int) {
	at := len(b)
	return append(b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), at
}

// v3Request encodes a client protocol V3 Request of n records (MAD-SPEC
// §9.1): each with a random id, the end time to stamp, the S3 dimensions
// and the cell's metrics with their samples.
func v3Request(c Cell, n int, r *rand.Rand) (body []byte, stamps []StampAt, exact []Contribution) {
	ident := func(b []byte, num protowire.Number, s string) []byte {
		var id []byte
		id = protowire.AppendTag(id, 1, protowire.BytesType)
		id = protowire.AppendString(id, s)
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, id)
	}
	var rec []byte
	for range n {
		rec = rec[:0]
		rec = protowire.AppendTag(rec, 1, protowire.BytesType)
		var id [16]byte
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		rec = protowire.AppendBytes(rec, id[:])
		rec = protowire.AppendTag(rec, 2, protowire.VarintType)
		var at int
		rec, at = stampPlaceholder(rec)
		for _, d := range s3Dims {
			var de []byte
			de = ident(de, 1, d[0])
			de = ident(de, 2, d[1])
			rec = protowire.AppendTag(rec, 4, protowire.BytesType)
			rec = protowire.AppendBytes(rec, de)
		}
		for i := 0; i < c.Names; i++ {
			var samples []byte
			for range c.Samples {
				v := s3Value(r)
				samples = protowire.AppendFixed64(samples, math.Float64bits(v))
				exact = addExact(exact, i, v)
			}
			var nd []byte
			nd = protowire.AppendTag(nd, 1, protowire.BytesType)
			nd = protowire.AppendBytes(nd, samples)
			var md []byte
			md = ident(md, 1, s3Name(i, V3))
			md = protowire.AppendTag(md, 2, protowire.BytesType)
			md = protowire.AppendBytes(md, nd)
			rec = protowire.AppendTag(rec, 5, protowire.BytesType)
			rec = protowire.AppendBytes(rec, md)
		}
		body = protowire.AppendTag(body, 1, protowire.BytesType)
		body = protowire.AppendVarint(body, uint64(len(rec)))
		stamps = append(stamps, StampAt{Off: len(body) + at})
		body = append(body, rec...)
	}
	return body, stamps, exact
}

// writeRequest encodes a Prometheus remote-write WriteRequest (MAD-SPEC
// §9.4) of n units of work: per unit, one series per metric with the cell's
// samples, one millisecond apart (stamped at send time).
func writeRequest(c Cell, n int, r *rand.Rand) (body []byte, stamps []StampAt, exact []Contribution) {
	label := func(b []byte, k, v string) []byte {
		var l []byte
		l = protowire.AppendTag(l, 1, protowire.BytesType)
		l = protowire.AppendString(l, k)
		l = protowire.AppendTag(l, 2, protowire.BytesType)
		l = protowire.AppendString(l, v)
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		return protowire.AppendBytes(b, l)
	}
	var ts []byte
	for range n {
		for i := 0; i < c.Names; i++ {
			ts = ts[:0]
			ts = label(ts, "__name__", s3Name(i, RemoteWrite))
			ts = label(ts, "instance", "bench-host")
			ts = label(ts, "job", "s3")
			var sampleAt []StampAt
			for j := range c.Samples {
				v := s3Value(r)
				exact = addExact(exact, i, v)
				var s []byte
				s = protowire.AppendTag(s, 1, protowire.Fixed64Type)
				s = protowire.AppendFixed64(s, math.Float64bits(v))
				s = protowire.AppendTag(s, 2, protowire.VarintType)
				var at int
				s, at = stampPlaceholder(s)
				ts = protowire.AppendTag(ts, 2, protowire.BytesType)
				ts = protowire.AppendVarint(ts, uint64(len(s)))
				sampleAt = append(sampleAt, StampAt{Off: len(ts) + at, Before: int32(c.Samples - 1 - j)})
				ts = append(ts, s...)
			}
			body = protowire.AppendTag(body, 1, protowire.BytesType)
			body = protowire.AppendVarint(body, uint64(len(ts)))
			for _, sa := range sampleAt {
				sa.Off += len(body)
				stamps = append(stamps, sa)
			}
			body = append(body, ts...)
		}
	}
	return body, stamps, exact
}
