package ingest

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// get takes a free slot, waiting for one (tests).
func (p *slotPool) get() *httpSlot {
	<-p.tokens
	return p.claim(-1)
}

// TestSlotPoolClaims: a claim takes the preferred slot when it is free and
// ready, else the next free and ready one, else the first free one; and
// under borrowers racing with their own preferences no slot is ever lent
// twice at once, and every token comes back.
func TestSlotPoolClaims(t *testing.T) {
	all := make([]*httpSlot, 4)
	for i := range all {
		all[i] = &httpSlot{prod: NewProducer(NewLanes(1, 2))}
	}
	p := newSlotPool(all)
	// Claims in turn, each with a token, none given back until the round
	// ends: what each prefers, the slot it gets, and why.
	for _, round := range []struct {
		queued []int // slots that would make a request wait (their last large request not yet taken)
		claims [][2]int
		why    []string
	}{
		{nil, [][2]int{{2, 2}, {2, 3}, {3, 0}, {-1, 1}},
			[]string{"a free preferred slot", "the preferred slot taken: the next", "2 and 3 taken, 3 preferred: around to 0", "no preference, one slot left"}},
		{[]int{1, 2}, [][2]int{{1, 3}, {1, 0}, {2, 2}, {2, 1}},
			[]string{"1 and 2 not ready, 1 preferred: the next ready one", "3 taken too: around to 0", "only 1 and 2 free, neither ready, 2 preferred", "slot 1 left"}},
	} {
		for _, i := range round.queued {
			all[i].queued = true
		}
		for k, c := range round.claims {
			<-p.tokens
			if sl := p.claim(c[0]); sl != all[c[1]] {
				t.Fatalf("%s: got slot %d; want %d", round.why[k], sl.idx, c[1])
			}
		}
		for _, sl := range all {
			sl.queued = false
			p.put(sl)
		}
	}

	lent := make([]atomic.Int32, len(all))
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 2000 {
				<-p.tokens
				sl := p.claim(r.IntN(len(all)+1) - 1)
				if n := lent[sl.idx].Add(1); n != 1 {
					t.Errorf("slot %d lent %d times at once", sl.idx, n)
				}
				lent[sl.idx].Add(-1)
				p.put(sl)
			}
		}()
	}
	wg.Wait()
	if n := len(p.tokens); n != len(all) {
		t.Errorf("%d tokens after the borrowers left; want %d", n, len(all))
	}
}

// TestHTTPConnectionKeepsItsSlot: the requests of one kept-alive
// connection go to one slot, so a rewriting source's cache of that slot
// learns the connection's series once. The slots were lent in turn: each
// of four slots learned the same series (four misses for one series).
func TestHTTPConnectionKeepsItsSlot(t *testing.T) {
	spec, err := NewMappingSpec("m", []MappingRule{{Pattern: "^a$", Replacements: []string{"mapped"}}})
	if err != nil {
		t.Fatal(err)
	}
	var lanes []Lanes
	for range 4 {
		lanes = append(lanes, NewLanes(1, 64))
	}
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 4, Mappers: MapperChain{spec}}, lanes)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := srv.Client()
	for i := range 12 {
		resp, err := client.Post(srv.URL+HTTPClientV3.Path(), "application/octet-stream", bytes.NewReader(v3Body("a", 1)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %s", i, resp.Status)
		}
		for _, l := range lanes {
			for b, ok := l.To[0].Pop(); ok; b, ok = l.To[0].Pop() {
				b.Reset()
				l.Back[0].Push(b)
			}
		}
	}
	if m, h := spec.Stats().Misses.Load(), spec.Stats().Hits.Load(); m != 1 || h != 11 {
		t.Errorf("one series in 12 requests of one connection: %d misses, %d hits; want 1 and 11", m, h)
	}
}

// postAll posts bodies one after another on one kept-alive connection to
// the source, failing the test on any answer but 200.
func postAll(t *testing.T, s *HTTPSource, bodies ...[]byte) {
	t.Helper()
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := srv.Client()
	for i, body := range bodies {
		resp, err := client.Post(srv.URL+HTTPClientV3.Path(), "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d of one connection: %s; accepted %d", i, resp.Status, s.Stats().Accepted)
		}
	}
}

// TestOneConnectionUsesEveryRing: while the shards take nothing, one
// connection's requests fill every slot's rings, as they did when the
// slots were lent in turn, instead of waiting on its preferred slot's
// full rings until refused 503 while the others stood empty (a review's
// finding: the third request was refused).
func TestOneConnectionUsesEveryRing(t *testing.T) {
	var lanes []Lanes
	for range 4 {
		lanes = append(lanes, NewLanes(1, httpRingSize))
	}
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 4, Deadline: 2 * time.Second}, lanes)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	var bodies [][]byte
	for range 4 * httpRingSize {
		bodies = append(bodies, v3Body("a", 1))
	}
	postAll(t, s, bodies...)
}

// TestLargeRequestThenAnotherOnOneConnection: after a large request, whose
// slot waits for the shards to take it before its next request, the
// connection's next request takes another slot at once (a review's
// finding: it waited on the first slot and was refused 503).
func TestLargeRequestThenAnotherOnOneConnection(t *testing.T) {
	lanes := []Lanes{NewLanes(1, 4), NewLanes(1, 4)}
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 2, Deadline: 2 * time.Second}, lanes)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	postAll(t, s, v3Body("big", 200_000), v3Body("small", 1))
}
