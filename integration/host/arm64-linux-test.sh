#!/bin/sh
# The stock Debian arm64 kernel under build-arm64/vireo, inside the nested arm64 host:
#   integration/host/kvm-host-arm64 sh integration/host/arm64-linux-test.sh
# 2 vCPUs (the second started by PSCI CPU_ON), a virtio-blk disk whose md5 the guest reports,
# MSI-X through the ITS counting, and PSCI SYSTEM_OFF ending vireo with status 0; then a run
# where the guest reboots once (PSCI SYSTEM_RESET) before powering off.
# Runs with the host's busybox sh; arm64 programs run chrooted into /host.
fails=0
dd if=/dev/urandom of=/host/tmp/arm64-disk.img bs=1M count=8 2>/dev/null
want=$(md5sum </host/tmp/arm64-disk.img | cut -d' ' -f1)
chroot /host "$ARM64_PWD/build-arm64/vireo" -v --serial tty --console off --cpus boot=2 \
	--memory size=512M --kernel "$ARM64_IMAGE" --initramfs "$ARM64_INITRD" \
	--cmdline "console=ttyS0 panic=-1 quiet" --disk path=/tmp/arm64-disk.img \
	>/host/tmp/arm64-out.log 2>&1
rc=$?
cat /host/tmp/arm64-out.log
check() {   # check REGEX WHAT
	if grep -q -E "$1" /host/tmp/arm64-out.log; then
		echo "ok   $2"
	else
		echo "FAIL $2"
		fails=$((fails + 1))
	fi
}
check "VIREO-ARM64: user space, 2 cpus" "user space with 2 vCPUs"
check "VIREO-ARM64: vda md5 $want" "virtio-blk md5 $want"
check "VIREO-ARM64: virtio MSIs [1-9]" "virtio interrupts through the ITS"
check "guest powered off" "PSCI SYSTEM_OFF is a poweroff"
[ $rc -eq 0 ] && echo "ok   vireo exit status 0" || { echo "FAIL vireo exit status $rc"; fails=$((fails + 1)); }
# PSCI SYSTEM_RESET: vireo starts the VM again from the same config; the second boot powers off.
printf 'NOTYET..' | dd of=/host/tmp/arm64-disk.img bs=8 count=1 conv=notrunc 2>/dev/null
chroot /host "$ARM64_PWD/build-arm64/vireo" -v --serial tty --console off \
	--memory size=512M --kernel "$ARM64_IMAGE" --initramfs "$ARM64_INITRD" \
	--cmdline "console=ttyS0 panic=-1 quiet vireo.reboot=1" --disk path=/tmp/arm64-disk.img \
	>/host/tmp/arm64-out.log 2>&1
rc=$?
cat /host/tmp/arm64-out.log
check "VIREO-ARM64: rebooting" "the first boot asks for a reset"
check "guest rebooted; starting again" "PSCI SYSTEM_RESET restarts the VM"
check "VIREO-ARM64: second boot" "the second boot sees the first one's write"
[ $rc -eq 0 ] && echo "ok   vireo exit status 0 after the reboot" ||
	{ echo "FAIL vireo exit status $rc after the reboot"; fails=$((fails + 1)); }
echo "arm64-linux-test: $fails failed"
[ $fails -eq 0 ]
