#!/usr/bin/env bash
# Interleaved A/B of a package's benchmarks between two commits, as
# BENCHMARKS.md's numbers are taken: both test binaries are built first, then
# run alternately (A, B, A, B, …; one run of each per round), pinned to one
# CPU, and compared with benchstat (median and 95 % interval; fastest of the
# rounds alongside).
#
#   bench/ab.sh OLD NEW PKG BENCH [BENCHTIME] [ROUNDS]
#   bench/ab.sh 774f4fd HEAD ./shard 'BenchmarkApply$' 2000000x 6
#
# A package that moved between the commits is given as OLDPKG:NEWPKG.
set -euo pipefail
old=$1 new=$2 pkg=$3 bench=$4 benchtime=${5:-1s} rounds=${6:-6}
cpu=${AB_CPU:-1}
oldpkg=${pkg%%:*} newpkg=${pkg##*:}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/a" >/dev/null 2>&1 || true; git -C "$root" worktree remove --force "$work/b" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
# Commits before the vectors moved into testdata/ read them from ../shared
# beside the checkout: give the worktrees the same neighbour.
[ -d "$root/../shared" ] && ln -s "$(cd "$root/.." && pwd)/shared" "$work/shared"
git -C "$root" worktree add -q --detach "$work/a" "$old"
git -C "$root" worktree add -q --detach "$work/b" "$new"
(cd "$work/a" && go test -c -o "$work/a.test" "$oldpkg")
(cd "$work/b" && go test -c -o "$work/b.test" "$newpkg")
out=${AB_OUT:-$root/bench/results/ab}
mkdir -p "$out"
name=$(echo "${newpkg#./}-$bench" | tr -c 'A-Za-z0-9._-' '_' | sed 's/_*$//')
: > "$out/$name.old"; : > "$out/$name.new"
for i in $(seq "$rounds"); do
	for side in a b; do
		dir=$work/$side/${oldpkg#./}
		[ "$side" = b ] && dir=$work/$side/${newpkg#./}
		file=$out/$name.old
		[ "$side" = b ] && file=$out/$name.new
		(cd "$dir" && taskset -c "$cpu" "$work/$side.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" -test.count 1 -test.benchmem) | grep '^Benchmark' >> "$file"
	done
done
echo "# $old vs $new, $pkg, $bench, -benchtime $benchtime, $rounds alternating rounds, pinned to CPU $cpu"
benchstat "$old=$out/$name.old" "$new=$out/$name.new"
echo "# fastest of $rounds (ns/op): old, new"
for f in "$out/$name.old" "$out/$name.new"; do
	awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") { n = $1; if (!(n in m) || $i < m[n]) m[n] = $i } } END { for (n in m) printf "%s %s\n", n, m[n] }' "$f" | sort
done
