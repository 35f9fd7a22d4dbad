#!/usr/bin/env bash
# Instructions an operation of one benchmark, counted by valgrind's
# cachegrind: a count that does not move with the host's speed, where this
# shared machine's timings move by 2× within a minute (BENCHMARKS.md, "Counted
# instructions"). The benchmark runs twice, N1 and N2 operations, and the
# difference of the two counts, line by line, is what N2−N1 operations of
# the timed loop executed: set-up, warm-up and start are subtracted out.
#
#   bench/icount.sh TESTBIN DIR BENCH N1 N2 [TOP]
#   bench/icount.sh /tmp/bench.test bench 'Pipeline/^A$/^names=100$' 20000 60000 40
#
# TESTBIN is a test binary (go test -c), run in DIR with -test.bench BENCH
# (which must match one benchmark) at -test.benchtime N1x and N2x. Prints
# the instructions an operation outside Go's runtime (its collector's work
# moves from run to run) and with it, and the TOP source lines (default 30) by
# instructions an operation, with their text. ICOUNT_PER=K divides every
# count by K as well (K lines an operation: instructions a line);
# ICOUNT_FILES=REGEX keeps the lines of the files it matches. Instructions are not time (a
# cache miss is one instruction): they say what a change to a compute-bound
# path saves, and a timing with benchstat says what it is worth.
set -euo pipefail
bin=$1 dir=$2 bench=$3 n1=$4 n2=$5 top=${6:-30}
command -v valgrind >/dev/null || { echo "icount.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in "$n1" "$n2"; do
	(cd "$dir" && GOMAXPROCS=1 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$work/cg.$n" \
		"$bin" -test.run '^$' -test.bench "$bench" -test.benchtime "${n}x" -test.count 1 >"$work/out.$n" 2>&1) ||
		{ cat "$work/out.$n" >&2; exit 1; }
done
grep '^Benchmark' "$work/out.$n2" || true
# Sum each (file, line)'s count over the functions inlined there, in each
# run, and print the difference an operation.
awk -v n1="$n1" -v n2="$n2" -v top="$top" -v per="${ICOUNT_PER:-1}" -v files="${ICOUNT_FILES:-.}" '
	FNR == 1 { run = (FILENAME ~ /\.'"$n1"'$/) ? 1 : 2 }
	/^fl=/ { fl = substr($0, 4); next }
	/^(fn|desc|cmd|events|summary)[=:]/ { next }
	NF == 2 && $1 ~ /^[0-9]+$/ {
		d = run == 2 ? $2 : -$2
		c[fl ":" $1] += d
		total += d
		if (fl !~ /\/src\/runtime\//) code += d
	}
	END {
		ops = (n2 - n1) * per
		printf "%.1f instructions an operation%s outside the runtime, %.1f with it (%d operations counted)\n", code / ops, per != 1 ? " / " per : "", total / ops, n2 - n1
		for (k in c) if (c[k] / ops >= 0.05 && k ~ files) printf "%.2f\t%s\n", c[k] / ops, k | "sort -rn | head -" top
	}' "$work/cg.$n1" "$work/cg.$n2" > "$work/lines"
head -1 "$work/lines"
tail -n +2 "$work/lines" | while IFS=$'\t' read -r n where; do
	file=${where%:*} line=${where##*:}
	text=""
	[ -f "$file" ] && text=$(sed -n "${line}p" "$file" | sed 's/^[[:space:]]*//' | cut -c1-90)
	printf '%8s  %s:%s  %s\n' "$n" "${file#"$(cd "$dir" && git rev-parse --show-toplevel 2>/dev/null)/"}" "$line" "$text"
done
