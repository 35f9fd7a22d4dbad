package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomad/mad/engine/config"
)

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	writeFile(t, pipes, "good.conf", "name=good\nsources=[{type=StatsdSource, name=s, port=0}]")
	writeFile(t, pipes, "bad.conf", "name=bad\nperiods=[\"PT1X\"]")
	writeFile(t, pipes, ".hidden.conf.swp", "not a pipeline")
	main := writeFile(t, dir, "main.conf", "pipelinesDirectory="+`"`+pipes+`"`+"\nhttpPort=7090\npekkoConfiguration{}")
	summary, ps := CheckConfig(main, config.LoadOptions{Env: env()})
	if len(ps) != 1 || !strings.Contains(ps[0].Error(), "bad.conf:2") {
		t.Errorf("problems %v", ps)
	}
	if !strings.Contains(strings.Join(summary, "\n"), `pipeline "good"`) {
		t.Errorf("summary %v", summary)
	}
	// A single pipeline file.
	if _, ps := CheckConfig(filepath.Join(pipes, "good.conf"), config.LoadOptions{}); len(ps) > 0 {
		t.Errorf("good.conf: %v", ps)
	}
}

// TestCheckConfigAsStartUp: -check-config finds what start-up would refuse
// without binding anything or creating a file: the TLS certificate and key
// (missing, not matching), sinks that cannot be built (an output directory
// that does not exist, a URI that does not parse), addresses claimed twice
// (by two pipelines, or by a source and the control plane), and, unless
// SkipUnavailable, classes mad lacks.
func TestCheckConfigAsStartUp(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := writeCerts(t, dir, "pkcs8")
	other := t.TempDir()
	_, otherKey, _ := writeCerts(t, other, "pkcs8")
	mainText := func(pipes, tls string) string {
		return fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=17090\nhttpsHost=\"127.0.0.1\"\nhttpsPort=17091\n%s\n", pipes, tls)
	}
	out := filepath.Join(dir, "out.jsonl")
	good := fmt.Sprintf("name=p\nsources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=18125}]\nsinks=[{type=JsonLinesSink, name=j, path=%q}]\n", out)
	sock, regular := filepath.Join(dir, "dsd.socket"), filepath.Join(dir, "regular")
	must(t, os.WriteFile(regular, nil, 0o644))
	unixPipe := func(name, path string) string {
		return fmt.Sprintf("name=%s\nsources=[{type=StatsdSource, name=u, unixSocketPath=%q}]\n", name, path)
	}
	for _, c := range []struct {
		name   string
		tls    string
		pipes  map[string]string
		skip   bool
		want   string // in the one problem; "" for none
		remark string // in the summary
	}{
		{name: "valid", tls: fmt.Sprintf("enableHttps=true\nhttpsCertificatePath=%q\nhttpsKeyPath=%q", cert, key), pipes: map[string]string{"p.conf": good + `sinks+={type=TelemetrySink, name=t}
sinks+={type=PeriodicStatisticsSink, name=ps}
sinks+={type=AggregationServerSink, name=tcp, serverAddress="127.0.0.1"}
sinks+={type=PeriodFilteringSink, name=f, excludeLessThan=PT1M, sink={type=AggregationServerHttpSink, name=c, uri="http://127.0.0.1:1/x"}}
`}},
		{name: "certificate missing", tls: fmt.Sprintf("enableHttps=true\nhttpsCertificatePath=%q\nhttpsKeyPath=%q", filepath.Join(dir, "none.pem"), key),
			want: "enableHttps: cannot load httpsCertificatePath"},
		{name: "key of another certificate", tls: fmt.Sprintf("enableHttps=true\nhttpsCertificatePath=%q\nhttpsKeyPath=%q", cert, otherKey),
			want: "private key does not match public key"},
		{name: "https on the http port", tls: fmt.Sprintf("enableHttps=true\nhttpsPort=17090\nhttpsCertificatePath=%q\nhttpsKeyPath=%q", cert, key),
			want: "httpsPort: 127.0.0.1:17090 is already used by the control plane (httpPort)"},
		{name: "TLS off: its files are not needed", tls: fmt.Sprintf("httpsCertificatePath=%q", filepath.Join(dir, "none.pem"))},
		{name: "output directory missing", pipes: map[string]string{"p.conf": strings.Replace(good, out, filepath.Join(dir, "no/such/dir/out.jsonl"), 1)},
			want: "sink j: cannot create"},
		{name: "Cluster Aggregator URI", pipes: map[string]string{"p.conf": "name=p\nsinks=[{type=AggregationServerHttpSink, name=c, uri=\"ftp://cagg\"}]\n"},
			want: `invalid uri "ftp://cagg"`},
		{name: "a source on the control plane's port", pipes: map[string]string{"p.conf": "name=p\nsources=[{type=TcpLineSource, name=t, host=\"0.0.0.0\", port=17090, parser={type=StatsdToRecordParser}}]\n"},
			want: "tcp 0.0.0.0:17090 is already used by the control plane (httpPort)"},
		{name: "OTLP's gRPC port on the control plane's", pipes: map[string]string{"p.conf": "name=p\nsources=[{type=OpenTelemetryGrpcSource, name=o, grpcHost=\"127.0.0.1\", grpcPort=17090}]\n"},
			want: "tcp 127.0.0.1:17090 is already used by the control plane (httpPort)"},
		{name: "OTLP's gRPC port and a TCP source's", pipes: map[string]string{"p.conf": "name=p\nsources=[{type=OpenTelemetryGrpcSource, name=o, grpcHost=\"127.0.0.1\", grpcPort=14317}]\n",
			"q.conf": "name=q\nsources=[{type=TcpLineSource, name=t, host=\"127.0.0.1\", port=14317, parser={type=StatsdToRecordParser}}]\n"},
			want: "tcp 127.0.0.1:14317 is already used by"},
		{name: "one address in two pipelines", pipes: map[string]string{"p.conf": good, "q.conf": strings.Replace(good, "name=p", "name=q", 1)},
			want: "udp 127.0.0.1:18125 is already used by"},
		{name: "a unix socket", pipes: map[string]string{"p.conf": good + fmt.Sprintf("sources+={type=StatsdSource, name=u, unixSocketPath=%q, unixSocketMode=\"0660\"}\n", sock)}},
		{name: "one unix socket in two pipelines", pipes: map[string]string{"p.conf": unixPipe("p", sock), "q.conf": unixPipe("q", sock)},
			want: "unixgram " + sock + " is already used by"},
		{name: "a unix socket on a regular file", pipes: map[string]string{"p.conf": unixPipe("p", regular)},
			want: "the path exists and is not a socket"},
		{name: "a unix socket in no directory", pipes: map[string]string{"p.conf": unixPipe("p", filepath.Join(dir, "none", "dsd.socket"))},
			want: "cannot use its directory"},
		{name: "a unix socket path too long", pipes: map[string]string{"p.conf": unixPipe("p", "/run/"+strings.Repeat("m", 103))},
			want: "unixSocketPath: unix socket path"},
		{name: "a Kafka consumer property mad cannot honour", pipes: map[string]string{"p.conf": good + "sources+={type=KafkaSource, name=k, consumer={topics=[\"t\"], configs={\"bootstrap.servers\"=\"127.0.0.1:9092\", \"group.id\"=g, \"compression.type\"=zstd}}, pollTime=PT1S, parser={type=ProtobufV2bytesToRecordParser}}\n"},
			want: "consumer property compression.type: not supported by mad"},
		{name: "one transactional id in two pipelines", pipes: map[string]string{"p.conf": eosPipe("p", "g1"), "q.conf": eosPipe("q", "g2")},
			want: `kafka transactional.id "tier-1" is already used by`},
		{name: "a class mad lacks", pipes: map[string]string{"p.conf": good + "sources+={type=FileSource, name=k, sourceFile=\"/var/log/x\"}\n"},
			want: "FileSource is not available"},
		{name: "a class mad lacks, skipped", skip: true, pipes: map[string]string{"p.conf": good + "sources+={type=FileSource, name=k, sourceFile=\"/var/log/x\"}\n"},
			remark: "left out (-skip-unavailable): "},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			pipes := filepath.Join(d, "pipelines")
			must(t, os.Mkdir(pipes, 0o755))
			for name, text := range c.pipes {
				writeFile(t, pipes, name, text)
			}
			main := writeFile(t, d, "main.conf", mainText(pipes, c.tls))
			summary, ps := CheckConfig(main, config.LoadOptions{Env: env(), SkipUnavailable: c.skip})
			var got []string
			for _, p := range ps {
				got = append(got, p.Error())
			}
			switch {
			case c.want == "" && len(ps) > 0:
				t.Errorf("problems %q; want none", got)
			case c.want != "" && (len(ps) == 0 || !strings.Contains(strings.Join(got, "\n"), c.want)):
				t.Errorf("problems %q; want one with %q", got, c.want)
			}
			if c.remark != "" && !strings.Contains(strings.Join(summary, "\n"), c.remark) {
				t.Errorf("summary %q; want %q in it", summary, c.remark)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("checking created the sink's file (%v)", err)
			}
			if _, err := os.Lstat(sock); !os.IsNotExist(err) {
				t.Errorf("checking created the socket's file (%v)", err)
			}
		})
	}
}

// eosPipe is a pipeline of one exactly-once KafkaSource of group group,
// transactional id tier-1.
func eosPipe(name, group string) string {
	return "name=" + name + `
periods=["PT1M"]
sources=[{type=KafkaSource, name=k, pollTime=PT1S, parser={type=io.gomad.mad.parsers.PartialsParser},
  consumer={topics=["partials"], configs={"bootstrap.servers"="127.0.0.1:9092", "group.id"=` + group + `}},
  exactlyOnce={transactionalId="tier-1"}}]
sinks=[{type=JsonLinesSink, name=j, path="/dev/null"}]
`
}
