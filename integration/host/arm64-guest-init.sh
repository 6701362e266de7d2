#!/bin/sh
# /init of the arm64 test guest under vireo (integration/host/arm64-linux-test.sh): says it
# reached user space with how many CPUs, loads the virtio modules, prints the md5 of the first
# disk and how many MSIs the virtio devices took through the ITS, and powers off (PSCI
# SYSTEM_OFF); or first reboots once (vireo.reboot=1).
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "VIREO-ARM64: user space, $(grep -c ^processor /proc/cpuinfo) cpus"
for m in $(cat /lib/mods/order 2>/dev/null); do
	insmod "/lib/mods/$m" || echo "VIREO-ARM64: insmod $m failed"
done
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ -b /dev/vda ] && break
	sleep 1
done
# vireo.reboot=1: the first boot marks the disk and reboots (PSCI SYSTEM_RESET), the second
# sees the mark and goes on.
if grep -q vireo.reboot=1 /proc/cmdline; then
	if [ "$(dd if=/dev/vda bs=8 count=1 2>/dev/null)" = REBOOTED ]; then
		echo "VIREO-ARM64: second boot"
	else
		printf REBOOTED | dd of=/dev/vda bs=8 count=1 conv=notrunc 2>/dev/null
		sync
		echo "VIREO-ARM64: rebooting"
		reboot -f
	fi
fi
[ -b /dev/vda ] && echo "VIREO-ARM64: vda md5 $(md5sum </dev/vda | cut -d' ' -f1)"
# /proc/interrupts: "IRQ: count per CPU... ITS-MSI hwirq Edge virtioN-req.0"
msis=$(awk '/ITS-MSI/ && /virtio/ { for (i = 2; $i ~ /^[0-9]+$/; i++) n += $i } END { print n + 0 }' \
	/proc/interrupts)
echo "VIREO-ARM64: virtio MSIs $msis"
grep virtio /proc/interrupts
sync
poweroff -f
