package ingest

import (
	"errors"
	"fmt"
	"math/bits"
	"net"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/sample"
)

// A StatsD relay sends every series, consistently, to one of N StatsD
// aggregators (issue 19). Each line is forwarded byte for byte to the
// destination its series hashes to, packed with others into datagrams of up
// to MaxDatagram bytes.
//
// The hash is rendezvous hashing (highest random weight): the destination
// of a series is the healthy destination whose score StableHash-mix(series
// hash, destination identity) is highest. A destination's identity is the
// stable hash of its address, not its place in the list, so reordering the
// configuration moves nothing; when a destination goes down only its series
// move (each to its runner-up), and they move back when it returns. Jump
// hashing would need a score per destination too to survive a failure in
// the middle of the list; a ring of virtual nodes needs memory and balances
// worse. With the few destinations a relay has (tens at most), scoring each
// is a few nanoseconds a line.

// RelayDestination is an aggregator a relay forwards to: a StatsD server
// over UDP.
type RelayDestination struct {
	// Addr is the server's "host:port".
	Addr string
	// TCP makes the destination a StatsD server over TCP: one connection
	// per source, up while connected (Probe does not apply).
	TCP bool
	// Probe, if set, tells whether the destination is up (UDP cannot):
	// "tcp://host:port" is up while a connection there succeeds,
	// "http://host:port/path" while a GET answers 2xx (a mad's /ping).
	// Without one the destination is always up.
	Probe string
}

// RelayConfig configures the forwarding of a relay loop.
type RelayConfig struct {
	Destinations []RelayDestination
	// MaxDatagram is the largest datagram sent (default 1432: a 1500-byte
	// MTU less the IPv4 and UDP headers and a margin; raise it for jumbo
	// frames or loopback). A line longer than this goes alone in a
	// datagram of its own, up to maxUDPPayload.
	MaxDatagram int
	// QueueDatagrams bounds the packed datagrams waiting per destination
	// (default 1024); a datagram that finds its queue full is dropped and
	// its lines counted (queue_full).
	QueueDatagrams int
	// FlushInterval is the longest a line waits in a datagram that is not
	// full (default 10 ms): under load datagrams fill first; at low rates
	// a line is sent at most this late.
	FlushInterval time.Duration
	// MalformedTo, if set, names one of the destinations (its address,
	// tcp:// first for a TCP one, as relayDestName writes it):
	// lines an aggregator would refuse or skip (malformed, events, service
	// checks) are sent there as they are. Otherwise they are dropped. Either
	// way they are counted by parse result.
	MalformedTo string
	// ProbeInterval is how often destinations with a Probe are probed
	// (default 1 s), ProbeTimeout how long a probe may take (default 500
	// ms). A destination is down after two failed probes in a row and up
	// again after one that succeeds.
	ProbeInterval, ProbeTimeout time.Duration
	// Unsegmented turns off UDP segmentation offload (relay_linux.go),
	// whose datagrams are padded with empty lines, for StatsD servers that
	// count an empty line as an error (MAD, mad and Etsy's statsd skip
	// them).
	Unsegmented bool
}

// EnsureDefaults fills in every unset option.
func (c *RelayConfig) EnsureDefaults() {
	if c.MaxDatagram <= 0 {
		c.MaxDatagram = 1432
	}
	if c.QueueDatagrams <= 0 {
		c.QueueDatagrams = 1024
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 10 * time.Millisecond
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = time.Second
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = 500 * time.Millisecond
	}
}

// Relay drop reasons (RelayDestStats.Dropped).
const (
	RelayDropQueueFull = iota // the destination's queue was full
	RelayDropSendError        // the send failed (the destination refused it: ICMP unreachable, …)
	RelayDropTooLong          // a line longer than a UDP datagram can carry
	RelayDropStopped          // still unsent when the relay stopped (Finish's deadline passed)
	numRelayDrops
)

// RelayDropNames are the label values of the drop reasons.
var RelayDropNames = [numRelayDrops]string{"queue_full", "send_error", "too_long", "stopped"}

// maxUDPPayload is the largest UDP payload over IPv4.
const maxUDPPayload = 65507

// RelayDestStats counts what one destination was sent.
type RelayDestStats struct {
	Lines, Datagrams, Bytes uint64
	Dropped                 [numRelayDrops]uint64
	// Rerouted counts the lines of this destination's series sent to
	// another because it was down.
	Rerouted uint64
}

// relayDest is a destination as one relay loop sees it.
type relayDest struct {
	addr     string
	max      int // MaxDatagram
	maxQueue int // QueueDatagrams
	up       *atomic.Bool
	send     relaySender

	cur      []byte // the datagram being packed
	curLines int
	queue    []relayDatagram // packed, oldest first
	head     int             // queue[head:] are waiting
	free     [][]byte
	stats    RelayDestStats
}

type relayDatagram struct {
	b     []byte
	lines int
}

var (
	errRelayWouldBlock = errors.New("relay: socket buffer full")
	// errRelayRefusedEarlier: a connected UDP socket reported an ICMP
	// error (port unreachable) for a datagram sent before; the one being
	// sent was not.
	errRelayRefusedEarlier = errors.New("relay: an earlier datagram was refused")
)

// relaySender sends datagrams to one destination without blocking: it
// returns how many of dgs were sent, and the error that stopped it (nil,
// or errRelayWouldBlock when the socket's buffer is full: the rest is
// retried later).
type relaySender interface {
	send(dgs []relayDatagram) (int, error)
	close() error
}

// Relay forwards StatsD datagrams line by line. It belongs to one loop.
type Relay struct {
	dec   *statsd.Decoder
	dests []*relayDest
	ids   []uint64 // the destinations' rendezvous identities: StableHash of their names (relayDestName)
	// healthy has bit i set while dests[i] is up: the atomics read once a
	// datagram (Forward), so that pick tests a bit rather than following
	// two pointers a line.
	healthy [MaxRelayDestinations / 64]uint64
	each    statsd.RelayKeyFunc // r.line, made once (a method value allocates)
	refused [statsd.NumResults]uint64
	noDest  uint64 // lines dropped because no destination was up
	// malformed is the destination of refused lines (MalformedTo), -1:
	// they are dropped.
	malformed int
}

// NewRelay opens a UDP socket to each destination. up[i], if not nil,
// tells whether destination i is healthy (a prober sets it); nil means
// always.
func NewRelay(cfg RelayConfig, up []*atomic.Bool) (*Relay, error) { return newRelay(cfg, up, nil) }

// newRelay is NewRelay with the writers of the TCP destinations (tcp[i]
// for a TCP destination i).
func newRelay(cfg RelayConfig, up []*atomic.Bool, tcp []*relayTCP) (*Relay, error) {
	if len(cfg.Destinations) == 0 {
		return nil, fmt.Errorf("relay: no destinations")
	}
	if len(cfg.Destinations) > MaxRelayDestinations {
		return nil, fmt.Errorf("relay: %d destinations; %d at most", len(cfg.Destinations), MaxRelayDestinations)
	}
	cfg.EnsureDefaults()
	if cfg.MaxDatagram > maxUDPPayload {
		return nil, fmt.Errorf("relay: MaxDatagram %d is over a UDP datagram's %d bytes", cfg.MaxDatagram, maxUDPPayload)
	}
	r := &Relay{dec: statsd.NewDecoder(statsd.Config{}), malformed: -1}
	r.each = r.line
	seen := map[uint64]string{}
	for i, d := range cfg.Destinations {
		id := sample.StableHash([]byte(relayDestName(d)))
		if o, ok := seen[id]; ok {
			r.Close()
			return nil, fmt.Errorf("relay: destination %q is listed twice (or hashes as %q does)", d.Addr, o)
		}
		seen[id] = d.Addr
		var s relaySender
		var err error
		switch {
		case !d.TCP:
			seg := cfg.MaxDatagram
			if cfg.Unsegmented {
				seg = 0
			}
			s, err = dialRelayUDP(d.Addr, seg)
		case i < len(tcp) && tcp[i] != nil:
			s = relayTCPSender{tcp[i]}
		default:
			err = fmt.Errorf("a TCP destination needs its source's writer")
		}
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("relay: destination %q: %w", d.Addr, err)
		}
		u := new(atomic.Bool)
		u.Store(true)
		if i < len(up) && up[i] != nil {
			u = up[i]
		}
		if relayDestName(d) == cfg.MalformedTo || !d.TCP && "udp://"+d.Addr == cfg.MalformedTo {
			r.malformed = i
		}
		r.ids = append(r.ids, id)
		r.dests = append(r.dests, &relayDest{addr: d.Addr, max: cfg.MaxDatagram, maxQueue: cfg.QueueDatagrams, up: u, send: s, cur: make([]byte, 0, cfg.MaxDatagram)})
	}
	if cfg.MalformedTo != "" && r.malformed < 0 {
		r.Close()
		return nil, fmt.Errorf("relay: MalformedTo %q is not one of the destinations", cfg.MalformedTo)
	}
	r.readHealth()
	return r, nil
}

// MaxRelayDestinations bounds a relay's destinations: a destination's
// index is kept in the low bits of its score (relayScore).
const MaxRelayDestinations = 1 << relayIndexBits

const relayIndexBits = 8

// relayScore is destination i's rendezvous score for a series hash: the
// mix of the two with its low bits replaced by i, so that the highest
// score names its destination and max finds it without a branch (a
// branch per destination mispredicts half the time on random scores).
// Scores of two destinations tie in their other 56 bits once in 2^56
// series; the higher index then wins, the same in every relay.
func relayScore(h, id uint64, i int) uint64 {
	return sample.Mix64(h^id)&^(MaxRelayDestinations-1) | uint64(i)
}

// pick returns the destination of a series hash among the healthy ones, or
// -1 if none is; a series whose own destination is down counts as
// rerouted there. The series' own destination (the highest score of all)
// is found first: while it is up, which is the rule, that is all (pickUp
// scores the healthy ones otherwise).
func (r *Relay) pick(h uint64) int {
	ids := r.ids
	top := relayScore(h, ids[0], 0)
	for i := 1; i < len(ids); i++ {
		top = maxNoBranch(top, relayScore(h, ids[i], i))
	}
	first := int(top & (MaxRelayDestinations - 1))
	if r.isUp(first) {
		return first
	}
	return r.pickUp(h, first)
}

// isUp reports whether destination i was up when the datagram being
// forwarded arrived.
func (r *Relay) isUp(i int) bool { return r.healthy[i/64]&(1<<(i%64)) != 0 }

// readHealth reads whether each destination is up (healthy).
func (r *Relay) readHealth() {
	r.healthy = [len(r.healthy)]uint64{}
	for i, d := range r.dests {
		if d.up.Load() {
			r.healthy[i/64] |= 1 << (i % 64)
		}
	}
}

// maxNoBranch is max(a, b) in arithmetic: the compiler branches for max in
// a loop.
func maxNoBranch(a, b uint64) uint64 {
	_, lt := bits.Sub64(b, a, 0) // 1 if b < a
	return b ^ (a^b)&-lt
}

// pickUp is pick when the series' own destination, first, is down: the
// healthy destination of highest score, or -1.
func (r *Relay) pickUp(h uint64, first int) int {
	best, score := -1, uint64(0)
	for i := range r.dests {
		if s := relayScore(h, r.ids[i], i); (best < 0 || s > score) && r.isUp(i) {
			best, score = i, s
		}
	}
	if best >= 0 {
		r.dests[first].stats.Rerouted++
	}
	return best
}

// Forward packs the lines of one datagram for their destinations. Full
// datagrams wait in their destination's queue for Send.
func (r *Relay) Forward(datagram []byte) {
	r.readHealth()
	r.dec.RelayKeys(datagram, r.each)
}

func (r *Relay) line(line []byte, res statsd.Result, h uint64) {
	if res != statsd.OK {
		r.refused[res]++
		if i := r.malformed; i >= 0 {
			if r.isUp(i) {
				r.dests[i].add(line)
			} else {
				r.noDest++
			}
		}
		return
	}
	i := r.pick(h)
	if i < 0 {
		r.noDest++
		return
	}
	r.dests[i].add(line)
}

// add appends a line (and its '\n') to the datagram being packed, sealing
// that datagram first if the line does not fit.
func (d *relayDest) add(line []byte) {
	n := len(line) + 1
	if n > maxUDPPayload {
		d.stats.Dropped[RelayDropTooLong]++
		return
	}
	if len(d.cur)+n > d.max && len(d.cur) > 0 {
		d.seal()
	}
	d.cur = append(d.cur, line...)
	d.cur = append(d.cur, '\n')
	d.curLines++
	if len(d.cur) >= d.max { // a long line alone, or exactly full
		d.seal()
	}
}

// seal queues the datagram being packed, or drops it if the queue is full.
func (d *relayDest) seal() {
	if d.curLines == 0 {
		return
	}
	if len(d.queue)-d.head >= d.maxQueue {
		d.stats.Dropped[RelayDropQueueFull] += uint64(d.curLines)
		d.cur, d.curLines = d.cur[:0], 0
		return
	}
	if d.head > 0 && len(d.queue) == cap(d.queue) { // slide the waiting ones down
		n := copy(d.queue, d.queue[d.head:])
		clear(d.queue[n:])
		d.queue, d.head = d.queue[:n], 0
	}
	d.queue = append(d.queue, relayDatagram{b: d.cur, lines: d.curLines})
	var next []byte
	if k := len(d.free); k > 0 {
		next, d.free = d.free[k-1][:0], d.free[:k-1]
	} else {
		next = make([]byte, 0, d.max)
	}
	d.cur, d.curLines = next, 0
}

// Seal queues every partly packed datagram (the flush interval has passed,
// or the relay stops).
func (r *Relay) Seal() {
	for _, d := range r.dests {
		d.seal()
	}
}

// Partial reports whether a datagram is being packed (not full: Seal
// sends it).
func (r *Relay) Partial() bool {
	for _, d := range r.dests {
		if d.curLines > 0 {
			return true
		}
	}
	return false
}

// Queued reports whether a packed datagram waits to be sent (a full socket
// buffer or queue refused it).
func (r *Relay) Queued() bool {
	for _, d := range r.dests {
		if len(d.queue) > d.head {
			return true
		}
	}
	return false
}

// Pending reports whether a datagram is being packed or waits to be sent.
func (r *Relay) Pending() bool {
	for _, d := range r.dests {
		if d.curLines > 0 || len(d.queue) > d.head {
			return true
		}
	}
	return false
}

// Send sends what the destinations' queues hold, without blocking: what a
// full socket buffer does not take stays queued for the next Send.
func (r *Relay) Send() {
	for _, d := range r.dests {
		retried := false
		for len(d.queue) > d.head {
			wait := d.queue[d.head:]
			n, err := d.send.send(wait)
			for _, dg := range wait[:n] {
				d.stats.Datagrams++
				d.stats.Lines += uint64(dg.lines)
				d.stats.Bytes += uint64(len(dg.b))
			}
			d.release(n)
			if err == errRelayWouldBlock {
				break
			}
			if err == errRelayRefusedEarlier && !retried {
				retried = true // an ICMP error for an earlier datagram: the head was not sent
				continue
			}
			if err != nil { // the datagram it stopped at is lost
				d.stats.Dropped[RelayDropSendError] += uint64(d.queue[d.head].lines)
				d.release(1)
			}
		}
		if d.head == len(d.queue) {
			clear(d.queue)
			d.queue, d.head = d.queue[:0], 0
		}
	}
}

// release gives the buffers of the first n waiting datagrams back.
func (d *relayDest) release(n int) {
	for _, dg := range d.queue[d.head : d.head+n] {
		if cap(dg.b) <= d.max { // a long line's buffer is not kept
			d.free = append(d.free, dg.b)
		}
	}
	clear(d.queue[d.head : d.head+n])
	d.head += n
}

// RelayStats is what a relay loop counted.
type RelayStats struct {
	// Refused counts the lines not forwarded, by parse result.
	Refused [statsd.NumResults]uint64
	// NoDestination counts lines dropped because no destination was up.
	NoDestination uint64
	Dests         []RelayDestStats
}

// Stats returns the relay's counters (by the loop that owns it).
func (r *Relay) Stats() RelayStats {
	st := RelayStats{Refused: r.refused, NoDestination: r.noDest}
	for _, d := range r.dests {
		st.Dests = append(st.Dests, d.stats)
	}
	return st
}

// The relay's counters as a loop publishes them (counters): the refused
// lines by result, the lines with no destination, then per destination its
// lines, datagrams, bytes and drops by reason.
const (
	relayNoDest     = int(statsd.NumResults)
	relayDestBase   = relayNoDest + 1
	relayDestValues = 4 + numRelayDrops
)

func relayCounterCount(dests int) int { return relayDestBase + dests*relayDestValues }

// fill writes the counters into v (relayCounterCount long).
func (r *Relay) fill(v []uint64) {
	copy(v, r.refused[:])
	v[relayNoDest] = r.noDest
	for i, d := range r.dests {
		w := v[relayDestBase+i*relayDestValues:]
		w[0], w[1], w[2], w[3] = d.stats.Lines, d.stats.Datagrams, d.stats.Bytes, d.stats.Rerouted
		copy(w[4:relayDestValues], d.stats.Dropped[:])
	}
}

// Finish seals and sends what the relay holds, retrying what full socket
// buffers or queues refuse until deadline; what is still unsent then is
// dropped and counted (reason stopped). The loop calls it when it stops.
func (r *Relay) Finish(deadline time.Time) {
	r.Seal()
	for r.Send(); r.Pending() && time.Now().Before(deadline); r.Send() {
		time.Sleep(time.Millisecond)
	}
	for _, d := range r.dests {
		for _, dg := range d.queue[d.head:] {
			d.stats.Dropped[RelayDropStopped] += uint64(dg.lines)
		}
		d.release(len(d.queue) - d.head)
	}
}

// Close closes the destinations' sockets; what is still queued is dropped
// (call Seal and Send first to flush).
func (r *Relay) Close() {
	for _, d := range r.dests {
		d.send.close()
	}
}

// relayDestName is how a destination is named in counters and in
// MalformedTo: its address, tcp:// first for a TCP one.
func relayDestName(d RelayDestination) string {
	if d.TCP {
		return "tcp://" + d.Addr
	}
	return d.Addr
}

// dialRelayUDP returns a sender over a connected UDP socket to addr that
// segments messages into datagrams of seg bytes (0: it does not).
func dialRelayUDP(addr string, seg int) (relaySender, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return nil, err
	}
	return newRelayUDPSender(c, seg)
}
