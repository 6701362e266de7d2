#!/usr/bin/env bash
# The tests that need KVM (meson suite 'kvm'), for a real KVM host: run it through
# integration/host/kvm-host (scripts/test.sh does). The sanitizer build runs its unit and API
# tests among them, the normal build all of them. Logs: <build>/meson-logs/kvm.{json,txt}.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
meson test -C build-asan --no-rebuild --print-errorlogs --logbase kvm --suite kvm \
	--no-suite guest --no-suite guest-qemu --no-suite snapshot --no-suite linux || status=1
meson test -C build --no-rebuild --print-errorlogs --logbase kvm --suite kvm || status=1
exit $status
