#!/bin/sh
# /init of the nested arm64 host (kvm-host-arm64): 9p modules, the machine's / at /host with
# fresh proc/sys/dev and a tmpfs /tmp, then <run>/cmd with busybox sh; its exit status goes to
# <run>/rc. All output is on the console, the command's between two marker lines.
fail() { echo "kvm-host-arm64 init: $*"; sync; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/mods/order 2>/dev/null); do
	insmod "/lib/mods/$m" || echo "kvm-host-arm64 init: insmod $m failed"
done
run=$(sed -n 's/.*vireo\.run=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$run" ] || fail "no vireo.run= on the command line"
[ -c /dev/kvm ] || fail "no /dev/kvm: is the outer CPU at EL2?"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose host /host ||
	fail "cannot mount the host's / over 9p"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/shm
keep=$(cat "/host$run/keep" 2>/dev/null)   # the working directory, if below /tmp
if [ -n "$keep" ]; then
	mkdir -p /kept
	mount --bind "/host$keep" /kept || fail "cannot keep $keep"
fi
for d in /tmp /run /dev/shm; do
	mount -t tmpfs -o mode=1777 tmpfs "/host$d" || fail "cannot mount a tmpfs on $d"
done
if [ -n "$keep" ]; then
	mkdir -p "/host$keep"
	mount --bind /kept "/host$keep" || fail "cannot keep $keep"
fi
echo ARM64HOST-BEGIN
sh "/host$run/cmd" </dev/null 2>&1
rc=$?
echo ARM64HOST-END
echo $rc >"/host$run/rc"
sync
poweroff -f
