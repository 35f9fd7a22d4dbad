package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
)

// TestDaemonSizesProcs: the daemon runs with one P per usable CPU plus one
// per data-plane loop (shards, UDP and TCP loops), and a third more for the
// GC's workers, so that busy loops leave the control plane (/ping) as many
// Ps as there are CPUs; the count follows reloads. Without it, Go's default of one P per CPU left /ping waiting
// for the scheduler to preempt a busy loop: 50 ms at the median, and more
// than a second at worst, under overload on one CPU.
func TestDaemonSizesProcs(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the environment: the daemon leaves it alone")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cpus := affinity.Usable()
	procs := func(what string, n int) {
		t.Helper()
		want := n + (n+2)/3 // n and a third more, rounded up
		if got := runtime.GOMAXPROCS(0); got != want {
			t.Errorf("%s: GOMAXPROCS %d; want %d", what, got, want)
		}
	}

	// Start: 3 shards, a UDP source of 2 loops, a TCP source of 1.
	runtime.GOMAXPROCS(1)
	d, _, _ := startDaemon(t, new(lockedBuffer), []time.Duration{time.Second}, 3)
	procs("Start", cpus+3+2+1)
	d.Stop()

	// Open and reload: a pipeline with a UDP and a TCP source, then a
	// second one with a UDP source, then none.
	runtime.GOMAXPROCS(1)
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	pipe := func(name, sources string) {
		writeFile(t, pipes, name+".conf", fmt.Sprintf("name=%s\nsources=[%s]\nsinks=[{type=JsonLinesSink, name=j, path=%q}]\n",
			name, sources, filepath.Join(dir, name+".jsonl")))
	}
	const udp = `{type=StatsdSource, name=u, host="127.0.0.1", port=0}`
	const tcp = `{type=TcpLineSource, name=t, host="127.0.0.1", port=0, parser={type=StatsdToRecordParser}}`
	pipe("a", udp+", "+tcp)
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpPort=0\nhttpHost=\"127.0.0.1\"\nreloadInterval=0\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	// The loops of the running pipelines, counted by kind.
	loops := func() int {
		n := 0
		for _, p := range d.Pipelines() {
			n += len(p.Shards())
			for _, s := range pipeline.SourcesOf[*ingest.UDPSource](p) {
				n += s.Loops()
			}
			for _, s := range pipeline.SourcesOf[*ingest.TCPSource](p) {
				n += s.Loops()
			}
		}
		return n
	}
	procs("Open", cpus+loops())
	pipe("b", udp)
	if r := d.Reload(); len(r.Started) != 1 || len(r.Errors) != 0 {
		t.Fatalf("reload adding b: %+v", r)
	}
	procs("b added", cpus+loops())
	must(t, os.Remove(filepath.Join(pipes, "a.conf")))
	must(t, os.Remove(filepath.Join(pipes, "b.conf")))
	if r := d.Reload(); len(r.Stopped) != 2 || len(r.Errors) != 0 {
		t.Fatalf("reload removing a and b: %+v", r)
	}
	procs("none left", cpus)
}
