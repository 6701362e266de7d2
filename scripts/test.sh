#!/usr/bin/env bash
# Every test: installs, builds from scratch where needed, runs the unit tests in a normal and a
# sanitizer build, the test guest under vireo and QEMU, snapshot/restore, the CLI checks and the
# slow Linux suite.
# Ends with one "N passed, N failed, N skipped" line; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1
bash scripts/build.sh build || exit 1
bash scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false || exit 1

status=0
run() {   # run BUILD_DIR SUITE...
	local dir=$1; shift
	local args=()
	for s in "$@"; do args+=(--suite "$s"); done
	meson test -C "$dir" --print-errorlogs "${args[@]}" || status=1
	python3 scripts/summarize-tests.py "$dir/meson-logs/testlog.json" >> "$tally"
}

tally=$(mktemp)
trap 'rm -f "$tally"' EXIT
run build-asan unit api
run build unit cli guest api
run build guest-build guest-qemu snapshot linux-slow
python3 scripts/summarize-tests.py --total "$tally"
exit $status
