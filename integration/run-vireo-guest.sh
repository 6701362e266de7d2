#!/usr/bin/env bash
# Runs vireo's test guest under vireo and judges it from the outside: vireo's exit status,
# the guest's serial report (check-report.py), the port-0x80 markers in vireo's log, and the
# virtio-console: the guest reads a token line vireo gets on stdin and writes known lines that
# must appear on vireo's stdout (--console tty). With --hostile the guest also runs the
# hostile-driver checks, and vireo's log must hold the rate-limited lines they provoke.
# With --blk (--blk-direct: the writable disk with direct=on) two virtio-blk disks: a writable
# one with 2 queues and a read-only one, images made with a random seed (guest/blk-image.py);
# the guest checks them (blk=, plus blkhostile=1 with --hostile) and afterwards every sector
# of both images must hold what the guest's "blkimage:" lines declare, the rest the pattern.
# With --ro-slot=N the read-only disk asks for PCI slot N (pci_device_id) and the guest must
# find a virtio-blk function at 00:N.0.
# With --blk-reset (and --blk, 2+ CPUs) a third, read-only disk for the guest's reset check
# alone (blk mode rl): its rate limit lets one 64 KiB read through, then refuses everything
# for 4.5 s, so the guest's reads are still unfinished when it resets the disk.
# With --intx the guest finally drives virtio-rng on INTx with MSI-X off (intx=1).
# With --vsock a virtio-vsock device (CID 3, its socket in the work directory): the guest
# checks it, malformed packets and a broken ring included (vsock=3), and vireo's log must hold
# the rate-limited lines they provoke.
# With --net a virtio-net device with 2 queue pairs on a tap vireo makes (host end 192.0.2.1,
# removed with vireo): the guest checks it (net=MAC), hostile chains and a broken ring
# included, and vireo's log must hold the rate-limited lines they provoke.
# usage: run-vireo-guest.sh VIREO GUEST_ELF CHECK_REPORT CPUS MEM_MIB [--reboot] [--hostile]
#                           [--blk|--blk-direct] [--ro-slot=N] [--blk-reset] [--intx] [--vsock]
#                           [--net]
set -uo pipefail
vireo=$1 guest=$2 check=$3 cpus=$4 mem=$5
shift 5
reboot=0 hostile=0 blk=0 direct= intx=0 ro_slot= blk_reset=0 vsock=0 net=0
for a in "$@"; do
	case $a in
	--reboot) reboot=1 ;;
	--hostile) hostile=1 ;;
	--blk) blk=1 ;;
	--blk-direct) blk=1 direct=,direct=on ;;
	--intx) intx=1 ;;
	--vsock) vsock=1 ;;
	--net) net=1 ;;
	--ro-slot=*) ro_slot=${a#--ro-slot=} ;;
	--blk-reset) blk_reset=1 ;;
	*) echo "run-vireo-guest: unknown option $a" >&2; exit 2 ;;
	esac
done
if [ $blk_reset -eq 1 ] &&
	{ [ $blk -eq 0 ] || [ "$cpus" -lt 2 ] || [ "${ro_slot:-0}" -ge 31 ]; }; then
	echo "run-vireo-guest: --blk-reset needs --blk, 2+ CPUs and a --ro-slot below 31" >&2
	exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
image="$(dirname "$0")/guest/blk-image.py"

token="ping-$$-$RANDOM"
cmdline="cpus=$cpus mem=$mem hostbridge=8086:0d57 barmove=1 unclaimed=ones"
cmdline+=" virtio=rng,console conin=$token"
[ $reboot -eq 1 ] && cmdline+=" reboot=1"
[ $hostile -eq 1 ] && cmdline+=" hostile=1"
[ $intx -eq 1 ] && cmdline+=" intx=1"
disks=()
if [ $vsock -eq 1 ]; then
	disks+=(--vsock "cid=3,socket=$work/v.sock")
	cmdline+=" vsock=3"
fi
if [ $net -eq 1 ]; then
	# A tap of this run's own (vireo creates it; it goes when vireo exits).
	disks+=(--net "tap=vtg$$,ip=192.0.2.1,mask=255.255.255.0,mac=52:54:00:00:00:07,num_queues=4")
	cmdline+=" net=525400000007"
fi
if [ $blk -eq 1 ]; then
	seed=$(printf '0x%x' $(((RANDOM << 30 | RANDOM << 15 | RANDOM) | 1)))
	python3 "$image" make "$work/rw.img" 8192 "$seed" &&
		python3 "$image" make "$work/ro.img" 4096 $((seed + 1)) || exit 1
	disks+=(--disk "path=$work/rw.img,num_queues=2,serial=vireo-rw$direct"
	       "path=$work/ro.img,readonly=on,serial=vireo-ro${ro_slot:+,pci_device_id=$ro_slot}")
	cmdline+=" blk=vireo-rw:rw:8192:2,vireo-ro:ro:4096:1"
	if [ $blk_reset -eq 1 ]; then
		# 4096 bytes per 300 ms: a 64 KiB read exceeds the bucket, passes, and leaves
		# 60-64 KiB of debt (4.5-4.8 s) during which the limiter lets nothing through.
		# With the read-only disk in slot N, this one takes N+1 to stay last in bus order.
		python3 "$image" make "$work/rl.img" 2048 $((seed + 2)) || exit 1
		rl="path=$work/rl.img,readonly=on,serial=vireo-rl,bw_size=4096,bw_refill_time=300"
		disks+=("$rl$direct${ro_slot:+,pci_device_id=$((ro_slot + 1))}")
		cmdline+=",vireo-rl:rl:2048:1"
	fi
	cmdline+=" blkseed=$seed"
	[ $hostile -eq 1 ] && cmdline+=" blkhostile=1"
fi
# stdin is a pipe: vireo's console input needs an fd epoll can watch (not a regular file).
printf '%s\n' "$token" |
	timeout -k 10 600 "$vireo" --kernel "$guest" --cpus "boot=$cpus" --memory "size=${mem}M" \
		--cmdline "$cmdline" --serial "file=$work/serial.log" --console tty -v \
		--log-file "$work/vireo.log" "${disks[@]}" >"$work/console.out"
status=${PIPESTATUS[1]}
cat "$work/serial.log"
echo "--- vireo stdout (virtio-console)"
cat "$work/console.out"
echo "--- vireo log"
cat "$work/vireo.log"
fail=0
[ "$status" -eq 0 ] || { echo "FAIL: vireo exited with $status, expected 0 (guest poweroff)"; fail=1; }
args=(--cpus "$cpus" --console-out "$work/console.out")
[ $reboot -eq 1 ] && args+=(--reboot)
python3 "$check" "${args[@]}" "$work/serial.log" || fail=1
for code in 10 20 30 40; do
	grep -q "debug-port: code 0x$code at" "$work/vireo.log" ||
		{ echo "FAIL: port-0x80 marker 0x$code not in vireo's log"; fail=1; }
done
if [ $reboot -eq 1 ]; then
	grep -q "guest rebooted; starting again" "$work/vireo.log" ||
		{ echo "FAIL: vireo did not log the reboot"; fail=1; }
fi
if [ $hostile -eq 1 ]; then
	# One line per broken ring (virtio/virtqueue.c names), one "needs reset" per ring case
	# (hostile.c has 10, within the log's burst of 10 per second and call site).
	for what in "avail index jump" "head index out of range" "chain too long" \
		"indirect table larger than the queue" "buffer outside guest RAM" \
		"nested indirect descriptor" "indirect table length" "queue_select out of range"; do
		grep -q "warn: .*$what" "$work/vireo.log" ||
			{ echo "FAIL: no '$what' warning in vireo's log"; fail=1; }
	done
	n=$(grep -c "device needs reset" "$work/vireo.log")
	[ "$n" -ge 10 ] || { echo "FAIL: $n 'device needs reset' lines in vireo's log, want 10"; fail=1; }
fi
if [ $vsock -eq 1 ]; then
	# One rate-limited line per malformed packet the guest sent (virtio/vsock_proto.c names).
	for what in "src_cid is not the guest's CID" "dst_cid is not the host" \
		"len runs past the buffer" "device-writable buffer on the TX queue" "unknown op" \
		"type is not STREAM"; do
		grep -q "warn: virtio-vsock: TX packet .*$what" "$work/vireo.log" ||
			{ echo "FAIL: no '$what' warning in vireo's log"; fail=1; }
	done
fi
if [ $net -eq 1 ]; then
	# One rate-limited line per kind of bad chain the guest sent (virtio/net_*.c, virtqueue.c).
	for what in "transmit chain of 8 readable bytes" "transmit chain of 0 readable bytes" \
		"gso_type 0x1 not negotiated" "transmit chain of 65626 readable bytes" \
		"receive chain with 0 readable buffers and 8 writable bytes" \
		"control chain of 4 readable and 0 writable" "control chain of 1 readable" \
		"buffer outside guest RAM"; do
		grep -q "warn: .*$what" "$work/vireo.log" ||
			{ echo "FAIL: no '$what' warning in vireo's log"; fail=1; }
	done
fi
if [ $blk -eq 1 ]; then
	python3 "$image" verify "$work/rw.img" "$seed" --log "$work/serial.log" --disk 0 || fail=1
	python3 "$image" verify "$work/ro.img" $((seed + 1)) --log "$work/serial.log" --disk 1 || fail=1
	if [ $blk_reset -eq 1 ]; then
		python3 "$image" verify "$work/rl.img" $((seed + 2)) --log "$work/serial.log" \
			--disk 2 || fail=1
	fi
	if [ -n "$ro_slot" ]; then
		at=$(printf '00:%02x.0' "$ro_slot")
		grep -q "^CHECK blk_disks PASS .*[(,]$at[,)]" "$work/serial.log" ||
			{ echo "FAIL: no virtio-blk function at $at (pci_device_id=$ro_slot)"; fail=1; }
	fi
	# The first refusals (virtio/blk_req.c names), well inside the log's burst of 10.
	reasons=("write to a read-only disk")
	[ $hostile -eq 1 ] && reasons+=("header missing, writable or short"
		"no device-writable status descriptor")
	for what in "${reasons[@]}"; do
		grep -q "warn: disk '.*' queue 0: request refused: $what" "$work/vireo.log" ||
			{ echo "FAIL: no 'request refused: $what' warning in vireo's log"; fail=1; }
	done
fi
exit $fail
