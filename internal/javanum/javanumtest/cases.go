// Package javanumtest holds what Java's NumberFormat answered, the table
// that the tests of javanum and of every decoder that reads numbers with it
// (StatsD, Graphite, Telegraf) are driven by. It is for tests only.
//
// The table is testdata/numberformat.tsv, written by
// testdata/NumberFormatCases.java from what the JDK returned; tests read it
// and need no Java.
package javanumtest

import (
	_ "embed"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Case is one input and what MAD's NumberFormat.getInstance().parse gave.
type Case struct {
	// In is the text parsed.
	In string
	// OK is false where Java threw ParseException.
	OK bool
	// Bits are the raw bits of the result's doubleValue().
	Bits uint64
	// Index is ParsePosition.getIndex() after parse(String, ParsePosition):
	// how much of In the number took, in UTF-16 units; 0 if not OK.
	Index int
	// Long is set when the result was a Long (else a Double).
	Long bool
}

// Value is the result's doubleValue().
func (c Case) Value() float64 { return math.Float64frombits(c.Bits) }

// Same reports whether v is Java's value: the same bits, or any NaN for
// NaN.
func (c Case) Same(v float64) bool {
	return math.Float64bits(v) == c.Bits || math.IsNaN(v) && math.IsNaN(c.Value())
}

// UTF16Len is the length of s in UTF-16 units, Java's String.length(), to
// compare a byte count with Index.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

//go:embed testdata/numberformat.tsv
var table string

// Cases returns the table, in file order.
func Cases() []Case {
	var out []Case
	for i, line := range strings.Split(table, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			panic("BUG: numberformat.tsv line " + strconv.Itoa(i+1) + ": want 5 fields")
		}
		in, err := strconv.Unquote(f[0])
		if err != nil {
			panic("BUG: numberformat.tsv line " + strconv.Itoa(i+1) + ": " + err.Error())
		}
		c := Case{In: in, OK: f[1] != "ParseException", Long: f[4] == "Long"}
		if c.OK {
			if c.Bits, err = strconv.ParseUint(f[2], 16, 64); err == nil {
				c.Index, err = strconv.Atoi(f[3])
			}
			if err != nil || c.Index <= 0 {
				panic("BUG: numberformat.tsv line " + strconv.Itoa(i+1) + ": bad bits or index")
			}
		}
		out = append(out, c)
	}
	return out
}
