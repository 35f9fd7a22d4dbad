package otlpref

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// TestGRPCRequest1 decodes MAD's vector (grpcrequest1.bin, a gRPC-framed
// request a Python SDK sent, used by MAD's OpenTelemetryGrpcRecordParserTest
// testRegression1). The expected lines were written from its prototext:
//
//	resource service.name="central-services" (so service="central-services")
//	scope asyncio:
//	  runtime.python.asyncio.active_tasks  Sum, as_int 3
//	  runtime.python.asyncio.task_lag      ExponentialHistogram, unit "ms",
//	      count 1, sum = min = max = 6.984919587171845e-08, scale 20,
//	      positive offset -24925891 counts [1], negative counts [0]
//	scope asgi:
//	  http.server.active_requests  Sum, three points as_int 0 with http.*
//	      attributes (GET/central-services, GET/...topsort.ai, POST/...topsort.ai)
//	  http.server.duration  ExponentialHistogram, unit "ms", count 1, sum =
//	      min = max = 2, scale 7, positive offset 127 counts [1]; attribute
//	      net.host.port is int_value 5000
//
// every point at time_unix_nano 1685564155071711218, so t = 1685564155071.
//
// The exponential buckets: at scale 20, sf = 2^20/ln 2 and bucket
// -24925891 is (2^(-24925891/2^20), 2^(-24925890/2^20)] ms, whose midpoint
// is 6.98491798350657886446...e-8 ms (exactly, to 24 digits); MAD's formula
// in float64, 0.5·(1+e^(1/sf))·e^(idx/sf), gives 6.984917983506569e-08, a
// few ulps off (e^x of a large x), and ms → s multiplies by 1e6/1e9 = 0.001:
// 6.984917983506569e-11 s. At scale 7 bucket 127 is (2^(127/128), 2] ms,
// midpoint 1.99459942348363317565...; the formula gives 1.9945994234836328
// ms, so 0.001994599423483633 s. min, max and sum are the point's, in
// seconds: 0.001 × 6.984919587171845e-08 = 6.984919587171845e-11, and
// 0.002. count has no unit.
func TestGRPCRequest1(t *testing.T) {
	raw, err := os.ReadFile("testdata/grpcrequest1.bin")
	if err != nil {
		t.Fatal(err)
	}
	// gRPC framing: compressed flag, 4-byte big-endian length.
	if raw[0] != 0 || int(raw[1])<<24|int(raw[2])<<16|int(raw[3])<<8|int(raw[4]) != len(raw)-5 {
		t.Fatalf("got frame header % x for %d bytes; want an uncompressed frame", raw[:5], len(raw))
	}
	body := raw[5:]
	const svc = `"service"="central-services" "service.name"="central-services"`
	const http = `"http.flavor"="1.1" "http.host"="10.1.23.61:5000" "http.method"=`
	want := []string{
		`gauge "http.server.active_requests" {` + http + `"GET" "http.scheme"="http" "http.server_name"="central-services" ` + svc + `} t=1685564155071 req=99 v=0 unit=none`,
		`gauge "http.server.active_requests" {` + http + `"GET" "http.scheme"="http" "http.server_name"="central-services.api.staging.topsort.ai" ` + svc + `} t=1685564155071 req=99 v=0 unit=none`,
		`gauge "http.server.active_requests" {` + http + `"POST" "http.scheme"="http" "http.server_name"="central-services.api.staging.topsort.ai" ` + svc + `} t=1685564155071 req=99 v=0 unit=none`,
		`gauge "http.server.duration" {` + http + `"GET" "http.scheme"="http" "http.server_name"="central-services.api.staging.topsort.ai" "http.target"="/" "net.host.port"="5000" ` + svc + `} t=1685564155071 req=99 min=0.002 max=0.002 sum=0.002 count=1 hist=[0.001994599423483633:1] unit=SECOND`,
		`gauge "runtime.python.asyncio.active_tasks" {` + svc + `} t=1685564155071 req=99 v=3 unit=none`,
		`gauge "runtime.python.asyncio.task_lag" {` + svc + `} t=1685564155071 req=99 min=6.984919587171845e-11 max=6.984919587171845e-11 sum=6.984919587171845e-11 count=1 hist=[6.984917983506569e-11:1] unit=SECOND`,
	}
	var b sample.Batch
	c, st, err := Decode(body, 99, &b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (sample.Counts{Records: 5, Samples: 6}); c != want {
		t.Errorf("got counts %+v; want %+v", c, want)
	}
	if st != (Stats{}) {
		t.Errorf("got stats %+v; want none", st)
	}
	if got := Render(&b); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The bucket values are within a few ulps of the exact midpoints.
	for _, c := range []struct {
		scale, idx int32
		exact      float64 // rounded from 24 digits
	}{{20, -24925891, 6.984917983506578864463075e-8}, {7, 127, 1.994599423483633175652478}} {
		if got := expValue(c.scale, c.idx); math.Abs(got-c.exact) > 1e-13*c.exact {
			t.Errorf("scale %d idx %d: got %v; want about %v", c.scale, c.idx, got, c.exact)
		}
	}
}
