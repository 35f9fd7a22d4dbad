package promrw

import "google.golang.org/protobuf/encoding/protowire"

// Remote write 1.0, as MAD's remote.proto / types.proto (MAD-SPEC §9.4):
//
//	message WriteRequest { repeated TimeSeries timeseries = 1; }
//	message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	message Label        { string name = 1; string value = 2; }
//	message Sample       { double value = 1; int64 timestamp = 2; }
//
// Everything else (WriteRequest.metadata = 3, TimeSeries.exemplars = 3 and
// histograms = 4 of newer prompb) is an unknown field to MAD and skipped.

// v1Histograms is prompb's TimeSeries.histograms, unknown to MAD: counted.
const v1Histograms protowire.Number = 4

func (d *Decoder) decodeV1(msg []byte, route Route) error {
	idx := 0
	for off := 0; off < len(msg); {
		f, end, code := nextField(msg, off)
		if code < 0 {
			return d.wireErr(-1, off, code)
		}
		if f.num == 1 && f.typ == protowire.BytesType {
			if err := d.seriesV1(msg, f.val, f.valOff, idx, route); err != nil {
				return err
			}
			idx++
		}
		off = end
	}
	return nil
}

// seriesV1 decodes one TimeSeries, b = msg[base:…]: its labels and where
// its samples are (they may come in any order on the wire), then the
// samples.
func (d *Decoder) seriesV1(msg, b []byte, base, idx int, route Route) error {
	d.dims = d.dims[:0]
	d.smps = d.smps[:0]
	var s series
	for off := 0; off < len(b); {
		// A label as every encoder writes it, taken without the general
		// field reader.
		if b[off] == 0x0a {
			if l, p, ok := len2(b, off+1); ok && l <= len(b)-p {
				if name, value, ok := fastLabel(b[p : p+l]); ok {
					d.addLabel(&s, name, value)
					off = p + l
					continue
				}
			}
		}
		f, end, code := nextField(b, off)
		if code < 0 {
			return d.wireErr(idx, base+off, code)
		}
		if f.typ == protowire.BytesType {
			switch f.num {
			case 1:
				name, value, err := d.label(f.val, base+f.valOff, idx)
				if err != nil {
					return err
				}
				d.addLabel(&s, name, value)
			case 2:
				d.smps = append(d.smps, span{uint32(base + f.valOff), uint32(len(f.val))})
			case v1Histograms:
				d.st.Histograms++
			}
		}
		off = end
	}
	keep, unit, err := d.admit(&s, idx, base)
	if err != nil {
		return err
	}
	return d.samples(msg, idx, keep, unit, s.name, route)
}
