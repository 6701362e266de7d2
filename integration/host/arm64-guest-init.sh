#!/bin/sh
# /init of the arm64 test guest under vireo (integration/host/arm64-linux-test.sh): says it
# reached user space with how many CPUs, loads the virtio modules, reports what each device
# shows (the md5 of the first disk, bytes read from virtio-rng, a line written to virtio-console,
# the virtio-net link answering a ping, the vsock driver bound), how many MSIs each virtio driver
# took through the ITS, and powers off (PSCI SYSTEM_OFF); or first reboots once (vireo.reboot=1),
# or counts forever (vireo.ticks=1).
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
# virtio-rng: the kernel picks it as the hw_random source; /dev/hwrng reads from it.
echo "VIREO-ARM64: hwrng $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)" \
	"$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | wc -c) bytes"
# virtio-console: hvc0; the host reads the line from its --console file.
[ -c /dev/hvc0 ] && echo "VIREO-ARM64: hello on hvc0" >/dev/hvc0 && echo "VIREO-ARM64: hvc0 written"
# virtio-net (vireo.net=1): the host end of the tap is 192.0.2.1.
if grep -q vireo.net=1 /proc/cmdline; then
	echo "VIREO-ARM64: eth0 $(cat /sys/class/net/eth0/address 2>/dev/null)"
	ip addr add 192.0.2.2/24 dev eth0 && ip link set eth0 up &&
		ping -c 3 -W 5 192.0.2.1 >/dev/null && echo "VIREO-ARM64: ping 192.0.2.1 ok"
fi
[ -c /dev/vsock ] && echo "VIREO-ARM64: vsock $(ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport |
	grep -c virtio) bound"
# /proc/interrupts: "IRQ: count per CPU... ITS-MSI hwirq Edge virtioN-queue", summed per driver.
for d in /sys/bus/virtio/devices/virtio*; do
	dev=${d##*/}
	drv=$(readlink "$d/driver")
	msis=$(awk -v dev="$dev-" '/ITS-MSI/ && index($0, dev) {
		for (i = 2; $i ~ /^[0-9]+$/; i++) n += $i } END { print n + 0 }' /proc/interrupts)
	echo "VIREO-ARM64: MSIs ${drv##*/} $msis"
done
grep virtio /proc/interrupts
# vireo.ticks=1: a user-space counter, one line a second, until the host stops the VM.
if grep -q vireo.ticks=1 /proc/cmdline; then
	i=0
	while :; do
		i=$((i + 1))
		echo "VIREO-ARM64: tick $i"
		sleep 1
	done
fi
sync
poweroff -f
