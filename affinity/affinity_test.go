package affinity

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestCPUsAndUsable(t *testing.T) {
	cpus := CPUs()
	if len(cpus) == 0 || len(cpus) > runtime.NumCPU() {
		t.Fatalf("CPUs() = %v with NumCPU %d", cpus, runtime.NumCPU())
	}
	if u := Usable(); u < 1 || u > len(cpus) {
		t.Fatalf("Usable() = %d; want 1..%d", u, len(cpus))
	}
}

func TestParseCPUMax(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"max 100000\n", 0, false}, {"150000 100000\n", 1.5, true}, {"50000 100000", 0.5, true}, {"garbage", 0, false},
	} {
		got, ok := parseCPUMax(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseCPUMax(%q) = %v %v; want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseMemoryMax(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"max\n", 0, false}, {"1073741824\n", 1 << 30, true}, {"0", 0, false}, {"garbage", 0, false},
	} {
		got, ok := parseMemoryMax(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseMemoryMax(%q) = %v %v; want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestSmallestUp: a cgroup's memory limit is the smallest of its own and
// its ancestors' ("max" is none).
func TestSmallestUp(t *testing.T) {
	root := t.TempDir()
	for dir, limit := range map[string]string{"": "max\n", "a": "3000\n", "a/b": "max\n", "a/b/c": "5000\n", "x": "max"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dir, "memory.max"), []byte(limit), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		dir  string
		want int64
		ok   bool
	}{
		{"/a/b/c", 3000, true}, {"/a/b", 3000, true}, {"/a", 3000, true}, {"/x", 0, false}, {"/", 0, false}, {"/gone/deeper", 0, false},
	} {
		got, ok := smallestUp(root, tc.dir, "memory.max", parseMemoryMax)
		if got != tc.want || ok != tc.ok {
			t.Errorf("smallestUp(%q) = %d %v; want %d %v", tc.dir, got, ok, tc.want, tc.ok)
		}
	}
}
