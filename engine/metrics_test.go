package engine

import (
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMetricsEndpoint(t *testing.T) {
	out := &lockedBuffer{}
	d, udpAddr, _ := startDaemon(t, out, []time.Duration{time.Second}, 2)
	conn, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "a:1|c\nbad\n")
	conn.Close()
	waitLines(t, d.Pipelines()[0], 2)
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	d.Stop()
	text := rec.Body.String()
	for _, want := range []string{
		`mad_source_lines_total{pipeline="e2e",source="statsd",protocol="udp",result="ok"} 1`,
		`mad_source_lines_total{pipeline="e2e",source="statsd",protocol="udp",result="syntax"} 1`,
		`mad_source_kernel_drops_total{pipeline="e2e",source="statsd",protocol="udp"} 0`,
		`mad_source_ring_dropped_samples_total{pipeline="e2e",source="statsd",protocol="udp"} 0`,
		`mad_sink_queue_length{pipeline="e2e",sink="json"}`,
		`# TYPE mad_shard_series gauge`,
		`go_goroutines`, `process_resident_memory_bytes`,
		`# TYPE mad_offheap_mapped_bytes gauge`, `# TYPE mad_offheap_resident_bytes gauge`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Every family is declared once, before its samples, which follow it
	// in one group (the text format's rule).
	seen := map[string]int{}
	family := ""
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			family = strings.Fields(line)[2]
			seen[family]++
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			name, _, _ := strings.Cut(line, "{")
			name, _, _ = strings.Cut(name, " ")
			if name != family {
				t.Errorf("sample %q outside its family's group (in %s)", line, family)
			}
		}
	}
	for f, n := range seen {
		if n != 1 {
			t.Errorf("family %s declared %d times", f, n)
		}
	}
}
