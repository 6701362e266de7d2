#!/usr/bin/env python3
"""virtio-fs benchmark (not a test): a stock Linux guest reading a large file and running a
metadata-heavy loop through virtio-fs, vireo against QEMU's vhost-user-fs-pci, both served by
the same Debian virtiofsd (cache=none) with the same kernel and initramfs in the same host,
contestants interleaved round by round. Run it on a KVM host (integration/host/kvm-host),
after integration/linux/prepare.sh.

Per boot: the guest mounts the share, drops its caches and reads a MIB-MiB file with
bench_tool fsread (bytes over the time from open to EOF), then bench_tool fsmeta creates,
stats and unlinks FILES files one after the other (files per second). virtiofsd runs with
cache=none, so every read and every lookup crosses the vhost-user queues; the host's page
cache holds the file, so the figure is the transport's, not the disk's.

usage: fs_bench.py [--vireo build/vireo] [--rounds 3] [--mib 256] [--files 2000] [--json OUT]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "linux"))
from guest_io_bench import Bench, tails  # noqa: E402
from vmproc import Qemu, Vireo  # noqa: E402

VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
TAG = "benchfs"
WAIT = 600
MIB = 1 << 20
CONTESTANTS = ["vireo", "qemu"]


class FsBench(Bench):
    def start_virtiofsd(self, name):
        sock = os.path.join(self.work, f"{name}.sock")
        log = open(os.path.join(self.work, f"{name}.virtiofsd.log"), "wb")
        p = subprocess.Popen([VIRTIOFSD, f"--socket-path={sock}", "-o",
                              f"source={self.share}", "-o", "cache=none", "-o", "sandbox=chroot"],
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(sock) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)   # waiting for the backend's socket, bounded
        if not os.path.exists(sock):
            p.kill()
            raise RuntimeError("virtiofsd did not start")
        return p, sock

    def command(self, v, cmd, what):
        s = self.guest(v, cmd)
        hit = v.stream("console").wait_for(r"^vtest-bench: done (\d+)", WAIT, s)
        text = "\n".join(ln for _, ln in v.stream("console").lines[s:hit[0]]) if hit else ""
        m = re.search(r"(bytes|files) (\d+) seconds ([\d.]+)", text)
        if hit is None or hit[2].group(1) != "0" or (what and not m):
            raise RuntimeError(f"guest {cmd}: {text[-1000:]}\n{tails(v)}")
        return m

    def run_one(self, name, r):
        p, sock = self.start_virtiofsd(f"r{r}-{name}")
        v = (Vireo(self.args.vireo, self.work, f"r{r}-fs-vireo") if name == "vireo"
             else Qemu(self.work, f"r{r}-fs-qemu"))
        spec = dict(kernel=os.path.join(self.kdir, "bzImage"), initramfs=self.initramfs,
                    cmdline="console=ttyS0 quiet panic=-1 vtest=bench", cpus=2, mem_mib=512,
                    disks=[dict(path=self.disk, serial="bench")], shared_memory=True,
                    fs=dict(tag=TAG, socket=sock))
        try:
            v.start(spec, "file", "pipe")
            if v.stream("console").wait_for(r"^vtest-bench: ready", WAIT) is None:
                raise RuntimeError(f"{name}: the guest's bench step did not start\n{tails(v)}")
            self.command(v, f"mkdir -p /mnt/fs && mount -t virtiofs {TAG} /mnt/fs", None)
            m = self.command(v, "echo 3 > /proc/sys/vm/drop_caches && "
                             "bench_tool fsread /mnt/fs/big", "read")
            out = {"sequential read MiB/s": int(m.group(2)) / float(m.group(3)) / MIB}
            self.command(v, f"rm -rf /mnt/fs/meta-{name} && mkdir /mnt/fs/meta-{name}", None)
            m = self.command(v, f"bench_tool fsmeta /mnt/fs/meta-{name} {self.args.files}",
                             "meta")
            out["create+stat+unlink files/s"] = int(m.group(2)) / float(m.group(3))
            self.command(v, "umount /mnt/fs", None)
            v.type_line("exit")
            v.wait_exit(WAIT)
            return out
        finally:
            v.finish()
            if p.poll() is None:
                p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vireo", default="build/vireo")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--json")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="fs-bench-")
    runs = {n: [] for n in CONTESTANTS}
    try:
        b = FsBench(args, work)
        b.share = os.path.join(work, "share")
        os.mkdir(b.share)
        with open(os.path.join(b.share, "big"), "wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(MIB))
        for r in range(args.rounds):
            for name in CONTESTANTS[r % 2:] + CONTESTANTS[:r % 2]:
                res = b.run_one(name, r)
                runs[name].append(res)
                print(f"round {r + 1} {name}: " +
                      ", ".join(f"{k} {x:.4g}" for k, x in res.items()), flush=True)
        print(f"\nhost kernel {os.uname().release}, guest 2 vCPUs 512 MiB, virtiofsd "
              f"cache=none, {args.mib} MiB file, {args.files} files; medians of {args.rounds} "
              f"interleaved rounds (lowest-highest), ratio vireo / qemu (above 1: vireo faster)")
        print("| metric | vireo | qemu | vireo / qemu |\n|---|---|---|---|")
        for k in runs["vireo"][0]:
            med = {n: statistics.median(x[k] for x in runs[n]) for n in CONTESTANTS}
            cells = [f"{med[n]:.4g} ({min(x[k] for x in runs[n]):.4g}-"
                     f"{max(x[k] for x in runs[n]):.4g})" for n in CONTESTANTS]
            print(f"| {k} | {cells[0]} | {cells[1]} | {med['vireo'] / med['qemu']:.2f} |")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(runs, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
