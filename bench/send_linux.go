//go:build linux

package bench

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/klauspost/compress/snappy"
	"golang.org/x/sys/unix"
)

// Load is what a sender sends: messages of Payloads round-robin, Count of
// them (or, with Count 0, as many as Rate allows in Duration, or with Rate
// 0 too as many as the target takes in Duration), at Rate messages per
// second (0: as fast as the target takes them).
type Load struct {
	Payloads *Payloads
	Count    int
	Duration time.Duration
	Rate     float64
}

// total is the number of messages the load sends.
func (l Load) total() int {
	if l.Count == 0 && l.Rate <= 0 && l.Duration > 0 {
		return math.MaxInt
	}
	if l.Count > 0 || l.Rate <= 0 {
		return l.Count
	}
	return int(l.Rate * l.Duration.Seconds())
}

// pacer hands out message indexes in order and spaces message i at
// start + i/rate. A fixed-rate load ends at its duration even when the
// sender falls behind (the shortfall shows as a lower rate sent); the
// messages sent are always a prefix of the load, so that its totals are
// known exactly.
type pacer struct {
	start time.Time
	rate  float64
	end   time.Time // zero: no time limit
	count int

	mu      sync.Mutex
	next    int
	stopped bool
}

func newPacer(l Load) *pacer {
	p := &pacer{start: time.Now(), rate: l.Rate, count: l.total()}
	if l.Count == 0 && l.Duration > 0 {
		p.end = p.start.Add(l.Duration)
	}
	return p
}

func (p *pacer) due(i int) time.Time {
	return p.start.Add(time.Duration(float64(i) / p.rate * float64(time.Second)))
}

// claim takes the next n indexes (fewer at the end of the load) and waits
// until the first is due; ok is false once the load is over.
func (p *pacer) claim(n int) (first, got int, ok bool) {
	p.mu.Lock()
	first = p.next
	got = min(n, p.count-first)
	if got <= 0 {
		p.stopped = true
	}
	if !p.stopped && !p.end.IsZero() && (!time.Now().Before(p.end) || p.rate > 0 && !p.due(first).Before(p.end)) {
		p.stopped = true
	}
	if p.stopped {
		p.mu.Unlock()
		return first, 0, false
	}
	p.next += got
	p.mu.Unlock()
	if p.rate > 0 {
		if d := time.Until(p.due(first)); d > 0 {
			time.Sleep(d)
		}
	}
	return first, got, true
}

// Sent is what a sender did. Messages is how many it handed to the kernel
// (UDP, TCP) or had accepted (HTTP 2xx, gRPC OK); Refused are the indexes
// of messages the target refused (HTTP, gRPC), which the end-to-end totals
// leave out. Rejected is the data points that accepted OTLP requests
// reported rejected (partial_success).
type Sent struct {
	Messages int
	Lines    int
	Elapsed  time.Duration
	Status   map[int]int // HTTP status counts; gRPC's as GRPCStatus
	Refused  []int
	Errors   int
	Rejected int64
}

// SendUDP sends the load to addr over sockets connected from distinct
// source ports (so that SO_REUSEPORT spreads them), with sendmmsg, up to 64
// datagrams per call.
func SendUDP(addr string, sockets int, l Load) (Sent, error) {
	var fds []int
	for i := 0; i < max(sockets, 1); i++ {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return Sent{}, err
		}
		f, err := c.(*net.UDPConn).File()
		c.Close()
		if err != nil {
			return Sent{}, err
		}
		defer f.Close()
		fds = append(fds, int(f.Fd()))
	}
	type mmsghdr struct {
		hdr unix.Msghdr
		len uint32
	}
	batch := 64
	if l.Rate > 0 {
		// About a millisecond of messages per call at low rates.
		batch = max(1, min(64, int(l.Rate/1000)))
	}
	msgs := make([]mmsghdr, batch)
	iovs := make([]unix.Iovec, batch)
	p := l.Payloads
	pace := newPacer(l)
	sent, sock := 0, 0
	for {
		first, n, ok := pace.claim(batch)
		if !ok {
			break
		}
		for n > 0 {
			for i := 0; i < n; i++ {
				d := p.Messages[(first+i)%len(p.Messages)]
				iovs[i].Base = &d[0]
				iovs[i].SetLen(len(d))
				msgs[i].hdr.Iov = &iovs[i]
				msgs[i].hdr.SetIovlen(1)
			}
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fds[sock]), uintptr(unsafe.Pointer(&msgs[0])), uintptr(n), 0, 0, 0)
			sock = (sock + 1) % len(fds)
			if e != 0 {
				if e == unix.EAGAIN || e == unix.ENOBUFS || e == unix.EINTR {
					continue
				}
				return Sent{}, fmt.Errorf("sendmmsg: %w", e)
			}
			sent += int(r)
			first += int(r)
			n -= int(r)
		}
	}
	return Sent{Messages: sent, Lines: p.TotalLines(sent), Elapsed: time.Since(pace.start)}, nil
}

// SendTCP streams the load to addr over conns connections (StatsD over
// TCP: the messages' lines back to back), 32 messages per write.
func SendTCP(addr string, conns int, l Load) (Sent, error) {
	var sent atomic.Int64
	const chunk = 32
	pace := newPacer(l)
	p := l.Payloads
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range max(conns, 1) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return Sent{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			var buf []byte
			for {
				i, n, ok := pace.claim(chunk)
				if !ok {
					return
				}
				buf = buf[:0]
				for j := i; j < i+n; j++ {
					buf = append(buf, p.Messages[j%len(p.Messages)]...)
				}
				if _, err := c.Write(buf); err != nil {
					errs <- err
					return
				}
				sent.Add(int64(n))
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return Sent{}, err
	}
	n := int(sent.Load())
	return Sent{Messages: n, Lines: p.TotalLines(n), Elapsed: time.Since(pace.start)}, nil
}

// SendHTTP posts the load's bodies to url over conns keep-alive
// connections, stamping record times with the send time and compressing
// where the payloads say so. Bodies the target does not answer with 2xx are
// listed in Refused.
func SendHTTP(ctx context.Context, url string, conns int, l Load) (Sent, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	pace := newPacer(l)
	p := l.Payloads
	var mu sync.Mutex
	out := Sent{Status: map[int]int{}}
	var wg sync.WaitGroup
	for range max(conns, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body, packed, answer []byte
			for ctx.Err() == nil {
				i, _, ok := pace.claim(1)
				if !ok {
					return
				}
				k := i % len(p.Messages)
				body = append(body[:0], p.Messages[k]...)
				if k < len(p.Stamps) {
					Stamp(body, p.Stamps[k], time.Now().UnixMilli())
				}
				send := body
				if p.Compress {
					packed = snappy.Encode(packed[:cap(packed)], body)
					send = packed
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(send))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/octet-stream")
				if p.ContentType != "" {
					req.Header.Set("Content-Type", p.ContentType)
				}
				if p.Compress {
					req.Header.Set("Content-Encoding", "snappy")
					req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
				}
				resp, err := client.Do(req)
				status := 0
				var rejected int64
				if err == nil {
					buf := bytes.NewBuffer(answer[:0])
					buf.ReadFrom(resp.Body)
					resp.Body.Close()
					answer = buf.Bytes()
					status = resp.StatusCode
					if status/100 == 2 && p.Rejected != nil {
						rejected = p.Rejected(answer)
					}
				}
				mu.Lock()
				out.Status[status]++
				if status/100 == 2 {
					out.Messages++
					out.Lines += p.Lines[k]
					out.Rejected += rejected
				} else {
					out.Refused = append(out.Refused, i)
					if err != nil {
						out.Errors++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	out.Elapsed = time.Since(pace.start)
	return out, ctx.Err()
}
