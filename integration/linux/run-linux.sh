#!/bin/bash
# Boot the cached small Linux 6.1 kernel under vireo or QEMU and check the
# milestone lines it prints on its serial console.
#
#   run-linux.sh --vmm vireo|qemu [--accel kvm|tcg] [--vireo PATH] [--kernel VMLINUX]
#                [--cpus N] [--mem MiB] [--timeout S] [--expect-file F]...
#                [--initramfs auto|none|PATH] [--append ARGS] [--log-dir DIR]
#                [--quiet]
#
#   --accel kvm|tcg   QEMU's accelerator (default kvm; vireo is always KVM).  tcg:
#                     QEMU's own emulator, no /dev/kvm needed; slower than KVM
#                     on real hardware, but on kvm-pvm it runs user space
#   --vireo PATH      vireo binary (default: $VIREO, else build/vireo in the repo)
#   --kernel VMLINUX  kernel to boot (default: build/fetch it with build-kernel.sh)
#   --cpus N          vCPUs (default 2); ${CPUS} in expectation regexes becomes N
#   --mem MiB         guest memory in MiB (default 512)
#   --timeout S       give up after S seconds (default 600 for vireo and
#                     qemu tcg, 900 for qemu kvm)
#   --expect-file F   milestone file (repeatable; default milestones-foundation.txt
#                     and milestones-virtio.txt)
#   --initramfs X     auto (default): build one from init.c with mkinitramfs.py,
#                     except on kvm-pvm, where user space cannot make system
#                     calls (README.md): each of its milestones is then
#                     reported as "skipped: kvm-pvm"; none; or an existing
#                     cpio archive.  With an initramfs, milestones-init.txt is
#                     added (including the MD5 of the disk's partition vda1)
#                     and the VMM must exit 0 (/init powers off).
#   --append ARGS     extra kernel arguments
#   --log-dir DIR     where console/VMM logs go (default: a new temp directory)
#   --quiet           do not echo the console while it runs
#
# Both VMMs get the same three modern virtio-pci functions: virtio-console
# (hvc0, written to <log-dir>/linux-<run>-hvc0.log), virtio-blk (a 64 MiB
# image made by mkdisk.py) and virtio-rng.  <run> is vireo, qemu or qemu-tcg.
#
# Exit status: 0 all milestones seen; 1 failed; 77 skipped (QEMU not installed,
# no usable /dev/kvm for a KVM run); 99 usage/setup error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

vmm=
accel=kvm
vireo_bin=${VIREO:-}
kernel=
cpus=2
mem=512
timeout=
expect=()
append_extra=
logdir=
quiet=()
initramfs=auto

usage() { sed -n '2,37p' "$0" >&2; exit 99; }
while [ $# -gt 0 ]; do
    case $1 in
        --vmm) vmm=$2; shift 2 ;;
        --accel) accel=$2; shift 2 ;;
        --vireo) vireo_bin=$2; shift 2 ;;
        --kernel) kernel=$2; shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        --mem) mem=${2%[Mm]}; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --expect-file) expect+=("$2"); shift 2 ;;
        --initramfs) initramfs=$2; shift 2 ;;
        --append) append_extra=$2; shift 2 ;;
        --log-dir) logdir=$2; shift 2 ;;
        --quiet) quiet=(--quiet); shift ;;
        -h|--help) usage ;;
        *) echo "run-linux.sh: unknown argument $1" >&2; usage ;;
    esac
done
case $vmm in vireo|qemu) ;; *) echo "run-linux.sh: --vmm vireo|qemu required" >&2; usage ;; esac
case $vmm/$accel in vireo/kvm|qemu/kvm|qemu/tcg) ;;
    *) echo "run-linux.sh: --accel $accel: kvm, or tcg with --vmm qemu" >&2; usage ;; esac
# The name of this run's logs: linux-<run>-console.log etc.
run=$vmm
[ "$accel" = kvm ] || run=$vmm-$accel
[[ $cpus =~ ^[0-9]+$ && $cpus -ge 1 ]] || { echo "run-linux.sh: bad --cpus $cpus" >&2; exit 99; }
[[ $mem =~ ^[0-9]+$ ]] || { echo "run-linux.sh: bad --mem $mem (MiB)" >&2; exit 99; }
[ ${#expect[@]} -gt 0 ] || expect=("$here/milestones-foundation.txt" "$here/milestones-virtio.txt")
# Generous limits: on the kvm-pvm emulator the direct boot to "all CPUs up"
# takes under a minute, and QEMU first spends ~31 s in SeaBIOS.  Under TCG
# /init powers off after a few seconds (README.md).
[ -n "$timeout" ] || { [ "$run" = qemu ] && timeout=900 || timeout=600; }

if [ "$accel" = kvm ] && { [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; }; then
    echo "run-linux.sh: SKIP: /dev/kvm not usable" >&2
    exit 77
fi

if [ "$vmm" = qemu ]; then
    qemu=$(command -v qemu-system-x86_64 || true)
    if [ -z "$qemu" ]; then
        echo "run-linux.sh: SKIP: qemu-system-x86_64 not installed (apt-get install qemu-system-x86)" >&2
        exit 77
    fi
else
    [ -n "$vireo_bin" ] || vireo_bin=$repo/build/vireo
    [ -x "$vireo_bin" ] || { echo "run-linux.sh: vireo binary $vireo_bin not found (--vireo PATH)" >&2; exit 99; }
fi

if [ -z "$kernel" ]; then
    kdir=$("$here/build-kernel.sh" | tail -n 1)
    kernel=$kdir/vmlinux
fi
[ -r "$kernel" ] || { echo "run-linux.sh: kernel $kernel not found" >&2; exit 99; }

# Host TSC rate in kHz: the guest TSC runs at the host rate.  Prefer the
# kernel's own calibration from the host log; the ring buffer may have wrapped
# (or be unreadable), so fall back to /proc/cpuinfo.
tsc_khz=$( (dmesg 2>/dev/null || true) | sed -n \
    -e 's/.*tsc: Refined TSC clocksource calibration: \([0-9]*\)\.\([0-9]\{3\}\) MHz.*/\1\2/p' \
    -e 's/.*tsc: Detected \([0-9]*\)\.\([0-9]\{3\}\) MHz TSC.*/\1\2/p' \
    -e 's/.*tsc: Detected \([0-9]*\)\.\([0-9]\{3\}\) MHz processor.*/\1\2/p' | tail -n 1)
if [ -z "$tsc_khz" ]; then
    tsc_khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
fi
tsc_khz=${tsc_khz:-2000000}

# loops_per_jiffy preset, so the kernel skips delay-loop calibration (slow
# under emulation).  With a TSC the delay loop counts TSC cycles, so
# lpj = TSC Hz / CONFIG_HZ.
hz=100
if [ -r "$(dirname "$kernel")/config" ]; then
    hz=$(sed -n 's/^CONFIG_HZ=//p' "$(dirname "$kernel")/config")
    hz=${hz:-100}
fi
lpj=$((tsc_khz * 1000 / hz))

# Kernel arguments (see /work/shared/reference/test-host.md and README.md):
#  noxsave nopcid nofsgsbase clearcpuid=...: keep the kernel away from
#     instructions kvm-pvm cannot emulate (xsave, cmpxchg16b, stac/clac, ...);
#     harmless on hardware KVM;
#  lpj=: skip delay-loop calibration;  panic=-1: reboot at once on a panic
#     (QEMU's -no-reboot then exits; vireo, like CH, boots again, and the
#     watcher has already stopped on the "Kernel panic" fatal line);
#  console=hvc0 console=ttyS0: kernel messages go to both, COM1 stays the
#     milestone stream and /dev/console (the last console= wins).
cmdline="console=hvc0 console=ttyS0 earlyprintk=serial,ttyS0 noxsave nopcid nofsgsbase"
cmdline+=" clearcpuid=cx16,smap,smep,popcnt,rdrand,rdseed,rdpid,invpcid,umip,rdtscp"
cmdline+=" lpj=$lpj panic=-1"
# Only when the accelerator is kvm-pvm (software KVM; detected from the module,
# never from timing; not under TCG, which has neither its limits nor KVM's PV
# features):
#  nopv: KVM's PV IPI hypercall (CPUID 0x40000001 bit 11, advertised by KVM)
#     does not work there: with it the boot hangs for ever after
#     "x86: Booting SMP configuration:".  nopv turns all KVM PV features off
#     (kvmclock, PV IPI/EOI/TLB flush, steal time); hardware KVM keeps them.
#  tsc_early_khz= tsc=reliable: PIT calibration fails under the emulator and a
#     multi-CPU AMD guest without invariant-TSC CPUID marks the TSC unstable;
#     give the known host rate and keep the TSC as clocksource.
kvm_pvm=0
if [ "$accel" = kvm ] && [ -d /sys/module/kvm_pvm ]; then
    kvm_pvm=1
    cmdline+=" nopv tsc_early_khz=$tsc_khz tsc=reliable"
fi

[ -n "$logdir" ] || logdir=$(mktemp -d /tmp/vireo-linux.XXXXXX)
mkdir -p "$logdir"
console_log=$logdir/linux-$run-console.log
report=$logdir/linux-$run-report.txt
hvc_log=$logdir/linux-$run-hvc0.log
rm -f "$hvc_log"

# User space on kvm-pvm: the emulator enters entry_SYSCALL_64 still at CPL 3,
# so /init's first system call faults ("init[1]: segfault at
# ffffffff81400040", then "Attempted to kill init"), and INT 0x80 raises #UD.
# So the initramfs is used only where the guest really runs (README.md), and
# what only /init can show is reported as skipped, with the reason.
skip_reason=
if [ "$initramfs" = auto ]; then
    if [ $kvm_pvm -eq 1 ]; then
        initramfs=none
        skip_reason=kvm-pvm
        echo "run-linux: kvm-pvm: no initramfs (user space cannot make system calls here); kernel milestones only"
    else
        initramfs=$logdir/initramfs-$run.cpio
        python3 "$here/mkinitramfs.py" --out "$initramfs" ||
            { echo "run-linux: cannot build the initramfs (--initramfs none to boot without)" >&2; exit 99; }
    fi
elif [ "$initramfs" = none ]; then
    skip_reason="--initramfs none"
fi
watch_extra=()
initrd_args=()
# A 64 MiB disk with an MBR and one Linux partition from sector 2048 holding
# a known pattern: the kernel must report its capacity and find the partition
# (virtio-blk), and /init must read the partition with the MD5 mkdisk.py
# computed here.
disk_img=$logdir/linux-$run-disk.img
disk_vars=$(python3 "$here/mkdisk.py" --out "$disk_img") ||
    { echo "run-linux: cannot create $disk_img" >&2; exit 99; }
echo "run-linux: disk $disk_img: $disk_vars"
var_args=(--var "CPUS=$cpus")
for v in $disk_vars; do var_args+=(--var "$v"); done
if [ "$initramfs" = none ]; then
    # No such root device (the disk is vda): the kernel waits for it for ever
    # after its last initcall ("Waiting for root device"), instead of panicking.
    cmdline+=" root=/dev/vdz rootwait"
    echo "skipped: $skip_reason: vda1 md5 (needs user space)"
    echo "skipped: $skip_reason: milestones-init.txt:" \
        "$(awk -F '\t' '/^[^#!?]/ && NF > 1 { printf "%s ", $1 }' "$here/milestones-init.txt")(needs user space)"
    watch_extra+=(--skip-file "$here/milestones-init.txt" --skip-reason "$skip_reason (needs user space)")
else
    [ -r "$initramfs" ] || { echo "run-linux: initramfs $initramfs not found" >&2; exit 99; }
    expect+=("$here/milestones-init.txt")
    watch_extra+=(--wait-exit)
fi
[ -z "$append_extra" ] || cmdline+=" $append_extra"

if [ "$vmm" = vireo ]; then
    vmm_log=$logdir/linux-vireo-vmm.log
    api_sock=$logdir/linux-vireo-api.sock
    rm -f "$api_sock"
    [ "$initramfs" = none ] || initrd_args=(--initramfs "$initramfs")
    # virtio-rng is always there (--rng src=/dev/urandom by default).  The API
    # socket serves vm.counters to the watcher.
    cmd=("$vireo_bin" --kernel "$kernel" "${initrd_args[@]}" --cmdline "$cmdline"
         --cpus "boot=$cpus" --memory "size=${mem}M" --serial tty
         --console "file=$hvc_log" --api-socket "path=$api_sock"
         --disk "path=$disk_img,serial=vireo-linux"
         -v --log-file "$vmm_log")
    watch_extra+=(--api-socket "$api_sock")
else
    vmm_log=
    # QEMU accepts a PVH ELF with -kernel.  -arch-capabilities: kvm-pvm
    # refuses MSR 0x10a.  QEMU stays alive and paused after a KVM internal
    # error, so console-watch kills the whole process group when it stops.
    # The same virtio functions as vireo, at the same slots (no VGA in slot
    # 1): modern only, one vector per queue plus config (vireo: queues + 1),
    # and a single-port virtio-serial (no MULTIPORT, like vireo and CH) whose
    # port 0 is the console.
    [ "$initramfs" = none ] || initrd_args=(-initrd "$initramfs")
    # TCG: QEMU's default CPU model (qemu64), multi-threaded TCG (one host
    # thread per vCPU, QEMU's default for x86 on x86).
    if [ "$accel" = tcg ]; then
        accel_args=(-accel tcg)
    else
        # shellcheck disable=SC2054  # the commas are QEMU's option syntax
        accel_args=(-enable-kvm -cpu host,-arch-capabilities)
    fi
    # shellcheck disable=SC2054
    cmd=("$qemu" "${accel_args[@]}" -M q35 -m "${mem}M"
         -smp "$cpus" -nographic -no-reboot -nic none -vga none
         -device virtio-serial-pci,disable-legacy=on,max_ports=1,vectors=3,addr=0x1
         -chardev "file,id=hvc0,path=$hvc_log" -device virtconsole,chardev=hvc0
         -drive "file=$disk_img,if=none,id=d0,format=raw"
         -device virtio-blk-pci,drive=d0,disable-legacy=on,serial=vireo-linux,num-queues=1,vectors=2,addr=0x2
         -device virtio-rng-pci,disable-legacy=on,vectors=2,addr=0x3
         -kernel "$kernel" "${initrd_args[@]}" -append "$cmdline")
fi

echo "run-linux: vmm=$vmm accel=$accel cpus=$cpus mem=${mem}M timeout=${timeout}s kvm-pvm=$kvm_pvm kernel=$kernel"
echo "run-linux: initramfs: $initramfs"
echo "run-linux: cmdline: $cmdline"
echo "run-linux: logs in $logdir"
printf 'run-linux: command:'; printf ' %q' "${cmd[@]}"; echo

expect_args=()
for f in "${expect[@]}"; do expect_args+=(--expect-file "$f"); done

# Belt and braces: `timeout -k` ends the VMM even if the watcher itself is
# killed without a chance to clean up.
rc=0
python3 "$here/console-watch.py" --timeout "$timeout" "${expect_args[@]}" \
    "${var_args[@]}" --stream "hvc0=$hvc_log" "${watch_extra[@]}" \
    --console-log "$console_log" --report "$report" \
    --label "vmm=$vmm accel=$accel cpus=$cpus" "${quiet[@]}" -- \
    timeout -k 10 "$((timeout + 60))" "${cmd[@]}" || rc=$?

if [ $rc -ne 0 ] && [ ${#quiet[@]} -gt 0 ] && [ -s "$console_log" ]; then
    echo "run-linux: last console lines ($console_log):"
    tail -n 20 "$console_log"
fi
if [ $rc -ne 0 ] && [ -n "$vmm_log" ] && [ -s "$vmm_log" ]; then
    echo "run-linux: last lines of $vmm_log:"
    tail -n 30 "$vmm_log"
fi
exit $rc
