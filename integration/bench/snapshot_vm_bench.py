#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""VM-level snapshot/restore benchmark: vireo against QEMU on the same guest.

The guest is integration/snapshot/chatter.S: it touches 16 MiB, then prints on COM1 without
pause, so the first byte a restored process writes says when the guest runs again. For each
guest size, medians over --runs rounds:
  snapshot  vireo: PUT vm.snapshot on the paused VM (the request, fsyncs and renames included);
            QEMU: `stop`, then QMP `migrate "exec:cat > FILE"` until query-migrate says
            completed (no fsync), max-bandwidth unlimited;
  restore   process start -> first guest byte on the new process's stdout:
            vireo `--restore source_url=...,resume=on` (lazy = OnDemand, and copy);
            QEMU the same command line with `-incoming "exec:cat FILE"` (q35 and microvm);
  baseline  process start -> first byte of `vireo --version` / `qemu-system-x86_64 --version`,
            so "beyond process start" = restore - baseline.
Snapshots land in --dir (ext4 /var/tmp by default); every series starts with one discarded
run, so binaries and snapshot files are in the page cache.

usage: snapshot_vm_bench.py [--build DIR] [--dir DIR] [--runs N] [--no-qemu] [SIZE_MIB...]
"""
import argparse
import json
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "snapshot"))
from vireo_proc import Vireo, read, wait_for, write_config  # noqa: E402

QEMU = "qemu-system-x86_64"
UP = "chatter: up"


def ms(seconds):
    return 1000.0 * seconds


def first_byte(args, env=None):
    """Seconds from spawning `args` to the first byte on its stdout; the process is killed."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    ready = select.select([p.stdout], [], [], 120)[0]
    b = os.read(p.stdout.fileno(), 1) if ready else b""
    t = time.monotonic() - t0
    p.kill()
    p.wait()
    p.stdout.close()
    if not b:
        raise RuntimeError(f"no output within 120 s from {' '.join(args)}")
    return t


# ------------------------------------------------------------------ vireo

def vireo_snapshots(vireo, guest, size, runs, work):
    """Boots the guest, pauses it, takes `runs` snapshots: (seconds each, first snapshot dir)."""
    v = Vireo(vireo, work, f"vireo-{size}")
    serial = os.path.join(work, f"vireo-{size}.serial")
    try:
        cfg = {"payload": {"kernel": guest}, "memory": {"size": size << 20},
               "serial": {"mode": "File", "file": serial}, "console": {"mode": "Off"}}
        for call in (("PUT", "vm.create", cfg), ("PUT", "vm.boot")):
            got = v.call(*call)
            if got[0] != 204:
                raise RuntimeError(f"vireo {call[1]}: {got}")
        if not wait_for(lambda: UP in read(serial), 120):
            raise RuntimeError("vireo: the guest did not come up")
        v.call("PUT", "vm.pause")
        times, dirs = [], []
        for r in range(runs):
            d = os.path.join(work, f"vireo-{size}-{r}")
            os.makedirs(d)
            t0 = time.monotonic()
            got = v.call("PUT", "vm.snapshot", {"destination_url": "file://" + d})
            times.append(time.monotonic() - t0)
            if got[0] != 204:
                raise RuntimeError(f"vireo vm.snapshot: {got}")
            dirs.append(d)
    finally:
        v.kill9()
    for d in dirs[1:]:
        shutil.rmtree(d)
    snap = dirs[0]
    with open(os.path.join(snap, "config.json")) as f:
        cfg = json.load(f)
    cfg["serial"] = {"mode": "Tty"}
    write_config(snap, cfg)
    return times, snap


def warm(measure, runs):
    """`runs` measurements after one discarded (binary and files into the page cache)."""
    measure()
    return [measure() for _ in range(runs)]


def vireo_restores(vireo, snap, runs, copy):
    opts = f"source_url=file://{snap},resume=on" + (",memory_restore_mode=copy" if copy else "")
    return warm(lambda: first_byte([vireo, "--restore", opts]), runs)


def disk_usage(path):
    out = subprocess.run(["du", "-sk", path], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) * 1024


# ------------------------------------------------------------------ QEMU

class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.f = self.sock.makefile("rwb")
        self.reply()
        self.cmd("qmp_capabilities")

    def reply(self):
        while True:
            msg = json.loads(self.f.readline())
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.f.flush()
        msg = self.reply()
        if "error" in msg:
            raise RuntimeError(f"QMP {name}: {msg['error']}")
        return msg["return"]

    def close(self):
        self.f.close()
        self.sock.close()


def qemu_args(machine, size, guest):
    return [QEMU, "-enable-kvm", "-cpu", "host,-arch-capabilities", "-M", machine,
            "-m", str(size), "-nodefaults", "-display", "none", "-monitor", "none",
            "-no-reboot", "-nic", "none", "-kernel", guest]


def qemu_snapshots(machine, guest, size, runs, work):
    serial = os.path.join(work, f"qemu-{machine}-{size}.serial")
    qmp_path = os.path.join(work, f"qemu-{machine}-{size}.qmp")
    # Without the global state in the stream the destination starts running after -incoming
    # (autostart), as vireo does with resume=on; with it, it would stay paused like the source.
    p = subprocess.Popen(qemu_args(machine, size, guest) + [
        "-serial", f"file:{serial}", "-qmp", f"unix:{qmp_path},server=on,wait=off",
        "-global", "migration.store-global-state=off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        if not wait_for(lambda: UP in read(serial) or p.poll() is not None, 300):
            raise RuntimeError(f"QEMU {machine}: the guest did not come up")
        qmp = Qmp(qmp_path)
        qmp.cmd("stop")
        qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
        times, files = [], []
        for r in range(runs):
            path = os.path.join(work, f"qemu-{machine}-{size}-{r}.mig")
            if r:       # QEMU migrates once from a VM paused by a migration: run, stop again
                qmp.cmd("cont")
                qmp.cmd("stop")
            t0 = time.monotonic()
            qmp.cmd("migrate", uri=f"exec:cat > {path}")
            while True:
                st = qmp.cmd("query-migrate").get("status")
                if st in ("completed", "failed", "cancelled"):
                    break
                time.sleep(0.0005)
            times.append(time.monotonic() - t0)
            if st != "completed":
                raise RuntimeError(f"QEMU migrate: {st}")
            files.append(path)
        qmp.close()
    finally:
        os.killpg(p.pid, 9)
        p.wait()
    for f in files[1:]:
        os.unlink(f)
    return times, files[0]


def qemu_restores(machine, guest, size, state, runs):
    args = qemu_args(machine, size, guest) + ["-serial", "stdio", "-incoming",
                                              f"exec:cat {state}"]
    return warm(lambda: first_byte(args), runs)


# ------------------------------------------------------------------ report

def med(xs):
    return ms(statistics.median(xs))


def bench_size(a, size, work, vireo, guest, base):
    r = {"size": size}
    snap_t, snap = vireo_snapshots(vireo, guest, size, a.runs, work)
    r["vireo_snapshot"] = med(snap_t)
    r["vireo_snapshot_bytes"] = disk_usage(snap)
    r["vireo_lazy"] = med(vireo_restores(vireo, snap, a.runs, False))
    r["vireo_copy"] = med(vireo_restores(vireo, snap, a.runs, True))
    r["vireo_lazy_beyond"] = r["vireo_lazy"] - base["vireo"]
    r["vireo_copy_beyond"] = r["vireo_copy"] - base["vireo"]
    shutil.rmtree(snap)
    for m in a.machines if a.qemu else []:
        t, state = qemu_snapshots(m, guest, size, a.runs, work)
        r[f"qemu_{m}_snapshot"] = med(t)
        r[f"qemu_{m}_snapshot_bytes"] = os.path.getsize(state)
        r[f"qemu_{m}_restore"] = med(qemu_restores(m, guest, size, state, a.runs))
        r[f"qemu_{m}_beyond"] = r[f"qemu_{m}_restore"] - base["qemu"]
        os.unlink(state)
    return r


def print_tables(rows, machines):
    print("\nSnapshot of the paused guest (ms; size of what was written):\n")
    head = "| guest | vireo vm.snapshot |" + "".join(f" QEMU {m} migrate | vireo/{m} |"
                                                  for m in machines)
    print(head + "\n|" + "---|" * (2 + 2 * len(machines)))
    for r in rows:
        line = (f"| {r['size']} MiB | {r['vireo_snapshot']:.1f} "
                f"({r['vireo_snapshot_bytes'] >> 10} KiB) |")
        for m in machines:
            line += (f" {r[f'qemu_{m}_snapshot']:.1f} ({r[f'qemu_{m}_snapshot_bytes'] >> 10} "
                     f"KiB) | {r['vireo_snapshot'] / r[f'qemu_{m}_snapshot']:.2f} |")
        print(line)
    print("\nRestore to running: process start -> the guest's first byte (ms; in brackets: "
          "beyond the process-start baseline):\n")
    head = "| guest | vireo lazy | vireo copy |" + "".join(
        f" QEMU {m} -incoming | lazy/{m} | copy/{m} |" for m in machines)
    print(head + "\n|" + "---|" * (3 + 3 * len(machines)))
    for r in rows:
        line = (f"| {r['size']} MiB | {r['vireo_lazy']:.1f} ({r['vireo_lazy_beyond']:.1f}) "
                f"| {r['vireo_copy']:.1f} ({r['vireo_copy_beyond']:.1f}) |")
        for m in machines:
            q = r[f"qemu_{m}_restore"]
            line += (f" {q:.1f} ({r[f'qemu_{m}_beyond']:.1f}) | {r['vireo_lazy'] / q:.3f} "
                     f"| {r['vireo_copy'] / q:.3f} |")
        print(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="meson build directory")
    ap.add_argument("--dir", default="/var/tmp", help="where snapshots are written (real fs)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-qemu", dest="qemu", action="store_false")
    ap.add_argument("--machines", default="q35,microvm", help="QEMU machine types")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("sizes", nargs="*", type=int, default=[256, 1024, 4096])
    a = ap.parse_args()
    a.machines = a.machines.split(",") if a.qemu else []
    vireo = os.path.abspath(os.path.join(a.build, "vireo"))
    guest = os.path.abspath(os.path.join(a.build, "integration", "snapshot", "chatter.elf"))
    for p in (vireo, guest):
        if not os.path.exists(p):
            sys.exit(f"snapshot_vm_bench.py: {p} not built (ninja -C {a.build})")
    if a.qemu and not shutil.which(QEMU):
        sys.exit(f"snapshot_vm_bench.py: {QEMU} not found (--no-qemu to skip the peer)")
    work = tempfile.mkdtemp(prefix="snapvmbench-", dir=a.dir)
    try:
        base = {"vireo": med(warm(lambda: first_byte([vireo, "--version"]), a.runs))}
        if a.qemu:
            base["qemu"] = med(warm(lambda: first_byte([QEMU, "--version"]), a.runs))
        print(f"medians of {a.runs} runs; guest integration/snapshot/chatter.S (16 MiB touched); "
              f"snapshots in {a.dir}, warm page cache; process-start baseline: vireo --version "
              f"{base['vireo']:.1f} ms" + (f", {QEMU} --version {base['qemu']:.1f} ms"
                                          if a.qemu else ""), flush=True)
        rows = []
        for size in a.sizes:
            rows.append(bench_size(a, size, work, vireo, guest, base))
            print(json.dumps(rows[-1]), flush=True)
        print_tables(rows, a.machines)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"baseline_ms": base, "rows": rows}, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
