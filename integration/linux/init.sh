#!/bin/sh
# /init of the stock-Linux suite's initramfs (busybox; linux_test.py builds the archive). It runs
# the steps named by vtest=STEP,STEP,... on the kernel command line, in order, and reports what
# it saw as "vtest: ..." lines on the serial console; the host judges them (linux_test.py).
# vtest.disk=DEV names the scratch disk of the durability and reboot steps.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
read -r up _ </proc/uptime
say() { echo "vtest: $*"; }
say "user space at uptime $up"

arg() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
steps=$(arg vtest | tr , ' ')
scratch=$(arg vtest.disk)

for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" || say "error: insmod $m failed"
done
# Each virtio driver binds asynchronously after insmod: wait for the nodes the steps use.
settle() {   # settle PATH...: up to 30 s for each to appear
	for p in "$@"; do
		n=0
		while [ ! -e "$p" ] && [ $n -lt 300 ]; do usleep 100000; n=$((n + 1)); done
		[ -e "$p" ] || say "error: $p did not appear"
	done
}

step_cpus() {
	say "cpus online $(cat /sys/devices/system/cpu/online) count $(grep -c ^processor /proc/cpuinfo)"
}

# One line per PCI function: vendor:device, driver, and the kind of each MSI vector it holds.
step_pci() {
	for d in /sys/bus/pci/devices/*; do
		drv=none
		[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
		msi=
		for v in "$d"/msi_irqs/*; do
			[ -e "$v" ] && msi="$msi $(basename "$v")=$(cat "$v")"
		done
		say "pci $(basename "$d") $(cut -c3- "$d/vendor"):$(cut -c3- "$d/device") driver $drv msi${msi:- none}"
	done
}

step_irqs() {   # the virtio devices' types, and their lines of /proc/interrupts
	for d in /sys/bus/virtio/devices/*; do
		say "virtio $(basename "$d") device $(cat "$d/device")"
	done
	grep virtio /proc/interrupts | while read -r irq rest; do
		set -- $rest
		total=0
		while [ $# -gt 0 ] && [ "$1" -eq "$1" ] 2>/dev/null; do total=$((total + $1)); shift; done
		say "irq ${irq%:} total $total chip $1 name $(eval echo \${$#})"
	done
}

step_rng() {
	settle /dev/hwrng
	say "hwrng current $(cat /sys/class/misc/hw_random/rng_current)"
	a=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | md5sum | cut -d' ' -f1)
	b=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | md5sum | cut -d' ' -f1)
	say "hwrng read $a $b"
}

step_blk() {   # every virtio disk: size, read-only flag, hardware queues, each partition's MD5
	settle /dev/vda
	for b in /sys/block/vd*; do
		d=$(basename "$b")
		say "disk $d sectors $(cat "$b/size") ro $(cat "$b/ro") queues $(ls "$b/mq" | wc -l) serial $(cat "$b/serial" 2>/dev/null)"
		for p in "$b/$d"*; do
			[ -e "$p/partition" ] || continue
			say "partition $(basename "$p") md5 $(md5sum "/dev/$(basename "$p")" | cut -d' ' -f1)"
		done
	done
}

step_mq() {   # reads from every CPU, so every hardware queue of vda takes requests
	settle /dev/vda
	for c in $(seq 0 $(($(grep -c ^processor /proc/cpuinfo) - 1))); do
		taskset -c "$c" dd if=/dev/vda of=/dev/null bs=4096 count=16 skip=$((c * 64)) \
			iflag=direct 2>/dev/null || say "error: read on cpu $c failed"
	done
	say "mq read on every cpu"
}

step_ro() {   # a write to the read-only disk vdb must fail
	settle /dev/vdb
	if dd if=/dev/zero of=/dev/vdb bs=512 count=1 conv=fsync 2>/dev/null; then
		say "ro write succeeded"
	else
		say "ro write failed as it must"
	fi
}

# Writes 1 MiB of random data at 1 MiB into the scratch disk, flushes, and says so; the host
# then kills the VMM.
step_durable() {
	settle "$scratch"
	dd if=/dev/urandom of=/tmp/pattern bs=1048576 count=1 2>/dev/null
	dd if=/tmp/pattern of="$scratch" bs=1048576 seek=1 conv=fsync 2>/dev/null ||
		say "error: write to $scratch failed"
	sync
	say "durable written md5 $(md5sum </tmp/pattern | cut -d' ' -f1)"
	while :; do sleep 3600; done
}

step_readback() {
	settle "$scratch"
	say "readback md5 $(dd if="$scratch" bs=1048576 skip=1 count=1 2>/dev/null | md5sum | cut -d' ' -f1)"
}

step_hvcwrite() {
	settle /dev/hvc0
	echo "vtest-hvc0: hello from the guest" >/dev/hvc0
	say "hvc0 written"
}

# hvc0 stays open on fd 3 for the whole step: the hvc driver resets its termios and drops
# buffered input when the last file descriptor closes, and a line may arrive at any moment.
hvc_open() {
	settle /dev/hvc0
	exec 3<>/dev/hvc0
	stty -F /dev/hvc0 raw -echo
}

# The host types a line on hvc0; the answer goes back on hvc0.
step_console() {
	hvc_open
	echo "vtest-hvc0: ready" >&3
	read -r line <&3
	echo "vtest-hvc0: got $line" >&3
	say "console got $line"
	exec 3>&-
}

# A counter on hvc0 every 50 ms, with a token of this boot, until the host types "stop".
step_ticker() {
	hvc_open
	token=$(head -c 6 /dev/urandom | md5sum | cut -c1-12)
	(i=0; while :; do echo "tick $i boot $token" >&3; i=$((i + 1)); usleep 50000; done) &
	ticker=$!
	while read -r line <&3; do
		[ "$line" = stop ] && break
	done
	kill $ticker
	exec 3>&-
	say "ticker stopped"
}

# eth0 as 192.0.2.2/24: pings the host end from every CPU (so every transmit queue carries
# traffic), takes BYTES from the host on port 5002, then sends as many on port 5001 (busybox
# nc), each side's MD5 reported. The host's end is in a network namespace of its own.
step_net() {
	settle /sys/class/net/eth0
	n=/sys/class/net/eth0
	ip link set eth0 up && ip addr add 192.0.2.2/24 dev eth0 || say "error: eth0 setup failed"
	say "net eth0 mac $(cat $n/address) mtu $(cat $n/mtu) txqueues $(ls -d $n/queues/tx-* | wc -l)"
	for d in /sys/bus/virtio/devices/*; do   # the negotiated bits, bit 0 first
		[ "$(cat "$d/device")" = 0x0001 ] && say "net features $(cat "$d/features")"
	done
	ok=ok
	for c in $(seq 0 $(($(grep -c ^processor /proc/cpuinfo) - 1))); do
		taskset -c "$c" ping -c 2 -w 120 192.0.2.1 >/dev/null || ok=failed
	done
	say "net ping host $ok"
	bytes=$(arg vtest.netbytes)
	dd if=/dev/urandom of=/tmp/up bs=65536 count=$((bytes / 65536)) 2>/dev/null
	nc -l -p 5002 >/tmp/down &
	say "net listening"
	wait $!
	say "net down bytes $(wc -c </tmp/down) md5 $(md5sum </tmp/down | cut -d' ' -f1)"
	say "net up bytes $(wc -c </tmp/up) md5 $(md5sum </tmp/up | cut -d' ' -f1)"
	nc 192.0.2.1 5001 </tmp/up || say "error: nc to the host failed"
	say "net up sent"
}

# vsock: an echo server on port 1024 for the host's connections; 16 MiB to the host's port 5000
# with its MD5; a connection to port 5001, where nobody listens; then waits for the host's "bye"
# on port 1099. vsock_tool prints "vtest: vsock listening PORT" once it listens.
step_vsock() {
	settle /dev/vsock
	vsock_tool serve 1024 &
	head -c 16777216 /dev/urandom >/tmp/g2h
	say "vsock g2h sent md5 $(md5sum </tmp/g2h | cut -d' ' -f1)"
	vsock_tool connect 2 5000 </tmp/g2h >/dev/null
	say "vsock g2h done status $?"
	say "vsock g2h refused $(vsock_tool connect 2 5001 </dev/null)"
	rm -f /tmp/g2h
	say "vsock host said $(vsock_tool once 1099)"
}

# vsock across a snapshot: the echo server until the host's "bye" on port 1099.
step_vsockwait() {
	settle /dev/vsock
	vsock_tool serve 1024 &
	say "vsock host said $(vsock_tool once 1099)"
}

# The guest end of the I/O benchmark (integration/bench/guest_io_bench.py): eth0 as
# 192.0.2.2/24 and a vsock echo server on port 1024 where those devices exist, then every line
# typed on hvc0 runs as a command, its output and "vtest-bench: done STATUS" going back on hvc0,
# until the host types "exit".
step_bench() {
	hvc_open
	if [ -e /sys/class/net/eth0 ]; then
		ip link set eth0 up && ip addr add 192.0.2.2/24 dev eth0
		ping -c 1 -w 120 192.0.2.1 >/dev/null || say "error: no ping from the host end"
	fi
	[ -e /dev/vsock ] && vsock_tool serve 1024 >/dev/null 2>&1 &
	echo "vtest-bench: ready" >&3
	while read -r line <&3; do
		[ "$line" = exit ] && break
		sh -c "$line" >&3 2>&3
		echo "vtest-bench: done $?" >&3
	done
	exec 3>&-
}

# virtio-fs: mounts the tag vtest.fstag, reads data.bin, writes from-guest.txt (with the
# token vtest.fstoken), counts the entries of many/. The share stays mounted but unused after.
step_fs() {
	mkdir -p /mnt/fs
	mount -t virtiofs "$(arg vtest.fstag)" /mnt/fs && say "fs mounted" || say "error: fs mount failed"
	say "fs read md5 $(md5sum /mnt/fs/data.bin | cut -d' ' -f1)"
	echo "written by the guest $(arg vtest.fstoken)" >/mnt/fs/from-guest.txt && sync
	say "fs wrote"
	say "fs entries $(ls /mnt/fs/many | wc -l)"
}

# vhost-user-net: eth0 as 192.0.2.2 pings the backend's far side, 192.0.2.1.
step_vnet() {
	settle /sys/class/net/eth0
	ip link set eth0 up && ip addr add 192.0.2.2/24 dev eth0 || say "error: eth0 setup failed"
	ping -c 3 -w 120 192.0.2.1 >/dev/null && r=ok || r=failed
	say "vnet eth0 mac $(cat /sys/class/net/eth0/address) ping $r"
}

# virtio-fs hotplug (clh-replay-fs): vtest.fsrounds rounds of a device the host adds with the
# tag vtest.fshot: mount it (retried until the tag exists), read data.bin, write from-guest.txt,
# unmount, then wait until the host has taken the device away again.
fs_pcis() {   # the PCI function of each bound virtio-fs device, on one line
	for d in /sys/bus/virtio/drivers/virtiofs/virtio*; do
		[ -e "$d" ] && printf '%s ' "$(basename "$(readlink -f "$d/..")")"
	done
}
fs_one() { [ "$(fs_pcis | wc -w)" -le 1 ]; }
step_fshot() {
	mkdir -p /mnt/hot
	r=1
	while [ $r -le "$(arg vtest.fsrounds)" ]; do
		say "fshot round $r waiting"
		n=0
		until mount -t virtiofs "$(arg vtest.fshot)" /mnt/hot 2>/dev/null; do
			[ $n -ge 3000 ] && { say "error: fshot mount failed"; break; }
			usleep 100000; n=$((n + 1))
		done
		say "fshot round $r md5 $(md5sum /mnt/hot/data.bin | cut -d' ' -f1) at $(fs_pcis)"
		echo "round $r $(arg vtest.fstoken)" >/mnt/hot/from-guest.txt && sync
		umount /mnt/hot || say "error: fshot umount failed"
		say "fshot round $r unmounted"
		wait_until fs_one || say "error: the hot-added fs never went"
		say "fshot round $r gone, left $(fs_pcis)"
		r=$((r + 1))
	done
}

# Hotplug: the host adds and removes devices while this runs; each appears (or goes) within
# WAIT. pci_of DEV: the PCI function a block device hangs off, "0000:00:05.0".
settle_long() {   # settle_long PATH: up to 300 s
	n=0
	while [ ! -e "$1" ] && [ $n -lt 3000 ]; do usleep 100000; n=$((n + 1)); done
	[ -e "$1" ] || say "error: $1 did not appear"
}
gone_long() {
	n=0
	while [ -e "$1" ] && [ $n -lt 3000 ]; do usleep 100000; n=$((n + 1)); done
	[ -e "$1" ] && say "error: $1 did not go"
}
pci_of() { basename "$(dirname "$(readlink -f "/sys/block/$1/device")")"; }
hp_disk() {
	settle_long "/dev/$1"
	say "hotplug disk $1 at $(pci_of "$1") md5 $(md5sum <"/dev/$1" | cut -d' ' -f1)"
}
# A disk added, removed, added again (same slot), one on segment 1, a net device that pings
# its tap's host end, a vsock device whose echo server the host uses, a disk added while the
# VM was paused and snapshotted.
step_hotplug() {
	say "hotplug ready"
	hp_disk vdb
	gone_long /dev/vdb
	say "hotplug vdb gone"
	hp_disk vdb
	hp_disk vdc
	settle_long /sys/class/net/eth0
	ip link set eth0 up && ip addr add 192.0.2.2/24 dev eth0 || say "error: eth0 setup failed"
	ping -c 2 -w 120 192.0.2.1 >/dev/null && r=ok || r=failed
	say "hotplug net eth0 at $(basename "$(readlink -f /sys/class/net/eth0/device/..)") ping $r"
	settle_long /dev/vsock
	vsock_tool serve 1024 &
	say "vsock host said $(vsock_tool once 1099)"
	hp_disk vdd    # added while paused, then snapshot and restore: announced after them
}

step_dmesg() {   # the kernel's log, for the boot benchmark's breakdown
	dmesg | sed 's/^/vtest-dmesg: /'
}

# vm.resize 1 -> 2 -> 1 from the host (ACPI CPU hotplug): cpu1 appears, is onlined here (as a
# udev rule would), and goes away again once the host asks and the kernel has ejected it.
wait_until() {   # wait_until CMD...: up to 300 s for CMD to succeed
	n=0
	while ! "$@" && [ $n -lt 3000 ]; do usleep 100000; n=$((n + 1)); done
	"$@"
}
cpu_state() {
	echo "cpus $(cat /sys/devices/system/cpu/online) count $(grep -c ^processor /proc/cpuinfo)"
}
step_hotcpu() {
	c=/sys/devices/system/cpu/cpu1
	say "hotcpu waiting for cpu1, $(cpu_state)"
	wait_until test -e $c/online || say "error: cpu1 never appeared"
	echo 1 >$c/online || say "error: onlining cpu1 failed"
	say "hotcpu cpu1 online $(cat $c/online), $(cpu_state)"
	wait_until test ! -e $c || say "error: cpu1 never went away"
	say "hotcpu cpu1 gone, $(cpu_state)"
}

step_hold() {   # stay up until the host shuts the VM down (vm.shutdown)
	say "holding"
	while :; do sleep 3600; done
}

# First boot: mark the scratch disk and reboot; second boot: find the mark and go on.
step_reboot() {
	settle "$scratch"
	mark=$(dd if="$scratch" bs=16 count=1 2>/dev/null | tr -d '\0')
	if [ "$mark" = vtest-rebooted ]; then
		say "second boot after reboot"
		return
	fi
	printf vtest-rebooted | dd of="$scratch" bs=16 count=1 conv=sync,fsync 2>/dev/null
	say "rebooting"
	reboot -f
}

for s in $steps; do
	case $s in
	cpus | pci | irqs | rng | blk | mq | ro | durable | readback | hvcwrite | console | ticker | \
	reboot | dmesg | net | vsock | vsockwait | bench | hotcpu | hold | fs | fshot | vnet | hotplug)
		"step_$s" ;;
	*) say "error: unknown step $s" ;;
	esac
done
say "done, powering off"
poweroff -f
