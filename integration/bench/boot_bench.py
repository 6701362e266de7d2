#!/usr/bin/env python3
"""Boot benchmark (not a test): process start -> the guest's first COM1 line, and -> process
exit, for vireo and its peers running the same tiny PVH guest, interleaved run by run.
Prints medians, ratios to vireo and each VMM's peak RSS (ru_maxrss of the child).

usage: boot_bench.py --vireo build/vireo --guest build/integration/guest/tiny.elf [--runs 15]
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

LINE = b"vireo-tiny: hello"
QEMU_COMMON = ["-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", "512M", "-smp", "1",
               "-no-reboot", "-nographic", "-nodefaults", "-no-user-config"]


def peers(args):
    vmms = {"vireo": [args.vireo, "--kernel", args.guest, "--cpus", "boot=1",
                      "--memory", "size=512M", "--serial", "tty", "--console", "off"]}
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        vmms["qemu-q35"] = [qemu, "-M", "q35", *QEMU_COMMON, "-serial", "stdio",
                            "-kernel", args.guest]
        vmms["qemu-microvm"] = [qemu, "-M", "microvm", *QEMU_COMMON, "-serial", "stdio",
                                "-kernel", args.guest]
    lkvm = shutil.which("lkvm") or shutil.which("kvmtool")
    if lkvm:
        vmms["kvmtool"] = [lkvm, "run", "-k", args.guest, "-m", "512", "-c", "1"]
    return vmms


def run_once(cmd, timeout):
    """Returns (seconds to first line or None, seconds to exit, peak RSS KiB, exit status).
    Peak RSS comes from GNU time: wait4() on a child forked from this Python process would
    count the interpreter's pre-exec pages too."""
    rss_file = tempfile.NamedTemporaryFile(prefix="bench-rss-")
    cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *cmd]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    first, buf = None, b""
    os.set_blocking(proc.stdout.fileno(), True)
    deadline = t0 + timeout
    while first is None and time.monotonic() < deadline:
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        if LINE in buf:
            first = time.monotonic() - t0
    try:
        proc.stdout.read()
        status = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except (KeyboardInterrupt, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None, time.monotonic() - t0, 0, -1
    done = time.monotonic() - t0
    with open(rss_file.name, encoding="utf-8") as f:
        rss = int(f.read().split()[-1])
    return first, done, rss, status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    vmms = peers(args)
    results = {name: [] for name in vmms}
    for i in range(args.runs):
        for name, cmd in vmms.items():          # interleaved: one run of each per round
            results[name].append(run_once(cmd, args.timeout))
        print(f"round {i + 1}/{args.runs} done", file=sys.stderr)
    print_table(results, args)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def print_table(results, args):
    print(f"host: {os.uname().release}, kvm-pvm: {os.path.exists('/sys/module/kvm_pvm')}, "
          f"runs: {args.runs}, guest: {os.path.basename(args.guest)}")
    base = {k: median([r[i] for r in results["vireo"]]) for k, i in (("first", 0), ("exit", 1))}
    print("| VMM | first line (ms, median) | ratio to vireo | exit (ms, median) | ratio | "
          "peak RSS (MiB, median) | runs ok |")
    print("|---|---|---|---|---|---|---|")
    for name, rs in results.items():
        first, done = median([r[0] for r in rs]), median([r[1] for r in rs])
        rss = median([r[2] / 1024 for r in rs])
        ok = sum(1 for r in rs if r[0] is not None and r[3] == 0)
        fmt = lambda v: "-" if v is None else f"{v * 1000:.1f}"
        ratio = lambda v, b: "-" if v is None or not b else f"{v / b:.2f}x"
        print(f"| {name} | {fmt(first)} | {ratio(first, base['first'])} | {fmt(done)} | "
              f"{ratio(done, base['exit'])} | {rss:.1f} | {ok}/{len(rs)} |")


main()
