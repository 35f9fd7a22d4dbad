package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/internal/gunzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/gomad/mad/ingest/clientpb"
	"github.com/gomad/mad/ingest/collectd"
	"github.com/gomad/mad/ingest/otlp"
	"github.com/gomad/mad/ingest/otlp/otlpjson"
	"github.com/gomad/mad/ingest/promrw"
	"github.com/gomad/mad/internal/grpcunary"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/throttle"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// HTTPKind is one of MAD's HTTP sources (MAD-SPEC §3.1).
type HTTPKind uint8

const (
	HTTPClientV1 HTTPKind = iota
	HTTPClientV2
	HTTPClientV3
	HTTPCollectd
	HTTPPrometheus
	// HTTPOTLP is MAD's OpenTelemetryGrpcSource (otlp_source.go).
	HTTPOTLP
	numHTTPKinds
)

var httpPaths = [numHTTPKinds]string{
	"/metrics/v1/application", "/metrics/v2/application", "/metrics/v3/application",
	"/metrics/v1/collectd", "/metrics/prometheus", OTLPGRPCPath,
}

// Path returns the route MAD serves the kind on: the source's key.
func (k HTTPKind) Path() string { return httpPaths[k] }

// Paths returns every route the kind serves: Path, and for OTLP also
// OTLP/HTTP's.
func (k HTTPKind) Paths() []string {
	if k == HTTPOTLP {
		return []string{OTLPGRPCPath, OTLPHTTPPath}
	}
	return []string{httpPaths[k]}
}

// HTTPKinds lists every kind.
func HTTPKinds() []HTTPKind {
	return []HTTPKind{HTTPClientV1, HTTPClientV2, HTTPClientV3, HTTPCollectd, HTTPPrometheus, HTTPOTLP}
}

// HTTPConfig configures an HTTP source.
type HTTPConfig struct {
	// Name is the source's name (MAD's `name`).
	Name string
	Kind HTTPKind
	// Slots is the number of requests decoded at once, each into its own
	// producer (its own rings to the shards); default 2. More requests
	// wait for a slot, up to Deadline.
	Slots int
	// MaxBody bounds the request body as sent (default 64 MiB; a larger
	// declared Content-Length is refused before the body is read), and
	// MaxDecompressed the body after Content-Encoding and, for remote
	// write, snappy (default 256 MiB): 413 beyond either.
	MaxBody, MaxDecompressed int
	// MaxRecords bounds the records of one request (0: no limit); 413
	// beyond it. For OTLP it bounds the data points.
	MaxRecords int
	// Deadline bounds how long a request waits for a slot, then for the
	// shards to take the slot's previous request if it was large (settle),
	// then for room in the shards' rings; past it the answer is 503 with
	// Retry-After and nothing of the request is kept. Default 5 s. (Settle
	// also waits, for half of what is left at most, for the shards to give
	// that request's batches back, and goes on without them.)
	Deadline time.Duration
	// InterpretUnits and ReservedNameWhitelist are PrometheusHttpSource's.
	InterpretUnits        bool
	ReservedNameWhitelist []string
	// OTLP are the OpenTelemetry source's options of mad's own.
	OTLP OTLPOptions
	// GRPCAddr (OTLP only) is a listener of the source's own for
	// OTLP/gRPC, served by grpc-go (otlp_grpc.go); "" for none.
	GRPCAddr string
	// Log receives throttled reports of refused requests.
	Log *slog.Logger
	// Mappers are MAD's wrapping sources around this one.
	Mappers MapperChain
}

// SourceName returns Name.
func (c *HTTPConfig) SourceName() string { return c.Name }

// SourceKey is "http " and the route.
func (c *HTTPConfig) SourceKey() string { return "http " + c.Kind.Path() }

// Claims is the source's own gRPC listener ("tcp " and its address), if
// it has one: no other source may bind it.
func (c *HTTPConfig) Claims() []string {
	if c.GRPCAddr == "" {
		return nil
	}
	return []string{"tcp " + c.GRPCAddr}
}

// httpRingSize is the capacity of the rings of an HTTP source's slots: each
// request is one batch per shard, of any size, so the rings hold few, and a
// request that finds them full waits (and is refused past the deadline)
// instead of piling up memory.
const httpRingSize = 2

// Lanes is one producer per slot, over rings of httpRingSize.
func (c *HTTPConfig) Lanes() (int, int) {
	if c.Slots <= 0 {
		return 2, httpRingSize
	}
	return c.Slots, httpRingSize
}

// Steps says that a request applies what it published (Producer.Step,
// Stepper).
func (c *HTTPConfig) Steps() bool { return true }

// Wrap adds an enclosing wrapping source's mapper.
func (c *HTTPConfig) Wrap(m MapperSpec) { c.Mappers = append(c.Mappers, m) }

// Open makes the source (NewHTTPSource); it serves requests from then on.
func (c *HTTPConfig) Open(lanes []Lanes) (Source, error) {
	return opened(NewHTTPSource(*c, lanes))
}

// EnsureDefaults fills in every unset option.
func (c *HTTPConfig) EnsureDefaults() {
	if c.Slots <= 0 {
		c.Slots = 2
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 64 << 20
	}
	if c.MaxDecompressed <= 0 {
		c.MaxDecompressed = 256 << 20
	}
	if c.Deadline <= 0 {
		c.Deadline = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// HTTPStats are the counters of an HTTP source.
type HTTPStats struct {
	// Requests by outcome: accepted, and refused by answer (400 and the
	// gRPC port's unknown methods, 413, 503, 500, 408; Gone: the client
	// left before its request was taken, no answer), each the sum of its
	// Refusals.
	Accepted, BadRequest, TooLarge, Saturated, Failed, Timeout, Gone uint64
	// Refusals counts refused requests by reason.
	Refusals [NumHTTPRefusals]uint64
	// UnknownEncoding counts requests with a Content-Encoding mad does not
	// undo, whose body was parsed as sent (as MAD parses every body).
	UnknownEncoding uint64
	// Of accepted requests: records and samples handed to the shards, and
	// body bytes as received.
	Records, Samples, Bytes uint64
	// Dropped samples: a ring stayed full after the request was accepted
	// (cannot happen: requests are published only when they fit).
	Dropped uint64
}

// HTTPSource serves one of MAD's HTTP ingest routes. Each request borrows
// a producer slot, so every ring keeps a single producer; it is decoded
// whole into the slot's batches and published only if every batch fits in
// its shard's ring, so a request is applied entirely or not at all (MAD's
// atomicity, and no partial request under overload).
type HTTPSource struct {
	cfg   atomic.Pointer[HTTPConfig]
	slots *slotPool
	all   []*httpSlot
	ctl   sync.Mutex // Retarget and Stop
	stop  bool
	grpc  *grpcServer // OTLP/gRPC on a port of its own (HTTPConfig.GRPCAddr)
	// stopJanitor ends the janitor (http_body.go).
	stopJanitor chan struct{}

	accepted, unknownEncoding atomic.Uint64
	refusals                  [NumHTTPRefusals]atomic.Uint64
	// OTLP: the points of accepted requests by outcome, and the tracker
	// of cumulative sums (nil unless OTLPOptions.CumulativeToDelta).
	otlpPoints              [numOTLPOutcomes]atomic.Uint64
	deltas                  atomic.Pointer[otlp.Deltas]
	records, samples, bytes atomic.Uint64
	refused                 throttle.Throttle // logs of refused requests
}

// httpSlot is a producer and what a request decoded on it uses; the
// buffers, decoders and batches are kept for the next request while small,
// or held after a large accepted one until the slot is idle (http_body.go).
type httpSlot struct {
	idx      int // in the source's slots
	prod     *Producer
	pb       *clientpb.Decoder
	prom     *promrw.Decoder
	collectd *collectd.Decoder
	otlp     *otlp.Decoder
	otlpSt   otlp.Stats // what the last OTLP request left out
	grpc     *grpcunary.Reader
	json     *otlpjson.Transcoder
	jsonPB   []byte      // a JSON body transcoded
	cfg      *HTTPConfig // what the decoders were made for
	body     []byte
	plain    []byte
	gz       *gunzip.Reader
	zs       *zstd.Decoder
	dims     []sample.Dim
	peak     int // the largest buffer the current request held
	// held: the slot keeps the buffers and batches of accepted requests
	// larger than httpKeepBytes, for the next ones, until it has been
	// idle for httpHoldIdle (the source's janitor); lastUse is when its
	// last request ended.
	held    bool
	heldMax int // the largest request it held since
	lastUse time.Time
	// queued: the slot's last request published more than httpKeepBytes,
	// which may still wait in the rings (settle).
	queued bool
	// route is the decoders' sample.Route (sl.bounded, made once): the
	// producer's, stopping a request whose samples outgrow
	// maxRequestSampleBytes while it is decoded.
	route sample.Route
	bound requestBound
	// otlpDecoded: the request being handled was given to the OTLP
	// decoder, which may have moved streams of the deltas tracker on; a
	// refusal takes them back (end).
	otlpDecoded bool
}

// NewHTTPSource returns a source whose slot i publishes over lanes[i].
func NewHTTPSource(cfg HTTPConfig, lanes []Lanes) (*HTTPSource, error) {
	cfg.EnsureDefaults()
	if len(lanes) != cfg.Slots {
		return nil, fmt.Errorf("http source %s: %d lanes for %d slots", cfg.Name, len(lanes), cfg.Slots)
	}
	s := &HTTPSource{}
	s.cfg.Store(&cfg)
	s.deltas.Store(cfg.OTLP.deltas(nil))
	for _, l := range lanes {
		p := NewProducer(l)
		p.MaxSamples = math.MaxInt // a request is published whole, at its end
		// Batches of any size are reused: the slot's janitor lets go of
		// large ones once the slot is idle (httpSlot.held).
		sl := &httpSlot{prod: p}
		sl.route = sl.bounded
		s.all = append(s.all, sl)
	}
	s.slots = newSlotPool(s.all)
	s.stopJanitor = make(chan struct{})
	go s.janitor(s.stopJanitor)
	if cfg.GRPCAddr != "" {
		if cfg.Kind != HTTPOTLP {
			return nil, fmt.Errorf("http source %s: a gRPC listener serves OTLP only", cfg.Name)
		}
		g, err := s.listenGRPC(cfg.GRPCAddr, cfg.MaxDecompressed)
		if err != nil {
			return nil, fmt.Errorf("http source %s: OTLP/gRPC: %w", cfg.Name, err)
		}
		s.grpc = g
	}
	return s, nil
}

// Name returns the source's name.
func (s *HTTPSource) Name() string { return s.cfg.Load().Name }

// Key is "http " and the route.
func (s *HTTPSource) Key() string { return "http " + s.Kind().Path() }

// Claims is the address the source's own gRPC listener holds, if any.
func (s *HTTPSource) Claims() []string {
	if s.grpc == nil {
		return nil
	}
	return []string{"tcp " + s.grpc.ln.Addr().String()}
}

// Kind returns the source's kind.
func (s *HTTPSource) Kind() HTTPKind { return s.cfg.Load().Kind }

// Slots returns the number of producer slots (lanes a Retarget needs).
func (s *HTTPSource) Slots() int { return len(s.all) }

// Stats returns the counters. Safe from any goroutine.
func (s *HTTPSource) Stats() HTTPStats {
	st := HTTPStats{
		Accepted: s.accepted.Load(), UnknownEncoding: s.unknownEncoding.Load(),
		Records: s.records.Load(), Samples: s.samples.Load(), Bytes: s.bytes.Load(),
	}
	for r := range st.Refusals {
		n := s.refusals[r].Load()
		st.Refusals[r] = n
		switch HTTPRefusal(r).Status() {
		case http.StatusBadRequest, http.StatusNotFound:
			st.BadRequest += n
		case http.StatusRequestEntityTooLarge:
			st.TooLarge += n
		case http.StatusServiceUnavailable:
			st.Saturated += n
		case http.StatusRequestTimeout:
			st.Timeout += n
		case statusClientClosed:
			st.Gone += n
		default:
			st.Failed += n
		}
	}
	return st
}

// take borrows every slot (waiting for requests in flight), runs f, and
// gives them back.
func (s *HTTPSource) take(f func(sl *httpSlot)) {
	for range s.all {
		<-s.slots.tokens
		sl := s.slots.claim(-1)
		f(sl)
		defer s.slots.put(sl)
	}
}

// Retargetable reports whether cfg is an HTTPConfig of the source's kind,
// number of slots and gRPC listener; its limits and mappers may differ,
// except the message limit of a gRPC listener, which grpc-go takes when
// the listener opens (the source is then opened again).
func (s *HTTPSource) Retargetable(cfg SourceConfig) bool {
	c, ok := cfg.(*HTTPConfig)
	if !ok {
		return false
	}
	n, _ := c.Lanes()
	cur := s.cfg.Load()
	if c.Kind != s.Kind() || n != len(s.all) || c.GRPCAddr != cur.GRPCAddr {
		return false
	}
	if c.GRPCAddr != "" {
		want := *c
		want.EnsureDefaults()
		return want.MaxDecompressed == cur.MaxDecompressed
	}
	return true
}

// Retarget moves the slots to new lanes (lanes[i] for slot i) and the
// source to a new configuration of the same kind (Retargetable). Requests
// in flight finish on the old lanes first; the old lanes have no producer
// when it returns.
func (s *HTTPSource) Retarget(cfg SourceConfig, lanes []Lanes) error {
	if !s.Retargetable(cfg) {
		return fmt.Errorf("http source %s: cannot take %s in place", s.Name(), cfg.SourceKey())
	}
	c := *cfg.(*HTTPConfig)
	c.EnsureDefaults()
	if len(lanes) != len(s.all) {
		return fmt.Errorf("http source %s: %d lanes for %d slots", c.Name, len(lanes), len(s.all))
	}
	s.ctl.Lock()
	defer s.ctl.Unlock()
	if s.stop {
		return fmt.Errorf("http source %s: retarget after stop", c.Name)
	}
	i := 0
	s.take(func(sl *httpSlot) {
		sl.prod.Retarget(lanes[i])
		i++
	})
	s.deltas.Store(c.OTLP.deltas(s.deltas.Load()))
	if old := s.cfg.Load(); old != nil && old.Mappers.Equal(c.Mappers) {
		// The slots keep their mappers (reconfigure), which count into
		// the old specs: report those, not the new specs nothing updates.
		c.Mappers = old.Mappers
	}
	s.cfg.Store(&c)
	return nil
}

// Start does nothing: the source serves requests as soon as it is made.
func (s *HTTPSource) Start() {}

// Stop waits for the requests in flight and refuses later ones (503): the
// source's lanes have no producer when it returns. It returns nil.
func (s *HTTPSource) Stop() error {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	if s.stop {
		return nil
	}
	s.stop = true
	close(s.stopJanitor)
	if s.grpc != nil {
		// Its calls in flight finish first (each within the deadline).
		s.grpc.stop(s.cfg.Load().Deadline + time.Second)
	}
	for range s.all {
		<-s.slots.tokens
	}
	close(s.slots.tokens)
	return nil
}

// errSaturated and errStopping are a request the data plane could not
// take in time, and one that came as the source stopped.
var (
	errSaturated = errors.New("the aggregator is saturated: retry later")
	errStopping  = errors.New("the source is stopping")
)

// ServeHTTP handles one request of the source's route.
func (s *HTTPSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := s.cfg.Load()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, cfg.Kind.Path()+" takes POST only", http.StatusMethodNotAllowed)
		return
	}
	if r.ContentLength > int64(cfg.MaxBody) {
		// Refused before the body is read, and before waiting for a slot.
		s.refuse(w, r, cfg, RefusedContentLength, fmt.Errorf("the declared Content-Length %d exceeds %d bytes", r.ContentLength, cfg.MaxBody))
		return
	}
	if cfg.Kind == HTTPOTLP {
		if _, ok := otlpVariantOf(r); !ok {
			s.refuse(w, r, cfg, RefusedContentType, fmt.Errorf("%s takes Content-Type %s, not %q", r.URL.Path, otlpContentTypes(r), r.Header.Get("Content-Type")))
			return
		}
	}
	wait := cfg.Deadline
	if t, ok := grpcunary.ParseTimeout(r.Header.Get("Grpc-Timeout")); ok && t < wait && cfg.Kind == HTTPOTLP {
		wait = t // the client gives up then: waiting longer is for nothing
	}
	deadline := time.Now().Add(wait)
	sl, err := s.borrow(prefOf(r.RemoteAddr, len(s.all)), wait, r.Context().Done())
	if err != nil {
		switch err {
		case errSaturated:
			s.refuse(w, r, cfg, RefusedNoSlot, err)
		case errStopping:
			s.refuse(w, r, cfg, RefusedStopping, err)
		default: // errCanceled: nobody to answer
			s.count(cfg, r.URL.Path, RefusedClientGone, errors.New("the client left while its request waited for a slot"))
		}
		return
	}
	why, err := s.handle(sl, cfg, r, deadline)
	ost := sl.otlpSt
	s.slots.put(sl)
	if err != nil {
		s.refuse(w, r, cfg, why, err)
		return
	}
	if cfg.Kind == HTTPOTLP {
		s.answerOTLP(w, r, &ost)
		return
	}
	w.WriteHeader(http.StatusOK)
}

var errCanceled = errors.New("canceled")

// borrow takes a free slot, pref first (slotPool.claim), waiting up to d
// for one (a free slot is always taken, however late).
func (s *HTTPSource) borrow(pref int, d time.Duration, cancel <-chan struct{}) (*httpSlot, error) {
	select {
	case _, ok := <-s.slots.tokens:
		if !ok {
			return nil, errStopping
		}
		return s.slots.claim(pref), nil
	default:
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case _, ok := <-s.slots.tokens:
		if !ok {
			return nil, errStopping
		}
		return s.slots.claim(pref), nil
	case <-timer.C:
		return nil, errSaturated
	case <-cancel:
		return nil, errCanceled
	}
}

// handle reads, decodes and publishes one request on slot sl; on error it
// returns why the request is refused.
func (s *HTTPSource) handle(sl *httpSlot, cfg *HTTPConfig, r *http.Request, deadline time.Time) (why HTTPRefusal, err error) {
	if sl.cfg != cfg {
		sl.reconfigure(cfg)
	}
	defer func() { sl.release(err == nil) }()
	sl.begin()
	defer sl.end(&why, &err, false) // before release: it sees the refusal
	var plain []byte
	if cfg.Kind == HTTPOTLP && r.URL.Path == OTLPGRPCPath {
		plain, why, err = sl.grpcMessage(r, cfg)
		if err != nil {
			return why, err
		}
		s.bytes.Add(uint64(sl.grpc.WireLen()))
	} else if plain, why, err = s.readPlain(sl, cfg, r); err != nil {
		return why, err
	}
	gone := func() bool { return r.Context().Err() != nil }
	if why, err := sl.settle(deadline, gone); err != nil {
		return why, err
	}
	sl.ensureDecoder(cfg, s.deltas.Load())
	now := time.Now().UnixMilli()
	var st sample.Counts
	switch cfg.Kind {
	case HTTPClientV1:
		st, err = sl.pb.DecodeV1(plain, now, sl.route)
	case HTTPClientV2:
		st, err = sl.pb.DecodeV2(plain, now, sl.route)
	case HTTPClientV3:
		st, err = sl.pb.DecodeV3(plain, now, sl.route)
	case HTTPCollectd:
		sl.dims = headerDims(sl.dims[:0], r.Header)
		st, err = sl.collectd.Decode(plain, sl.dims, now, sl.route)
	case HTTPOTLP:
		var msg []byte
		if msg, why, err = sl.otlpMessage(r, plain); err != nil {
			return why, err
		}
		sl.otlpDecoded = true
		st, err = sl.otlp.Decode(msg, now, sl.route)
		sl.otlpSt = sl.otlp.Stats()
	case HTTPPrometheus:
		if n, derr := snappy.DecodedLen(plain); derr == nil {
			sl.note(n) // what promrw decompresses into its own buffer
		}
		if strings.Contains(r.Header.Get("Content-Type"), "io.prometheus.write.v2.Request") {
			st, err = sl.prom.DecodeV2(plain, now, sl.route)
		} else {
			st, err = sl.prom.Decode(plain, now, sl.route)
		}
	}
	if err != nil {
		sl.prod.Discard()
		return refusalOf(err), err
	}
	if err := sl.errExpands(); err != nil {
		return RefusedDecoderLimit, err
	}
	if why, err := s.publishWhole(sl, deadline, gone); err != nil {
		return why, err
	}
	s.noteAccepted(st)
	if cfg.Kind == HTTPOTLP {
		s.countOTLP(&sl.otlpSt)
	}
	return 0, nil
}

// maxRequestSampleBytes bounds what one request may decode into (the
// batches' samples, keys, histograms and values, PendingSampleBytes). A
// batch addresses its parts with 32-bit offsets, and some formats expand
// far beyond their bytes on the wire (an OTLP resource attribute is part
// of every point's key), so a small request could otherwise wrap them.
// A variable so that tests can lower it.
var maxRequestSampleBytes int64 = 1 << 30

// overBound returns the refusal of a request whose samples take more
// than maxRequestSampleBytes so far, nil while they fit.
func (sl *httpSlot) overBound() error {
	if n := sl.prod.PendingSampleBytes(); n > maxRequestSampleBytes {
		return fmt.Errorf("%w: the request decodes into more than %d bytes of samples and keys (%d when decoding stopped); send it in parts", errExpands, maxRequestSampleBytes, n)
	}
	return nil
}

// errExpands refuses a request whose samples take more than
// maxRequestSampleBytes once decoded (the route checked them up to its
// last sample), discarding them.
func (sl *httpSlot) errExpands() error {
	err := sl.overBound()
	if err != nil {
		sl.prod.Discard()
	}
	return err
}

// The slot's route checks what the request has decoded into
// (PendingSampleBytes, a walk of the shards' batches) every
// expandCheckEvery routes (a route is a sample, or a run of up to a few
// hundred values), and at the next route once the keys written through it
// since the last check reach expandCheckBytes (a mapper's keys, written as
// it maps a staged sample, are seen by the walk only): a request whose samples
// outgrow maxRequestSampleBytes is stopped within about expandCheckBytes
// and one sample of it, not once it is decoded whole. Keys are what
// expands (a few MB of OTLP can decode into gigabytes, an attribute of its
// resource being part of every point's key; a V3 record's dimensions are
// part of each of its metrics' keys); a sample's other parts are its own
// bytes on the wire, or a fixed size a sample. errExpands's check after
// decoding stays: it sees the last sample.
const (
	expandCheckEvery = 256
	expandCheckBytes = 1 << 20
)

// requestBound is what the route has seen of the request being decoded.
type requestBound struct {
	last     *sample.Batch // the batch the route returned last
	lastKeys int           // its len(Keys) then
	grown    int           // bytes of keys written since the last check
	calls    int           // routes since the last check
}

// expandStop is what the route panics with to stop a decoder whose request
// outgrew maxRequestSampleBytes (a sample.Route has no error to return);
// end turns it into the request's refusal.
type expandStop struct{ err error }

// bounded is the slot's sample.Route (see requestBound).
func (sl *httpSlot) bounded(h uint64) *sample.Batch {
	g := &sl.bound
	if g.last != nil {
		g.grown += len(g.last.Keys) - g.lastKeys
	}
	if g.calls++; g.calls >= expandCheckEvery || g.grown >= expandCheckBytes {
		sl.checkExpands()
	}
	b := sl.prod.Route(h)
	g.last, g.lastKeys = b, len(b.Keys)
	return b
}

// checkExpands stops the decoder (bounded) if the request's samples
// outgrew maxRequestSampleBytes.
func (sl *httpSlot) checkExpands() {
	if err := sl.overBound(); err != nil {
		panic(expandStop{err})
	}
	sl.bound.grown, sl.bound.calls = 0, 0
}

// begin starts a request on the slot: the route has seen nothing of it,
// the OTLP decoder has not had it.
func (sl *httpSlot) begin() { sl.bound, sl.otlpDecoded = requestBound{}, false }

// end, deferred by a request's handler, ends it: a decoder the route
// stopped (expandStop) makes the request's refusal (decoder_limit;
// RESOURCE_EXHAUSTED over gRPC), what it had decoded discarded and the
// slot's decoders, stopped mid-request, dropped; any other panic goes on.
// A refused request's changes to the OTLP deltas tracker are taken back
// (otlp.Decoder.Undo), so that its retry converts as it would have:
// nothing of it was applied.
func (sl *httpSlot) end(why *HTTPRefusal, err *error, grpc bool) {
	r := recover()
	if r != nil {
		stop, ok := r.(expandStop)
		if !ok {
			panic(r)
		}
		sl.prod.Discard()
		*why, *err = RefusedDecoderLimit, stop.err
		if grpc {
			*err = status.Error(codes.ResourceExhausted, stop.err.Error())
		}
	}
	if *err != nil && sl.otlpDecoded && sl.otlp != nil {
		sl.otlp.Undo()
	}
	if r != nil {
		sl.dropDecoders()
	}
}

var errExpands = errors.New("request too large once decoded")

// publishWhole publishes what the slot's producer holds whole, or nothing:
// it waits until every batch fits in its ring, and discards everything if
// the deadline passes (RefusedShardsBehind) or the client leaves
// (RefusedClientGone) first, or has left by then: a request answered after
// its client gave up would be sent again. A request that published more
// than httpKeepBytes leaves the slot queued (settle).
func (s *HTTPSource) publishWhole(sl *httpSlot, deadline time.Time, gone func() bool) (HTTPRefusal, error) {
	if !sl.waitUntil(sl.prod.Fits, deadline, gone) || gone() {
		sl.prod.Discard()
		return waitRefusal(gone)
	}
	used := sl.prod.PendingSampleBytes()
	sl.note(sl.prod.PendingBytes())
	sl.prod.Flush()
	sl.prod.Step()
	sl.queued = used > httpKeepBytes
	return 0, nil
}

// waitRefusal is why a request that waited for the shards is refused: its
// client left, or the deadline passed.
func waitRefusal(gone func() bool) (HTTPRefusal, error) {
	if gone() {
		return RefusedClientGone, errClientGone
	}
	return RefusedShardsBehind, errSaturated
}

// settle makes a request wait, before it decodes anything, until the
// shards have taken the batches of the slot's previous request if that one
// was large (queued); if the deadline passes or the client leaves first,
// the request is refused with nothing published. Without it the slot's next
// request decoded into batches of its own while the previous ones waited
// in the rings, and a slot held four large batches at a time where it needs
// two: with requests of 1.25 M samples (madbench S3's large cell) the
// daemon's RSS at the end of a run went from 207-209 MB to 143 MB and its
// peak from 324-367 MB to 218-231 MB, at the same samples per CPU-second
// (BENCHMARKS.md). Waiting here rather than before answering the large
// request keeps its answer from being late (a client past its deadline
// would send again what was published).
//
// Then it waits, for returnWait at most, until the shards have applied
// those batches and given them back, and decodes into them
// (Producer.ReuseReturned): a slot then holds one set of large batches,
// not two (the one being applied and the one the next request grows).
// In the same cell the RSS at the end went from 143 MB to 79 MB and the
// peak to 112-130 MB; a single connection's requests no longer overlap
// their decoding with the previous one's application, which cost 2-4 % of
// the rate on two CPUs (several connections still overlap). A client that
// leaves meanwhile is refused as gone; a wait that runs out (a shard that
// is slow, or stopped) forgets the batches still out, and the request
// goes on with new ones.
func (sl *httpSlot) settle(deadline time.Time, gone func() bool) (HTTPRefusal, error) {
	if !sl.queued {
		return 0, nil
	}
	if !sl.waitUntil(sl.prod.Taken, deadline, gone) {
		return waitRefusal(gone)
	}
	sl.queued = false
	now := time.Now()
	if !sl.waitUntil(sl.prod.Returned, now.Add(min(returnWait, deadline.Sub(now)/2)), gone) {
		if gone() {
			return waitRefusal(gone)
		}
		sl.prod.ForgetOutstanding()
	}
	sl.prod.ReuseReturned()
	return 0, nil
}

// returnWait bounds settle's wait for the shards to give back the batches
// of the slot's previous request (a request of 1.25 M samples takes about
// 35 ms of CPU to decode and apply); it takes half of what is left before
// the request's deadline at most, leaving the other half to the request.
const returnWait = 250 * time.Millisecond

// waitUntil waits until ok holds, running the shards' rounds over hosted
// lanes (to make progress when the shards share this goroutine's CPU), and
// reports false if the deadline passes or the client leaves (gone) first.
// It runs one round before it looks at the deadline, which may have passed
// while the body was read.
func (sl *httpSlot) waitUntil(ok func() bool, deadline time.Time, gone func() bool) bool {
	for spin := 0; !ok(); spin++ {
		if spin > 0 && (time.Now().After(deadline) || gone()) {
			return false
		}
		sl.prod.Step()
		if spin < 8 {
			time.Sleep(0)
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
	return true
}

// noteAccepted counts an accepted request and what it carried.
func (s *HTTPSource) noteAccepted(c sample.Counts) {
	s.accepted.Add(1)
	s.records.Add(uint64(c.Records))
	s.samples.Add(uint64(c.Samples))
}

// readPlain reads a request's body into the slot's buffer and undoes its
// Content-Encoding.
func (s *HTTPSource) readPlain(sl *httpSlot, cfg *HTTPConfig, r *http.Request) ([]byte, HTTPRefusal, error) {
	body, err := readBody(r.Body, sl.body[:0], cfg.MaxBody, r.ContentLength)
	sl.body = body[:0]
	sl.note(cap(body))
	if err != nil {
		switch {
		case errors.Is(err, errTooLarge):
			return nil, RefusedBodyTooLarge, fmt.Errorf("the body exceeds %d bytes", cfg.MaxBody)
		case isTimeout(err):
			return nil, RefusedBodyTimeout, fmt.Errorf("the body did not arrive within the read timeout: %w", err)
		}
		return nil, RefusedBodyUnreadable, fmt.Errorf("reading the body: %w", err)
	}
	s.bytes.Add(uint64(len(body)))
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if cfg.Kind == HTTPPrometheus && enc == "snappy" {
		enc = "" // remote write's own block compression, decoded by promrw
	}
	if !knownEncoding(enc) {
		s.unknownEncoding.Add(1)
		enc = ""
	}
	plain, err := sl.decompress(enc, body, cfg.MaxDecompressed)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, RefusedDecompressedTooLarge, fmt.Errorf("the decompressed body exceeds %d bytes", cfg.MaxDecompressed)
		}
		return nil, RefusedBadEncoding, err
	}
	return plain, 0, nil
}

// refusalOf is the refusal of a body a decoder refused, by the error's
// kind: over a limit (413), where MAD fails with something other than a
// ParsingException (500), MAD's ParsingException otherwise (400).
func refusalOf(err error) HTTPRefusal {
	switch {
	case errors.Is(err, sample.ErrTooLarge):
		return RefusedDecoderLimit
	case errors.Is(err, sample.ErrMADFails):
		return RefusedMADFails
	}
	return RefusedMalformed
}

// reconfigure takes cfg: the decoders (made for the old limits) are
// dropped, and the mapper changed if it differs.
func (sl *httpSlot) reconfigure(cfg *HTTPConfig) {
	sl.dropDecoders()
	if sl.cfg == nil || !sameSpecs(sl.cfg.Mappers, cfg.Mappers) {
		sl.prod.SetMapper(cfg.Mappers.New())
	}
	sl.cfg = cfg
}

// sameSpecs reports whether a and b are the same specs, not just equal
// ones: a slot keeps its mapper only for the specs it counts into, the
// ones the source reports (Retarget carries equal specs over; a slot idle
// through a reload to other specs and back would otherwise keep a mapper
// of specs no longer reported).
func sameSpecs(a, b MapperChain) bool { return slices.Equal(a, b) }

// ensureDecoder makes the decoder of cfg's kind if the slot has none (an
// OTLP one with the source's tracker of cumulative sums).
func (sl *httpSlot) ensureDecoder(cfg *HTTPConfig, deltas *otlp.Deltas) {
	switch cfg.Kind {
	case HTTPClientV1, HTTPClientV2, HTTPClientV3:
		if sl.pb == nil {
			sl.pb = clientpb.NewDecoder(clientpb.Config{MaxRecords: cfg.MaxRecords})
		}
	case HTTPCollectd:
		if sl.collectd == nil {
			sl.collectd = collectd.NewDecoder(collectd.Config{MaxRecords: cfg.MaxRecords})
		}
	case HTTPOTLP:
		sl.prod.HoldStage = true // a later point replaces a staged one (seenTable)
		if sl.otlp == nil {
			sl.otlp = otlp.NewDecoder(otlp.Config{MaxPoints: cfg.MaxRecords, Deltas: deltas, NumberUnits: cfg.OTLP.NumberUnits})
		}
	case HTTPPrometheus:
		if sl.prom == nil {
			sl.prom = promrw.NewDecoder(promrw.Config{InterpretUnits: cfg.InterpretUnits, ReservedNameWhitelist: cfg.ReservedNameWhitelist,
				MaxRecords: cfg.MaxRecords, MaxDecompressed: cfg.MaxDecompressed})
		}
	}
}

// headerDims returns the X-TAG-* headers as dimensions: the key lower-cased
// without the prefix, the value as given; of a repeated header the last
// value wins, as in MAD's header map (MAD-SPEC §4.7).
func headerDims(dst []sample.Dim, h http.Header) []sample.Dim {
	for k, vs := range h {
		if len(vs) == 0 || len(k) < len("x-tag-") || !strings.EqualFold(k[:len("x-tag-")], "x-tag-") {
			continue
		}
		dst = append(dst, sample.Dim{Key: []byte(strings.ToLower(k[len("x-tag-"):])), Value: []byte(vs[len(vs)-1])})
	}
	return dst
}

// refuse answers a refused request and counts it; the log is throttled to
// one line per source every 10 s.
func (s *HTTPSource) refuse(w http.ResponseWriter, r *http.Request, cfg *HTTPConfig, why HTTPRefusal, err error) {
	s.count(cfg, r.URL.Path, why, err)
	status := why.Status()
	if why.bodyLeft() && r.ProtoMajor == 1 {
		// Answer at once and hang up rather than wait for what is left
		// of the body: the server would otherwise read up to 256 KiB of
		// it, as slowly as the client sends it, before closing.
		w.Header().Set("Connection", "close")
		http.NewResponseController(w).SetReadDeadline(time.Now()) // not supported by test recorders: ignored
	}
	if cfg.Kind == HTTPOTLP {
		refuseOTLP(w, r, why, err)
		return
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, err.Error(), status)
}

// count counts a refused request (of path) and logs it, throttled to one
// line per source every 10 s.
func (s *HTTPSource) count(cfg *HTTPConfig, path string, why HTTPRefusal, err error) {
	s.refusals[why].Add(1)
	if ok, left := s.refused.Allow(time.Now()); ok {
		cfg.Log.Warn("http request refused", "source", cfg.Name, "path", path, "status", why.Status(), "reason", why.String(), "err", err, "left_out", left)
	}
}

// Inject runs fill on a borrowed slot as if it were a request, and
// publishes what it routed whole, or nothing: the daemon's own metrics
// reach the aggregation this way (MAD posts them to its own V3 route). It
// returns an error (nothing published) if no slot or no room is found
// before the deadline, or if fill fails.
func (s *HTTPSource) Inject(fill func(route sample.Route) (sample.Counts, error)) (err error) {
	cfg := s.cfg.Load()
	deadline := time.Now().Add(cfg.Deadline)
	sl, err := s.borrow(-1, cfg.Deadline, nil)
	if err != nil {
		return err
	}
	defer s.slots.put(sl)
	if sl.cfg != cfg {
		// As a request: through the source's wrapping sources (MAD posts
		// its own metrics to its V3 route).
		sl.reconfigure(cfg)
	}
	defer func() { sl.release(err == nil) }() // a refusal lets go of what it grew
	var why HTTPRefusal
	sl.begin()
	defer sl.end(&why, &err, false) // before release: it sees the refusal
	never := func() bool { return false }
	if _, err := sl.settle(deadline, never); err != nil {
		return err
	}
	c, err := fill(sl.route)
	if err != nil {
		sl.prod.Discard()
		return err
	}
	if err := sl.errExpands(); err != nil {
		return err
	}
	if _, err := s.publishWhole(sl, deadline, never); err != nil {
		return err
	}
	s.noteAccepted(c)
	return nil
}
