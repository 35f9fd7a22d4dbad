package affinity

import (
	"os"
	"path"
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

// cgroupMemoryLimit returns the smallest memory.max of this process's
// cgroup v2 and its ancestors, else cgroup v1's limit, and whether there is
// one.
func cgroupMemoryLimit() (int64, bool) {
	limit, found := int64(0), false
	for p := path.Clean("/" + cgroupPath()); ; p = path.Dir(p) {
		if b, err := os.ReadFile(path.Join("/sys/fs/cgroup", p, "memory.max")); err == nil {
			if v, ok := parseMemoryMax(string(b)); ok && (!found || v < limit) {
				limit, found = v, true
			}
		}
		if p == "/" {
			break
		}
	}
	if found {
		return limit, true
	}
	// v1 says "no limit" with a number near 2^63 (physical memory caps it).
	if v, err := readInt("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil && v > 0 {
		return v, true
	}
	return 0, false
}

// parseMemoryMax reads cgroup v2's memory.max: bytes, or "max" for none.
func parseMemoryMax(s string) (int64, bool) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}
