#!/usr/bin/env bash
# Every test: installs, builds from scratch where needed, runs the unit and API tests in a normal
# and a sanitizer build and the CLI checks here, cross-builds for arm64 and runs its unit tests
# under qemu-aarch64, then every suite that needs KVM (meson suite 'kvm': the test guest under
# vireo and QEMU, snapshot/restore, the API lifecycle, stock Linux) on a real KVM host: this
# machine if its /dev/kvm is hardware KVM, else the nested test host (integration/host/kvm-host),
# and the stock arm64 kernel under the arm64 vireo in a nested arm64 host (kvm-host-arm64).
# Ends with one "N passed, N failed, N skipped" line; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1
bash scripts/build.sh build || exit 1
bash scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false || exit 1
bash integration/linux/prepare.sh >/dev/null || exit 1

status=0
tally=$(mktemp)
trap 'rm -f "$tally"' EXIT
count() {   # count LOGFILE: adds one "passed failed skipped" line to the tally
	if [ -f "$1" ]; then
		python3 scripts/summarize-tests.py "$1" >>"$tally"
	else
		echo "test.sh: no $1: the run did not finish" >&2
		echo "0 1 0" >>"$tally"
	fi
}
run() {   # run BUILD_DIR MESON_TEST_ARGS...: the tests that need no KVM, here
	local dir=$1; shift
	meson test -C "$dir" --print-errorlogs --no-suite kvm "$@" || status=1
	count "$dir/meson-logs/testlog.json"
}

# arm64 (docs/aarch64.md): the cross build must compile (one test in the tally); its unit tests
# run here under qemu-aarch64 (all but the syscall filters: QEMU's user mode installs none); the
# nested arm64 host (integration/host/kvm-host-arm64) runs beside the x86 ones below.
arm64=0
if bash scripts/deps-arm64.sh &&
	bash scripts/build.sh build-arm64 --cross-file cross/aarch64-linux-gnu.ini; then
	echo "1 0 0" >>"$tally"
	run build-arm64 --suite unit --no-suite seccomp
	if integration/host/kvm-host-arm64 --prepare; then
		arm64=1
	else
		echo "test.sh: cannot prepare the nested arm64 host" >&2
		echo "0 1 0" >>"$tally"
		status=1
	fi
else
	echo "test.sh: the arm64 cross build failed" >&2
	echo "0 1 0" >>"$tally"
	status=1
fi
run build-asan --suite unit --suite api
run build --suite unit --suite cli --suite api --suite guest-build
host_done() {   # host_done RC: a kvm-host run's status; a failed host counts as a failure
	[ "$1" -eq 0 ] && return 0
	status=1
	if [ "$1" -ne 1 ]; then   # 1: tests failed, and the logs count them; else the host itself
		echo "test.sh: the KVM host ended with status $1 (123: stalled three times, 124: timed" \
			"out; docs/testing.md)" >&2
		echo "0 1 0" >>"$tally"
	fi
}
arm64_log=build-arm64/meson-logs/arm64-linux.txt
arm64_pid=
arm64_start() {   # the nested arm64 test in the background, its output in $arm64_log
	[ $arm64 -eq 1 ] && [ -z "$arm64_pid" ] || return 0
	echo "test.sh: starting the nested arm64 host at $(date -u +%T)" >&2
	integration/host/kvm-host-arm64 sh integration/host/arm64-linux-test.sh >"$arm64_log" 2>&1 &
	arm64_pid=$!
}
arm64_count() {   # waits for the arm64 test; its "ok"/"FAIL" lines go to the tally
	local rc=0 passed failed
	[ -n "$arm64_pid" ] || return 0
	wait "$arm64_pid" || rc=$?
	sed 's/^/[arm64] /' "$arm64_log"
	passed=$(grep -c '^ok   ' "$arm64_log")
	failed=$(grep -c '^FAIL ' "$arm64_log")
	if [ $rc -ne 0 ] && [ "$failed" -eq 0 ]; then   # the host did not finish
		echo "test.sh: the nested arm64 host ended with status $rc (124: timed out)" >&2
		failed=1
	fi
	[ "$failed" -eq 0 ] || status=1
	echo "$passed $failed 0" >>"$tally"
	echo "test.sh: the nested arm64 host finished at $(date -u +%T)" >&2
}
nested_half() {   # nested_half PART: one half of the KVM suites in a nested host of its own
	local rc attempt
	for attempt in 1 2 3; do
		rc=0
		VIREO_KVM_HOST_MEM=6G VIREO_KVM_HOST_TIMEOUT=${VIREO_KVM_HOST_TIMEOUT:-1800} \
			integration/host/kvm-host bash scripts/test-kvm.sh "$1" || rc=$?
		# 123: the emulator stalled (kvm-host says so); the tests did not fail: run them again.
		[ $rc -eq 123 ] && [ $attempt -lt 3 ] || return $rc
		echo "test.sh: running the $1 half again in a fresh nested host" >&2
	done
}
rm -f build*/meson-logs/kvm-*.json
where=$(integration/host/kvm-host --which)
echo "test.sh: the suites that need KVM run on the $where KVM host (docs/testing.md)" >&2
if [ "$where" = nested ]; then
	# Two single-vCPU hosts side by side, one per half (kvm-host explains why not one SMP host).
	# Their output is prefixed so the two streams stay readable. The arm64 host takes the core
	# the first half to finish leaves (three emulators on two cores slow all of them).
	integration/host/kvm-host --prepare || exit 1
	pending=()
	for part in linux rest; do
		nested_half $part > >(sed -u "s/^/[$part] /") 2> >(sed -u "s/^/[$part] /" >&2) &
		pending+=($!)
	done
	while [ ${#pending[@]} -gt 0 ]; do
		rc=0 done_pid=
		wait -n -p done_pid "${pending[@]}" || rc=$?
		host_done $rc
		[ -n "$done_pid" ] || break   # none of them was left to wait for (cannot happen)
		echo "test.sh: an x86 nested host finished at $(date -u +%T)" >&2
		left=()
		for pid in "${pending[@]}"; do [ "$pid" = "$done_pid" ] || left+=("$pid"); done
		pending=("${left[@]}")
		arm64_start
	done
else
	arm64_start
	rc=0
	integration/host/kvm-host bash scripts/test-kvm.sh all || rc=$?
	host_done $rc
fi
arm64_count
count build-asan/meson-logs/kvm-rest.json
count build/meson-logs/kvm-rest.json
count build/meson-logs/kvm-linux.json
python3 scripts/summarize-tests.py --total "$tally"
exit $status
