package telemetry

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// conn is one websocket: MAD's Connection actor.
type conn struct {
	hub     *Hub
	ws      *websocket.Conn
	version int
	cancel  context.CancelFunc

	// subs are the connection's subscriptions by key; guarded by hub.mu.
	subs map[string]*series

	// The outbound buffer: a ring of messages (mu guards it).
	mu     sync.Mutex
	ring   [][]byte
	head   int
	n      int
	closed bool
	notify chan struct{}

	closing atomic.Bool
}

func newConn(h *Hub, ws *websocket.Conn, version int, cancel context.CancelFunc) *conn {
	return &conn{
		hub:     h,
		ws:      ws,
		version: version,
		cancel:  cancel,
		subs:    map[string]*series{},
		ring:    make([][]byte, h.cfg.ConnBuffer),
		notify:  make(chan struct{}, 1),
	}
}

// push queues msg, which must not be modified afterwards. A full buffer is
// emptied first (Akka's OverflowStrategy.dropBuffer) and its messages are
// counted as dropped. It never blocks on the client.
func (c *conn) push(msg []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.n == len(c.ring) {
		for i := range c.n {
			c.ring[(c.head+i)%len(c.ring)] = nil
		}
		c.hub.dropped.Add(uint64(c.n))
		c.head, c.n = 0, 0
	}
	c.ring[(c.head+c.n)%len(c.ring)] = msg
	c.n++
	c.mu.Unlock()
	c.hub.queued.Add(1)
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// pop takes the oldest queued message, or nil.
func (c *conn) pop() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return nil
	}
	msg := c.ring[c.head]
	c.ring[c.head] = nil
	c.head = (c.head + 1) % len(c.ring)
	c.n--
	return msg
}

// close discards the buffer, counting its messages dropped, and refuses
// further messages.
func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	clear(c.ring)
	c.hub.dropped.Add(uint64(c.n))
	c.n = 0
	c.mu.Unlock()
}

// write sends queued messages until ctx ends or a write fails (which
// closes the connection, ending read).
func (c *conn) write(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.notify:
		}
		for msg := c.pop(); msg != nil; msg = c.pop() {
			wctx, cancel := context.WithTimeout(ctx, c.hub.cfg.WriteTimeout)
			err := c.ws.Write(wctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				c.ws.CloseNow()
				return
			}
		}
	}
}

// command is a client message (MAD's v1 and v2 commands share the fields).
type command struct {
	Command   string   `json:"command"`
	Service   string   `json:"service"`
	Metric    string   `json:"metric"`
	Statistic string   `json:"statistic"`
	Log       string   `json:"log"`
	Regexes   []string `json:"regexes"`
}

var heartbeatReply = []byte(`{"response":"ok"}`)

// read runs the client's commands until the connection ends.
func (c *conn) read(ctx context.Context) {
	for {
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		var cmd command
		if json.Unmarshal(data, &cmd) != nil {
			continue // MAD logs and ignores a malformed command
		}
		c.handle(&cmd)
	}
}

func (c *conn) handle(cmd *command) {
	h := c.hub
	sub, unsub := "subscribe", "unsubscribe"
	if c.version == 2 {
		sub, unsub = "subscribeMetric", "unsubscribeMetric"
	}
	switch cmd.Command {
	case "heartbeat":
		c.push(heartbeatReply)
	case "getMetrics":
		c.push(h.metricsList())
	case sub:
		h.mu.Lock()
		h.subscribe(c, cmd.Service, cmd.Metric, cmd.Statistic)
		h.mu.Unlock()
	case unsub:
		h.mu.Lock()
		h.unsubscribe(c, string(seriesKey(nil, []byte(cmd.Service), []byte(cmd.Metric), cmd.Statistic)))
		h.mu.Unlock()
	default:
		// getLogs, subscribeLog, unsubscribeLog (v2: parsed, no log
		// producer; v1: dropped) and unknown commands.
	}
}

// shutdown closes the websocket going away, forcibly if the close
// handshake does not complete promptly.
func (c *conn) shutdown() {
	if c.closing.Swap(true) {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.ws.Close(websocket.StatusGoingAway, "shutting down")
	}()
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.cancel()
		c.ws.CloseNow()
	}
}
