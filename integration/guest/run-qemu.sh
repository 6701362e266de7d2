#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run a vireo test guest under QEMU (the reference platform) and judge its serial log.
#
#   run-qemu.sh [options] ELF
#     --smp N          vCPUs (default 2); the guest gets cpus=N
#     --mem MiB        RAM in MiB (default 512); the guest gets mem=MiB
#     --append WORDS   extra guest command-line words
#     --reboot         reboot=1 path: no -no-reboot, expect two boots
#     --tiny           ELF is tiny.elf: expect exactly "vireo-tiny: hello" and a power-off
#     --machine M      QEMU machine (default q35; "microvm,acpi=on,rtc=on" gives a
#                      hardware-reduced FADT with an XSDT, like vireo's)
#     --timeout S      kill QEMU after S seconds (default 300, 540 with --reboot)
#     --log FILE       keep the serial log here (default: a temporary file)
#     --require NAME   passed on to check-report.py (repeatable)
#     --device SPEC    add "-device SPEC" (repeatable; no spaces), e.g.
#                      virtio-rng-pci,disable-legacy=on
#     --virtconsole    add a virtconsole (port 0, needs a virtio-serial device) on a pipe
#                      chardev: the guest gets conin=TOKEN and TOKEN as its input line, and
#                      the port's output must hold the guest's console lines
#     --blk            add two virtio-blk-pci disks on fresh images (blk-image.py): a writable
#                      one with 2 queues (discard=unmap) and a read-only one; the guest gets
#                      blk=... blkseed=..., and afterwards both images must hold what its
#                      "blkimage:" lines declare (the rest: the pattern)
#
# Exit status: 0 if the guest reported "N passed, 0 failed" with all expected checks and
# QEMU exited by itself; 77 (skip) without QEMU or /dev/kvm; 1 otherwise.
# Under kvm-pvm SeaBIOS alone runs ~30 s before the guest starts.
set -u
here=$(cd "$(dirname "$0")" && pwd)
smp=2 mem=512 extra='' reboot=0 tiny=0 timeout='' log='' requires='' machine=q35 devices=''
vcon=0 blk=0
qemu=${QEMU:-qemu-system-x86_64}

while [ $# -gt 1 ]; do
	case $1 in
	--smp) smp=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--append) extra=$2; shift 2 ;;
	--reboot) reboot=1; shift ;;
	--tiny) tiny=1; shift ;;
	--machine) machine=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--require) requires="$requires --require $2"; shift 2 ;;
	--device) devices="$devices -device $2"; shift 2 ;;
	--virtconsole) vcon=1; shift ;;
	--blk) blk=1; shift ;;
	*) echo "run-qemu: unknown option $1" >&2; exit 2 ;;
	esac
done
[ $# -eq 1 ] || { echo "usage: run-qemu.sh [options] ELF" >&2; exit 2; }
elf=$1
[ -r "$elf" ] || { echo "run-qemu: cannot read $elf" >&2; exit 2; }
command -v "$qemu" >/dev/null 2>&1 || { echo "run-qemu: SKIP: no $qemu"; exit 77; }
[ -w /dev/kvm ] || { echo "run-qemu: SKIP: /dev/kvm not usable"; exit 77; }

[ -n "$timeout" ] || { [ $reboot -eq 1 ] && timeout=540 || timeout=300; }
work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-guest-qemu.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
[ -n "$log" ] || log=$work/serial.log

cmdline="cpus=$smp mem=$mem"
[ $reboot -eq 1 ] && cmdline="$cmdline reboot=1"
[ -n "$extra" ] && cmdline="$cmdline $extra"
report_args=''
if [ $vcon -eq 1 ]; then
	# QEMU's pipe chardev opens PATH.in and PATH.out read-write, so neither side blocks on
	# the other; the token is queued in the FIFO before QEMU starts.
	mkfifo "$work/con.in" "$work/con.out" || exit 1
	token="ping-$$-$(date +%s)"
	cat "$work/con.out" >"$work/console.txt" &
	cat_pid=$!
	printf '%s\n' "$token" >"$work/con.in" &
	feed_pid=$!
	devices="$devices -chardev pipe,id=vcon,path=$work/con -device virtconsole,chardev=vcon"
	cmdline="$cmdline conin=$token"
	report_args="--console-out $work/console.txt"
fi
if [ $blk -eq 1 ]; then
	# QEMU defaults num-queues to the vCPU count: the read-only disk asks for 1 explicitly.
	seed=$(printf '0x%x' $(( ($(date +%s) << 8 | $$ % 256) | 1 )))
	python3 "$here/blk-image.py" make "$work/rw.img" 8192 "$seed" &&
		python3 "$here/blk-image.py" make "$work/ro.img" 4096 $((seed + 1)) || exit 1
	devices="$devices -drive file=$work/rw.img,if=none,id=d0,format=raw,discard=unmap"
	devices="$devices -device virtio-blk-pci,drive=d0,disable-legacy=on,serial=qemu-rw,num-queues=2"
	devices="$devices -drive file=$work/ro.img,if=none,id=d1,format=raw,readonly=on"
	devices="$devices -device virtio-blk-pci,drive=d1,disable-legacy=on,serial=qemu-ro,num-queues=1"
	cmdline="$cmdline blk=qemu-rw:rw:8192:2,qemu-ro:ro:4096:1 blkseed=$seed"
fi
noreboot=-no-reboot
[ $reboot -eq 1 ] && noreboot=

echo "run-qemu: $elf machine=$machine smp=$smp mem=${mem}M cmdline=\"$cmdline\"${devices:+ devices:$devices} timeout=${timeout}s"
start=$(date +%s)
# timeout(1) runs QEMU in its own process group and signals the whole group; -k follows up
# with SIGKILL (after an emulation failure QEMU stays alive, paused).
# shellcheck disable=SC2086
timeout -k 10 "$timeout" "$qemu" -enable-kvm -cpu host,-arch-capabilities -M "$machine" \
	-m "${mem}M" -smp "$smp" -nographic $noreboot -nic none $devices \
	-kernel "$elf" -append "$cmdline" </dev/null >"$log" 2>&1
rc=$?
end=$(date +%s)
if [ $vcon -eq 1 ]; then
	# Open and close each FIFO once more, so a reader or writer that QEMU never met returns.
	: <>"$work/con.in"
	: <>"$work/con.out"
	wait "$feed_pid" "$cat_pid"
fi
echo "run-qemu: QEMU exit status $rc after $((end - start)) s"
echo "----- serial log -----"
cat "$log"
echo "----- end of log -----"
if [ $vcon -eq 1 ]; then
	echo "----- virtconsole output -----"
	cat "$work/console.txt"
	echo "----- end of virtconsole output -----"
fi

status=0
case $rc in
0) ;;
124|137) echo "run-qemu: FAIL: timed out after ${timeout}s"; status=1 ;;
*) echo "run-qemu: FAIL: QEMU exited with status $rc"; status=1 ;;
esac

if [ $tiny -eq 1 ]; then
	# SeaBIOS leaves "Booting from ROM.." without a newline: match the end of a line.
	n=$(tr -d '\r' <"$log" | grep -c 'vireo-tiny: hello$')
	[ "$n" -eq 1 ] || { echo "run-qemu: FAIL: 'vireo-tiny: hello' printed $n times"; status=1; }
	if grep -q 'poweroff failed' "$log"; then
		echo "run-qemu: FAIL: tiny guest could not power off"; status=1
	fi
	[ $status -eq 0 ] && echo "run-qemu: OK: tiny guest printed its line and powered off"
	exit $status
fi

args="--cpus $smp"
[ $reboot -eq 1 ] && args="$args --reboot"
# shellcheck disable=SC2086
python3 "$here/check-report.py" "$log" $args $requires $report_args || status=1
if [ $blk -eq 1 ]; then
	python3 "$here/blk-image.py" verify "$work/rw.img" "$seed" --log "$log" --disk 0 || status=1
	python3 "$here/blk-image.py" verify "$work/ro.img" $((seed + 1)) --log "$log" --disk 1 ||
		status=1
fi
exit $status
