#!/usr/bin/env python3
"""The REST API end to end against a real vireo: every lifecycle call, wrong-state answers
with Cloud Hypervisor's codes and bodies, the event stream, and a clean vmm.shutdown. Then the
ACPI power button, twice, each in a fresh vireo (a guest poweroff ends the VMM, as in CH): the
test guest (powerbutton=1) waits for the GED interrupt, reports it and powers off.

usage: api_lifecycle.py VIREO SPIN_GUEST_ELF REPORT_GUEST_ELF TICKER_GUEST_ELF
"""
import http.client
import json
import re
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


class Api:
    def __init__(self, path):
        self.path = path

    def call(self, method, name, body=None):
        conn = UnixConnection(self.path)
        data = None if body is None else json.dumps(body)
        conn.request(method, "/api/v1/" + name, body=data)
        resp = conn.getresponse()
        payload = resp.read().decode()
        conn.close()
        return resp.status, payload


failures = []


def expect(what, got, status, contains=None):
    ok = got[0] == status and (contains is None or contains in got[1])
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {got[0]} {got[1][:160]}")
    if not ok:
        failures.append(f"{what}: expected {status} {contains or ''}, got {got}")


def wait_for(predicate, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)   # polling an outside condition with a deadline
    failures.append(f"timed out waiting for {what}")
    return False


class Vireo:
    """One vireo process serving the API on a fresh socket, with its event monitor."""

    def __init__(self, vireo, name):
        self.work = work = tempfile.mkdtemp(prefix=f"api-{name}-")
        self.sock, self.events, self.serial = (os.path.join(work, n)
                                               for n in ("api.sock", "events", "serial"))
        self.proc = subprocess.Popen([vireo, "--api-socket", self.sock, "--event-monitor",
                                      f"path={self.events}", "-v", "--log-file",
                                      os.path.join(work, "vireo.log")],
                                     stdin=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.sock), "the API socket", 30)
        self.api = Api(self.sock)

    def exited_cleanly(self, why):
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            failures.append(f"vireo still running 60 s after {why}")
            return
        if self.proc.returncode != 0:
            failures.append(f"vireo exited with {self.proc.returncode} after {why}")
        elif os.path.exists(self.sock):
            failures.append(f"API socket left behind after {why}")
        else:
            print(f"ok   vireo exited 0 after {why}")

    def kill(self):
        """Stops vireo if it still runs; keeps the work directory (logs) only after a failure."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if failures:
            print(f"logs kept in {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def main():
    vireo, spin, report, ticker = sys.argv[1:5]
    v = Vireo(vireo, "lifecycle")
    try:
        run(v.api, spin, report, v.serial)
        pause_stops_progress(v.api, ticker, v.serial + ".ticker")
        expect("vmm.shutdown", v.api.call("PUT", "vmm.shutdown"), 200)
        v.exited_cleanly("vmm.shutdown")
        check_events(v.events, LIFECYCLE_EVENTS)
    finally:
        v.kill()
    for pressed_while_paused in (False, True):
        v = Vireo(vireo, "power-button")
        try:
            power_button(v, report, pressed_while_paused)
        finally:
            v.kill()
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


def config(kernel, serial, cmdline="cpus=1"):
    return {"payload": {"kernel": kernel, "cmdline": cmdline}, "cpus": {"boot_vcpus": 1},
            "memory": {"size": 256 << 20}, "serial": {"mode": "File", "file": serial}}


# CH's answer to vm.power-button without a booted VM (booted only, else 500).
POWER_BUTTON_NOT_RUNNING = ["Error from API", "Error triggering power button", "VM is not running"]


def expect_error(what, got, status, body):
    """A refusal with exactly CH's status and JSON error chain."""
    try:
        ok = got[0] == status and json.loads(got[1]) == body
    except ValueError:
        ok = False
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {got[0]} {got[1][:160]}")
    if not ok:
        failures.append(f"{what}: expected {status} {json.dumps(body)}, got {got}")


def check_device_tree(got):
    """vm.info of a booted VM: every virtio function with its BDF, BAR0 and MSI-X GSIs."""
    status, body = got
    try:
        info = json.loads(body)
        tree = info["device_tree"]
        seen = {}
        for dev_id, node in tree.items():
            res = {next(iter(r)): next(iter(r.values())) for r in node["resources"]}
            bar, msi = res["PciBar"], res["MsiIrq"]
            assert node["id"] == dev_id and re.fullmatch(r"0000:00:[0-1][0-9a-f]\.0",
                                                        node["pci_bdf"]), node
            assert bar["index"] == 0 and bar["size"] == 0x20000 and bar["type_"] == "Mmio64"
            assert bar["base"] % bar["size"] == 0 and bar["base"] >= 0xc0000000, bar
            assert len(msi["gsis"]) == msi["size"] and min(msi["gsis"]) >= 24, msi
            assert 16 <= res["LegacyIrq"] <= 23, res
            seen[dev_id] = node["pci_bdf"]
        # CH's built-in ids; the console is on by default, the rng always.
        assert set(seen) == {"__console", "__rng"}, seen
        assert len(set(seen.values())) == len(seen), seen
    except (ValueError, KeyError, AssertionError, StopIteration, TypeError) as e:
        failures.append(f"device tree in vm.info: {e!r} in {body[:400]}")


def run(api, spin, report, serial):
    expect("ping", api.call("GET", "vmm.ping"), 200, '"version"')
    expect("info before create", api.call("GET", "vm.info"), 404)
    expect("boot before create", api.call("PUT", "vm.boot"), 404)
    expect("pause before create", api.call("PUT", "vm.pause"), 500)
    expect_error("power-button before create", api.call("PUT", "vm.power-button"), 500,
                 POWER_BUTTON_NOT_RUNNING)
    expect("create: bad JSON", api.call("PUT", "vm.create", None) if False else
           (lambda c: c)(api_raw(api, "PUT", "vm.create", b"{nope")), 400)
    expect("create", api.call("PUT", "vm.create", config(spin, serial)), 204)
    expect("create twice", api.call("PUT", "vm.create", config(spin, serial)), 500,
           "already created")
    expect("info created", api.call("GET", "vm.info"), 200, '"state":"Created"')
    expect("pause while created", api.call("PUT", "vm.pause"), 500)
    expect("counters while created", api.call("GET", "vm.counters"), 500)
    expect_error("power-button while created", api.call("PUT", "vm.power-button"), 500,
                 POWER_BUTTON_NOT_RUNNING)
    expect("power-button with a body", api_raw(api, "PUT", "vm.power-button", b"{}"), 400)
    # vm.resize on a Created VM edits cpus.boot_vcpus, within max_vcpus (here 1, pinned).
    expect("resize created past max_vcpus", api.call("PUT", "vm.resize", {"desired_vcpus": 2}),
           400, "desired_vcpus: 2 is outside 1..1 (cpus.max_vcpus)")
    expect("resize created", api.call("PUT", "vm.resize", {"desired_vcpus": 1}), 204)
    expect("resize memory", api.call("PUT", "vm.resize", {"desired_ram": 1 << 30}), 400,
           "desired_ram: not supported")
    expect("boot", api.call("PUT", "vm.boot"), 204)
    wait_for(lambda: "spin-guest: up" in read(serial), "the guest's first line")
    expect("info running", api.call("GET", "vm.info"), 200, '"state":"Running"')
    check_device_tree(api.call("GET", "vm.info"))
    expect("boot while running", api.call("PUT", "vm.boot"), 500)
    expect("snapshot while running", api.call("PUT", "vm.snapshot", {
        "destination_url": "file:///nonexistent"}), 500, "Trying to snapshot while VM is running")
    expect("restore while running", api.call("PUT", "vm.restore", {
        "source_url": "file:///nonexistent"}), 500, "VM is already created")
    expect("resume while running", api.call("PUT", "vm.resume"), 500)
    expect("add-vsock while running: reserved CID", api.call("PUT", "vm.add-vsock", {
        "cid": 2, "socket": "/tmp/never.vsock"}), 400, "vsock.cid")
    expect("remove an unknown device while running", api.call("PUT", "vm.remove-device", {
        "id": "nope"}), 404, "No device with id")
    expect("counters", api.call("GET", "vm.counters"), 200)
    expect("pause", api.call("PUT", "vm.pause"), 204)
    expect("info paused", api.call("GET", "vm.info"), 200, '"state":"Paused"')
    expect("pause twice", api.call("PUT", "vm.pause"), 500)
    expect("snapshot into a missing directory", api.call("PUT", "vm.snapshot", {
        "destination_url": "file:///nonexistent/dir"}), 400, "/nonexistent/dir")
    expect("snapshot with a bad URL", api.call("PUT", "vm.snapshot", {
        "destination_url": "http://x/y"}), 400, "destination_url")
    expect("resume", api.call("PUT", "vm.resume"), 204)
    expect("info resumed", api.call("GET", "vm.info"), 200, '"state":"Running"')
    expect("reboot", api.call("PUT", "vm.reboot"), 204)
    expect("shutdown", api.call("PUT", "vm.shutdown"), 204)
    expect("info after shutdown", api.call("GET", "vm.info"), 200, '"state":"Created"')
    expect_error("power-button after shutdown", api.call("PUT", "vm.power-button"), 500,
                 POWER_BUTTON_NOT_RUNNING)
    expect("add-disk while created", api.call("PUT", "vm.add-disk", {"path": "/tmp/x.img"}), 204)
    expect("add-vsock with iommu", api.call("PUT", "vm.add-vsock", {
        "cid": 3, "socket": "/tmp/x.vsock", "iommu": True}), 400, "iommu: not supported")
    expect("add-vsock without socket", api.call("PUT", "vm.add-vsock", {"cid": 3}), 400,
           "socket: missing field")
    expect("add-vsock while created", api.call("PUT", "vm.add-vsock", {
        "cid": 3, "socket": "/tmp/x.vsock"}), 204)
    expect("add-vsock twice", api.call("PUT", "vm.add-vsock", {
        "cid": 4, "socket": "/tmp/y.vsock"}), 400, "already has a vsock device")
    expect("info has the vsock", api.call("GET", "vm.info"), 200,
           '"vsock":{"cid":3,"socket":"/tmp/x.vsock"')
    # /tmp/x.img does not exist: boot fails with a message about the disk.
    expect("boot with a missing disk", api.call("PUT", "vm.boot"), 500, "disk")
    expect("delete", api.call("PUT", "vm.delete"), 204)
    expect("info after delete", api.call("GET", "vm.info"), 404)
    expect("create bad kernel", api.call("PUT", "vm.create", config("/nonexistent", serial)), 204)
    expect("boot bad kernel", api.call("PUT", "vm.boot"), 500, "cannot open kernel")
    expect("delete again", api.call("PUT", "vm.delete"), 204)
    expect("create report guest", api.call("PUT", "vm.create", config(report, serial)), 204)
    expect("delete without boot", api.call("PUT", "vm.delete"), 204)


def size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def pause_stops_progress(api, ticker, serial):
    """A paused guest makes no progress; a resumed one continues."""
    expect("create ticker", api.call("PUT", "vm.create", config(ticker, serial)), 204)
    expect("boot ticker", api.call("PUT", "vm.boot"), 204)
    wait_for(lambda: size(serial) > 200, "the ticker guest's output")
    expect("pause ticker", api.call("PUT", "vm.pause"), 204)
    frozen = size(serial)
    # vm.pause returns once every vCPU is parked, so nothing may be written after it; watching
    # for a while is the only way to see that nothing happens.
    time.sleep(0.5)
    if size(serial) != frozen:
        failures.append(f"paused guest kept writing: {frozen} -> {size(serial)} bytes")
    else:
        print(f"ok   paused guest made no progress ({frozen} bytes)")
    expect("resume ticker", api.call("PUT", "vm.resume"), 204)
    if wait_for(lambda: size(serial) > frozen + 100, "progress after resume"):
        print("ok   resumed guest continued")
    expect("delete ticker", api.call("PUT", "vm.delete"), 204)


def power_button(v, guest, pressed_while_paused):
    """create -> boot -> info (Running) -> pause -> resume -> power-button -> the guest takes
    the GED interrupt, reports it and powers off -> vireo exits 0 (CH ends the VMM on guest
    poweroff). With pressed_while_paused the button is pressed between pause and resume: CH
    accepts it on any booted VM, and the guest must not react before vm.resume."""
    how = "paused" if pressed_while_paused else "running"
    api, serial = v.api, v.serial
    expect(f"create ({how})", api.call("PUT", "vm.create",
                                       config(guest, serial, "cpus=1 powerbutton=1")), 204)
    expect(f"boot ({how})", api.call("PUT", "vm.boot"), 204)
    expect(f"info running ({how})", api.call("GET", "vm.info"), 200, '"state":"Running"')
    if not wait_for(lambda: "ged: waiting power_button" in read(serial), "the guest's GED wait"):
        return
    expect(f"pause ({how})", api.call("PUT", "vm.pause"), 204)
    expect(f"info paused ({how})", api.call("GET", "vm.info"), 200, '"state":"Paused"')
    if pressed_while_paused:
        expect("power-button while paused", api.call("PUT", "vm.power-button"), 204)
    frozen = read(serial)
    # vm.pause returns once every vCPU is parked; only watching for a while shows that the
    # guest does nothing (here: does not take the pending interrupt) until it is resumed.
    time.sleep(0.5)
    if read(serial) != frozen or "CHECK power_button" in frozen:
        failures.append(f"paused guest made progress ({how})")
    else:
        print(f"ok   paused guest made no progress ({how})")
    expect(f"resume ({how})", api.call("PUT", "vm.resume"), 204)
    if not pressed_while_paused:
        expect("info resumed", api.call("GET", "vm.info"), 200, '"state":"Running"')
        expect("power-button while running", api.call("PUT", "vm.power-button"), 204)
    # The whole closing line: it arrives a byte per port write.
    done = re.compile(r"^\d+ passed, \d+ failed$", re.M)
    if wait_for(lambda: done.search(read(serial)), f"the guest's report after the press ({how})",
                180):
        log = read(serial)
        ok = "CHECK power_button PASS" in log and ", 0 failed" in log and "FAIL" not in log
        print(f"{'ok  ' if ok else 'FAIL'} guest took the power button ({how}): "
              f"{[l for l in log.splitlines() if 'power_button' in l or 'passed,' in l]}")
        if not ok:
            failures.append(f"guest report after the power button ({how}):\n{log}")
    v.exited_cleanly(f"the guest powered off ({how})")
    check_events(v.events, POWER_BUTTON_EVENTS)


def api_raw(api, method, name, data):
    conn = UnixConnection(api.path)
    try:
        conn.request(method, "/api/v1/" + name, body=data)
    except BrokenPipeError:
        pass    # vireo may answer a refused body (400) and close before it is all sent
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


LIFECYCLE_EVENTS = ["vmm:starting", "vm:booting", "vm:booted", "vm:pausing", "vm:paused",
                    "vm:resuming", "vm:resumed", "vm:rebooting", "vm:rebooted", "vm:shutdown",
                    "vm:deleted", "vmm:shutdown"]
# A guest poweroff: the VM shuts down, then the VMM (CH emits no event for the button itself).
POWER_BUTTON_EVENTS = ["vmm:starting", "vm:booting", "vm:booted", "vm:pausing", "vm:paused",
                       "vm:resuming", "vm:resumed", "vm:shutdown", "vmm:shutdown"]


def check_events(path, want):
    names = []
    text = read(path)
    for chunk in text.split("\n\n"):
        if chunk.strip():
            e = json.loads(chunk)
            names.append(f"{e['source']}:{e['event']}")
    pos = 0
    for name in names:
        if pos < len(want) and name == want[pos]:
            pos += 1
    print("events:", " ".join(names))
    if pos != len(want):
        failures.append(f"event stream lacks {want[pos]} in order")


sys.exit(main())
