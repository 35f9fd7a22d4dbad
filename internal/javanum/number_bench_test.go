package javanum_test

import (
	"testing"

	"github.com/gomad/mad/internal/javanum"
)

var sink float64

// BenchmarkParse: the fast path's forms (plain, with an exponent, 17
// digits) and a few the slow path reads.
//
//	go test ./internal/javanum -run '^$' -bench . -count 6 | benchstat -
func BenchmarkParse(b *testing.B) {
	for _, in := range []string{"1", "12.5", "-0.731", "2.5E-3", "0.30000000000000004", "1,234.5", "1.2345678901234567E-5", "\u0661\u0662"} {
		b.Run(in, func(b *testing.B) {
			buf := []byte(in)
			b.ReportAllocs()
			for range b.N {
				v, _ := javanum.Parse(buf)
				sink += v
			}
		})
	}
}
