package selfmetric

import (
	"fmt"
	"testing"
)

// TestCarry: retired counters are added to the live ones of the same name
// and labels, once; those without a live successor are reported alone, in
// order; gauges are not kept; retiring twice under one key adds up.
func TestCarry(t *testing.T) {
	var c Carry
	c.Retire(func(emit func(Value)) {
		emit(Value{Name: "a_total", Labels: []string{"sink", "x"}, V: 3})
		emit(Value{Name: "b_total", Labels: []string{"sink", "gone"}, V: 2})
		emit(Value{Name: "level", Kind: Gauge, V: 7})
	})
	c.Retire(func(emit func(Value)) { emit(Value{Name: "a_total", Labels: []string{"sink", "x"}, V: 1}) })
	var got []string
	s := c.Snapshot()
	s.Report(func(v Value) { got = append(got, fmt.Sprint(v.Name, v.Labels, v.V)) }, func(emit func(Value)) {
		emit(Value{Name: "a_total", Labels: []string{"sink", "x"}, V: 10})
		emit(Value{Name: "a_total", Labels: []string{"sink", "x"}, V: 5}) // a second value of the key: added once
		emit(Value{Name: "level", Kind: Gauge, V: 1})
	})
	want := "[a_total[sink x] 14 a_total[sink x] 5 level[] 1 b_total[sink gone] 2]"
	if fmt.Sprint(got) != want {
		t.Errorf("got %v\nwant %s", got, want)
	}
	// The snapshot was consumed, not c.
	got = got[:0]
	s = c.Snapshot()
	s.Report(func(v Value) { got = append(got, fmt.Sprint(v.Name, v.Labels, v.V)) }, func(func(Value)) {})
	if want := "[a_total[sink x] 4 b_total[sink gone] 2]"; fmt.Sprint(got) != want {
		t.Errorf("again: got %v, want %s", got, want)
	}
}
