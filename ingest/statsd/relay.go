package statsd

import "github.com/gomad/mad/internal/sample"

// A StatsD relay sends every line of a series to the same aggregator. The
// series is what the aggregators will make of the line: its name and its
// tags, sorted, in either style (Influx in the name, DogStatsD after |#),
// so that tag order never sends a series to two places. The metric type is
// left out: a pipeline `statistics` override aggregates a name across
// types (MAD-SPEC §6), and those lines must meet in one aggregator.

// RelayKeyFunc receives each non-empty line of a datagram (without its
// '\n'), in order, with its parse result and, when r is OK, the hash of its
// series (RelayHash). The line aliases the datagram.
type RelayKeyFunc = func(line []byte, r Result, hash uint64)

// RelayKeys parses every line of a datagram as Decode does and hands each
// to fn with the hash of its series (RelayHash). Lines are parsed in full (a refused
// line is reported with its reason, so a relay forwards only what an
// aggregator would take); nothing is sampled or counted here. data is not
// retained.
func (d *Decoder) RelayKeys(data []byte, fn RelayKeyFunc) {
	d.relay = fn
	d.setLazy()            // a relay reads every line's tags
	d.Decode(data, 0, nil) // decode hands each line to d.relay
	d.relay = nil
	d.setLazy()
}

// relayLine reports a parsed line to d.relay.
func (d *Decoder) relayLine(line []byte, r Result) {
	var h uint64
	if r == OK {
		h, r = d.relayHash(&d.line)
	}
	d.relay(line, r, h)
}

// relayHash is RelayHash of a parsed line: ErrSyntax if the series key
// would exceed sample.MaxKeyLen (the aggregator refuses such a line).
func (d *Decoder) relayHash(l *Line) (uint64, Result) {
	key, err := sample.AppendKeySpans(d.key[:0], sample.KindNone, l.Name, l.Src, l.Tags)
	d.key = key
	if err != nil {
		return 0, ErrSyntax
	}
	return sample.StableHash(key), OK
}

// RelayHash returns the relay's series hash of a parsed line: the
// sample.StableHash of the canonical key of its name and tags with no
// metric type (sample.KindNone), the same for every type and every tag
// order, and in every relay process (relays on many hosts in front of the
// same aggregators must agree).
func RelayHash(l *Line) (uint64, bool) {
	key, err := sample.AppendKeySpans(nil, sample.KindNone, l.Name, l.Src, l.Tags)
	if err != nil {
		return 0, false
	}
	return sample.StableHash(key), true
}
