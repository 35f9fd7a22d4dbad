package ingest

import (
	"io"
	"net"
	"slices"
	"testing"

	sm "github.com/gomad/mad/internal/selfmetric"
)

// reported returns the value a source reports for the counter name whose
// labels include want (pairs).
func reported(t *testing.T, r sm.Reporter, name string, want ...string) float64 {
	t.Helper()
	found, v := false, 0.0
	r.Report(func(x sm.Value) {
		if x.Name != name {
			return
		}
		for i := 0; i+1 < len(want); i += 2 {
			j := slices.Index(x.Labels, want[i])
			if j < 0 || j%2 != 0 || x.Labels[j+1] != want[i+1] {
				return
			}
		}
		found, v = true, x.V
	})
	if !found {
		t.Fatalf("no %s%v reported", name, want)
	}
	return v
}

// TestReportNonFinite: StatsD values that are not finite are reported as
// mad_source_non_finite_total, whether NumberFormat reads them (NaN, ∞) or
// not (the spellings clients use: Infinity, -inf, nan), and not as lines
// whose value is not a number.
func TestReportNonFinite(t *testing.T) {
	lanes := []Lanes{NewLanes(2, 1024)}
	src, err := ListenUDP(UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", Log: quiet}, lanes)
	if err != nil {
		t.Fatal(err)
	}
	src.Start()
	defer src.Stop()
	conn, err := net.Dial("udp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "a:NaN|g\nb:-\u221e|c\nc:Infinity|c\nd:-inf|ms\ne:nan|g\nf:+Inf|g\nok:1|c\nbad:x|c\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the datagram", func() bool { return src.Stats().Datagrams == 1 })
	src.Stop()
	if n := reported(t, src, "mad_source_non_finite_total"); n != 6 {
		t.Fatalf("mad_source_non_finite_total %v; want 6", n)
	}
	if n := reported(t, src, "mad_source_lines_total", "result", "value"); n != 1 {
		t.Fatalf(`mad_source_lines_total{result="value"} %v; want 1 (bad:x)`, n)
	}
	if n := reported(t, src, "mad_source_samples_total"); n != 1 {
		t.Fatalf("mad_source_samples_total %v; want 1", n)
	}
}
