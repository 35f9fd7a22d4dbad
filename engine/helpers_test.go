package engine

import (
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
