package telemetry

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// nodeClient subscribes to svc/lat/max (v1), sends a heartbeat, prints
// READY on its reply, then prints the first report and exits.
const nodeClient = `
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[2]);
ws.on('open', () => {
  ws.send(JSON.stringify({command: 'subscribe', service: 'svc', metric: 'lat', statistic: 'max'}));
  ws.send(JSON.stringify({command: 'heartbeat'}));
});
ws.on('message', (data) => {
  const m = JSON.parse(data.toString());
  if (m.response === 'ok') {
    console.log('READY');
  } else if (m.command === 'report') {
    console.log(JSON.stringify(m));
    ws.close();
    process.exit(0);
  }
});
ws.on('error', (e) => { console.error(String(e)); process.exit(2); });
`

// TestNodeWSClient talks to the hub with npm's ws package, when node and
// npm are installed and the package can be installed.
func TestNodeWSClient(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm not found")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "install", "ws@8.18.0", "--no-audit", "--no-fund")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("npm install ws@8.18.0 failed (offline?): %v\n%s", err, out)
	}
	script := filepath.Join(dir, "client.js")
	if err := os.WriteFile(script, []byte(nodeClient), 0o644); err != nil {
		t.Fatal(err)
	}

	f := newFixture(t, HubConfig{})
	cmd := exec.CommandContext(ctx, node, script, f.url(1))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("node client exited early")
			}
			return l
		case <-time.After(waitFor):
			t.Fatal("no output from the node client")
		}
		return ""
	}
	if l := next(); l != "READY" {
		t.Fatalf("node client said %q, want READY", l)
	}
	f.sink.Record(pd("svc", latency("lat", 1.5)))
	l := next()
	var got map[string]any
	if err := json.Unmarshal([]byte(l), &got); err != nil {
		t.Fatalf("%q: %v", l, err)
	}
	want := map[string]any{"command": "report", "data": map[string]any{
		"server": "h1", "service": "svc", "metric": "lat", "timestamp": float64(1700000000000),
		"statistic": "max", "data": 1.5,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("node client got %v, want %v", got, want)
	}
}
