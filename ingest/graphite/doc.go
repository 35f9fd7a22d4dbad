// Package graphite decodes Graphite plaintext lines into samples, as MAD's
// GraphitePlaintextToRecordParser does behind a TcpLineSource
// (MAD-SPEC §3.3, §4.5).
//
// The package is pure: one line in, one sample appended to a caller-provided
// batch, no goroutines, no I/O. The TCP source splits the stream on '\n'
// and hands each line to DecodeLine; a refused line drops only itself. A
// Decoder reuses its scratch space, so once grown a call allocates nothing,
// for accepted and refused lines alike. The line is read in place and not
// retained: the series key is copied into the batch.
//
// # MAD's rules
//
//   - The line must match ^(?<NAME>[^ ]+) (?<VALUE>[^ ]+)( (?<TIMESTAMP>[0-9]+))?[\s]*$
//     in full (Java's Matcher.matches): the name runs to the first space,
//     single spaces separate the fields, and trailing whitespace (' ', \t,
//     \r, \n, \v, \f) is allowed, so a trailing "\r" is harmless. Anything
//     else refuses the line: a leading space, two spaces between fields, a
//     timestamp that is not all ASCII digits, a fourth field. Tabs are not
//     separators: "a 1\t2" has the value "1\t2", read as 1.
//   - The value is read with NumberFormat.getInstance() (en-US): its longest
//     numeric prefix, with ',' grouping, 'E' exponents, "NaN" and "∞"; no
//     prefix refuses the line ("12abc" is 12, "+1" and "abc" are refused).
//   - The timestamp is epoch seconds; time = seconds × 1000 in long
//     arithmetic (a timestamp beyond a long saturates, then the product
//     wraps, as in Java). Without a timestamp, time = now.
//   - Metric type GAUGE, no unit.
//   - Dimensions: Config.GlobalTags, then, with ParseCarbonTags, the carbon
//     tags of "name;k=v;k2=v2", the later of equal keys winning. The
//     metric name is then the part before the first ';' (it may be empty:
//     ";k=v" has the name ""; a name of only ';' is refused). Each part
//     after it is split on '=' with trailing empty strings dropped (Java's
//     String.split); only exactly two non-empty strings make a tag, so "k=",
//     "=v", "k==v" and "k" are ignored and "k=v=" is k=v.
//   - The name is kept as is (dots and all); MAD users add a MappingSource.
//
// # Where mad differs from MAD
//
//   - A name that is not valid UTF-8 is refused; MAD decodes it with
//     replacement characters, merging different byte strings into one
//     series.
//   - A sample whose canonical series key would exceed 64 KiB is refused.
//   - Java's regex and NumberFormat see UTF-16 text; the only difference
//     this makes is handled: Character.digit accepts decimal digits of any
//     BMP script in the value, and so does this package.
package graphite
