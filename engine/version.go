package engine

import "runtime/debug"

// Version and Commit say what the binary was built from (mad -version,
// /status's version and sha, MAD-SPEC §10). The Makefile's build target
// sets both with -ldflags -X from git, which works however the go command
// stamps (or not) the build. Without them they come from the build
// information the go command stamps: the main module's version (a tag, or
// a pseudo-version v0.0.0-<time>-<revision>[+dirty]) and vcs.revision,
// with "-dirty" when vcs.modified. Where nothing says (go run, go build
// -buildvcs=false, a git worktree, which the go command does not stamp)
// they say so: "devel" and "unknown".
var (
	Version string
	Commit  string
)

func init() {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	Version, Commit = buildVersion(Version, Commit, info)
}

// buildVersion resolves the version and commit: those set at link time
// first, then the build information (nil if none).
func buildVersion(version, commit string, info *debug.BuildInfo) (string, string) {
	if info != nil {
		if v := info.Main.Version; version == "" && v != "" && v != "(devel)" {
			version = v
		}
		var rev string
		var dirty bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if commit == "" && rev != "" {
			commit = rev
			if dirty {
				commit += "-dirty"
			}
		}
	}
	if version == "" {
		version = "devel"
	}
	if commit == "" {
		commit = "unknown"
	}
	return version, commit
}
