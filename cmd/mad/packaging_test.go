package main

import (
	"reflect"
	"testing"

	"github.com/gomad/mad/engine"
	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/internal/hocon"
)

// TestPackagedConfigs checks the configuration files of packaging/ against
// mad's embedded default, which they restate in MAD's layout: the main
// files of the container image and of the systemd unit bind to the
// default's main settings but for their pipelines directory, and the
// pipeline file to the default's inline pipeline, which -check-config
// passes.
func TestPackagedConfigs(t *testing.T) {
	def, ps := config.ParseMain(config.DefaultConfigName, config.DefaultConfigText, config.LoadOptions{})
	if def == nil || len(ps) > 0 || len(def.Pipelines) != 1 {
		t.Fatalf("the embedded default: %v", ps)
	}
	mainOnly := func(m *config.MainSpec) config.MainSpec {
		c := *m
		c.File, c.Hash, c.PipelinesDirectory, c.Pipelines, c.Unknown = "", [32]byte{}, "", nil, nil
		return c
	}
	for _, tc := range []struct{ file, pipelines string }{
		{"../../packaging/container/config.conf", "/opt/mad/config/pipelines"},
		{"../../packaging/systemd/config.conf", "/etc/mad/pipelines"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, ps := config.LoadMain(tc.file, config.LoadOptions{})
			if m == nil || len(ps) > 0 {
				t.Fatalf("%v", ps)
			}
			if m.PipelinesDirectory != tc.pipelines || len(m.Pipelines) != 0 || len(m.Unknown) != 0 {
				t.Errorf("pipelinesDirectory %q, %d inline pipelines, unknown keys %v; want %q, none, none", m.PipelinesDirectory, len(m.Pipelines), m.Unknown, tc.pipelines)
			}
			if got, want := mainOnly(m), mainOnly(def); !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v;\nwant the default's %+v", got, want)
			}
		})
	}
	const pipeline = "../../packaging/pipelines/default.conf"
	p, ps := config.LoadPipeline(pipeline, config.LoadOptions{})
	if p == nil || len(ps) > 0 || len(p.Unknown) > 0 {
		t.Fatalf("%s: %v (unknown keys %v)", pipeline, ps, p.Unknown)
	}
	got, want := p, def.Pipelines[0]
	for _, s := range []*config.PipelineSpec{got, want} {
		s.File, s.Hash = "", [32]byte{}
		zeroPos(reflect.ValueOf(s))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %+v;\nwant the default's pipeline %+v", pipeline, got, want)
	}
	if summary, problems := engine.CheckConfig(pipeline, config.LoadOptions{}); len(problems) > 0 {
		t.Errorf("-check-config %s: %v %v", pipeline, summary, problems)
	}
}

// zeroPos clears every position (hocon.Pos) reachable from v: where a value
// was written is not what it is.
func zeroPos(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			zeroPos(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			zeroPos(v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[hocon.Pos]() {
			if v.CanSet() {
				v.SetZero()
			}
			return
		}
		for i := range v.NumField() {
			zeroPos(v.Field(i))
		}
	}
}
