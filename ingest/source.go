package ingest

import (
	"strings"

	"github.com/gomad/mad/internal/selfmetric"
)

// SourceConfig is the configuration of one source (UDPConfig, TCPConfig,
// HTTPConfig, …): what a pipeline needs to open it over rings to its shards,
// and to tell whether a running source can take a new configuration in
// place. Implementations are pointers to the config structs.
type SourceConfig interface {
	// SourceName is the source's name (MAD's `name`).
	SourceName() string
	// SourceKey names what the source occupies: "udp 0.0.0.0:8125", "tcp
	// 0.0.0.0:2003", "http /metrics/v3/application". A pipeline keeps a
	// running source across an update only for a configuration of the same
	// key; two sources of one daemon may not share a key unless it
	// occupies nothing fixed (Exclusive).
	SourceKey() string
	// Lanes returns how many producers the source writes with (loops,
	// slots: one Lanes each) and the capacity of their rings in batches (0:
	// the pipeline's default).
	Lanes() (n, ringSize int)
	// EnsureDefaults fills in every unset option.
	EnsureDefaults()
	// Wrap adds a mapper after those already there: an enclosing wrapping
	// source (MappingSource, TimeStampingSource). Mappers apply in the
	// order they were added, the innermost wrapper first.
	Wrap(MapperSpec)
	// Open binds the source over lanes, one per producer. Sockets are bound
	// when it returns; reading may wait for Start.
	Open(lanes []Lanes) (Source, error)
}

// Stepper is a source configuration whose producers call Producer.Step
// after they publish, so that over lanes with Step set (a pipeline that runs
// inline) they apply their own batches: the UDP source's loops, the TCP
// source's event loops and the HTTP source's requests.
type Stepper interface {
	Steps() bool
}

// Claimer is a source configuration, or a running source, that occupies
// more than its key: names no other source of the daemon may hold at the
// same time, though the sources' keys differ. An exactly-once KafkaSource
// claims its transactional id: two producers with one id fence each other
// without end, whatever their groups and topics.
type Claimer interface {
	Claims() []string
}

// ClaimsOf returns what a source configuration or a running source claims
// beside its key (nil for most).
func ClaimsOf(s any) []string {
	if c, ok := s.(Claimer); ok {
		return c.Claims()
	}
	return nil
}

// Source is a running source. Every method may be called from any
// goroutine.
type Source interface {
	selfmetric.Reporter
	Name() string
	// Key names what the source occupies now: its configuration's key,
	// with the port the kernel chose for a port 0 ("udp 127.0.0.1:41234").
	// A configuration of either key may be taken in place.
	Key() string
	// Start starts reading (a no-op for sources that read from Open on).
	Start()
	// Retargetable reports whether Retarget can apply cfg in place: it has
	// the source's key and shape (loops, slots, line format, mappers), so
	// that nothing needs to be rebound.
	Retargetable(cfg SourceConfig) bool
	// Retarget moves the source to new lanes, one per producer, and to cfg
	// (Retargetable), without closing anything: what it read before went to
	// the old lanes, which have no producer when it returns.
	Retarget(cfg SourceConfig, lanes []Lanes) error
	// Stop stops reading and publishes what was read; the lanes have no
	// producer when it returns. Safe to call more than once.
	Stop() error
}

// Finisher is a source that acknowledges what it read upstream only once it
// was emitted (KafkaSource's offsets). Finish, called after Stop once the
// aggregator it wrote to has stopped and emitted everything (or, when the
// source alone is removed, while that aggregator goes on), acknowledges
// what it can within the source's own bound and releases the source.
type Finisher interface {
	Finish() error
}

// opened returns what a constructor returned as a Source: a nil interface,
// not a nil *T, on error.
func opened[T Source](s T, err error) (Source, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Exclusive reports whether a source key occupies something fixed: a socket
// address with a port other than 0, a Unix socket's path, or an HTTP route.
// Two sources with the same exclusive key cannot run in one daemon.
func Exclusive(key string) bool {
	return strings.HasPrefix(key, "unixgram ") || !strings.HasSuffix(key, ":0")
}

// MapperSpec is the configuration of a mapper (a wrapping source): it makes
// a mapper per producer and compares with another configuration.
type MapperSpec interface {
	NewMapper() Mapper
	Equal(MapperSpec) bool
}

// MapperChain is the mappers around a source, the innermost first.
type MapperChain []MapperSpec

// New returns the chain's mapper for one producer; nil for an empty chain.
func (c MapperChain) New() Mapper {
	switch len(c) {
	case 0:
		return nil
	case 1:
		return c[0].NewMapper()
	}
	ms := make(Mappers, len(c))
	for i, s := range c {
		ms[i] = s.NewMapper()
	}
	return ms
}

// Equal reports whether two chains map alike.
func (c MapperChain) Equal(o MapperChain) bool {
	if len(c) != len(o) {
		return false
	}
	for i := range c {
		if !c[i].Equal(o[i]) {
			return false
		}
	}
	return true
}
