package graphite

import (
	"bytes"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache"
)

// Config configures a Decoder: the builder keys of MAD's
// GraphitePlaintextToRecordParser.
type Config struct {
	// GlobalTags are dimensions added to every line (globalTags); carbon
	// tags override them. Of duplicate keys the last wins.
	GlobalTags [][2]string
	// ParseCarbonTags reads "name;k=v;k2=v2" (parseCarbonTags).
	ParseCarbonTags bool
}

// Equal reports whether two configurations decode alike.
func (c Config) Equal(o Config) bool {
	return c.ParseCarbonTags == o.ParseCarbonTags && slices.Equal(c.GlobalTags, o.GlobalTags)
}

// Decoder decodes Graphite plaintext lines. It keeps scratch space that it
// reuses, so a call allocates nothing once it has grown. One per connection
// loop; not safe for concurrent use.
type Decoder struct {
	carbon bool
	global []sample.Dim // sorted, unique
	dims   []sample.Dim
	key    []byte
	perr   sample.DecodeError
	// cache, if set, names the series of lines by their handles
	// (SetCache).
	cache *sidcache.Cache
}

// SetCache makes the decoder look the series of its lines up in c (the
// cache of the producer its route publishes through, ingest.Producer.
// Handles) by their name field as written, carbon tags and all (which,
// with the decoder's configuration, decides the series key), and send
// their samples with the series' handles once the shards have given them:
// no key built, hashed or copied, and the name not checked again. nil stops
// it.
func (d *Decoder) SetCache(c *sidcache.Cache) { d.cache = c }

// NewDecoder returns a decoder for cfg.
func NewDecoder(cfg Config) *Decoder {
	d := &Decoder{carbon: cfg.ParseCarbonTags}
	for _, kv := range cfg.GlobalTags {
		d.global = append(d.global, sample.Dim{Key: []byte(kv[0]), Value: []byte(kv[1])})
	}
	d.global = dedupLastWins(d.global)
	return d
}

// dedupLastWins sorts dims by key, keeping the order of equal keys, and
// keeps the last of each key: a HashMap filled in order. The sort is
// O(n log² n) and allocation-free, so a line with very many tags costs no
// more than its length deserves.
func dedupLastWins(dims []sample.Dim) []sample.Dim {
	slices.SortStableFunc(dims, func(a, b sample.Dim) int { return bytes.Compare(a.Key, b.Key) })
	out := dims[:0]
	for i := range dims {
		if i+1 < len(dims) && bytes.Equal(dims[i].Key, dims[i+1].Key) {
			continue
		}
		out = append(out, dims[i])
	}
	return out
}

// isSpace is Java's regex \s: [ \t\n\x0B\f\r].
func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

func allSpace(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

// DecodeLine decodes one line (without its '\n'; a trailing '\r' or other
// whitespace is tolerated, as MAD's regex does) into one GAUGE sample routed
// to the batch route picks. now is the wall clock in ms, the time of a line
// without a timestamp. line is not retained: the key is copied into the
// batch. On error nothing is routed; the *ParseError is valid until the
// next call.
func (d *Decoder) DecodeLine(line []byte, now int64, route sample.Route) (sample.Counts, error) {
	// ^(?<NAME>[^ ]+) (?<VALUE>[^ ]+)( (?<TIMESTAMP>[0-9]+))?[\s]*$ with
	// Matcher.matches(): NAME runs to the first space; VALUE is the whole
	// run of non-spaces after it (a shorter VALUE never lets the rest
	// match); then either " digits" and whitespace, or whitespace only.
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return d.fail(line, "invalid graphite line: want \"name value [timestamp]\"")
	}
	name := line[:sp]
	rest := line[sp+1:]
	ve := bytes.IndexByte(rest, ' ')
	if ve < 0 {
		ve = len(rest)
	}
	if ve == 0 {
		return d.fail(line, "invalid graphite line: want \"name value [timestamp]\"")
	}
	value, tail := rest[:ve], rest[ve:]
	var ts []byte
	if len(tail) > 0 {
		j := 1
		for j < len(tail) && tail[j]-'0' < 10 {
			j++
		}
		switch {
		case j > 1 && allSpace(tail[j:]):
			ts = tail[1:j]
		case !allSpace(tail):
			return d.fail(line, "invalid graphite line: want \"name value [timestamp]\"")
		}
	}
	var rh uint64
	if d.cache != nil {
		rh = sidcache.Hash(uint8(sample.KindGauge), name, nil)
		if i := d.cache.Find(uint8(sample.KindGauge), name, nil, rh); i >= 0 {
			return d.cached(line, i, value, ts, now, route)
		}
	}
	if !utf8.Valid(name) {
		return d.fail(line, "the name is not valid UTF-8")
	}

	// Dimensions: the global tags, then the carbon tags, later ones
	// winning.
	dims := d.global
	if d.carbon {
		if semi := bytes.IndexByte(name, ';'); semi >= 0 {
			// String.split(";") drops trailing empty parts: a name of
			// only ';' leaves no parts and MAD fails on parts[0].
			if len(bytes.Trim(name, ";")) == 0 {
				return d.fail(line, "the name is empty")
			}
			tags := name[semi+1:]
			name = name[:semi]
			d.dims = append(d.dims[:0], d.global...)
			n := len(d.dims)
			for len(tags) > 0 {
				part := tags
				if k := bytes.IndexByte(tags, ';'); k >= 0 {
					part, tags = tags[:k], tags[k+1:]
				} else {
					tags = nil
				}
				if dm, ok := carbonTag(part); ok {
					d.dims = append(d.dims, dm)
				}
			}
			if len(d.dims) > n {
				d.dims = dedupLastWins(d.dims)
				dims = d.dims
			}
		}
	}

	v, n := javanum.Parse(value)
	if n == 0 {
		return d.fail(line, "the value is not a number")
	}
	t := at(ts, now)

	key, err := sample.AppendKey(d.key[:0], sample.KindGauge, name, dims)
	d.key = key
	if err != nil {
		return d.fail(line, "the series key is longer than 65519 bytes")
	}
	h := sample.Hash(key)
	if d.cache != nil {
		// Without dimensions the key ends in the name field and the count
		// 0: the record need not keep the name field apart.
		if i := d.cache.Insert(uint8(sample.KindGauge), line[:sp], nil, rh, key, len(key)-sp-1, h); i >= 0 {
			return d.send(i, route, t, v), nil
		}
	}
	b := route(h)
	b.AddValue(b.PutKeyBytes(key, h), t, 0, v, sample.UnitNone)
	return sample.Counts{Records: 1, Samples: 1}, nil
}

// at returns the time of a line: its timestamp ts in ms, or now.
func at(ts []byte, now int64) int64 {
	if ts == nil {
		return now
	}
	return seconds(ts) * 1000 // long arithmetic: wraps as Java's does
}

// cached decodes the rest of a line whose name field the cache holds, as
// record i: that name was accepted with its series key, so only the value
// is left to read.
func (d *Decoder) cached(line []byte, i int, value, ts []byte, now int64, route sample.Route) (sample.Counts, error) {
	v, n := javanum.Parse(value)
	if n == 0 {
		return d.fail(line, "the value is not a number")
	}
	return d.send(i, route, at(ts, now), v), nil
}

// send sends the sample of a line whose series is the cache's record i.
func (d *Decoder) send(i int, route sample.Route, t int64, v float64) sample.Counts {
	c := sample.Counts{Records: 1, Samples: 1}
	if d.cache.Send(i, route, t, v, sample.UnitNone, 0) {
		c.Handles = 1
	}
	return c
}

// carbonTag reads one ";"-separated part as MAD does: part.split("=")
// (trailing empty strings dropped) must give exactly two non-empty
// strings; anything else is ignored.
func carbonTag(part []byte) (sample.Dim, bool) {
	part = bytes.TrimRight(part, "=")
	eq := bytes.IndexByte(part, '=')
	if eq <= 0 || eq == len(part)-1 || bytes.IndexByte(part[eq+1:], '=') >= 0 {
		return sample.Dim{}, false
	}
	return sample.Dim{Key: part[:eq], Value: part[eq+1:]}, true
}

// seconds reads the timestamp digits as NumberFormat.parse(..).longValue()
// does: exact when it fits a long, otherwise a double cast to long, which
// saturates at Long.MAX_VALUE.
func seconds(b []byte) int64 {
	var n uint64
	for _, c := range b {
		d := uint64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return math.MaxInt64
		}
		n = n*10 + d
	}
	return int64(n)
}
