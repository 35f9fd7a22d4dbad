// Package histtest renders sealed rows as text for tests that compare what
// two runs emitted (with series handles and without, say): one line a row,
// its period, start, key parts and every statistic it has, with its unit.
package histtest

import (
	"fmt"
	"strings"

	"github.com/gomad/mad/hist"
)

// Rows appends the rows of snap, rendered, to dst.
func Rows(dst []string, snap *hist.Snapshot) []string {
	for i := range snap.Len() {
		kind, name, dims := snap.Key(i)
		row := snap.Table.Row(i, nil)
		var b strings.Builder
		fmt.Fprintf(&b, "%d %d %d %q %q:", snap.Table.Period, snap.Table.Start, kind, name, dims)
		for st := range hist.NumStats {
			if v, u, ok := row.Value(st); ok {
				fmt.Fprintf(&b, " %v=%v/%d", st, v, u)
			}
		}
		dst = append(dst, b.String())
	}
	return dst
}
