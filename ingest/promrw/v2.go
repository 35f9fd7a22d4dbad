package promrw

import (
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Remote write 2.0 (io.prometheus.write.v2), the parts read:
//
//	message Request    { reserved 1 to 3; repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
//	message TimeSeries { repeated uint32 labels_refs = 1; repeated Sample samples = 2;
//	                     repeated Histogram histograms = 3; repeated Exemplar exemplars = 4;
//	                     Metadata metadata = 5; int64 created_timestamp = 6; }
//	message Sample     { double value = 1; int64 timestamp = 2; }
//
// histograms are counted and ignored; exemplars, metadata and
// created_timestamp are skipped unread.

const (
	v2Symbols    protowire.Number = 4
	v2Timeseries protowire.Number = 5
	v2Histograms protowire.Number = 3
)

func (d *Decoder) decodeV2(msg []byte, route Route) error {
	// The symbol table first, wherever it is in the message.
	d.syms = d.syms[:0]
	for off := 0; off < len(msg); {
		f, end, code := nextField(msg, off)
		if code < 0 {
			return d.wireErr(-1, off, code)
		}
		if f.num == v2Symbols && f.typ == protowire.BytesType {
			if !utf8.Valid(f.val) {
				return d.fail(-1, off, "symbol "+strconv.Itoa(len(d.syms))+" is not valid UTF-8")
			}
			d.syms = append(d.syms, span{uint32(f.valOff), uint32(len(f.val))})
		}
		off = end
	}
	idx := 0
	for off := 0; off < len(msg); {
		f, end, _ := nextField(msg, off) // well-formed: checked above
		if f.num == v2Timeseries && f.typ == protowire.BytesType {
			if err := d.seriesV2(msg, f.val, f.valOff, idx, route); err != nil {
				return err
			}
			idx++
		}
		off = end
	}
	return nil
}

// seriesV2 decodes one TimeSeries: its label references first, resolved
// into labels that go through MAD's rules, then its samples.
func (d *Decoder) seriesV2(msg, b []byte, base, idx int, route Route) error {
	d.refs = d.refs[:0]
	d.smps = d.smps[:0]
	for off := 0; off < len(b); {
		f, end, code := nextField(b, off)
		if code < 0 {
			return d.wireErr(idx, base+off, code)
		}
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			d.refs = append(d.refs, uint32(f.u))
		case f.num == 1 && f.typ == protowire.BytesType: // packed
			for p := f.val; len(p) > 0; {
				if p[0] < 0x80 {
					d.refs = append(d.refs, uint32(p[0]))
					p = p[1:]
					continue
				}
				v, n := protowire.ConsumeVarint(p)
				if n < 0 {
					return d.wireErr(idx, base+f.valOff+len(f.val)-len(p), n)
				}
				d.refs = append(d.refs, uint32(v))
				p = p[n:]
			}
		case f.num == 2 && f.typ == protowire.BytesType:
			d.smps = append(d.smps, span{uint32(base + f.valOff), uint32(len(f.val))})
		case f.num == v2Histograms && f.typ == protowire.BytesType:
			d.st.Histograms++
		}
		off = end
	}
	if len(d.refs)%2 != 0 {
		return d.fail(idx, base, "odd number of label references ("+strconv.Itoa(len(d.refs))+")")
	}
	d.dims = d.dims[:0]
	var s series
	for i := 0; i < len(d.refs); i += 2 {
		n, v := d.refs[i], d.refs[i+1]
		if uint64(n) >= uint64(len(d.syms)) || uint64(v) >= uint64(len(d.syms)) {
			return d.fail(idx, base, "label reference out of range: "+strconv.FormatUint(uint64(max(n, v)), 10)+
				" with "+strconv.Itoa(len(d.syms))+" symbols")
		}
		d.addLabel(&s, d.symbol(msg, n), d.symbol(msg, v))
	}
	keep, unit, err := d.admit(&s, idx, base)
	if err != nil {
		return err
	}
	return d.samples(msg, idx, keep, unit, s.name, route)
}

func (d *Decoder) symbol(msg []byte, ref uint32) []byte {
	s := d.syms[ref]
	return msg[s.off : s.off+s.len : s.off+s.len]
}
