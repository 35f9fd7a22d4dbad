package ingest

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/internal/sample"
)

// v3Body is a V3 Request of one record with one metric of n samples.
func v3Body(name string, n int) []byte {
	ident := func(s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), s)
	}
	var packed []byte
	for i := 0; i < n; i++ {
		packed = protowire.AppendFixed64(packed, math.Float64bits(float64(i)))
	}
	num := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), packed)
	entry := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), ident(name))
	entry = protowire.AppendBytes(protowire.AppendTag(entry, 2, protowire.BytesType), num)
	rec := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), make([]byte, 16))
	rec = protowire.AppendVarint(protowire.AppendTag(rec, 2, protowire.VarintType), uint64(time.Now().UnixMilli()))
	rec = protowire.AppendBytes(protowire.AppendTag(rec, 5, protowire.BytesType), entry)
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rec)
}

func serve(s *HTTPSource, body []byte) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, HTTPClientV3.Path(), bytes.NewReader(body)))
	return w
}

// TestHTTPSaturated: when a shard's ring stays full past the deadline, the
// request is answered 503 with Retry-After and nothing of it is published;
// once the shard makes room, the same request is accepted whole.
func TestHTTPSaturated(t *testing.T) {
	lanes := NewLanes(1, 1)
	// The shard is "behind": its ring is full.
	full := 0
	for lanes.To[0].Push(new(sample.Batch)) {
		full++
	}
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1, Deadline: 20 * time.Millisecond}, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(s, v3Body("m", 3))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("saturated: %d %q, Retry-After %q", w.Code, w.Body.String(), w.Header().Get("Retry-After"))
	}
	if st := s.Stats(); st.Saturated != 1 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
	// The shard catches up.
	for i := 0; i < full; i++ {
		if b, ok := lanes.To[0].Pop(); !ok || len(b.Samples) != 0 {
			t.Fatal("the refused request was published")
		}
	}
	w = serve(s, v3Body("m", 3))
	if w.Code != http.StatusOK {
		t.Fatalf("after room: %d %s", w.Code, w.Body.String())
	}
	b, ok := lanes.To[0].Pop()
	if !ok || len(b.Samples) != 3 {
		t.Fatalf("published %v samples", b)
	}
	if st := s.Stats(); st.Accepted != 1 || st.Samples != 3 || st.Records != 1 {
		t.Errorf("stats %+v", st)
	}
	s.Stop()
	if w := serve(s, v3Body("m", 1)); w.Code != http.StatusServiceUnavailable {
		t.Errorf("after Stop: %d", w.Code)
	}
}

// TestHTTPBusySlots: a request that finds every slot taken waits, and is
// answered 503 if none frees up in time.
func TestHTTPBusySlots(t *testing.T) {
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 2, Deadline: 20 * time.Millisecond}, []Lanes{NewLanes(1, 4), NewLanes(1, 4)})
	if err != nil {
		t.Fatal(err)
	}
	a, b := <-s.slots, <-s.slots
	if w := serve(s, v3Body("m", 1)); w.Code != http.StatusServiceUnavailable {
		t.Errorf("no slot: %d", w.Code)
	}
	s.slots <- a
	s.slots <- b
	if w := serve(s, v3Body("m", 1)); w.Code != http.StatusOK {
		t.Errorf("with a slot: %d %s", w.Code, w.Body.String())
	}
}

func TestReadBodyLimit(t *testing.T) {
	for _, n := range []int{0, 1, 100, 4096, 4097, 10000} {
		b, err := readBody(bytes.NewReader(make([]byte, n)), nil, 4096)
		if n <= 4096 && (err != nil || len(b) != n) {
			t.Errorf("%d bytes: %d, %v", n, len(b), err)
		}
		if n > 4096 && err != errTooLarge {
			t.Errorf("%d bytes over the limit: %v", n, err)
		}
	}
	if _, err := readBody(io.MultiReader(bytes.NewReader(make([]byte, 10)), errReader{}), nil, 100); err == nil || err == errTooLarge {
		t.Errorf("read error: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// TestHeaderDims: X-TAG-* headers, any case, become lower-cased dimensions.
func TestHeaderDims(t *testing.T) {
	h := http.Header{}
	h.Set("X-Tag-Service", "MyService")
	h["x-tag-Cluster"] = []string{"MyCluster"}
	h.Set("X-Other", "no")
	h.Add("X-Tag-Zone", "first")
	h.Add("X-Tag-Zone", "last")
	dims := headerDims(nil, h)
	got := map[string]string{}
	for _, d := range dims {
		got[string(d.Key)] = string(d.Value)
	}
	if len(got) != 3 || got["service"] != "MyService" || got["cluster"] != "MyCluster" || got["zone"] != "last" {
		t.Errorf("dims %v", got)
	}
}

// TestProducerDropsHugeReturnedBatches: a batch that grew past MaxRetained
// is not reused when the shard gives it back.
func TestProducerDropsHugeReturnedBatches(t *testing.T) {
	l := NewLanes(1, 4)
	p := NewProducer(l)
	p.MaxRetained = 8
	huge := &sample.Batch{Samples: make([]sample.Sample, 0, 100)}
	small := &sample.Batch{Samples: make([]sample.Sample, 0, 8)}
	l.Back[0].Push(huge)
	l.Back[0].Push(small)
	if b := p.fresh(0); b != small {
		t.Errorf("fresh returned a batch of capacity %d, want the small one", cap(b.Samples))
	}
	if b := p.fresh(0); b == huge || b == small {
		t.Error("fresh reused a batch it should have dropped or already handed out")
	}
}
