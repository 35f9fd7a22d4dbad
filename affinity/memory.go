package affinity

import (
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Memory returns how much memory mad should plan for, in bytes: the
// machine's physical memory, capped by the memory limit of this process's
// cgroup or of any cgroup above it (v2 memory.max; v1
// memory.limit_in_bytes). ok is false when neither is known. Defaults that
// must bound memory (the series limit) derive from it.
func Memory() (bytes int64, ok bool) {
	bytes, ok = physicalMemory()
	if l, lok := cgroupMemoryLimit(); lok && (!ok || l < bytes) {
		bytes, ok = l, true
	}
	return bytes, ok
}

// cgroupMemoryLimit returns the smallest memory limit of this process's
// cgroup and the cgroups above it: v2's memory.max, else v1's
// memory.limit_in_bytes; and whether there is one.
func cgroupMemoryLimit() (int64, bool) {
	if l, ok := smallestUp("/sys/fs/cgroup", cgroupPath(), "memory.max", parseMemoryMax); ok {
		return l, true
	}
	// v1 says "no limit" with a number near 2^63, which physical memory
	// caps.
	return smallestUp("/sys/fs/cgroup/memory", cgroupV1Path("memory"), "memory.limit_in_bytes", parseMemoryMax)
}

// smallestUp returns the smallest value parse finds in file of cgroup
// dir under root and of every cgroup above it.
func smallestUp(root, dir, file string, parse func(string) (int64, bool)) (int64, bool) {
	limit, found := int64(0), false
	for p := path.Clean("/" + dir); ; p = path.Dir(p) {
		if b, err := os.ReadFile(path.Join(root, p, file)); err == nil {
			if v, ok := parse(string(b)); ok && (!found || v < limit) {
				limit, found = v, true
			}
		}
		if p == "/" {
			return limit, found
		}
	}
}

// cgroupV1Path returns this process's cgroup v1 path for controller ("" if
// unknown).
func cgroupV1Path(controller string) string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), controller) {
			return f[2]
		}
	}
	return ""
}

// parseMemoryMax reads cgroup v2's memory.max: bytes, or "max" for none.
func parseMemoryMax(s string) (int64, bool) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}
