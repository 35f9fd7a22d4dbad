package promrw

import (
	"encoding/binary"
	"strconv"

	"github.com/klauspost/compress/snappy"

	"github.com/gomad/mad/internal/bounded"
	"github.com/gomad/mad/internal/sample"
)

// DefaultMaxDecompressed is the limit on the decompressed message when
// Config.MaxDecompressed is 0.
const DefaultMaxDecompressed = 256 << 20

// retainLimit bounds the decompression buffer a Decoder keeps between calls:
// a larger one, grown for an exceptional request, is given back to the
// garbage collector after the call instead of being held by the producer
// slot for good.
const retainLimit = 64 << 20

// Config configures a Decoder. The zero value is MAD's default
// PrometheusHttpSource (interpretUnits=false, no whitelist) with no record
// limit and DefaultMaxDecompressed.
type Config struct {
	// InterpretUnits is MAD's interpretUnits: a unit from the name's last
	// token (or the token before an aggregation suffix): seconds → SECOND,
	// bytes → BYTE, bits → BIT (normalised to BYTE), celcius → CELCIUS
	// (sic; normalised to KELVIN).
	InterpretUnits bool
	// ReservedNameWhitelist is MAD's reservedNameWhitelist: full (trimmed)
	// names kept although their last token is total, bucket, sum, avg or
	// count.
	ReservedNameWhitelist []string
	// MaxRecords bounds the records (samples) of one request; 0 means no
	// limit. Beyond it Decode fails with sample.ErrTooLarge.
	MaxRecords int
	// MaxDecompressed bounds the decompressed message in bytes; 0 means
	// DefaultMaxDecompressed. A snappy block declaring more is refused with
	// sample.ErrTooLarge before anything is allocated.
	MaxDecompressed int
}

// Stats says what one call decoded: Counts (what a Decode call returns; in
// remote write each sample is one MAD record, so they are equal), and what
// was left out, for self-metrics; MAD leaves out the same things silently.
type Stats struct {
	sample.Counts
	// SkippedSeries counts series MAD skips: with an `le` label, or whose
	// last name token is an aggregation key and whose name is not
	// whitelisted.
	SkippedSeries int
	// NonFinite counts samples skipped for a NaN or infinite value
	// (including Prometheus stale markers), as MAD skips them.
	NonFinite int
	// TooLong counts samples of kept series whose canonical key would exceed
	// sample.MaxKeyLen (a limit MAD does not have); they are skipped.
	TooLong int
	// Histograms counts native histogram samples, which are ignored (MAD has
	// none: remote write 1.0 TimeSeries field 4 is unknown to MAD's proto;
	// remote write 2.0 TimeSeries.histograms).
	Histograms int
}

// Decoder decodes remote write requests into samples. It owns scratch space
// (the decompression buffer, dimensions, the key, v2's symbol table) that it
// reuses, so in steady state a call allocates nothing. One per producer slot;
// not safe for concurrent use.
type Decoder struct {
	cfg       Config
	whitelist map[string]struct{}
	maxLen    int

	buf  []byte       // decompressed message
	dims []sample.Dim // labels of the current series, referencing buf
	key  []byte       // canonical key of the current series
	syms []span       // v2: the symbol table, as spans of buf
	refs []uint32     // v2: label references of the current series
	smps []span       // samples of the current series, as spans of buf

	version int
	st      Stats
	// The batch the current series' key was last put into and its length
	// right after: while both still hold, the next sample of the series
	// shares the key (the producer is the batch's only writer, and a batch
	// published and handed back in between would have been reset).
	lastB *sample.Batch
	lastN int
	ref   sample.KeyRef
}

// span locates a symbol or a sample in the decompressed message.
type span struct{ off, len uint32 }

// NewDecoder returns a decoder for cfg.
func NewDecoder(cfg Config) *Decoder {
	d := &Decoder{cfg: cfg, maxLen: cfg.MaxDecompressed}
	if d.maxLen <= 0 {
		d.maxLen = DefaultMaxDecompressed
	}
	if len(cfg.ReservedNameWhitelist) > 0 {
		d.whitelist = make(map[string]struct{}, len(cfg.ReservedNameWhitelist))
		for _, n := range cfg.ReservedNameWhitelist {
			d.whitelist[n] = struct{}{}
		}
	}
	return d
}

// Decode decodes a remote write 1.0 request: body is a snappy block (not the
// framed stream format) holding a prometheus.WriteRequest. Each finite
// sample of each kept series becomes one GAUGE sample at the sample's
// timestamp, appended to the batch route picks. now is unused: MAD takes the
// time from the samples. body is not retained; the samples' keys are copied
// into the batches.
//
// On error the caller discards everything routed during the call (MAD
// refuses the whole request). The error is a *sample.DecodeError of kind
// sample.ErrMalformed (400) or sample.ErrTooLarge (413: MaxRecords,
// MaxDecompressed). Stats says more about the call.
func (d *Decoder) Decode(body []byte, now int64, route sample.Route) (sample.Counts, error) {
	return d.decode(body, 1, route)
}

// DecodeV2 decodes a remote write 2.0 request (io.prometheus.write.v2.Request,
// Content-Type application/x-protobuf;proto=io.prometheus.write.v2.Request),
// snappy block compressed like 1.0. Labels are resolved through the symbol
// table and then go through exactly MAD's rules; see the package
// documentation for what of 2.0 is ignored.
func (d *Decoder) DecodeV2(body []byte, now int64, route sample.Route) (sample.Counts, error) {
	return d.decode(body, 2, route)
}

func (d *Decoder) decode(body []byte, version int, route sample.Route) (sample.Counts, error) {
	d.version = version
	d.st = Stats{}
	msg, err := d.decompress(body)
	if err == nil {
		if version == 2 {
			err = d.decodeV2(msg, route)
		} else {
			err = d.decodeV1(msg, route)
		}
	}
	d.lastB = nil
	if cap(d.buf) > retainLimit {
		// Let the collector have the buffer: nothing may keep pointing into
		// it.
		d.buf = nil
		clear(d.dims[:cap(d.dims)])
	}
	return d.st.Counts, err
}

// Stats returns what the last call decoded and left out.
func (d *Decoder) Stats() Stats { return d.st }

// decompress decodes the snappy block into the decoder's buffer. Like
// xerial's Snappy.uncompress (C++ snappy) it refuses every malformed block,
// including the S2 extensions a lenient decoder would accept.
func (d *Decoder) decompress(body []byte) ([]byte, error) {
	n, hdr := binary.Uvarint(body)
	if hdr <= 0 || hdr > 5 || n > 0xffffffff {
		return nil, d.fail(-1, -1, "corrupt snappy block: bad length header")
	}
	if n > uint64(d.maxLen) {
		return nil, d.limit(-1, "the decompressed message would be "+strconv.FormatUint(n, 10)+" bytes, more than the limit of "+strconv.Itoa(d.maxLen))
	}
	// A block declaring more than it can hold cannot be valid: refused
	// before allocating what it claims.
	if !bounded.SnappyHolds(n, len(body)-hdr) {
		return nil, d.fail(-1, -1, "corrupt snappy block: declares "+strconv.FormatUint(n, 10)+
			" bytes, more than its "+strconv.Itoa(len(body)-hdr)+" bytes after the length can hold")
	}
	if uint64(cap(d.buf)) < n {
		d.buf = make([]byte, n)
	}
	out, err := snappy.DecodeStrict(d.buf[:cap(d.buf)], body)
	if err != nil {
		return nil, d.fail(-1, -1, "corrupt snappy block: "+err.Error())
	}
	return out, nil
}

// fail returns what MAD refuses with 400 (a ParsingException): a corrupt
// snappy block, a malformed protobuf message (which includes invalid UTF-8
// in a string field), a series with an empty name, a series with a
// duplicate label name, or, in remote write 2.0, a malformed label
// reference; in series (-1: outside any), at off in the decompressed
// message (-1: the snappy block).
func (d *Decoder) fail(series, off int, reason string) error {
	return &sample.DecodeError{Kind: sample.ErrMalformed, Format: d.format(), Unit: "series", Index: series, Reason: reason,
		Offset: off, OffsetIn: "the decompressed message"}
}

// limit returns a request over a limit (413).
func (d *Decoder) limit(series int, reason string) error {
	return &sample.DecodeError{Kind: sample.ErrTooLarge, Format: d.format(), Unit: "series", Index: series, Reason: reason, Offset: -1}
}

func (d *Decoder) format() string {
	if d.version == 2 {
		return "prometheus remote write 2.0 request"
	}
	return "prometheus remote write 1.0 request"
}

// emit appends one sample of the current series (key, hash h).
func (d *Decoder) emit(route sample.Route, key []byte, h uint64, t int64, v float64, u sample.Unit) error {
	if d.cfg.MaxRecords > 0 && d.st.Records >= d.cfg.MaxRecords {
		return d.limit(-1, "more than "+strconv.Itoa(d.cfg.MaxRecords)+" records in one request")
	}
	b := route(h)
	if b != d.lastB || len(b.Samples) != d.lastN {
		d.ref = b.PutKeyBytes(key, h)
	}
	b.AddValue(d.ref, t, 0, v, u)
	d.lastB, d.lastN = b, len(b.Samples)
	d.st.Records++
	d.st.Samples++
	return nil
}
