//go:build linux

package grpcunary

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// BenchmarkUnary measures what serving OTLP's Export call costs the
// server, three ways, for the same client (grpc-go v1.84.0, one
// connection, conc calls in flight) and the same handler work (the
// request read and not decoded, an empty ExportMetricsServiceResponse
// answered):
//
//   - server=handler: this package's handler on net/http's HTTP/2 server
//     (h2c with prior knowledge, as engine serves it);
//   - server=servehttp: grpc-go's Server mounted on the same net/http
//     server through its ServeHTTP;
//   - server=grpcserver: grpc-go's Server on its own listener, with its
//     own HTTP/2 transport.
//
// The client runs in a child process (this test binary, re-executed with
// benchClientEnv set), so that what the benchmark process spends is the
// server's alone: ns/op is wall time per call, B/op and allocs/op are the
// server's, srv-ns/op is the server process's CPU time (user + system,
// getrusage) per call and cli-ns/op the client process's.
func BenchmarkUnary(b *testing.B) {
	handler := &unaryServer{answer: func(Call, []byte) ([]byte, error) { return nil, nil }}
	viaServeHTTP := newBenchGRPCServer()
	native := newBenchGRPCServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = native.Serve(ln) }()
	b.Cleanup(native.Stop)
	servers := []struct{ name, addr string }{
		{"handler", serveH2C(b, handler)},
		{"servehttp", serveH2C(b, viaServeHTTP)},
		{"grpcserver", ln.Addr().String()},
	}
	clients := map[string]*benchClient{}
	b.Cleanup(func() {
		for _, c := range clients {
			c.stop()
		}
	})
	for _, size := range []int{1 << 10, 64 << 10, 144 << 10} {
		for _, conc := range []int{1, 16} {
			for _, s := range servers {
				name := fmt.Sprintf("size=%dKiB/conc=%d/server=%s", size>>10, conc, s.name)
				b.Run(name, func(b *testing.B) {
					c := clients[name]
					if c == nil {
						c = startBenchClient(b, s.addr, size, conc)
						clients[name] = c
					}
					b.SetBytes(int64(c.payload))
					b.ReportAllocs()
					runtime.GC()
					b.ResetTimer()
					cpu := processCPU()
					clientCPU, err := c.run(b.N)
					cpu = processCPU() - cpu
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(cpu)/float64(b.N), "srv-ns/op")
					b.ReportMetric(float64(clientCPU)/float64(b.N), "cli-ns/op")
				})
			}
		}
	}
}

// processCPU returns the CPU time (user and system) this process has
// used, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic("BUG: getrusage: " + err.Error())
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchCodec is the benchmark servers' codec: it decodes nothing (the
// request is dropped, as the handler drops it) and encodes the empty
// response as no bytes.
type benchCodec struct{}

func (benchCodec) Marshal(any) (mem.BufferSlice, error) { return nil, nil }
func (benchCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (benchCodec) Name() string                         { return "proto" }

// newBenchGRPCServer returns a grpc-go server of MetricsService/Export
// that answers every call with an empty response, decoding nothing.
func newBenchGRPCServer() *grpc.Server {
	s := grpc.NewServer(grpc.ForceServerCodecV2(benchCodec{}))
	type exporter interface{}
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.metrics.v1.MetricsService",
		HandlerType: (*exporter)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Export",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var req struct{}
				if err := dec(&req); err != nil {
					return nil, err
				}
				return &req, nil
			},
		}},
	}, struct{}{})
	return s
}

// benchClientEnv, set to "address size concurrency", makes this test
// binary the benchmark's client process.
const benchClientEnv = "GRPCUNARY_BENCH_CLIENT"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(benchClientEnv); cfg != "" {
		os.Exit(runBenchClient(cfg))
	}
	os.Exit(m.Run())
}

// benchPayload returns an OTLP export request of about size bytes.
func benchPayload(size int) []byte {
	for n := 1; ; n++ {
		b, err := proto.Marshal(exportRequest(n))
		if err != nil {
			panic("BUG: " + err.Error())
		}
		if len(b) >= size {
			return b
		}
	}
}

// runBenchClient is the client process. It connects, warms up, says
// "ready <payload bytes>", then for each line "N" of its input makes N
// calls, conc at a time, and answers "ok <its CPU nanoseconds>".
func runBenchClient(cfg string) int {
	var addr string
	var size, conc int
	if _, err := fmt.Sscan(cfg, &addr, &size, &conc); err != nil {
		fmt.Fprintln(os.Stderr, "bench client:", err)
		return 2
	}
	payload := benchPayload(size)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench client:", err)
		return 2
	}
	defer func() { _ = cc.Close() }()
	call := func() error {
		var resp []byte
		return cc.Invoke(context.Background(), exportMethod, &payload, &resp, grpc.ForceCodecV2(rawCodec{}))
	}
	for range 100 {
		if err := call(); err != nil {
			fmt.Fprintln(os.Stderr, "bench client:", err)
			return 2
		}
	}
	fmt.Printf("ready %d\n", len(payload))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(in.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench client:", err)
			return 2
		}
		cpu := processCPU()
		var next atomic.Int64
		var failed atomic.Pointer[error]
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					if err := call(); err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
				}
			})
		}
		wg.Wait()
		if e := failed.Load(); e != nil {
			fmt.Printf("error %v\n", strings.ReplaceAll((*e).Error(), "\n", " "))
			continue
		}
		fmt.Printf("ok %d\n", processCPU()-cpu)
	}
	return 0
}

// benchClient is the parent's side of a client process.
type benchClient struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	payload int
}

func startBenchClient(b *testing.B, addr string, size, conc int) *benchClient {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", benchClientEnv, addr, size, conc))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &benchClient{cmd: cmd, in: in, out: bufio.NewReader(out)}
	line, err := c.out.ReadString('\n')
	if _, serr := fmt.Sscanf(line, "ready %d\n", &c.payload); err != nil || serr != nil {
		c.stop()
		b.Fatalf("client process: got %q, %v; want ready", line, err)
	}
	return c
}

// run has the client make n calls and returns the client's CPU time.
func (c *benchClient) run(n int) (int64, error) {
	if _, err := fmt.Fprintf(c.in, "%d\n", n); err != nil {
		return 0, err
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		return 0, err
	}
	var cpu int64
	if _, err := fmt.Sscanf(line, "ok %d\n", &cpu); err != nil {
		return 0, fmt.Errorf("client process: %s", strings.TrimSpace(line))
	}
	return cpu, nil
}

func (c *benchClient) stop() {
	_ = c.in.Close()
	done := make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
