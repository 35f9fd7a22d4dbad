package affinity

import (
	"bufio"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Usable returns how many CPUs mad should plan for: the CPUs it may run on,
// capped by the cgroup CPU quota (rounded up), at least 1. Shard and loop
// counts default to it.
func Usable() int {
	n := len(CPUs())
	if q, ok := cgroupQuota(); ok && q > 0 {
		n = min(n, int(math.Ceil(q)))
	}
	return max(n, 1)
}

// cgroupQuota returns the CPU quota of this process's cgroup in CPUs (v2
// cpu.max, else v1 cfs_quota_us/cfs_period_us), and whether there is one.
func cgroupQuota() (float64, bool) {
	path := cgroupPath()
	for _, p := range []string{"/sys/fs/cgroup" + path + "/cpu.max", "/sys/fs/cgroup/cpu.max"} {
		if b, err := os.ReadFile(p); err == nil {
			return parseCPUMax(string(b))
		}
	}
	quota, err1 := readInt("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
	period, err2 := readInt("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return 0, false
	}
	return float64(quota) / float64(period), true
}

// parseCPUMax reads cgroup v2's "quota period" ("max 100000": none).
func parseCPUMax(s string) (float64, bool) {
	f := strings.Fields(s)
	if len(f) != 2 || f[0] == "max" {
		return 0, false
	}
	q, err1 := strconv.ParseFloat(f[0], 64)
	p, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0, false
	}
	return q / p, true
}

// cgroupPath returns this process's cgroup v2 path ("" if unknown).
func cgroupPath() string {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return rest
		}
	}
	return ""
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func allCPUs() []int {
	cpus := make([]int, runtime.NumCPU())
	for i := range cpus {
		cpus[i] = i
	}
	return cpus
}
