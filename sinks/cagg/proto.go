package cagg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/sinks"
)

// Message types of the AggregationMessage framing (MAD-SPEC §9.3).
const (
	TypeHostIdentification byte = 0x01
	TypeHeartbeat          byte = 0x03
	TypeStatisticSet       byte = 0x04
	TypeSupportingData     byte = 0x05
	SubtypeSamples         byte = 0x01
	SubtypeSparseHistogram byte = 0x02
)

// HistogramPrecision is the precision MAD writes in
// SparseHistogramSupportingData: its histogram precision (7) plus one.
const HistogramPrecision = hist.Precision + 1

// errMissingDimension is returned for a bucket without the service or the
// cluster dimension (MAD's converter throws a NullPointerException).
var errMissingDimension = errors.New("bucket has no service or cluster dimension")

// encoder serialises PeriodicData into framed StatisticSetRecords. It keeps
// scratch buffers and caches; it is used by one goroutine (the emitter's).
type encoder struct {
	start, minReq         time.Time
	startText, minReqText []byte
	period                time.Duration
	periodText            []byte
	head                  []byte // fields 1 and 2 (service, cluster) of the current pd
	tail                  []byte // fields 8 (dimensions) and 9 of the current pd
	stat                  []byte
	sup                   []byte
	msg                   []byte
	// The metrics of the current pd by name (groupByName): next[i] is the
	// next metric of metric i's name, -1 for none; later[i] says metric i
	// is not its name's first. slots is the open-addressing table.
	next  []int32
	later []bool
	slots []int32
}

// groupByName links the metrics of ms that share a name (the same name
// reported as two types is two metrics: MAD sends one record per name).
func (e *encoder) groupByName(ms []sinks.Metric) {
	n := len(ms)
	e.next, e.later = slices.Grow(e.next[:0], n)[:n], slices.Grow(e.later[:0], n)[:n]
	size := 8
	for size < 2*n {
		size *= 2
	}
	e.slots = slices.Grow(e.slots[:0], size)[:size]
	for i := range e.slots {
		e.slots[i] = -1
	}
	mask := uint64(size - 1)
	for i := range ms {
		e.next[i], e.later[i] = -1, false
		for j := maphash.Bytes(nameSeed, ms[i].Name) & mask; ; j = (j + 1) & mask {
			k := e.slots[j] // the name's latest metric so far
			if k < 0 {
				e.slots[j] = int32(i)
				break
			}
			if bytes.Equal(ms[k].Name, ms[i].Name) {
				e.next[k], e.later[i], e.slots[j] = int32(i), true, int32(i)
				break
			}
		}
	}
}

var nameSeed = maphash.MakeSeed()

// prepare encodes what every record of pd shares. It fails when pd has no
// service or no cluster dimension.
func (e *encoder) prepare(pd *sinks.PeriodicData) error {
	service, ok1 := pd.Dimension("service")
	cluster, ok2 := pd.Dimension("cluster")
	if !ok1 || !ok2 {
		return errMissingDimension
	}
	if e.periodText == nil || pd.Period != e.period {
		e.period = pd.Period
		e.periodText = sinks.AppendPeriod(e.periodText[:0], pd.Period)
	}
	if e.startText == nil || !pd.Start.Equal(e.start) {
		e.start = pd.Start
		e.startText = AppendJavaTime(e.startText[:0], pd.Start)
	}
	e.head = e.head[:0]
	e.head = appendBytesField(e.head, 1, validUTF8(service))
	e.head = appendBytesField(e.head, 2, validUTF8(cluster))
	e.tail = e.tail[:0]
	for _, d := range pd.Dimensions {
		d.Key, d.Value = validUTF8(d.Key), validUTF8(d.Value)
		n := entrySize(d.Key) + entrySize(d.Value)
		e.tail = protowire.AppendTag(e.tail, 8, protowire.BytesType)
		e.tail = protowire.AppendVarint(e.tail, uint64(n))
		e.tail = protowire.AppendTag(e.tail, 1, protowire.BytesType)
		e.tail = protowire.AppendBytes(e.tail, d.Key)
		e.tail = protowire.AppendTag(e.tail, 2, protowire.BytesType)
		e.tail = protowire.AppendBytes(e.tail, d.Value)
	}
	if !pd.MinRequestTime.IsZero() {
		if e.minReqText == nil || !pd.MinRequestTime.Equal(e.minReq) {
			e.minReq = pd.MinRequestTime
			e.minReqText = AppendJavaTime(e.minReqText[:0], pd.MinRequestTime)
		}
		e.tail = appendBytesField(e.tail, 9, e.minReqText)
	}
	return nil
}

// entrySize is the encoded size of a map entry's key or value field
// (tag, length, bytes): both are always written, as protobuf-java does.
func entrySize(b []byte) int {
	return 1 + protowire.SizeBytes(len(b))
}

// encodeMetrics returns the framed StatisticSetRecord (0x04) of metric
// first of ms, of the pd given to prepare, and of those next links to it
// (the same name: one record with the statistics of every type, as MAD
// sends; next nil: first alone), appended to dst. Fields are written in
// field number order (protobuf-java's order); proto3 defaults are omitted.
func (e *encoder) encodeMetrics(dst []byte, ms []sinks.Metric, first int, next []int32) []byte {
	msg := append(e.msg[:0], e.head...)
	msg = appendBytesField(msg, 3, validUTF8(ms[first].Name))
	msg = appendBytesField(msg, 4, e.periodText)
	msg = appendBytesField(msg, 5, e.startText)
	for k := first; k >= 0; k = nextOf(next, k) {
		msg = e.appendStatistics(msg, &ms[k])
	}
	msg = append(msg, e.tail...)
	e.msg = msg
	return appendFrame(dst, msg, TypeStatisticSet)
}

// nextOf returns next[k], or -1 without links.
func nextOf(next []int32, k int) int {
	if next == nil {
		return -1
	}
	return int(next[k])
}

// appendStatistics appends the StatisticRecords (field 6) of m to msg.
func (e *encoder) appendStatistics(msg []byte, m *sinks.Metric) []byte {
	for i := range m.Statistics {
		st := &m.Statistics[i]
		if !st.HasValue {
			// MAD's Quantity(null) cannot be set on the builder; such a
			// statistic carries nothing, so it is not sent.
			continue
		}
		s := e.stat[:0]
		s = appendStringField(s, 1, st.Stat.String())
		if math.Float64bits(st.Value) != 0 {
			s = protowire.AppendTag(s, 2, protowire.Fixed64Type)
			s = protowire.AppendFixed64(s, math.Float64bits(st.Value))
		}
		s = appendStringField(s, 3, st.Unit)
		if st.Specified {
			s = protowire.AppendTag(s, 4, protowire.VarintType)
			s = protowire.AppendVarint(s, 1)
		}
		if st.Stat == hist.Histogram {
			// The statistic's value has no unit (MAD's Quantity(1.0));
			// its supporting data has the histogram's, the metric's.
			e.sup = appendHistogram(e.sup[:0], m.Unit, m.Histogram)
			s = protowire.AppendTag(s, 5, protowire.BytesType)
			s = protowire.AppendVarint(s, uint64(len(e.sup)))
			s = append(s, e.sup...)
		}
		e.stat = s
		msg = protowire.AppendTag(msg, 6, protowire.BytesType)
		msg = protowire.AppendBytes(msg, s)
	}
	return msg
}

// appendHistogram appends the framed (0x05 0x02) SparseHistogramSupportingData
// of buckets: bucket values unpacked (the truncated doubles), in ascending
// order, precision 8.
func appendHistogram(dst []byte, unit string, buckets []hist.Bucket) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, TypeSupportingData, SubtypeSparseHistogram)
	dst = appendStringField(dst, 1, unit)
	for _, b := range buckets {
		var n int
		bits := math.Float64bits(b.Key.Value())
		if bits != 0 {
			n += 1 + 8
		}
		if b.Count != 0 {
			n += 1 + protowire.SizeVarint(b.Count)
		}
		dst = protowire.AppendTag(dst, 2, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(n))
		if bits != 0 {
			dst = protowire.AppendTag(dst, 1, protowire.Fixed64Type)
			dst = protowire.AppendFixed64(dst, bits)
		}
		if b.Count != 0 {
			dst = protowire.AppendTag(dst, 2, protowire.VarintType)
			dst = protowire.AppendVarint(dst, b.Count)
		}
	}
	dst = protowire.AppendTag(dst, 3, protowire.VarintType)
	dst = protowire.AppendVarint(dst, HistogramPrecision)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

// appendFrame appends | length (4 bytes, big-endian, including itself) |
// type | msg |.
func appendFrame(dst, msg []byte, typ byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+1+len(msg)))
	dst = append(dst, typ)
	return append(dst, msg...)
}

// AppendHeartbeat appends a framed HeartbeatRecord (0x03) whose timestamp
// is now as Java's ZonedDateTime.now().toString() prints it in UTC.
func AppendHeartbeat(dst []byte, now time.Time) []byte {
	var msg []byte
	msg = appendBytesField(msg, 1, AppendJavaTime(nil, now))
	return appendFrame(dst, msg, TypeHeartbeat)
}

func appendBytesField(dst []byte, num protowire.Number, b []byte) []byte {
	if len(b) == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, b)
}

// validUTF8 returns b, or a copy with each invalid sequence replaced by
// U+FFFD: proto3 strings must be UTF-8 (protobuf-java refuses to parse
// others), and MAD's strings, decoded by Java, are.
func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return []byte(strings.ToValidUTF8(string(b), "\uFFFD"))
}

func appendStringField(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

// AppendJavaTime appends t, in UTC, as Java's ZonedDateTime.toString prints
// a UTC date-time: "2019-01-01T00:01Z" (seconds omitted when they and the
// fraction are zero), "2019-01-01T00:01:30Z", "…T00:01:30.500Z" (fraction
// in groups of 3 digits: milli, micro or nanoseconds).
func AppendJavaTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y := t.Year()
	switch {
	case y > 9999:
		dst = append(dst, '+')
		dst = strconv.AppendInt(dst, int64(y), 10)
	case y < 0:
		dst = append(dst, '-')
		dst = appendPad(dst, -y, 4)
	default:
		dst = appendPad(dst, y, 4)
	}
	dst = append(dst, '-')
	dst = appendPad(dst, int(t.Month()), 2)
	dst = append(dst, '-')
	dst = appendPad(dst, t.Day(), 2)
	dst = append(dst, 'T')
	dst = appendPad(dst, t.Hour(), 2)
	dst = append(dst, ':')
	dst = appendPad(dst, t.Minute(), 2)
	sec, nano := t.Second(), t.Nanosecond()
	if sec > 0 || nano > 0 {
		dst = append(dst, ':')
		dst = appendPad(dst, sec, 2)
		if nano > 0 {
			dst = append(dst, '.')
			switch {
			case nano%1_000_000 == 0:
				dst = appendPad(dst, nano/1_000_000, 3)
			case nano%1000 == 0:
				dst = appendPad(dst, nano/1000, 6)
			default:
				dst = appendPad(dst, nano, 9)
			}
		}
	}
	return append(dst, 'Z')
}

func appendPad(dst []byte, v, width int) []byte {
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(b); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// populationOf is MAD's population of the request of metric first of ms
// and those next links to it: its histogram's, if one of them has one,
// else the first's count.
func populationOf(ms []sinks.Metric, first int, next []int32) int64 {
	for k := first; k >= 0; k = nextOf(next, k) {
		if hasHistogram(&ms[k]) {
			return hist.EntriesCount(ms[k].Histogram)
		}
	}
	return ms[first].PopulationSize
}

// hasHistogram reports whether m has the histogram statistic.
func hasHistogram(m *sinks.Metric) bool {
	for i := range m.Statistics {
		if m.Statistics[i].Stat == hist.Histogram {
			return true
		}
	}
	return false
}
