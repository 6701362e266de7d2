#!/bin/sh
# /init of the arm64 test guest under vireo: says it reached user space, shows the CPUs and
# interrupts it sees, reads a virtio disk if there is one, and powers off (PSCI SYSTEM_OFF).
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "VIREO-ARM64: user space, $(grep -c ^processor /proc/cpuinfo) cpus"
if [ -b /dev/vda ]; then
	echo "VIREO-ARM64: vda md5 $(md5sum </dev/vda | cut -d' ' -f1)"
fi
grep -i -E "virtio|msi|ITS" /proc/interrupts | sed 's/^/VIREO-ARM64: irq /'
sync
poweroff -f
