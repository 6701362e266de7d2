#!/usr/bin/env python3
"""Damaged and doctored snapshots against one long-lived vireo: every case gets a 4xx naming
the problem, vireo stays up with no VM (vm.info 404) and no fd leaked, and at the end the same
VMM restores the good snapshot and the guest runs on without a FAIL.

The good snapshot is a running test guest (snapcheck=1: rng with a moved BAR, console with a
masked pending vector, disk), 2 vCPUs. Cases: truncated / bit-flipped / missing state.json and
state.json.crc32c (the checksum catches them before parsing); fields edited with the CRC32C
fixed up, so that field validation is what must catch them (BAR outside the window, queue
size not a power of two, vCPU count, features not offered, the __serial/__cmos/__ged
sections, ...), the device-section cases checking that the message names the field path and
the bad value ("state.json: devices.__rng.virtio.queues[0].size: 24 is not a power of two
<= 256"); truncated or missing
memory-ranges; garbage or mismatching config.json; bad URLs. One more case flips a word of
the guest's checked RAM inside memory-ranges, which is not checksummed by design
(docs/snapshot.md): vireo accepts it and the guest's own RAM check must report the damage.
A few cases also go through `--restore` on the command line: exit 1, one line.

KNOWN lists cases where vireo is known to misbehave (reported, awaiting a fix): they are
printed as KNOWN and do not fail the run; one that starts to pass fails it (remove it then).

usage: snapshot_corrupt.py VIREO GUEST_ELF
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vireo_proc import (Vireo, conclude, copy_snapshot, disk_locked, edit_config,  # noqa: E402
                        failures, fix_checksum, fresh_dir, ok, read, wait_for, write_config)

WAIT = 180
# case name -> what vireo does wrong (reported to the lead, docs/snapshot.md "VM-level tests")
KNOWN = {}

known_seen = []


# --- editing a snapshot directory ---

def state_path(d):
    return os.path.join(d, "state.json")


def load_state(d):
    with open(state_path(d)) as f:
        return json.load(f)


def write_state(d, st, fix_crc=True):
    text = json.dumps(st).encode()
    with open(state_path(d), "wb") as f:
        f.write(text)
    if fix_crc:
        fix_checksum(d, "state.json")


def edit_state(fn):
    """A mutation: fn(state) edits the parsed state.json; the checksum is fixed up."""
    def mutate(d):
        st = load_state(d)
        fn(st)
        write_state(d, st)
    return mutate


def set_path(st, path, value):
    keys = path.split(".")
    o = st
    for k in keys[:-1]:
        o = o[int(k)] if isinstance(o, list) else o[k]
    last = keys[-1]
    if isinstance(o, list):
        o[int(last)] = value
    else:
        o[last] = value


def field(path, value):
    return edit_state(lambda st: set_path(st, path, value))


def delete(path):
    def fn(st):
        keys = path.split(".")
        o = st
        for k in keys[:-1]:
            o = o[int(k)] if isinstance(o, list) else o[k]
        del o[int(keys[-1]) if isinstance(o, list) else keys[-1]]
    return edit_state(fn)


def truncate(name, keep):
    def mutate(d):
        p = os.path.join(d, name)
        os.truncate(p, keep(os.path.getsize(p)))
    return mutate


def flip(name, where):
    def mutate(d):
        p = os.path.join(d, name)
        with open(p, "r+b") as f:
            off = where(os.path.getsize(p))
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0x20]))
    return mutate


def remove(name):
    return lambda d: os.unlink(os.path.join(d, name))


def write_file(name, data):
    def mutate(d):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return mutate


def config_edit(fn, fix=True):
    def mutate(d):
        p = os.path.join(d, "config.json")
        with open(p) as f:
            cfg = json.load(f)
        fn(cfg)
        if fix:
            write_config(d, cfg)
        else:
            with open(p, "w") as f:
                json.dump(cfg, f)
    return mutate


def add_queue_feature(st):
    v = st["devices"]["__rng"]["virtio"]
    offered = int(v["offered"], 16)
    bit = next(b for b in range(64) if not offered >> b & 1)
    v["driver_features"] = hex(int(v["driver_features"], 16) | 1 << bit)


def bar_outside(st):
    st["devices"]["__rng"]["pci"]["bars"][0]["addr"] = "0x5000000000"


def cfg_bar_outside(st):
    """The BAR register in the saved config space (dword 0x10/0x14) beyond the 64-bit window."""
    p = st["devices"]["__rng"]["pci"]
    cfg = bytearray.fromhex(p["cfg"])
    cfg[0x14:0x18] = (0x50).to_bytes(4, "little")
    p["cfg"] = cfg.hex()


def vcpus_one(st):
    del st["vcpus"][1]


def nest_f(*pairs):
    return edit_state(lambda st: [set_path(st, p, v) for p, v in pairs])


def pci_vendor(st):
    p = st["devices"]["__rng"]["pci"]
    p["cfg"] = "3412" + p["cfg"][4:]


def extra_range(st):
    r = st["memory"]["ranges"]
    r.append(dict(r[0], gpa="0x100000000", size="0x1000"))


def cpuid_extra(st):
    """A feature bit this host did not give the vCPU (the saved table is what it gave): the
    highest clear bit of leaf 7.0 EBX in vCPU 0's CPUID."""
    for e in st["vcpus"][0]["cpuid"]:
        if int(e["function"], 16) == 7 and int(e["index"], 16) == 0:
            ebx = int(e["ebx"], 16)
            e["ebx"] = hex(ebx | 1 << next(b for b in range(31, -1, -1) if not ebx >> b & 1))


def cpuid_renamed(st):
    """Leaf 7.0 given another function number: it would escape the feature-leaf checks."""
    for e in st["vcpus"][0]["cpuid"]:
        if int(e["function"], 16) == 7 and int(e["index"], 16) == 0:
            e["function"] = hex(0x4fff0000)


def dup_key(d):
    with open(state_path(d), "rb") as f:
        text = f.read()
    dup = text.replace(b'"version":1', b'"version":1,"version":1', 1)
    assert dup != text, "state.json has no '\"version\":1' to duplicate"
    write_file("state.json", dup)(d)
    _fix_crc(d)


RNG_Q = "devices.__rng.virtio.queues.0"            # set_path's spelling
RNG_V = "state.json: devices.__rng.virtio"           # the error's spelling
RNG_QP = RNG_V + ".queues[0]"
RNG_P = "state.json: devices.__rng.pci"
CON = "devices.__console"


def nvram_not_hex(st):
    n = st["devices"]["__cmos"]["nvram"]
    st["devices"]["__cmos"]["nvram"] = n[:10] + "Zz" + n[12:]

# (name, mutation, status, [substrings the error must contain])
CASES = [
    # the directory and the URL
    ("url-not-file", None, 400, ["source_url"]),
    ("url-relative", None, 400, ["source_url"]),
    ("dir-missing", lambda d: shutil.rmtree(d), 400, ["No such file"]),
    ("dir-empty", lambda d: [os.unlink(os.path.join(d, f)) for f in os.listdir(d)], 400,
     ["config.json"]),
    # state.json and its checksum, caught before parsing
    ("state-missing", remove("state.json"), 400, ["state.json", "missing"]),
    ("state-truncated", truncate("state.json", lambda n: n // 2), 400, ["state.json"]),
    ("state-empty", truncate("state.json", lambda n: 0), 400, ["state.json"]),
    ("state-flipped-byte", flip("state.json", lambda n: n // 3), 400, ["state.json", "checksum"]),
    ("state-flipped-last", flip("state.json", lambda n: n - 2), 400, ["state.json", "checksum"]),
    ("crc-missing", remove("state.json.crc32c"), 400, ["state.json.crc32c"]),
    ("crc-garbage", write_file("state.json.crc32c", b"hello\n"), 400, ["state.json.crc32c"]),
    ("state-not-json", lambda d: (write_file("state.json", b"{nope")(d), _fix_crc(d)), 400,
     ["state.json"]),
    # fields, checksum fixed up: validation must catch them
    ("format-version-2", field("version", 2), 400, ["version"]),
    ("arch-aarch64", field("arch", "aarch64"), 400, ["arch", "aarch64", "x86_64"]),
    ("arch-missing", delete("arch"), 400, ["arch", "missing"]),
    ("unknown-top-key", field("extra", {}), 400, ["extra"]),
    ("vcpu-count-mismatch", edit_state(vcpus_one), 400, ["vCPU"]),
    ("vcpu-id-order", field("vcpus.1.id", 0), 400, ["vcpus[1]"]),
    ("vcpu-dpl-range", field("vcpus.1.sregs.cs.dpl", "0x4"), 400, ["vcpus[1].sregs.cs.dpl"]),
    ("vcpu-rip-number", field("vcpus.0.regs.rip", 1234), 400, ["vcpus[0].regs.rip"]),
    ("vcpu-lapic-short", field("vcpus.0.lapic", "AAAA"), 400, ["lapic"]),
    ("vcpu-msr-unknown", field("vcpus.0.msrs.0x12345678", "0x1"), 400, ["0x12345678"]),
    ("vm-pit-mode", field("vm.pit.channels.0.mode", "0x9"), 400, ["pit"]),
    ("vm-ioapic-base", field("vm.ioapic.base_address", "0xfed00000"), 400, ["ioapic"]),
    ("memory-range-size", field("memory.ranges.0.size", "0x8000000"), 400, ["memory.ranges[0]"]),
    ("memory-offset-unaligned", field("memory.ranges.0.file_offset", "0x10"), 400,
     ["memory.ranges[0]"]),
    ("memory-file-size", field("memory.file_size", "0x20000000"), 400, ["memory-ranges"]),
    ("allocator-outside", field("allocators.mmio64.ranges.0.base", "0x5000000000"), 400,
     ["allocators.mmio64.ranges[0]", "window"]),
    ("device-unknown", field("devices.__bogus", {}), 400, ["__bogus"]),
    ("device-missing", delete("devices.__rng"), 400, ["__rng"]),
    # device sections: the message names the field path and the bad value
    ("bar-outside-window", edit_state(bar_outside), 400,
     [RNG_P + ".bars[0].addr: 0x5000000000", "outside the PCI windows"]),
    ("bar-register-outside-window", edit_state(cfg_bar_outside), 400,
     [RNG_P + ".cfg[0x10]", "BAR0 register", "bars[0].addr"]),
    ("queue-size-not-pow2", field(RNG_Q + ".size", 24), 400,
     [RNG_QP + ".size: 24 is not a power of two"]),
    ("queue-size-zero-enabled", field(RNG_Q + ".size", 0), 400,
     [RNG_QP + ".size: 0 is not a power of two"]),
    ("queue-size-above-max", field(RNG_Q + ".size", 65536), 400, [RNG_QP + ".size: 65536"]),
    ("queue-desc-outside-ram", field(RNG_Q + ".desc", "0x7fff00000000"), 400,
     [RNG_QP + ".desc: 0x7fff00000000", "outside guest RAM"]),
    ("queue-used-ahead", field(RNG_Q + ".next_used", 200), 400, [RNG_QP + ".next_used: 200"]),
    ("queue-vector-range", field(RNG_Q + ".vector", 9), 400, [RNG_QP + ".vector: 9"]),
    ("features-not-offered", edit_state(add_queue_feature), 400,
     [RNG_V + ".driver_features: 0x", "does not offer"]),
    ("virtio-status-bogus", field("devices.__rng.virtio.status", 300), 400,
     [RNG_V + ".status: 300"]),
    ("msix-vector-count", field(CON + ".msix.vectors", 7), 400,
     ["state.json: " + CON + ".msix.vectors: 7, but this device has"]),
    ("msix-pba-beyond", field(CON + ".msix.pba.0", "0xff"), 400,
     ["state.json: " + CON + ".msix.pba[0]: 0xff has pending bits past vector"]),
    ("msix-table-short", edit_state(lambda st: st["devices"]["__console"]["msix"]["table"].pop()),
     400, ["state.json: " + CON + ".msix.table: expected an array of"]),
    ("counters-not-u64", field(CON + ".counters.tx_bytes", "lots"), 400,
     ["state.json: " + CON + ".counters.tx_bytes: expected"]),
    # Keys the parsers do not read are refused too: the state must have the shape vireo writes.
    ("virtio-unknown-key", field("devices.__rng.virtio.colour", "blue"), 400,
     [RNG_V + ".colour: unknown key"]),
    ("queue-unknown-key", field(RNG_Q + ".extra", 1), 400,
     [RNG_V + ".queues[0].extra: unknown key"]),
    ("device-unknown-section", field("devices.__rng.firmware", {}), 400,
     ["state.json: devices.__rng.firmware: unknown key"]),
    ("counter-msix-enabled", field(CON + ".counters.msix_enabled", "0xff"), 400,
     ["state.json: " + CON + ".counters.msix_enabled: 255 is not 0 or 1"]),
    ("counter-missing", delete(CON + ".counters.tx_bytes"), 400,
     ["state.json: " + CON + ".counters.tx_bytes: missing"]),
    ("blk-capacity", field("devices._disk0.blk.capacity", "0x1000"), 400,
     ["state.json: devices._disk0.blk.capacity: 0x1000, but this disk has"]),
    ("blk-id-changed", field("devices._disk0.blk.id", "another-disk"), 400,
     ["state.json: devices._disk0.blk.id: ", "another-disk", "but this disk's serial="]),
    ("bar-overlaps-ram", field("devices.__rng.pci.bars.0.addr", "0x1000000"), 400,
     [RNG_P + ".bars[0].addr: 0x1000000 is outside the PCI windows"]),
    ("bar-unaligned", field("devices.__rng.pci.bars.0.addr", "0x100200010"), 400,
     [RNG_P + ".bars[0].addr: 0x100200010 is not aligned"]),
    ("pci-vendor-changed", edit_state(pci_vendor), 400,
     [RNG_P + ".cfg[0x0]: 0x34, but this device has 0xf4"]),
    ("pci-cfg-short", field("devices.__rng.pci.cfg", "f41a"), 400,
     [RNG_P + ".cfg: expected 8192 hex digits"]),
    ("virtio-type-changed", field("devices.__rng.virtio.type", 3), 400,
     [RNG_V + ".type: 3, but this device is virtio type 4"]),
    ("queue-avail-beyond-ring", nest_f((RNG_Q + ".next_used", 0), (RNG_Q + ".next_avail", 17)),
     400, [RNG_QP + ".next_", "next_avail 17"]),
    ("queue-size-negative", field(RNG_Q + ".size", -16), 400, [RNG_QP + ".size: -16"]),
    ("virtio-version", field("devices.__rng.virtio.version", 2), 400,
     [RNG_V + ".version: 2, only 1 is known"]),
    ("msix-ctrl-reserved", field(CON + ".msix.table.0.ctrl", "0x2"), 400,
     ["state.json: " + CON + ".msix.table[0].ctrl: 0x2 sets reserved bits"]),
    ("pci-section-missing", delete("devices.__rng.pci"), 400,
     [RNG_P + ": missing or not an object"]),
    # the legacy platform devices
    ("serial-lcr-range", field("devices.__serial.lcr", "0x100"), 400,
     ["state.json: devices.__serial.lcr: 0x100 is above 0xff"]),
    ("serial-rx-odd", field("devices.__serial.rx", "abc"), 400,
     ["state.json: devices.__serial.rx: expected a string of lower-case hex"]),
    ("serial-irq-level-number", field("devices.__serial.irq_level", 1), 400,
     ["state.json: devices.__serial.irq_level: expected true or false"]),
    ("cmos-index-range", field("devices.__cmos.index", "0x100"), 400,
     ["state.json: devices.__cmos.index: 0x100 is above 0xff"]),
    ("cmos-index-missing", delete("devices.__cmos.index"), 400,
     ["state.json: devices.__cmos.index: missing"]),
    ("cmos-nvram-short", field("devices.__cmos.nvram", "00" * 64), 400,
     ["state.json: devices.__cmos.nvram: 64 bytes, expected 128"]),
    ("cmos-nvram-not-hex", edit_state(nvram_not_hex), 400,
     ["state.json: devices.__cmos.nvram: byte 5 is not two lower-case hex digits"]),
    ("cmos-missing", delete("devices.__cmos"), 400,
     ["state.json: devices.__cmos: missing or not an object"]),
    ("ged-pending-bits", field("devices.__ged.pending", "0x4"), 400,
     ["state.json: devices.__ged.pending: 0x4 has bits no GED event uses"]),
    ("ged-pending-number", field("devices.__ged.pending", 1), 400,
     ["state.json: devices.__ged.pending: expected a ", "0x...", "hex string"]),
    ("ged-missing", delete("devices.__ged"), 400,
     ["state.json: devices.__ged: missing or not an object"]),
    ("pci-hotplug-segment", field("devices.__pci_hotplug.sel", "0x1"), 400,
     ["state.json: devices.__pci_hotplug.sel: segment 1 does not exist (1 segments)"]),
    ("pci-hotplug-slot0", field("devices.__pci_hotplug.up", ["0x1"]), 400,
     ["state.json: devices.__pci_hotplug: a pending bit names a slot that holds no hot-"]),
    ("pci-hotplug-array", field("devices.__pci_hotplug.down", []), 400,
     ["state.json: devices.__pci_hotplug.down: expected an array of 1 "]),
    ("pci-hotplug-missing", delete("devices.__pci_hotplug"), 400,
     ["state.json: devices.__pci_hotplug: missing or not an object"]),
    ("cpu-hotplug-absent", field("devices.__cpu_hotplug.status", "0102"), 400,
     ["state.json: devices.__cpu_hotplug.status: CPU 1 is absent, but the snapshot has 2"]),
    ("cpu-hotplug-count", field("devices.__cpu_hotplug.status", "01"), 400,
     ["state.json: devices.__cpu_hotplug.status: 1 CPUs, but cpus.max_vcpus is 2"]),
    ("cpu-hotplug-flags", field("devices.__cpu_hotplug.status", "0105"), 400,
     ["state.json: devices.__cpu_hotplug.status: a CPU has unknown bits, or removing without"]),
    ("allocator-gsis", field("allocators.gsis.used", [[0, 100000]]), 400,
     ["allocators.gsis.used[0][1]: 100000 is not a GSI"]),
    ("memory-extra-range", edit_state(extra_range), 400, ["memory.ranges"]),
    ("vcpu-mp-state", field("vcpus.1.mp_state", 99), 400, ["vcpus[1].mp_state"]),
    ("vcpu-exception-nr", field("vcpus.0.events.exception.nr", "0x28"), 400,
     ["vcpus[0].events.exception.nr"]),
    ("vcpu-u64-17-digits", field("vcpus.0.regs.rax", "0x1ffffffffffffffff"), 400,
     ["vcpus[0].regs.rax"]),
    ("vcpu-tsc-rate", field("vcpus.0.tsc_khz", 1000000), 400, ["TSC"]),
    ("vcpu-cpuid-feature", edit_state(cpuid_extra), 400, ["CPUID"]),
    ("vcpu-cpuid-renamed", edit_state(cpuid_renamed), 400,
     ["CPUID leaf 0x4fff0000 index 0: not one this host gives"]),
    ("state-duplicate-key", dup_key, 400, ["version"]),
    # memory-ranges
    ("memory-missing", remove("memory-ranges"), 400, ["memory-ranges"]),
    ("memory-truncated", truncate("memory-ranges", lambda n: n // 2), 400, ["memory-ranges"]),
    ("memory-truncated-page", truncate("memory-ranges", lambda n: n - 4096), 400,
     ["memory-ranges"]),
    # config.json
    ("config-missing", remove("config.json"), 400, ["config.json"]),
    ("config-garbage", write_file("config.json", b"\x00\xffgarbage{"), 400, ["config.json"]),
    ("config-empty", write_file("config.json", b""), 400, ["config.json"]),
    ("config-wrong-type", config_edit(lambda c: c["memory"].__setitem__("size", "big")), 400,
     ["config.json", "memory"]),
    ("config-huge", write_file("config.json", b" " * (2 << 20) + b"{}"), 400, ["config.json"]),
    # an edit the checksum does not cover: a serial file elsewhere (issue 17, item 3)
    ("config-edited-crc-stale", config_edit(lambda c: c.__setitem__(
        "serial", {"mode": "File", "file": "/tmp/victim"}), fix=False), 400,
     ["config.json: ", "config.json.crc32c says"]),
    ("config-crc-missing", remove("config.json.crc32c"), 400, ["config.json.crc32c"]),
    ("config-crc-garbage", write_file("config.json.crc32c", b"crc32c 0 size 2\n"), 400,
     ["config.json.crc32c"]),
    ("config-memory-size", config_edit(lambda c: c["memory"].__setitem__("size", 512 << 20)),
     400, ["memory"]),
    ("config-vcpus", config_edit(lambda c: c["cpus"].update(boot_vcpus=1, max_vcpus=1)), 400,
     ["vCPU"]),
    ("config-extra-device", config_edit(lambda c: c["disks"].append(
        dict(c["disks"][0], id="_disk1", path=c["disks"][0]["path"] + ".2", serial="two"))),
     400, ["_disk1"]),
    ("config-disk-missing", config_edit(lambda c: c["disks"][0].__setitem__(
        "path", "/nonexistent/disk.img")), 400, ["/nonexistent/disk.img"]),
]


def _fix_crc(d):
    fix_checksum(d, "state.json")


def url_for(name, d):
    if name == "url-not-file":
        return "http://localhost" + d
    if name == "url-relative":
        return "file://" + os.path.relpath(d)
    return "file://" + d


class Corrupt:
    def __init__(self, vireo, guest):
        self.vireo, self.guest = vireo, guest
        self.work = tempfile.mkdtemp(prefix="snapcorrupt-", dir="/var/tmp")
        self.disk = os.path.join(self.work, "disk.img")
        with open(self.disk, "wb") as f:
            f.truncate(1 << 20)
        open(self.disk + ".2", "wb").close()
        self.vms = []

    def make_good(self):
        good = fresh_dir(os.path.join(self.work, "good"))
        v = Vireo(self.vireo, self.work, "source")
        self.vms.append(v)
        serial = os.path.join(self.work, "source.serial")
        cfg = {"payload": {"kernel": self.guest,
                           "cmdline": "cpus=2 mem=256 snapcheck=1 virtio=rng,console"},
               "cpus": {"boot_vcpus": 2}, "memory": {"size": 256 << 20},
               "serial": {"mode": "File", "file": serial}, "console": {"mode": "Tty"},
               "disks": [{"path": self.disk, "serial": "corrupt-disk"}]}
        ok("source: create", v.call("PUT", "vm.create", cfg)[0] == 204)
        ok("source: boot", v.call("PUT", "vm.boot")[0] == 204)
        ok("source: guest rounds", wait_for(lambda: "snapcheck: round 3 ok" in read(serial) or
                                            "FAIL" in read(serial), WAIT) and
           "FAIL" not in read(serial), read(serial)[-200:])
        ok("source: pause", v.call("PUT", "vm.pause")[0] == 204)
        ok("source: snapshot", v.call("PUT", "vm.snapshot",
                                      {"destination_url": "file://" + good})[0] == 204)
        v.kill9()
        ok("source: disk lock gone with the killed vireo", not disk_locked(self.disk))
        return good

    def case_dir(self, good, name):
        d = os.path.join(self.work, name)
        copy_snapshot(good, d)
        edit_config(d, serial=os.path.join(self.work, name + ".serial"))
        return d

    def fds(self, v):
        return len(os.listdir(f"/proc/{v.proc.pid}/fd"))

    def run_cases(self, good, v):
        fds_before = None
        for name, mutate, status, want in CASES:
            d = self.case_dir(good, name)
            if mutate:
                mutate(d)
            got = v.call("PUT", "vm.restore", {"source_url": url_for(name, d)})
            msg = got[1]
            good_answer = got[0] == status and all(w in msg for w in want)
            alive = v.alive() and v.call("GET", "vmm.ping")[0] == 200
            clean = v.call("GET", "vm.info")[0] == 404
            self.judge(name, good_answer and alive and clean,
                       f"{got[0]} {msg[:300]}{'' if alive else ' (vireo died)'}"
                       f"{'' if clean else ' (a VM was left behind)'} want {status} {want}")
            if not clean and alive:
                v.call("PUT", "vm.delete")
            if not alive:
                return False
            if fds_before is None:
                fds_before = self.fds(v)
        # An API connection may still be closing when /proc is read: poll for the bound.
        ok("no fd leaked over the failed restores",
           wait_for(lambda: self.fds(v) <= fds_before, 5),
           f"{fds_before} fds after the first case, {self.fds(v)} after {len(CASES)}")
        return True

    def judge(self, name, good, detail):
        if name in KNOWN:
            print(f"{'KNOWN' if not good else 'FIXED'} {name}: {detail} [{KNOWN[name]}]")
            known_seen.append(name)
            if good:
                failures.append(f"{name} passes now: remove it from KNOWN")
            return
        ok(name, good, detail)

    def ram_damage(self, good, v):
        """A word of the guest's first checked page flipped in memory-ranges: accepted (the
        file is not checksummed), the guest's RAM check reports it."""
        d = self.case_dir(good, "memory-guest-word")
        st = load_state(d)
        gpa = 0x1000000            # snapcheck.c SC_RAM_FROM: page 0, word 0
        r = st["memory"]["ranges"][0]
        off = int(r["file_offset"], 16) + gpa - int(r["gpa"], 16)
        with open(os.path.join(d, "memory-ranges"), "r+b") as f:
            f.seek(off)
            b = f.read(8)
            f.seek(off)
            f.write(bytes(x ^ 0xFF for x in b))
        serial = os.path.join(self.work, "memory-guest-word.serial")
        got = v.call("PUT", "vm.restore", {"source_url": "file://" + d, "resume": True})
        ok("memory-guest-word: accepted (memory-ranges is not checksummed)", got[0] == 204,
           f"{got[0]} {got[1][:200]}")
        seen = wait_for(lambda: "CHECK snapcheck_ram FAIL" in read(serial) or not v.alive(), WAIT)
        ok("memory-guest-word: the guest's RAM check reports the damaged word", seen and
           "CHECK snapcheck_ram FAIL" in read(serial),
           [l for l in read(serial).splitlines() if "FAIL" in l][:1])
        # the guest powers off after a FAIL, which ends this vireo (CH semantics)
        return v.wait_exit(WAIT)

    def good_restore(self, good, v, what):
        d = self.case_dir(good, "good-" + what)
        serial = os.path.join(self.work, f"good-{what}.serial")
        got = v.call("PUT", "vm.restore", {"source_url": "file://" + d})
        ok(f"{what}: the good snapshot restores", got[0] == 204, f"{got[0]} {got[1][:200]}")
        ok(f"{what}: resume", v.call("PUT", "vm.resume")[0] == 204)
        ran = wait_for(lambda: read(serial).count("snapcheck: round") >= 3 or
                       "FAIL" in read(serial), WAIT)
        ok(f"{what}: guest rounds continue, no FAIL", ran and "FAIL" not in read(serial),
           read(serial)[-200:])
        v.send("finish")
        ok(f"{what}: guest finished, vireo exit 0", v.wait_exit(WAIT) == 0)

    def cli_cases(self, good):
        for name, mutate, want in [("cli-state-flipped", flip("state.json", lambda n: n // 2),
                                    "checksum"),
                                   ("cli-config-garbage", write_file("config.json", b"[1,"),
                                    "config.json"),
                                   ("cli-queue-size", field(RNG_Q + ".size", 24),
                                    RNG_QP + ".size: 24")]:
            d = self.case_dir(good, name)
            mutate(d)
            p = subprocess.run([self.vireo, "--restore", f"source_url=file://{d}"],
                               capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
            lines = p.stderr.strip().splitlines()
            self.judge(name, p.returncode == 1 and len(lines) == 1 and want in p.stderr,
                       f"exit {p.returncode}: {' | '.join(lines)[:240]}")

    def run(self):
        good = self.make_good()
        v = Vireo(self.vireo, self.work, "target")
        self.vms.append(v)
        if self.run_cases(good, v):
            self.good_restore(good, v, "after the failed restores")
        v = Vireo(self.vireo, self.work, "ram")
        self.vms.append(v)
        self.ram_damage(good, v)
        self.cli_cases(good)
        if known_seen:
            print(f"{len(known_seen)} known vireo problems still present: "
                  f"{', '.join(known_seen)}")


def main():
    c = Corrupt(sys.argv[1], sys.argv[2])
    return conclude(c.run, c.vms, c.work)


sys.exit(main())
