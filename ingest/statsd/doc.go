// Package statsd decodes StatsD datagrams into samples: MAD's dialect
// (StatsdToRecordParser, MAD-SPEC §4.4), including DogStatsD and Influx tags,
// plus what real clients send beyond it (sets, distributions, gauge deltas,
// DogStatsD container ids and timestamps; events and service checks are
// recognised and skipped).
//
// The package is pure: no goroutines, no I/O, no globals. ParseLine turns
// one line into a Line whose byte slices alias the input; Decoder turns a
// datagram into samples appended to caller-provided batches. Neither
// allocates per line once its scratch space has grown.
package statsd
