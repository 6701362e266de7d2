#!/usr/bin/env bash
# Runs vireo's test guest under vireo and judges it from the outside: vireo's exit status,
# the guest's serial report (check-report.py) and the port-0x80 markers in vireo's log.
# usage: run-vireo-guest.sh VIREO GUEST_ELF CHECK_REPORT CPUS MEM_MIB [--reboot]
set -uo pipefail
vireo=$1 guest=$2 check=$3 cpus=$4 mem=$5
reboot=${6:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmdline="cpus=$cpus mem=$mem hostbridge=8086:0d57 barmove=1 unclaimed=ones"
[ "$reboot" = --reboot ] && cmdline+=" reboot=1"
timeout -k 10 600 "$vireo" --kernel "$guest" --cpus "boot=$cpus" --memory "size=${mem}M" \
	--cmdline "$cmdline" --serial "file=$work/serial.log" -v --log-file "$work/vireo.log" \
	</dev/null
status=$?
cat "$work/serial.log"
echo "--- vireo log"
cat "$work/vireo.log"
fail=0
[ $status -eq 0 ] || { echo "FAIL: vireo exited with $status, expected 0 (guest poweroff)"; fail=1; }
args=(--cpus "$cpus")
[ "$reboot" = --reboot ] && args+=(--reboot)
python3 "$check" "${args[@]}" "$work/serial.log" || fail=1
for code in 10 20 30 40; do
	grep -q "debug-port: code 0x$code at" "$work/vireo.log" ||
		{ echo "FAIL: port-0x80 marker 0x$code not in vireo's log"; fail=1; }
done
if [ "$reboot" = --reboot ]; then
	grep -q "guest rebooted; starting again" "$work/vireo.log" ||
		{ echo "FAIL: vireo did not log the reboot"; fail=1; }
fi
exit $fail
