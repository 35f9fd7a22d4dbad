package statsd

import (
	"github.com/gomad/mad/internal/sample"

	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// refSeries is an independent reading of a well-formed line's series, for
// the relay tests: the name, then the tags of both styles, sorted, as
// "name|k=v|k=v". Only for lines built by relayLines (no escapes, no
// refused tags).
func refSeries(line string) string {
	head, rest, _ := strings.Cut(line, ":")
	parts := strings.Split(head, ",") // Influx: name,k=v,...
	name, tags := parts[0], slices.Clone(parts[1:])
	for _, f := range strings.Split(rest, "|") {
		if t, ok := strings.CutPrefix(f, "#"); ok {
			for _, kv := range strings.Split(t, ",") {
				k, v, _ := strings.Cut(kv, ":")
				tags = append(tags, k+"="+v)
			}
		}
	}
	slices.Sort(tags)
	return name + "|" + strings.Join(tags, "|")
}

// relayLines returns n lines of a few series, each in random tag order,
// tag style and metric type.
func relayLines(r *rand.Rand, n int) []string {
	types := []string{"c", "g", "ms", "h", "d", "s"}
	var lines []string
	for range n {
		s := r.IntN(40)
		name := fmt.Sprintf("relay.m%d", s%10)
		var tags []string
		for k := range s % 4 {
			tags = append(tags, fmt.Sprintf("k%d=v%d", k, (s/4+k)%3))
		}
		r.Shuffle(len(tags), func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
		cut := r.IntN(len(tags) + 1) // tags[:cut] Influx style, the rest DogStatsD
		line := name
		for _, t := range tags[:cut] {
			line += "," + t
		}
		line += fmt.Sprintf(":%d|%s", r.IntN(100), types[r.IntN(len(types))])
		if rest := tags[cut:]; len(rest) > 0 {
			line += "|#" + strings.ReplaceAll(strings.Join(rest, ","), "=", ":")
		}
		lines = append(lines, line)
	}
	return lines
}

// TestRelayKeysGroupSeries: two lines get the same relay hash exactly when
// an independent reading finds them the same series, whatever their tag
// order, tag style and metric type.
func TestRelayKeysGroupSeries(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	lines := relayLines(r, 2000)
	d := NewDecoder(Config{})
	byHash := map[uint64]string{}
	bySeries := map[string]uint64{}
	got := 0
	for i := 0; i < len(lines); i += 17 {
		batch := lines[i:min(i+17, len(lines))]
		k := 0
		d.RelayKeys([]byte(strings.Join(batch, "\n")+"\n"), func(line []byte, res Result, h uint64) {
			if string(line) != batch[k] || res != OK {
				t.Fatalf("line %d: %q %v; want %q OK", k, line, res, batch[k])
			}
			ref := refSeries(batch[k])
			if s, ok := byHash[h]; ok && s != ref {
				t.Fatalf("%q and a line of series %q share hash %x", line, s, h)
			}
			if o, ok := bySeries[ref]; ok && o != h {
				t.Fatalf("series %q: hashes %x and %x (%q)", ref, o, h, line)
			}
			byHash[h], bySeries[ref] = ref, h
			k++
			got++
		})
		if k != len(batch) {
			t.Fatalf("%d lines reported of %d", k, len(batch))
		}
	}
	if got != len(lines) || len(bySeries) < 30 {
		t.Fatalf("%d lines, %d series", got, len(bySeries))
	}
	// The hash is the same in every process: a fixed value.
	d.RelayKeys([]byte("relay.m1,k0=v1:1|c\n"), func(_ []byte, _ Result, h uint64) {
		if h != relayFixed {
			t.Errorf("relay hash %#x; want %#x in every process and version (changing it moves every relayed series)", h, relayFixed)
		}
	})
}

const relayFixed = 0x442627e5e63be306

// TestRelayKeysResults: every non-empty line is reported once, in order,
// with the result Decode counts for it; refused lines have hash 0.
func TestRelayKeysResults(t *testing.T) {
	data := []byte("a:1|c\n\nbad line\nb,x=1:2|g|#y:2\r\n_e{1,1}:a|b\nc:1|c|#x\nd:1|c|#k:1,k:2\ne:x|c\n" +
		strings.Repeat("n", 70_000) + ":1|c\n")
	d := NewDecoder(Config{})
	var got []string
	d.RelayKeys(data, func(line []byte, r Result, h uint64) {
		if (r == OK) != (h != 0) {
			t.Errorf("%q: result %v with hash %x", line, r, h)
		}
		got = append(got, fmt.Sprintf("%.12s %v", line, r))
	})
	want := []string{"a:1|c ok", "bad line syntax", "b,x=1:2|g|#y ok", "_e{1,1}:a|b event", "c:1|c|#x tag",
		"d:1|c|#k:1,k duplicate_tag", "e:x|c value", "nnnnnnnnnnnn syntax"}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	// The decoder's own counts agree, line for line.
	d2 := NewDecoder(Config{})
	var b sample.Batch
	d2.Decode(data, 1, func(uint64) *sample.Batch { return &b })
	var counts [NumResults]uint64
	for _, g := range got {
		r := g[strings.LastIndexByte(g, ' ')+1:]
		counts[slices.Index(ResultNames[:], r)]++
	}
	counts[ErrSyntax]-- // the over-long key: parsed OK, refused by the decoder as too long
	counts[OK]++
	if counts != d2.Stats.Lines {
		t.Fatalf("relay results %v; decoder counted %v", counts, d2.Stats.Lines)
	}
}

// TestRelayKeysNoAllocs: relaying a datagram allocates nothing once the
// decoder's scratch has grown.
func TestRelayKeysNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	data := []byte(strings.Join(relayLines(r, 40), "\n") + "\n")
	d := NewDecoder(Config{})
	var sum uint64
	fn := func(line []byte, _ Result, h uint64) { sum += h + uint64(len(line)) }
	d.RelayKeys(data, fn)
	if a := testing.AllocsPerRun(100, func() { d.RelayKeys(data, fn) }); a != 0 {
		t.Fatalf("%v allocations per datagram", a)
	}
}

// FuzzRelayKeys: whatever the datagram, RelayKeys reports each non-empty
// line once, in order, with ParseLine's result, and an OK line's hash is
// RelayHash of its parse; the decoder's state is left as Decode needs it.
func FuzzRelayKeys(f *testing.F) {
	for _, s := range []string{"a:1|c\n", "a,b=1:2|ms|@0.5|#c:d\nx\n", "_sc|a|0\r\n\n\nq:1|g|#k:v,k:w", "a:1|c|T12|c:x\n"} {
		f.Add([]byte(s))
	}
	d := NewDecoder(Config{})
	var l Line
	f.Fuzz(func(t *testing.T, data []byte) {
		var lines [][]byte
		for _, ln := range bytes.Split(data, []byte("\n")) {
			if len(ln) > 0 {
				lines = append(lines, ln)
			}
		}
		k := 0
		d.RelayKeys(data, func(line []byte, r Result, h uint64) {
			if k >= len(lines) || !bytes.Equal(line, lines[k]) {
				t.Fatalf("line %d: %q", k, line)
			}
			want := ParseLine(line, &l)
			var wh uint64
			if want == OK {
				var ok bool
				if wh, ok = RelayHash(&l); !ok {
					want = ErrSyntax
				}
			}
			if r != want || h != wh {
				t.Fatalf("%q: %v %x; want %v %x", line, r, h, want, wh)
			}
			k++
		})
		if k != len(lines) {
			t.Fatalf("%d lines reported of %d", k, len(lines))
		}
	})
}
