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
#
# AB_PGO=FILE builds both sides with that profile (as the daemon and CI
# build: cmd/mad/default.pgo); AB_PGO=own builds each side with its own
# tree's cmd/mad/default.pgo, as each commit's daemon is built (a change
# to a hot path comes with its profile made again: Go matches a profile
# to the code by function and line offsets). AB_LAYOUTS=N builds each side N times, the
# k-th (from 0) with dead code linked before the project's hot packages (a
# function of 6·k calls in internal/inplace: the hot code then starts 0, 192,
# 256, … bytes later), and runs every build once a
# round: where the code sits alone moves a case by up to 4 % on this
# machine, and two builds of unrelated changes have moved one by 8-10 %
# (BENCHMARKS.md, "Structs built aside, and what a build's layout moves"),
# so a difference smaller than that is only believed if it holds across
# layouts. Each side's file then holds its N layouts' runs.
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
layouts=${AB_LAYOUTS:-1}
pgo=()
[ -n "${AB_PGO:-}" ] && [ "$AB_PGO" != own ] && pgo=(-pgo="$(cd "$(dirname "$AB_PGO")" && pwd)/$(basename "$AB_PGO")")
# pgoflag TREE: the -pgo flag a side is built with.
pgoflag() {
	if [ "${AB_PGO:-}" = own ]; then
		echo "-pgo=$1/cmd/mad/default.pgo"
	else
		echo "${pgo[@]}"
	fi
}
# pad K: a function of 6·K calls in internal/inplace, kept by its
# package's init; K = 0 builds the tree as it is.
pad() {
	local tree=$1 k=$2 f=$1/internal/inplace/zz_ab_layout.go
	rm -f "$f"
	[ "$k" -eq 0 ] && return
	[ -d "$tree/internal/inplace" ] || { echo "ab.sh: no internal/inplace in $tree to pad" >&2; exit 2; }
	{
		printf 'package inplace\n\nvar abLayoutSink int\n\n//go:noinline\nfunc abLayoutAdd(i int) { abLayoutSink += i }\n\n'
		printf 'func init() {\n\tif abLayoutSink < 0 {\n\t\tabLayoutPad()\n\t}\n}\n\nfunc abLayoutPad() {\n'
		for i in $(seq $((6 * k))); do printf '\tabLayoutAdd(%d)\n' "$i"; done
		printf '}\n'
	} > "$f"
}
for k in $(seq 0 $((layouts - 1))); do
	pad "$work/a" "$k"; (cd "$work/a" && go test -c $(pgoflag "$work/a") -o "$work/a$k.test" "$oldpkg")
	pad "$work/b" "$k"; (cd "$work/b" && go test -c $(pgoflag "$work/b") -o "$work/b$k.test" "$newpkg")
done
out=${AB_OUT:-$root/bench/results/ab}
mkdir -p "$out"
name=$(echo "${newpkg#./}-$bench" | tr -c 'A-Za-z0-9._-' '_' | sed 's/_*$//')
: > "$out/$name.old"; : > "$out/$name.new"
for i in $(seq "$rounds"); do
	for k in $(seq 0 $((layouts - 1))); do
		for side in a b; do
			dir=$work/$side/${oldpkg#./}
			[ "$side" = b ] && dir=$work/$side/${newpkg#./}
			file=$out/$name.old
			[ "$side" = b ] && file=$out/$name.new
			(cd "$dir" && taskset -c "$cpu" "$work/$side$k.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" -test.count 1 -test.benchmem) | grep '^Benchmark' >> "$file"
		done
	done
done
built=${AB_PGO:-}
[ "$built" = own ] && built="each side's own cmd/mad/default.pgo"
echo "# $old vs $new, $pkg, $bench, -benchtime $benchtime, $rounds alternating rounds of $layouts layout(s), pinned to CPU $cpu${built:+, built with $built}"
benchstat "$old=$out/$name.old" "$new=$out/$name.new"
echo "# fastest of $((rounds * layouts)) (ns/op): old, new"
for f in "$out/$name.old" "$out/$name.new"; do
	awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") { n = $1; if (!(n in m) || $i < m[n]) m[n] = $i } } END { for (n in m) printf "%s %s\n", n, m[n] }' "$f" | sort
done
