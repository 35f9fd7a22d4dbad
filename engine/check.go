package engine

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/sinks/telemetry"
)

// CheckConfig checks a main configuration (its inline pipelines and every
// file of its pipelines directory) or one pipeline file (mad
// -check-config) with what start-up checks, short of binding sockets and
// opening outputs: every file read and bound; TLS certificate and key read,
// parsed and matching (enableHttps); pipeline names unique; sources built,
// no socket address or route claimed twice, nor a control-plane port;
// sinks checked (Builder.Check: a JSON-lines file's directory exists, a
// Cluster Aggregator URI parses, …). It returns a summary of what it found
// and every problem. Classes mad does not implement are problems, unless
// opt.SkipUnavailable: then they are listed in the summary as left out, as
// start-up would leave them out.
func CheckConfig(path string, opt config.LoadOptions) (summary []string, problems config.Problems) {
	// Under SkipUnavailable, a class mad lacks is a note, not a problem.
	add := func(ps config.Problems) {
		for _, p := range ps {
			if p.Unavailable && opt.SkipUnavailable {
				summary = append(summary, "left out (-skip-unavailable): "+p.Error())
				continue
			}
			problems = append(problems, p)
		}
	}
	isMain, ps := config.IsMainFile(path, opt)
	if ps != nil {
		return nil, ps
	}
	hub := telemetry.NewHub(telemetry.HubConfig{})
	defer hub.Close()
	b := &config.Builder{SkipUnavailable: opt.SkipUnavailable, HTTP: config.DefaultHTTPLimits, Check: true, Hub: hub}
	claims := map[string]string{}
	var want []wanted
	if !isMain {
		spec, ps := config.LoadPipeline(path, opt)
		want = append(want, wanted{key: path, spec: spec, problems: ps})
	} else {
		m, ps := config.LoadMain(path, opt)
		add(ps)
		if m == nil {
			return summary, problems
		}
		summary = append(summary, fmt.Sprintf("%s: main configuration: http %s, %d inline pipelines, pipelines directory %q", path, m.HTTPAddr(), len(m.Pipelines), m.PipelinesDirectory))
		if len(m.JVMOnly) > 0 {
			summary = append(summary, fmt.Sprintf("%s: JVM-only keys accepted and ignored: %s", path, strings.Join(m.JVMOnly, ", ")))
		}
		b.HTTP = m.HTTP
		http := "tcp " + m.HTTPAddr()
		if ingest.Exclusive(http) {
			claims[http] = "the control plane (httpPort)"
		}
		if m.EnableHTTPS {
			if _, err := m.Certificate(); err != nil {
				problems = append(problems, config.Problem{Msg: fmt.Sprintf("%s: %v", path, err)})
			}
			https := "tcp " + m.HTTPSAddr()
			if ingest.Exclusive(https) {
				if other := claimant(claims, https, ""); other != "" {
					problems = append(problems, config.Problem{Msg: fmt.Sprintf("%s: httpsPort: %s is already used by %s", path, m.HTTPSAddr(), other)})
				}
				claims[https] = "the control plane (httpsPort)"
			}
		}
		if dir := m.PipelinesDirectory; dir != "" {
			if _, err := os.Stat(dir); err != nil {
				summary = append(summary, fmt.Sprintf("%s: pipelines directory %s: %v (no pipelines from it)", path, dir, err))
			}
		}
		var err error
		want, err = wantedPipelines(m, opt, nil)
		if err != nil {
			problems = append(problems, config.Problem{Msg: fmt.Sprintf("%s: %v", m.PipelinesDirectory, err)})
		}
	}
	checkWanted(want, b, claims)
	for _, w := range want {
		add(w.problems)
		if w.spec == nil {
			continue
		}
		if _, err := b.Sinks(w.spec); err != nil {
			problems = append(problems, config.Problem{Msg: err.Error()})
			continue
		}
		summary = append(summary, fmt.Sprintf("%s: pipeline %q: %d sources, %d sinks, periods %v", w.key, w.spec.Name, len(w.sources), len(w.spec.Sinks), w.spec.Shard.Periods))
	}
	return summary, problems
}
