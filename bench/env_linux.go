//go:build linux

package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"
)

// Environment is the line PERF.md asks every result to carry: kernel,
// CPUs, receive-buffer limits, Go version, commit and the exact command.
type Environment struct {
	Kernel, CPU, Go, Commit, Command string
	NProc                            int
	RmemMax, RmemDefault             string
}

// Env describes this machine and run.
func Env(args []string) Environment {
	e := Environment{NProc: runtime.NumCPU(), Go: runtime.Version(), Command: strings.Join(args, " ")}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		e.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	e.RmemMax = readTrim("/proc/sys/net/core/rmem_max")
	e.RmemDefault = readTrim("/proc/sys/net/core/rmem_default")
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	e.Commit = "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			e.Commit = rev
			if dirty {
				e.Commit += "+dirty"
			}
		}
	}
	if e.Commit == "unknown" {
		// Built without VCS stamping (-buildvcs=false, go run): ask git
		// about the working directory.
		if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
			e.Commit = strings.TrimSpace(string(out))
			if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
				e.Commit += "+dirty"
			}
		}
	}
	return e
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func (e Environment) String() string {
	return fmt.Sprintf("kernel %s, %d CPUs (%s), net.core.rmem_max %s, rmem_default %s, %s, commit %s, command: %s",
		e.Kernel, e.NProc, e.CPU, e.RmemMax, e.RmemDefault, e.Go, e.Commit, e.Command)
}
