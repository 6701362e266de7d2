#!/usr/bin/env bash
# Every test: installs, builds from scratch where needed, runs the unit and API tests in a normal
# and a sanitizer build and the CLI checks here, cross-builds for arm64, then every suite that needs KVM (meson suite
# 'kvm': the test guest under vireo and QEMU, snapshot/restore, the API lifecycle, stock Linux)
# on a real KVM host: this machine if its /dev/kvm is hardware KVM, else the nested test host
# (integration/host/kvm-host, booted once for all of them).
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

# The arm64 cross build (docs/aarch64.md) must compile; one test in the tally. Its nested arm64
# host (integration/host/kvm-host-arm64) is not run here yet.
if bash scripts/deps-arm64.sh &&
	bash scripts/build.sh build-arm64 --cross-file cross/aarch64-linux-gnu.ini; then
	echo "1 0 0" >>"$tally"
else
	echo "test.sh: the arm64 cross build failed" >&2
	echo "0 1 0" >>"$tally"
	status=1
fi
run build-asan --suite unit --suite api
run build --suite unit --suite cli --suite api --suite guest-build
host_status() {   # host_status PID: waits for a kvm-host run; a failed host counts as a failure
	local rc=0
	wait "$1" || rc=$?
	[ $rc -eq 0 ] && return 0
	status=1
	if [ $rc -ne 1 ]; then   # 1: tests failed, and the logs count them; else the host itself
		echo "test.sh: the KVM host ended with status $rc (123: stalled three times, 124: timed" \
			"out; docs/testing.md)" >&2
		echo "0 1 0" >>"$tally"
	fi
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
	# Their output is prefixed so the two streams stay readable.
	integration/host/kvm-host --prepare || exit 1
	hosts=()
	for part in linux rest; do
		nested_half $part > >(sed -u "s/^/[$part] /") 2> >(sed -u "s/^/[$part] /" >&2) &
		hosts+=($!)
	done
	for pid in "${hosts[@]}"; do host_status "$pid"; done
else
	integration/host/kvm-host bash scripts/test-kvm.sh all &
	host_status $!
fi
count build-asan/meson-logs/kvm-rest.json
count build/meson-logs/kvm-rest.json
count build/meson-logs/kvm-linux.json
python3 scripts/summarize-tests.py --total "$tally"
exit $status
