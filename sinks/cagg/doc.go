// Package cagg holds MAD's two Cluster Aggregator sinks:
//
//   - HTTPSink, MAD's AggregationServerHttpSink (an HttpPostSink): every
//     metric of every non-empty bucket is POSTed, one request per metric
//     name, with Content-Type application/protobuf, the body being exactly
//     one framed StatisticSetRecord (MAD-SPEC §5, §5.1, §9.3);
//   - TCPSink, MAD's AggregationServerSink: the same framed records on a
//     TCP stream, plus a HeartbeatRecord every 15 s while connected (§5.2).
//
// # MAD's behaviour reproduced
//
// Serialisation is PeriodicDataToProtoConverter's: one StatisticSetRecord
// per metric name; service and cluster from the bucket's dimensions, every
// dimension (host included) in the dimensions map; period as Java's
// Duration.toString ("PT1M"); period_start and client_minimum_request_time
// as Java's ZonedDateTime.toString in UTC ("2019-01-01T00:01Z", seconds
// omitted when zero, fractions in groups of three digits); one
// StatisticRecord per statistic with its canonical name, value, unit enum
// name and user_specified; the histogram statistic's supporting_data is a
// framed (0x05 0x02) SparseHistogramSupportingData with the bucket keys
// unpacked to their truncated doubles, ascending, and precision 8. Fields
// are written in field-number order and proto3 defaults omitted, as
// protobuf-java does. Framing: 4-byte big-endian length including itself,
// a type byte (and a subtype byte for supporting data), the message.
//
// HTTP keys and defaults are MAD's: URI (required), MaximumConcurrency 1,
// MaximumQueueSize 25000 (the oldest request is evicted when full, and
// counted), SpreadPeriod 0 (a random per-sink delay in [0, spreadPeriod)
// before dispatching work that arrives on an empty queue),
// AcceptedStatusCodes 200, 201, 202, 204; other statuses are rejected and
// transport errors failed, both dropped. TCP keys: ServerAddress
// (required), ServerPort 7065, MaxQueueSize 10000 (evicting the oldest);
// the first connection is attempted at construction, reconnection waits
// ((int)(random·1.3^min(attempt, 20)) + 1)·500 ms; no HostIdentification is
// sent (MAD's onConnect is a no-op).
//
// # Better than MAD
//
//   - Retries (HTTP), off by default as in MAD: MaximumAttempts (1),
//     BaseBackoff (50 ms), MaximumDelay (60 s) and RetryableStatusCodes
//     (408, 429, 502, 503), CAGG's HttpPostSink keys. With
//     MaximumAttempts > 1 a retryable status or a transport error is
//     retried after BaseBackoff·2^(attempt-1), capped at MaximumDelay, with
//     jitter (half to all of it).
//   - A bucket without a service or cluster dimension is dropped and
//     counted (Counters.MissingDimensions) with a throttled warning; MAD's
//     converter throws, its actor restarts and the whole queue is lost.
//   - A statistic without a value (MAD's Quantity(null)) is left out of the
//     record instead of failing the conversion.
//   - Invalid UTF-8 in names and dimensions becomes U+FFFD (as Java's
//     decoding makes it in MAD), so that the Cluster Aggregator's proto3
//     parser accepts the record.
//   - Record never blocks: it serialises on the emitter's goroutine (the
//     PeriodicData is only valid during Record) and queues; the sink's own
//     goroutines do the I/O.
//   - Counters (Counters): sent, in flight, rejected, failed, retried,
//     evicted, missing dimensions, dropped at close, MAD's samples
//     sent/dropped, requests (HTTP attempts, TCP writes) and their total
//     latency, TCP connects and heartbeats. Stats implements
//     engine.SinkStats (written = records sent; dropped = evicted + missing
//     dimensions + rejected + failed after retries + left at close) and
//     QueueLen engine.SinkQueue; every record is queued, in flight, sent or
//     dropped.
//   - TCP counts as sent only what the Cluster Aggregator is known to have
//     read (MAD counts what reached the kernel, which a connection reset
//     loses unseen): the socket's send buffer is bounded (SendBuffer,
//     64 KiB), a record written stays in flight until the connection has
//     taken more bytes after it than the two socket buffers hold (twice
//     the send buffer plus PeerBuffer, 32 MiB) or the target closes the
//     connection cleanly after acknowledging it, and what is in flight
//     when a connection breaks is counted failed. Close ends the stream and
//     waits (CloseTimeout) for the target to read it and close its side.
//     The protocol has no acknowledgement, so "sent" lags on a live
//     connection by up to those bytes; see TCPSink.
//   - Close drains the queue within CloseTimeout (10 s) instead of
//     dropping it; the heartbeat interval, connect timeout and reconnect
//     unit are configurable (HeartbeatInterval, ConnectTimeout,
//     ReconnectBase) with MAD's values as defaults.
package cagg
