package promrw

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

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
// (Field numbers are protowire.Numbers, which the tests' encoders take.)
const v1Histograms protowire.Number = 4

func (d *Decoder) decodeV1(msg []byte, route sample.Route) error {
	idx := 0
	r := pbwire.NewReader(msg)
	for r.More() {
		if f := r.Next(); f.Tag == 1<<3|pbwire.BytesType {
			if err := d.seriesV1(msg, r.Message(f), idx, route); err != nil {
				return err
			}
			idx++
		}
	}
	if r.Err() != pbwire.OK {
		return d.wireErr(-1, r.Err(), r.ErrOffset())
	}
	return nil
}

// seriesV1 decodes one TimeSeries, read by r: its labels and where its
// samples are (they may come in any order on the wire), then the samples.
func (d *Decoder) seriesV1(msg []byte, r pbwire.Reader, idx int, route sample.Route) error {
	d.dims = d.dims[:0]
	d.smps = d.smps[:0]
	base := r.Offset()
	var s series
	for r.More() {
		f, ok := r.NextShortBytes()
		if !ok {
			f = r.Next()
		}
		switch f.Tag {
		case 1<<3 | pbwire.BytesType:
			// A label as every encoder writes it, or field by field.
			name, value, ok := fastLabel(r.Bytes(f))
			if !ok {
				var err error
				if name, value, err = d.label(r.Message(f), idx); err != nil {
					return err
				}
			}
			d.addLabel(&s, name, value)
		case 2<<3 | pbwire.BytesType:
			sb, se := f.Bounds()
			d.smps = append(d.smps, span{uint32(sb), uint32(se - sb)})
		case uint32(v1Histograms)<<3 | pbwire.BytesType:
			d.st.Histograms++
		}
	}
	if r.Err() != pbwire.OK {
		return d.wireErr(idx, r.Err(), r.ErrOffset())
	}
	keep, unit, err := d.admit(&s, idx, base)
	if err != nil {
		return err
	}
	return d.samples(msg, idx, keep, unit, s.name, route)
}
