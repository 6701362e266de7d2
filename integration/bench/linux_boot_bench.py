#!/usr/bin/env python3
"""Boot benchmark (not a test): Debian's stock cloud kernel with the stock-Linux suite's
initramfs (integration/linux), 1 vCPU, 512 MiB, `quiet`, from VMM process start to the first
user-space line on the serial console, for vireo and QEMU interleaved round by round in the same
host. Run it on a KVM host (integration/host/kvm-host); integration/linux/prepare.sh first.

For each run it also records the guest's own uptime at that line (/proc/uptime), so wall minus
uptime is what comes before the kernel's clock starts (process start, RAM, loading, firmware,
decompression). With --dmesg it prints, per VMM, the kernel's slowest boot phases (gaps between
consecutive log lines) from one extra run each.

usage: linux_boot_bench.py [--vireo build/vireo] [--rounds 5] [--dmesg]
"""
import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "linux"))
from artifacts import test_inputs  # noqa: E402
from vmproc import Qemu, Vireo  # noqa: E402

CACHE = os.environ.get("VIREO_CACHE", "/var/cache/vireo")
USER = r"vtest: user space at uptime ([\d.]+)"


def variants(kdir):
    return {
        "vireo bzImage": ("vireo", os.path.join(kdir, "bzImage")),
        "vireo PVH": ("vireo", os.path.join(kdir, "vmlinux")),
        "qemu q35 bzImage": ("qemu", os.path.join(kdir, "bzImage")),
    }


def one_run(args, work, name, vmm, kernel, initramfs, disk, steps="", extra=""):
    """(wall s, uptime s, serial text, ready s) of one boot to user space and poweroff; ready is
    when vireo's log says the VM booted (its vCPU threads started; the log clock starts as
    vireo's constructors run), None for QEMU."""
    spec = dict(kernel=kernel, initramfs=initramfs, cpus=1, mem_mib=512,
                cmdline=f"console=ttyS0 quiet panic=-1 vtest={steps} {extra}".strip(),
                disks=[dict(path=disk, serial="bench")])
    v = Vireo(args.vireo, work, name) if vmm == "vireo" else Qemu(work, name)
    v.start(spec, "pipe", "file")
    try:
        hit = v.stream("serial").wait_for(USER, 600)
        if hit is None:
            raise RuntimeError(f"{name}: no user space line; serial:\n{v.stream('serial').text()}")
        v.stream("serial").wait_for(r"vtest: done, powering off", 600)
        status = v.wait_exit(600)
        if status != 0:
            raise RuntimeError(f"{name}: exit status {status}")
        return hit[1] - v.started, float(hit[2].group(1)), v.stream("serial").text(), ready(v)
    finally:
        v.finish()


def ready(v):
    """Seconds from vireo's start to its "booted" log line (vireo's log clock), else None."""
    if not isinstance(v, Vireo):
        return None
    with open(v.path("log"), errors="replace") as f:
        m = re.search(r"^vireo: \[\s*([\d.]+)\] info: booted", f.read(), re.M)
    return float(m.group(1)) if m else None


def gaps(text, n=8):
    """The n largest gaps between consecutive kernel log lines: (gap s, at s, line)."""
    stamps = [(float(m.group(1)), m.group(2)) for m in
              re.finditer(r"^vtest-dmesg: \[\s*([\d.]+)\] (.*)$", text, re.M)]
    out = [(b[0] - a[0], b[0], b[1]) for a, b in zip(stamps, stamps[1:])]
    return sorted(out, reverse=True)[:n]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vireo", default="build/vireo")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dmesg", action="store_true")
    args = ap.parse_args()
    kdir = os.path.realpath(os.path.join(CACHE, "linux-current"))
    work = tempfile.mkdtemp(prefix="linux-boot-bench-")
    disk = os.path.join(work, "disk.img")
    initramfs, _ = test_inputs(kdir, work, disk)
    runs = {name: [] for name in variants(kdir)}
    try:
        for r in range(args.rounds):
            for name, (vmm, kernel) in variants(kdir).items():
                wall, up, _, rdy = one_run(args, work, f"r{r}-{vmm}", vmm, kernel, initramfs,
                                           disk)
                runs[name].append((wall, up, rdy))
                print(f"round {r + 1} {name}: user space after {wall:.2f} s wall, "
                      f"{up:.2f} s uptime", flush=True)
        base = statistics.median(w for w, _, _ in runs["qemu q35 bzImage"])
        print(f"\n{args.rounds} interleaved rounds, medians "
              f"(host kernel {os.uname().release}):")
        print("| VMM, kernel | wall to user space (min-max) | guest uptime then | wall - uptime "
              "| of which vireo start to vCPUs started | wall / q35 |")
        print("|---|---|---|---|---|---|")
        for name, rs in runs.items():
            w = statistics.median(x for x, _, _ in rs)
            u = statistics.median(y for _, y, _ in rs)
            pre = statistics.median(x - y for x, y, _ in rs)
            lo, hi = min(x for x, _, _ in rs), max(x for x, _, _ in rs)
            rdy = [z for _, _, z in rs if z is not None]
            rdy_s = f"{statistics.median(rdy):.2f} s" if rdy else "-"
            print(f"| {name} | {w:.2f} s ({lo:.2f}-{hi:.2f}) | {u:.2f} s | {pre:.2f} s "
                  f"| {rdy_s} | {w / base:.2f} |")
        if args.dmesg:
            for name, (vmm, kernel) in variants(kdir).items():
                _, _, text, _ = one_run(args, work, f"dmesg-{vmm}", vmm, kernel, initramfs,
                                        disk, steps="dmesg")
                print(f"\n{name}: the kernel's largest gaps between log lines")
                for g, at, line in gaps(text):
                    print(f"  {g:6.3f} s before [{at:9.3f}] {line[:90]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
