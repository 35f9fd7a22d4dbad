package clientpb

import (
	"fmt"
	"math/rand/v2"
)

// Realistic bodies: 500 records (a client batch), each from one of a few
// dozen hosts with 3 to 5 dimensions, and 10 samples per record.

var metricNames = []string{
	"service/checkout/http/request_latency", "service/checkout/db/query_time", "service/checkout/requests",
	"service/checkout/errors", "service/checkout/queue/depth", "service/checkout/payload/size",
	"service/checkout/cache/hit_ratio", "jvm/gc/pause", "jvm/heap/used", "service/checkout/retries",
}

// recordDims returns the dimensions of a record. A body from one client
// (manyHosts false) has the client's host, service and cluster on every
// record plus 0-2 dimensions of the unit of work; a body that mixes hosts
// (a relay) draws the host among 40 as well.
func recordDims(r *rand.Rand, manyHosts bool) [][2]string {
	host := "web-007.us-east-1.example.com"
	if manyHosts {
		host = fmt.Sprintf("web-%03d.us-east-1.example.com", r.IntN(40))
	}
	dims := [][2]string{{"host", host}, {"service", "checkout"}, {"cluster", "prod-us-east-1"}}
	ops := []string{"GetCart", "AddItem", "Checkout", "ListOrders"}
	switch r.IntN(3) {
	case 1:
		dims = append(dims, [2]string{"operation", ops[r.IntN(len(ops))]})
	case 2:
		dims = append(dims, [2]string{"operation", ops[r.IntN(len(ops))]}, [2]string{"status", []string{"ok", "error"}[r.IntN(2)]})
	}
	return dims
}

// v3Body: per record, 3 latency samples, 2 query times, 4 single samples and
// one set of pre-aggregated statistics with 4 histogram entries: 10 samples,
// 7 metrics. With perMetric, 10 metrics of one sample each instead.
func v3Body(records int, perMetric, manyHosts bool) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var body []byte
	for i := range records {
		var f [][]byte
		f = append(f, fVarint(6, uint64(t0+int64(i))))
		for _, d := range recordDims(r, manyHosts) {
			f = append(f, v3Dim(d[0], d[1]))
		}
		if perMetric {
			for _, n := range metricNames {
				f = append(f, v3Samples(n, r.Float64()*100))
			}
		} else {
			f = append(f,
				v3Samples(metricNames[0], r.Float64()*100, r.Float64()*100, r.Float64()*100),
				v3Samples(metricNames[1], r.Float64()*10, r.Float64()*10),
				v3Samples(metricNames[2], 1), v3Samples(metricNames[3], 0),
				v3Samples(metricNames[4], float64(r.IntN(50))), v3Samples(metricNames[5], float64(r.IntN(1<<20))),
				v3Stats(metricNames[6], v3Hist(0.5, 0.99, 7.5, hentry{130944, 3}, hentry{129920, 4}, hentry{130688, 2}, hentry{130816, 1})))
		}
		body = append(body, v3Record(f...)...)
	}
	return body
}

// v12Body: per record 2 annotations, 3-5 dimensions, and 10 samples: a
// timer of 3 in milliseconds, a timer of 2 in microseconds, 3 counters, 2
// gauges (one in kilobytes).
func v12Body(version, records int, manyHosts bool) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	q := func(v float64, typ, scale int) []byte {
		if version == 1 {
			if typ >= 0 {
				typ-- // V1 enums have no UNKNOWN
			}
			if scale >= 0 {
				scale -= 2
				if scale < 0 {
					scale = 28
				}
			}
			return v1Qty(v, typ, scale)
		}
		return v2Qty(v, typ, scale)
	}
	var body []byte
	for range records {
		f := [][]byte{v12Pair(1, "_start", "2017-12-14T08:20:02.974Z"), v12Pair(1, "_end", "2017-12-14T08:20:03.974Z")}
		for _, d := range recordDims(r, manyHosts) {
			f = append(f, v12Pair(2, d[0], d[1]))
		}
		f = append(f,
			v12Metric(v12Timers, metricNames[0], q(r.Float64()*100, 1, 9), q(r.Float64()*100, 1, 9), q(r.Float64()*100, 1, 9)),
			v12Metric(v12Timers, metricNames[1], q(r.Float64()*1e3, 1, 8), q(r.Float64()*1e3, 1, 8)),
			v12Metric(v12Counters, metricNames[2], q(1, -1, -1)),
			v12Metric(v12Counters, metricNames[3], q(0, -1, -1)),
			v12Metric(v12Counters, metricNames[9], q(2, -1, -1)),
			v12Metric(v12Gauges, metricNames[4], q(float64(r.IntN(50)), -1, -1)),
			v12Metric(v12Gauges, metricNames[5], q(float64(r.IntN(1<<10)), 7, 14)))
		body = append(body, v12Record(f...)...)
	}
	return body
}
