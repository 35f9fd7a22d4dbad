package grpcunary

import (
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestStatusProto decodes AppendProto's google.rpc.Status, and the
// RetryInfo in it, with the generated types.
func TestStatusProto(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     *Status
		delay time.Duration // of the RetryInfo detail, if any
		other *Detail
	}{
		{name: "code only", s: New(Internal, "")},
		{name: "message", s: New(ResourceExhausted, "too big: é")},
		{name: "retry seconds and nanos", s: NewUnavailable("saturated", 1500*time.Millisecond), delay: 1500 * time.Millisecond},
		{name: "retry seconds", s: NewUnavailable("saturated", 3*time.Second), delay: 3 * time.Second},
		{name: "retry nanos", s: NewUnavailable("", 7), delay: 7},
		{name: "retry zero", s: NewUnavailable("x", 0), delay: 0},
		{name: "retry negative", s: NewUnavailable("x", -time.Second), delay: 0},
		{name: "large code", s: New(Code(1<<31+5), "m")},
		{name: "other detail", s: New(FailedPrecondition, "m", Detail{TypeURL: "type.googleapis.com/x.Y", Value: []byte{8, 1}}),
			other: &Detail{TypeURL: "type.googleapis.com/x.Y", Value: []byte{8, 1}}},
		{name: "empty detail", s: New(FailedPrecondition, "m", Detail{TypeURL: "type.googleapis.com/x.Z"}),
			other: &Detail{TypeURL: "type.googleapis.com/x.Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got spb.Status
			if err := proto.Unmarshal(tc.s.AppendProto(nil), &got); err != nil {
				t.Fatal(err)
			}
			if got.Code != int32(tc.s.Code()) || got.Message != tc.s.Message() {
				t.Fatalf("got code %d message %q; want %d %q", got.Code, got.Message, int32(tc.s.Code()), tc.s.Message())
			}
			if len(got.Details) != len(tc.s.Details()) {
				t.Fatalf("got %d details; want %d", len(got.Details), len(tc.s.Details()))
			}
			for _, d := range got.Details {
				if tc.other != nil {
					if d.TypeUrl != tc.other.TypeURL || string(d.Value) != string(tc.other.Value) {
						t.Fatalf("got detail %q %x; want %q %x", d.TypeUrl, d.Value, tc.other.TypeURL, tc.other.Value)
					}
					continue
				}
				m, err := anypb.UnmarshalNew(d, proto.UnmarshalOptions{})
				if err != nil {
					t.Fatal(err)
				}
				ri, ok := m.(*errdetails.RetryInfo)
				if !ok {
					t.Fatalf("got detail %T; want *errdetails.RetryInfo", m)
				}
				if got := ri.RetryDelay.AsDuration(); got != tc.delay {
					t.Fatalf("got retry delay %v; want %v", got, tc.delay)
				}
			}
		})
	}
}

func TestNewOKPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New(OK) did not panic")
		}
	}()
	New(OK, "fine")
}

func TestCodeString(t *testing.T) {
	for c, want := range map[Code]string{OK: "OK", Canceled: "CANCELLED", Unavailable: "UNAVAILABLE", Unauthenticated: "UNAUTHENTICATED", 17: "CODE(17)"} {
		if got := c.String(); got != want {
			t.Errorf("Code(%d).String(): got %q; want %q", c, got, want)
		}
	}
}

func TestEncodeMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain ASCII ~!", "plain ASCII ~!"},
		{"100%", "100%25"},
		{"line\nbreak\ttab", "line%0Abreak%09tab"},
		{"é", "%C3%A9"},
		{"日本", "%E6%97%A5%E6%9C%AC"},
		{"\x7f", "%7F"},
		{"bad \xff utf8", "bad %EF%BF%BD utf8"}, // grpc-go replaces invalid UTF-8 with U+FFFD
	} {
		if got := encodeMessage(tc.in); got != tc.want {
			t.Errorf("encodeMessage(%q): got %q; want %q", tc.in, got, tc.want)
		}
	}
}
