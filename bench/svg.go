package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Plots are drawn directly as SVG: a few panels of horizontal bars or of
// lines, with axes, ticks and a legend, viewable in any browser or image
// viewer and diffable as text.

// Bar is one bar of a bar panel.
type Bar struct {
	Label string
	Value float64
	// Note is printed after the value ("3.2x").
	Note string
}

// BarPanel is a horizontal bar chart.
type BarPanel struct {
	Title, Unit string
	Bars        []Bar
}

// Line is one series of a line panel.
type Line struct {
	Name string
	X, Y []float64
}

// LinePanel is a line chart.
type LinePanel struct {
	Title, XLabel, YLabel string
	Lines                 []Line
	// LogX draws x on a log10 scale.
	LogX bool
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}

const (
	svgWidth   = 760
	panelPad   = 24
	labelWidth = 170
	barHeight  = 22
	lineHeight = 300
)

// SVG renders panels (BarPanel or LinePanel values) one below the other
// under a title, as a standalone SVG document.
func SVG(title string, panels ...any) string {
	var body strings.Builder
	y := 40
	for _, p := range panels {
		switch p := p.(type) {
		case BarPanel:
			y = p.draw(&body, y)
		case LinePanel:
			y = p.draw(&body, y)
		}
		y += panelPad
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgWidth, y, svgWidth, y)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", panelPad, esc(title))
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }

func (p BarPanel) draw(b *strings.Builder, y int) int {
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", panelPad, y+14, esc(p.Title))
	y += 26
	maxV := 0.0
	for _, bar := range p.Bars {
		maxV = math.Max(maxV, bar.Value)
	}
	ticks := niceTicks(0, maxV, 5)
	top := ticks[len(ticks)-1]
	x0, w := panelPad+labelWidth, svgWidth-panelPad*2-labelWidth-90
	h := len(p.Bars)*(barHeight+6) + 6
	for _, t := range ticks {
		x := x0 + int(float64(w)*t/top)
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`+"\n", x, y, x, y+h)
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x, y+h+14, esc(formatTick(t)))
	}
	for i, bar := range p.Bars {
		by := y + 6 + i*(barHeight+6)
		bw := 0
		if top > 0 {
			bw = int(float64(w) * bar.Value / top)
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", x0-8, by+barHeight-6, esc(bar.Label))
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", x0, by, max(bw, 1), barHeight, palette[i%len(palette)])
		label := formatTick(bar.Value) + " " + p.Unit
		if bar.Note != "" {
			label += " (" + bar.Note + ")"
		}
		if bw > w/2 {
			// Long bars carry their label inside.
			fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end" fill="white">%s</text>`+"\n", x0+bw-6, by+barHeight-6, esc(label))
		} else {
			fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", x0+bw+6, by+barHeight-6, esc(label))
		}
	}
	return y + h + 20
}

func (p LinePanel) draw(b *strings.Builder, y int) int {
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", panelPad, y+14, esc(p.Title))
	y += 26
	fx := func(v float64) float64 { return v }
	if p.LogX {
		fx = func(v float64) float64 { return math.Log10(math.Max(v, 1e-12)) }
	}
	minX, maxX, maxY := math.Inf(1), math.Inf(-1), 0.0
	for _, l := range p.Lines {
		for i := range l.X {
			minX, maxX = math.Min(minX, fx(l.X[i])), math.Max(maxX, fx(l.X[i]))
			maxY = math.Max(maxY, l.Y[i])
		}
	}
	if math.IsInf(minX, 1) {
		minX, maxX = 0, 1
	}
	var xt []float64
	if p.LogX {
		for e := math.Floor(minX); e <= math.Ceil(maxX); e++ {
			xt = append(xt, e)
		}
		if len(xt) < 2 {
			xt = append(xt, xt[0]+1)
		}
	} else {
		xt = niceTicks(minX, maxX, 6)
	}
	yt := niceTicks(0, maxY, 5)
	x0, w := panelPad+60, svgWidth-panelPad*2-60-150
	h := lineHeight
	sx := func(v float64) float64 { return float64(x0) + float64(w)*(fx(v)-xt[0])/(xt[len(xt)-1]-xt[0]) }
	sy := func(v float64) float64 { return float64(y+h) - float64(h)*v/yt[len(yt)-1] }
	for _, t := range yt {
		py := int(sy(t))
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`+"\n", x0, py, x0+w, py)
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end" fill="#555">%s</text>`+"\n", x0-6, py+4, esc(formatTick(t)))
	}
	for _, t := range xt {
		v := t
		if p.LogX {
			v = math.Pow(10, t)
		}
		px := int(sx(v))
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`+"\n", px, y, px, y+h)
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", px, y+h+16, esc(formatTick(v)))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", x0, y, w, h)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x0+w/2, y+h+34, esc(p.XLabel))
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" transform="rotate(-90 %d %d)">%s</text>`+"\n", panelPad+8, y+h/2, panelPad+8, y+h/2, esc(p.YLabel))
	for i, l := range p.Lines {
		color := palette[i%len(palette)]
		var pts []string
		for j := range l.X {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(l.X[j]), sy(l.Y[j])))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		for _, pt := range pts {
			xy := strings.Split(pt, ",")
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], color)
		}
		ly := y + 10 + i*18
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", x0+w+12, ly, color)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", x0+w+30, ly+10, esc(l.Name))
	}
	return y + h + 44
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	start := math.Floor(lo/step) * step
	var ts []float64
	for t := start; t < hi+step/2; t += step {
		ts = append(ts, math.Round(t/step)*step)
	}
	if len(ts) < 2 {
		ts = append(ts, start+step)
	}
	return ts
}

// formatTick prints a number compactly: 1.5M, 250k, 0.25.
func formatTick(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trimZeros(fmt.Sprintf("%.2f", v/1e9)) + "G"
	case a >= 1e6:
		return trimZeros(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case a >= 1e4:
		return trimZeros(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a == 0:
		return "0"
	}
	return trimZeros(fmt.Sprintf("%.3g", v))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") && !strings.ContainsAny(s, "e") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
