package transform

import (
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// benchSets is a TransformingSource of three rules, an injection and a
// removal, as a StatsD or OTLP pipeline might use.
var benchSets = []Set{{
	Metrics: []Rule{
		{Pattern: `^http\.server\.([a-z]+)\.latency$`, Templates: []string{"http/server/latency;method=${1}"}},
		{Pattern: `^jvm/gc/(?<collector>[^/]+)/time$`, Templates: []string{"jvm/gc/time;collector=${collector}"}},
		{Pattern: `^app/([^/]+)/requests$`, Templates: []string{"app/requests;route=${1};host=${dimension:host}"}},
	},
	Inject: []Injection{{Key: "cluster", Value: "prod", Overwrite: false}},
	Remove: []string{"pid"},
}}

var benchSink int

func BenchmarkApply(b *testing.B) {
	tr, err := Compile(benchSets, nil)
	if err != nil {
		b.Fatal(err)
	}
	in := dims("host", "web-17", "pid", "4242", "region", "eu-west-1", "service", "checkout")
	out := func(n []byte, ds []sample.Dim) { benchSink += len(n) + len(ds) }
	for _, c := range []struct{ bench, name string }{
		{"no-match", "kafka.consumer.lag"},
		{"match-tags", "http.server.get.latency"},
		{"match-named-group", "jvm/gc/G1-Young/time"},
		{"match-dimension", "app/checkout/requests"},
	} {
		b.Run(c.bench, func(b *testing.B) {
			name := []byte(c.name)
			var s Scratch
			b.ReportAllocs()
			b.SetBytes(int64(len(name)))
			for b.Loop() {
				if err := tr.Apply(&s, name, in, out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDrop(b *testing.B) {
	d, err := CompileDrops([]DropSet{
		{MetricPattern: `http\..*`, RemoveDimensions: []string{"pid"}},
		{MetricPattern: `jvm/.*`, RemoveDimensions: []string{"host"}},
		{MetricPattern: `app/[^/]+/requests`, RemoveDimensions: []string{"region"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	in := dims("host", "web-17", "pid", "4242", "region", "eu-west-1", "service", "checkout")
	out := func(n []byte, ds []sample.Dim) { benchSink += len(n) + len(ds) }
	name := []byte("http.server.get.latency")
	var s Scratch
	b.ReportAllocs()
	for b.Loop() {
		d.Apply(&s, name, in, out)
	}
}
