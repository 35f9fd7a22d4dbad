package engine

import (
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
	"strings"
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
	d, err := Start(DaemonConfig{HTTPAddr: "127.0.0.1:0", Pipelines: []pipeline.Config{pc}})
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
// exact aggregates.
func TestV3ClientBatches(t *testing.T) {
	var out lockedBuffer
	d := httpDaemon(t, &out, nil)
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
	must(t, d.Stop())
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
	c := &http.Client{}
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
		{"unknown encoding", "POST", "/metrics/v3/application", "br", good, 400, "Content-Encoding"},
		{"corrupt gzip", "POST", "/metrics/v3/application", "gzip", []byte("not gzip"), 400, "gzip"},
		{"bad collectd", "POST", "/metrics/v1/collectd", "", []byte("not a valid json file"), 400, ""},
		{"bad snappy", "POST", "/metrics/prometheus", "snappy", []byte{0xff, 0xff, 0xff}, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, bytes.NewReader(tc.body))
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
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
	if goods != 1 { // only the accepted request with the query string
		t.Errorf("atomic/good counted %d times, want 1", goods)
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
		})
	}
}
