// Package telemetry is MAD's telemetry websocket: the global Telemetry actor
// (Hub) and the TelemetrySink that feeds it (MAD-SPEC §5, §10).
//
// A Hub serves /telemetry/v1/stream (Handler(1)) and /telemetry/v2/stream
// (Handler(2)). Clients send JSON text frames:
//
//	{"command":"heartbeat"}                       → {"response":"ok"}
//	{"command":"getMetrics"}                      → {"command":"metricsList","data":{"metrics":[…]}}
//	{"command":"subscribe","service":…,"metric":…,"statistic":…}        (v1)
//	{"command":"unsubscribe",…}                                         (v1)
//	{"command":"subscribeMetric",…} / {"command":"unsubscribeMetric",…} (v2)
//
// The v2 log commands (getLogs, subscribeLog, unsubscribeLog) are parsed and
// ignored, as in MAD, which wires no log producer; v1 ignores them too.
//
// The server sends {"command":"newMetric","data":{"service","metric",
// "statistic"}} to every connection the first time a (service, metric,
// statistic) is seen, and, for exact subscriptions only,
//
//	v1: {"command":"report","data":{"server":<host>,"service":…,"metric":…,
//	     "timestamp":<period start, epoch ms>,"statistic":<canonical name>,"data":<double>}}
//	v2: {"command":"reportMetric","data":{…the same…,"numeratorUnits":["SECOND"] or [],
//	     "denominatorUnits":[]}}
//
// "server" is the bucket's host dimension (null without one); a bucket
// without a service dimension reports service "". Non-finite values are
// written as null.
//
// Nothing a client does slows the data path. A Sink serialises what it needs
// during Record and hands it to the Hub's dispatcher through a bounded queue
// (reports dropped when it is full are counted by the sink). The dispatcher
// keeps the registry of (service, metric, statistic), bounded unlike MAD's
// (triples beyond HubConfig.MaxMetrics are not registered and are counted),
// and puts messages into each connection's outbound buffer: MAD's 256
// messages with Akka's drop-buffer overflow (a full buffer is emptied, its
// messages counted as dropped, and the new message queued). Each connection
// has its own writer goroutine; a write that cannot complete within
// HubConfig.WriteTimeout closes the connection.
package telemetry
