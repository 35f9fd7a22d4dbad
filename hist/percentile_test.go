package hist

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// histOf records values into an arena histogram and returns its sorted buckets.
func histOf(values ...float64) []Bucket {
	var a Arena
	var h Hist
	for _, v := range values {
		a.Record(&h, Pack(v), 1)
	}
	return SortBuckets(a.AppendBuckets(nil, h))
}

func TestPercentile1To10000(t *testing.T) {
	values := make([]float64, 10000)
	for i := range values {
		values[i] = float64(i + 1)
	}
	b := histOf(values...)
	for _, tc := range []struct {
		p    float64
		want float64
	}{
		{50, 4992}, {90, 8960}, {99, 9856}, {99.9, 9984}, {100, 9984}, {0, 1},
	} {
		if got := Percentile(b, tc.p); got != tc.want {
			t.Errorf("p%v = %v; want %v", tc.p, got, tc.want)
		}
	}
	// TPStatisticTest: every named percentile within 1 % of the exact value.
	for _, st := range []Stat{Median, TP75, TP90, TP95, TP99, TP99p9} {
		want := st.Percentile() * 100
		if got := Percentile(b, st.Percentile()); math.Abs(got-want)/want > 0.01 {
			t.Errorf("%v = %v; want within 1%% of %v", st, got, want)
		}
	}
}

func TestPercentileEdges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		buckets []Bucket
		p       float64
		want    float64
	}{
		{"empty gives 0", nil, 50, 0},
		{"empty p0 gives 0", nil, 0, 0},
		{"single", histOf(42), 99.9, 42},
		{"negatives in numeric order", histOf(-5, -1, 0, 3), 25, -5},
		{"negatives p50", histOf(-5, -1, 0, 3), 50, -1},
		{"negatives p100", histOf(-5, -1, 0, 3), 100, 3},
		{"-0 sorts before +0", histOf(0, math.Copysign(0, -1)), 50, math.Copysign(0, -1)},
		// A zero-count bucket is a key: p0 (target 0) returns it.
		{"zero count bucket at p0", []Bucket{{Pack(1), 0}, {Pack(2), 3}}, 0, 1},
		{"zero count bucket skipped at p50", []Bucket{{Pack(1), 0}, {Pack(2), 3}}, 50, 2},
		// ceil(3 * 50 / 100) = 2: the second entry.
		{"ceil", histOf(1, 2, 3), 50, 2},
		// MAD's (int) cast saturates at 2^31-1, so with more entries than
		// that the walk stops early: reproduce the quirk.
		{"int saturation", []Bucket{{Pack(1), 1 << 33}, {Pack(2), 1}}, 100, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Percentile(tc.buckets, tc.p)
			if got != tc.want || math.Signbit(got) != math.Signbit(tc.want) {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
		})
	}
}

// TestPercentileOfOneBucket: a histogram of one bucket (percentileOf's
// shortcut) gives what MAD's walk gives, written out here, at every
// percentile, for counts from 0 to beyond the long range (where the walk's
// sum wraps negative).
func TestPercentileOfOneBucket(t *testing.T) {
	walk := func(key Key, count uint64, p float64) float64 {
		entries := int64(count)
		target := int64(javaInt(min(math.Ceil(float64(entries)*p/100.0), float64(entries))))
		if int64(count) >= target {
			return key.Value()
		}
		return 0
	}
	for _, v := range []float64{42, -3.5, 0, math.Copysign(0, -1), 1e300} {
		key := Pack(v)
		for _, count := range []uint64{0, 1, 2, 3, 100, 1<<31 - 1, 1 << 31, 1 << 33, 1<<63 - 1, 1 << 63, math.MaxUint64} {
			b := []Bucket{{key, count}}
			for _, p := range []float64{0, 0.1, 25, 50, 75, 90, 95, 99, 99.9, 100, math.NaN()} {
				got, want := Percentile(b, p), walk(key, count, p)
				if got != want || math.Signbit(got) != math.Signbit(want) {
					t.Fatalf("value %v, count %d, p %v: %v; MAD's walk gives %v", v, count, p, got, want)
				}
			}
		}
	}
}

func TestBimodal(t *testing.T) {
	// HistogramStatisticTest's bimodal case: 999 fast and 1 slow; p99.9
	// lands in the fast mode, p100 in the slow one.
	var vals []float64
	for i := 0; i < 999; i++ {
		vals = append(vals, 10)
	}
	vals = append(vals, 10000)
	b := histOf(vals...)
	if got := Percentile(b, 99.9); got != 10 {
		t.Errorf("p99.9 = %v; want 10", got)
	}
	if got, want := Percentile(b, 100), Truncate(10000); got != want {
		t.Errorf("p100 = %v; want %v", got, want)
	}
}

func TestJavaCasts(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want int64
	}{
		{0, 0}, {1.9, 1}, {-1.9, -1}, {math.NaN(), 0}, {math.Inf(1), math.MaxInt64},
		{math.Inf(-1), math.MinInt64}, {1e300, math.MaxInt64}, {-1e300, math.MinInt64},
	} {
		if got := JavaLong(tc.f); got != tc.want {
			t.Errorf("JavaLong(%v) = %d; want %d", tc.f, got, tc.want)
		}
	}
	for _, tc := range []struct {
		f    float64
		want int32
	}{
		{0, 0}, {2.5, 2}, {math.NaN(), 0}, {1e10, math.MaxInt32}, {-1e10, math.MinInt32},
	} {
		if got := javaInt(tc.f); got != tc.want {
			t.Errorf("javaInt(%v) = %d; want %d", tc.f, got, tc.want)
		}
	}
}

// TestMerge: merging histograms is the same as recording all their values.
func TestMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var a, b, all Arena
	var ha, hb, hall Hist
	for i := 0; i < 5000; i++ {
		v := r.NormFloat64() * 100
		if i%2 == 0 {
			a.Record(&ha, Pack(v), 1)
		} else {
			b.Record(&hb, Pack(v), 1)
		}
		all.Record(&hall, Pack(v), 1)
	}
	var merged Arena
	var hm Hist
	merged.Merge(&hm, &a, ha)
	merged.Merge(&hm, &b, hb)
	got := SortBuckets(merged.AppendBuckets(nil, hm))
	want := SortBuckets(all.AppendBuckets(nil, hall))
	if len(got) != len(want) {
		t.Fatalf("merged has %d buckets; want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("bucket %d = %+v; want %+v", i, got[i], want[i])
		}
	}
	for _, p := range []float64{0, 50, 90, 99, 99.9, 100} {
		if g, w := Percentile(got, p), Percentile(want, p); g != w {
			t.Errorf("p%v merged = %v; want %v", p, g, w)
		}
	}
}

// TestSortBucketsAgainstReference holds SortBuckets to a sort written
// independently (sort.SliceStable by Less, then merging equal keys), over
// every size through the insertion sort's bound and past it and at larger
// sizes, with keys drawn from all NumKeys (negative values, -0 and +0,
// NaN's keys), from a few values (many equal keys to merge), and in order,
// reversed and up-then-down (the quicksort's bad cases).
func TestSortBucketsAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	sizes := []int{}
	for n := range 100 { // networks up to netMax (32), merges to mergeMax (64), quicksort beyond
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 127, 128, 129, 255, 256, 1000, 4096)
	for _, n := range sizes {
		for trial := range 60 {
			b := make([]Bucket, n)
			for i := range b {
				var k Key
				switch trial % 6 {
				case 0, 1: // any key
					k = Key(r.IntN(NumKeys))
				case 2: // a few values, many equal keys
					k = Key(r.IntN(6)) | Key(r.IntN(2))*keySign
				case 3: // ascending, as recorded in order
					k = Key(130944 + i)
				case 4: // descending
					k = Key(130944 + n - i)
				case 5: // organ pipe: up then down
					k = Key(130944 + min(i, n-i))
				}
				b[i] = Bucket{k, uint64(r.IntN(1000))}
			}
			if got, want := SortBuckets(slices.Clone(b)), refSortBuckets(b); !slices.Equal(got, want) {
				t.Fatalf("%d buckets: got %v, want %v", n, got, want)
			}
		}
	}
}

// TestSortNetworks checks the sorting networks two ways. Each is Batcher's
// odd-even merge sort, comparator for comparator, as sortnet.go writes it
// out (batcherPairs builds the network here; Batcher's construction sorts
// every input). And the networks up to 16 inputs are run on every input of
// zeros and ones: by the 0-1 principle, a comparator network that sorts
// all of them sorts every input (2^32 inputs are too many for net32, which
// the reference and fuzz tests run at every size to 99).
func TestSortNetworks(t *testing.T) {
	src, err := os.ReadFile("sortnet.go")
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)\nfunc net(\d+)\(w \*\[\d+\]uint64\) \{\n(.*?)\n\}`)
	cx := regexp.MustCompile(`^\tcx\(&w\[(\d+)\], &w\[(\d+)\]\)$`)
	seen := map[int]bool{}
	for _, m := range body.FindAllSubmatch(src, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		var got [][2]int
		for _, line := range strings.Split(string(m[2]), "\n") {
			c := cx.FindStringSubmatch(line)
			if c == nil {
				t.Fatalf("net%d: a line that is not a compare-exchange: %q", n, line)
			}
			i, _ := strconv.Atoi(c[1])
			j, _ := strconv.Atoi(c[2])
			got = append(got, [2]int{i, j})
		}
		if want := batcherPairs(n); !slices.Equal(got, want) {
			t.Errorf("net%d is not Batcher's network: %d comparators, want %d", n, len(got), len(want))
		}
		seen[n] = true
	}
	for _, n := range []int{4, 8, 16, 32} {
		if !seen[n] {
			t.Errorf("net%d not found in sortnet.go", n)
		}
	}
	check := func(n int, sort func(w []uint64)) {
		w := make([]uint64, n)
		for bits := range 1 << n {
			ones := 0
			for i := range w {
				w[i] = uint64(bits >> i & 1)
				ones += int(w[i])
			}
			sort(w)
			for i, x := range w {
				want := uint64(0)
				if i >= n-ones {
					want = 1
				}
				if x != want {
					t.Fatalf("net%d sorted %0*b into %v", n, n, bits, w)
				}
			}
		}
	}
	check(4, func(w []uint64) { net4((*[4]uint64)(w)) })
	check(8, func(w []uint64) { net8((*[8]uint64)(w)) })
	check(16, func(w []uint64) { net16((*[16]uint64)(w)) })
}

// batcherPairs returns the comparators of Batcher's odd-even merge sort of
// n inputs (a power of two) in the order of its recursive definition: each
// half sorted, then the halves merged.
func batcherPairs(n int) [][2]int {
	var pairs [][2]int
	// merge merges the sorted runs of lo..lo+n in steps of r.
	var merge func(lo, n, r int)
	merge = func(lo, n, r int) {
		if m := 2 * r; m < n {
			merge(lo, n, m)
			merge(lo+r, n, m)
			for i := lo + r; i+r < lo+n; i += m {
				pairs = append(pairs, [2]int{i, i + r})
			}
			return
		}
		pairs = append(pairs, [2]int{lo, lo + r})
	}
	var sort func(lo, n int)
	sort = func(lo, n int) {
		if n > 1 {
			sort(lo, n/2)
			sort(lo+n/2, n/2)
			merge(lo, n, 1)
		}
	}
	sort(0, n)
	return pairs
}

// refSortBuckets is the reference the sort tests hold SortBuckets to,
// written independently: sort.SliceStable by Less, then equal keys merged.
func refSortBuckets(b []Bucket) []Bucket {
	want := slices.Clone(b)
	sort.SliceStable(want, func(i, j int) bool { return Less(want[i].Key, want[j].Key) })
	var merged []Bucket
	for _, e := range want {
		if m := len(merged); m > 0 && merged[m-1].Key == e.Key {
			merged[m-1].Count += e.Count
			continue
		}
		merged = append(merged, e)
	}
	return merged
}

// FuzzSortBuckets holds SortBuckets to the reference sort of
// TestSortBucketsAgainstReference on buckets read from the input, 4 bytes
// each: a key of 19 bits (any: negative values, -0, NaN's keys) and a count.
// The first byte picks how many distinct keys the buckets draw from, so that
// equal keys, which merge, are common.
func FuzzSortBuckets(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(bytes.Repeat([]byte{3, 0xff, 0x7f, 0x01, 0x80}, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		keys := uint32(data[0])<<11 | 1 // 1 to 2^19-2047 distinct keys
		data = data[1:]
		b := make([]Bucket, 0, len(data)/4)
		for ; len(data) >= 4; data = data[4:] {
			w := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16 | uint32(data[3])<<24
			b = append(b, Bucket{Key((w & keyMask) % keys), uint64(w >> keyBits)})
		}
		if got, want := SortBuckets(slices.Clone(b)), refSortBuckets(b); !slices.Equal(got, want) {
			t.Fatalf("%d buckets: got %v, want %v", len(b), got, want)
		}
	})
}

// TestSortBucketsHeapsort: the fallback the quicksort takes when its depth
// runs out, forced from the start, sorts as the reference does.
func TestSortBucketsHeapsort(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{25, 26, 31, 64, 100, 257, 1000} {
		for range 20 {
			b := make([]Bucket, n)
			for i := range b {
				b[i] = Bucket{Key(r.IntN(NumKeys)), uint64(i)}
			}
			want := slices.Clone(b)
			sort.SliceStable(want, func(i, j int) bool { return Less(want[i].Key, want[j].Key) })
			sortBuckets(b, 0)
			for i := range b {
				if b[i].Key != want[i].Key {
					t.Fatalf("%d buckets: key %d is %v, want %v", n, i, b[i].Key, want[i].Key)
				}
			}
		}
	}
}
