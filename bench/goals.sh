#!/usr/bin/env bash
# Issue 18's goals in one run, as BENCHMARKS.md's "Issue 18's goals after …" tables take
# them: the host's probe (a random walk through 8 MiB, the core's own speed) before and
# after, the in-process pipeline (workload A at 10 000 and 100 000 names), the emission
# of tagged rows at a million series, S1 workload A against collectd in alternating
# order, and S2 at a million series. Everything is built from this tree with the
# daemon's profile and pinned as BENCHMARKS.md's runs are (benchmarks to CPU 0; madbench
# pins the daemon to CPU 0 and its generator to CPU 1). It prints each figure's runs,
# then a summary (median and fastest), into OUT (default
# bench/results/goals-COMMIT.txt) and on standard output. About five minutes; wants an
# otherwise idle machine. The figures belong to the host they ran on: compare them with
# another sitting's only beside the host's probe.
#
#   bench/goals.sh [OUT]
#   GOALS_ROUNDS=6 GOALS_S2_ROUNDS=3 bench/goals.sh
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
commit=$(git rev-parse --short HEAD)
out=${1:-bench/results/goals-$commit.txt}
rounds=${GOALS_ROUNDS:-6}
s2rounds=${GOALS_S2_ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pgo=-pgo=$root/cmd/mad/default.pgo
go test -c "$pgo" -o "$work/bench.test" ./bench
go test -c "$pgo" -o "$work/pipeline.test" ./engine/pipeline
go build "$pgo" -o "$work/mad" ./cmd/mad
go build -o "$work/madbench" ./cmd/madbench

# num turns madbench's 7.71M, 850.2k, 912 into a plain number.
num='function num(s) { gsub(/ /, "", s); m = 1; if (s ~ /M$/) m = 1e6; else if (s ~ /k$/) m = 1e3; sub(/[Mk]$/, "", s); return s * m }'
# stats prints the median and the smallest (fastest, for costs) or largest (for rates) of
# the numbers on standard input.
stats() {
	sort -g | awk -v best="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "no runs"; exit }
		med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "median %.4g, %s %.4g, %d runs\n", med, best, best == "fastest" ? v[1] : v[NR], NR }'
}
# median prints the median of the numbers on standard input.
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# host runs the host's probe: a load's latency in a random walk through 8 MiB on huge
# pages, and a step of the core's own arithmetic (-test.bench matches a level of
# sub-benchmarks per slash: two runs).
host() {
	for b in 'Host/chase/pages=2M/size=8MiB$' 'Host/compute$'; do
		(cd bench && taskset -c 0 "$work/bench.test" -test.run '^$' -test.bench "$b" -test.benchtime 20000000x) | grep '^Benchmark'
	done
}

{
	echo "# bench/goals.sh at $commit, $(date -u '+%Y-%m-%d %H:%M UTC'), $(go version | cut -d' ' -f3), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "## host, before"
	host
	echo "## pipeline: taskset -c 0 ./bench.test -test.run '^\$' -test.bench 'Pipeline/^A\$/^names=(10000|100000)\$' -test.benchtime 20000x -test.count $rounds"
	(cd bench && taskset -c 0 "$work/bench.test" -test.run '^$' -test.bench 'Pipeline/^A$/^names=(10000|100000)$' -test.benchtime 20000x -test.count "$rounds") | grep '^Benchmark' | tee "$work/pipeline"
	echo "## emission: taskset -c 0 ./pipeline.test -test.run '^\$' -test.bench 'BenchmarkEmit\$/^tagged\$/series=1000000\$' -test.benchtime 10x -test.count 3"
	(cd engine/pipeline && taskset -c 0 "$work/pipeline.test" -test.run '^$' -test.bench 'BenchmarkEmit$/^tagged$/series=1000000$' -test.benchtime 10x -test.count 3) | grep '^Benchmark' | tee "$work/emit"
	echo "## S1: madbench s1 -series 10000 -mix c=60,g=20,ms=20 -peers mad,collectd (odd rounds) or collectd,mad (even); round, peer, lines per CPU-s in the window, to exit"
	for i in $(seq "$rounds"); do
		peers=mad,collectd
		[ $((i % 2)) = 0 ] && peers=collectd,mad
		"$work/madbench" s1 -series 10000 -mix c=60,g=20,ms=20 -peers "$peers" -mad "$work/mad" 2>&1 |
			awk -F'|' -v r="$i" '/^\| (mad|collectd) / { gsub(/ /, "", $2); print r, $2, $11, $13 }'
	done | tee "$work/s1"
	echo "## S2: madbench s2 -series 1000000 -peers mad; round, lines per CPU-s in the window, to exit"
	for i in $(seq "$s2rounds"); do
		"$work/madbench" s2 -series 1000000 -peers mad -mad "$work/mad" 2>&1 |
			awk -F'|' -v r="$i" '/^\| mad / { print r, $11, $13 }'
	done | tee "$work/s2"
	echo "## host, after"
	host
	echo "## summary"
	printf 'pipeline A, 10 000 names, ns a line: '
	awk '$1 ~ /names=10000(-[0-9]+)?$/ { print $5 }' "$work/pipeline" | stats fastest
	printf 'pipeline A, 100 000 names, ns a line: '
	awk '$1 ~ /names=100000(-[0-9]+)?$/ { print $5 }' "$work/pipeline" | stats fastest
	printf 'emission, tagged, 1 M series, ns a row: '
	awk '{ print $5 }' "$work/emit" | stats fastest
	printf 'S1 mad, lines per CPU-s: '
	awk "$num"' $2 == "mad" { print num($3) }' "$work/s1" | stats largest
	printf 'S1 collectd, lines per CPU-s: '
	awk "$num"' $2 == "collectd" { print num($3) }' "$work/s1" | stats largest
	m=$(awk "$num"' $2 == "mad" { print num($3) }' "$work/s1" | median)
	c=$(awk "$num"' $2 == "collectd" { print num($3) }' "$work/s1" | median)
	awk -v m="$m" -v c="$c" 'BEGIN { if (c > 0) printf "S1 mad over collectd, median over median: %.3g\n", m / c }'
	printf 'S1 mad over collectd, round by round: '
	awk "$num"' { v[$1, $2] = num($3); r[$1] = 1 } END { for (i in r) if (v[i, "collectd"] > 0) print v[i, "mad"] / v[i, "collectd"] }' "$work/s1" | stats largest
	printf 'S2, lines per CPU-s: '
	awk "$num"' { print num($2) }' "$work/s2" | stats largest
} 2>&1 | tee "$out"
