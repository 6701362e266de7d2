#!/usr/bin/env bash
# The tests that need KVM (meson suite 'kvm'), for a real KVM host: run it through
# integration/host/kvm-host (scripts/test.sh does).
#
#   scripts/test-kvm.sh [all|linux|rest]
#
# linux: the stock-Linux suite (normal build); rest: every other KVM test, the sanitizer build's
# unit and API tests among them; all (default): both. The two halves take about as long, so two
# nested hosts can run them side by side. Logs: <build>/meson-logs/kvm-{linux,rest}.{json,txt}.
set -uo pipefail
cd "$(dirname "$0")/.."
part=${1:-all}
case $part in
all | linux | rest) ;;
*) echo "usage: test-kvm.sh [all|linux|rest]" >&2; exit 2 ;;
esac
status=0
if [ "$part" != linux ]; then
	meson test -C build-asan --no-rebuild --print-errorlogs --logbase kvm-rest --suite kvm \
		--no-suite guest --no-suite guest-qemu --no-suite snapshot --no-suite linux || status=1
	meson test -C build --no-rebuild --print-errorlogs --logbase kvm-rest --suite kvm \
		--no-suite linux || status=1
fi
if [ "$part" != rest ]; then
	meson test -C build --no-rebuild --print-errorlogs --logbase kvm-linux --suite linux ||
		status=1
fi
exit $status
