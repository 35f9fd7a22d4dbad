package promrw

import (
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"

	"github.com/gomad/mad/internal/sample"
)

// BenchmarkDecode: remote write requests from the snappy body to samples in
// four batches (keys built, hashed and copied), as the HTTP source runs it.
// samples/s counts the samples of the request (MAD's records); skipped ones
// (the live captures' *_total series with the default configuration) count
// too, since they are decoded and checked as well.
//
//	go test ./ingest/promrw -run '^$' -bench Decode -count 6
func BenchmarkDecode(b *testing.B) {
	type bc struct {
		name    string
		body    []byte
		version int
	}
	var cases []bc
	for _, v := range liveVectors {
		cases = append(cases, bc{"live" + v[len("testLivePrometheus"):], readVector(b, v), 1})
	}
	cases = append(cases,
		bc{"synthetic-10k", snap(encV1(synth(10000, 1)...)), 1},
		bc{"synthetic-10k-v2", snap(encV2(synth(10000, 1)...)), 2},
	)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			msg, err := snappyDecode(c.body)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, s := range refSeries(b, msg, c.version) {
				n += len(s.samples)
			}
			d := NewDecoder(Config{InterpretUnits: true})
			var bs [4]sample.Batch
			route := func(h uint64) *sample.Batch { return &bs[h&3] }
			decode := d.Decode
			if c.version == 2 {
				decode = d.DecodeV2
			}
			if _, err := decode(c.body, 0, route); err != nil { // grow the scratch space and batches
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for i := range bs {
					bs[i].Reset()
				}
				if _, err := decode(c.body, 0, route); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkSnappy: the strict snappy block decoder against s2's lenient one
// (which accepts S2 extensions MAD's decoder refuses), on the live captures.
func BenchmarkSnappy(b *testing.B) {
	body := readVector(b, "testLivePrometheus2")
	dst := make([]byte, 1<<20)
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for range b.N {
			if _, err := snappy.DecodeStrict(dst, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("s2", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for range b.N {
			if _, err := s2.Decode(dst, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
