#!/usr/bin/env python3
"""Snapshot and restore a running test guest (snapcheck=1, integration/guest/snapcheck.c) and
check from the outside that it goes on exactly where it stopped.

The guest keeps a RAM checksum, the LAPIC timer, an rng with a moved BAR, a console transmit
vector masked with its PBA bit set, and a disk write pattern, and prints "snapcheck: round N
ok" per round or a FAIL. Here, through the REST API of real vireo processes:
  1. boot it; pause, vm.snapshot, SIGKILL vireo; restore in a new vireo (config.json edited:
     new serial file), check Paused, the counters, resume; the rounds go on from the same
     number with no FAIL (old serial up to the pause + new serial = one stream); vm.info's
     device tree shows the rng BAR where the guest moved it, before and after; "unmask" on
     the console: the message pending since before the snapshot arrives once;
  2. the same again from the restored VM (twice in a row);
  3. snapshot once more, copy the directory (and the disk), resume the original and restore
     the copy with `--restore ...,resume=on` in a third vireo: both run at once, both pass;
  4. "finish" to both: the guests power off, vireo exits 0, the summaries say 0 failed.
Restores use --mode (lazy = OnDemand, copy) and --prefault.

usage: run-snapshot-guest.py VIREO GUEST_ELF [--mode lazy|copy] [--prefault] [--mem MIB]
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vireo_proc import (Vireo, conclude, copy_snapshot, disk_locked, edit_config,  # noqa: E402
                        fresh_dir, ok, read, size, threads, wait_for)

ROUND = re.compile(r"^snapcheck: round (\d+) ok .*$")
PENDING = re.compile(r"CHECK snapcheck_msix_pending PASS .* pending since round (\d+), "
                     r"unmasked at round (\d+)")
SETUP_BAR = re.compile(r"CHECK snapcheck_setup PASS .*rng BAR (0x[0-9a-f]+) -> (0x[0-9a-f]+)")
WAIT = 180          # seconds for anything the guest does (it runs under an emulator here)

def expect(what, got, status, contains=None):
    good = got[0] == status and (contains is None or contains in got[1])
    return ok(what, good, f"{got[0]} {got[1][:200]}")


def rng_bar(v):
    """Base of __rng's BAR0 in vm.info's device tree (None if absent)."""
    try:
        node = json.loads(v.call("GET", "vm.info")[1])["device_tree"]["__rng"]
        return next(r["PciBar"]["base"] for r in node["resources"]
                    if "PciBar" in r and r["PciBar"]["index"] == 0)
    except (ValueError, KeyError, TypeError, StopIteration):
        return None


def rounds(text):
    return [int(m.group(1)) for m in map(ROUND.match, text.splitlines()) if m]


def wait_rounds(v, serial, n, after=None):
    """n more round lines in `serial` than `after` (default: now)."""
    base = len(rounds(read(serial))) if after is None else after
    return stuck(v, ok(f"{v.name}: {n} more rounds", wait_for(
        lambda: len(rounds(read(serial))) >= base + n or "FAIL" in read(serial) or not v.alive(),
        WAIT) and len(rounds(read(serial))) >= base + n, f"serial {serial}: "
        f"{read(serial).splitlines()[-3:]}"))


class Stuck(Exception):
    pass


def stuck(v, good):
    """A guest that stopped making progress: show vireo's threads and end the run here, before
    the later waits add up past meson's timeout and nothing is printed."""
    if not good and v.alive():
        print("\n".join(threads(v)))
        raise Stuck(f"{v.name} made no progress within {WAIT} s")
    return good


class Run:
    def __init__(self, args):
        self.a = args
        self.work = tempfile.mkdtemp(prefix="snapguest-", dir="/var/tmp")
        self.disk = os.path.join(self.work, "disk.img")
        with open(self.disk, "wb") as f:
            f.truncate(1 << 20)
        self.vms = []

    def vireo(self, name, extra=()):
        v = Vireo(self.a.vireo, self.work, name, extra)
        self.vms.append(v)
        return v

    def serial(self, name):
        return os.path.join(self.work, name + ".serial")

    def boot(self):
        v = self.vireo("vm0")
        mem = self.a.mem
        cfg = {"payload": {"kernel": self.a.guest,
                           "cmdline": f"cpus=2 mem={mem} snapcheck=1 virtio=rng,console"},
               "cpus": {"boot_vcpus": 2}, "memory": {"size": mem << 20},
               "serial": {"mode": "File", "file": self.serial("vm0")},
               "console": {"mode": "Tty"}, "disks": [{"path": self.disk, "serial": "snapcheck-disk"}]}
        expect("create", v.call("PUT", "vm.create", cfg), 204)
        expect("snapshot before boot", v.call("PUT", "vm.snapshot",
                                              {"destination_url": "file:///tmp"}), 500)
        expect("boot", v.call("PUT", "vm.boot"), 204)
        wait_rounds(v, self.serial("vm0"), 3, 0)
        log = read(self.serial("vm0"))
        ok("guest checks before the rounds", "CHECK snapcheck_setup PASS" in log and
           "FAIL" not in log and "disk present" in log,
           [l for l in log.splitlines() if "FAIL" in l or "snapcheck_setup" in l][:3])
        m = SETUP_BAR.search(log)
        self.bar_at = int(m.group(2), 16) if m else None
        ok("vm.info shows the rng BAR where the guest moved it", m is not None and
           m.group(1) != m.group(2) and rng_bar(v) == self.bar_at,
           f"guest {m.groups() if m else None}, vm.info {rng_bar(v)}")
        expect("snapshot while running", v.call("PUT", "vm.snapshot",
                                                {"destination_url": "file:///tmp"}), 500,
               "while VM is running")
        return v, self.serial("vm0")

    def restore_body(self, url, resume=False):
        body = {"source_url": url, "prefault": self.a.prefault, "resume": resume}
        if self.a.mode == "copy":
            body["memory_restore_mode"] = "Copy"
        return body

    def pause_and_snapshot(self, v, serial, snap):
        """Returns (vm.counters while paused, serial bytes at the pause)."""
        expect(f"{v.name}: pause", v.call("PUT", "vm.pause"), 204)
        at_pause = size(serial)
        counters = v.call("GET", "vm.counters")
        done = v.event_names().count("vm:snapshotted")
        expect(f"{v.name}: snapshot", v.call("PUT", "vm.snapshot",
                                             {"destination_url": "file://" + snap}), 204)
        # The event monitor writes from its own thread: wait for the event before a SIGKILL.
        ok(f"{v.name}: snapshotted event", wait_for(
            lambda: v.event_names().count("vm:snapshotted") > done, WAIT))
        ok(f"{v.name}: snapshot files", sorted(os.listdir(snap)) == [
            "config.json", "config.json.crc32c", "memory-ranges", "state.json",
            "state.json.crc32c"],
           str(sorted(os.listdir(snap))))
        ok(f"{v.name}: serial quiet while paused and snapshotted", size(serial) == at_pause,
           f"{at_pause} -> {size(serial)} bytes")
        return counters, at_pause

    def cycle(self, v, serial, k, first):
        """Snapshot v, kill it, restore in vm<k> with a new serial file; returns it."""
        snap = fresh_dir(os.path.join(self.work, f"snap{k}"))
        counters, at_pause = self.pause_and_snapshot(v, serial, snap)
        if first:
            expect("snapshot into a used directory", v.call("PUT", "vm.snapshot", {
                "destination_url": "file://" + snap}), 400, "already holds a snapshot")
        old = read(serial, binary=True)[:at_pause]
        v.kill9()
        ok(f"{v.name}: killed with SIGKILL", v.proc.returncode == -9, str(v.proc.returncode))
        self.wait_disk_unlocked(v.name)
        new_serial = self.serial(f"vm{k}")
        edit_config(snap, serial=new_serial)
        n = self.vireo(f"vm{k}")
        expect(f"vm{k}: restore ({self.a.mode}{', prefault' if self.a.prefault else ''})",
               n.call("PUT", "vm.restore", self.restore_body("file://" + snap)), 204)
        expect(f"vm{k}: restored VM is Paused", n.call("GET", "vm.info"), 200,
               '"state":"Paused"')
        expect(f"vm{k}: edited serial path in vm.info", n.call("GET", "vm.info"), 200,
               new_serial)
        expect(f"vm{k}: restore into a VMM with a VM", n.call(
            "PUT", "vm.restore", self.restore_body("file://" + snap)), 500, "already created")
        ok(f"vm{k}: restored vm.info shows the moved rng BAR", rng_bar(n) == self.bar_at,
           f"{rng_bar(n)}, moved to {self.bar_at}")
        got = n.call("GET", "vm.counters")
        ok(f"vm{k}: counters survive the restore", got == counters,
           f"before {counters[1][:150]} after {got[1][:150]}")
        expect(f"vm{k}: resume", n.call("PUT", "vm.resume"), 204)
        wait_rounds(n, new_serial, 3, 0)
        self.check_stream(f"vm{k}", old, new_serial)
        self.unmask(n, new_serial)
        return n, new_serial

    def wait_disk_unlocked(self, name):
        """The image's OFD lock goes with the SIGKILLed process: the VM was paused (nothing in
        flight) and vireo keeps no io_uring-registered file that would hold the lock until the
        kernel tears the ring down, so an orchestrator can restart the VM at once."""
        ok(f"{name}: disk lock released as soon as the killed vireo is reaped",
           not disk_locked(self.disk))

    def check_stream(self, name, old, new_serial):
        """Old serial up to the pause + the restored VM's = one stream of consecutive rounds."""
        joined = (old + read(new_serial, binary=True)).decode(errors="replace")
        r = rounds(joined)
        before = len(rounds(old.decode(errors="replace")))
        gaps = [(a, b) for a, b in zip(r, r[1:]) if b != a + 1]
        ok(f"{name}: rounds continue across the restore", (before > 0 or not old) and
           len(r) > before + 2 and not gaps, f"rounds {r[before - 1] if before else None} -> "
           f"{r[before] if len(r) > before else None}, gaps {gaps[:3]}")
        ok(f"{name}: no FAIL", "FAIL" not in joined,
           [l for l in joined.splitlines() if "FAIL" in l][:3])

    def unmask(self, v, serial):
        """The console vector pending since before the snapshot: delivered once on unmask."""
        first = rounds(read(serial))[0] if rounds(read(serial)) else None
        n_before = len(PENDING.findall(read(serial)))
        v.send("unmask")
        got = wait_for(lambda: len(PENDING.findall(read(serial))) > n_before or
                       "FAIL" in read(serial) or not v.alive(), WAIT)
        m = PENDING.findall(read(serial))
        since = int(m[n_before][0]) if len(m) > n_before else None
        stuck(v, got)
        ok(f"{v.name}: pending MSI-X message from before the snapshot delivered on unmask",
           got and since is not None and first is not None and since < first,
           f"pending since round {since}, first round after restore {first}")
        wait_rounds(v, serial, 2)     # the next pause is clearly after the re-masking

    def copy_while_running(self, v, serial, k):
        """Snapshot v, resume it, restore a copy (own serial and disk) with --restore."""
        snap = fresh_dir(os.path.join(self.work, f"snap{k}"))
        _, at_pause = self.pause_and_snapshot(v, serial, snap)
        old = read(serial, binary=True)[:at_pause]
        copy = os.path.join(self.work, f"snap{k}-copy")
        copy_snapshot(snap, copy)
        disk_copy = self.disk + ".copy"
        shutil.copyfile(self.disk, disk_copy)
        new_serial = self.serial(f"vm{k}")
        edit_config(copy, serial=new_serial, disk=disk_copy)
        expect(f"{v.name}: resume the original", v.call("PUT", "vm.resume"), 204)
        opts = f"source_url=file://{copy},resume=on"
        opts += ",memory_restore_mode=copy" if self.a.mode == "copy" else ""
        opts += ",prefault=on" if self.a.prefault else ""
        n = self.vireo(f"vm{k}", ["--restore", opts])
        wait_rounds(n, new_serial, 3, 0)
        wait_rounds(v, serial, 3)
        expect(f"vm{k}: running after --restore resume=on", n.call("GET", "vm.info"), 200,
               '"state":"Running"')
        self.check_stream(f"vm{k} (copy)", old, new_serial)
        self.check_stream(f"{v.name} (original, resumed)", b"", serial)
        self.unmask(n, new_serial)
        return n, new_serial

    def finish(self, v, serial):
        v.send("finish")
        status = v.wait_exit(WAIT)
        log = read(serial)
        ok(f"{v.name}: guest finished and powered off, vireo exit 0", status == 0,
           f"exit {status}")
        summary = re.search(r"(\d+) passed, (\d+) failed", log)
        ok(f"{v.name}: guest summary", summary is not None and summary.group(2) == "0" and
           "snapcheck: finish after" in log, summary.group(0) if summary else log[-300:])

    def events(self, v, want):
        """`want` in order in v's event stream (written by a thread: polled)."""
        def in_order():
            pos = 0
            for name in v.event_names():
                pos += pos < len(want) and name == want[pos]
            return pos == len(want)
        ok(f"{v.name}: events in order", wait_for(in_order, 30), " ".join(v.event_names()))

    def run(self):
        v, serial = self.boot()
        v1, s1 = self.cycle(v, serial, 1, True)
        self.events(v, ["vm:booted", "vm:pausing", "vm:paused", "vm:snapshotting",
                        "vm:snapshotted"])
        v2, s2 = self.cycle(v1, s1, 2, False)
        self.events(v1, ["vm:restoring", "vm:restored", "vm:resuming", "vm:resumed",
                         "vm:snapshotting", "vm:snapshotted"])
        v3, s3 = self.copy_while_running(v2, s2, 3)
        self.events(v3, ["vm:restoring", "vm:restored"])
        self.finish(v3, s3)
        self.finish(v2, s2)
        for vm in self.vms:
            if vm.alive():
                vm.kill9()
        return self.work


def main():
    p = argparse.ArgumentParser()
    p.add_argument("vireo")
    p.add_argument("guest")
    p.add_argument("--mode", choices=["lazy", "copy"], default="lazy")
    p.add_argument("--prefault", action="store_true")
    p.add_argument("--mem", type=int, default=256)
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    r = Run(p.parse_args())
    return conclude(r.run, r.vms, r.work, r.a.keep)


sys.exit(main())
