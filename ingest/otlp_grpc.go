package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // grpc-encoding: gzip, as OTLP exporters send it
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/grpcunary"
)

// OTLP/gRPC on a port of its own (HTTPConfig.GRPCAddr, beyond MAD: the
// OpenTelemetry source's grpcHost and grpcPort, OTLP's 4317), served by
// grpc-go's own server: per call it costs about half the CPU of the
// handler on MAD's HTTP port (DESIGN.md, the gRPC transport), which must
// share that port with MAD's other routes. A call borrows a slot and is
// decoded, published whole or refused, answered and counted as on MAD's
// route; the message reaches the decoder as bytes (a codec that copies it
// into the slot), never as generated OTLP objects.

// grpcServer is a source's own gRPC server (OTLP).
type grpcServer struct {
	ln  net.Listener
	srv *grpc.Server
}

// otlpServiceName is OTLP's metrics service.
const otlpServiceName = "opentelemetry.proto.collector.metrics.v1.MetricsService"

// The bounds of a connection to the port (net/http's HTTP/2 server's for
// MAD's route: 250 streams, 1 MiB of upload buffered).
const (
	grpcMaxStreams = 250
	grpcWindow     = 1 << 20
)

// listenGRPC binds addr and serves OTLP's Export on it, and gRPC's health
// service (SERVING, for load balancers); maxMsg bounds a message once its
// grpc-encoding is undone (grpc-go refuses a larger one with
// RESOURCE_EXHAUSTED before it is handed over: a change of the limit
// reopens the port, HTTPSource.Retargetable). As net/http's HTTP/2 server
// bounds MAD's route, a connection has at most grpcMaxStreams calls and
// grpcWindow bytes of each stream and of the connection in flight.
func (s *HTTPSource) listenGRPC(addr string, maxMsg int) (*grpcServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(slotCodec{}), grpc.MaxRecvMsgSize(maxMsg),
		grpc.MaxConcurrentStreams(grpcMaxStreams), grpc.InitialWindowSize(grpcWindow), grpc.InitialConnWindowSize(grpcWindow),
		grpc.StatsHandler(grpcCounter{s}), grpc.UnknownServiceHandler(s.unknownGRPC))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: otlpServiceName,
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: s.exportGRPC}},
		Metadata:    "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
	}, s)
	go srv.Serve(ln)
	return &grpcServer{ln: ln, srv: srv}, nil
}

// GRPCAddr returns the address of the source's own OTLP/gRPC listener, nil
// if it has none.
func (s *HTTPSource) GRPCAddr() net.Addr {
	if s.grpc == nil {
		return nil
	}
	return s.grpc.ln.Addr()
}

// stop ends the server: calls in flight finish (each within the source's
// deadline, refused past it), then the listener is closed; calls still
// running after wait are cut off.
func (g *grpcServer) stop(wait time.Duration) {
	done := make(chan struct{})
	go func() { g.srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		g.srv.Stop()
		<-done
	}
}

// grpcMessage is what the codec reads a request into: the slot's buffer.
type grpcMessage struct {
	sl *httpSlot
	b  []byte
}

// errClientGone is a call whose client left while it was read.
var errClientGone = errors.New("the client left")

// slotCodec hands an Export request's bytes to grpcMessage and writes
// responses that are already encoded ([]byte); the health service's
// messages are protobuf's.
type slotCodec struct{}

func (slotCodec) Name() string { return "proto" }

func (slotCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch v := v.(type) {
	case []byte:
		return mem.BufferSlice{mem.SliceBuffer(v)}, nil
	case proto.Message:
		b, err := proto.Marshal(v)
		return mem.BufferSlice{mem.SliceBuffer(b)}, err
	}
	return nil, fmt.Errorf("slotCodec: cannot marshal %T", v)
}

func (slotCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*grpcMessage)
	if !ok {
		if pm, ok := v.(proto.Message); ok {
			return proto.Unmarshal(data.Materialize(), pm)
		}
		return fmt.Errorf("slotCodec: cannot unmarshal into %T", v)
	}
	n := data.Len()
	if cap(m.sl.plain) < n {
		m.sl.plain = make([]byte, n)
	}
	m.b = m.sl.plain[:n]
	data.CopyTo(m.b)
	m.sl.note(n)
	return nil
}

var _ encoding.CodecV2 = slotCodec{}

// grpcCall marks a call the handler answered (and counted); grpcCounter
// counts the others, which grpc-go refused before handing them over.
type grpcCall struct {
	method  string
	handled atomic.Bool
	wire    atomic.Int64 // the request message's bytes on the wire
}

type grpcCallKey struct{}

// grpcCounter is the server's stats.Handler: it counts the refusals that
// grpc-go answers itself (a message over the limit, an encoding it does
// not know, a corrupt gzip stream), and the request's wire bytes.
type grpcCounter struct{ s *HTTPSource }

func (c grpcCounter) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, grpcCallKey{}, &grpcCall{method: info.FullMethodName})
}

func (c grpcCounter) HandleRPC(ctx context.Context, st stats.RPCStats) {
	call, _ := ctx.Value(grpcCallKey{}).(*grpcCall)
	if call == nil {
		return
	}
	switch st := st.(type) {
	case *stats.InPayload:
		call.wire.Add(int64(st.WireLength))
	case *stats.End:
		if st.Error == nil || call.handled.Load() {
			return
		}
		if why, ok := grpcReadRefusal(st.Error); ok {
			c.s.count(c.s.cfg.Load(), call.method, why, st.Error)
		}
	}
}

// grpcReadRefusal is the refusal of a call that grpc-go failed to read (a
// message over the limit, an encoding it does not know, a corrupt gzip
// stream); ok is false if the client left.
func grpcReadRefusal(err error) (why HTTPRefusal, ok bool) {
	switch status.Code(err) {
	case codes.ResourceExhausted:
		return RefusedDecompressedTooLarge, true
	case codes.Unimplemented:
		return RefusedUnsupportedEncoding, true
	case codes.Canceled, codes.DeadlineExceeded:
		return 0, false
	}
	return RefusedBadFraming, true
}

func (grpcCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (grpcCounter) HandleConn(context.Context, stats.ConnStats)                       {}

// unknownGRPC answers a call of a method the port does not serve, and
// counts it.
func (s *HTTPSource) unknownGRPC(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.Method(stream.Context())
	if call, _ := stream.Context().Value(grpcCallKey{}).(*grpcCall); call != nil {
		call.handled.Store(true)
	}
	err := status.Errorf(codes.Unimplemented, "unknown method %s: this port serves %s", method, OTLPGRPCPath)
	s.count(s.cfg.Load(), method, RefusedUnknownMethod, err)
	return err
}

// exportGRPC serves one Export call: as ServeHTTP and handle serve one on
// MAD's route, the message read by the codec into the borrowed slot.
func (s *HTTPSource) exportGRPC(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	cfg := s.cfg.Load()
	call, _ := ctx.Value(grpcCallKey{}).(*grpcCall)
	if call != nil {
		call.handled.Store(true)
	}
	wait := cfg.Deadline
	if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
		wait = time.Until(d) // the client gives up then: waiting longer is for nothing
	}
	deadline := time.Now().Add(wait)
	sl, err := s.borrow(prefOf(peerAddr(ctx), len(s.all)), wait, ctx.Done())
	if err != nil {
		switch err {
		case errSaturated:
			return nil, s.refuseGRPC(cfg, RefusedNoSlot, err)
		case errStopping:
			return nil, s.refuseGRPC(cfg, RefusedStopping, err)
		}
		s.count(cfg, OTLPGRPCPath, RefusedClientGone, errors.New("the client left while its call waited for a slot"))
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	why, err := s.handleGRPC(sl, cfg, ctx, dec, deadline, call)
	ost := sl.otlpSt
	s.slots.put(sl)
	if err == errClientGone {
		s.count(cfg, OTLPGRPCPath, RefusedClientGone, err)
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if err != nil {
		return nil, s.refuseGRPC(cfg, why, err)
	}
	var buf [256]byte
	return appendExportResponse(buf[:0], &ost), nil
}

// handleGRPC reads, decodes and publishes one call on slot sl.
func (s *HTTPSource) handleGRPC(sl *httpSlot, cfg *HTTPConfig, ctx context.Context, dec func(any) error, deadline time.Time, call *grpcCall) (why HTTPRefusal, err error) {
	if sl.cfg != cfg {
		sl.reconfigure(cfg)
	}
	defer func() { sl.release(err == nil) }()
	sl.begin()
	defer sl.end(&why, &err, true) // before release: it sees the refusal
	msg := grpcMessage{sl: sl}
	if err := dec(&msg); err != nil {
		why, ok := grpcReadRefusal(err)
		if !ok {
			return 0, errClientGone
		}
		return why, err
	}
	var wire int64 // the message on the wire: its prefix and its bytes as sent
	if call != nil {
		wire = call.wire.Load()
	}
	s.bytes.Add(uint64(wire))
	if wire > int64(cfg.MaxBody)+grpcunary.HeaderLen {
		return RefusedBodyTooLarge, status.Errorf(codes.ResourceExhausted, "the message of %d bytes as sent exceeds httpMaxBodyBytes (%d)", wire-grpcunary.HeaderLen, cfg.MaxBody)
	}
	gone := func() bool { return ctx.Err() != nil }
	if why, err := sl.settle(deadline, gone); err != nil {
		return why, err
	}
	sl.ensureDecoder(cfg, s.deltas.Load())
	sl.otlpDecoded = true
	st, err := sl.otlp.Decode(msg.b, time.Now().UnixMilli(), sl.route)
	sl.otlpSt = sl.otlp.Stats()
	if err != nil {
		sl.prod.Discard()
		return refusalOf(err), err
	}
	if err := sl.errExpands(); err != nil {
		return RefusedDecoderLimit, status.Error(codes.ResourceExhausted, err.Error())
	}
	if why, err := s.publishWhole(sl, deadline, gone); err != nil {
		return why, err
	}
	s.noteAccepted(st)
	s.countOTLP(&sl.otlpSt)
	return 0, nil
}

// refuseGRPC counts a refused call and returns its status: grpc-go's own
// for what grpc-go refused, else the refusal's gRPC code, and UNAVAILABLE
// with RetryInfo when the aggregator is saturated (grpcunary's status, so
// that both ports answer alike).
func (s *HTTPSource) refuseGRPC(cfg *HTTPConfig, why HTTPRefusal, err error) error {
	s.count(cfg, OTLPGRPCPath, why, err)
	if _, ok := status.FromError(err); ok {
		return err
	}
	gs := grpcStatusOf(why, err)
	var p spb.Status
	if perr := proto.Unmarshal(gs.AppendProto(nil), &p); perr != nil {
		return status.Error(codes.Code(why.GRPCCode()), err.Error())
	}
	return status.FromProto(&p).Err()
}

// peerAddr returns the address of a call's client, or "" if unknown.
func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}
