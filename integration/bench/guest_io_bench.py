#!/usr/bin/env python3
"""Guest I/O benchmark (not a test): virtio-net and virtio-vsock throughput, 64-byte packet
rate and vsock connect latency as a stock Linux guest sees them, vireo against QEMU q35 with
the same kernel, initramfs and guest tool in the same host, contestants interleaved round by
round. Run it on a KVM host (integration/host/kvm-host), after integration/linux/prepare.sh.

net:   vireo's tap backend, QEMU's virtio-net-pci with its userspace tap backend (vhost=off)
       and with vhost-net (vhost=on); one queue pair, a tap in a network namespace of the
       benchmark's own, 192.0.2.0/24.
vsock: vireo's hybrid Unix-socket backend against QEMU's vhost-vsock-pci (AF_VSOCK on the host).

Both ends run integration/linux/bench_tool.c (static in the guest, native on the host); the
guest takes its commands on hvc0 (init.sh step "bench"). Each figure is measured by its
receiver: bytes over the time from accept to EOF, datagrams counted over SECONDS. Beside
each, KVM's own counters of the VM (debugfs: exits, MMIO exits, interrupts injected) per MiB
or per packet: counts that do not depend on how fast the host runs.

usage: guest_io_bench.py [--vireo build/vireo] [--vireo-ref OTHER] [--rounds 3] [--mib 64]
                         [--seconds 5] [--only net|vsock] [--contestant NAME]... [--json OUT]
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "linux"))
from artifacts import BENCH_TOOL, build_tool, test_inputs  # noqa: E402
from vmproc import Qemu, Vireo  # noqa: E402

CACHE = os.environ.get("VIREO_CACHE", "/var/cache/vireo")
WAIT = 600
MIB = 1 << 20
NET = dict(tap="vbtap0", ip="192.0.2.1", mask="255.255.255.0", mac="52:54:00:12:34:57",
           host_mac="02:00:00:00:00:02", mtu=1500, pairs=1)
CID = 42
KVM_DEBUGFS = "/sys/kernel/debug/kvm"
STATS = ("exits", "mmio_exits", "irq_injections")   # KVM's per-VM counters (debugfs)
GUEST_COUNTS = ("tx kicks", "rx kicks", "tx irqs", "rx irqs")   # the guest driver's (net)

CONTESTANTS = {
    "net": [("vireo", {}), ("qemu", {"vhost": False}), ("qemu vhost", {"vhost": True})],
    "vsock": [("vireo", {}), ("qemu vhost-vsock", {})],
}
BASELINE = {"net": "qemu", "vsock": "qemu vhost-vsock"}


class Bench:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.kdir = os.path.realpath(os.path.join(CACHE, "linux-current"))
        self.disk = os.path.join(work, "disk.img")
        self.initramfs, _ = test_inputs(self.kdir, work, self.disk)
        self.tool = build_tool(BENCH_TOOL, out=os.path.join(work, "bench_tool"))
        self.ns = f"vbench{os.getpid()}"

    # --- the host's end ---

    def host(self, argv, netns=True):
        pre = ["ip", "netns", "exec", self.ns] if netns else []
        return subprocess.Popen(pre + [self.tool] + argv, stdout=subprocess.PIPE, text=True)

    @staticmethod
    def result(p, what):
        out, _ = p.communicate(timeout=WAIT)
        m = re.search(r"(bytes|packets|median_us) ([\d.]+) seconds ([\d.]+)", out) or \
            re.search(r"(median_us) ([\d.]+)()", out)
        if p.returncode or not m:
            raise RuntimeError(f"host {what}: status {p.returncode}, output {out!r}")
        return m

    def make_ns(self, qemu):
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        if qemu:   # vireo makes its tap itself from --net tap=,ip=,mask=
            t = NET
            for cmd in (f"ip tuntap add dev {t['tap']} mode tap vnet_hdr",   # one pair
                        f"ip link set {t['tap']} address {t['host_mac']} mtu {t['mtu']} up",
                        f"ip addr add {t['ip']}/24 dev {t['tap']}"):
                subprocess.run(["ip", "netns", "exec", self.ns] + cmd.split(), check=True)

    def drop_ns(self):
        subprocess.run(["ip", "netns", "del", self.ns], check=False)

    # --- KVM's own counters of the VM: exits do not depend on the host's speed ---

    @staticmethod
    def kvm_stats(v):
        if not os.path.isdir(KVM_DEBUGFS):
            subprocess.run(["mount", "-t", "debugfs", "none", "/sys/kernel/debug"], check=False)
        out = dict.fromkeys(STATS, 0)
        for d in os.listdir(KVM_DEBUGFS) if os.path.isdir(KVM_DEBUGFS) else []:
            if d.split("-")[0] == str(v.proc.pid):
                for k in STATS:
                    with open(os.path.join(KVM_DEBUGFS, d, k)) as f:
                        out[k] += int(f.read())
        return out

    def per_unit(self, v, before, units, out, label):
        """KVM exits and interrupts injected per unit of what was just measured, then (net)
        the guest driver's own counts: notifications it sent (kicks) and interrupts it took,
        per queue. @before is (KVM counters, guest counts or None)."""
        after = self.kvm_stats(v)
        for k in STATS:
            out[f"{label}: {k} per {units[1]}"] = (after[k] - before[0][k]) / max(units[0], 1)
        if before[1] is None:
            return
        g = self.guest_counts(v)
        for k in GUEST_COUNTS:
            out[f"{label}: {k} per {units[1]}"] = (g[k] - before[1][k]) / max(units[0], 1)

    def snap(self, v, net):
        """The counters before a measurement: the guest's first (its command makes exits)."""
        g = self.guest_counts(v) if net else None
        return self.kvm_stats(v), g

    def guest_counts(self, v):
        """virtio_net's kicks (ethtool -S) and the interrupts of its queues (/proc/interrupts),
        as the guest counts them: the same for every VMM."""
        s = self.guest(v, "bench_tool nicstats eth0; grep virtio /proc/interrupts")
        self.finish(v, s, "nicstats")
        out = dict.fromkeys(GUEST_COUNTS, 0)
        for _, ln in v.stream("console").lines[s:]:
            # Per queue: tx_queue_0_kicks (Linux 6.1), tx0_kicks (later).
            m = re.match(r"nicstat (tx|rx)(?:_queue_)?\d+_kicks (\d+)$", ln.strip())
            if m:
                out[f"{m.group(1)} kicks"] += int(m.group(2))
            m = re.match(r"\s*\d+:((?:\s+\d+)+)\s.*virtio\d+-(input|output)\.\d+$", ln)
            if m:
                key = "rx irqs" if m.group(2) == "input" else "tx irqs"
                out[key] += sum(int(x) for x in m.group(1).split())
        return out

    # --- the guest's end ---

    def guest(self, v, cmd, ready=None):
        """Types @cmd on hvc0; returns the console index after it, and (with @ready) waits for
        that line first. The caller collects the output with finish()."""
        con = v.stream("console")
        start = len(con.lines)
        v.type_line(cmd)
        if ready and con.wait_for(ready, WAIT, start) is None:
            raise RuntimeError(f"guest {cmd}: no {ready!r}")
        return start

    @staticmethod
    def finish(v, start, what):
        hit = v.stream("console").wait_for(r"^vtest-bench: done (\d+)", WAIT, start)
        if hit is None or hit[2].group(1) != "0":
            raise RuntimeError(f"guest {what}: {hit and hit[2].group(0)}\n"
                               f"{v.stream('console').text()[-2000:]}")
        text = "\n".join(ln for _, ln in v.stream("console").lines[start:hit[0]])
        return re.search(r"(bytes|packets) (\d+) seconds ([\d.]+)", text)

    # --- one boot ---

    def boot(self, kind, name, opts, r):
        vmm = "qemu" if name.startswith("qemu") else "vireo"
        opts = dict(opts)
        binary = opts.pop("binary", self.args.vireo)
        tag = name.replace(" ", "-")
        v = (Vireo(binary, self.work, f"r{r}-{kind}-{tag}") if vmm == "vireo"
             else Qemu(self.work, f"r{r}-{kind}-{tag}"))
        spec = dict(kernel=os.path.join(self.kdir, "bzImage"), initramfs=self.initramfs,
                    cmdline="console=ttyS0 quiet panic=-1 vtest=bench", cpus=2, mem_mib=512,
                    disks=[dict(path=self.disk, serial="bench")])
        if kind == "net":
            self.make_ns(vmm == "qemu")
            spec.update(nets=[dict(NET, **opts)], netns=self.ns)
        else:
            self.hsock = os.path.join(self.work, f"r{r}-vsock.sock")
            spec.update(vsock=dict(cid=CID, socket=self.hsock))
        v.start(spec, "file", "pipe")
        if v.stream("console").wait_for(r"^vtest-bench: ready", WAIT) is None:
            v.finish()
            raise RuntimeError(f"{name}: the guest's bench step did not start\n{tails(v)}")
        return v

    def net_round(self, v):
        nbytes, secs = self.args.mib * MIB, self.args.seconds
        out = {}
        k0 = self.snap(v, True)
        p = self.host(["sink", "tcp:5001"])
        s = self.guest(v, f"bench_tool send tcp:{NET['ip']}:5001 {nbytes}")
        m = self.result(p, "tcp sink")
        self.finish(v, s, "tcp send")
        out["TCP guest→host MiB/s"] = int(m.group(2)) / float(m.group(3)) / MIB
        self.per_unit(v, k0, (int(m.group(2)) / MIB, "MiB"), out, "TCP g→h")
        k0 = self.snap(v, True)
        s = self.guest(v, "bench_tool sink tcp:5002")
        p = self.host(["send", "tcp:192.0.2.2:5002", str(nbytes)])
        self.result(p, "tcp send")
        m = self.finish(v, s, "tcp sink")
        out["TCP host→guest MiB/s"] = int(m.group(2)) / float(m.group(3)) / MIB
        self.per_unit(v, k0, (int(m.group(2)) / MIB, "MiB"), out, "TCP h→g")
        p = self.host(["udp-sink", "5003", str(secs)])
        if p.stdout.readline().strip() != "udp-sink ready":
            raise RuntimeError("host udp-sink did not start")
        k0 = self.snap(v, True)
        s = self.guest(v, f"bench_tool udp-send {NET['ip']} 5003 {secs} 64")
        sent = self.finish(v, s, "udp send")
        m = self.result(p, "udp sink")
        out["64 B UDP guest→host kpps"] = int(m.group(2)) / max(float(m.group(3)), 1e-9) / 1e3
        out["64 B UDP guest→host sent kpps"] = int(sent.group(2)) / float(sent.group(3)) / 1e3
        self.per_unit(v, k0, (int(sent.group(2)), "packet sent"), out, "UDP g→h")
        k0 = self.snap(v, True)
        s = self.guest(v, f"bench_tool udp-sink 5004 {secs}", ready=r"^udp-sink ready")
        p = self.host(["udp-send", "192.0.2.2", "5004", str(secs), "64"])
        self.result(p, "udp send")
        m = self.finish(v, s, "udp sink")
        out["64 B UDP host→guest kpps"] = int(m.group(2)) / max(float(m.group(3)), 1e-9) / 1e3
        self.per_unit(v, k0, (int(m.group(2)), "packet received"), out, "UDP h→g")
        return out

    def vsock_round(self, v, vmm):
        nbytes = self.args.mib * MIB
        target = (lambda port: f"hybrid:{self.hsock}:{port}") if vmm == "vireo" else \
            (lambda port: f"vsock:{CID}:{port}")
        out = {}
        k0 = self.snap(v, False)
        s = self.guest(v, "bench_tool sink vsock:1025")
        p = self.host(["send", target(1025), str(nbytes)], netns=False)
        self.result(p, "vsock send")
        m = self.finish(v, s, "vsock sink")
        out["host→guest MiB/s"] = int(m.group(2)) / float(m.group(3)) / MIB
        self.per_unit(v, k0, (int(m.group(2)) / MIB, "MiB"), out, "h→g")
        k0 = self.snap(v, False)
        listen = f"unix:{self.hsock}_5000" if vmm == "vireo" else "vsock:5000"
        p = self.host(["sink", listen], netns=False)
        s = self.guest(v, f"bench_tool send vsock:2:5000 {nbytes}")
        m = self.result(p, "vsock sink")
        self.finish(v, s, "vsock send")
        out["guest→host MiB/s"] = int(m.group(2)) / float(m.group(3)) / MIB
        self.per_unit(v, k0, (int(m.group(2)) / MIB, "MiB"), out, "g→h")
        p = self.host(["ping", target(1024), "200"], netns=False)
        out["connect+echo µs (median)"] = float(self.result(p, "vsock ping").group(2))
        return out

    def run(self, kind, name, opts, r):
        vmm = "qemu" if name.startswith("qemu") else "vireo"
        v = self.boot(kind, name, opts, r)
        try:
            res = self.net_round(v) if kind == "net" else self.vsock_round(v, vmm)
            v.type_line("exit")
            v.wait_exit(WAIT)
            return res
        finally:
            v.finish()
            if kind == "net":
                self.drop_ns()


def tails(v):
    """The end of what a VMM and its guest said, for a failure message."""
    out = []
    for suffix in ("stderr", "serial", "console", "log"):
        try:
            with open(v.path(suffix), errors="replace") as f:
                out.append(f"--- {suffix}:\n" + "\n".join(f.read().splitlines()[-15:]))
        except FileNotFoundError:
            pass
    return "\n".join(out)


def report(kind, runs):
    base = BASELINE[kind]
    metrics = list(next(iter(runs.values()))[0])
    print(f"\n{kind}: medians of {len(runs[base])} interleaved rounds (lowest-highest), "
          f"ratio to {base}")
    print("| metric | " + " | ".join(runs) + " | " +
          " | ".join(f"{n} / {base}" for n in runs if n != base) + " |")
    print("|---" * (1 + 2 * len(runs) - 1) + "|")
    for k in metrics:
        med = {n: statistics.median(x[k] for x in rs) for n, rs in runs.items()}
        cells = [f"{med[n]:.3g} ({min(x[k] for x in rs):.3g}-{max(x[k] for x in rs):.3g})"
                 for n, rs in runs.items()]
        # Ratios above 1 are better: for latency and exits the baseline over the contestant.
        lower = "µs" in k or " per " in k
        ratio = [(med[base] / med[n] if lower and med[n] else med[n] / med[base] if med[base]
                  else float("nan")) for n in runs if n != base]
        print(f"| {k} | " + " | ".join(cells) + " | " +
              " | ".join(f"{x:.2f}" for x in ratio) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vireo", default="build/vireo")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--only", choices=["net", "vsock"])
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument("--contestant", action="append",
                    help="run only these (vireo, qemu, ...); ratios need the baseline")
    ap.add_argument("--vireo-ref", help="another vireo binary (say, an older build) run as "
                    "the contestant \"vireo ref\"")
    args = ap.parse_args()
    if args.vireo_ref:
        for kind in CONTESTANTS:
            CONTESTANTS[kind].insert(1, ("vireo ref", {"binary": args.vireo_ref}))
    work = tempfile.mkdtemp(prefix="guest-io-bench-")
    results = {}
    try:
        b = Bench(args, work)
        kinds = [args.only] if args.only else ["net", "vsock"]
        for kind in kinds:
            results[kind] = {name: [] for name, _ in CONTESTANTS[kind]}
        for r in range(args.rounds):
            for kind in kinds:
                order = CONTESTANTS[kind][r % len(CONTESTANTS[kind]):] + \
                    CONTESTANTS[kind][:r % len(CONTESTANTS[kind])]
                for name, opts in order:
                    if args.contestant and name not in args.contestant:
                        continue
                    try:
                        res = b.run(kind, name, opts, r)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        # A loaded host can miss a deadline: say so, keep the other runs.
                        print(f"round {r + 1} {kind} {name}: failed: {e}", flush=True)
                        continue
                    results[kind][name].append(res)
                    print(f"round {r + 1} {kind} {name}: " +
                          ", ".join(f"{k} {x:.3g}" for k, x in res.items()), flush=True)
        print(f"\nhost kernel {os.uname().release}, guest 2 vCPUs 512 MiB, "
              f"{args.mib} MiB per stream, {args.seconds} s per packet run")
        for kind in kinds:
            ran = {n: rs for n, rs in results[kind].items() if rs}
            if BASELINE[kind] in ran:
                report(kind, ran)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
