#!/usr/bin/env bash
# fuzz.sh TARGET SECONDS [libFuzzer options...]: runs one tests/fuzz target under libFuzzer
# (clang, ASan+UBSan) for SECONDS on one core, starting from its corpus in the tree; prints
# the executions, executions per second and coverage reached. Every input that added coverage
# is kept in build-fuzz/corpus/TARGET (the next run goes on from there); the tree's corpus,
# tests/fuzz/corpus/TARGET, becomes a smallest set of them that covers the same edges (what CI
# replays). A crash leaves its input in build-fuzz/findings/TARGET/ and the run fails.
# TARGET "list" lists the targets.
# The fuzz build is build-fuzz/ (meson -Dfuzz=true, CC=clang), configured once.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz.sh TARGET SECONDS [libFuzzer options]}
if [ "$target" = list ]; then
	sed -n "s/^  '\([a-z_]*\)' : .*/\1/p" tests/fuzz/meson.build
	exit 0
fi
seconds=${2:?usage: fuzz.sh TARGET SECONDS [libFuzzer options]}
shift 2
corpus=tests/fuzz/corpus/$target
[ -d "$corpus" ] || { echo "fuzz.sh: no target $target (fuzz.sh list)" >&2; exit 2; }

bash scripts/deps.sh fuzz
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dwerror=false >/dev/null
fi
# One build at a time when several targets are started side by side.
flock build-fuzz/.build-lock ninja -C build-fuzz "tests/fuzz/fuzz_$target" >/dev/null

work=build-fuzz/corpus/$target
findings=build-fuzz/findings/$target
mkdir -p "$work" "$findings"
log=build-fuzz/findings/$target.log
regress=()   # inputs of fixed findings (tests/fuzz/regress/TARGET): read, never rewritten
[ -d "tests/fuzz/regress/$target" ] && regress=("tests/fuzz/regress/$target")
# New inputs go to $work; the tree's corpus is read, not written, until the merge below.
status=0
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	"build-fuzz/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
	-artifact_prefix="$findings/" -max_len=65536 -timeout=30 "$@" "$work" "$corpus" "${regress[@]}" \
	>"$log" 2>&1 || status=$?
# The last "#N ... cov: C ft: F ... exec/s: E" line and the final stats.
last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
# The seconds it ran ("Done N runs in S second(s)"): fewer than asked when -runs= ends it.
took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
echo "fuzz $target: ${execs:-?} executions, ${rate:-?} exec/s, cov ${cov:-?} edges, ft ${ft:-?}" \
	"in ${took:-$seconds} s"
if [ $status -ne 0 ]; then
	grep -E 'ERROR: |runtime error|SUMMARY|==[0-9]+==|Test unit written' "$log" | head -20 >&2
	echo "fuzz $target: FINDING (log: $log, input in $findings/)" >&2
	exit 1
fi
# The tree's corpus: a greedy set cover of the edges (hit counts aside), a few dozen files.
merged=$(mktemp -d)
trap 'rm -rf "$merged"' EXIT
"build-fuzz/tests/fuzz/fuzz_$target" -set_cover_merge=1 -use_counters=0 "$merged" "$corpus" \
	"$work" >/dev/null 2>&1
rm -f "$corpus"/*
cp "$merged"/* "$corpus"/
echo "fuzz $target: corpus $(ls "$corpus" | wc -l) files, $(du -sk "$corpus" | cut -f1) KiB"
