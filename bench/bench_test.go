package bench

import (
	"bytes"
	"os"
	"testing"
)

func TestS1IsDeterministicAndShaped(t *testing.T) {
	a := S1{Names: 10000, Seed: 1, Datagrams: 256}.Build()
	b := S1{Names: 10000, Seed: 1, Datagrams: 256}.Build()
	for i := range a.Datagrams {
		if !bytes.Equal(a.Datagrams[i], b.Datagrams[i]) {
			t.Fatal("the same seed built different datagrams")
		}
		if len(a.Datagrams[i]) > 1400 || a.Lines[i] < 25 || a.Lines[i] > 43 {
			t.Fatalf("datagram %d: %d bytes, %d lines", i, len(a.Datagrams[i]), a.Lines[i])
		}
		if got := bytes.Count(a.Datagrams[i], []byte("\n")); got != a.Lines[i] {
			t.Fatalf("datagram %d: %d lines counted, %d recorded", i, got, a.Lines[i])
		}
	}
	var types [256]int
	total := 0
	for _, d := range a.Datagrams {
		for _, l := range bytes.Split(bytes.TrimSpace(d), []byte("\n")) {
			p := bytes.Split(l, []byte("|"))
			types[p[1][0]]++
			total++
		}
	}
	// 60 % c, 20 % g, 15 % ms, 5 % s, within sampling noise.
	for c, want := range map[byte]float64{'c': 0.60, 'g': 0.20, 'm': 0.15, 's': 0.05} {
		if got := float64(types[c]) / float64(total); got < want-0.02 || got > want+0.02 {
			t.Errorf("type %c: %.3f of lines; want %.2f", c, got, want)
		}
	}
	names := map[string]bool{}
	for _, d := range (S1{Names: 10000, Seed: 1}).Build().Datagrams {
		for _, l := range bytes.Split(bytes.TrimSpace(d), []byte("\n")) {
			names[string(l[:bytes.IndexByte(l, ':')])] = true
		}
	}
	if len(names) > 10000 || len(names) < 9900 {
		t.Errorf("%d distinct names in the default 4096 datagrams; want nearly all 10000", len(names))
	}
	if got := a.TotalLines(3*256 + 5); got != 3*sum(a.Lines)+sum(a.Lines[:5]) {
		t.Fatalf("TotalLines = %d", got)
	}
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func TestProcOfSelf(t *testing.T) {
	cpu, err := ProcCPU(os.Getpid())
	if err != nil || cpu < 0 {
		t.Fatalf("ProcCPU = %v, %v", cpu, err)
	}
	rss, peak, err := ProcMemory(os.Getpid())
	if err != nil || rss <= 0 || peak < rss {
		t.Fatalf("ProcMemory = %d, %d, %v", rss, peak, err)
	}
	if _, err := UDPDrops(8125); err != nil {
		t.Fatal(err)
	}
}
