package engine

import (
	"encoding/json"
	"net/http/httptest"
	"runtime/debug"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	stamped := &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202074248-a5c8f5851ccb+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "a5c8f5851ccb705f89dc334ca083ead250449cea"}, {Key: "vcs.modified", Value: "true"}}}
	clean := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "a5c8f5851ccb705f89dc334ca083ead250449cea"}, {Key: "vcs.modified", Value: "false"}}}
	unstamped := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
	for _, c := range []struct {
		name                 string
		version, commit      string // set at link time
		info                 *debug.BuildInfo
		wantVersion, wantSHA string
	}{
		{"linked", "v2.0.0", "0123abc", stamped, "v2.0.0", "0123abc"},
		{"stamped, modified", "", "", stamped, "v0.0.0-20261202074248-a5c8f5851ccb+dirty", "a5c8f5851ccb705f89dc334ca083ead250449cea-dirty"},
		{"stamped, clean", "", "", clean, "v1.2.3", "a5c8f5851ccb705f89dc334ca083ead250449cea"},
		{"not stamped (-buildvcs=false, go run, a worktree)", "", "", unstamped, "devel", "unknown"},
		{"no build information", "", "", nil, "devel", "unknown"},
		{"only the version linked", "v2.0.0", "", clean, "v2.0.0", "a5c8f5851ccb705f89dc334ca083ead250449cea"},
	} {
		v, sha := buildVersion(c.version, c.commit, c.info)
		if v != c.wantVersion || sha != c.wantSHA {
			t.Errorf("%s: %q %q; want %q %q", c.name, v, sha, c.wantVersion, c.wantSHA)
		}
	}
}

// TestStatus: /status is MAD's, with the version and commit of the build.
func TestStatus(t *testing.T) {
	d := newDaemon(DaemonConfig{})
	defer d.hub.Close()
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("/status: %d %s", rec.Code, rec.Body)
	}
	want := map[string]string{"name": "Metrics Aggregator Daemon", "version": Version, "sha": Commit}
	if len(got) != len(want) || got["name"] != want["name"] || got["version"] != want["version"] || got["sha"] != want["sha"] {
		t.Errorf("/status: %v; want %v", got, want)
	}
}
