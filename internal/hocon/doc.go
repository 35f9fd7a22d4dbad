// Package hocon parses configuration files the way MAD (the Java Metrics
// Aggregator Daemon) reads them with Typesafe Config: HOCON, as specified in
// Lightbend's HOCON.md, and strict JSON. Values carry the file, line and
// column they were written at, and errors say where the problem is.
//
// Parse implements the whole HOCON syntax and resolution: comments, optional
// root braces, '=' / ':' / no separator before '{', newlines as separators,
// trailing commas, quoted, triple-quoted and unquoted strings, value
// concatenation of strings, arrays and objects, path expressions as keys
// (quoted elements may contain dots), merging of duplicate keys,
// substitutions ${path} and ${?path} resolved against the whole
// configuration, then Options.Fallback, then the environment (${NAME[]}
// reads NAME_0, NAME_1, ... from the environment), self-referential
// substitutions and "+=", cycle detection, and includes (include "file",
// file(), required(), url() and classpath()) merged in place with their
// substitutions fixed up relative to the point of inclusion.
//
// ParseJSON implements RFC 8259 (no comments, trailing commas or unquoted
// strings), keeping the last of duplicate keys as Jackson does.
//
// Resolved values are plain trees of Value (no two places share a Value):
// objects keep their keys in the order of first definition (Typesafe
// Config's own rendering sorts them), numbers keep their literal text.
//
// Differences from Typesafe Config, all at the edges:
//
//   - A number is a Number only if it is valid JSON number syntax: "0123" or
//     "1." is a string (Typesafe reads 123 and 1.0), and "1.2.3" is the
//     string "1.2.3" (in a key, the path 1, 2, 3, as the spec says).
//     Integers too large for 64 bits stay Numbers with their text.
//   - Relative names in include file("...") resolve against the working
//     directory, as Typesafe's do, and, if nothing is found there, against
//     the including file's directory, like include "...".
//   - include url(...) and URL includes are errors; classpath(...) is
//     treated as a missing file (an error only when required); included
//     .properties files are errors. A file name without an extension
//     loads name.json and name.conf (or else the bare name) and merges them.
//   - An environment variable set to the empty string counts as unset, as
//     HOCON.md specifies (Typesafe Config substitutes the empty string). A
//     substitution of a multi-element path a.b is looked up in the
//     environment as "a.b".
//   - A concatenation whose only parts are undefined optional substitutions
//     and whitespace is undefined; whitespace around the defined parts of a
//     concatenation is trimmed after undefined parts drop out.
//   - Objects and arrays may nest at most 1000 levels (a dotted key counts
//     one level per element), resolved values included. Chains of
//     substitutions that refer to later fields may be about 5000 long. The
//     number of included files, the work of resolution, and the values and
//     text that substitutions create are bounded in proportion to the input,
//     so that hostile input fails with an error instead of exhausting the
//     machine.
//   - Numerically-indexed objects are not converted to arrays, and duration
//     and size units are not interpreted: both are type conversions for the
//     code that reads Values.
//
// Only the first error is reported.
package hocon
