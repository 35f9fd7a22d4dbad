// Package javanum reads numbers as MAD reads them with
// java.text.NumberFormat.getInstance(): a DecimalFormat with en-US symbols
// and grouping on, called as parse(String). It is the one port of those
// rules; the StatsD, Graphite and Telegraf decoders all call Parse (MAD-SPEC
// §4.4–4.6: each hands the whole value text to parse(String), which reads
// the longest numeric prefix and ignores the rest, and throws
// ParseException only when no prefix is a number).
//
// # Java's rules
//
// As DecimalFormat.parse and subparseNumber (JDK 17) apply them:
//
//   - "NaN" at the very start is NaN (unsigned, case-sensitive).
//   - An optional '-' (no '+', no U+2212), then either '∞' (±Infinity) or
//     digits.
//   - A digit is any character with Character.digit(ch, 10) >= 0: a BMP
//     character of Unicode category Nd. A supplementary digit is two UTF-16
//     units to Java, neither a digit. Leading zeros are not significant.
//   - ',' may stand anywhere before the decimal point, any number of times
//     (",5" is 5, "1,,2" is 12); after the point it ends the number. A run of
//     ',' that no digit follows is not consumed.
//   - The first '.' starts the fraction; a second one ends the number.
//   - 'E', then an optional '-' and at least one digit, is an exponent; its
//     value must fit a long and is then cast to int. Otherwise the number
//     ends before the 'E' ("1e3" and "1E+3" are 1). No ',' or '.' in it.
//   - The value is the decimal, correctly rounded to a double: an integer
//     that fits a long is returned as a Long (exact, then rounded by
//     doubleValue()), anything else via Double.parseDouble of all the
//     digits. The decimal exponent is int arithmetic and wraps
//     ("1E2147483647" is 0.0). A negative zero is -0.0.
//   - Anything after the number is ignored.
//
// # Evidence
//
// javanumtest/testdata/numberformat.tsv holds what Java 17's NumberFormat
// answered for 155 inputs (javanumtest/testdata/NumberFormatCases.java
// regenerates it); the tests of this package and of its three callers are
// driven by it. A selection (index: ParsePosition.getIndex(), in UTF-16
// units; "-" is a ParseException):
//
//	input        value      index    input         value       index
//	"1,,2"       12         4        "1e3"         1           1
//	",5"         5          2        "1E3"         1000        3
//	"1,5"        15         3        "1E+3"        1           1
//	"1.5,3"      1.5        3        "1E-3"        0.001       4
//	"1.2.3"      1.2        3        "-0"          -0.0        2
//	"1,000.5"    1000.5     7        "0x10"        0           1
//	"1,,"        1          2        " 1"          -           0
//	"1,E3"       1000       1        "1 "          1           1
//	"NaN"        NaN        3        "١٢" (U+0661) 12          2
//	"-NaN"       -          0        "１２" (FF11) 12          2
//	"∞"          +Inf       1        "𝟎" (1D7CE)  -           0
//	"-∞"         -Inf       2        "1."          1           2
//	"+1"         -          0        ".5"          0.5         2
//	"--1"        -          0        "-.5"         -0.5        3
//	"12abc"      12         2        "1E400"       +Inf        5
//	"Infinity"   -          0        "1E-400"      0           6
//	"1E2147483647"          0.0 (the decimal exponent wraps)   12
//	"1E4294967297"          10 (the long exponent cast to int) 12
//	"1E9223372036854775808" 1 (the exponent does not fit a long) 1
//	"9007199254740993." + 1000 zeros + "1"  9007199254740994 (every digit counts)
package javanum
