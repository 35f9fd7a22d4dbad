// Package kafkatxn couples a tier's KafkaSource in exactly-once mode with
// the KafkaSinks of its pipeline: the source owns a transactional client
// (franz-go's GroupTransactSession) and the sinks produce through it, so
// that what they write in a period and the offsets the source consumed for
// it commit in one Kafka transaction. Both sides find the session by the
// transactional id they are configured with.
package kafkatxn

import (
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Session is one transactional id's coupling.
type Session struct {
	cl atomic.Pointer[kgo.Client]
	// discarding: the source aborted a transaction and is letting the
	// aggregator empty itself; what the sinks get meanwhile belongs to
	// the aborted transaction and is discarded (counted), not produced.
	discarding atomic.Bool
	// failed: a sink could not hand a message to the transaction (dropped
	// or failed): the source aborts it instead of committing.
	failed atomic.Bool
	// batchBytes: the client's batch.size (0: franz-go's default), which
	// bounds the messages the sinks produce through it.
	batchBytes atomic.Int64
}

// BatchBytes returns the source's client's batch.size (0: unset).
func (s *Session) BatchBytes() int { return int(s.batchBytes.Load()) }

// SetBatchBytes publishes the batch.size the source's client was built
// with, before the client.
func (s *Session) SetBatchBytes(n int) { s.batchBytes.Store(int64(n)) }

// Failed reports whether a sink failed the open transaction.
func (s *Session) Failed() bool { return s.failed.Load() }

// SetFailed marks (or clears, when the source ends the transaction) the
// open transaction as failed.
func (s *Session) SetFailed(f bool) { s.failed.Store(f) }

// Release unpublishes cl if it is still the session's client (a source
// opened since with the same id keeps its own).
func (s *Session) Release(cl *kgo.Client) { s.cl.CompareAndSwap(cl, nil) }

// Client returns the source's transactional client, nil until the source
// has opened (or after it closed).
func (s *Session) Client() *kgo.Client { return s.cl.Load() }

// SetClient publishes the source's client (nil when it closes).
func (s *Session) SetClient(cl *kgo.Client) { s.cl.Store(cl) }

// Discarding reports whether sinks are to discard what they get.
func (s *Session) Discarding() bool { return s.discarding.Load() }

// SetDiscarding starts or ends discarding.
func (s *Session) SetDiscarding(d bool) { s.discarding.Store(d) }

var (
	mu       sync.Mutex
	sessions = map[string]*Session{}
)

// For returns the session of a transactional id, creating it.
func For(id string) *Session {
	mu.Lock()
	defer mu.Unlock()
	s := sessions[id]
	if s == nil {
		s = &Session{}
		sessions[id] = s
	}
	return s
}
