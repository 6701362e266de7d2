#!/bin/sh
# The stock Debian arm64 kernel under build-arm64/vireo, inside the nested arm64 host:
#   integration/host/kvm-host-arm64 sh integration/host/arm64-linux-test.sh
# 1. Through the REST API (build-arm64/arm64-api: the host has no curl): vm.create with 2 vCPUs
#    (the second started by PSCI CPU_ON), virtio-blk, -rng, -console, -net and -vsock, vm.boot,
#    vm.info, what the guest reports of each device and the MSIs each took through the ITS,
#    vm.pause stopping the guest's counter and vm.resume letting it carry on, vm.shutdown,
#    vm.delete, vmm.shutdown ending vireo with status 0.
# 2. The arm64 vCPU and vGIC state of a snapshot (build-arm64/test_snap_arm64_kvm) on this KVM.
# 3. From the command line: a guest that reboots once (PSCI SYSTEM_RESET) and then powers off
#    (PSCI SYSTEM_OFF), vireo ending with status 0.
# Prints one "ok   WHAT" or "FAIL WHAT" line per check and "arm64-linux-test: N failed" last.
# Runs with the host's busybox sh; arm64 programs run chrooted into /host, whose /tmp is this
# host's tmpfs (/host/tmp here, /tmp to them).
fails=0
vireo="$ARM64_PWD/build-arm64/vireo"
api_tool="$ARM64_PWD/build-arm64/arm64-api"
sock=/tmp/arm64-api.sock
serial=/host/tmp/arm64-serial.log
out=/host/tmp/arm64-out.log

pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
check() {   # check REGEX WHAT [FILE]: a line of FILE (the guest's serial) matches
	if grep -q -E "$1" "${3:-$serial}"; then pass "$2"; else fail "$2"; fi
}
api() {   # api METHOD NAME [BODY]: the reply ("STATUS BODY") in $reply
	reply=$(chroot /host "$api_tool" "$sock" "$@")
}
expect() {   # expect WHAT STATUS [TEXT] METHOD NAME [BODY]
	local what=$1 status=$2 text=$3
	shift 3
	api "$@"
	case "$reply" in
	"$status "*"$text"*) pass "$what: $(echo "$reply" | cut -c1-100)" ;;
	*) fail "$what: want $status $text, got $(echo "$reply" | cut -c1-200)" ;;
	esac
}
wait_line() {   # wait_line REGEX SECONDS: polls the serial log (an outside process) until then
	local i=0
	while [ $i -lt "$2" ]; do
		grep -q -E "$1" "$serial" && return 0
		sleep 1
		i=$((i + 1))
	done
	return 1
}
ticks() { grep -c 'VIREO-ARM64: tick' "$serial"; }

dd if=/dev/urandom of=/host/tmp/arm64-disk.img bs=1M count=8 2>/dev/null
want=$(md5sum </host/tmp/arm64-disk.img | cut -d' ' -f1)
: >"$serial"
chroot /host "$vireo" -v --api-socket "path=$sock" >"$out" 2>&1 &
vpid=$!
i=0
while [ ! -S "/host$sock" ] && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
expect "vmm.ping" 200 '"version"' GET vmm.ping
expect "vm.info before vm.create" 404 "" GET vm.info
cfg='{"cpus":{"boot_vcpus":2,"max_vcpus":2},"memory":{"size":536870912},
"payload":{"kernel":"'$ARM64_IMAGE'","initramfs":"'$ARM64_INITRD'",
"cmdline":"console=ttyS0 panic=-1 quiet vireo.net=1 vireo.ticks=1"},
"serial":{"mode":"File","file":"/tmp/arm64-serial.log"},
"console":{"mode":"File","file":"/tmp/arm64-hvc.log"},
"disks":[{"path":"/tmp/arm64-disk.img"}],
"net":[{"ip":"192.0.2.1","mask":"255.255.255.0","mac":"52:54:00:0a:64:02"}],
"vsock":{"cid":3,"socket":"/tmp/arm64-vsock.sock"},
"rng":{"src":"/dev/urandom"}}'
expect "vm.create" 204 "" PUT vm.create "$cfg"
expect "vm.info created" 200 '"state":"Created"' GET vm.info
expect "vm.boot" 204 "" PUT vm.boot
if wait_line 'VIREO-ARM64: tick 2([^0-9]|$)' 600; then pass "the guest is up and counting"; else
	fail "the guest is up and counting"; fi
expect "vm.info running" 200 '"state":"Running"' GET vm.info
check "VIREO-ARM64: user space, 2 cpus" "user space with 2 vCPUs"
check "VIREO-ARM64: vda md5 $want" "virtio-blk md5 $want"
check "VIREO-ARM64: hwrng virtio_rng.0 64 bytes" "64 bytes from /dev/hwrng (virtio-rng)"
check "VIREO-ARM64: hvc0 written" "the guest wrote hvc0"
check "VIREO-ARM64: hello on hvc0" "the guest's hvc0 line reached the --console file" \
	/host/tmp/arm64-hvc.log
check "VIREO-ARM64: eth0 52:54:00:0a:64:02" "virtio-net has the configured MAC"
check "VIREO-ARM64: ping 192.0.2.1 ok" "the guest pings the tap's host end"
check "VIREO-ARM64: vsock 1 bound" "the virtio-vsock driver bound"
for d in virtio_blk virtio_rng virtio_net; do
	check "VIREO-ARM64: MSIs $d [1-9]" "$d interrupts through the ITS"
done
expect "vm.pause" 204 "" PUT vm.pause
expect "vm.info paused" 200 '"state":"Paused"' GET vm.info
frozen=$(ticks)
# vm.pause returns once every vCPU is parked: watching for a while is the only way to see
# that nothing happens.
sleep 3
[ "$(ticks)" = "$frozen" ] && pass "the paused guest's counter stayed at $frozen" ||
	fail "the paused guest counted on: $frozen -> $(ticks)"
expect "vm.resume" 204 "" PUT vm.resume
if wait_line "VIREO-ARM64: tick $((frozen + 2))([^0-9]|\$)" 120; then pass "the resumed guest counts on"
else fail "the resumed guest counts on (stuck at $(ticks))"; fi
expect "vm.shutdown" 204 "" PUT vm.shutdown
expect "vm.info after vm.shutdown" 200 '"state":"Created"' GET vm.info
expect "vm.delete" 204 "" PUT vm.delete
expect "vmm.shutdown" 200 "" PUT vmm.shutdown
wait $vpid
rc=$?
[ $rc -eq 0 ] && pass "vireo exit status 0 after vmm.shutdown" ||
	fail "vireo exit status $rc after vmm.shutdown"
if [ $fails -ne 0 ]; then cat "$out" "$serial"; fi

# The vCPU and vGIC state of an arm64 snapshot on this KVM: save, restore into another VM, compare.
if chroot /host "$ARM64_PWD/build-arm64/test_snap_arm64_kvm" >"$out" 2>&1; then
	pass "arm64 vCPU and vGIC state saved and restored (test_snap_arm64_kvm)"
else
	fail "arm64 vCPU and vGIC state saved and restored (test_snap_arm64_kvm)"
	cat "$out"
fi

# PSCI SYSTEM_RESET: vireo starts the VM again from the same config; the second boot powers off.
printf 'NOTYET..' | dd of=/host/tmp/arm64-disk.img bs=8 count=1 conv=notrunc 2>/dev/null
chroot /host "$vireo" -v --serial tty --console off \
	--memory size=512M --kernel "$ARM64_IMAGE" --initramfs "$ARM64_INITRD" \
	--cmdline "console=ttyS0 panic=-1 quiet vireo.reboot=1" --disk path=/tmp/arm64-disk.img \
	>"$out" 2>&1
rc=$?
cat "$out"
check "VIREO-ARM64: rebooting" "the first boot asks for a reset" "$out"
check "guest rebooted; starting again" "PSCI SYSTEM_RESET restarts the VM" "$out"
check "VIREO-ARM64: second boot" "the second boot sees the first one's write" "$out"
check "guest powered off" "PSCI SYSTEM_OFF is a poweroff" "$out"
[ $rc -eq 0 ] && pass "vireo exit status 0 after the reboot and poweroff" ||
	fail "vireo exit status $rc after the reboot and poweroff"
echo "arm64-linux-test: $fails failed"
[ $fails -eq 0 ]
