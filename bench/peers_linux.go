//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/engine/config"
)

// Peer is an aggregator the harness can install, configure and run on the
// same traffic as mad: mad itself and the peers of PERF.md.
type Peer struct {
	Name string
	// Protocols the peer takes; Tags whether it reads DogStatsD tags.
	Protocols []Protocol
	Tags      bool
	// Install puts the peer into dir (see Installed); a peer that needs
	// root (Debian packages) says so in its error.
	Installed func(dir string) bool
	Install   func(dir string, log io.Writer) error
	// Rebuild says Install runs every time (mad, built from the working
	// tree, so that it is never stale).
	Rebuild bool
	// Command writes the peer's configuration into dir and returns its
	// command line.
	Command func(dir string, o PeerOptions) ([]string, error)
	// Ready checks that the peer listens.
	Ready func(o PeerOptions) func() error
	// Resolve, once the peer is ready, returns the options with the
	// addresses it listens on (a port 0 it was given: mad's).
	Resolve func(dir string, o PeerOptions) (PeerOptions, error)
	// StdoutOutput says the peer's output is its standard output (mad's
	// JSON lines), read by the harness.
	StdoutOutput bool
	// Metrics is the peer's Prometheus /metrics path for mad's internal
	// loss ("" for none), on URL.
	Metrics string
	// Totals reads what the peer emitted, by the peer's series naming,
	// before it is stopped (BeforeStop) or after; nil if the peer has no
	// output the harness can read.
	Totals     func(dir string, o PeerOptions) (map[string]Got, error)
	BeforeStop bool
	// CountersOnly says Totals covers counter sums only (no counts).
	CountersOnly bool
	// Mangle maps a harness identity to the peer's naming of the series.
	Mangle func(id string) string
	// Variant says the peer is mad in another configuration, run when
	// named (-peers), not by "madbench all".
	Variant bool
	// Points returns how many data points the peer has taken (a peer
	// with no output but a count of what it received: otelcol), read
	// before it is stopped; nil if none.
	Points func(o PeerOptions) (float64, error)
	// Note is printed with the peer's results.
	Note string
	// Pprof says the peer serves Go's /debug/pprof on URL (mad), for
	// Bench.Profile.
	Pprof bool
}

// PeerOptions are what every peer is configured with.
type PeerOptions struct {
	StatsD string        // host:port of the StatsD listener (UDP and TCP)
	HTTP   string        // host:port of mad's HTTP server (default 127.0.0.1:7090)
	Flush  time.Duration // flush interval (mad: its smallest period)
	Mad    string        // the mad binary
	// SinkURL is where a forwarding peer (vmagent) sends; the harness runs
	// a sink there (RemoteWriteSink).
	SinkURL string
	// Protocol is what the run sends, for peers that listen on one
	// transport at a time.
	Protocol Protocol
	// OTLPGRPC and OTLPHTTP are the host:port a peer with ports of its own
	// takes OTLP on ("": mad's HTTP server, which serves both), and
	// PeerMetrics the host:port of its GET /metrics (Prometheus text with
	// go_memstats_alloc_bytes_total): set by Resolve.
	OTLPGRPC, OTLPHTTP, PeerMetrics string
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func run(log io.Writer, dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

// Peers returns every peer, mad first.
func Peers() []Peer {
	return []Peer{madPeer(), madTransforming(), madGRPCPort(), statsdExporter(), collectd(), etsy(), telegraf(), vmagent(), otelcol()}
}

// PeerByName finds a peer.
func PeerByName(name string) (Peer, bool) {
	for _, p := range Peers() {
		if p.Name == name {
			return p, true
		}
	}
	return Peer{}, false
}

func madPeer() Peer {
	return Peer{
		Name:      "mad",
		Protocols: []Protocol{StatsDLines, TCP, V3, RemoteWrite, OTLPGRPC, OTLPHTTP},
		Tags:      true,
		Installed: func(dir string) bool { return exists(filepath.Join(dir, "bin", "mad")) },
		Rebuild:   true,
		Install: func(dir string, log io.Writer) error {
			// Built from the working directory's module (madbench runs in
			// the repository).
			wd, _ := os.Getwd()
			return run(log, wd, nil, "go", "build", "-o", filepath.Join(dir, "bin", "mad"), "./cmd/mad")
		},
		Command: func(dir string, o PeerOptions) ([]string, error) {
			bin := o.Mad
			if bin == "" {
				bin = filepath.Join(dir, "bin", "mad")
			}
			conf := filepath.Join(dir, "mad.conf")
			text, err := madConfig(o)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(conf, text, 0o644); err != nil {
				return nil, err
			}
			return []string{bin, conf}, nil
		},
		Ready: func(o PeerOptions) func() error {
			return func() error {
				if strings.HasSuffix(o.StatsD, ":0") || strings.HasSuffix(o.httpAddr(), ":0") {
					return nil // Resolve waits for the addresses mad logs
				}
				if err := UDPReady(portOf(o.StatsD))(); err != nil {
					return err
				}
				resp, err := http.Get("http://" + o.httpAddr() + "/ping")
				if err != nil {
					return err
				}
				resp.Body.Close()
				return nil
			}
		},
		Resolve:      madResolver("mad"),
		StdoutOutput: true,
		Metrics:      "/metrics",
		Pprof:        true,
		Mangle:       func(id string) string { return id },
		Note:         "embedded default configuration (PT1S and PT1M, JSON lines) on the harness's addresses; whose MAD OpenTelemetryGrpcSource takes the OTLP runs (gRPC and /v1/metrics on the HTTP port)",
	}
}

// madTransforming is mad with its StatsD sources (UDP and TCP) wrapped in a
// TransformingSource of three rules (MAD-SPEC §13.2): a rename by pattern
// ("s1.app03.metric_000003" becomes "s1/app03/metric_000003"), an injected
// dimension (cluster=bench) and a removed one (pid, which the workloads do
// not send): what the wrapping costs against the bare source, alternating
// with "mad" in one run (issue 16's bound). Its results are checked series
// by series, mangled as the rules rename them.
func madTransforming() Peer {
	p := madPeer()
	p.Name = "mad-transforming"
	p.Variant = true
	p.Protocols = []Protocol{StatsDLines, TCP}
	p.Resolve = madResolver(p.Name)
	rewriteConfig(&p, wrapStatsD)
	p.Mangle = func(id string) string {
		name, dims := splitIdentity(id)
		dims["cluster"] = "bench"
		return Identity(transformedName.ReplaceAllString(name, "$1/$2/$3"), dims)
	}
	p.Note = "mad's embedded default configuration with its StatsD sources in a TransformingSource of three rules (rename s1.appNN.x to s1/appNN/x, inject cluster=bench, remove pid)"
	return p
}

// madGRPCPort is mad with its OpenTelemetry source also on a gRPC port of
// its own (grpcPort: grpc-go's server), which takes the OTLP/gRPC runs:
// what grpc-go's transport saves against MAD's route on the HTTP port.
func madGRPCPort() Peer {
	p := madPeer()
	p.Name = "mad-grpc-port"
	p.Variant = true
	p.Protocols = []Protocol{OTLPGRPC}
	p.Resolve = madResolver(p.Name)
	rewriteConfig(&p, func(text []byte) ([]byte, error) {
		const at = "        name=\"opentelemetry_source\"\n"
		if strings.Count(string(text), at) != 1 {
			return nil, fmt.Errorf("mad's default configuration changed: no source opentelemetry_source")
		}
		return []byte(strings.Replace(string(text), at, at+"        grpcHost=\"127.0.0.1\"\n        grpcPort=0\n", 1)), nil
	})
	p.Note = "mad's embedded default configuration with its OpenTelemetry source also on a gRPC port of its own (grpcPort, grpc-go's server), which takes the OTLP/gRPC runs"
	return p
}

// rewriteConfig makes a variant of mad's peer p run a configuration that
// edit makes of mad's (madConfig's text).
func rewriteConfig(p *Peer, edit func([]byte) ([]byte, error)) {
	command := p.Command
	p.Command = func(dir string, o PeerOptions) ([]string, error) {
		args, err := command(dir, o)
		if err != nil {
			return nil, err
		}
		text, err := os.ReadFile(args[1])
		if err != nil {
			return nil, err
		}
		if text, err = edit(text); err != nil {
			return nil, err
		}
		return args, os.WriteFile(args[1], text, 0o644)
	}
}

// transformedName is the rename of madTransforming's rules, in Go's syntax.
var transformedName = regexp.MustCompile(`^(s[12])\.(\w+)\.(.*)$`)

// wrapStatsD wraps the StatsD sources of mad's configuration text (as
// madConfig writes it) in madTransforming's TransformingSource.
func wrapStatsD(text []byte) ([]byte, error) {
	const rules = `transformations=[{
          transformMetrics={ "^(s[12])\\.(\\w+)\\.(.*)$"=["${1}/${2}/${3}"] }
          injectDimensions={ cluster={ value="bench", overwrite=false } }
          removeDimensions=["pid"]
        }]`
	s := string(text)
	for _, src := range []string{"statsd_source", "statsd_tcp_source"} {
		open := "      {\n        type=\"com.arpnetworking.metrics.common.sources."
		i := strings.Index(s, "name=\""+src+"\"")
		j := strings.LastIndex(s[:max(i, 0)], open)
		k := strings.Index(s[max(i, 0):], "\n      }\n")
		if i < 0 || j < 0 || k < 0 {
			return nil, fmt.Errorf("mad's default configuration changed: no source %s to wrap", src)
		}
		k += i + len("\n      }\n")
		inner := strings.ReplaceAll(s[j:k-1], "\n", "\n  ")
		s = s[:j] + "      {\n        type=\"com.arpnetworking.metrics.mad.experimental.sources.TransformingSource\"\n" +
			"        name=\"" + src + "_transforming\"\n        " + rules + "\n        source=" + strings.TrimLeft(inner, " ") + "\n      }\n" + s[k:]
	}
	return []byte(s), nil
}

func (o PeerOptions) httpAddr() string {
	if o.HTTP == "" {
		return "127.0.0.1:7090"
	}
	return o.HTTP
}

// madConfig is mad's embedded default configuration with the StatsD sources
// (UDP and TCP) on o.StatsD and the HTTP server on o.HTTP (the default runs
// MAD's OpenTelemetryGrpcSource there, for the OTLP runs).
func madConfig(o PeerOptions) ([]byte, error) {
	text := string(config.DefaultConfigText)
	host, port, err := net.SplitHostPort(o.StatsD)
	if err != nil {
		return nil, fmt.Errorf("statsd address %q: %w", o.StatsD, err)
	}
	httpHost, httpPort, err := net.SplitHostPort(o.httpAddr())
	if err != nil {
		return nil, fmt.Errorf("http address %q: %w", o.HTTP, err)
	}
	for _, r := range []struct {
		old, new string
		n        int
	}{
		{"host=\"0.0.0.0\"\n        port=8125\n", fmt.Sprintf("host=%q\n        port=%s\n", host, port), 2},
		{"httpHost=\"0.0.0.0\"\nhttpPort=7090\n", fmt.Sprintf("httpHost=%q\nhttpPort=%s\n", httpHost, httpPort), 1},
	} {
		if c := strings.Count(text, r.old); c != r.n {
			return nil, fmt.Errorf("mad's default configuration changed: %d of %q, want %d", c, r.old, r.n)
		}
		text = strings.ReplaceAll(text, r.old, r.new)
	}
	return []byte(text), nil
}

// madStarted and madSource match the lines mad logs when it has started
// and where each source listens.
var (
	madStarted = regexp.MustCompile(`msg="mad started" .*\bhttp=(\S+)`)
	madSource  = regexp.MustCompile(`msg="source ready" .*\bsource=(\S+) at="(udp|tcp) (\S+)"`)
	// madOTLPGRPC matches the OpenTelemetry source's own gRPC port.
	madOTLPGRPC = regexp.MustCompile(`msg="source ready" .*\bsource=opentelemetry_source at="[^"]*" also="tcp (\S+)"`)
)

// madResolver returns the Resolve of a mad peer: it reads, from the log of
// the peer (its name's .stderr), the addresses mad listens on, and returns
// o with them: what a port 0 became.
func madResolver(name string) func(dir string, o PeerOptions) (PeerOptions, error) {
	return func(dir string, o PeerOptions) (PeerOptions, error) {
		return madResolve(filepath.Join(dir, name+".stderr"), o)
	}
}

func madResolve(log string, o PeerOptions) (PeerOptions, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(log)
		if err != nil {
			return o, err
		}
		if m := madStarted.FindSubmatch(b); m != nil {
			proto := "udp"
			if o.Protocol == TCP {
				proto = "tcp"
			}
			for _, s := range madSource.FindAllSubmatch(b, -1) {
				if string(s[2]) == proto {
					host, _, _ := net.SplitHostPort(o.StatsD)
					o.StatsD = net.JoinHostPort(host, strconv.Itoa(portOf(string(s[3]))))
				}
			}
			if g := madOTLPGRPC.FindSubmatch(b); g != nil {
				o.OTLPGRPC = string(g[1])
			}
			_, httpPort, _ := net.SplitHostPort(string(m[1]))
			httpHost, _, _ := net.SplitHostPort(o.httpAddr())
			o.HTTP = net.JoinHostPort(httpHost, httpPort)
			return o, nil
		}
		if time.Now().After(deadline) {
			return o, fmt.Errorf("mad did not log its start in %s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statsdReady checks the StatsD listener of the run's transport.
func statsdReady(o PeerOptions) func() error {
	if o.Protocol != TCP {
		return UDPReady(portOf(o.StatsD))
	}
	return func() error {
		c, err := net.DialTimeout("tcp", o.StatsD, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func portOf(addr string) int {
	_, p, _ := splitPort(addr)
	return p
}

// promName is statsd_exporter's (client_golang's) escaping of a StatsD name.
func promName(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r >= '0' && r <= '9' && i > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// splitIdentity undoes Identity.
func splitIdentity(id string) (string, map[string]string) {
	name, rest, _ := strings.Cut(id, "|")
	dims := map[string]string{}
	if rest != "" {
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			dims[k] = v
		}
	}
	return name, dims
}

func statsdExporter() Peer {
	const web = "127.0.0.1:9102"
	bin := func(dir string) string { return filepath.Join(dir, "bin", "statsd_exporter") }
	return Peer{
		Name:      "statsd_exporter",
		Protocols: []Protocol{StatsDLines, TCP},
		Tags:      true,
		Installed: func(dir string) bool { return exists(bin(dir)) },
		Install: func(dir string, log io.Writer) error {
			return run(log, dir, []string{"GOBIN=" + filepath.Join(dir, "bin")}, "go", "install", "github.com/prometheus/statsd_exporter@v0.31.0")
		},
		Command: func(dir string, o PeerOptions) ([]string, error) {
			return []string{bin(dir), "--statsd.listen-udp=" + o.StatsD, "--statsd.listen-tcp=" + o.StatsD,
				"--web.listen-address=" + web, "--log.level=error"}, nil
		},
		Ready: func(o PeerOptions) func() error { return UDPReady(portOf(o.StatsD)) },
		Totals: func(dir string, o PeerOptions) (map[string]Got, error) {
			samples, err := ScrapeProm("http://" + web + "/metrics")
			if err != nil {
				return nil, err
			}
			out := map[string]Got{}
			for _, s := range samples {
				if strings.HasPrefix(s.Name, "statsd_exporter_") || strings.HasPrefix(s.Name, "go_") || strings.HasPrefix(s.Name, "process_") || strings.HasPrefix(s.Name, "promhttp_") {
					continue
				}
				id := Identity(s.Name, s.Labels)
				g := out[id]
				g.Sum += s.Value
				g.Rows++
				out[id] = g
			}
			return out, nil
		},
		BeforeStop:   true,
		CountersOnly: true,
		Mangle: func(id string) string {
			name, dims := splitIdentity(id)
			return Identity(promName(name), dims)
		},
		Note: "v0.31.0, no mapping file; counters read from its /metrics",
	}
}

func collectd() Peer {
	return Peer{
		Name:      "collectd",
		Protocols: []Protocol{StatsDLines},
		Installed: func(string) bool { return lookPath("collectd") != "" },
		Install: func(dir string, log io.Writer) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("collectd comes from Debian: run as root or apt-get install -y --no-install-recommends collectd-core")
			}
			return run(log, dir, []string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", "install", "-y", "--no-install-recommends", "collectd-core")
		},
		Command: func(dir string, o PeerOptions) ([]string, error) {
			host, port, err := splitPort(o.StatsD)
			if err != nil {
				return nil, err
			}
			conf := fmt.Sprintf("Interval %g\nLoadPlugin statsd\n<Plugin statsd>\n  Host %q\n  Port \"%d\"\n  DeleteSets true\n  TimerPercentile 50.0\n  TimerPercentile 90.0\n  TimerPercentile 99.0\n  TimerCount true\n  TimerSum true\n</Plugin>\n",
				o.Flush.Seconds(), host, port)
			path := filepath.Join(dir, "collectd.conf")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				return nil, err
			}
			return []string{lookPath("collectd"), "-f", "-C", path}, nil
		},
		Ready: func(o PeerOptions) func() error { return UDPReady(portOf(o.StatsD)) },
		Note:  "5.12 statsd plugin, no write plugin (no output to check)",
	}
}

// etsyBackend is a backend for Etsy statsd that appends each flush's
// counters to a JSON lines file.
const etsyBackend = `var fs = require('fs');
exports.init = function (startup, config, events) {
  var out = fs.createWriteStream(config.madbenchOut, { flags: 'a' });
  events.on('flush', function (ts, metrics) {
    var c = {};
    for (var k in metrics.counters) {
      var v = metrics.counters[k];
      if (v !== 0 && k.indexOf('statsd.') !== 0) { c[k] = v; }
    }
    out.write(JSON.stringify({ ts: ts, counters: c }) + '\n');
  });
  return true;
};
`

func etsy() Peer {
	stats := func(dir string) string { return filepath.Join(dir, "etsy", "node_modules", "statsd", "stats.js") }
	outFile := func(dir string) string { return filepath.Join(dir, "etsy-counters.jsonl") }
	return Peer{
		Name:      "etsy-statsd",
		Protocols: []Protocol{StatsDLines, TCP},
		Installed: func(dir string) bool { return exists(stats(dir)) && lookPath("node") != "" },
		Install: func(dir string, log io.Writer) error {
			if lookPath("npm") == "" {
				return fmt.Errorf("etsy statsd needs node and npm")
			}
			d := filepath.Join(dir, "etsy")
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			return run(log, d, nil, "npm", "install", "--no-audit", "--no-fund", "statsd@0.9.0")
		},
		Command: func(dir string, o PeerOptions) ([]string, error) {
			host, port, err := splitPort(o.StatsD)
			if err != nil {
				return nil, err
			}
			backend := filepath.Join(dir, "etsy", "madbench-backend.js")
			if err := os.WriteFile(backend, []byte(etsyBackend), 0o644); err != nil {
				return nil, err
			}
			os.Remove(outFile(dir))
			server := "./servers/udp"
			if o.Protocol == TCP {
				server = "./servers/tcp"
			}
			conf := fmt.Sprintf("{ servers: [{ server: %q, address: %q, port: %d }], mgmt_port: 8126, flushInterval: %d, backends: [%q], madbenchOut: %q }\n",
				server, host, port, o.Flush.Milliseconds(), backend, outFile(dir))
			path := filepath.Join(dir, "etsy", "config.js")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				return nil, err
			}
			return []string{lookPath("node"), stats(dir), path}, nil
		},
		Ready: statsdReady,
		Totals: func(dir string, o PeerOptions) (map[string]Got, error) {
			// The last flush is at most one interval after the drain.
			time.Sleep(o.Flush + 500*time.Millisecond)
			return etsyTotals(outFile(dir))
		},
		BeforeStop:   true,
		CountersOnly: true,
		Mangle:       func(id string) string { name, _ := splitIdentity(id); return name + "|" },
		Note:         "0.9.0 on Node, no tags; counters from a backend that logs each flush",
	}
}

func etsyTotals(path string) (map[string]Got, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]Got{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var flush struct {
			Counters map[string]float64 `json:"counters"`
		}
		if err := json.Unmarshal(line, &flush); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for k, v := range flush.Counters {
			g := out[k+"|"]
			g.Sum += v
			g.Rows++
			out[k+"|"] = g
		}
	}
	return out, nil
}

func telegraf() Peer {
	bin := func(dir string) string { return filepath.Join(dir, "bin", "telegraf") }
	outFile := func(dir string) string { return filepath.Join(dir, "telegraf.out") }
	return Peer{
		Name:      "telegraf",
		Protocols: []Protocol{StatsDLines, TCP},
		Tags:      true,
		Installed: func(dir string) bool { return exists(bin(dir)) },
		Install: func(dir string, log io.Writer) error {
			return run(log, dir, []string{"GOBIN=" + filepath.Join(dir, "bin")}, "go", "install",
				"-tags", "custom,inputs.statsd,outputs.file", "github.com/influxdata/telegraf/cmd/telegraf@v1.37.2")
		},
		Command: func(dir string, o PeerOptions) ([]string, error) {
			os.Remove(outFile(dir))
			conf := fmt.Sprintf(`[agent]
  interval = "%[1]s"
  flush_interval = "%[1]s"
  round_interval = true
  metric_batch_size = 10000
  metric_buffer_limit = 10000000
  omit_hostname = true
  quiet = true
[[inputs.statsd]]
  protocol = %[4]q
  service_address = %[2]q
  delete_counters = true
  delete_gauges = true
  delete_sets = true
  delete_timings = true
  percentiles = [50.0, 90.0, 99.0]
  metric_separator = "."
  datadog_extensions = true
  allowed_pending_messages = 100000
[[outputs.file]]
  files = [%[3]q]
  data_format = "influx"
`, o.Flush.String(), o.StatsD, outFile(dir), map[bool]string{true: "tcp", false: "udp"}[o.Protocol == TCP])
			path := filepath.Join(dir, "telegraf.conf")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				return nil, err
			}
			return []string{bin(dir), "--config", path}, nil
		},
		Ready: statsdReady,
		Totals: func(dir string, o PeerOptions) (map[string]Got, error) {
			return telegrafTotals(outFile(dir))
		},
		CountersOnly: true,
		Mangle:       func(id string) string { return id },
		Note:         "v1.37.2, statsd input and file output only; counters from the file",
	}
}

// telegrafTotals adds up the counter values of an influx line protocol
// file written by Telegraf's statsd input (metric_type=counter, field
// value).
func telegrafTotals(path string) (map[string]Got, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]Got{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		name, tags, fields, ok := parseInflux(sc.Text())
		if !ok || tags["metric_type"] != "counter" {
			continue
		}
		delete(tags, "metric_type")
		v, err := strconv.ParseFloat(strings.TrimSuffix(fields["value"], "i"), 64)
		if err != nil {
			continue
		}
		id := Identity(name, tags)
		g := out[id]
		g.Sum += v
		g.Rows++
		out[id] = g
	}
	return out, sc.Err()
}

// parseInflux splits one influx line protocol line (escaped ',', ' ' and
// '=' in names and tags; quoted string fields).
func parseInflux(line string) (name string, tags, fields map[string]string, ok bool) {
	splitUnescaped := func(s string, sep byte) []string {
		var parts []string
		start, quoted := 0, false
		for i := 0; i < len(s); i++ {
			switch {
			case s[i] == '\\':
				i++
			case s[i] == '"':
				quoted = !quoted
			case s[i] == sep && !quoted:
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
		return append(parts, s[start:])
	}
	unescape := func(s string) string {
		return strings.NewReplacer(`\,`, ",", `\ `, " ", `\=`, "=", `\\`, `\`).Replace(s)
	}
	sections := splitUnescaped(line, ' ')
	if len(sections) < 2 {
		return "", nil, nil, false
	}
	head := splitUnescaped(sections[0], ',')
	name = unescape(head[0])
	tags, fields = map[string]string{}, map[string]string{}
	for _, t := range head[1:] {
		kv := splitUnescaped(t, '=')
		if len(kv) == 2 {
			tags[unescape(kv[0])] = unescape(kv[1])
		}
	}
	for _, f := range splitUnescaped(sections[1], ',') {
		kv := splitUnescaped(f, '=')
		if len(kv) == 2 {
			fields[unescape(kv[0])] = kv[1]
		}
	}
	return name, tags, fields, true
}

func vmagent() Peer {
	const listen = "127.0.0.1:8429"
	return Peer{
		Name:      "vmagent",
		Protocols: []Protocol{RemoteWrite},
		Installed: func(string) bool { return lookPath("vmagent") != "" },
		Install: func(dir string, log io.Writer) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("vmagent comes from Debian: run as root or apt-get install -y --no-install-recommends victoria-metrics")
			}
			return run(log, dir, []string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", "install", "-y", "--no-install-recommends", "victoria-metrics")
		},
		Command: func(dir string, o PeerOptions) ([]string, error) {
			tmp := filepath.Join(dir, "vmagent-data")
			os.RemoveAll(tmp)
			return []string{lookPath("vmagent"), "-httpListenAddr=" + listen, "-remoteWrite.url=" + o.SinkURL,
				"-remoteWrite.tmpDataPath=" + tmp, "-remoteWrite.flushInterval=" + o.Flush.String(), "-loggerLevel=ERROR"}, nil
		},
		Ready: func(PeerOptions) func() error {
			return func() error {
				resp, err := http.Get("http://" + listen + "/health")
				if err != nil {
					return err
				}
				resp.Body.Close()
				return nil
			}
		},
		Note: "Debian's vmagent, forwarding to a sink in the harness",
	}
}

// URL returns the base URL a peer takes HTTP protocols on.
func (p Peer) URL(o PeerOptions) string {
	if p.Name == "vmagent" {
		return "http://127.0.0.1:8429"
	}
	if o.OTLPHTTP != "" {
		return "http://" + o.OTLPHTTP
	}
	return "http://" + o.httpAddr()
}

// RemoteWriteSink is an HTTP server that takes Prometheus remote-write
// requests (what a forwarding peer sends on), answers 204 and counts the
// samples by series identity.
type RemoteWriteSink struct {
	URL string
	srv *http.Server
	ln  net.Listener

	mu     sync.Mutex
	totals map[string]Got
	bad    int
}

// StartRemoteWriteSink listens on a loopback port.
func StartRemoteWriteSink() (*RemoteWriteSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &RemoteWriteSink{ln: ln, totals: map[string]Got{}, URL: "http://" + ln.Addr().String() + "/api/v1/write"}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *RemoteWriteSink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err == nil {
		body, err = snappy.Decode(nil, body)
	}
	var got map[string]Got
	if err == nil {
		got, err = countWriteRequest(body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.bad++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for id, g := range got {
		t := s.totals[id]
		t.Count += g.Count
		t.Sum += g.Sum
		t.Rows++
		s.totals[id] = t
	}
	w.WriteHeader(http.StatusNoContent)
}

// Totals returns the samples received by series identity.
func (s *RemoteWriteSink) Totals() map[string]Got {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Got, len(s.totals))
	for k, v := range s.totals {
		out[k] = v
	}
	return out
}

// Reset forgets what was received.
func (s *RemoteWriteSink) Reset() {
	s.mu.Lock()
	s.totals = map[string]Got{}
	s.mu.Unlock()
}

// Close stops the server.
func (s *RemoteWriteSink) Close() error { return s.srv.Close() }

// countWriteRequest counts the samples of a WriteRequest by series
// identity (__name__ and the other labels as dimensions).
func countWriteRequest(b []byte) (map[string]Got, error) {
	out := map[string]Got{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		ts, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		name, dims := "", map[string]string{}
		var samples, sum float64
		for len(ts) > 0 {
			num, typ, n := protowire.ConsumeTag(ts)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			ts = ts[n:]
			if typ != protowire.BytesType {
				n = protowire.ConsumeFieldValue(num, typ, ts)
				if n < 0 {
					return nil, protowire.ParseError(n)
				}
				ts = ts[n:]
				continue
			}
			v, n := protowire.ConsumeBytes(ts)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			ts = ts[n:]
			switch num {
			case 1: // Label
				k, val := "", ""
				for len(v) > 0 {
					ln, lt, m := protowire.ConsumeTag(v)
					if m < 0 || lt != protowire.BytesType {
						return nil, fmt.Errorf("bad label")
					}
					v = v[m:]
					s, m := protowire.ConsumeString(v)
					if m < 0 {
						return nil, protowire.ParseError(m)
					}
					v = v[m:]
					if ln == 1 {
						k = s
					} else if ln == 2 {
						val = s
					}
				}
				if k == "__name__" {
					name = val
				} else {
					dims[k] = val
				}
			case 2: // Sample
				for len(v) > 0 {
					sn, st, m := protowire.ConsumeTag(v)
					if m < 0 {
						return nil, protowire.ParseError(m)
					}
					v = v[m:]
					if sn == 1 && st == protowire.Fixed64Type {
						x, m := protowire.ConsumeFixed64(v)
						if m < 0 {
							return nil, protowire.ParseError(m)
						}
						sum += math.Float64frombits(x)
						v = v[m:]
						continue
					}
					m = protowire.ConsumeFieldValue(sn, st, v)
					if m < 0 {
						return nil, protowire.ParseError(m)
					}
					v = v[m:]
				}
				samples++
			}
		}
		id := Identity(name, dims)
		g := out[id]
		g.Count += samples
		g.Sum += sum
		out[id] = g
	}
	return out, nil
}
