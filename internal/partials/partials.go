// Package partials defines mad's partials format, version 1: the
// re-aggregable partial aggregates mad's KafkaSink writes (one Kafka
// message value per bucket group and partition) and a second-tier mad's
// PartialsParser reads back. It holds the format's field numbers, its
// series identity and partition hash, and the encoder; the decoder is
// ingest/partials.
//
// A message is protobuf (proto3 wire format):
//
//	message Partials {
//	  uint32 version   = 1;  // 1; any other is refused
//	  uint64 period_ms = 2;  // the bucket period, > 0
//	  int64  start_ms  = 3;  // the bucket start, ms since the epoch
//	  repeated Set sets = 4;
//	}
//	message Set {             // one dimension set of the bucket
//	  bytes dims = 1;         // the dimension section (below)
//	  int64 min_request_time_ms = 2;  // 0 or absent: none
//	  repeated Series series = 3;     // none: MAD's empty bucket
//	}
//	message Series {
//	  bytes  name  = 1;       // UTF-8
//	  uint32 kind  = 2;       // 1 counter, 2 gauge, 3 timer, 5 by name
//	  string unit  = 3;       // MAD's unit enum name; absent: none
//	  uint64 count = 4;       // the samples (MAD's populationSize)
//	  double sum   = 5;       // each of sum, min and max only when the
//	  double min   = 6;       // edge computed it
//	  double max   = 7;
//	  repeated uint32 hist_keys   = 8 [packed];  // the histogram: MAD's
//	  repeated uint64 hist_counts = 9 [packed];  // 19-bit packed bucket keys
//	  bool   hist  = 10;      // the edge kept a histogram (maybe empty)
//	}
//
// The dimension section is the dimensions sorted by key bytes, keys unique:
// uvarint(count), then per dimension uvarint(len key), key, uvarint(len
// value), value. A histogram bucket key is a double's bits >> 45 (sign, 11
// exponent bits, 7 mantissa bits: MAD's precision), as in the V3 client
// protocol; keys and counts pair up by position.
//
// A series goes to partition Partition(dims, name, n): the CRC-32C
// (Castagnoli) of the dimension section followed by uvarint(len name) and
// the name, modulo the number of partitions. Every edge therefore sends a
// series to the same partition, and one tier consumer sees all of it.
package partials

import (
	"encoding/binary"
	"hash/crc32"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Version is the format version this package writes and reads.
const Version = 1

// Field numbers.
const (
	FieldVersion = 1
	FieldPeriod  = 2
	FieldStart   = 3
	FieldSets    = 4

	SetDims    = 1
	SetMinReq  = 2
	SetSeries  = 3
	SeriesName = 1
	SeriesKind = 2
	SeriesUnit = 3
	SeriesCnt  = 4
	SeriesSum  = 5
	SeriesMin  = 6
	SeriesMax  = 7
	SeriesKeys = 8
	SeriesCnts = 9
	SeriesHist = 10
)

// Kinds on the wire.
const (
	KindCounter = 1
	KindGauge   = 2
	KindTimer   = 3
	// KindByName is a metric a pipeline `statistics` override aggregated
	// by name whatever its type; a tier with the same override does so
	// again, one without aggregates it as a timer.
	KindByName = 5
)

const (
	varintType  = 0
	fixed64Type = 1
	bytesType   = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// DimsHash is the CRC-32C of a dimension section: the first part of the
// partition hash of every series of the set.
func DimsHash(dims []byte) uint32 { return crc32.Update(0, castagnoli, dims) }

// Partition returns the partition of series name in the set whose
// dimension section hashes to dimsHash (DimsHash), among n partitions.
func Partition(dimsHash uint32, name []byte, n int) int {
	var l [binary.MaxVarintLen64]byte
	h := crc32.Update(dimsHash, castagnoli, l[:binary.PutUvarint(l[:], uint64(len(name)))])
	h = crc32.Update(h, castagnoli, name)
	return int(h % uint32(n))
}

// AppendDims appends the dimension section of n dimensions; dim(i) returns
// the i-th, in key order.
func AppendDims(dst []byte, n int, dim func(i int) (k, v []byte)) []byte {
	dst = binary.AppendUvarint(dst, uint64(n))
	for i := range n {
		k, v := dim(i)
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// Series is one series' partial aggregates, as the encoder takes them.
type Series struct {
	Name  []byte
	Kind  uint32
	Unit  string
	Count uint64
	// Sum, Min and Max are written when their Has flag is set.
	Sum, Min, Max          float64
	HasSum, HasMin, HasMax bool
	// Hist says the series kept a histogram, whose buckets are Keys and
	// Counts (paired by position, in the histogram's order).
	Hist   bool
	Keys   []uint32
	Counts []uint64
}

// Message builds one Partials message. The zero value is ready for Reset.
// It keeps its buffers across messages.
type Message struct {
	b    []byte // the message, sets closed so far
	set  []byte // the open set's fields
	open bool   // a set is open
	rows int
	// setRows: the series of the open set.
	setRows int
}

// Reset starts a message of the bucket (period, start).
func (m *Message) Reset(periodMs uint64, startMs int64) {
	m.b = m.b[:0]
	m.b = appendVarint(m.b, FieldVersion, Version)
	m.b = appendVarint(m.b, FieldPeriod, periodMs)
	m.b = appendVarint(m.b, FieldStart, uint64(startMs))
	m.open, m.rows = false, 0
}

// Set opens a set (closing the one before): its dimension section and
// minimum request time (0: none).
func (m *Message) Set(dims []byte, minReqMs int64) {
	m.closeSet()
	m.set = appendBytes(m.set[:0], SetDims, dims)
	if minReqMs != 0 {
		m.set = appendVarint(m.set, SetMinReq, uint64(minReqMs))
	}
	m.open, m.setRows = true, 0
}

// DropEmptySet drops the open set if it has no series yet: a message that
// ends before a set's first series must not carry the set (a set without
// series is an empty bucket).
func (m *Message) DropEmptySet() {
	if m.open && m.setRows == 0 {
		m.open = false
	}
}

// Series adds a series to the open set; len(s.Counts) must be len(s.Keys).
func (m *Message) Series(s *Series) {
	n, keysLen, countsLen := seriesLen(s)
	b := binary.AppendUvarint(appendTag(m.set, SetSeries, bytesType), uint64(n))
	b = appendBytes(b, SeriesName, s.Name)
	b = appendVarint(b, SeriesKind, uint64(s.Kind))
	if s.Unit != "" {
		b = appendTag(b, SeriesUnit, bytesType)
		b = binary.AppendUvarint(b, uint64(len(s.Unit)))
		b = append(b, s.Unit...)
	}
	b = appendVarint(b, SeriesCnt, s.Count)
	if s.HasSum {
		b = appendDouble(b, SeriesSum, s.Sum)
	}
	if s.HasMin {
		b = appendDouble(b, SeriesMin, s.Min)
	}
	if s.HasMax {
		b = appendDouble(b, SeriesMax, s.Max)
	}
	if len(s.Keys) > 0 {
		b = binary.AppendUvarint(appendTag(b, SeriesKeys, bytesType), uint64(keysLen))
		for _, k := range s.Keys {
			b = binary.AppendUvarint(b, uint64(k))
		}
		b = binary.AppendUvarint(appendTag(b, SeriesCnts, bytesType), uint64(countsLen))
		for _, c := range s.Counts {
			b = binary.AppendUvarint(b, c)
		}
	}
	if s.Hist {
		b = appendVarint(b, SeriesHist, 1)
	}
	m.set = b
	m.rows++
	m.setRows++
}

// SeriesLen returns the bytes Series(s) would add to the message.
func (m *Message) SeriesLen(s *Series) int {
	n, _, _ := seriesLen(s)
	return 1 + protowire.SizeVarint(uint64(n)) + n
}

// seriesLen returns the length of a series' message (n) and of its keys'
// and counts' packed fields.
func seriesLen(s *Series) (n, keysLen, countsLen int) {
	for i, k := range s.Keys {
		keysLen += protowire.SizeVarint(uint64(k))
		countsLen += protowire.SizeVarint(s.Counts[i])
	}
	n = 1 + protowire.SizeVarint(uint64(len(s.Name))) + len(s.Name) + 1 + protowire.SizeVarint(uint64(s.Kind)) + 1 + protowire.SizeVarint(s.Count)
	if s.Unit != "" {
		n += 1 + protowire.SizeVarint(uint64(len(s.Unit))) + len(s.Unit)
	}
	for _, has := range [...]bool{s.HasSum, s.HasMin, s.HasMax} {
		if has {
			n += 9
		}
	}
	if s.Hist {
		n += 2
	}
	if len(s.Keys) > 0 {
		n += 2 + protowire.SizeVarint(uint64(keysLen)) + keysLen + protowire.SizeVarint(uint64(countsLen)) + countsLen
	}
	return n, keysLen, countsLen
}

// Rows returns the series added since Reset.
func (m *Message) Rows() int { return m.rows }

// Len returns the message's length so far (to split messages).
func (m *Message) Len() int { return len(m.b) + len(m.set) }

// Bytes closes the message and returns it; it is valid until the next Reset.
func (m *Message) Bytes() []byte {
	m.closeSet()
	return m.b
}

func (m *Message) closeSet() {
	if !m.open {
		return
	}
	m.b = appendBytes(m.b, FieldSets, m.set)
	m.open = false
}

func appendTag(b []byte, field, typ int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(typ))
}

func appendVarint(b []byte, field int, v uint64) []byte {
	return binary.AppendUvarint(appendTag(b, field, varintType), v)
}

func appendDouble(b []byte, field int, v float64) []byte {
	return binary.LittleEndian.AppendUint64(appendTag(b, field, fixed64Type), math.Float64bits(v))
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(appendTag(b, field, bytesType), uint64(len(v)))
	return append(b, v...)
}
