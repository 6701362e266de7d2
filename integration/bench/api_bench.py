#!/usr/bin/env python3
"""API latency benchmark (not a test), vireo side by side with QEMU's QMP where one exists.

1. ping: N sequential vmm.ping on one kept-alive connection (and, as ch-remote and curl do, a
   new connection per request); QEMU peer: N query-status on one QMP connection. Both VMMs idle
   (vireo with no VM, QEMU with -S), so only the control path is measured.
2. info during a long operation: vm.info sent back to back while the VMM thread is inside
   vm.boot of a VM whose initramfs is a large file (vm_create copies it into guest RAM). One
   vm.counters sent at the same moment goes through the VMM thread's queue, so its latency
   shows how long the thread was really busy. QEMU peer: query-status on a second QMP
   connection while the first runs a synchronous dump-guest-memory of the whole guest (QEMU's
   monitor is one loop, like CH's API thread; it answers only when the dump is done).

Client side is the same for both: Python, raw Unix socket, time.perf_counter_ns around one
request and its complete reply. Prints p50/p99/max per series and ratios to vireo.

usage: api_bench.py --vireo build/vireo --kernel build/integration/fault/spin.elf
                    [--pings 10000] [--initramfs-mib 1024] [--rounds 5] [--no-qemu]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def summary(samples_ns):
    ms = [x / 1e6 for x in samples_ns]
    return {"n": len(ms), "p50": statistics.median(ms), "p99": pct(ms, 99), "max": max(ms),
            "over1": sum(x > 1 for x in ms), "over10": sum(x > 10 for x in ms)}


class Http:
    """HTTP/1.1 over a Unix socket; one request at a time, replies framed by Content-Length."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.buf = b""

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None

    def request(self, method, name, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} /api/v1/{name} HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + data)
        while b"\r\n\r\n" not in self.buf:
            self.recv()
        hdr, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = int(hdr.split(b" ", 2)[1])
        length = 0
        for line in hdr.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(self.buf) < length:
            self.recv()
        payload, self.buf = self.buf[:length], self.buf[length:]
        return status, payload

    def recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk


class Qmp:
    """QEMU Machine Protocol: one JSON object per line; events are skipped."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.reply()                                   # greeting
        self.execute("qmp_capabilities")

    def reply(self):
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("QEMU closed the QMP connection")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def execute(self, cmd, args=None):
        req = {"execute": cmd}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        msg = self.reply()
        if "error" in msg:
            raise RuntimeError(f"QMP {cmd}: {msg['error']}")
        return msg["return"]


def timed(fn):
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0


def wait_path(path, proc, what):
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{what} did not create {path}")
        time.sleep(0.02)       # waiting for a process to come up, not a measurement


def start(cmd):
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def ping_series(args, qemu, work):
    """Both VMMs up at once and measured in alternating blocks of 1000, so a change in the
    host's load hits every series alike. Returns {series: [ns, ...]}."""
    vsock, qsock = os.path.join(work, "ping.sock"), os.path.join(work, "qmp.sock")
    procs = [start([args.vireo, "--api-socket", vsock])]
    if qemu:
        procs.append(start(qemu_cmd(qemu, [qsock], 512)))
    try:
        wait_path(vsock, procs[0], "vireo")
        kept, fresh = Http(vsock), Http(vsock)
        kept.connect()

        def new_connection():
            fresh.connect()
            fresh.request("GET", "vmm.ping")
            fresh.close()
        series = {"vireo vmm.ping, kept-alive connection": lambda: kept.request("GET", "vmm.ping"),
                  "vireo vmm.ping, new connection each": new_connection}
        if qemu:
            wait_path(qsock, procs[1], "QEMU")
            q = Qmp(qsock)
            series["QEMU QMP query-status, one connection"] = lambda: q.execute("query-status")
        for fn in series.values():                      # warm-up
            for _ in range(200):
                fn()
        out = {name: [] for name in series}
        for block in range(0, args.pings, 1000):
            for name, fn in series.items():
                out[name] += [timed(fn) for _ in range(min(1000, args.pings - block))]
        return out
    finally:
        for p in procs:
            stop(p)


def qemu_cmd(qemu, qmp_paths, mem_mib):
    """A stopped q35 (-S: no guest code runs) with one QMP server per path (each takes one
    client at a time)."""
    cmd = [qemu, "-M", "q35", "-S", "-nodefaults", "-no-user-config", "-display", "none",
           "-m", f"{mem_mib}M"]
    for p in qmp_paths:
        cmd += ["-qmp", f"unix:{p},server=on,wait=off"]
    return cmd


def vireo_info_during_boot(args, work):
    """vm.info back to back while another connection's vm.boot is in flight."""
    sock = os.path.join(work, "info.sock")
    initrd = os.path.join(work, "initramfs.img")
    block = os.urandom(1 << 20)
    with open(initrd, "wb") as f:
        for _ in range(args.initramfs_mib):
            f.write(block)
    cfg = {"payload": {"kernel": os.path.abspath(args.kernel), "initramfs": initrd},
           "memory": {"size": (args.initramfs_mib + 1024) << 20},
           "serial": {"mode": "Null"}, "console": {"mode": "Off"}}
    proc = start([args.vireo, "--api-socket", sock])
    info, boots, queued = [], [], []
    try:
        wait_path(sock, proc, "vireo")
        ctl, probe, side = Http(sock), Http(sock), Http(sock)
        for c in (ctl, probe, side):
            c.connect()
        if ctl.request("PUT", "vm.create", cfg)[0] != 204:
            sys.exit("vm.create failed")
        for _ in range(args.rounds):
            done = threading.Event()
            result = {}

            def boot():
                t0 = time.perf_counter_ns()
                result["status"] = ctl.request("PUT", "vm.boot")[0]
                boots.append(time.perf_counter_ns() - t0)
                done.set()

            def counters():
                time.sleep(0.05)                    # vm.boot is on the VMM thread by now
                queued.append(timed(lambda: side.request("GET", "vm.counters")))
            threads = [threading.Thread(target=boot), threading.Thread(target=counters)]
            for t in threads:
                t.start()
            while not done.is_set():
                info.append(timed(lambda: probe.request("GET", "vm.info")))
            for t in threads:
                t.join()
            if result["status"] != 204:
                sys.exit(f"vm.boot answered {result['status']}")
            ctl.request("PUT", "vm.shutdown")
        return info, boots, queued
    finally:
        stop(proc)
        os.unlink(initrd)


def qemu_status_during_dump(args, qemu, work):
    """query-status on a second QMP connection while the first runs dump-guest-memory."""
    paths = [os.path.join(work, "qmp-ctl.sock"), os.path.join(work, "qmp-probe.sock")]
    proc = start(qemu_cmd(qemu, paths, args.initramfs_mib + 1024))
    status, dumps = [], []
    try:
        for p in paths:
            wait_path(p, proc, "QEMU")
        ctl, probe = Qmp(paths[0]), Qmp(paths[1])
        for r in range(args.rounds):
            out = os.path.join(work, f"dump{r}")
            done = threading.Event()

            def dump():
                t0 = time.perf_counter_ns()
                ctl.execute("dump-guest-memory", {"paging": False, "protocol": f"file:{out}"})
                dumps.append(time.perf_counter_ns() - t0)
                done.set()
            t = threading.Thread(target=dump)
            t.start()
            time.sleep(0.05)
            while not done.is_set():
                status.append(timed(lambda: probe.execute("query-status")))
            t.join()
            os.unlink(out)
        return status, dumps
    finally:
        stop(proc)


HEADER = "| series | n | p50 | p99 | max | > 1 / > 10 ms | p50 vs vireo |\n|---|---|---|---|---|---|---|"


def row(name, s, ref=None):
    ratio = f"{s['p50'] / ref['p50']:.2f}x" if ref else "1.00x"
    print(f"| {name} | {s['n']} | {s['p50']:.3f} | {s['p99']:.3f} | {s['max']:.3f} | "
          f"{s['over1']} / {s['over10']} | {ratio} |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--kernel", required=True, help="a PVH guest, e.g. integration/fault/spin.elf")
    ap.add_argument("--pings", type=int, default=10000)
    ap.add_argument("--initramfs-mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-qemu", action="store_true")
    args = ap.parse_args()
    qemu = None if args.no_qemu else shutil.which("qemu-system-x86_64")
    work = tempfile.mkdtemp(prefix="api-bench-")

    pings = ping_series(args, qemu, work)
    ref = summary(next(iter(pings.values())))
    print("## ping (ms)\n" + HEADER)
    for i, (name, samples) in enumerate(pings.items()):
        row(name, summary(samples), ref if i else None)

    info, boots, queued = vireo_info_during_boot(args, work)
    iref = summary(info)
    print(f"\n## during a long operation (ms); vireo vm.boot with a {args.initramfs_mib} MiB "
          f"initramfs: p50 {statistics.median(boots) / 1e6:.0f} ms over {len(boots)} boots")
    print(HEADER)
    row("vireo vm.info during vm.boot", iref)
    row("vireo vm.counters sent 50 ms into vm.boot (queued)", summary(queued), iref)
    if qemu:
        status, dumps = qemu_status_during_dump(args, qemu, work)
        print(f"(QEMU dump-guest-memory of {args.initramfs_mib + 1024} MiB: p50 "
              f"{statistics.median(dumps) / 1e6:.0f} ms over {len(dumps)} dumps)")
        row("QEMU query-status during dump-guest-memory", summary(status), iref)
    shutil.rmtree(work, ignore_errors=True)
    ok_ping, ok_info = ref["p99"] < 1.0, iref["p99"] < 10.0
    print(f"\ngoals: ping p99 < 1 ms: {'met' if ok_ping else 'NOT met'} ({ref['p99']:.3f}); "
          f"info p99 < 10 ms during a long operation: {'met' if ok_info else 'NOT met'} "
          f"({iref['p99']:.3f})")


if __name__ == "__main__":
    main()
