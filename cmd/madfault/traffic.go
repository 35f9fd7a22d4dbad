//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/gomad/mad/bench"
)

// validPrefix starts the name of every metric of the valid traffic that
// runs alongside each fault; validDims are its dimensions (the Cluster
// Aggregator sinks need service and cluster).
const validPrefix = "valid."

var validDims = map[string]string{"service": "fault", "cluster": "fault"}

// validStream is well-formed StatsD traffic sent alongside a fault over
// its own TCP connection (lossless: what was written was delivered, unless
// mad died): every burst has one counter line per series and a timer line
// for every fourth, with values derived from the burst's number, so that
// the totals of any set of bursts are known exactly, per series and per
// bucket.
type validStream struct {
	series int

	mu     sync.Mutex
	bursts []burst // sent, in order
	lines  int64
	stop   chan struct{}
	done   chan error
}

// burst is one burst sent: its number and when its write returned.
type burst struct {
	k  int
	at time.Time
}

func newValidStream(series int) *validStream { return &validStream{series: series} }

// line appends the line of series i in burst k; counter values cycle 1…5,
// timer values 10…400.
func (v *validStream) line(dst []byte, k, i int) []byte {
	dst = append(dst, validPrefix...)
	if i%4 == 3 {
		dst = append(dst, 't')
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(10*(1+(k+i)%40)), 10)
		dst = append(dst, "|ms"...)
	} else {
		dst = append(dst, 'c')
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(1+(k+i)%5), 10)
		dst = append(dst, "|c"...)
	}
	return append(dst, "|#cluster:fault,service:fault\n"...)
}

// contribution is what series i contributes in burst k: its identity, and
// the value (a counter's must add up; a timer's count must).
func (v *validStream) contribution(k, i int) (id string, value float64, counter bool) {
	if i%4 == 3 {
		return bench.Identity(validPrefix+"t"+strconv.Itoa(i), validDims), float64(10 * (1 + (k+i)%40)), false
	}
	return bench.Identity(validPrefix+"c"+strconv.Itoa(i), validDims), float64(1 + (k+i)%5), true
}

// start sends a burst to addr at every multiple of every plus offset of
// wall time (bursts numbered by that slot) until stop.
func (v *validStream) start(addr string, every, offset time.Duration) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.stop, v.done = make(chan struct{}), make(chan error, 1)
	stop, done := v.stop, v.done
	v.mu.Unlock()
	go func() {
		defer c.Close()
		var buf []byte
		for {
			now := time.Now()
			slot := now.Add(-offset).Truncate(every).Add(every + offset)
			select {
			case <-stop:
				done <- nil
				return
			case <-time.After(time.Until(slot)):
			}
			k := int(slot.Add(-offset).UnixNano() / int64(every))
			buf = buf[:0]
			for i := 0; i < v.series; i++ {
				buf = v.line(buf, k, i)
			}
			if _, err := c.Write(buf); err != nil {
				done <- err
				return
			}
			v.mu.Lock()
			v.bursts = append(v.bursts, burst{k: k, at: time.Now()})
			v.lines += int64(v.series)
			v.mu.Unlock()
		}
	}()
	return nil
}

// halt stops sending after the current burst and returns the sender's
// error, if any.
func (v *validStream) halt() error {
	v.mu.Lock()
	stop, done := v.stop, v.done
	v.mu.Unlock()
	if stop == nil {
		return nil
	}
	close(stop)
	return <-done
}

// sent returns the lines sent and the bursts.
func (v *validStream) sent() (int64, []burst) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lines, append([]burst(nil), v.bursts...)
}

// want returns what the bursts must add up to per series.
func (v *validStream) want(bursts []burst) map[string]bench.Expected {
	out := map[string]bench.Expected{}
	for _, b := range bursts {
		for i := 0; i < v.series; i++ {
			id, val, counter := v.contribution(b.k, i)
			e := out[id]
			e.Count++
			e.Sum += val
			e.Counter = counter
			out[id] = e
		}
	}
	return out
}

// bucketKey names one emitted row of a valid series: period, bucket start
// (Unix seconds) and series identity.
type bucketKey struct {
	period string
	start  int64
	id     string
}

// output reads mad's JSON lines as they come: it counts every row by
// period, and keeps the rows of the valid traffic by bucket.
type output struct {
	mu       sync.Mutex
	rows     int64
	byPeriod map[string]int64
	bad      int64
	valid    map[bucketKey]bench.Got
	maxLag   time.Duration // of the valid PT1S rows: arrival − end of their period
	// bulk counts, by period, the rows of metrics named bulkPrefix…
	// (the cardinality fault's); set before reading.
	bulkPrefix string
	bulk       map[string]int64
}

func newOutput() *output {
	return &output{byPeriod: map[string]int64{}, valid: map[bucketKey]bench.Got{}, bulk: map[string]int64{}}
}

// readFrom consumes r until it ends (in a goroutine of the caller's).
func (o *output) readFrom(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	var p fastjson.Parser
	var long []byte
	marker := []byte(`"metric":"` + validPrefix)
	var bulk []byte
	if o.bulkPrefix != "" {
		bulk = []byte(`"metric":"` + o.bulkPrefix)
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 1 {
			o.row(&p, line, marker, bulk)
		}
		if err != nil {
			return
		}
	}
}

func (o *output) row(p *fastjson.Parser, line, marker, bulk []byte) {
	period := ""
	if rest, ok := bytes.CutPrefix(line, []byte(`{"period":"`)); ok {
		if i := bytes.IndexByte(rest, '"'); i > 0 {
			period = string(rest[:i])
		}
	}
	var key bucketKey
	var count, sum float64
	valid := bytes.Contains(line, marker)
	isBulk := bulk != nil && bytes.Contains(line, bulk)
	bad := period == ""
	if valid && !bad {
		v, err := p.ParseBytes(line)
		start, terr := time.Parse(time.RFC3339, string(v.GetStringBytes("start")))
		if err != nil || terr != nil {
			bad = true
		} else {
			dims := map[string]string{}
			v.GetObject("dimensions").Visit(func(k []byte, dv *fastjson.Value) { dims[string(k)] = string(dv.GetStringBytes()) })
			key = bucketKey{period: period, start: start.Unix(), id: bench.Identity(string(v.GetStringBytes("metric")), dims)}
			st := v.GetObject("statistics")
			if c := st.Get("count"); c != nil {
				count = c.GetFloat64()
			}
			if s := st.Get("sum"); s != nil {
				sum = s.GetFloat64()
			}
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rows++
	if bad {
		o.bad++
		return
	}
	o.byPeriod[period]++
	if isBulk {
		o.bulk[period]++
	}
	if valid && period == "PT1S" {
		o.maxLag = max(o.maxLag, time.Since(time.Unix(key.start+1, 0)))
	}
	if valid {
		g := o.valid[key]
		g.Count += count
		g.Sum += sum
		g.Rows++
		o.valid[key] = g
	}
}

// totals returns the valid series' totals over the rows of one period.
func (o *output) totals(period string) map[string]bench.Got {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]bench.Got{}
	for k, g := range o.valid {
		if k.period != period {
			continue
		}
		t := out[k.id]
		t.Count += g.Count
		t.Sum += g.Sum
		t.Rows += g.Rows
		out[k.id] = t
	}
	return out
}

// lag returns the longest time a valid PT1S row took to arrive after the
// end of its period (read live: sealing waits 1 s past the period's end,
// MAD's timeout).
func (o *output) lag() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.maxLag
}

// complete reports whether the rows of the bucket (period, start) count
// bursts samples for every valid series (one sample per series a burst).
func (o *output) complete(period string, start int64, v *validStream, bursts int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := 0; i < v.series; i++ {
		id, _, _ := v.contribution(0, i)
		if int(o.valid[bucketKey{period, start, id}].Count) != bursts {
			return false
		}
	}
	return true
}

// bulkRows returns the rows of the bulk prefix of a period.
func (o *output) bulkRows(period string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bulk[period]
}

// counts returns the rows read, by period, and the rows that were not
// JSON lines of mad's.
func (o *output) counts() (rows int64, byPeriod map[string]int64, bad int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := make(map[string]int64, len(o.byPeriod))
	for k, v := range o.byPeriod {
		m[k] = v
	}
	return o.rows, m, o.bad
}

// follow reads mad's standard output through a pipe: it returns the
// writer end to give mad (the caller closes its copy once mad has it) and
// a function that waits until the output has ended. Several processes may
// feed one output, one after the other or at once.
func (o *output) follow() (*os.File, func(), error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		o.readFrom(pr)
		pr.Close()
		close(done)
	}()
	return pw, func() { <-done }, nil
}

// check compares the valid traffic's bursts with the rows of both
// periods: "exact (N series)" or what was lost.
func (o *output) check(v *validStream, bursts []burst) (string, bool) {
	want := v.want(bursts)
	var parts []string
	ok := true
	for _, period := range []string{"PT1S", "PT1M"} {
		e := bench.Compare(want, o.totals(period), false)
		if !e.Exact() {
			ok = false
			parts = append(parts, fmt.Sprintf("%s: %d of %.0f samples emitted, %d series missing, %d off",
				period, int64(e.Emitted), e.Expected, e.Missing, e.Wrong))
		}
	}
	if ok {
		return fmt.Sprintf("exact (%d series, %d bursts, both periods)", len(want), len(bursts)), true
	}
	return joinSemi(parts), false
}

func joinSemi(s []string) string {
	var b bytes.Buffer
	for i, p := range s {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	return b.String()
}
