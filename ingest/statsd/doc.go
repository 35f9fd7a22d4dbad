// Package statsd decodes StatsD datagrams into samples: MAD's dialect
// (StatsdToRecordParser, MAD-SPEC §4.4), including DogStatsD and Influx tags,
// plus what real clients send beyond it (sets, distributions, gauge deltas,
// DogStatsD container ids and timestamps; events and service checks are
// recognised and skipped).
//
// Values are read as MAD reads them, with Java's NumberFormat
// (internal/javanum: "1,5" is 15, "12abc" is 12, "1e3" is 1, "NaN" and "∞"
// are numbers); a leading '+', which MAD refuses, marks a gauge delta. The
// decoder counts and drops values that are not finite.
//
// The package is pure: no goroutines, no I/O, no globals. ParseLine turns
// one line into a Line whose byte slices alias the input; Decoder turns a
// datagram into samples appended to caller-provided batches. Neither
// allocates per line once its scratch space has grown.
package statsd
