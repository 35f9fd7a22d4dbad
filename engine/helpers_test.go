package engine

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// vectorConfigs holds MAD's shipped configuration files.
const vectorConfigs = "../testdata/mad/config"

// env is an environment of the given key-value pairs.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// missingTool skips a test that needs a third-party client this machine
// lacks; under CI (MAD_CI=1, set by .ci/run, which installs every one of
// them) it fails instead, so that a client test cannot pass by not running.
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("MAD_CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// seriesTotals sums a series' PT1S buckets in JSON lines output (count,
// sum, min and max over them, and how many) and keeps its line of the
// longer period.
type seriesTotals struct {
	count, sum, min, max float64
	buckets              int
	decade               *jsonLine
}

// totalsBySeries reads JSON lines output into seriesTotals by metric and
// dimensions (fmt.Sprint of the dimensions map).
func totalsBySeries(t *testing.T, text string) map[string]*seriesTotals {
	t.Helper()
	got := map[string]*seriesTotals{}
	for _, l := range parseLines(t, text) {
		key := l.Metric + fmt.Sprint(l.Dimensions)
		a := got[key]
		if a == nil {
			a = &seriesTotals{min: math.Inf(1), max: math.Inf(-1)}
			got[key] = a
		}
		if l.Period != "PT1S" {
			l := l
			a.decade = &l
			continue
		}
		a.buckets++
		a.count += *l.Statistics["count"]
		if s := l.Statistics["sum"]; s != nil {
			a.sum += *s
		}
		if v := l.Statistics["min"]; v != nil {
			a.min = math.Min(a.min, *v)
		}
		if v := l.Statistics["max"]; v != nil {
			a.max = math.Max(a.max, *v)
		}
	}
	return got
}
