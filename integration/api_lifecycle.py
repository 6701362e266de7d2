#!/usr/bin/env python3
"""The REST API end to end against a real vireo: every lifecycle call, wrong-state answers
with Cloud Hypervisor's codes and bodies, the event stream, and a clean vmm.shutdown.

usage: api_lifecycle.py VIREO SPIN_GUEST_ELF REPORT_GUEST_ELF TICKER_GUEST_ELF
"""
import http.client
import json
import os
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


def main():
    vireo, spin, report, ticker = sys.argv[1:5]
    work = tempfile.mkdtemp()
    sock, events, serial = (os.path.join(work, n) for n in ("api.sock", "events", "serial"))
    proc = subprocess.Popen([vireo, "--api-socket", sock, "--event-monitor", f"path={events}",
                             "-v", "--log-file", os.path.join(work, "vireo.log")],
                            stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(sock), "the API socket", 30)
        run(Api(sock), spin, report, serial)
        pause_stops_progress(Api(sock), ticker, serial + ".ticker")
        expect("vmm.shutdown", Api(sock).call("PUT", "vmm.shutdown"), 200)
        proc.wait(timeout=60)
        if proc.returncode != 0:
            failures.append(f"vireo exited with {proc.returncode} after vmm.shutdown")
        if os.path.exists(sock):
            failures.append("API socket left behind after a clean exit")
        check_events(events)
    finally:
        if proc.poll() is None:
            proc.kill()
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


def config(kernel, serial):
    return {"payload": {"kernel": kernel, "cmdline": "cpus=1"}, "cpus": {"boot_vcpus": 1},
            "memory": {"size": 256 << 20}, "serial": {"mode": "File", "file": serial}}


def run(api, spin, report, serial):
    expect("ping", api.call("GET", "vmm.ping"), 200, '"version"')
    expect("info before create", api.call("GET", "vm.info"), 404)
    expect("boot before create", api.call("PUT", "vm.boot"), 404)
    expect("pause before create", api.call("PUT", "vm.pause"), 500)
    expect("create: bad JSON", api.call("PUT", "vm.create", None) if False else
           (lambda c: c)(api_raw(api, "PUT", "vm.create", b"{nope")), 400)
    expect("create", api.call("PUT", "vm.create", config(spin, serial)), 204)
    expect("create twice", api.call("PUT", "vm.create", config(spin, serial)), 500,
           "already created")
    expect("info created", api.call("GET", "vm.info"), 200, '"state":"Created"')
    expect("pause while created", api.call("PUT", "vm.pause"), 500)
    expect("counters while created", api.call("GET", "vm.counters"), 500)
    expect("boot", api.call("PUT", "vm.boot"), 204)
    wait_for(lambda: "spin-guest: up" in read(serial), "the guest's first line")
    expect("info running", api.call("GET", "vm.info"), 200, '"state":"Running"')
    expect("boot while running", api.call("PUT", "vm.boot"), 500)
    expect("resume while running", api.call("PUT", "vm.resume"), 500)
    expect("counters", api.call("GET", "vm.counters"), 200)
    expect("pause", api.call("PUT", "vm.pause"), 204)
    expect("info paused", api.call("GET", "vm.info"), 200, '"state":"Paused"')
    expect("pause twice", api.call("PUT", "vm.pause"), 500)
    expect("resume", api.call("PUT", "vm.resume"), 204)
    expect("info resumed", api.call("GET", "vm.info"), 200, '"state":"Running"')
    expect("reboot", api.call("PUT", "vm.reboot"), 204)
    expect("shutdown", api.call("PUT", "vm.shutdown"), 204)
    expect("info after shutdown", api.call("GET", "vm.info"), 200, '"state":"Created"')
    expect("add-disk while created", api.call("PUT", "vm.add-disk", {"path": "/tmp/x.img"}), 204)
    expect("boot with a disk (no virtio-blk yet)", api.call("PUT", "vm.boot"), 500, "virtio-blk")
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


def api_raw(api, method, name, data):
    conn = UnixConnection(api.path)
    conn.request(method, "/api/v1/" + name, body=data)
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def check_events(path):
    names = []
    text = read(path)
    for chunk in text.split("\n\n"):
        if chunk.strip():
            e = json.loads(chunk)
            names.append(f"{e['source']}:{e['event']}")
    want = ["vmm:starting", "vm:booting", "vm:booted", "vm:pausing", "vm:paused",
            "vm:resuming", "vm:resumed", "vm:rebooting", "vm:rebooted", "vm:shutdown",
            "vm:deleted", "vmm:shutdown"]
    pos = 0
    for name in names:
        if pos < len(want) and name == want[pos]:
            pos += 1
    print("events:", " ".join(names))
    if pos != len(want):
        failures.append(f"event stream lacks {want[pos]} in order")


sys.exit(main())
