// Package transform holds the rules of MAD's MappingSource (MAD-SPEC §3.5)
// and of its experimental wrapping sources TransformingSource and
// TagDroppingSource (§13.2, §13.3), applied to one series (name and sorted
// dimensions) at a time. The ingest mapper calls it once per new input
// series and caches what it gives, so regular expressions do not run per
// sample.
//
// # MappingSource (CompileMapping, Mapping.Apply)
//
// Every pattern that find()s in the name gives, for each of its
// replacements, the name with Java's replaceAll applied (Regexp,
// Replacement); the dimensions are kept. A name no pattern matches is kept;
// a matching pattern with no replacements gives nothing. A name given twice
// is given twice (MAD merges the two metrics' samples, so they count twice).
//
// # TransformingSource (Compile, Transformer.Apply)
//
// Each Set is applied to the input series on its own (sets do not chain):
//
//   - every rule whose pattern find()s in the name applies; each of its
//     templates is expanded over all the matches, as mad-experimental's
//     RegexAndMapReplacer.replaceAll does: the text between matches kept,
//     each match replaced by the expanded template. A rule with no
//     templates gives nothing; a set none of whose patterns match keeps the
//     name;
//   - templates have only ${...} tokens; '\' escapes \ $ { }. ${N} is group
//     N if the pattern has it; ${name} is group N, else the named group,
//     else the dimension, else the environment variable, else "";
//     ${capture:N|name} reads groups only; ${dimension:k} and ${env:k}
//     read one map ("" if absent). A dimension a token reads (not a group)
//     is used: it is removed from that output;
//   - an expansion with a ';' is the new name before the first ';' and
//     key=value tags after it (split on ';', trimmed, empty entries skipped);
//   - output dimensions: the input's, less used, less the set's Remove, then
//     its Inject (Overwrite false: only if absent), then the tags, which
//     overwrite.
//
// # TagDroppingSource (CompileDrops, Dropper.Apply)
//
// One output: the dimensions less the union of RemoveDimensions of every
// DropSet whose pattern matches the whole name (Java's matches()).
//
// # Where mad differs from MAD, on purpose
//
//   - MAD emits the earlier sets' output again for every later set (its merge
//     map outlives the set loop). Each output is given once here, and an
//     output two sets (or two templates) give is given once: in MAD, the
//     samples of a metric two templates of one set map to one series are
//     counted twice.
//   - Every template is parsed by Compile: a template MAD throws on when a
//     metric first matches (a bare $1, an unknown ${prefix:...}, a bad
//     escape, an unclosed token, a group number past 2³¹−1) is a
//     configuration error.
//   - A malformed tag tail ("k", "k=v=w", a key twice), which makes MAD throw
//     and lose the whole record, loses only the series: Apply gives no output
//     and returns ErrTagEntry or ErrTagDuplicate for the caller to count.
//   - RegexAndMapReplacer drops the text after the last match when it is
//     exactly one character ("cat/x/dogs" with cat/([^/]*)/dog gives
//     "cat/dogs" here, "cat/dog" in MAD: `lastMatchedIndex < length - 1`).
//   - A group that took no part in the match expands to "" (Java's
//     StringBuilder.append(null) writes "null" in MAD).
//   - The environment is the snapshot given to Compile (MAD reads
//     System.getenv() per record; the configuration is re-read on reload).
//
// # Java regular expressions on RE2
//
// Patterns are compiled by Go's regexp (RE2). checkJava refuses what RE2
// lacks or would read with another meaning: back-references, look-around,
// atomic groups, possessive quantifiers, octal escapes, \v, \b{g}, class
// union and intersection, the U flag; Go's own (?P<name>) and group names
// Java refuses are refused too. Named groups (?<name>...) work. Java's
// find() loop is reproduced exactly, including the empty match it accepts
// right after a non-empty one (see javaRegexp.matches): "(.*)" replaces
// "abc" twice, the whole and the empty string at its end, in MAD and here.
// Known remaining differences, all on characters metric names rarely hold
// or on pathological patterns: Java's '.' also excludes \r, U+0085, U+2028
// and U+2029; its '$' also matches before a final line terminator, and its
// (?m)^ never at the end of the input; (?i) folds only ASCII in Java,
// Unicode in Go; \s also matches \x0B in Java; \b and \B see Unicode
// letters in Java before 19; after an empty match Java resumes one UTF-16
// unit on, Go one code point (they differ only inside a supplementary
// character); Java refuses a '{' that starts no quantifier, Go reads it
// literally; in a repeat whose body can match empty ("(a|b*)+") the two
// engines may capture another iteration's text (the match itself is the
// same). TestJavaFindGolden checks the patterns testdata/javafind/JavaFind.java
// draws against Java 17's answers.
//
// # Cost
//
// Apply allocates nothing once its Scratch has grown, except what Go's
// regexp allocates for a pattern that matches: FindAllSubmatchIndex makes
// the list and one slice per match (2 allocations, 272 bytes, for one match
// of a pattern like cat/([^/]*)/dog; 3 for some patterns that can match
// empty), and a pattern that can match the empty string adds one
// (FindIndex) per non-empty match not followed by another at its end.
// A pattern that does not match costs nothing (Regexp.Match); nor does
// TagDroppingSource. TestApplyAllocs holds Apply to exactly regexp's
// allocations; BenchmarkApply measures three rules.
package transform
