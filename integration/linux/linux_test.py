#!/usr/bin/env python3
"""The stock-Linux suite: Debian's cloud kernel as shipped, with a busybox initramfs whose /init
(init.sh) reports what user space sees, booted under vireo or, as the reference that shows the
checks are right, under QEMU q35 with KVM, with the same devices. Needs a real KVM host
(integration/host/kvm-host) and the kernel from integration/linux/prepare.sh.

usage: linux_test.py --vmm vireo|qemu [--vireo PATH] SCENARIO
Scenarios (see SCENARIOS): boot-bzimage-1cpu, boot-pvh-2cpu, boot-bzimage-4cpu, console,
durable, reboot, pause, snapshot, net, vsock, vsock-snapshot, clh-replay, clh-replay-fs, fs,
vhost-net, hotplug. Prints what it checked, one line each, and exits 0 only if
every check passed; on failure the VMM's output and log are printed."""
import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from artifacts import make_blank, test_inputs  # noqa: E402
from ch_client import ChClient, disk_config, kata_vm_config  # noqa: E402
from vmproc import FileLines, Qemu, Vireo  # noqa: E402
import fs_scenario  # noqa: E402
import vhost_net_scenario  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("VIREO_CACHE", "/var/cache/vireo")
WAIT = 300            # seconds for any one thing the guest must do (nested TCG hosts are slow)
MIB = 1 << 20


class Failed(Exception):
    pass


def check(ok, what):
    print(f"{'PASS' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        raise Failed(what)


# --- inputs ---------------------------------------------------------------------------------

def kernel_dir():
    d = os.path.join(CACHE, "linux-current")
    if not os.path.exists(os.path.join(d, "vmlinux")):
        sys.exit(f"linux_test: no kernel in {d}: run integration/linux/prepare.sh first")
    return os.path.realpath(d)


# --- one test -------------------------------------------------------------------------------

class Test:
    def __init__(self, args, work):
        self.args, self.work, self.vms, self.namespaces, self.peers = args, work, [], [], []
        self.kdir = kernel_dir()
        self.disk = os.path.join(work, "disk.img")
        self.initramfs, self.vda1_md5 = test_inputs(self.kdir, work, self.disk)
        print(f"kernel: {open(os.path.join(self.kdir, 'package')).read().strip()}", flush=True)

    def boot_spec(self, kernel="bzImage", cpus=1, steps=(), disks=None, extra=""):
        cmdline = f"console=ttyS0 quiet panic=-1 vtest={','.join(steps)} {extra}".strip()
        if disks is None:
            disks = [dict(path=self.disk, serial="vtest-main")]
        return dict(kernel=os.path.join(self.kdir, kernel), initramfs=self.initramfs,
                    cmdline=cmdline, cpus=cpus, mem_mib=512, disks=disks)

    def vm(self, name):
        v = (Vireo(self.args.vireo, self.work, name) if self.args.vmm == "vireo"
             else Qemu(self.work, name))
        self.vms.append(v)
        return v

    def start(self, name, spec, serial="pipe", console="file", **kw):
        v = self.vm(name)
        v.start(spec, serial, console, **kw)
        return v

    def expect(self, v, stream, pattern, what, start=0):
        hit = v.stream(stream).wait_for(pattern, WAIT, start)
        check(hit is not None, what)
        return hit

    def user_space(self, v, stream="serial"):
        i, t, m = self.expect(v, stream, r"vtest: user space at uptime ([\d.]+)",
                              "the guest reached user space")
        wall = t - v.started
        print(f"time: {self.args.vmm} user space after {wall:.2f} s wall, "
              f"{float(m.group(1)):.2f} s of guest uptime", flush=True)
        return i

    def powered_off(self, v, stream="serial"):
        self.expect(v, stream, r"vtest: done, powering off", "the guest ran every step")
        status = v.wait_exit(WAIT)
        check(status == 0, f"poweroff from user space ended the VMM with 0 (got {status})")

    def lines(self, v, stream, prefix):
        return [ln[len(prefix):] for ln in v.stream(stream).text().splitlines()
                if ln.startswith(prefix)]

    # --- checks on what /init reported ---

    def check_cpus(self, v, n):
        want = "0" if n == 1 else f"0-{n - 1}"
        got = self.lines(v, "serial", "vtest: cpus online ")
        check(got == [f"{want} count {n}"], f"{n} vCPUs online ({got})")

    def check_pci(self, v, ids, stream="serial"):
        funcs = [ln.split() for ln in self.lines(v, stream, "vtest: pci ")]
        for want in ids:
            hits = [f for f in funcs if f[1] == want]
            check(len(hits) >= 1 and all(f[3] == "virtio-pci" for f in hits),
                  f"virtio function {want} bound to virtio-pci")
            vectors = [x.split("=")[1] for f in hits for x in f[5:]]
            check(vectors and all(k == "msix" for k in vectors),
                  f"{want}: every vector is MSI-X ({' '.join(vectors)})")

    def irq_tables(self, v, stream="serial"):
        """Each irqs step's table {vector name: (irq, total, chip)}, with vector names given as
        TYPE-QUEUE (console-input, rng-input, blk-req.0, ...) from the step's device list."""
        kinds = {"0x0001": "net", "0x0002": "blk", "0x0003": "console", "0x0004": "rng"}
        dev, tables, cur = {}, [], None
        for ln in v.stream(stream).text().splitlines():
            m = re.match(r"vtest: virtio (virtio\d+) device (\w+)", ln)
            if m:
                if cur is not None:
                    tables.append(cur)
                    cur = None
                dev[m.group(1)] = kinds.get(m.group(2), m.group(2))
                continue
            m = re.match(r"vtest: irq (\d+) total (\d+) chip (\S+) name (virtio\d+)-(\S+)", ln)
            if m:
                cur = {} if cur is None else cur
                name = f"{dev.get(m.group(4), m.group(4))}-{m.group(5)}"
                cur[name] = (int(m.group(1)), int(m.group(2)), m.group(3))
            elif cur is not None:
                tables.append(cur)
                cur = None
        if cur is not None:
            tables.append(cur)
        return tables

    def check_irqs(self, v, queues, stream="serial"):
        """Every named queue has its own MSI vector, and its count went up between the first
        and the last irqs step; `queues` are regexes of TYPE-QUEUE names (blk-req.0, ...)."""
        tables = self.irq_tables(v, stream)
        check(len(tables) >= 2, f"/proc/interrupts read twice ({len(tables)})")
        before, after = tables[0], tables[-1]
        for rx in queues:
            names = [n for n in after if re.fullmatch(rx, n)]
            check(len(names) >= 1, f"a vector named {rx} ({sorted(after)})")
            for n in names:
                irq, total, chip = after[n]
                check(chip.startswith("PCI-MSI"), f"{n} is on {chip}")
                old = before.get(n, (0, 0, ""))[1]
                check(total > old, f"{n} counted up ({old} -> {total})")
        irqs = [i for i, _, _ in after.values()]
        check(len(irqs) == len(set(irqs)), "no two virtio vectors share an interrupt")

    def check_rng(self, v):
        cur = self.lines(v, "serial", "vtest: hwrng current ")
        check(len(cur) == 1 and cur[0].startswith("virtio_rng."), f"hwrng source is {cur}")
        reads = self.lines(v, "serial", "vtest: hwrng read ")
        ok = len(reads) == 1 and len(set(reads[0].split())) == 2
        check(ok, f"/dev/hwrng gave two different 64-byte reads ({reads})")

    def check_disks(self, v, disks):
        """disks: [(name, sectors, ro, queues)]; and vda1's MD5 is the host's."""
        got = self.lines(v, "serial", "vtest: disk ")
        for name, sectors, ro, queues in disks:
            want = f"{name} sectors {sectors} ro {ro} queues {queues} "
            check(any(g.startswith(want) for g in got), f"disk {want.strip()} ({got})")
        parts = self.lines(v, "serial", "vtest: partition vda1 md5 ")
        check(parts == [self.vda1_md5], f"vda1 md5 {parts} is the host's {self.vda1_md5}")

    # --- scenarios ---

    def boot(self, kernel, cpus, mq=False):
        steps = ["cpus", "pci", "irqs", "rng", "blk", "hvcwrite", "irqs"]
        disks = [dict(path=self.disk, serial="vtest-main", queues=4 if mq else 1)]
        if mq:
            ro = os.path.join(self.work, "ro.img")
            make_blank(ro)
            disks.append(dict(path=ro, serial="vtest-ro", readonly=True))
            steps[5:5] = ["mq", "ro"]
        # vCPU hotplug rides on the one-vCPU boot (vireo only: QEMU's needs device_add).
        hotcpu = cpus == 1 and self.args.vmm == "vireo"
        if hotcpu:
            steps.insert(1, "hotcpu")
        spec = self.boot_spec(kernel, cpus, steps, disks)
        if hotcpu:
            spec["max_cpus"] = 2
        v = self.start("vm", spec)
        self.user_space(v)
        if hotcpu:
            self.resize_1_2_1(v)
        self.powered_off(v)
        self.check_cpus(v, cpus)
        self.check_pci(v, ["1af4:1042", "1af4:1043", "1af4:1044"])
        self.check_rng(v)
        want = [("vda", 64 * 2048, 0, 4 if mq else 1)]
        if mq:
            want.append(("vdb", 8 * 2048, 1, 1))
            check(self.lines(v, "serial", "vtest: ro write ") == ["failed as it must"],
                  "a write to the readonly=on disk failed")
        self.check_disks(v, want)
        # The console's input queue has nothing to deliver here: the console scenario has it.
        self.check_irqs(v, ["rng-input", "console-output", r"blk-req\.[0-3]" if mq else "blk-req.0"])
        if mq:
            check(len([n for n in self.irq_tables(v)[-1] if n.startswith("blk-req.")]) == 4,
                  "four request queues, four vectors")

    def resize_1_2_1(self, v):
        """vm.resize 1 -> 2 -> 1: the guest sees cpu1 come (and onlines it) and go."""
        i, _, _ = self.expect(v, "serial", r"vtest: hotcpu waiting for cpu1, cpus 0 count 1$",
                              "the guest starts with one CPU of two possible")
        st, body = v.api("vm.resize", {"desired_vcpus": 2})
        check(st == 204, f"vm.resize to 2 answered 204 ({st} {body})")
        st, body = v.api("vm.info", method="GET")
        check(st == 200 and json.loads(body)["config"]["cpus"] == {"boot_vcpus": 2,
                                                                   "max_vcpus": 2},
              f"vm.info shows boot_vcpus 2 of max 2 ({body[:80]})")
        i, _, _ = self.expect(v, "serial", r"vtest: hotcpu cpu1 online 1, cpus 0-1 count 2$",
                              "cpu1 appeared, came online and is in /proc/cpuinfo", i)
        st, body = v.api("vm.resize", {"desired_vcpus": 3})
        check(st == 400 and "desired_vcpus" in body, f"vm.resize to 3 > max: 400 ({body})")
        st, body = v.api("vm.resize", {"desired_ram": 1 << 30})
        check(st == 400 and "desired_ram" in body, f"vm.resize desired_ram: 400 ({body})")
        st, body = v.api("vm.resize", {"desired_vcpus": 1})
        check(st == 204, f"vm.resize to 1 answered 204 ({st} {body})")
        self.expect(v, "serial", r"vtest: hotcpu cpu1 gone, cpus 0 count 1$",
                    "the guest ejected cpu1: gone from sysfs and /proc/cpuinfo", i)

    def console(self):
        v = self.start("vm", self.boot_spec(steps=["irqs", "console", "irqs"]), serial="file",
                       console="pipe")
        self.expect(v, "console", r"^vtest-hvc0: ready$", "hvc0 is open in the guest")
        token = f"hello-{os.getpid()}-{time.time_ns() % 100000}"
        v.type_line(token)
        self.expect(v, "console", rf"^vtest-hvc0: got {token}$",
                    "a line typed on the host reached the guest's hvc0 and its answer came back")
        status = v.wait_exit(WAIT)
        check(status == 0, f"poweroff ended the VMM with 0 (got {status})")
        self.check_irqs(v, ["console-input", "console-output"])

    def scratch_spec(self, steps, scratch):
        disks = [dict(path=self.disk, serial="vtest-main"),
                 dict(path=scratch, serial="vtest-scratch")]
        return self.boot_spec(steps=steps, disks=disks, extra="vtest.disk=/dev/vdb")

    def durable(self):
        scratch = os.path.join(self.work, "scratch.img")
        make_blank(scratch)
        v = self.start("first", self.scratch_spec(["durable"], scratch))
        _, _, m = self.expect(v, "serial", r"vtest: durable written md5 (\w+)",
                              "the guest wrote 1 MiB to the scratch disk and flushed")
        v.kill()
        with open(scratch, "rb") as f:
            f.seek(MIB)
            on_disk = hashlib.md5(f.read(MIB)).hexdigest()
        check(on_disk == m.group(1), "after kill -9 of the VMM the image holds the flushed data")
        v = self.start("second", self.scratch_spec(["readback"], scratch))
        self.expect(v, "serial", rf"vtest: readback md5 {m.group(1)}",
                    "a fresh boot reads the same data back")
        self.powered_off(v)

    def reboot(self):
        scratch = os.path.join(self.work, "scratch.img")
        make_blank(scratch)
        v = self.vm("vm")
        v.start(self.scratch_spec(["reboot"], scratch), "pipe", "file",
                **({"reboot": True} if self.args.vmm == "qemu" else {}))
        i, _, _ = self.expect(v, "serial", r"vtest: rebooting", "the guest asked to reboot")
        self.expect(v, "serial", r"vtest: user space at uptime", "the guest booted again", i)
        self.expect(v, "serial", r"vtest: second boot after reboot",
                    "the second boot found the first boot's mark on disk", i)
        self.powered_off(v)

    def ticks(self, vms, since=0):
        """Every tick line of these processes' consoles, in order."""
        out = []
        for v in vms:
            out += re.findall(r"^tick (\d+) boot (\w+)$", v.stream("console").text(), re.M)
        return [(int(n), tok) for n, tok in out]

    def check_ticks(self, vms, what):
        t = self.ticks(vms)
        nums = [n for n, _ in t]
        ok = bool(t) and nums == list(range(nums[0], nums[0] + len(nums))) and nums[0] == 0
        check(ok and len({tok for _, tok in t}) == 1,
              f"{what}: ticks 0..{nums[-1] if nums else '?'} with one boot token, no gap, "
              f"no repeat")

    def wait_tick(self, v, n, what):
        self.expect(v, "console", rf"^tick {n} boot ", what)

    def pause(self):
        v = self.start("vm", self.boot_spec(steps=["ticker"]), serial="file", console="pipe")
        self.wait_tick(v, 5, "the guest's counter runs")
        self.vmm_pause(v)
        last = max(n for n, _ in self.ticks([v]))
        self.vmm_resume(v)
        self.wait_tick(v, last + 5, "the counter carries on after resume")
        self.stop_ticker([v])
        self.check_ticks([v], "pause/resume")

    def snapshot(self):
        snap = os.path.join(self.work, "snap")
        v = self.start("p1", self.boot_spec(steps=["ticker"]), serial="file", console="pipe")
        self.wait_tick(v, 5, "the guest's counter runs")
        chain = [v]
        for k, how in enumerate(["cli", "api"]):
            last = self.snapshot_and_kill(v, snap + str(k))
            v = self.restore(f"p{k + 2}", snap + str(k), how)
            chain.append(v)
            self.wait_tick(v, last + 5, f"the counter carries on in a new process ({how})")
        self.stop_ticker(chain)
        self.check_ticks(chain, "snapshot, kill -9, restore, twice")

    def stop_ticker(self, chain):
        v = chain[-1]
        v.type_line("stop")
        status = v.wait_exit(WAIT)
        check(status == 0, f"\"stop\" on hvc0, then poweroff, ended the VMM with 0 ({status})")
        # A restored vireo writes the serial console to the file its snapshot names.
        check(any("vtest: ticker stopped" in FileLines(x.path("serial")).text() for x in chain),
              "the ticker saw stop")

    # --- the VMM-specific halves of pause, snapshot and restore ---

    def vmm_pause(self, v):
        if isinstance(v, Vireo):
            check(v.api("vm.pause")[0] == 204, "vm.pause answered 204 (curl)")
            st, body = v.api("vm.info", method="GET")
            check(st == 200 and '"state":"Paused"' in body.replace(" ", ""),
                  "vm.info says Paused")
        else:
            check("return" in v.qmp("stop"), "QMP stop")

    def vmm_resume(self, v):
        if isinstance(v, Vireo):
            check(v.api("vm.resume")[0] == 204, "vm.resume answered 204 (curl)")
        else:
            check("return" in v.qmp("cont"), "QMP cont")

    def snapshot_and_kill(self, v, snap):
        self.vmm_pause(v)
        if isinstance(v, Vireo):
            os.mkdir(snap, 0o700)   # as with Cloud Hypervisor, the directory must exist
            st, body = v.api("vm.snapshot", {"destination_url": f"file://{snap}"})
            check(st == 204, f"vm.snapshot answered 204 (curl) ({st} {body})")
        else:
            r = v.qmp("migrate", uri=f"exec:cat > {snap}")
            check("return" in r, f"QMP migrate to a file ({r})")
            while v.qmp("query-migrate")["return"].get("status") not in ("completed", "failed"):
                time.sleep(0.05)   # polling QEMU's own state, bounded by the test timeout
            check(v.qmp("query-migrate")["return"]["status"] == "completed", "migration done")
        last = max(n for n, _ in self.ticks([v]))
        v.kill()
        return last

    def restore(self, name, snap, how):
        v = self.vm(name)
        if isinstance(v, Qemu):
            spec = self.boot_spec(steps=["ticker"])
            v.start(spec, "file", "pipe", incoming=snap)
            while v.qmp("query-status")["return"]["status"] == "inmigrate":
                time.sleep(0.05)   # polling QEMU's own state, bounded by the test timeout
            self.vmm_resume(v)
            return v
        if how == "cli":
            v.start(None, "file", "pipe", restore=snap)
            check(v.wait_socket(WAIT), "the restored vireo serves its API")
        else:
            v.start_api_only()
            check(v.wait_socket(WAIT), "a fresh vireo serves its API")
            st, body = v.api("vm.restore", {"source_url": f"file://{snap}"})
            check(st == 204, f"vm.restore answered 204 (curl) ({st} {body})")
        self.vmm_resume(v)
        return v

    # --- network: a tap in a namespace of the test's own, 192.0.2.0/24 only ---

    NET = dict(tap="vtap0", ip="192.0.2.1", mask="255.255.255.0", mac="52:54:00:12:34:56",
               host_mac="02:00:00:00:00:01", mtu=1400, pairs=2)
    NET_BYTES = 4 * MIB

    def netns(self):
        ns = f"vtest{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        self.namespaces.append(ns)
        if self.args.vmm == "qemu":   # vireo makes and configures its tap itself
            t = self.NET
            for cmd in (f"ip tuntap add dev {t['tap']} mode tap multi_queue vnet_hdr",
                        f"ip link set {t['tap']} address {t['host_mac']} mtu {t['mtu']} up",
                        f"ip addr add {t['ip']}/24 dev {t['tap']}"):
                subprocess.run(["ip", "netns", "exec", ns] + cmd.split(), check=True)
        return ns

    def in_ns(self, ns, argv):
        p = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        self.peers.append(p)
        return p

    def peer(self, ns, *args):
        return self.in_ns(ns, [sys.executable, os.path.join(HERE, "net_peer.py")] +
                          [str(a) for a in args])

    def net(self):
        ns = self.netns()
        listener = self.peer(ns, "listen", 5001, WAIT)
        spec = self.boot_spec("bzImage", 2, ["pci", "irqs", "net", "irqs"],
                              extra=f"vtest.netbytes={self.NET_BYTES}")
        spec.update(nets=[self.NET], netns=ns)
        v = self.start("vm", spec)
        self.net_checks(v, ns, listener, "serial")

    def tap_up(self, ns):
        """The host end of a tap the test opened: address, host MAC, MTU, up."""
        t = self.NET
        for cmd in (f"ip link set {t['tap']} address {t['host_mac']} mtu {t['mtu']} up",
                    f"ip addr add {t['ip']}/24 dev {t['tap']}"):
            subprocess.run(["ip", "netns", "exec", ns] + cmd.split(), check=True)

    def put_fds(self, ns, v, endpoint, body, what):
        t = self.NET
        p = self.peer(ns, "fds", v.sock, endpoint, json.dumps(body), t["tap"], t["pairs"])
        out = p.communicate(timeout=WAIT)[0].decode()
        check(out.startswith("status 204"), f"{what} answered 204 ({out.strip()})")

    def net_fds(self, restore=False):
        """Kata's way: vm.create, then the orchestrator opens the tap itself and hands its fds
        over with vm.add-net (SCM_RIGHTS), then vm.boot; vireo never sees the tap's name.
        With @restore: snapshot mid-way, kill -9, and vm.restore with net_fds and a new tap."""
        ns, t = self.netns(), self.NET
        listener = self.peer(ns, "listen", 5001, WAIT)
        spec = self.boot_spec("bzImage", 2, ["pci", "irqs", "net", "irqs"],
                              extra=f"vtest.netbytes={self.NET_BYTES}")
        v = self.vm("vm")
        v.start_api_only(netns=ns)
        check(v.wait_socket(WAIT), "vireo serves its API")
        st, body = v.api("vm.create", {
            "payload": {"kernel": spec["kernel"], "initramfs": spec["initramfs"],
                        "cmdline": spec["cmdline"]},
            "cpus": {"boot_vcpus": 2, "max_vcpus": 2}, "memory": {"size": 512 * MIB},
            "serial": {"mode": "Tty"}, "console": {"mode": "Off"},
            "disks": [{"path": self.disk, "serial": "vtest-main"}]})
        check(st == 204, f"vm.create answered 204 ({st} {body})")
        self.put_fds(ns, v, "vm.add-net", {"mac": t["mac"], "mtu": t["mtu"],
                                           "num_queues": 2 * t["pairs"], "id": "tapnet"},
                     "vm.add-net with 2 tap fds")
        self.tap_up(ns)
        st, body = v.api("vm.boot")
        check(st == 204, f"vm.boot answered 204 ({st} {body})")
        if not restore:
            self.net_checks(v, ns, listener, "console")
            return
        self.user_space(v, "console")
        self.expect(v, "console", r"vtest: net listening", "the guest listens on port 5002")
        snap = os.path.join(self.work, "snap")
        self.vmm_pause(v)
        os.mkdir(snap, 0o700)
        st, body = v.api("vm.snapshot", {"destination_url": f"file://{snap}"})
        check(st == 204, f"vm.snapshot answered 204 ({st} {body})")
        v = self.restore_new_taps(v, ns, "p2", snap, "vm.restore with net_fds and 2 new tap fds")
        self.tap_up(ns)
        self.vmm_resume(v)
        # serial Tty: the restored guest's console is the new process's stdout
        self.net_traffic(v, ns, listener, "console")
        self.powered_off(v, "console")

    def restore_new_taps(self, v, ns, name, snap, what):
        """Kill `v` (its tap goes with its last fd), start a fresh vireo `name` and vm.restore
        `snap` in it with 2 new tap fds for net "tapnet" (net_fds, SCM_RIGHTS): Kata's way."""
        v.kill()
        v = self.vm(name)
        v.start_api_only(netns=ns)
        check(v.wait_socket(WAIT), "a fresh vireo serves its API")
        self.put_fds(ns, v, "vm.restore", {"source_url": f"file://{snap}",
                                           "net_fds": [{"id": "tapnet", "num_fds": 2}]}, what)
        return v

    def net_snapshot(self):
        """Traffic across a snapshot: paused with the guest waiting for the host's data,
        snapshotted, killed, restored in a new process (which makes the tap again, same
        name, address and host_mac), resumed; then both directions as in the net scenario."""
        ns = self.netns()
        listener = self.peer(ns, "listen", 5001, WAIT)
        spec = self.boot_spec("bzImage", 2, ["net"], extra=f"vtest.netbytes={self.NET_BYTES}")
        spec.update(nets=[self.NET], netns=ns)
        v = self.start("p1", spec)
        self.user_space(v)
        _, _, m = self.expect(v, "serial", r"vtest: net ping host (\w+)", "the guest pinged")
        check(m.group(1) == "ok", "the guest pinged the tap's host end from every vCPU")
        self.expect(v, "serial", r"vtest: net listening", "the guest listens on port 5002")
        v = self.snapshot_restart(v, "p2", ns)
        self.vmm_resume(v)
        self.net_traffic(v, ns, listener, "serial")
        self.powered_off(v)

    def snapshot_restart(self, v, name, ns, paused=False):
        """Pause (unless `paused`), snapshot into work/snap, kill -9, and --restore it in a new
        vireo (paused)."""
        snap = os.path.join(self.work, "snap")
        if not paused:
            self.vmm_pause(v)
        os.mkdir(snap, 0o700)
        st, body = v.api("vm.snapshot", {"destination_url": f"file://{snap}"})
        check(st == 204, f"vm.snapshot answered 204 ({st} {body})")
        v.kill()
        v = self.vm(name)
        v.start(None, "pipe", "file", restore=snap, netns=ns)
        check(v.wait_socket(WAIT), "the restored vireo serves its API")
        return v

    def net_checks(self, v, ns, listener, stream):
        self.user_space(v, stream)
        _, _, m = self.expect(v, stream, r"vtest: net eth0 mac (\S+) mtu (\d+) txqueues (\d+)",
                              "eth0 came up")
        check(m.group(1) == self.NET["mac"], f"eth0 has the configured MAC ({m.group(1)})")
        check(int(m.group(2)) == self.NET["mtu"], f"eth0 has the configured MTU ({m.group(2)})")
        check(int(m.group(3)) == 2, f"eth0 has 2 transmit queues ({m.group(3)})")
        _, _, m = self.expect(v, stream, r"vtest: net features ([01]+)", "features read")
        # CSUM, GUEST_CSUM, MTU, MAC, GUEST_TSO4/6, HOST_TSO4/6, MRG_RXBUF, STATUS, CTRL_VQ,
        # MQ, VERSION_1 (5.1.3): the offloads reach the tap and back.
        want = [0, 1, 3, 5, 7, 8, 11, 12, 15, 16, 17, 22, 32]
        missing = [b for b in want if b >= len(m.group(1)) or m.group(1)[b] != "1"]
        check(not missing, f"the driver negotiated offloads, MRG_RXBUF, MQ (missing {missing})")
        _, _, m = self.expect(v, stream, r"vtest: net ping host (\w+)", "the guest pinged")
        check(m.group(1) == "ok", "the guest pinged the tap's host end from every vCPU")
        self.expect(v, stream, r"vtest: net listening", "the guest listens on port 5002")
        self.net_traffic(v, ns, listener, stream)
        self.powered_off(v, stream)
        self.check_pci(v, ["1af4:1041"], stream)
        self.check_irqs(v, [r"net-output\.0", r"net-output\.1", r"net-input\.0"], stream)

    def net_traffic(self, v, ns, listener, stream):
        """The host pings the guest, sends NET_BYTES; the guest sends as many back."""
        ping = subprocess.run(["ip", "netns", "exec", ns, "busybox", "ping", "-c", "3", "-w",
                               str(WAIT), "192.0.2.2"], stdout=subprocess.PIPE, check=False)
        check(ping.returncode == 0, "the host pinged the guest")
        sender = self.peer(ns, "send", "192.0.2.2", 5002, self.NET_BYTES, os.getpid(), WAIT)
        sent = sender.communicate(timeout=WAIT)[0].decode().split()
        check(len(sent) == 3 and sent[0] == "sent", f"the host sent {self.NET_BYTES} bytes ({sent})")
        _, _, m = self.expect(v, stream, r"vtest: net down bytes (\d+) md5 (\w+)",
                              "the guest received the host's data")
        check([m.group(1), m.group(2)] == sent[1:],
              f"host to guest: {m.group(1)} bytes, md5 {m.group(2)} as sent")
        _, _, m = self.expect(v, stream, r"vtest: net up bytes (\d+) md5 (\w+)",
                              "the guest's data is ready")
        got = listener.communicate(timeout=WAIT)[0].decode().split()
        check(got[:1] == ["received"] and got[1:] == [m.group(1), m.group(2)],
              f"guest to host: {got[1:]} as the guest sent ({m.group(1)}, {m.group(2)})")
        self.expect(v, stream, r"vtest: net up sent", "the guest's nc finished")
        if isinstance(v, Vireo):
            self.check_net_counters(v)

    def check_net_counters(self, v):
        st, body = v.api("vm.counters", method="GET")
        nets = {k: c for k, c in json.loads(body).items() if "rx_frames" in c} if st == 200 else {}
        check(len(nets) == 1, f"vm.counters has one net device ({st} {sorted(nets)})")
        c = next(iter(nets.values()))
        check(c["tx_bytes"] >= self.NET_BYTES and c["rx_bytes"] >= self.NET_BYTES,
              f"net counters: rx_bytes {c['rx_bytes']}, tx_bytes {c['tx_bytes']}, "
              f"frames {c['rx_frames']}/{c['tx_frames']}, dropped "
              f"{c['rx_dropped']}/{c['tx_dropped']}")

    # --- vsock: vireo's hybrid Unix-socket backend, or QEMU's vhost-vsock with AF_VSOCK ---

    def vsock_open(self, vs, port):
        """A stream to the guest's `port`: CONNECT through vireo's socket, or AF_VSOCK."""
        if self.args.vmm == "qemu":
            s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            s.settimeout(WAIT)
            s.connect((vs["cid"], port))
            return s
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(WAIT)
        s.connect(vs["socket"])
        s.sendall(b"CONNECT %d\n" % port)
        line = b""
        while not line.endswith(b"\n"):   # byte by byte: nothing past the line is ours
            c = s.recv(1)
            if not c:
                s.close()
                raise ConnectionRefusedError(f"vireo closed CONNECT {port} ({line!r})")
            line += c
        if not re.fullmatch(rb"OK \d+\n", line):
            raise Failed(f"CONNECT {port} answered {line!r}")
        return s

    def vsock_listen(self, vs, port):
        """The host's listener for the guest's connections to CID 2, `port`."""
        if self.args.vmm == "qemu":
            s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            s.bind((socket.VMADDR_CID_ANY, port))
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(f"{vs['socket']}_{port}")
        s.listen(4)
        s.settimeout(WAIT)
        return s

    @staticmethod
    def drain(s):
        """(MD5, size) of everything `s` carries until its EOF."""
        md5, n = hashlib.md5(), 0
        while True:
            b = s.recv(1 << 16)
            if not b:
                return md5.hexdigest(), n
            md5.update(b)
            n += len(b)

    @staticmethod
    def sink(lsock, out):
        """Accepts one stream and records the MD5 and size of all it carries."""
        conn, _ = lsock.accept()
        conn.settimeout(WAIT)
        md5, n = Test.drain(conn)
        conn.close()
        out.update(md5=md5, size=n)

    def echo(self, vs, size, out):
        """`size` random bytes through the guest's echo server, sent while the echo comes back."""
        data = os.urandom(size)
        try:
            s = self.vsock_open(vs, 1024)
        except OSError as e:
            out.update(error=str(e))
            return

        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send, daemon=True)
        t0 = time.monotonic()
        t.start()
        md5, n = self.drain(s)
        t.join(WAIT)
        s.close()
        out.update(sent=hashlib.md5(data).hexdigest(), got=md5, size=n,
                   secs=time.monotonic() - t0)

    def vsock(self):
        vs = dict(cid=3 + os.getpid() % 100000, socket=os.path.join(self.work, "v.sock"))
        g2h, g2h_out = self.vsock_listen(vs, 5000), {}
        sink = threading.Thread(target=self.sink, args=(g2h, g2h_out), daemon=True)
        sink.start()
        spec = self.boot_spec(steps=["vsock"])
        spec["vsock"] = vs
        v = self.start("vm", spec)
        self.user_space(v)
        self.expect(v, "serial", r"vtest: vsock listening 1024",
                    "the guest's echo server listens on vsock port 1024")
        sizes = [16 * MIB, 2 * MIB, 2 * MIB, 2 * MIB]
        outs = [{} for _ in sizes]
        threads = [threading.Thread(target=self.echo, args=(vs, n, o), daemon=True)
                   for n, o in zip(sizes, outs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        for n, o in zip(sizes, outs):
            check(o.get("size") == n and o.get("sent") == o.get("got"),
                  f"{n // MIB} MiB to the guest's echo server came back with the same MD5, "
                  f"{len(sizes)} connections at once ({o})")
        print(f"time: {self.args.vmm} vsock echo of 16 MiB both ways in {outs[0]['secs']:.2f} s",
              flush=True)
        try:
            self.vsock_open(vs, 1100).close()
            refused = "connected"
        except (ConnectionRefusedError, ConnectionResetError) as e:
            refused = type(e).__name__
        check(refused != "connected", f"a connection to guest port 1100 is refused ({refused})")
        _, _, m = self.expect(v, "serial", r"vtest: vsock g2h sent md5 (\w+)",
                              "the guest sends 16 MiB to host port 5000")
        self.expect(v, "serial", r"vtest: vsock g2h done status 0", "the guest's stream ended")
        sink.join(WAIT)
        check(g2h_out.get("md5") == m.group(1) and g2h_out.get("size") == 16 * MIB,
              f"the host's port 5000 received the guest's 16 MiB with its MD5 ({g2h_out})")
        _, _, m = self.expect(v, "serial",
                              r"vtest: vsock g2h refused connect: (ECONNRESET|ECONNREFUSED)",
                              "the guest's connection to host port 5001, where nobody listens, "
                              "fails")
        print(f"the guest's connect to port 5001 failed with {m.group(1)}", flush=True)
        if isinstance(v, Vireo):
            st, body = v.api("vm.info", method="GET")
            info = json.loads(body) if st == 200 else {}
            check(info.get("config", {}).get("vsock", {}).get("cid") == vs["cid"] and
                  any(k.startswith("_vsock") for k in info.get("device_tree", {})),
                  f"vm.info has the vsock config and a _vsockN device "
                  f"({info.get('config', {}).get('vsock')}, {sorted(info.get('device_tree', {}))})")
            st, body = v.api("vm.counters", method="GET")
            c = [d for d in (json.loads(body) if st == 200 else {}).values()
                 if "conns_opened" in d]
            check(len(c) == 1 and c[0]["rx_bytes"] >= 22 * MIB and
                  c[0]["tx_bytes"] >= 38 * MIB and c[0]["conns_opened"] >= 6,
                  f"vm.counters counts the vsock traffic ({c})")
        self.expect(v, "serial", r"vtest: vsock listening 1099", "the guest waits for bye")
        s = self.vsock_open(vs, 1099)
        s.sendall(b"bye")
        s.close()
        self.expect(v, "serial", r"vtest: vsock host said bye", "the guest got the host's bye")
        self.powered_off(v)
        g2h.close()

    def echo_line(self, s, text, what):
        s.sendall(text)
        got = b""
        while len(got) < len(text):
            b = s.recv(len(text) - len(got))
            if not b:
                break
            got += b
        check(got == text, f"{what} ({got!r})")

    def vsock_snapshot(self):
        """A connection open across pause, snapshot, kill -9 and restore: the guest's end is
        reset (the transport reset event), and a new connection works."""
        vs = dict(cid=3 + os.getpid() % 100000, socket=os.path.join(self.work, "v.sock"))
        spec = self.boot_spec(steps=["vsockwait"])
        spec["vsock"] = vs
        v = self.start("p1", spec)
        self.user_space(v)
        self.expect(v, "serial", r"vtest: vsock listening 1024", "the guest's echo server listens")
        old = self.vsock_open(vs, 1024)
        self.echo_line(old, b"before\n", "the echo works before the snapshot")
        snap = os.path.join(self.work, "snap")
        self.vmm_pause(v)
        if isinstance(v, Vireo):
            os.mkdir(snap, 0o700)
            st, body = v.api("vm.snapshot", {"destination_url": f"file://{snap}"})
            check(st == 204, f"vm.snapshot answered 204 ({st} {body})")
        else:
            check("return" in v.qmp("migrate", uri=f"exec:cat > {snap}"), "QMP migrate")
            while v.qmp("query-migrate")["return"].get("status") not in ("completed", "failed"):
                time.sleep(0.05)   # polling QEMU's own state, bounded by the test timeout
        v.kill()
        old.close()
        v = self.vm("p2")
        if isinstance(v, Vireo):
            v.start(None, "pipe", "file", restore=snap)
            check(v.wait_socket(WAIT), "the restored vireo serves its API")
        else:
            v.start(spec, "pipe", "file", incoming=snap)
            while v.qmp("query-status")["return"]["status"] == "inmigrate":
                time.sleep(0.05)   # polling QEMU's own state, bounded by the test timeout
        self.vmm_resume(v)
        _, _, m = self.expect(v, "serial", r"vtest: vsock echo ended: (\S+)",
                              "the guest's end of the old connection ended")
        check(m.group(1) in ("ECONNRESET", "ENOTCONN"),
              f"it ended by a reset, not an orderly EOF ({m.group(1)})")
        new = self.vsock_open(vs, 1024)
        self.echo_line(new, b"after\n", "a new connection after the restore echoes")
        new.close()
        if isinstance(v, Vireo):
            st, body = v.api("vm.counters", method="GET")
            c = [d for d in json.loads(body).values() if "reset_events" in d]
            check(len(c) == 1 and c[0]["reset_events"] == 1,
                  f"vm.counters: one transport reset event sent ({c})")
        s = self.vsock_open(vs, 1099)
        s.sendall(b"bye")
        s.close()
        self.expect(v, "serial", r"vtest: vsock host said bye", "the guest got the host's bye")
        self.powered_off(v)

    # --- Kata's clh driver, replayed with a client written from CH's OpenAPI file ---

    def skip_unless(self, what, status, body):
        """True if @status/@body is vireo's 500 "not supported" for @what: a clear SKIP."""
        if status == 500 and "not supported" in json.dumps(body):
            print(f"SKIP {what}: not supported by this build ({json.dumps(body)})", flush=True)
            return True
        return False

    def clh_replay(self):
        """The clh driver's call sequence on a stock Linux guest: create with its VmConfig,
        add-net with tap fds, boot, info, pause, snapshot, resume, add-disk, remove-device,
        resize, counters, shutdown, delete, vmm.shutdown (ch-api.md's reading of clh.go)."""
        ns, t = self.netns(), self.NET
        spec = self.boot_spec("bzImage", 1, ["pci", "hotcpu", "hold"])
        v = self.vm("vm")
        v.start_api_only(netns=ns)
        check(v.wait_socket(WAIT), "vireo serves its API")
        c = ChClient(v.sock)
        st, ping = c.vmm_ping()
        check(st == 200 and "version" in ping, f"vmm.ping: 200 with a version ({ping})")
        cfg = kata_vm_config(spec["kernel"], spec["initramfs"], spec["cmdline"], 1,
                             max(2, os.cpu_count() or 1), 512 * MIB,
                             disk_config(self.disk, serial="vtest-main"),
                             os.path.join(self.work, "clh.sock"))
        st, body = c.vm_create(cfg)
        check(st == 204, f"vm.create with the clh driver's VmConfig: 204 ({st} {body})")
        st, info = c.vm_info()
        check(st == 200 and info["state"] == "Created", f"vm.info: Created ({st})")
        net = {"mac": t["mac"], "mtu": t["mtu"], "num_queues": 2 * t["pairs"], "id": "tapnet",
               "vhost_user": False, "iommu": False, "offload_tso": True, "offload_ufo": True,
               "offload_csum": True}
        p = self.in_ns(ns, [sys.executable, os.path.join(HERE, "ch_client.py"), "add-net",
                            v.sock, json.dumps(net), t["tap"], str(t["pairs"])])
        out = p.communicate(timeout=WAIT)[0].decode()
        check(out.startswith("status 204"), f"vm.add-net with 2 tap fds: 204 ({out.strip()})")
        st, body = c.vm_boot()
        check(st == 204, f"vm.boot: 204 ({st} {body})")
        st, info = c.vm_info()
        check(st == 200 and info["state"] == "Running", f"vm.info: Running ({st})")
        self.user_space(v, "console")
        i, _, _ = self.expect(v, "console", r"vtest: hotcpu waiting for cpu1, cpus 0 count 1$",
                              "the guest runs with one CPU")
        snap = os.path.join(self.work, "snap")
        os.mkdir(snap, 0o700)
        for name, call in (("vm.pause", c.vm_pause),
                           ("vm.snapshot", lambda: c.vm_snapshot(f"file://{snap}")),
                           ("vm.resume", c.vm_resume)):
            st, body = call()
            check(st == 204, f"{name}: 204 ({st} {body})")
        extra = os.path.join(self.work, "extra.img")
        make_blank(extra)
        st, body = c.vm_add_disk(disk_config(extra, id="extra", readonly=True))
        if not self.skip_unless("vm.add-disk on a running VM (PCI hotplug)", st, body):
            check(st == 200 and body.get("id") == "extra" and
                  re.fullmatch(r"0000:00:[0-9a-f]{2}\.0", body.get("bdf", "")),
                  f"vm.add-disk: 200 with PciDeviceInfo ({st} {body})")
            st, body = c.vm_remove_device("extra")
            check(st == 204, f"vm.remove-device: 204 ({st} {body})")
        else:
            st, body = c.vm_remove_device("extra")
            self.skip_unless("vm.remove-device on a running VM (PCI hotplug)", st, body)
        st, body = c.vm_resize(desired_vcpus=2)
        check(st == 204, f"vm.resize desired_vcpus 2: 204 ({st} {body})")
        self.expect(v, "console", r"vtest: hotcpu cpu1 online 1, cpus 0-1 count 2$",
                    "the guest onlined the added CPU", i)
        v, c = self.restore_resized(ns, v, c)
        st, body = c.vm_resize(desired_vcpus=1)
        check(st == 204, f"vm.resize desired_vcpus 1: 204 ({st} {body})")
        self.expect(v, "console", r"vtest: hotcpu cpu1 gone, cpus 0 count 1$",
                    "the restored guest ejected the removed CPU")
        self.expect(v, "console", r"vtest: holding", "the guest waits for the host")
        st, counters = c.vm_counters()
        check(st == 200 and isinstance(counters, dict), f"vm.counters: 200 ({st})")
        for name, call, want in (("vm.shutdown", c.vm_shutdown, 204),
                                 ("vm.delete", c.vm_delete, 204),
                                 ("vmm.shutdown", c.vmm_shutdown, 200)):
            st, body = call()
            check(st == want, f"{name}: {want} ({st} {body})")
        status = v.wait_exit(WAIT)
        check(status == 0, f"vireo exited 0 after vmm.shutdown ({status})")
        self.check_pci(self.vms[0], ["1af4:1041", "1af4:1042", "1af4:1044", "1af4:1053"],
                       "console")

    def restore_resized(self, ns, v, c):
        """Beyond Kata's sequence: the VM resized to 2 vCPUs is snapshotted (2 vCPUs in
        state.json, boot_vcpus 2 in config.json), killed and restored in a fresh vireo with new
        tap fds; the restored VM is resized back down by the caller."""
        snap = os.path.join(self.work, "snap-resized")
        os.mkdir(snap, 0o700)
        for name, call in (("vm.pause", c.vm_pause),
                           ("vm.snapshot", lambda: c.vm_snapshot(f"file://{snap}"))):
            st, body = call()
            check(st == 204, f"{name} of the resized VM: 204 ({st} {body})")
        with open(os.path.join(snap, "state.json")) as f:
            nr = len(json.load(f)["vcpus"])
        with open(os.path.join(snap, "config.json")) as f:
            cpus = json.load(f)["cpus"]
        check(nr == 2 and cpus["boot_vcpus"] == 2, f"the snapshot holds 2 vCPUs ({nr}, {cpus})")
        v = self.restore_new_taps(v, ns, "restored", snap,
                                  "vm.restore of the resized VM with new tap fds")
        c = ChClient(v.sock)
        st, info = c.vm_info()
        check(st == 200 and info["config"]["cpus"]["boot_vcpus"] == 2,
              f"the restored VM has 2 vCPUs ({st} {info['config']['cpus'] if st == 200 else info})")
        st, body = c.vm_resume()
        check(st == 204, f"vm.resume of the restored VM: 204 ({st} {body})")
        return v, c

    # --- hotplug: ACPI PCI hotplug of disk, net and vsock into the running guest ---

    def image(self, name):
        """A 4 MiB image of random bytes, and its MD5."""
        data = os.urandom(4 * MIB)
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path, hashlib.md5(data).hexdigest()

    def hp_add(self, v, endpoint, body, what):
        st, text = v.api(endpoint, body)
        info = json.loads(text) if st == 200 else {}
        check(st == 200 and set(info) == {"id", "bdf"},
              f"{endpoint} {what} answered 200 with PciDeviceInfo ({st} {text})")
        return info

    def hp_disk(self, v, dev, want_md5, info, what, start=0):
        _, _, m = self.expect(v, "serial", rf"vtest: hotplug disk {dev} at (\S+) md5 (\w+)",
                              f"the guest sees {what} as {dev}", start)
        check(m.group(1) == info["bdf"] and m.group(2) == want_md5,
              f"{dev} is {info['bdf']} and reads back with the image's MD5 ({m.group(1)}, "
              f"{m.group(2)})")

    def device_tree(self, v):
        st, body = v.api("vm.info", method="GET")
        return json.loads(body) if st == 200 else {}

    def hotplug(self):
        """One boot, two PCI segments, nothing but the main disk at boot. Then, while the guest
        runs: a disk added (vdb, its MD5 read back), removed (gone from the guest, then from
        vm.info and the config), added again with the same id (the same slot), a disk on
        segment 1 (domain 0001), a net device whose interface pings its tap, and a vsock
        device whose echo server answers; an unknown id answers 404."""
        ns = self.netns()
        hp1, md5_1 = self.image("hp1.img")
        hp2, md5_2 = self.image("hp2.img")
        hp3, md5_3 = self.image("hp3.img")
        spec = self.boot_spec("bzImage", 1, ["hotplug"])
        spec.update(netns=ns, segments=2)
        v = self.start("vm", spec)
        self.user_space(v)
        self.expect(v, "serial", r"vtest: hotplug ready", "the guest waits for devices")
        first = self.hp_add(v, "vm.add-disk", {"path": hp1, "id": "hp1"}, "(segment 0)")
        check(first["id"] == "hp1" and first["bdf"].startswith("0000:00:"),
              f"the disk is on segment 0 ({first})")
        self.hp_disk(v, "vdb", md5_1, first, "the added disk")
        st, body = v.api("vm.remove-device", {"id": "nope"})
        check(st == 404, f"vm.remove-device of an unknown id answered 404 ({st} {body})")
        st, body = v.api("vm.remove-device", {"id": "hp1"})
        check(st == 204, f"vm.remove-device answered 204 ({st} {body})")
        gone, _, _ = self.expect(v, "serial", r"vtest: hotplug vdb gone", "vdb left the guest")
        deadline = time.monotonic() + WAIT
        while "hp1" in self.device_tree(v).get("device_tree", {}) and \
                time.monotonic() < deadline:
            time.sleep(0.05)   # polling vireo's own state for the guest's eject, bounded
        info = self.device_tree(v)
        check("hp1" not in info.get("device_tree", {}) and
              all(d.get("id") != "hp1" for d in info.get("config", {}).get("disks", [])),
              "after the guest's eject hp1 is gone from vm.info's device tree and config")
        again = self.hp_add(v, "vm.add-disk", {"path": hp2, "id": "hp1"}, "again, same id")
        check(again == first, f"the re-added disk takes the freed slot and id ({again})")
        self.hp_disk(v, "vdb", md5_2, again, "the re-added disk", gone + 1)
        seg1 = self.hp_add(v, "vm.add-disk", {"path": hp3, "pci_segment": 1}, "(segment 1)")
        check(seg1["bdf"].startswith("0001:00:"), f"the disk is on segment 1 ({seg1})")
        self.hp_disk(v, "vdc", md5_3, seg1, "the segment-1 disk (domain 0001)")
        t = self.NET
        net = self.hp_add(v, "vm.add-net", {"tap": t["tap"], "ip": t["ip"], "mask": t["mask"],
                                            "mac": t["mac"], "host_mac": t["host_mac"],
                                            "mtu": t["mtu"]}, "(tap)")
        _, _, m = self.expect(v, "serial", r"vtest: hotplug net eth0 at (\S+) ping (\w+)",
                              "the added net device came up")
        check(m.group(1) == net["bdf"] and m.group(2) == "ok",
              f"eth0 is {net['bdf']} and pinged its tap's host end ({m.group(1)} {m.group(2)})")
        vs = dict(cid=3 + os.getpid() % 100000, socket=os.path.join(self.work, "v.sock"))
        self.hp_add(v, "vm.add-vsock", vs, "")
        self.expect(v, "serial", r"vtest: vsock listening 1024", "the guest's echo server listens")
        s = self.vsock_open(vs, 1024)
        self.echo_line(s, b"hotplugged\n", "the added vsock device echoes")
        s.close()
        info = self.device_tree(v)
        check({"hp1", net["id"], seg1["id"]} <= set(info.get("device_tree", {})) and
              info.get("config", {}).get("vsock", {}).get("cid") == vs["cid"],
              f"vm.info lists the added devices ({sorted(info.get('device_tree', {}))})")
        self.expect(v, "serial", r"vtest: vsock listening 1099", "the guest waits for bye")
        # A disk added while paused, then snapshot, kill, restore: every device in the same
        # slot, and the add the guest had not seen yet is announced after the restore.
        self.vmm_pause(v)
        hp4, md5_4 = self.image("hp4.img")
        late = self.hp_add(v, "vm.add-disk", {"path": hp4, "id": "hp4"}, "(while paused)")
        bdfs = {k: d["pci_bdf"] for k, d in self.device_tree(v)["device_tree"].items()}
        v = self.snapshot_restart(v, "restored", ns, paused=True)
        got = {k: d["pci_bdf"] for k, d in self.device_tree(v).get("device_tree", {}).items()}
        check(got == bdfs, f"the restored VM has every device at the same BDF ({got})")
        self.vmm_resume(v)
        s = self.vsock_open(vs, 1099)
        s.sendall(b"bye")
        s.close()
        self.hp_disk(v, "vdd", md5_4, late, "the disk added while paused, after the restore")
        self.powered_off(v)

    def report_failure(self):
        for v in self.vms:
            for s in v.streams.values():
                print(f"--- {v.name} {s.name} (last 60 lines)")
                print("\n".join(s.text().splitlines()[-60:]))
            print(f"--- {v.name} stderr\n{v.stderr()[-4000:]}")
            log = v.path("log")
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    print(f"--- {v.name} log (last 60 lines)")
                    print("".join(f.readlines()[-60:]))


SCENARIOS = {
    "boot-bzimage-1cpu": lambda t: t.boot("bzImage", 1),
    "boot-pvh-2cpu": lambda t: t.boot("vmlinux", 2),
    "boot-bzimage-4cpu": lambda t: t.boot("bzImage", 4, mq=True),
    "console": Test.console,
    "durable": Test.durable,
    "reboot": Test.reboot,
    "pause": Test.pause,
    "snapshot": Test.snapshot,
    "net": Test.net,
    "net-fds": Test.net_fds,
    "net-fds-restore": lambda t: t.net_fds(restore=True),
    "net-snapshot": Test.net_snapshot,
    "vsock": Test.vsock,
    "vsock-snapshot": Test.vsock_snapshot,
    "clh-replay": Test.clh_replay,
    "fs": lambda t: fs_scenario.run(t, check, t.args.vmm == "vireo"),
    "clh-replay-fs": lambda t: fs_scenario.clh_replay_fs(t, check),
    "vhost-net": lambda t: vhost_net_scenario.run(t, check, t.args.vmm == "vireo"),
    "hotplug": Test.hotplug,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vmm", choices=["vireo", "qemu"], required=True)
    ap.add_argument("--vireo", default="build/vireo")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix=f"linux-{args.vmm}-{args.scenario}-")
    test = None
    try:
        test = Test(args, work)
        SCENARIOS[args.scenario](test)
        print(f"{args.scenario} under {args.vmm}: all checks passed")
        return 0
    except Failed:
        test.report_failure()
        return 1
    finally:
        for v in test.vms if test else []:
            v.finish()
        for p in test.peers if test else []:
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in test.namespaces if test else []:
            subprocess.run(["ip", "netns", "del", ns], check=False)
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
