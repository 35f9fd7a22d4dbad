package grpcunary

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/gomad/mad/internal/testseed"
)

// frame returns msg with a prefix of flag and length n.
func frame(flag byte, n uint32, msg []byte) []byte {
	b := []byte{flag, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], n)
	return append(b, msg...)
}

// gzipWriters keeps the writers gz makes (each holds ~800 KB of tables).
var gzipWriters sync.Pool

// gz returns msg gzip-compressed by the standard library.
func gz(t testing.TB, msg []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := gzipWriters.Get().(*stdgzip.Writer)
	if w == nil {
		w = stdgzip.NewWriter(&b)
	} else {
		w.Reset(&b)
	}
	defer gzipWriters.Put(w)
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestReadMessage(t *testing.T) {
	msg := []byte("an ExportMetricsServiceRequest")
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	zmsg := gz(t, msg)
	zbig := gz(t, big)
	bomb := gz(t, make([]byte, 8<<20)) // 8 MiB of zeros in ~8 KiB
	const max = 64 << 10
	type want struct {
		msg  []byte
		code Code
		text string
	}
	for _, tc := range []struct {
		name string
		body []byte
		enc  Encoding
		max  int
		want want
	}{
		{"identity", frame(0, uint32(len(msg)), msg), Identity, 0, want{msg: msg}},
		{"empty message", frame(0, 0, nil), Identity, 0, want{msg: []byte{}}},
		{"uncompressed under gzip", frame(0, uint32(len(msg)), msg), Gzip, 0, want{msg: msg}},
		{"gzip", frame(1, uint32(len(zmsg)), zmsg), Gzip, 0, want{msg: msg}},
		{"gzip at the limit", frame(1, uint32(len(zbig)), zbig), Gzip, max, want{msg: big}},
		{"identity at the limit", frame(0, max, big), Identity, max, want{msg: big}},
		{"gzip multistream", frame(1, uint32(2*len(zmsg)), cat(zmsg, zmsg)), Gzip, 0, want{msg: cat(msg, msg)}},
		{"no message", nil, Identity, 0, want{code: Internal, text: "grpc: cardinality violation: received no request message from non-client-streaming RPC"}},
		{"short prefix", []byte{0, 0, 0}, Identity, 0, want{code: Internal, text: "unexpected EOF"}},
		{"truncated message", frame(0, 10, []byte("abc")), Identity, 0, want{code: Internal, text: "unexpected EOF"}},
		{"two messages", cat(frame(0, 3, []byte("abc")), frame(0, 1, []byte("d"))), Identity, 0,
			want{code: Internal, text: "grpc: cardinality violation: received multiple request messages for non-client-streaming RPC"}},
		{"stray bytes", cat(frame(0, 3, []byte("abc")), []byte{1, 2}), Identity, 0, want{code: Internal, text: "unexpected EOF"}},
		{"too large", frame(0, max+1, big), Identity, max, want{code: ResourceExhausted, text: "grpc: received message larger than max (65537 vs. 65536)"}},
		{"too large announced", frame(0, 1<<31, nil), Identity, 0, want{code: ResourceExhausted, text: "grpc: received message larger than max (2147483648 vs. 4194304)"}},
		{"too large compressed", frame(1, uint32(len(zbig)), zbig), Gzip, max - 1, want{code: ResourceExhausted, text: "grpc: received message after decompression larger than max 65535"}},
		{"gzip bomb", frame(1, uint32(len(bomb)), bomb), Gzip, 0, want{code: ResourceExhausted, text: "grpc: received message after decompression larger than max 4194304"}},
		{"compressed flag without encoding", frame(1, uint32(len(zmsg)), zmsg), Identity, 0, want{code: Internal, text: "grpc: compressed flag set with identity or empty encoding"}},
		{"unknown flag", frame(2, 3, []byte("abc")), Gzip, 0, want{code: Internal, text: "grpc: received unexpected payload format 2"}},
		{"not gzip", frame(1, 3, []byte("abc")), Gzip, 0, want{code: Internal, text: "grpc: failed to decompress the received message: unexpected EOF"}},
		{"empty gzip", frame(1, 0, nil), Gzip, 0, want{code: Internal, text: "grpc: failed to decompress the received message: unexpected EOF"}},
		{"truncated gzip", frame(1, uint32(len(zmsg)-4), zmsg[:len(zmsg)-4]), Gzip, 0, want{code: Internal, text: "grpc: failed to decompress the received message: unexpected EOF"}},
		{"corrupt gzip checksum", frame(1, uint32(len(zmsg)), cat(zmsg[:len(zmsg)-8], []byte{1, 2, 3, 4}, zmsg[len(zmsg)-4:])), Gzip, 0,
			want{code: Internal, text: "grpc: failed to decompress the received message: gzip: invalid checksum"}},
		{"garbage after gzip", frame(1, uint32(len(zmsg)+3), cat(zmsg, []byte("xyz"))), Gzip, 0,
			want{code: Internal, text: "grpc: failed to decompress the received message: unexpected EOF"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each body is read whole and a byte at a time, by a fresh
			// Reader and by one that has read a large message before.
			used := &Reader{}
			if _, err := used.ReadMessage(bytes.NewReader(frame(1, uint32(len(zbig)), zbig)), Gzip); err != nil {
				t.Fatal(err)
			}
			used.MaxMessage = tc.max
			for _, rd := range []*Reader{{MaxMessage: tc.max}, used} {
				for _, body := range []io.Reader{bytes.NewReader(tc.body), iotest.OneByteReader(bytes.NewReader(tc.body))} {
					got, err := rd.ReadMessage(body, tc.enc)
					checkRead(t, got, err, tc.want.msg, tc.want.code, tc.want.text)
				}
			}
		})
	}
}

func checkRead(t *testing.T, got []byte, err error, msg []byte, code Code, text string) {
	t.Helper()
	if code == OK {
		if err != nil {
			t.Fatalf("got %v; want the message", err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("got %d bytes %.40q; want %d bytes %.40q", len(got), got, len(msg), msg)
		}
		return
	}
	var s *Status
	if !errors.As(err, &s) {
		t.Fatalf("got %v, %d bytes; want a *Status %v %q", err, len(got), code, text)
	}
	if s.Code() != code || s.Message() != text || s.HTTPStatus() != 200 {
		t.Fatalf("got %v %q (HTTP %d); want %v %q", s.Code(), s.Message(), s.HTTPStatus(), code, text)
	}
}

// TestReadMessageBodyError: a body that fails (the stream was reset) is
// UNAVAILABLE, wherever it fails.
func TestReadMessageBodyError(t *testing.T) {
	body := frame(0, 100, bytes.Repeat([]byte{'x'}, 100))
	for _, n := range []int{0, 3, 5, 50, 105} {
		var rd Reader
		_, err := rd.ReadMessage(io.MultiReader(bytes.NewReader(body[:n]), iotest.ErrReader(errors.New("stream reset"))), Identity)
		var s *Status
		if !errors.As(err, &s) || s.Code() != Unavailable || !strings.Contains(s.Message(), "stream reset") {
			t.Errorf("failing after %d bytes: got %v; want UNAVAILABLE", n, err)
		}
	}
}

// TestReadMessageGrowsWithData: a message announced long but sent short
// costs what was sent, not what was announced.
func TestReadMessageGrowsWithData(t *testing.T) {
	var rd Reader
	sent := bytes.Repeat([]byte{'x'}, 10000)
	_, err := rd.ReadMessage(bytes.NewReader(frame(0, DefaultMaxMessage, sent)), Identity)
	checkRead(t, nil, err, nil, Internal, "unexpected EOF")
	if got := rd.Retained(); got > 2*len(sent)+minGrow {
		t.Fatalf("got %d bytes retained after a %d-byte message; want at most %d", got, len(sent), 2*len(sent)+minGrow)
	}
}

// refRead is an independent reading of a unary request body: all of it
// read first, then cut as PROTOCOL-HTTP2.md and grpc-go's server say, and
// decompressed with the standard library's gzip.
func refRead(body []byte, enc Encoding, limit int) ([]byte, Code, string) {
	if limit <= 0 {
		limit = DefaultMaxMessage
	}
	if len(body) == 0 {
		return nil, Internal, "grpc: cardinality violation: received no request message from non-client-streaming RPC"
	}
	if len(body) < 5 {
		return nil, Internal, "unexpected EOF"
	}
	flag, n := body[0], uint64(body[1])<<24|uint64(body[2])<<16|uint64(body[3])<<8|uint64(body[4])
	if n > uint64(limit) {
		return nil, ResourceExhausted, fmt.Sprintf("grpc: received message larger than max (%d vs. %d)", n, limit)
	}
	if flag == 1 && enc != Gzip {
		return nil, Internal, "grpc: compressed flag set with identity or empty encoding"
	}
	if flag > 1 {
		return nil, Internal, fmt.Sprintf("grpc: received unexpected payload format %d", flag)
	}
	rest := body[5:]
	if uint64(len(rest)) < n {
		return nil, Internal, "unexpected EOF"
	}
	msg, after := rest[:n], rest[n:]
	switch {
	case len(after) >= 5:
		return nil, Internal, "grpc: cardinality violation: received multiple request messages for non-client-streaming RPC"
	case len(after) > 0:
		return nil, Internal, "unexpected EOF"
	}
	if flag == 0 {
		return msg, OK, ""
	}
	// Member by member (RFC 1952 allows several); reserved flag bits pass,
	// as grpc-go (the standard library) lets them.
	src := bytes.NewReader(msg)
	var out []byte
	for first := true; first || src.Len() > 0; first = false {
		zr, err := stdgzip.NewReader(src)
		if err != nil {
			if len(out) > limit {
				break
			}
			return nil, Internal, "" // the text differs between decompressors
		}
		zr.Multistream(false)
		m, err := io.ReadAll(io.LimitReader(zr, int64(limit+1-len(out))))
		out = append(out, m...)
		if len(out) > limit {
			break
		}
		if err != nil {
			return nil, Internal, ""
		}
	}
	if len(out) > limit {
		return nil, ResourceExhausted, fmt.Sprintf("grpc: received message after decompression larger than max %d", limit)
	}
	return out, OK, ""
}

// TestReadMessageRandom checks ReadMessage against refRead on bodies made
// of random frames, valid and not.
func TestReadMessageRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	var rd Reader
	for i := 0; i < 1000; i++ {
		body, enc, limit := randomBody(t, r)
		rd.MaxMessage = limit
		got, err := rd.ReadMessage(bytes.NewReader(body), enc)
		compareRef(t, body, enc, limit, got, err)
	}
}

func compareRef(t *testing.T, body []byte, enc Encoding, limit int, got []byte, err error) {
	t.Helper()
	want, code, text := refRead(body, enc, limit)
	if code == OK {
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("body %.64x (enc %d, max %d): got %.40q, %v; want %.40q", body, enc, limit, got, err, want)
		}
		return
	}
	var s *Status
	if !errors.As(err, &s) || s.Code() != code || (text != "" && s.Message() != text) {
		t.Fatalf("body %.64x (enc %d, max %d): got %v; want %v %q", body, enc, limit, err, code, text)
	}
}

func randomBody(t testing.TB, r *rand.Rand) ([]byte, Encoding, int) {
	limit := []int{0, 16, 100, 1000}[r.IntN(4)]
	enc := Encoding(r.IntN(2))
	msg := make([]byte, r.IntN(200))
	for i := range msg {
		msg[i] = byte('a' + r.IntN(3))
	}
	flag := byte(0)
	if enc == Gzip && r.IntN(2) == 0 {
		flag, msg = 1, gz(t, msg)
	}
	if r.IntN(10) == 0 {
		flag = byte(r.IntN(3))
	}
	n := uint32(len(msg))
	if r.IntN(10) == 0 {
		n = uint32(r.IntN(300))
	}
	body := frame(flag, n, msg)
	switch r.IntN(10) {
	case 0:
		body = body[:r.IntN(len(body)+1)]
	case 1:
		body = append(body, make([]byte, 1+r.IntN(8))...)
	case 2:
		if len(body) > 5 {
			body[5+r.IntN(len(body)-5)] ^= byte(1 + r.IntN(255))
		}
	}
	return body, enc, limit
}

// TestMaxWire: MaxWire bounds a compressed message as sent and MaxMessage
// once inflated; a plain message is bounded by both (as sent is as
// inflated).
func TestMaxWire(t *testing.T) {
	msg := bytes.Repeat([]byte("a"), 1000) // 1 000 bytes, a few dozen gzipped
	z := gz(t, msg)
	for _, tc := range []struct {
		name       string
		body       []byte
		enc        Encoding
		wire, max  int
		exhaustion bool
	}{
		{"plain within both", frame(0, 1000, msg), Identity, 1000, 1000, false},
		{"plain over MaxWire", frame(0, 1000, msg), Identity, 999, 4096, true},
		{"plain over MaxMessage", frame(0, 1000, msg), Identity, 4096, 999, true},
		{"gzip within both", frame(1, uint32(len(z)), z), Gzip, len(z), 1000, false},
		{"gzip over MaxWire as sent", frame(1, uint32(len(z)), z), Gzip, len(z) - 1, 4096, true},
		{"gzip inflating over MaxMessage", frame(1, uint32(len(z)), z), Gzip, 4096, 999, true},
	} {
		rd := Reader{MaxMessage: tc.max, MaxWire: tc.wire}
		got, err := rd.ReadMessage(bytes.NewReader(tc.body), tc.enc)
		var st *Status
		switch {
		case tc.exhaustion && (!errors.As(err, &st) || st.Code() != ResourceExhausted):
			t.Errorf("%s: %v; want RESOURCE_EXHAUSTED", tc.name, err)
		case !tc.exhaustion && (err != nil || !bytes.Equal(got, msg)):
			t.Errorf("%s: %d bytes, %v; want the message", tc.name, len(got), err)
		}
	}
}
