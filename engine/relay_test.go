package engine

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
)

// TestRelayToThreeMads: a mad configured as a StatsD relay (MAD's file
// format, a StatsdSource with a relay object) in front of three
// aggregating mads on loopback. Every line sent to the relay reaches
// exactly one of them, each series always the same one, the relay itself
// aggregates nothing, and the union of the three's aggregates equals what
// one mad makes of the same traffic.
func TestRelayToThreeMads(t *testing.T) {
	periods := []time.Duration{decade}
	outs := make([]*lockedBuffer, 4)
	var downs []*Daemon
	var addrs []string
	for i := range outs {
		outs[i] = new(lockedBuffer)
		d, udp, _ := startDaemon(t, outs[i], periods, 2)
		downs = append(downs, d)
		addrs = append(addrs, udp)
	}
	direct := downs[3] // the reference: one mad, all the traffic

	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	writeFile(t, pipes, "relay.conf", fmt.Sprintf(`name=relay
sources=[{type=StatsdSource, name=relay, host="127.0.0.1", port=0,
  relay={destinations=["%s", "%s", "%s"], maxDatagram=512, flushInterval="PT0.005S"}}]
sinks=[{type=JsonLinesSink, name=j, path=%q}]
`, addrs[0], addrs[1], addrs[2], filepath.Join(dir, "relay.jsonl")))
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpPort=0\nhttpHost=\"127.0.0.1\"\nreloadInterval=0\n", pipes))
	relay, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	relayAddr := pipeline.SourcesOf[*ingest.UDPSource](relay.Pipelines()[0])[0].Addr().String()

	// Traffic: 300 series (counters, gauges and timers, integer values so
	// that sums do not depend on order), tags in random order and style.
	rnd := rand.New(rand.NewPCG(11, 12))
	var datagrams []string
	lines := 0
	for range 300 {
		var dg []string
		for range 1 + rnd.IntN(25) {
			s := rnd.IntN(300)
			tags := []string{fmt.Sprintf("host=h%d", s%4), fmt.Sprintf("az=z%d", s%3)}
			rnd.Shuffle(2, func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
			l := fmt.Sprintf("relay.m%d", s)
			if rnd.IntN(2) == 0 {
				l += "," + strings.Join(tags, ",") + fmt.Sprintf(":%d|%s", rnd.IntN(50), []string{"c", "g", "ms"}[s%3])
			} else {
				l += fmt.Sprintf(":%d|%s|#%s", rnd.IntN(50), []string{"c", "g", "ms"}[s%3], strings.ReplaceAll(strings.Join(tags, ","), "=", ":"))
			}
			dg = append(dg, l)
		}
		lines += len(dg)
		datagrams = append(datagrams, strings.Join(dg, "\n")+"\n")
	}
	send := func(addr string) {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, dg := range datagrams {
			if _, err := c.Write([]byte(dg)); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(relayAddr)
	send(addrs[3])
	waitLines(t, direct.Pipelines()[0], uint64(lines))
	waitParsed(t, "the three downstream mads", uint64(lines), func() (got uint64) {
		for _, d := range downs[:3] {
			for _, u := range pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0]) {
				for _, c := range u.Stats().Lines {
					got += c
				}
			}
		}
		return got
	})
	relay.Stop()
	for _, d := range downs {
		d.Stop() // flushes the decade's bucket
	}

	// Each series at one downstream mad; the union is the reference.
	key := func(l jsonLine) string {
		var dims []string
		for k, v := range l.Dimensions {
			dims = append(dims, k+"="+v)
		}
		slices.Sort(dims)
		return l.Metric + "{" + strings.Join(dims, ",") + "}/" + l.Type
	}
	render := func(l jsonLine) string {
		var st []string
		for k, v := range l.Statistics {
			if v == nil {
				st = append(st, k+"=null")
			} else {
				st = append(st, fmt.Sprintf("%s=%v", k, *v))
			}
		}
		slices.Sort(st)
		return fmt.Sprintf("%s n=%d %s", key(l), l.PopulationSize, strings.Join(st, " "))
	}
	where := map[string]int{}
	var union []string
	for i, out := range outs[:3] {
		for _, l := range parseLines(t, out.String()) {
			if o, ok := where[key(l)]; ok && o != i {
				t.Fatalf("series %s aggregated by mads %d and %d", key(l), o, i)
			}
			where[key(l)] = i
			union = append(union, render(l))
		}
	}
	var want []string
	for _, l := range parseLines(t, outs[3].String()) {
		want = append(want, render(l))
	}
	slices.Sort(union)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(union, want) {
		t.Fatalf("the three mads behind the relay made %d rows, one mad %d; first differences:\n%s", len(union), len(want), firstDiff(union, want))
	}
	per := make([]int, 3)
	for _, i := range where {
		per[i]++
	}
	if slices.Contains(per, 0) {
		t.Fatalf("series per downstream mad: %v", per)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "relay.jsonl")); err == nil && len(b) > 0 {
		t.Fatalf("the relay aggregated: %.200s", b)
	}
	t.Logf("%d lines, %d series: %v per downstream mad", lines, len(where), per)
}

// firstDiff shows where two sorted lists first differ.
func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return "  " + a[i] + "\n  " + b[i]
		}
	}
	return fmt.Sprintf("  (a prefix: %d and %d)", len(a), len(b))
}

// TestRelayMadGoesDown: the relay probes each mad's /ping; one mad stops
// mid-run, and only its series move (each to one of the two others), the
// others' stay where they were; nothing is lost: every line is aggregated
// by one of the mads.
func TestRelayMadGoesDown(t *testing.T) {
	periods := []time.Duration{decade}
	outs := make([]*lockedBuffer, 3)
	var downs []*Daemon
	var dests []string
	for i := range outs {
		outs[i] = new(lockedBuffer)
		d, udp, _ := startDaemon(t, outs[i], periods, 1)
		downs = append(downs, d)
		dests = append(dests, fmt.Sprintf(`{address=%q, probe="http://%s/ping"}`, udp, d.HTTPAddr()))
	}
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	writeFile(t, pipes, "relay.conf", fmt.Sprintf(`name=relay
sources=[{type=StatsdSource, name=relay, host="127.0.0.1", port=0,
  relay={destinations=[%s], flushInterval="PT0.001S", probeInterval="PT0.005S"}}]
sinks=[{type=JsonLinesSink, name=j, path=%q}]
`, strings.Join(dests, ", "), filepath.Join(dir, "relay.jsonl")))
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpPort=0\nhttpHost=\"127.0.0.1\"\nreloadInterval=0\n", pipes))
	relay, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Stop()
	src := pipeline.SourcesOf[*ingest.UDPSource](relay.Pipelines()[0])[0]
	c, err := net.Dial("udp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parsed := func(ds []*Daemon) (n uint64) {
		for _, d := range ds {
			for _, u := range pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0]) {
				for _, x := range u.Stats().Lines {
					n += x
				}
			}
		}
		return n
	}
	// round sends one line of each of 300 series.
	round := func() {
		for s := 0; s < 300; s += 30 {
			var dg []string
			for k := s; k < s+30; k++ {
				dg = append(dg, fmt.Sprintf("down.m%d,host=h%d:1|c", k, k%5))
			}
			if _, err := c.Write([]byte(strings.Join(dg, "\n") + "\n")); err != nil {
				t.Fatal(err)
			}
		}
	}
	round()
	waitParsed(t, "the first round", 300, func() uint64 { return parsed(downs) })
	downs[1].Stop()
	waitParsed(t, "mad 1 marked down", 1, func() uint64 {
		if src.RelayUp(1) {
			return 0
		}
		return 1
	})
	before := parsed([]*Daemon{downs[0], downs[2]})
	round()
	waitParsed(t, "the second round at mads 0 and 2", before+300, func() uint64 { return parsed([]*Daemon{downs[0], downs[2]}) })
	downs[0].Stop()
	downs[2].Stop()

	// Per series: the mads that aggregated it, with how many lines each.
	at := map[string]map[int]int64{}
	for i, out := range outs {
		for _, l := range parseLines(t, out.String()) {
			k := l.Metric + "/" + l.Dimensions["host"]
			if at[k] == nil {
				at[k] = map[int]int64{}
			}
			at[k][i] += l.PopulationSize
		}
	}
	if len(at) != 300 {
		t.Fatalf("%d series aggregated; want 300", len(at))
	}
	moved := 0
	for k, m := range at {
		total := int64(0)
		for _, n := range m {
			total += n
		}
		switch {
		case total != 2:
			t.Fatalf("series %s: %d lines aggregated of 2 (%v)", k, total, m)
		case m[1] == 1 && len(m) == 2 && m[0]+m[2] == 1:
			moved++ // its first line at mad 1, its second at one other
		case m[1] == 0 && len(m) == 1:
			// untouched: both lines at the same mad
		default:
			t.Fatalf("series %s: lines at mads %v", k, m)
		}
	}
	if moved == 0 || moved == 300 {
		t.Fatalf("%d series moved off mad 1 of 300", moved)
	}
	t.Logf("%d series moved off the stopped mad; the others untouched", moved)
}
