package selfmetric

import (
	"maps"
	"slices"
	"strings"
)

// Carry keeps the last counts of components that were retired (a sink
// closed by a reload, a stopped source, a pipeline removed) so that what
// they counted up to their end stays reported, and a counter does not go
// back when a component of the same name and labels takes their place:
// Report adds them to the live values of the same name and labels, and
// reports alone those no live value took over. Gauges are not kept (they
// end with their component). Not safe for concurrent use: its owner
// serialises Retire and Report (Report works on a copy, Snapshot).
type Carry struct {
	m map[string]Value
}

// carryKey is a value's name and labels.
func carryKey(v *Value) string { return v.Name + "\x00" + strings.Join(v.Labels, "\x00") }

// Retire keeps the counters report gives, added to those retired before
// under the same name and labels.
func (c *Carry) Retire(report func(emit func(Value))) {
	report(func(v Value) {
		if v.Kind == Gauge {
			return
		}
		if c.m == nil {
			c.m = map[string]Value{}
		}
		k := carryKey(&v)
		if r, ok := c.m[k]; ok {
			r.V += v.V
			c.m[k] = r
			return
		}
		v.Labels = slices.Clone(v.Labels)
		c.m[k] = v
	})
}

// Snapshot returns a copy of what c holds, for one Report.
func (c *Carry) Snapshot() Carry { return Carry{maps.Clone(c.m)} }

// Report runs report with an emit that adds the retired counts to the
// live values of the same name and labels (each once), passing every
// value on to emit, then emits the retired values no live one took over,
// in a fixed order. It consumes c: call it on a Snapshot.
func (c *Carry) Report(emit func(Value), report func(emit func(Value))) {
	report(func(v Value) {
		if len(c.m) > 0 && v.Kind != Gauge {
			k := carryKey(&v)
			if r, ok := c.m[k]; ok {
				v.V += r.V
				delete(c.m, k)
			}
		}
		emit(v)
	})
	for _, k := range slices.Sorted(maps.Keys(c.m)) {
		emit(c.m[k])
	}
	clear(c.m)
}
