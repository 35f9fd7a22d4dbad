package collectd

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// synthBody is what collectd's write_http sends: n value lists of the usual
// plugins (cpu, memory, interface with two values, load with three, df).
func synthBody(n int) []byte {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		switch i % 5 {
		case 0:
			fmt.Fprintf(&sb, `{"values":[%d],"dstypes":["derive"],"dsnames":["value"],"time":1459466086.%03d,"interval":10.000,"host":"web-%02d.example.com","plugin":"cpu","plugin_instance":"%d","type":"cpu","type_instance":"user"}`, 1000+i, i%1000, i%17, i%8)
		case 1:
			fmt.Fprintf(&sb, `{"values":[%d.5],"dstypes":["gauge"],"dsnames":["value"],"time":1459466086.%03d,"interval":10.000,"host":"web-%02d.example.com","plugin":"memory","plugin_instance":"","type":"memory","type_instance":"used"}`, 81234567+i, i%1000, i%17)
		case 2:
			fmt.Fprintf(&sb, `{"values":[%d,%d],"dstypes":["derive","derive"],"dsnames":["rx","tx"],"time":1459466086.%03d,"interval":10.000,"host":"web-%02d.example.com","plugin":"interface","plugin_instance":"eth%d","type":"if_octets","type_instance":""}`, 123456+i, 654321+i, i%1000, i%17, i%2)
		case 3:
			fmt.Fprintf(&sb, `{"values":[0.%02d,0.5,0.25],"dstypes":["gauge","gauge","gauge"],"dsnames":["shortterm","midterm","longterm"],"time":1459466086.%03d,"interval":10.000,"host":"web-%02d.example.com","plugin":"load","plugin_instance":"","type":"load","type_instance":""}`, i%100, i%1000, i%17)
		case 4:
			fmt.Fprintf(&sb, `{"values":[%d],"dstypes":["gauge"],"dsnames":["value"],"time":1459466086.%03d,"interval":10.000,"host":"web-%02d.example.com","plugin":"df","plugin_instance":"root","type":"df_complex","type_instance":"free"}`, 5368709120+i, i%1000, i%17)
		}
	}
	sb.WriteByte(']')
	return []byte(sb.String())
}

// BenchmarkDecode: collectd bodies to samples in four batches, as the HTTP
// source runs it; records/s counts MAD records (value lists).
//
//	go test ./ingest/collectd -run '^$' -bench Decode -count 6
func BenchmarkDecode(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"testParse", readVector(b, "testParse.json")},
		{"synthetic-1000", synthBody(1000)},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := NewDecoder(Config{})
			var bs [4]sample.Batch
			route := func(h uint64) *sample.Batch { return &bs[h&3] }
			st, err := d.Decode(c.body, testHeaders, 0, route)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for i := range bs {
					bs[i].Reset()
				}
				if _, err := d.Decode(c.body, testHeaders, 0, route); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(st.Records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(st.Samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
