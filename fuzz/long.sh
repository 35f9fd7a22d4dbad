#!/usr/bin/env bash
# fuzz/long.sh PKG TARGET [TOTAL]: fuzz one target until TOTAL executions
# (default 10^7; a count, "N" or "Nx") have been made, with one worker and
# without minimisation (make fuzz-long runs it for every target of
# fuzz-smoke, one after another). Run from the module's root.
#
# Go's fuzz worker panics ("deadlocked!", exit status 2, reported as "fuzzing
# process hung or terminated unexpectedly") when one call takes more than 10 s
# of wall time, which a machine starving the fuzzer for that long causes
# whatever the input (seen beside benchmarks; RELIABILITY.md, Fuzzing). Such a
# stop is resumed, at most maxResumes times: its saved input is run alone
# under a 5 s timeout, and if it passes (a call takes milliseconds) it is moved
# to the log directory and fuzzing goes on, counting the executions made so
# far. Any other failure, a saved input that fails or is slow alone, or a
# resumed run that made no executions stops with exit status 1 and leaves the
# input in testdata.
#
# GO is the go command (default go); FUZZ_CPU pins the run to CPUs
# (taskset -c); FUZZ_LOG_DIR (default /tmp/mad-fuzz-long) keeps each run's
# output and a log per target.
set -u
pkg=${1:?package} target=${2:?target} total=${3:-10000000}
total=${total%x}
if ! [[ $total =~ ^[1-9][0-9]*$ ]]; then
	echo "fuzz/long.sh: TOTAL must be a count of executions (N or Nx), not $3" >&2
	exit 2
fi
go=${GO:-go}
maxResumes=5
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
	${pin[@]+"${pin[@]}"} "$go" test -run '^$' -fuzz "^$target\$" -fuzztime "${left}x" -fuzzminimizetime 0 -parallel 1 "./$pkg" > "$out" 2>&1
	rc=$?
	n=$(grep -o 'execs: [0-9]*' "$out" | tail -1 | awk '{print $2}')
	n=${n:-0}
	done_execs=$((done_execs + n))
	echo "run $runs: exit $rc, $n executions, $done_execs in all, $(date -u +%FT%TZ)" >> "$log"
	if [ "$n" -eq 0 ]; then
		tail -20 "$out" >> "$log"
		echo "FAILED: run $runs made no executions: $out" | tee -a "$log"
		exit 1
	fi
	if [ "$rc" -eq 0 ]; then
		continue
	fi
	if [ "$runs" -le "$maxResumes" ] && grep -q "fuzzing process hung or terminated unexpectedly: exit status 2" "$out"; then
		f=$(grep -o "testdata/fuzz/$target/[0-9a-f]*" "$out" | head -1)
		if [ -n "$f" ] && "$go" test -count=1 -v -timeout 5s -run "^$target/${f##*/}\$" "./$pkg" > "$out.alone" 2>&1 &&
			grep -q -- "--- PASS: $target/${f##*/}" "$out.alone"; then
			echo "run $runs: stopped by Go's 10 s timer; $f passes alone: moved to $dir, resuming" >> "$log"
			mv "$pkg/$f" "$dir/"
			continue
		fi
	fi
	tail -20 "$out" >> "$log"
	echo "FAILED in run $runs: $out" | tee -a "$log"
	exit 1
done
echo "done: $done_execs executions in $runs runs, $(date -u +%FT%TZ)" | tee -a "$log"
