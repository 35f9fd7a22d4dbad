#!/usr/bin/env bash
# S1 side by side: mad and StatsD peers, each pinned to CPU 0, measured by
# madbench pinned to CPU 1 with the same workload. Prints one Markdown
# table. Peers are looked for in $PEERS (see BENCHMARKS.md for how to
# install them); missing ones are skipped.
#
#   NAMES=10000 DATAGRAMS=300000 bench/s1_peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=${PEERS:-/tmp/peers}
NAMES=${NAMES:-10000}
DATAGRAMS=${DATAGRAMS:-300000}
ADDR=127.0.0.1:8125
mkdir -p "$PEERS/bin"
go build -o "$PEERS/bin/mad" ./cmd/mad
go build -o "$PEERS/bin/madbench" ./cmd/madbench

first=1
run() { # name, command...
	local name=$1; shift
	taskset -c 0 "$@" >/dev/null 2>"$PEERS/$name.stderr" &
	local pid=$!
	sleep 1.5
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "$name did not start; see $PEERS/$name.stderr" >&2
		return
	fi
	local out
	out=$(taskset -c 1 "$PEERS/bin/madbench" s1 -name "$name" -pid "$pid" -addr "$ADDR" -names "$NAMES" -datagrams "$DATAGRAMS")
	if [ $first = 1 ]; then echo "$out"; first=0; else echo "$out" | tail -n 1; fi
	kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
	sleep 0.5
}

run mad "$PEERS/bin/mad"
if [ -x "$PEERS/bin/statsd_exporter" ]; then
	run statsd_exporter "$PEERS/bin/statsd_exporter" --statsd.listen-udp="$ADDR" --statsd.listen-tcp= --web.listen-address=127.0.0.1:9102
fi
if command -v collectd >/dev/null && [ -f "$PEERS/collectd.conf" ]; then
	run collectd collectd -f -C "$PEERS/collectd.conf"
fi
if [ -f "$PEERS/etsy/node_modules/statsd/stats.js" ]; then
	run etsy-statsd node "$PEERS/etsy/node_modules/statsd/stats.js" "$PEERS/etsy/config.js"
fi
