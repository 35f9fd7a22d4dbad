package promrw

import (
	"encoding/binary"
	"strconv"

	"github.com/klauspost/compress/snappy"

	"github.com/gomad/mad/internal/sample"
)

// Route returns the batch that the samples of the series with this key hash
// go to: the producer's Route method. It may publish a full batch and return
// a fresh one.
type Route = func(hash uint64) *sample.Batch

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
	// limit. Beyond it Decode returns ErrTooManyRecords.
	MaxRecords int
	// MaxDecompressed bounds the decompressed message in bytes; 0 means
	// DefaultMaxDecompressed. A snappy block declaring more is refused with
	// ErrTooLarge before anything is allocated.
	MaxDecompressed int
}

// Stats says what one call decoded. Records and Samples are the common
// shape of every HTTP decoder; in remote write each sample is one MAD record,
// so they are equal. The other counters say what was left out, for
// self-metrics; MAD leaves out the same things silently.
type Stats struct {
	Records, Samples int
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
// refuses the whole request). A *ParseError means 400; ErrTooManyRecords and
// ErrTooLarge mean 413.
func (d *Decoder) Decode(body []byte, now int64, route Route) (Stats, error) {
	return d.decode(body, 1, route)
}

// DecodeV2 decodes a remote write 2.0 request (io.prometheus.write.v2.Request,
// Content-Type application/x-protobuf;proto=io.prometheus.write.v2.Request),
// snappy block compressed like 1.0. Labels are resolved through the symbol
// table and then go through exactly MAD's rules; see the package
// documentation for what of 2.0 is ignored.
func (d *Decoder) DecodeV2(body []byte, now int64, route Route) (Stats, error) {
	return d.decode(body, 2, route)
}

func (d *Decoder) decode(body []byte, version int, route Route) (Stats, error) {
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
	return d.st, err
}

// decompress decodes the snappy block into the decoder's buffer. Like
// xerial's Snappy.uncompress (C++ snappy) it refuses every malformed block,
// including the S2 extensions a lenient decoder would accept.
func (d *Decoder) decompress(body []byte) ([]byte, error) {
	n, hdr := binary.Uvarint(body)
	if hdr <= 0 || hdr > 5 || n > 0xffffffff {
		return nil, d.fail(-1, -1, "corrupt snappy block: bad length header")
	}
	if n > uint64(d.maxLen) {
		return nil, ErrTooLarge
	}
	// A snappy element makes at most 64 bytes out of 3 (a 2-byte-offset
	// copy), so a block declaring more than that cannot be valid: refuse
	// it before allocating what it claims.
	if n*3 > uint64(len(body)-hdr)*64 {
		return nil, d.fail(-1, -1, "corrupt snappy block: declares "+strconv.FormatUint(n, 10)+
			" bytes, more than "+strconv.Itoa(len(body))+" compressed bytes can hold")
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

// fail returns a *ParseError.
func (d *Decoder) fail(series, off int, reason string) error {
	return &ParseError{Version: d.version, Offset: off, Series: series, Reason: reason}
}

// emit appends one sample of the current series (key, hash h).
func (d *Decoder) emit(route Route, key []byte, h uint64, t int64, v float64, u sample.Unit) error {
	if d.cfg.MaxRecords > 0 && d.st.Records >= d.cfg.MaxRecords {
		return ErrTooManyRecords
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
