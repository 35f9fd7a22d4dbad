#!/usr/bin/env bash
# fuzz/long.sh PKG TARGET [TOTAL]: fuzz one target until TOTAL executions
# (default 10^7) have been made, without minimisation (make fuzz-long runs it
# for every target of fuzz-smoke). Run from the module's root.
#
# Go's fuzz worker panics ("deadlocked!", exit status 2, reported as "fuzzing
# process hung or terminated unexpectedly") when one call takes more than 10 s
# of wall time, which a machine starving the fuzzer for that long causes
# whatever the input (seen beside benchmarks; RELIABILITY.md, Fuzzing). Such a
# stop is resumed: its saved input is run alone, and if it passes it is removed
# and fuzzing goes on, counting the executions made so far; any other failure,
# or a saved input that fails alone, stops with exit status 1 and leaves the
# input in testdata.
#
# FUZZ_CPU pins the run to a CPU (taskset); FUZZ_LOG_DIR (default
# /tmp/mad-fuzz-long) keeps each run's output and a log per target.
set -u
pkg=${1:?package} target=${2:?target} total=${3:-10000000}
case $total in *x) total=${total%x} ;; esac
dir=${FUZZ_LOG_DIR:-/tmp/mad-fuzz-long}
mkdir -p "$dir"
name=$target-$(echo "$pkg" | tr / _)
log=$dir/$name.log
pin=()
if [ -n "${FUZZ_CPU:-}" ]; then pin=(taskset -c "$FUZZ_CPU"); fi
done_execs=0 runs=0
echo "start $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null) ./$pkg $target to $total" >> "$log"
while [ "$done_execs" -lt "$total" ]; do
	runs=$((runs + 1))
	left=$((total - done_execs))
	out=$dir/$name.run$runs.out
	"${pin[@]}" go test -run '^$' -fuzz "^$target\$" -fuzztime "${left}x" -fuzzminimizetime 0 -parallel 1 "./$pkg" > "$out" 2>&1
	rc=$?
	n=$(grep -o 'execs: [0-9]*' "$out" | tail -1 | awk '{print $2}')
	done_execs=$((done_execs + ${n:-0}))
	echo "run $runs: exit $rc, $n executions, $done_execs in all, $(date -u +%FT%TZ)" >> "$log"
	if [ "$rc" -eq 0 ]; then
		if [ "${n:-0}" -eq 0 ]; then
			echo "run $runs: no executions counted in $out" | tee -a "$log"
			exit 1
		fi
		continue
	fi
	if grep -q "fuzzing process hung or terminated unexpectedly: exit status 2" "$out"; then
		f=$(grep -o "testdata/fuzz/$target/[0-9a-f]*" "$out" | head -1)
		if [ -n "$f" ] && go test -count=1 -run "^$target/${f##*/}\$" "./$pkg" >> "$log" 2>&1; then
			echo "run $runs: stopped by Go's 10 s timer; $f passes alone: removed, resuming" >> "$log"
			rm -f "$pkg/$f"
			continue
		fi
	fi
	tail -20 "$out" >> "$log"
	echo "FAILED in run $runs: $out" | tee -a "$log"
	exit 1
done
echo "done: $done_execs executions in $runs runs, $(date -u +%FT%TZ)" | tee -a "$log"
