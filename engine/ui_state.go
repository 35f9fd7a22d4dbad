package engine

import (
	"slices"

	sm "github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/telemetry"
)

// The live page's figures (GET /ui/state): what each pipeline's sources,
// aggregation and sinks received, refused and dropped. They are read from
// the walk that /metrics writes (Daemon.Report), sample by sample, and each
// figure names the /metrics series it sums, written as /metrics writes them
// (appendSeries): the page has no counter of its own, and says where each of
// its numbers comes from.

// uiState is the JSON of GET /ui/state.
type uiState struct {
	Pipelines []*uiPipeline `json:"pipelines"`
	// Daemon holds what belongs to no pipeline: the refusals of the HTTP
	// server and routes, the configuration's counters, the process's.
	Daemon *uiComponent `json:"daemon"`
	// TelemetrySinks counts the running TelemetrySinks, which feed the
	// websocket the page charts from: with none, there is nothing to chart.
	TelemetrySinks int `json:"telemetrySinks"`
}

type uiPipeline struct {
	Name    string         `json:"name"`
	Sources []*uiComponent `json:"sources"`
	// Aggregation is the pipeline's shards and emitter.
	Aggregation *uiComponent   `json:"aggregation"`
	Sinks       []*uiComponent `json:"sinks"`
}

// uiComponent is one row of the page.
type uiComponent struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol,omitempty"` // a source's protocol label
	// Figures are the row's headline numbers, in the order of uiRules.
	Figures []*uiFigure `json:"figures"`
	// Series is every /metrics series of the component, in /metrics order.
	Series []uiSeries `json:"series"`
}

// uiFigure is the sum of some of a family's samples.
type uiFigure struct {
	// Column is received, refused or dropped (sources, aggregation,
	// daemon), or written, dropped or errors (sinks).
	Column string  `json:"column"`
	Unit   string  `json:"unit"`
	Value  float64 `json:"value"`
	// Series are the /metrics series summed (none: the family's samples
	// are all excluded, and the figure is 0).
	Series []string `json:"series"`
}

type uiSeries struct {
	Series string  `json:"series"`
	Value  float64 `json:"value"`
}

// uiRule makes a figure of a family's samples: all of them, or those whose
// label has none of the values in not.
type uiRule struct {
	family, column, unit string
	label                string
	not                  []string
}

// uiRules are the page's figures. Each family is counted in its own unit,
// never added to another's (a source's dropped samples and its kernel's
// dropped datagrams are two figures).
var uiRules = []uiRule{
	// Line sources (StatsD, Graphite, Telegraf over UDP or TCP): every line
	// is counted once by parse result; refused are those with an error.
	{family: "mad_source_lines_total", column: "received", unit: "lines"},
	{family: "mad_source_lines_total", column: "refused", unit: "lines", label: "result", not: []string{"ok", "event", "service_check"}},
	// HTTP sources: every request once, by answer.
	{family: "mad_source_requests_total", column: "received", unit: "requests"},
	{family: "mad_source_requests_total", column: "refused", unit: "requests", label: "result", not: []string{"accepted"}},
	// Kafka.
	{family: "mad_source_kafka_messages_total", column: "received", unit: "messages"},
	{family: "mad_source_kafka_refused_total", column: "refused", unit: "messages"},
	// Every source: what the shards' rings did not take; UDP: what the
	// kernel dropped before mad read it.
	{family: "mad_source_ring_dropped_samples_total", column: "dropped", unit: "samples"},
	{family: "mad_source_kernel_drops_total", column: "dropped", unit: "datagrams"},
	// A relay's forwarding.
	{family: "mad_relay_dropped_lines_total", column: "dropped", unit: "relayed lines"},
	{family: "mad_relay_no_destination_lines_total", column: "dropped", unit: "relayed lines"},
	// Aggregation: the shards' samples; rows of sealed buckets the emitter
	// fell behind on.
	{family: "mad_shard_samples_total", column: "received", unit: "samples"},
	{family: "mad_shard_refused_total", column: "refused", unit: "samples"},
	{family: "mad_shard_rows_dropped_total", column: "dropped", unit: "rows"},
	// Sinks (sinks.ReportCounts).
	{family: "mad_sink_written_total", column: "written"},
	{family: "mad_sink_dropped_total", column: "dropped"},
	{family: "mad_sink_errors_total", column: "errors"},
	// The daemon's HTTP server and routes.
	{family: "mad_http_refusals_total", column: "refused", unit: "requests"},
}

// uiStateOf builds the page's state from what r reports, as /metrics
// writes it: values without a Prometheus name are left out.
func uiStateOf(r sm.Reporter) *uiState {
	st := &uiState{Daemon: &uiComponent{Name: "daemon"}}
	pipelines := map[string]*uiPipeline{}
	components := map[[3]string]*uiComponent{} // pipeline, kind, name
	var buf []byte
	r.Report(func(v sm.Value) {
		if v.Name == "" {
			return
		}
		c := st.Daemon
		if pn, ok := labelOf(v.Labels, "pipeline"); ok {
			p := pipelines[pn]
			if p == nil {
				p = &uiPipeline{Name: pn, Sources: []*uiComponent{}, Aggregation: &uiComponent{Name: "aggregation"}, Sinks: []*uiComponent{}}
				pipelines[pn] = p
				st.Pipelines = append(st.Pipelines, p)
			}
			c = p.Aggregation
			kind, name := "", ""
			if s, ok := labelOf(v.Labels, "source"); ok {
				kind, name = "source", s
			} else if s, ok := labelOf(v.Labels, "sink"); ok {
				kind, name = "sink", s
			}
			if kind != "" {
				k := [3]string{pn, kind, name}
				c = components[k]
				if c == nil {
					c = &uiComponent{Name: name}
					components[k] = c
					if kind == "source" {
						c.Protocol, _ = labelOf(v.Labels, "protocol")
						p.Sources = append(p.Sources, c)
					} else {
						p.Sinks = append(p.Sinks, c)
					}
				}
			}
		}
		buf = appendSeries(buf[:0], &v)
		series := string(buf)
		c.Series = append(c.Series, uiSeries{Series: series, Value: v.V})
		for i := range uiRules {
			rule := &uiRules[i]
			if rule.family != v.Name {
				continue
			}
			f := c.figure(rule)
			if l, _ := labelOf(v.Labels, rule.label); rule.label != "" && slices.Contains(rule.not, l) {
				continue
			}
			f.Value += v.V
			f.Series = append(f.Series, series)
		}
	})
	for _, p := range st.Pipelines {
		for _, c := range p.Sources {
			c.sortFigures()
		}
		for _, c := range p.Sinks {
			c.sortFigures()
		}
		p.Aggregation.sortFigures()
	}
	st.Daemon.sortFigures()
	if st.Pipelines == nil {
		st.Pipelines = []*uiPipeline{}
	}
	return st
}

// figure returns the component's figure of rule, added on first use.
func (c *uiComponent) figure(rule *uiRule) *uiFigure {
	for _, f := range c.Figures {
		if f.Column == rule.column && f.Unit == rule.unit {
			return f
		}
	}
	f := &uiFigure{Column: rule.column, Unit: rule.unit, Series: []string{}}
	c.Figures = append(c.Figures, f)
	return f
}

// sortFigures puts the figures in the order of uiRules, whatever order
// the families were reported in.
func (c *uiComponent) sortFigures() {
	rank := func(f *uiFigure) int {
		return slices.IndexFunc(uiRules, func(r uiRule) bool { return r.column == f.Column && r.unit == f.Unit })
	}
	slices.SortStableFunc(c.Figures, func(a, b *uiFigure) int { return rank(a) - rank(b) })
	if c.Figures == nil {
		c.Figures = []*uiFigure{}
	}
}

// labelOf returns the value of the label name among pairs.
func labelOf(pairs []string, name string) (string, bool) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] == name {
			return pairs[i+1], true
		}
	}
	return "", false
}

// uiState returns the page's state of the running daemon.
func (d *Daemon) uiState() *uiState {
	st := uiStateOf(d)
	var walk func(s sinks.Sink)
	walk = func(s sinks.Sink) {
		if _, ok := s.(*telemetry.Sink); ok {
			st.TelemetrySinks++
		}
		for _, c := range sinks.Children(s) {
			walk(c)
		}
	}
	for _, p := range d.Pipelines() {
		for _, s := range p.Sinks() {
			walk(s)
		}
	}
	return st
}
