package ingest

import (
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/ingest/otlp"
	"github.com/gomad/mad/ingest/otlp/otlpjson"
	"github.com/gomad/mad/internal/grpcunary"
	"github.com/gomad/mad/internal/jsonstr"
)

// MAD's OpenTelemetryGrpcSource (MAD-SPEC §13.1) is an HTTP source of kind
// HTTPOTLP: OTLP/gRPC's unary Export on MAD's route, served by the main
// HTTP server (h2c with prior knowledge, h2 over TLS) as MAD serves it, and
// beyond MAD OTLP/HTTP's POST /v1/metrics (protobuf or JSON). Both decode
// with ingest/otlp into the slot's batches and publish whole or not at all,
// as every HTTP source does; they differ in framing and answers.

const (
	// OTLPGRPCPath is the gRPC method MAD serves.
	OTLPGRPCPath = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
	// OTLPHTTPPath is OTLP/HTTP's metrics route.
	OTLPHTTPPath = "/v1/metrics"
)

// otlpVariant is how an OTLP request came.
type otlpVariant uint8

const (
	otlpGRPC otlpVariant = iota
	otlpProtobuf
	otlpJSON
)

// otlpVariantOf says how r came, and false for a Content-Type the route
// does not take.
func otlpVariantOf(r *http.Request) (otlpVariant, bool) {
	ct := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Type")))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	if r.URL.Path == OTLPGRPCPath {
		return otlpGRPC, ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+")
	}
	switch ct {
	case "application/x-protobuf", "application/protobuf":
		return otlpProtobuf, true
	case "application/json":
		return otlpJSON, true
	}
	return otlpProtobuf, false
}

// appendExportResponse appends an ExportMetricsServiceResponse: empty when
// every point was taken, else with partial_success saying how many were
// rejected and why.
func appendExportResponse(dst []byte, st *otlp.Stats) []byte {
	rejected := st.Rejected()
	if rejected == 0 {
		return dst
	}
	msg := partialMessage(st)
	var ps []byte
	ps = protowire.AppendTag(ps, 1, protowire.VarintType)
	ps = protowire.AppendVarint(ps, uint64(rejected))
	ps = protowire.AppendTag(ps, 2, protowire.BytesType)
	ps = protowire.AppendString(ps, msg)
	dst = protowire.AppendTag(dst, 1, protowire.BytesType)
	return protowire.AppendBytes(dst, ps)
}

// appendExportResponseJSON is appendExportResponse in OTLP's JSON.
func appendExportResponseJSON(dst []byte, st *otlp.Stats) []byte {
	rejected := st.Rejected()
	if rejected == 0 {
		return append(dst, "{}"...)
	}
	dst = append(dst, `{"partialSuccess":{"rejectedDataPoints":"`...)
	dst = strconv.AppendInt(dst, int64(rejected), 10)
	dst = append(dst, `","errorMessage":`...)
	dst = jsonstr.AppendString(dst, partialMessage(st))
	return append(dst, "}}"...)
}

// partialMessage says why points were rejected.
func partialMessage(st *otlp.Stats) string {
	var b strings.Builder
	add := func(n int, why string) {
		if n == 0 {
			return
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strconv.Itoa(n))
		b.WriteByte(' ')
		b.WriteString(why)
	}
	add(st.NonFinite, "points with a value that is not finite")
	add(st.Empty, "histogram points without buckets")
	add(st.Unsupported, "points of a type mad does not aggregate (Summary, or no data)")
	add(st.TooLong, "points whose series key is longer than 65519 bytes")
	return b.String()
}

// appendStatus appends a google.rpc.Status (OTLP/HTTP's error body).
func appendStatus(dst []byte, code int, msg string) []byte {
	dst = protowire.AppendTag(dst, 1, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(code))
	dst = protowire.AppendTag(dst, 2, protowire.BytesType)
	return protowire.AppendString(dst, msg)
}

// appendStatusJSON is appendStatus in JSON.
func appendStatusJSON(dst []byte, code int, msg string) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, `,"message":`...)
	dst = jsonstr.AppendString(dst, msg)
	return append(dst, '}')
}

// otlpContentTypes names what a route takes, for a 415's message.
func otlpContentTypes(r *http.Request) string {
	if r.URL.Path == OTLPGRPCPath {
		return "application/grpc"
	}
	return "application/x-protobuf or application/json"
}

// grpcMessage reads a gRPC request's one message with the slot's
// grpcunary.Reader, bounded by MaxBody as sent and MaxDecompressed once
// its grpc-encoding is undone.
func (sl *httpSlot) grpcMessage(r *http.Request, cfg *HTTPConfig) ([]byte, HTTPRefusal, error) {
	call, err := grpcunary.ParseCall(r)
	if err != nil {
		return nil, grpcRefusal(err), err
	}
	if sl.grpc == nil {
		sl.grpc = &grpcunary.Reader{}
	}
	sl.grpc.MaxMessage, sl.grpc.MaxWire = cfg.MaxDecompressed, cfg.MaxBody
	msg, err := sl.grpc.ReadMessage(r.Body, call.Encoding)
	sl.note(sl.grpc.Retained())
	if err != nil {
		return nil, grpcRefusal(err), err
	}
	return msg, 0, nil
}

// grpcRefusal is the refusal a grpcunary error is counted as.
func grpcRefusal(err error) HTTPRefusal {
	var st *grpcunary.Status
	if !errors.As(err, &st) {
		return RefusedBodyUnreadable
	}
	var ne net.Error
	switch {
	case st.HTTPStatus() == http.StatusUnsupportedMediaType:
		return RefusedContentType
	case st.HTTPStatus() == http.StatusHTTPVersionNotSupported:
		return RefusedHTTPVersion
	case st.Code() == grpcunary.Unimplemented:
		return RefusedUnsupportedEncoding
	case st.Code() == grpcunary.ResourceExhausted && errors.Is(err, grpcunary.ErrWireTooLarge):
		return RefusedBodyTooLarge
	case st.Code() == grpcunary.ResourceExhausted:
		return RefusedDecompressedTooLarge
	case st.Code() == grpcunary.Unavailable && (errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()):
		return RefusedBodyTimeout
	case st.Code() == grpcunary.Unavailable:
		return RefusedBodyUnreadable
	}
	return RefusedBadFraming
}

// otlpMessage turns the body of an OTLP request into the protobuf message
// the decoder reads: a gRPC request's message (read in handle), an
// OTLP/HTTP protobuf body as is, a JSON body transcoded.
func (sl *httpSlot) otlpMessage(r *http.Request, plain []byte) ([]byte, HTTPRefusal, error) {
	v, _ := otlpVariantOf(r)
	if v != otlpJSON {
		return plain, 0, nil
	}
	if sl.json == nil {
		sl.json = &otlpjson.Transcoder{}
	}
	msg, err := sl.json.Transcode(sl.jsonPB[:0], plain)
	sl.jsonPB = msg[:0]
	sl.note(cap(msg))
	if err != nil {
		return nil, refusalOf(err), err
	}
	return msg, 0, nil
}

// answerOTLP answers a request whose points were taken (some may have been
// rejected: partial_success).
func (s *HTTPSource) answerOTLP(w http.ResponseWriter, r *http.Request, st *otlp.Stats) {
	v, _ := otlpVariantOf(r)
	var buf [256]byte
	switch v {
	case otlpGRPC:
		frame := appendExportResponse(grpcunary.BeginFrame(buf[:0]), st)
		grpcunary.WriteResponse(w, grpcunary.EndFrame(frame))
	case otlpProtobuf:
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
		w.Write(appendExportResponse(buf[:0], st))
	case otlpJSON:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(appendExportResponseJSON(buf[:0], st))
	}
}

// grpcSaturated is the answer to a call the aggregator cannot take now:
// UNAVAILABLE, to be retried after a second (the OTLP exporters read
// RetryInfo).
var grpcSaturated = grpcunary.NewUnavailable("mad: the aggregator is saturated: retry later", time.Second)

// grpcStatusOf is the gRPC status of a refusal: grpcunary's own for what
// grpcunary refused, UNAVAILABLE with RetryInfo when the aggregator is
// saturated, else the refusal's code with the error's message.
func grpcStatusOf(why HTTPRefusal, err error) *grpcunary.Status {
	var st *grpcunary.Status
	switch {
	case errors.As(err, &st):
	case why.GRPCCode() == grpcUnavailable:
		st = grpcSaturated
	default:
		st = grpcunary.New(grpcunary.Code(why.GRPCCode()), err.Error())
	}
	return st
}

// refuseOTLP answers a refused OTLP request: over gRPC with the refusal's
// status (or grpcunary's own, for what it refused), over OTLP/HTTP with
// the refusal's HTTP status and a google.rpc.Status body, and
// Retry-After when it is worth retrying.
func refuseOTLP(w http.ResponseWriter, r *http.Request, why HTTPRefusal, err error) {
	v, _ := otlpVariantOf(r)
	if v == otlpGRPC || r.URL.Path == OTLPGRPCPath {
		grpcunary.WriteError(w, grpcStatusOf(why, err))
		return
	}
	status := why.Status()
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	var buf []byte
	if v == otlpJSON {
		w.Header().Set("Content-Type", "application/json")
		buf = appendStatusJSON(buf, why.GRPCCode(), err.Error())
	} else {
		w.Header().Set("Content-Type", "application/x-protobuf")
		buf = appendStatus(buf, why.GRPCCode(), err.Error())
	}
	w.WriteHeader(status)
	w.Write(buf)
}

// OTLPOptions are the OpenTelemetry source's options of mad's own (MAD has
// none): each changes results, so each is off by default.
type OTLPOptions struct {
	// CumulativeToDelta turns cumulative monotonic sums into deltas per
	// stream and aggregates monotonic sums as counters (otlp.Deltas), with
	// at most MaxStreams streams, each forgotten after StreamTimeout
	// without points (0: the tracker's defaults).
	CumulativeToDelta bool
	MaxStreams        int
	StreamTimeout     time.Duration
	// NumberUnits applies metrics' units to Sum and Gauge points.
	NumberUnits bool
}

// deltas returns the tracker o asks for: old if it has the same bounds, a
// new one if not, nil if o does not convert.
func (o OTLPOptions) deltas(old *otlp.Deltas) *otlp.Deltas {
	if !o.CumulativeToDelta {
		return nil
	}
	n := otlp.NewDeltas(o.MaxStreams, o.StreamTimeout)
	if old != nil && old.Max() == n.Max() && old.Timeout() == n.Timeout() {
		return old
	}
	return n
}

// The outcomes of the points of accepted OTLP requests
// (mad_source_otlp_points_total).
const (
	otlpAccepted = iota
	otlpReplaced
	otlpNonFinite
	otlpEmpty
	otlpUnsupported
	otlpTooLong
	otlpNoDelta
	numOTLPOutcomes
)

var otlpOutcomeNames = [numOTLPOutcomes]string{"accepted", "replaced", "non_finite", "empty", "unsupported", "too_long", "no_delta"}

// countOTLP adds the outcomes of an accepted request's points.
func (s *HTTPSource) countOTLP(st *otlp.Stats) {
	left := st.Replaced + st.Rejected() + st.NoDelta
	for o, n := range [numOTLPOutcomes]int{st.Points - left, st.Replaced, st.NonFinite, st.Empty, st.Unsupported, st.TooLong, st.NoDelta} {
		if n > 0 {
			s.otlpPoints[o].Add(uint64(n))
		}
	}
}
