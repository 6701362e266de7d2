#!/bin/sh
# /init of the nested test host (kvm-host): loads kvm-amd and 9p, mounts the outer machine's /
# at /host, gives it fresh proc/sys/dev, the scratch disk as /tmp and /var/tmp and tmpfs for
# /run and /dev/shm, runs the command that
# kvm-host wrote to <run>/cmd chrooted into it (stdout on ttyS1, stderr on ttyS2), writes its
# exit status to <run>/rc and powers off. Diagnostics go to ttyS0, which kvm-host keeps in a file.
fail() { echo "kvm-host init: $*"; sync; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/mods/order); do
	insmod "/lib/mods/$m" || echo "kvm-host init: insmod $m failed"
done
run=$(sed -n 's/.*vireo\.run=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$run" ] || fail "no vireo.run= on the command line"
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd"
ip link set lo up

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose host /host ||
	fail "cannot mount the host's / over 9p"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /host/dev/pts
keep=$(cat "/host$run/keep" 2>/dev/null)   # the working directory, if below /tmp or /var/tmp
if [ -n "$keep" ]; then
	mkdir -p /kept
	mount --bind "/host$keep" /kept || fail "cannot keep $keep"
fi
mkdir -p /scratch
mount -t ext4 /dev/vda /scratch || fail "cannot mount the scratch disk"
mkdir -p /scratch/tmp /scratch/var-tmp
chmod 1777 /scratch/tmp /scratch/var-tmp
mount --bind /scratch/tmp /host/tmp
mount --bind /scratch/var-tmp /host/var/tmp
if [ -n "$keep" ]; then
	mkdir -p "/host$keep"
	mount --bind /kept "/host$keep" || fail "cannot keep $keep"
fi
for d in /run /dev/shm; do
	mount -t tmpfs -o mode=1777 tmpfs "/host$d" || fail "cannot mount a tmpfs on $d"
done
[ -f "/host$run/cmd" ] || fail "no $run/cmd"

stty -F /dev/ttyS1 raw -echo
stty -F /dev/ttyS2 raw -echo
# Through pipes, as a caller's output usually is: programs that see a tty draw progress bars.
mkfifo /out /err
cat /out >/dev/ttyS1 &
out_pid=$!
cat /err >/dev/ttyS2 &
err_pid=$!
chroot /host /bin/bash "$run/cmd" </dev/null >/out 2>/err
rc=$?
# What the command left running would hold the pipes open: end it (kernel threads have no
# command line, and are left alone).
for p in /proc/[0-9]*; do
	p=${p#/proc/}
	case $p in 1 | "$out_pid" | "$err_pid") continue ;; esac
	[ -n "$(readlink "/proc/$p/exe")" ] && kill -KILL "$p" 2>/dev/null
done
wait $out_pid $err_pid
# The last close of a port does not wait for its output here; stty's TCSADRAIN does.
stty -F /dev/ttyS1 raw -echo
stty -F /dev/ttyS2 raw -echo
echo $rc >"/host$run/rc"
sync
poweroff -f
