//go:build linux

package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// rawCodec sends a request that is already encoded (a *[]byte) as it is,
// and keeps a response's bytes: the sender does not marshal anything per
// request. It is named "proto" so that the content type is gRPC's usual.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

// SendGRPC calls the OTLP metrics Export method at addr (host:port, h2c
// with prior knowledge) with the load's requests, stamped with the send
// time: conns connections, each with streams calls in flight. Requests the
// target answers with a status other than OK are listed in Refused; the
// statuses are counted as GRPCStatus.
func SendGRPC(ctx context.Context, addr string, conns, streams int, l Load) (Sent, error) {
	var ccs []*grpc.ClientConn
	defer func() {
		for _, cc := range ccs {
			cc.Close()
		}
	}()
	for range max(conns, 1) {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallRecvMsgSize(64<<20)))
		if err != nil {
			return Sent{}, err
		}
		cc.Connect()
		ccs = append(ccs, cc)
	}
	pace := newPacer(l)
	p := l.Payloads
	var mu sync.Mutex
	out := Sent{Status: map[int]int{}}
	var wg sync.WaitGroup
	for _, cc := range ccs {
		for range max(streams, 1) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var body, answer []byte
				for ctx.Err() == nil {
					i, _, ok := pace.claim(1)
					if !ok {
						return
					}
					k := i % len(p.Messages)
					body = append(body[:0], p.Messages[k]...)
					if k < len(p.Stamps) {
						Stamp(body, p.Stamps[k], time.Now().UnixMilli())
					}
					cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					err := cc.Invoke(cctx, OTLPExportMethod, &body, &answer)
					cancel()
					code := status.Code(err)
					var rejected int64
					if code == codes.OK && p.Rejected != nil {
						rejected = p.Rejected(answer)
					}
					mu.Lock()
					out.Status[GRPCStatus(code)]++
					if code == codes.OK {
						out.Messages++
						out.Lines += p.Lines[k]
						out.Rejected += rejected
					} else {
						out.Refused = append(out.Refused, i)
						if code == codes.Unavailable || code == codes.DeadlineExceeded {
							out.Errors++
						}
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	out.Elapsed = time.Since(pace.start)
	return out, ctx.Err()
}

// otelcolBin is where Install builds the Collector peer.
func otelcolBin(dir string) string { return filepath.Join(dir, "bin", "otelcol-bench") }

// otelcolReady matches the line the Collector peer writes once it listens.
var otelcolReady = regexp.MustCompile(`otelcol-bench ready grpc=(\S+) http=(\S+) metrics=(\S+)`)

// otelcol is the OpenTelemetry Collector's OTLP receiver (v0.165.0) with a
// consumer that counts data points standing for a no-op exporter:
// bench/peers/otelcol, a module of its own, built from the Go module
// proxy at the versions its go.sum records.
func otelcol() Peer {
	return Peer{
		Name:      "otelcol",
		Protocols: []Protocol{OTLPGRPC, OTLPHTTP},
		Installed: func(dir string) bool { return exists(otelcolBin(dir)) },
		// Rebuilt every time, as mad is, so that it follows the source
		// (the go command's cache makes that a link).
		Rebuild: true,
		Install: func(dir string, log io.Writer) error {
			// Built from the repository's bench/peers/otelcol (madbench
			// runs in the repository, as for mad).
			wd, _ := os.Getwd()
			src := filepath.Join(wd, "bench", "peers", "otelcol")
			if !exists(filepath.Join(src, "go.mod")) {
				return fmt.Errorf("%s not found: run madbench in the repository", src)
			}
			return run(log, src, []string{"GOFLAGS=-mod=readonly -buildvcs=false"}, "go", "build", "-o", otelcolBin(dir), ".")
		},
		Command: func(dir string, o PeerOptions) ([]string, error) {
			return []string{otelcolBin(dir)}, nil
		},
		// Resolve waits for the line with the addresses.
		Ready: func(PeerOptions) func() error { return func() error { return nil } },
		Resolve: func(dir string, o PeerOptions) (PeerOptions, error) {
			deadline := time.Now().Add(30 * time.Second)
			for {
				b, err := os.ReadFile(filepath.Join(dir, "otelcol.stderr"))
				if err != nil {
					return o, err
				}
				if m := otelcolReady.FindSubmatch(b); m != nil {
					o.OTLPGRPC, o.OTLPHTTP, o.PeerMetrics = string(m[1]), string(m[2]), string(m[3])
					return o, nil
				}
				if time.Now().After(deadline) {
					return o, fmt.Errorf("otelcol did not log its addresses in %s", filepath.Join(dir, "otelcol.stderr"))
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
		Points: func(o PeerOptions) (float64, error) {
			s, err := ScrapeProm("http://" + o.PeerMetrics + "/metrics")
			if err != nil {
				return 0, err
			}
			return SumProm(s, "otelcol_bench_data_points_total", nil), nil
		},
		Note: "the Collector's otlpreceiver v0.165.0 (gRPC and HTTP, default settings) into a consumer that counts data points (no processors, no-op telemetry): bench/peers/otelcol",
	}
}
