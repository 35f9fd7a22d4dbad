package bench

import (
	"encoding/xml"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// perf script's output for three samples: two through apply, one in the
// kernel under the decoder.
const perfScript = `mad 27344 13161.033709:     500000 cpu-clock:ppp: 
	          868c8f github.com/gomad/mad/shard.(*Shard).prefetchRows+0x3cf (/tmp/mad)
	          86854e github.com/gomad/mad/shard.(*Shard).Apply+0x2ce (/tmp/mad)
	           967a1 runtime.goexit.abi0+0x1 (/tmp/mad)

mad 27344 13161.034213:     500000 cpu-clock:ppp: 
	          868c8f github.com/gomad/mad/shard.(*Shard).prefetchRows+0x3aa (/tmp/mad)
	          86854e github.com/gomad/mad/shard.(*Shard).Apply+0x2ce (/tmp/mad)
	           967a1 runtime.goexit.abi0+0x1 (/tmp/mad)

mad 27348 13161.034901:     500000 cpu-clock:ppp: 
	ffffffff8123 finish_task_switch.isra.0+0x3c ([kernel.kallsyms])
	          7cdd45 a;b+0x2c5 (/tmp/mad)
	          0 [unknown] ([unknown])
`

func TestFoldPerfScript(t *testing.T) {
	got, err := FoldPerfScript(strings.NewReader(perfScript))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"runtime.goexit.abi0;github.com/gomad/mad/shard.(*Shard).Apply;github.com/gomad/mad/shard.(*Shard).prefetchRows": 2,
		"[unknown];a:b;finish_task_switch.isra.0 [k]":                                                                    1,
	}
	if len(got) != len(want) {
		t.Fatalf("folded %v; want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%q: %d samples; want %d (all: %v)", k, got[k], n, got)
		}
	}
}

// TestFlameSVG: the drawing is well-formed XML, and every frame is as wide
// as its share of the samples: the root spans the plot, and a frame of k
// samples k/total of it.
func TestFlameSVG(t *testing.T) {
	folded := map[string]int{"main;a;b": 3, "main;a": 1, "main;c": 4, "x<&>": 2}
	svg := FlameSVG("test <&>", folded, 1010)
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not XML: %v\n%s", err, svg)
		}
	}
	re := regexp.MustCompile(`<title>([^<]*) \((\d+) samples, [0-9.]+%\)</title><rect x="[0-9.]+" y="\d+" width="([0-9.]+)"`)
	widths := map[string]float64{}
	counts := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(svg, -1) {
		w, _ := strconv.ParseFloat(m[3], 64)
		n, _ := strconv.Atoi(m[2])
		widths[m[1]], counts[m[1]] = w, n
	}
	want := map[string]int{"all": 10, "main": 8, "a": 4, "b": 3, "c": 4, "x&lt;&amp;&gt;": 2}
	for name, n := range want {
		if counts[name] != n {
			t.Errorf("frame %q: %d samples; want %d (%v)", name, counts[name], n, counts)
		}
		if w := widths[name]; w < float64(n)*99-0.1 || w > float64(n)*99+0.1 {
			t.Errorf("frame %q: width %.1f; want %d", name, w, n*99)
		}
	}
	if empty := FlameSVG("none", nil, 100); !strings.Contains(empty, "0 samples") {
		t.Errorf("empty profile: %s", empty)
	}
}
