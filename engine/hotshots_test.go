package engine

import (
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// hotShotsDir returns where npm installed hot-shots (.ci/run installs it
// into ~/.cache/mad-npm; MAD_NPM_DIR overrides), or "" if it is not there.
func hotShotsDir() string {
	dir := os.Getenv("MAD_NPM_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "mad-npm")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "hot-shots", "package.json")); err != nil {
		return ""
	}
	return filepath.Join(dir, "node_modules", "hot-shots")
}

const hotShotsScript = `
const StatsD = require(process.env.HOT_SHOTS);
const c = new StatsD({host: '127.0.0.1', port: Number(process.env.PORT), protocol: 'udp',
  errorHandler: e => { console.error(e); process.exit(1); }});
const n = Number(process.env.N);
for (let i = 0; i < n; i++) {
  c.timing('checkout.latency', (i % 400) + 1, ['region:eu', 'service:shop']);
  c.increment('checkout.count', 3, ['service:shop', 'region:eu']);
  c.gauge('checkout.inflight', i % 20);
  c.set('checkout.users', 'user-' + (i % 37));
  c.distribution('checkout.size', i % 10);
}
c.close(err => process.exit(err ? 1 : 0));
`

// TestHotShotsClient: npm's hot-shots, as applications ship it, sends a known
// workload; the aggregates are exact, sets count distinct members.
func TestHotShotsClient(t *testing.T) {
	node, err := exec.LookPath("node")
	dir := hotShotsDir()
	if err != nil || dir == "" {
		missingTool(t, "node or hot-shots not installed (.ci/run installs them)")
	}
	out := &lockedBuffer{}
	d, udpAddr, _ := startDaemon(t, out, []time.Duration{decade}, 2)
	_, port, _ := net.SplitHostPort(udpAddr)
	const n = 1000
	cmd := exec.Command(node, "-e", hotShotsScript)
	cmd.Env = append(os.Environ(), "HOT_SHOTS="+dir, "PORT="+port, fmt.Sprint("N=", n))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hot-shots: %v: %s", err, b)
	}
	waitLines(t, d.Pipelines()[0], 5*n)
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	got := map[string]jsonLine{}
	for _, l := range parseLines(t, out.String()) {
		got[l.Metric] = l
	}
	lat := got["checkout.latency"]
	var sum float64
	var seconds []float64
	for i := 0; i < n; i++ {
		v := 1e6 / 1e9 * float64(i%400+1)
		seconds = append(seconds, v)
		sum += v
	}
	if lat.Dimensions["region"] != "eu" || lat.PopulationSize != n || *lat.Statistics["min"] != 0.001 || *lat.Statistics["max"] != 0.4 ||
		math.Abs(*lat.Statistics["sum"]-sum) > 1e-9 || *lat.Statistics["median"] != exactPercentile(seconds, 50) ||
		*lat.Statistics["tp99"] != exactPercentile(seconds, 99) {
		t.Errorf("checkout.latency = %+v", lat)
	}
	if c := got["checkout.count"]; c.PopulationSize != n || *c.Statistics["sum"] != 3*n {
		t.Errorf("checkout.count = %+v", c)
	}
	if g := got["checkout.inflight"]; *g.Statistics["max"] != 19 || *g.Statistics["min"] != 0 {
		t.Errorf("checkout.inflight = %+v", g)
	}
	if s := got["checkout.users"]; s.Type != "set" || *s.Statistics["count"] != 37 {
		t.Errorf("checkout.users = %+v; want a set of 37 distinct members", s)
	}
	if ds := got["checkout.size"]; ds.Type != "timer" || ds.PopulationSize != n || *ds.Statistics["max"] != 9 {
		t.Errorf("checkout.size = %+v", ds)
	}
}
