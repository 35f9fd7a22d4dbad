package promrw

import (
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
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

func (d *Decoder) decodeV2(msg []byte, route sample.Route) error {
	// The symbol table first, wherever it is in the message.
	d.syms = d.syms[:0]
	r := pbwire.NewReader(msg)
	for r.More() {
		if f := r.Next(); f.Tag == uint32(v2Symbols)<<3|pbwire.BytesType {
			sym := r.Bytes(f)
			if !pbwire.ValidUTF8(sym) {
				return d.fail(-1, f.At, "symbol "+strconv.Itoa(len(d.syms))+" is not valid UTF-8")
			}
			d.syms = append(d.syms, span{uint32(f.S), uint32(len(sym))})
		}
	}
	if r.Err() != pbwire.OK {
		return d.wireErr(-1, r.Err(), r.ErrOffset())
	}
	idx := 0
	r = pbwire.NewReader(msg) // well-formed: checked above
	for r.More() {
		if f := r.Next(); f.Tag == uint32(v2Timeseries)<<3|pbwire.BytesType {
			if err := d.seriesV2(msg, r.Message(f), idx, route); err != nil {
				return err
			}
			idx++
		}
	}
	return nil
}

// seriesV2 decodes one TimeSeries, read by r: its label references first,
// resolved into labels that go through MAD's rules, then its samples.
func (d *Decoder) seriesV2(msg []byte, r pbwire.Reader, idx int, route sample.Route) error {
	d.refs = d.refs[:0]
	d.smps = d.smps[:0]
	base := r.Offset()
	for r.More() {
		switch f := r.Next(); f.Tag {
		case 1<<3 | pbwire.VarintType:
			d.refs = append(d.refs, f.Uint32())
		case 1<<3 | pbwire.BytesType: // packed
			d.refs, _ = r.AppendUint32s(d.refs, f)
		case 2<<3 | pbwire.BytesType:
			sb, se := f.Bounds()
			d.smps = append(d.smps, span{uint32(sb), uint32(se - sb)})
		case uint32(v2Histograms)<<3 | pbwire.BytesType:
			d.st.Histograms++
		}
	}
	if r.Err() != pbwire.OK {
		return d.wireErr(idx, r.Err(), r.ErrOffset())
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
