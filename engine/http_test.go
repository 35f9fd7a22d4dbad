package engine

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/jsonlines"
)

// A V3 client written from the protocol (MAD-SPEC §9.1), as the Java client
// sends it: batches of up to 500 records.

type v3Record struct {
	end     int64
	dims    [][2]string
	metrics []v3Metric
}

type v3Metric struct {
	name    string
	samples []float64
}

func v3Identifier(b []byte, field protowire.Number, s string) []byte {
	var id []byte
	id = protowire.AppendTag(id, 1, protowire.BytesType)
	id = protowire.AppendString(id, s)
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, id)
}

func v3Request(recs []v3Record) []byte {
	var out []byte
	for i, r := range recs {
		var rec []byte
		id := make([]byte, 16)
		binary.BigEndian.PutUint64(id[8:], uint64(i+1))
		rec = protowire.AppendTag(rec, 1, protowire.BytesType)
		rec = protowire.AppendBytes(rec, id)
		rec = protowire.AppendTag(rec, 2, protowire.VarintType)
		rec = protowire.AppendVarint(rec, uint64(r.end))
		for _, d := range r.dims {
			var e []byte
			e = v3Identifier(e, 1, d[0])
			e = v3Identifier(e, 2, d[1])
			rec = protowire.AppendTag(rec, 4, protowire.BytesType)
			rec = protowire.AppendBytes(rec, e)
		}
		for _, m := range r.metrics {
			var num []byte
			var packed []byte
			for _, v := range m.samples {
				packed = protowire.AppendFixed64(packed, math.Float64bits(v))
			}
			num = protowire.AppendTag(num, 1, protowire.BytesType)
			num = protowire.AppendBytes(num, packed)
			var e []byte
			e = v3Identifier(e, 1, m.name)
			e = protowire.AppendTag(e, 2, protowire.BytesType)
			e = protowire.AppendBytes(e, num)
			rec = protowire.AppendTag(rec, 5, protowire.BytesType)
			rec = protowire.AppendBytes(rec, e)
		}
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, rec)
	}
	return out
}

// httpDaemon runs a daemon with one pipeline serving the V3, collectd and
// Prometheus routes, aggregating over a decade (one bucket per series) into
// out.
func httpDaemon(t *testing.T, out *lockedBuffer, tweak func(*pipeline.Config)) *Daemon {
	t.Helper()
	return httpDaemonLimits(t, out, tweak, config.HTTPLimits{})
}

// httpDaemonLimits is httpDaemon with the server's limits (timeouts) given.
func httpDaemonLimits(t *testing.T, out *lockedBuffer, tweak func(*pipeline.Config), limits config.HTTPLimits) *Daemon {
	t.Helper()
	sink := jsonlines.NewWriter("out", out)
	pc := pipeline.Config{
		Name: "http",
		Shard: shard.Config{
			Periods:         []time.Duration{decade},
			GaugeStatistics: hist.SetOf(hist.Count, hist.Sum, hist.Min, hist.Max, hist.Mean),
		},
		Sources: []ingest.SourceConfig{
			&ingest.HTTPConfig{Name: "v3", Kind: ingest.HTTPClientV3},
			&ingest.HTTPConfig{Name: "collectd", Kind: ingest.HTTPCollectd},
			&ingest.HTTPConfig{Name: "prometheus", Kind: ingest.HTTPPrometheus},
		},
		Sinks: []sinks.Sink{sink},
	}
	if tweak != nil {
		tweak(&pc)
	}
	d, err := Start(DaemonConfig{HTTPAddr: "127.0.0.1:0", Pipelines: []pipeline.Config{pc}, HTTP: limits})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func post(t *testing.T, c *http.Client, url, encoding string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func encode(t *testing.T, encoding string, b []byte) []byte {
	t.Helper()
	switch encoding {
	case "gzip":
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	case "zstd":
		enc, _ := zstd.NewWriter(nil)
		defer enc.Close()
		return enc.EncodeAll(b, nil)
	case "snappy":
		return snappy.Encode(nil, b)
	}
	return b
}

// TestV3ClientBatches sends 20 requests of 500 records of 10 samples each
// over keep-alive connections, in every Content-Encoding, and checks the
// exact aggregates: with the shards' threads applying the requests'
// batches, and with the requests applying them (inline, the default on one
// CPU), where it also checks who ran the shards' rounds.
func TestV3ClientBatches(t *testing.T) { inlineModes(t, testV3ClientBatches) }

func testV3ClientBatches(t *testing.T, inline pipeline.InlineMode) {
	var out lockedBuffer
	d := httpDaemon(t, &out, func(pc *pipeline.Config) { pc.Inline = inline })
	url := "http://" + d.HTTPAddr().String() + "/metrics/v3/application"
	client := &http.Client{}
	end := time.Now().UnixMilli()
	type agg struct {
		n             int
		sum, min, max float64
	}
	want := map[string]*agg{}
	encodings := []string{"", "gzip", "zstd", "snappy"}
	for req := 0; req < 20; req++ {
		recs := make([]v3Record, 500)
		for i := range recs {
			host := fmt.Sprintf("host-%d", (req*500+i)%7)
			var samples []float64
			for j := 0; j < 10; j++ {
				v := float64((req*500+i)*10+j) / 8 // exact in binary
				samples = append(samples, v)
				a := want[host]
				if a == nil {
					a = &agg{min: v, max: v}
					want[host] = a
				}
				a.n++
				a.sum += v
				a.min, a.max = min(a.min, v), max(a.max, v)
			}
			recs[i] = v3Record{end: end, dims: [][2]string{{"service", "svc"}, {"cluster", "c1"}, {"host", host}},
				metrics: []v3Metric{{name: "request/latency", samples: samples}}}
		}
		enc := encodings[req%len(encodings)]
		if code, body := post(t, client, url, enc, encode(t, enc, v3Request(recs))); code != http.StatusOK {
			t.Fatalf("request %d (%q): %d %s", req, enc, code, body)
		}
	}
	src := pipeline.SourcesOf[*ingest.HTTPSource](d.Pipelines()[0])[0]
	if st := src.Stats(); st.Accepted != 20 || st.Records != 10000 || st.Samples != 100000 {
		t.Errorf("source counted %+v", st)
	}
	p := d.Pipelines()[0]
	must(t, d.Stop())
	checkSteps(t, p, inline)
	got := map[string]jsonLine{}
	for _, l := range parseLines(t, out.String()) {
		if l.Metric == "request/latency" {
			got[l.Dimensions["host"]] = l
		}
	}
	for host, a := range want {
		l, ok := got[host]
		if !ok {
			t.Errorf("%s: no output", host)
			continue
		}
		st := l.Statistics
		if l.Type != "gauge" || *st["count"] != float64(a.n) || *st["min"] != a.min || *st["max"] != a.max || l.Dimensions["service"] != "svc" {
			t.Errorf("%s: got %s %+v, want count %d min %v max %v", host, l.Type, l.Statistics, a.n, a.min, a.max)
		}
		if s, ok := st["sum"]; ok && *s != a.sum {
			t.Errorf("%s: sum %v, want %v", host, *s, a.sum)
		}
	}
}

func TestHTTPRoutes(t *testing.T) {
	var out lockedBuffer
	d := httpDaemon(t, &out, func(pc *pipeline.Config) {
		for _, s := range pc.Sources {
			s.(*ingest.HTTPConfig).MaxBody = 1 << 16
			s.(*ingest.HTTPConfig).MaxDecompressed = 1 << 18
		}
	})
	base := "http://" + d.HTTPAddr().String()
	// A body over MaxBody is sent expecting 100-continue: the source answers
	// 413 and hangs up without reading it, so a client already writing it
	// can have its connection reset before it reads the answer
	// (TestHTTPDeclaredTooLarge covers a client that sends the body at once,
	// over a raw connection).
	c := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	defer c.CloseIdleConnections()
	good := v3Request([]v3Record{{end: time.Now().UnixMilli(), dims: [][2]string{{"host", "a"}}, metrics: []v3Metric{{name: "atomic/good", samples: []float64{1}}}}})
	// A record whose dimension has no value: MAD's "Required identifier is
	// not set" (400), and the whole request is refused.
	bad := append(append([]byte{}, good...), v3Request([]v3Record{{end: 1, dims: [][2]string{{"host", "b"}}, metrics: []v3Metric{{name: "atomic/bad", samples: []float64{2}}}}})...)
	bad = bytes.Replace(bad, []byte("\x12\x03\x0a\x01b"), []byte("\x12\x00\x00\x00\x00\x00"), 1)
	for _, tc := range []struct {
		name, method, path, encoding string
		body                         []byte
		code                         int
		msg                          string
	}{
		{"no V1 source", "POST", "/metrics/v1/application", "", good, 404, "no source serves /metrics/v1/application"},
		{"GET on an ingest route", "GET", "/metrics/v3/application", "", nil, 405, "POST only"},
		{"exact paths only", "POST", "/metrics/v3/application/", "", good, 404, ""},
		{"query string ignored", "POST", "/metrics/v3/application?x=1", "", good, 200, ""},
		{"bad protobuf", "POST", "/metrics/v3/application", "", []byte{0x0a, 0xff, 0xff}, 400, ""},
		{"bad record refuses the request", "POST", "/metrics/v3/application", "", bad, 400, ""},
		{"body too large", "POST", "/metrics/v3/application", "", make([]byte, 1<<16+1), 413, "exceeds"},
		{"decompression bomb", "POST", "/metrics/v3/application", "gzip", encode(t, "gzip", make([]byte, 1<<20)), 413, "decompressed"},
		{"zstd bomb", "POST", "/metrics/v3/application", "zstd", encode(t, "zstd", make([]byte, 1<<20)), 413, "decompressed"},
		{"snappy bomb", "POST", "/metrics/v3/application", "snappy", encode(t, "snappy", make([]byte, 1<<20)), 413, "decompressed"},
		// MAD ignores Content-Encoding: a body in one mad does not undo is
		// parsed as sent (and counted).
		{"unknown encoding", "POST", "/metrics/v3/application", "br", good, 200, ""},
		{"unknown encoding, body not as sent", "POST", "/metrics/v3/application", "br", encode(t, "gzip", good), 400, ""},
		{"corrupt gzip", "POST", "/metrics/v3/application", "gzip", []byte("not gzip"), 400, "gzip"},
		{"bad collectd", "POST", "/metrics/v1/collectd", "", []byte("not a valid json file"), 400, ""},
		{"bad snappy", "POST", "/metrics/prometheus", "snappy", []byte{0xff, 0xff, 0xff}, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, bytes.NewReader(tc.body))
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			if len(tc.body) > 1<<16 {
				req.Header.Set("Expect", "100-continue")
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.msg) {
				t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.msg)
			}
			if tc.code >= 400 && len(b) == 0 {
				t.Error("an error without a message")
			}
		})
	}
	src := pipeline.SourcesOf[*ingest.HTTPSource](d.Pipelines()[0])[0]
	if st := src.Stats(); st.UnknownEncoding != 2 {
		t.Errorf("requests in an unknown encoding: %d, want 2", st.UnknownEncoding)
	}
	must(t, d.Stop())
	for _, l := range parseLines(t, out.String()) {
		if strings.HasPrefix(l.Metric, "atomic/") && l.Dimensions["host"] == "b" {
			t.Errorf("a record of a refused request was aggregated: %+v", l)
		}
	}
	var goods int
	for _, l := range parseLines(t, out.String()) {
		if l.Metric == "atomic/good" {
			goods += int(*l.Statistics["count"])
		}
	}
	if goods != 2 { // the accepted requests: with the query string, and in "br"
		t.Errorf("atomic/good counted %d times, want 2", goods)
	}
}

func TestHTTP2CleartextAndPprofSwitch(t *testing.T) {
	var out lockedBuffer
	d := httpDaemon(t, &out, nil)
	defer d.Stop()
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &protos}}
	resp, err := c.Get("http://" + d.HTTPAddr().String() + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Errorf("/ping over h2c: %s %d", resp.Proto, resp.StatusCode)
	}
	if code, _ := post(t, c, "http://"+d.HTTPAddr().String()+"/metrics/v3/application", "", v3Request(nil)); code != 200 {
		t.Errorf("V3 over h2c: %d", code)
	}
	if got := get(t, "http://"+d.HTTPAddr().String()+"/debug/pprof/"); !strings.Contains(got, "goroutine") {
		t.Error("/debug/pprof/ not served by default")
	}
	d2, err := Start(DaemonConfig{HTTPAddr: "127.0.0.1:0", DisablePprof: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Stop()
	resp, err = http.Get("http://" + d2.HTTPAddr().String() + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/debug/pprof/ with pprof disabled: %d", resp.StatusCode)
	}
}

// writeCerts writes a CA and a leaf certificate for 127.0.0.1 signed by it
// (the chain, leaf first, in one file) and the leaf's key in the given PEM
// form, and returns the paths and a pool trusting the CA.
func writeCerts(t *testing.T, dir, keyForm string) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mad test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(t, err)
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	must(t, err)
	var chain bytes.Buffer
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	var key []byte
	switch keyForm {
	case "pkcs1":
		key = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(leafKey)})
	default:
		der, err := x509.MarshalPKCS8PrivateKey(leafKey)
		must(t, err)
		key = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(t, os.WriteFile(certPath, chain.Bytes(), 0o600))
	must(t, os.WriteFile(keyPath, key, 0o600))
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return certPath, keyPath, pool
}

func TestHTTPS(t *testing.T) {
	for _, form := range []string{"pkcs8", "pkcs1"} {
		t.Run(form, func(t *testing.T) {
			dir := t.TempDir()
			cert, key, pool := writeCerts(t, dir, form)
			main := writeFile(t, dir, "main.conf", fmt.Sprintf(`pipelinesDirectory=%q
httpHost="127.0.0.1"
httpPort=0
httpsHost="127.0.0.1"
httpsPort=0
enableHttps=true
httpsCertificatePath=%q
httpsKeyPath=%q
httpReadHeaderTimeout="PT3S"
reloadInterval=0
`, filepath.Join(dir, "none"), cert, key))
			d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Stop()
			// Verifying needs the CA only: the server sends the chain.
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
			resp, err := c.Get("https://" + d.HTTPSAddr().String() + "/ping")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), "HEALTHY") || resp.ProtoMajor != 2 {
				t.Errorf("https /ping: %s %d %s", resp.Proto, resp.StatusCode, b)
			}
			// Refusals beneath TLS: a connection that never starts its
			// handshake, and a plain HTTP request on the HTTPS port.
			closed := rawRequest(t, d.HTTPSAddr().String(), "")
			if _, err := io.Copy(io.Discard, closed); err != nil {
				t.Fatalf("waiting for the server to close: %v", err)
			}
			plain, err := http.ReadResponse(bufio.NewReader(rawRequest(t, d.HTTPSAddr().String(), "GET /ping HTTP/1.1\r\nHost: mad\r\n\r\n")), nil)
			if err != nil || plain.StatusCode != http.StatusBadRequest {
				t.Fatalf("plain HTTP on the HTTPS port: %v %v", plain, err)
			}
			waitMetric(t, c, "https://"+d.HTTPSAddr().String(), `mad_http_refusals_total{reason="header_timeout"}`, 1)
			waitMetric(t, c, "https://"+d.HTTPSAddr().String(), `mad_http_refusals_total{reason="malformed"}`, 1)
		})
	}
}

// metricValue returns the value of one series (name and labels as
// /metrics writes them) on the daemon's /metrics, -1 if absent.
func metricValue(t *testing.T, c *http.Client, base, series string) float64 {
	t.Helper()
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

// waitMetric waits until a series of /metrics reads want; it fails after
// 20 s (a bound on a failure, not a measure: it is reached at once when
// right).
func waitMetric(t *testing.T, c *http.Client, base, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := metricValue(t, c, base, series)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v; want %v", series, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawRequest writes text on a new connection to addr and returns the
// connection, with a deadline of 10 s on everything that follows: a bound
// on a failure, well below the server's 30 s read timeout.
func rawRequest(t *testing.T, addr, text string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, text); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHTTPDeclaredTooLarge: a Content-Length above httpMaxBodyBytes is
// answered 413 at once, without reading the body (the client sends a few
// bytes of it and no more), and the connection is closed rather than
// drained: above net/http's 256 KiB drain limit and below it.
func TestHTTPDeclaredTooLarge(t *testing.T) {
	var out lockedBuffer
	d := httpDaemon(t, &out, func(pc *pipeline.Config) {
		for _, s := range pc.Sources {
			s.(*ingest.HTTPConfig).MaxBody = 1 << 16
		}
	})
	defer d.Stop()
	for _, tc := range []struct {
		name    string
		length  int
		headers string
	}{
		{"1 GiB", 1 << 30, ""},
		{"within the drain limit", 100_000, ""},
		{"expecting 100-continue", 1 << 30, "Expect: 100-continue\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawRequest(t, d.HTTPAddr().String(), fmt.Sprintf("POST /metrics/v3/application HTTP/1.1\r\nHost: mad\r\n%sContent-Length: %d\r\n\r\nabc", tc.headers, tc.length))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer before the client sent its body: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "Content-Length") || !resp.Close {
				t.Errorf("got %d %q (close %v); want 413 naming the Content-Length, closing", resp.StatusCode, b, resp.Close)
			}
			if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("after the answer: %d bytes, %v; want the connection closed", n, err)
			}
		})
	}
	src := pipeline.SourcesOf[*ingest.HTTPSource](d.Pipelines()[0])[0]
	if st := src.Stats(); st.Refusals[ingest.RefusedContentLength] != 3 || st.TooLarge != 3 {
		t.Errorf("refusals %v, too large %d; want 3 by content_length", st.Refusals, st.TooLarge)
	}
}

// TestHTTPRefusalsCounted: every refusal before a source takes a request is
// counted on /metrics by reason (slowloris headers, a malformed
// Content-Length, 404, 405), a body that does not arrive in time by its
// source, and an idle keep-alive connection timing out is no refusal.
func TestHTTPRefusalsCounted(t *testing.T) {
	var out lockedBuffer
	d := httpDaemonLimits(t, &out, nil, config.HTTPLimits{ReadHeaderTimeout: 1500 * time.Millisecond, ReadTimeout: 3 * time.Second, IdleTime: 1500 * time.Millisecond})
	defer d.Stop()
	addr := d.HTTPAddr().String()
	base := "http://" + addr
	refusals := func(reason string) string { return `mad_http_refusals_total{reason="` + reason + `"}` }
	closed := func(t *testing.T, c net.Conn) {
		t.Helper()
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("waiting for the server to close: %v", err)
		}
	}
	valid := "POST /metrics/v3/application HTTP/1.1\r\nHost: mad\r\nContent-Length: 0\r\n\r\n"

	// An idle keep-alive connection closed by the server: no refusal.
	c := rawRequest(t, addr, valid)
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("valid request: %v %v", resp, err)
	}
	closed(t, c)
	// Slowloris: a connection that sends nothing, one that sends half a
	// header, one that sends half a second request.
	closed(t, rawRequest(t, addr, ""))
	closed(t, rawRequest(t, addr, "POST /metrics/v3/application HTTP/1.1\r\nHost: mad\r\n"))
	c = rawRequest(t, addr, valid+"POST /metrics/v3/appl")
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("valid request: %v %v", resp, err)
	}
	closed(t, c)
	waitMetric(t, http.DefaultClient, base, refusals("header_timeout"), 3)

	for _, tc := range []struct{ text, reason string }{
		{"POST /metrics/v3/application HTTP/1.1\r\nHost: mad\r\nContent-Length: 12abc\r\n\r\n", "malformed"},
		{"POST /metrics/v3/application HTTP/1.1\r\nHost: mad\r\nTransfer-Encoding: gzip\r\n\r\n", "transfer_encoding"},
		{"GET /nothing HTTP/1.1\r\nHost: mad\r\n\r\n", "not_found"},
		{"POST /metrics/v1/application HTTP/1.1\r\nHost: mad\r\nContent-Length: 0\r\n\r\n", "no_source"},
		{"GET /metrics/v3/application HTTP/1.1\r\nHost: mad\r\n\r\n", "method_not_allowed"},
	} {
		resp, err := http.ReadResponse(bufio.NewReader(rawRequest(t, addr, tc.text)), nil)
		if err != nil || resp.StatusCode < 400 {
			t.Fatalf("%q: %v %v", tc.text, resp, err)
		}
		waitMetric(t, http.DefaultClient, base, refusals(tc.reason), 1)
	}
	// A body that stops coming: 408, counted by the source, not as a
	// header timeout.
	c = rawRequest(t, addr, "POST /metrics/v3/application HTTP/1.1\r\nHost: mad\r\nContent-Length: 100\r\n\r\nabc")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("stalled body: %v %v; want 408", resp, err)
	}
	waitMetric(t, http.DefaultClient, base, `mad_source_request_refusals_total{pipeline="http",source="v3",protocol="http",path="/metrics/v3/application",reason="body_timeout"}`, 1)
	waitMetric(t, http.DefaultClient, base, refusals("header_timeout"), 3)
	waitMetric(t, http.DefaultClient, base, refusals("malformed"), 1)
}

// heapInUse is the heap in use once the garbage is collected.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestHTTPBombsLeaveNoMemory: concurrent decompression bombs (gzip members
// and zstd frames of zeros, 64 MiB each once decoded, against a 32 MiB
// limit) on one route are each refused 413; a valid client on the same
// route is served meanwhile and after; and once they are over the heap is
// back near where it was: no request keeps its buffers or decoders.
func TestHTTPBombsLeaveNoMemory(t *testing.T) {
	const limit = 32 << 20
	var out lockedBuffer
	// Generous waits for a slot and for a body: requests queue behind
	// bombs, which the race detector slows down.
	d := httpDaemonLimits(t, &out, func(pc *pipeline.Config) {
		for _, s := range pc.Sources {
			c := s.(*ingest.HTTPConfig)
			c.MaxBody, c.MaxDecompressed, c.Deadline = 4<<20, limit, 5*time.Minute
		}
	}, config.HTTPLimits{ReadTimeout: 5 * time.Minute})
	defer d.Stop()
	url := "http://" + d.HTTPAddr().String() + "/metrics/v3/application"
	client := &http.Client{}
	valid := func() []byte {
		return v3Request([]v3Record{{end: time.Now().UnixMilli(), dims: [][2]string{{"host", "a"}}, metrics: []v3Metric{{name: "valid", samples: []float64{1, 2, 3}}}}})
	}
	for _, enc := range []string{"", "gzip", "zstd"} { // warm up: the slots' small buffers and decoders
		for range 4 {
			if code, body := post(t, client, url, enc, encode(t, enc, valid())); code != 200 {
				t.Fatalf("warm-up %q: %d %s", enc, code, body)
			}
		}
	}
	base := heapInUse()
	bombs := map[string][]byte{
		"gzip": bytes.Repeat(encode(t, "gzip", make([]byte, 1<<20)), 64),
		"zstd": bytes.Repeat(encode(t, "zstd", make([]byte, 1<<20)), 64),
	}
	const n = 6
	var wg sync.WaitGroup
	codes := make(chan string, n)
	for i := range n {
		enc := []string{"gzip", "zstd"}[i%2]
		wg.Go(func() {
			c := &http.Client{}
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bombs[enc]))
			req.Header.Set("Content-Encoding", enc)
			resp, err := c.Do(req)
			if err != nil {
				codes <- fmt.Sprintf("%s bomb: %v", enc, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				codes <- fmt.Sprintf("%s bomb: %d; want 413", enc, resp.StatusCode)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	served := 0
	for during := true; during; {
		select {
		case <-done:
			during = false
		default:
		}
		if code, body := post(t, client, url, "", valid()); code != 200 {
			t.Fatalf("valid request %d among the bombs: %d %s", served, code, body)
		}
		served++
	}
	close(codes)
	for c := range codes {
		t.Error(c)
	}
	if code, body := post(t, client, url, "gzip", encode(t, "gzip", valid())); code != 200 {
		t.Fatalf("valid request after the bombs: %d %s", code, body)
	}
	src := pipeline.SourcesOf[*ingest.HTTPSource](d.Pipelines()[0])[0]
	if st := src.Stats(); st.Refusals[ingest.RefusedDecompressedTooLarge] != n {
		t.Errorf("refusals %v; want %d decompressed_too_large", st.Refusals, n)
	}
	after := heapInUse()
	t.Logf("heap in use: %d MiB before the bombs, %d MiB after; %d valid requests served among them", base>>20, after>>20, served)
	if after > base+12<<20 {
		t.Errorf("heap in use %d MiB after the bombs, %d MiB before: bombs of a %d MiB limit left memory held", after>>20, base>>20, limit>>20)
	}
}
