//go:build !race

package grpcunary

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestZeroAllocs: with a reused Reader, reading a call's headers and its
// message, and framing a response, allocate nothing; nor does preparing a
// refusal made once. A gzip-compressed message allocates only the
// standard library inflater's tables of long codes, a few per
// dynamic-Huffman block (internal/gunzip).
func TestZeroAllocs(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/x", nil)
	r.ProtoMajor = 2
	r.Header.Set("Content-Type", "application/grpc")
	r.Header.Set("Grpc-Encoding", "gzip")
	r.Header.Set("Grpc-Timeout", "10S")
	msg := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	zmsg := gz(t, msg)
	plain, compressed := frame(0, uint32(len(msg)), msg), frame(1, uint32(len(zmsg)), zmsg)
	var rd Reader
	var body bytes.Reader
	resp := make([]byte, 0, 64)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"ParseCall", func() {
			if _, err := ParseCall(r); err != nil {
				t.Fatal(err)
			}
		}},
		{"ReadMessage identity", func() {
			body.Reset(plain)
			if _, err := rd.ReadMessage(&body, Identity); err != nil {
				t.Fatal(err)
			}
		}},
		{"ReadMessage refused", func() {
			body.Reset(plain[:100])
			if _, err := rd.ReadMessage(&body, Identity); err != errTruncated {
				t.Fatal(err)
			}
		}},
		{"frame", func() {
			b := BeginFrame(resp[:0])
			b = append(b, 0x0a, 0x02, 0x08, 0x01)
			EndFrame(b)
		}},
	} {
		tc.f()
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: got %v allocations per call; want 0", tc.name, n)
		}
	}
	gzipped := func() {
		body.Reset(compressed)
		if _, err := rd.ReadMessage(&body, Gzip); err != nil {
			t.Fatal(err)
		}
	}
	gzipped()
	if n := testing.AllocsPerRun(100, gzipped); n > 16 {
		t.Errorf("ReadMessage gzip: got %v allocations per call; want at most 16", n)
	}
}
