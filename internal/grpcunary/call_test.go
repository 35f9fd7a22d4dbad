package grpcunary

import (
	"math"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1H", time.Hour, true},
		{"2M", 2 * time.Minute, true},
		{"3S", 3 * time.Second, true},
		{"4m", 4 * time.Millisecond, true},
		{"5u", 5 * time.Microsecond, true},
		{"6n", 6, true},
		{"0n", 0, true},
		{"00000000S", 0, true},
		{"99999999n", 99999999, true},
		{"99999999M", 99999999 * time.Minute, true},
		{"2562047H", 2562047 * time.Hour, true}, // the largest hour count a Duration holds
		{"2562048H", math.MaxInt64, true},       // clamped, as grpc-go does
		{"99999999H", math.MaxInt64, true},      // clamped
		{"100000000n", 0, false},                // 9 digits
		{"", 0, false},                          // empty
		{"S", 0, false},                         // no digits
		{"5", 0, false},                         // no unit
		{"5s", 0, false},                        // unknown unit (case matters)
		{"5h", 0, false},                        // unknown unit
		{"+5S", 0, false},                       // a sign is no digit
		{"-5S", 0, false},                       // nor this
		{" 5S", 0, false},                       // nor a space
		{"5 S", 0, false},                       // nor this
		{"1.5S", 0, false},                      // no fraction
		{"\u0665S", 0, false},                   // no Unicode digit
		{strings.Repeat("1", 8) + "m", 11111111 * time.Millisecond, true},
	} {
		got, ok := ParseTimeout(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseTimeout(%q): got %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// refParseTimeout is the specification's grammar, read slowly with big
// integers: TimeoutValue is 1 to 8 ASCII digits, TimeoutUnit one of
// HMSmun; the value clamped to what a Duration holds.
func refParseTimeout(s string) (time.Duration, bool) {
	if len(s) < 2 || len(s) > 9 {
		return 0, false
	}
	digits, unit := s[:len(s)-1], s[len(s)-1:]
	for _, r := range digits {
		if !strings.ContainsRune("0123456789", r) {
			return 0, false
		}
	}
	ns := map[string]int64{"H": 3600e9, "M": 60e9, "S": 1e9, "m": 1e6, "u": 1e3, "n": 1}[unit]
	if ns == 0 {
		return 0, false
	}
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return 0, false
	}
	v.Mul(v, big.NewInt(ns))
	if !v.IsInt64() {
		return math.MaxInt64, true
	}
	return time.Duration(v.Int64()), true
}

func TestParseCall(t *testing.T) {
	type want struct {
		http int  // 0: the call is taken
		code Code // of the refusal
		msg  string
		enc  Encoding
		to   time.Duration
	}
	for _, tc := range []struct {
		name   string
		method string
		proto  int
		header map[string]string
		want   want
	}{
		{"plain", "POST", 2, map[string]string{"Content-Type": "application/grpc"}, want{}},
		{"proto subtype", "POST", 2, map[string]string{"Content-Type": "application/grpc+proto"}, want{}},
		{"parameters", "POST", 2, map[string]string{"Content-Type": "application/grpc;charset=utf-8"}, want{}},
		{"subtype and parameters", "POST", 2, map[string]string{"Content-Type": "application/grpc+proto; x=y"}, want{}},
		{"media type case", "POST", 2, map[string]string{"Content-Type": "Application/GRPC+Proto"}, want{}},
		{"identity", "POST", 2, map[string]string{"Content-Type": "application/grpc", "Grpc-Encoding": "identity"}, want{}},
		{"gzip", "POST", 2, map[string]string{"Content-Type": "application/grpc", "Grpc-Encoding": "gzip"}, want{enc: Gzip}},
		{"timeout", "POST", 2, map[string]string{"Content-Type": "application/grpc", "Grpc-Timeout": "1500m"}, want{to: 1500 * time.Millisecond}},
		{"te is not required", "POST", 2, map[string]string{"Content-Type": "application/grpc", "Te": "gzip"}, want{}},
		{"get", "GET", 2, map[string]string{"Content-Type": "application/grpc"},
			want{http: 405, code: Internal, msg: "invalid gRPC request method: want POST"}},
		{"no content type", "POST", 2, nil,
			want{http: 415, code: InvalidArgument, msg: `invalid gRPC request content-type ""`}},
		{"json subtype", "POST", 2, map[string]string{"Content-Type": "application/grpc+json"},
			want{http: 415, code: InvalidArgument, msg: `invalid gRPC request content-type "application/grpc+json"`}},
		{"grpc-web", "POST", 2, map[string]string{"Content-Type": "application/grpc-web"},
			want{http: 415, code: InvalidArgument, msg: `invalid gRPC request content-type "application/grpc-web"`}},
		{"protobuf", "POST", 2, map[string]string{"Content-Type": "application/x-protobuf"},
			want{http: 415, code: InvalidArgument, msg: `invalid gRPC request content-type "application/x-protobuf"`}},
		{"http/1", "POST", 1, map[string]string{"Content-Type": "application/grpc"},
			want{http: 505, code: Unimplemented, msg: "gRPC requires HTTP/2"}},
		{"bad timeout", "POST", 2, map[string]string{"Content-Type": "application/grpc", "Grpc-Timeout": "1x"},
			want{http: 400, code: Internal, msg: `malformed grpc-timeout: "1x"`}},
		{"unknown encoding", "POST", 2, map[string]string{"Content-Type": "application/grpc", "Grpc-Encoding": "br"},
			want{http: 200, code: Unimplemented, msg: `grpc: Decompressor is not installed for grpc-encoding "br"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", nil)
			r.ProtoMajor = tc.proto
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			before := time.Now()
			c, err := ParseCall(r)
			if tc.want.http == 0 {
				if err != nil {
					t.Fatalf("got %v; want no error", err)
				}
				if c.Encoding != tc.want.enc || c.Timeout != tc.want.to || c.HasTimeout != (tc.want.to != 0) {
					t.Fatalf("got %+v; want encoding %v, timeout %v", c, tc.want.enc, tc.want.to)
				}
				if c.HasTimeout && (c.Deadline.Before(before.Add(c.Timeout)) || c.Deadline.After(time.Now().Add(c.Timeout))) {
					t.Fatalf("got deadline %v; want %v after the call", c.Deadline, c.Timeout)
				}
				return
			}
			s, ok := err.(*Status)
			if !ok {
				t.Fatalf("got %v; want a *Status", err)
			}
			if s.HTTPStatus() != tc.want.http || s.Code() != tc.want.code || s.Message() != tc.want.msg {
				t.Fatalf("got %d %v %q; want %d %v %q", s.HTTPStatus(), s.Code(), s.Message(), tc.want.http, tc.want.code, tc.want.msg)
			}
		})
	}
}
