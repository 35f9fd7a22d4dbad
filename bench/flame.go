package bench

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
)

// Flame graphs of `perf record -g` profiles, drawn as SVG like the other
// plots (no external tool): FoldPerfScript reads what `perf script` prints,
// FlameSVG draws the folded stacks, the root at the bottom and each frame
// as wide as its share of the samples, with the sample count in its title.
//
//	perf record -F 2000 -g -p PID -o perf.data -- sleep 3
//	perf script -i perf.data | madbench flame -title "S1, mad" > flame.svg

// FoldPerfScript reads `perf script` output: per sample a header line, then
// its call chain from the leaf down, one frame per line ("addr symbol+off
// (dso)"), then a blank line. It returns the folded stacks, root first and
// frames separated by ';' (kernel frames marked "[k]"), with their sample
// counts.
func FoldPerfScript(r io.Reader) (map[string]int, error) {
	folded := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var frames []string
	inSample := false
	end := func() {
		if inSample && len(frames) > 0 {
			slices.Reverse(frames)
			folded[strings.Join(frames, ";")]++
		}
		frames = frames[:0]
		inSample = false
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			end()
		case line[0] != ' ' && line[0] != '\t':
			end() // a header: a new sample
			inSample = true
		case inSample:
			frames = append(frames, perfFrame(strings.TrimSpace(line)))
		}
	}
	end()
	return folded, sc.Err()
}

// perfFrame returns the name of one call-chain line of perf script
// ("ffffffff8123 schedule+0x3c ([kernel.kallsyms])").
func perfFrame(line string) string {
	_, rest, ok := strings.Cut(line, " ")
	if !ok {
		return "[unknown]"
	}
	sym, dso := rest, ""
	if i := strings.LastIndex(rest, " ("); i >= 0 && strings.HasSuffix(rest, ")") {
		sym, dso = rest[:i], rest[i+2:len(rest)-1]
	}
	if i := strings.LastIndex(sym, "+0x"); i > 0 {
		sym = sym[:i]
	}
	sym = strings.ReplaceAll(strings.TrimSpace(sym), ";", ":")
	if sym == "" {
		sym = "[unknown]"
	}
	if strings.Contains(dso, "kernel") {
		sym += " [k]"
	}
	return sym
}

// flameNode is a frame of the merged call tree.
type flameNode struct {
	name     string
	count    int
	children map[string]*flameNode
}

func (n *flameNode) child(name string) *flameNode {
	if n.children == nil {
		n.children = map[string]*flameNode{}
	}
	c := n.children[name]
	if c == nil {
		c = &flameNode{name: name}
		n.children[name] = c
	}
	return c
}

// FlameSVG draws folded stacks (FoldPerfScript) as a flame graph of the
// given width in pixels. Frames narrower than a tenth of a pixel are left
// out (their samples still count in their callers' widths).
func FlameSVG(title string, folded map[string]int, width int) string {
	root := &flameNode{name: "all"}
	depth := 0
	for stack, n := range folded {
		root.count += n
		node := root
		frames := strings.Split(stack, ";")
		depth = max(depth, len(frames))
		for _, f := range frames {
			node = node.child(f)
			node.count += n
		}
	}
	const rowH, top, margin = 16, 40, 10
	height := top + (depth+1)*rowH + margin
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="monospace" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fafafa"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">%s (%d samples)</text>`+"\n", margin, esc(title), root.count)
	if root.count == 0 {
		b.WriteString("</svg>\n")
		return b.String()
	}
	scale := float64(width-2*margin) / float64(root.count)
	var draw func(n *flameNode, x float64, level int)
	draw = func(n *flameNode, x float64, level int) {
		w := float64(n.count) * scale
		if w < 0.1 {
			return
		}
		y := height - margin - (level+1)*rowH
		fmt.Fprintf(&b, `<g><title>%s (%d samples, %.2f%%)</title><rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" stroke="#fafafa" stroke-width="0.5"/>`,
			esc(n.name), n.count, 100*float64(n.count)/float64(root.count), x, y, w, rowH-1, flameColor(n.name))
		if chars := int(w / 7); chars >= 3 {
			label := n.name
			if len(label) > chars {
				label = label[:chars-2] + ".."
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`, x+2, y+rowH-4, esc(label))
		}
		b.WriteString("</g>\n")
		names := make([]string, 0, len(n.children))
		for name := range n.children {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			c := n.children[name]
			draw(c, x, level+1)
			x += float64(c.count) * scale
		}
	}
	draw(root, margin, 0)
	b.WriteString("</svg>\n")
	return b.String()
}

// flameColor picks a warm color from the frame's name: orange for the
// kernel, yellow for Go's runtime, red for the rest, varied by a hash.
func flameColor(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := int(h.Sum32() % 55)
	switch {
	case strings.HasSuffix(name, " [k]"):
		return fmt.Sprintf("rgb(%d,%d,%d)", 230, 140+v, 40)
	case strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/runtime"):
		return fmt.Sprintf("rgb(%d,%d,%d)", 220, 200+v/2, 60)
	}
	return fmt.Sprintf("rgb(%d,%d,%d)", 225, 80+v, 60)
}
